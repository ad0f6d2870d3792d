// Table-driven packet tests: each case is an input frame on a port and either the exact frames
// the data plane must transmit or the drop reason it must count. The pipeline is the real one
// (parser, LPM, neighbor table, ICMP, control lcore), with no NIC.
#include <gtest/gtest.h>

#include <optional>

#include "tests/packet/lab_config.hpp"
#include "tests/support/pipeline.hpp"

namespace meshgate::test {
namespace {

using dataplane::drop_reason;

const mac gw_client = mac_of("02:00:00:00:00:01");
const mac gw_srv1 = mac_of("02:00:00:00:00:02");
const mac gw_srv2 = mac_of("02:00:00:00:00:03");
const mac host_client = mac_of("02:00:00:00:01:02");
const mac host_srv1 = mac_of("02:00:00:00:02:02");
const mac host_srv2 = mac_of("02:00:00:00:03:02");
const mac host_vlan7 = mac_of("02:00:00:00:07:02");
const mac broadcast = mac_of("ff:ff:ff:ff:ff:ff");
constexpr uint16_t eth_ipv4 = 0x0800;
constexpr uint16_t eth_ipv6 = 0x86dd;
constexpr uint16_t eth_arp = 0x0806;

struct packet_case {
    std::string name;
    uint16_t in_port;
    bytes in;
    std::vector<output> expect;       // frames transmitted, in order
    std::optional<drop_reason> drop;  // the reason counted once, if any
};

bytes first(const bytes& b, size_t n) {
    return bytes(b.begin(), b.begin() + static_cast<long>(std::min(n, b.size())));
}

ipv4_opts ttl(uint8_t t) {
    ipv4_opts o;
    o.ttl = t;
    return o;
}

// What the gateway originates: TTL 64, id 0, TOS internetwork control.
ipv4_opts icmp_opts() {
    ipv4_opts o;
    o.ttl = 64;
    o.proto = 1;
    o.id = 0;
    o.tos = 0xc0;
    return o;
}

ipv6_opts hops(uint8_t h, uint8_t nh = 17) {
    ipv6_opts o;
    o.hop_limit = h;
    o.next_header = nh;
    return o;
}

std::vector<packet_case> cases() {
    std::vector<packet_case> c;
    auto payload = pattern(32);

    // Forwarding, both families.
    auto udp_c_s1 = udp4(4000, 5000, payload);
    c.push_back({"ipv4_forward_connected",
                 0,
                 ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.2.2", udp_c_s1, ttl(64))),
                 {{1, ether(host_srv1, gw_srv1, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.2.2", udp_c_s1, ttl(63)))}},
                 std::nullopt});
    c.push_back(
        {"ipv4_forward_static_route",
         0,
         ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.100.5", udp_c_s1, ttl(9))),
         {{1, ether(host_srv1, gw_srv1, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.100.5", udp_c_s1, ttl(8)))}},
         std::nullopt});
    c.push_back(
        {"ipv4_reply_direction",
         1,
         ether(gw_srv1, host_srv1, eth_ipv4, ipv4_packet("198.18.2.2", "198.18.1.2", udp_c_s1, ttl(2))),
         {{0, ether(host_client, gw_client, eth_ipv4, ipv4_packet("198.18.2.2", "198.18.1.2", udp_c_s1, ttl(1)))}},
         std::nullopt});
    {
        ipv4_opts o = ttl(64);
        o.proto = 6;
        auto seg = tcp_segment(40000, 80, 0x02);
        ipv4_opts o2 = o;
        o2.ttl = 63;
        c.push_back({"ipv4_tcp_syn_forward",
                     0,
                     ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.3.2", seg, o)),
                     {{2, ether(host_srv2, gw_srv2, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.3.2", seg, o2))}},
                     std::nullopt});
    }
    auto udp6_c_s1 = udp6("fd00:1::2", "fd00:2::2", 4000, 5000, payload);
    c.push_back({"ipv6_forward_connected",
                 0,
                 ether(gw_client, host_client, eth_ipv6, ipv6_packet("fd00:1::2", "fd00:2::2", udp6_c_s1, hops(64))),
                 {{1, ether(host_srv1, gw_srv1, eth_ipv6, ipv6_packet("fd00:1::2", "fd00:2::2", udp6_c_s1, hops(63)))}},
                 std::nullopt});
    auto udp6_static = udp6("fd00:1::2", "fd00:100::7", 4000, 5000, payload);
    c.push_back(
        {"ipv6_forward_static_route",
         0,
         ether(gw_client, host_client, eth_ipv6, ipv6_packet("fd00:1::2", "fd00:100::7", udp6_static, hops(2))),
         {{1, ether(host_srv1, gw_srv1, eth_ipv6, ipv6_packet("fd00:1::2", "fd00:100::7", udp6_static, hops(1)))}},
         std::nullopt});
    {
        // Hop-by-hop and destination options headers are walked and carried unchanged.
        bytes ext = {60, 0, 1, 4, 0, 0, 0, 0};   // HBH: next = dest opts, PadN
        bytes dopt = {17, 0, 1, 4, 0, 0, 0, 0};  // dest opts: next = UDP
        auto u = udp6("fd00:1::2", "fd00:2::2", 1, 2, payload);
        bytes body = ext;
        body.insert(body.end(), dopt.begin(), dopt.end());
        body.insert(body.end(), u.begin(), u.end());
        c.push_back(
            {"ipv6_extension_headers_forward",
             0,
             ether(gw_client, host_client, eth_ipv6, ipv6_packet("fd00:1::2", "fd00:2::2", body, hops(64, 0))),
             {{1, ether(host_srv1, gw_srv1, eth_ipv6, ipv6_packet("fd00:1::2", "fd00:2::2", body, hops(63, 0)))}},
             std::nullopt});
    }

    // VLANs: a tagged interface on srv1's port.
    c.push_back(
        {"ipv4_to_vlan_interface",
         0,
         ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.7.2", udp_c_s1, ttl(64))),
         {{1, ether(host_vlan7, gw_srv1, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.7.2", udp_c_s1, ttl(63)), 7)}},
         std::nullopt});
    c.push_back(
        {"ipv4_from_vlan_interface",
         1,
         ether(gw_srv1, host_vlan7, eth_ipv4, ipv4_packet("198.18.7.2", "198.18.1.2", udp_c_s1, ttl(64)), 7),
         {{0, ether(host_client, gw_client, eth_ipv4, ipv4_packet("198.18.7.2", "198.18.1.2", udp_c_s1, ttl(63)))}},
         std::nullopt});
    c.push_back({"unknown_vlan",
                 1,
                 ether(gw_srv1, host_vlan7, eth_ipv4, ipv4_packet("198.18.7.2", "198.18.1.2", udp_c_s1), 9),
                 {},
                 drop_reason::vlan_unknown});

    // Ethernet padding after a short IP packet is not forwarded.
    {
        auto small = ipv4_packet("198.18.1.2", "198.18.2.2", udp4(1, 2, {}), ttl(64));
        auto frame = ether(gw_client, host_client, eth_ipv4, small);
        frame.resize(60, 0);
        c.push_back({"ipv4_ethernet_padding_trimmed",
                     0,
                     frame,
                     {{1, ether(host_srv1, gw_srv1, eth_ipv4,
                                ipv4_packet("198.18.1.2", "198.18.2.2", udp4(1, 2, {}), ttl(63)))}},
                     std::nullopt});
    }

    // TTL / hop limit expiry: ICMP time exceeded from the ingress interface's address.
    {
        auto orig = ipv4_packet("198.18.1.2", "198.18.2.2", udp_c_s1, ttl(1));
        c.push_back({"ipv4_ttl_exceeded",
                     0,
                     ether(gw_client, host_client, eth_ipv4, orig),
                     {{0, ether(host_client, gw_client, eth_ipv4,
                                ipv4_packet("198.18.1.1", "198.18.1.2", icmp4_error(11, 0, 0, orig), icmp_opts()))}},
                     drop_reason::ttl_exceeded});
        auto orig0 = ipv4_packet("198.18.1.2", "198.18.2.2", udp_c_s1, ttl(0));
        c.push_back({"ipv4_ttl_zero",
                     0,
                     ether(gw_client, host_client, eth_ipv4, orig0),
                     {{0, ether(host_client, gw_client, eth_ipv4,
                                ipv4_packet("198.18.1.1", "198.18.1.2", icmp4_error(11, 0, 0, orig0), icmp_opts()))}},
                     drop_reason::ttl_exceeded});
    }
    {
        auto orig = ipv6_packet("fd00:1::2", "fd00:2::2", udp6_c_s1, hops(1));
        ipv6_opts o = hops(64, 58);
        c.push_back({"ipv6_hop_limit_exceeded",
                     0,
                     ether(gw_client, host_client, eth_ipv6, orig),
                     {{0, ether(host_client, gw_client, eth_ipv6,
                                ipv6_packet("fd00:1::1", "fd00:1::2",
                                            icmp6_error("fd00:1::1", "fd00:1::2", 3, 0, 0, orig), o))}},
                     drop_reason::ttl_exceeded});
    }
    {
        // No error about an ICMP error (RFC 1812 4.3.2.7).
        auto inner = ipv4_packet("198.18.9.9", "198.18.2.2", udp_c_s1);
        ipv4_opts o = ttl(1);
        o.proto = 1;
        auto orig = ipv4_packet("198.18.1.2", "198.18.2.2", icmp4_error(3, 1, 0, first(inner, 28)), o);
        c.push_back({"ipv4_no_error_about_icmp_error",
                     0,
                     ether(gw_client, host_client, eth_ipv4, orig),
                     {},
                     drop_reason::ttl_exceeded});
        // Nor about a non-first fragment.
        ipv4_opts f = ttl(1);
        f.frag_offset = 100;
        auto frag = ipv4_packet("198.18.1.2", "198.18.2.2", payload, f);
        c.push_back({"ipv4_no_error_about_later_fragment",
                     0,
                     ether(gw_client, host_client, eth_ipv4, frag),
                     {},
                     drop_reason::ttl_exceeded});
    }

    // MTU: srv2 has 1280.
    {
        auto big = udp4(4000, 5000, pattern(1372));  // 1400-byte IP packet
        ipv4_opts df = ttl(64);
        df.df = true;
        auto orig = ipv4_packet("198.18.1.2", "198.18.3.2", big, df);
        c.push_back({"ipv4_frag_needed",
                     0,
                     ether(gw_client, host_client, eth_ipv4, orig),
                     {{0, ether(host_client, gw_client, eth_ipv4,
                                ipv4_packet("198.18.1.1", "198.18.1.2", icmp4_error(3, 4, 1280, first(orig, 548)),
                                            icmp_opts()))}},
                     drop_reason::mtu_exceeded});
        // Without DF: two fragments, 1256 + 124 bytes of payload, TTL decremented in both.
        auto whole = ipv4_packet("198.18.1.2", "198.18.3.2", big, ttl(64));
        bytes data(whole.begin() + 20, whole.end());
        ipv4_opts f1 = ttl(63);
        f1.mf = true;
        ipv4_opts f2 = ttl(63);
        f2.frag_offset = 1256 / 8;
        c.push_back(
            {"ipv4_fragmented",
             0,
             ether(gw_client, host_client, eth_ipv4, whole),
             {{2, ether(host_srv2, gw_srv2, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.3.2", first(data, 1256), f1))},
              {2, ether(host_srv2, gw_srv2, eth_ipv4,
                        ipv4_packet("198.18.1.2", "198.18.3.2", bytes(data.begin() + 1256, data.end()), f2))}},
             std::nullopt});
        auto big6 = udp6("fd00:1::2", "fd00:3::2", 4000, 5000, pattern(1352));  // 1400-byte packet
        auto orig6 = ipv6_packet("fd00:1::2", "fd00:3::2", big6, hops(64));
        c.push_back({"ipv6_packet_too_big",
                     0,
                     ether(gw_client, host_client, eth_ipv6, orig6),
                     {{0, ether(host_client, gw_client, eth_ipv6,
                                ipv6_packet("fd00:1::1", "fd00:1::2",
                                            icmp6_error("fd00:1::1", "fd00:1::2", 2, 0, 1280, first(orig6, 1232)),
                                            hops(64, 58)))}},
                     drop_reason::mtu_exceeded});
        // Exactly the MTU passes.
        auto fits = ipv4_packet("198.18.1.2", "198.18.3.2", udp4(1, 2, pattern(1252)), df);
        ipv4_opts df63 = df;
        df63.ttl = 63;
        c.push_back({"ipv4_exactly_mtu",
                     0,
                     ether(gw_client, host_client, eth_ipv4, fits),
                     {{2, ether(host_srv2, gw_srv2, eth_ipv4,
                                ipv4_packet("198.18.1.2", "198.18.3.2", udp4(1, 2, pattern(1252)), df63))}},
                     std::nullopt});
    }

    // No route: net unreachable.
    {
        auto orig = ipv4_packet("198.18.1.2", "198.18.50.1", udp_c_s1);
        c.push_back({"ipv4_no_route",
                     0,
                     ether(gw_client, host_client, eth_ipv4, orig),
                     {{0, ether(host_client, gw_client, eth_ipv4,
                                ipv4_packet("198.18.1.1", "198.18.1.2", icmp4_error(3, 0, 0, orig), icmp_opts()))}},
                     drop_reason::no_route});
        auto u6 = udp6("fd00:1::2", "fd00:50::1", 1, 2, payload);
        auto orig6 = ipv6_packet("fd00:1::2", "fd00:50::1", u6);
        c.push_back({"ipv6_no_route",
                     0,
                     ether(gw_client, host_client, eth_ipv6, orig6),
                     {{0, ether(host_client, gw_client, eth_ipv6,
                                ipv6_packet("fd00:1::1", "fd00:1::2",
                                            icmp6_error("fd00:1::1", "fd00:1::2", 1, 0, 0, orig6), hops(64, 58)))}},
                     drop_reason::no_route});
    }

    // Own addresses: echo, port unreachable.
    {
        ipv4_opts o = ttl(64);
        o.proto = 1;
        auto req = icmp4_echo(8, 77, 1, payload);
        auto rep = icmp4_echo(0, 77, 1, payload);
        ipv4_opts r = o;
        r.id = 0x1234;
        c.push_back({"ipv4_echo_to_gateway",
                     0,
                     ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.1.1", req, o)),
                     {{0, ether(host_client, gw_client, eth_ipv4, ipv4_packet("198.18.1.1", "198.18.1.2", rep, r))}},
                     std::nullopt});
        c.push_back({"ipv4_echo_to_far_gateway_address",
                     0,
                     ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.2.1", req, o)),
                     {{0, ether(host_client, gw_client, eth_ipv4, ipv4_packet("198.18.2.1", "198.18.1.2", rep, r))}},
                     std::nullopt});
        auto bad = req;
        bad[2] ^= 0xff;
        c.push_back({"ipv4_echo_bad_checksum",
                     0,
                     ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.1.1", bad, o)),
                     {},
                     drop_reason::icmp_malformed});
        auto echo_body = [&](uint8_t) {
            bytes b = {0, 77, 0, 1};
            b.insert(b.end(), payload.begin(), payload.end());
            return b;
        };
        auto req6 = icmp6_message("fd00:1::2", "fd00:1::1", 128, 0, echo_body(0));
        auto rep6 = icmp6_message("fd00:1::1", "fd00:1::2", 129, 0, echo_body(0));
        c.push_back(
            {"ipv6_echo_to_gateway",
             0,
             ether(gw_client, host_client, eth_ipv6, ipv6_packet("fd00:1::2", "fd00:1::1", req6, hops(64, 58))),
             {{0, ether(host_client, gw_client, eth_ipv6, ipv6_packet("fd00:1::1", "fd00:1::2", rep6, hops(64, 58)))}},
             std::nullopt});
        auto orig = ipv4_packet("198.18.1.2", "198.18.1.1", udp4(33434, 33434, payload));
        c.push_back({"ipv4_udp_to_gateway_port_unreachable",
                     0,
                     ether(gw_client, host_client, eth_ipv4, orig),
                     {{0, ether(host_client, gw_client, eth_ipv4,
                                ipv4_packet("198.18.1.1", "198.18.1.2", icmp4_error(3, 3, 0, orig), icmp_opts()))}},
                     drop_reason::local_unsupported});
    }

    // ARP and neighbor discovery for our addresses.
    c.push_back({"arp_request_answered",
                 0,
                 ether(broadcast, host_client, eth_arp, arp_packet(1, host_client, "198.18.1.2", mac{}, "198.18.1.1")),
                 {{0, ether(host_client, gw_client, eth_arp,
                            arp_packet(2, gw_client, "198.18.1.1", host_client, "198.18.1.2"))}},
                 std::nullopt});
    c.push_back({"arp_request_not_ours",
                 0,
                 ether(broadcast, host_client, eth_arp, arp_packet(1, host_client, "198.18.1.2", mac{}, "198.18.1.77")),
                 {},
                 drop_reason::arp_not_for_us});
    {
        auto target = v6("fd00:1::1");
        bytes ns = {0, 0, 0, 0};
        ns.insert(ns.end(), target.begin(), target.end());
        bytes opt = {1, 1};
        opt.insert(opt.end(), host_client.begin(), host_client.end());
        ns.insert(ns.end(), opt.begin(), opt.end());
        auto ns_msg = icmp6_message("fd00:1::2", "ff02::1:ff00:1", 135, 0, ns);
        bytes na = {0xe0, 0, 0, 0};
        na.insert(na.end(), target.begin(), target.end());
        bytes topt = {2, 1};
        topt.insert(topt.end(), gw_client.begin(), gw_client.end());
        na.insert(na.end(), topt.begin(), topt.end());
        auto na_msg = icmp6_message("fd00:1::1", "fd00:1::2", 136, 0, na);
        c.push_back({"ipv6_neighbor_solicitation_answered",
                     0,
                     ether(mac_of("33:33:ff:00:00:01"), host_client, eth_ipv6,
                           ipv6_packet("fd00:1::2", "ff02::1:ff00:1", ns_msg, hops(255, 58))),
                     {{0, ether(host_client, gw_client, eth_ipv6,
                                ipv6_packet("fd00:1::1", "fd00:1::2", na_msg, hops(255, 58)))}},
                     std::nullopt});
        c.push_back({"ipv6_neighbor_solicitation_bad_hop_limit",
                     0,
                     ether(mac_of("33:33:ff:00:00:01"), host_client, eth_ipv6,
                           ipv6_packet("fd00:1::2", "ff02::1:ff00:1", ns_msg, hops(64, 58))),
                     {},
                     drop_reason::nd_malformed});
    }

    // Malformed and unwanted input.
    {
        auto good = ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.2.2", udp_c_s1));
        auto bad_ck = good;
        bad_ck[14 + 10] ^= 0x01;
        c.push_back({"ipv4_bad_header_checksum", 0, bad_ck, {}, drop_reason::ipv4_bad_checksum});
        auto truncated = good;
        truncated.resize(14 + 30);
        c.push_back({"ipv4_truncated", 0, truncated, {}, drop_reason::ipv4_truncated});
        auto other_mac = good;
        other_mac[5] = 0x77;
        c.push_back({"unicast_to_other_mac", 0, other_mac, {}, drop_reason::l2_not_for_us});
        c.push_back({"runt", 0, bytes(10, 0), {}, drop_reason::runt_frame});
        c.push_back({"unknown_ethertype",
                     0,
                     ether(gw_client, host_client, 0x88cc, pattern(46)),
                     {},
                     drop_reason::ethertype_unsupported});
        c.push_back({"ipv4_multicast",
                     0,
                     ether(mac_of("01:00:5e:00:00:05"), host_client, eth_ipv4,
                           ipv4_packet("198.18.1.2", "224.0.0.5", udp_c_s1)),
                     {},
                     drop_reason::multicast_unsupported});
        c.push_back({"ipv4_loopback_source",
                     0,
                     ether(gw_client, host_client, eth_ipv4, ipv4_packet("127.0.0.1", "198.18.2.2", udp_c_s1)),
                     {},
                     drop_reason::ipv4_bad_source});
        c.push_back({"ipv4_directed_broadcast",
                     0,
                     ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.2.255", udp_c_s1)),
                     {},
                     drop_reason::directed_broadcast});
        auto u6 = udp6("fd00:1::2", "fe80::9", 1, 2, payload);
        c.push_back({"ipv6_link_local_not_forwarded",
                     0,
                     ether(gw_client, host_client, eth_ipv6, ipv6_packet("fd00:1::2", "fe80::9", u6)),
                     {},
                     drop_reason::ipv6_link_local_forward});
        auto bad_udp = ipv4_packet("198.18.1.2", "198.18.2.2", udp4(1, 2, payload));
        bad_udp[20 + 5] = 200;  // UDP length beyond the packet
        bad_udp[10] = bad_udp[11] = 0;
        uint16_t ck = inet_checksum(bad_udp.data(), 20);
        bad_udp[10] = static_cast<uint8_t>(ck >> 8);
        bad_udp[11] = static_cast<uint8_t>(ck);
        c.push_back(
            {"udp_bad_length", 0, ether(gw_client, host_client, eth_ipv4, bad_udp), {}, drop_reason::udp_bad_length});
        // RFC 1812 5.3.4: unicast IP for another host inside a broadcast frame is not routed, and
        // not answered even when it could not be (no route).
        c.push_back({"ipv4_in_broadcast_frame",
                     0,
                     ether(broadcast, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.2.2", udp_c_s1)),
                     {},
                     drop_reason::l2_group_not_routed});
        c.push_back({"ipv4_in_broadcast_frame_no_route",
                     0,
                     ether(broadcast, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.50.1", udp_c_s1)),
                     {},
                     drop_reason::l2_group_not_routed});
        c.push_back({"ipv6_in_multicast_frame",
                     0,
                     ether(mac_of("33:33:00:00:00:01"), host_client, eth_ipv6,
                           ipv6_packet("fd00:1::2", "fd00:2::2", udp6_c_s1)),
                     {},
                     drop_reason::l2_group_not_routed});
        c.push_back({"ipv4_class_e_destination",
                     0,
                     ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "240.0.0.1", udp_c_s1)),
                     {},
                     drop_reason::ipv4_bad_destination});
        c.push_back({"ipv4_link_local_source",
                     0,
                     ether(gw_client, host_client, eth_ipv4, ipv4_packet("169.254.7.7", "198.18.2.2", udp_c_s1)),
                     {},
                     drop_reason::ipv4_link_local_forward});
        auto u0 = udp6("::", "fd00:2::2", 1, 2, payload);
        c.push_back({"ipv6_unspecified_source",
                     0,
                     ether(gw_client, host_client, eth_ipv6, ipv6_packet("::", "fd00:2::2", u0)),
                     {},
                     drop_reason::ipv6_bad_source});
        auto um = udp6("fd00:1::2", "::ffff:198.18.2.2", 1, 2, payload);
        c.push_back({"ipv6_v4mapped_destination",
                     0,
                     ether(gw_client, host_client, eth_ipv6, ipv6_packet("fd00:1::2", "::ffff:198.18.2.2", um)),
                     {},
                     drop_reason::ipv6_bad_destination});
        // A packet from a subnet's broadcast address draws no error, here TTL expiry.
        ipv4_opts ttl1 = ttl(1);
        c.push_back({"ipv4_broadcast_source_no_error",
                     0,
                     ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.255", "198.18.2.2", udp_c_s1, ttl1)),
                     {},
                     drop_reason::ttl_exceeded});
        auto ul = udp6("fd00:1::2", "::1", 1, 2, payload);
        c.push_back({"ipv6_loopback_destination",
                     0,
                     ether(gw_client, host_client, eth_ipv6, ipv6_packet("fd00:1::2", "::1", ul)),
                     {},
                     drop_reason::ipv6_bad_destination});
        // A link-local source is not forwarded; the sender hears code 2 (beyond scope) on its link.
        auto ull = udp6("fe80::2", "fd00:2::2", 1, 2, payload);
        auto orig_ll = ipv6_packet("fe80::2", "fd00:2::2", ull);
        c.push_back({"ipv6_link_local_source_not_forwarded",
                     0,
                     ether(gw_client, host_client, eth_ipv6, orig_ll),
                     {{0, ether(host_client, gw_client, eth_ipv6,
                                ipv6_packet("fd00:1::1", "fe80::2",
                                            icmp6_error("fd00:1::1", "fe80::2", 1, 2, 0, orig_ll), hops(64, 58)))}},
                     drop_reason::ipv6_link_local_forward});
    }
    return c;
}

class ForwardingTable : public ::testing::TestWithParam<packet_case> {};

TEST_P(ForwardingTable, Frames) {
    const auto& pc = GetParam();
    pipeline p(packet_lab_config);
    auto out = p.send(pc.in_port, pc.in);
    ASSERT_EQ(out.size(), pc.expect.size()) << pc.name;
    for (size_t i = 0; i < out.size(); ++i) {
        EXPECT_EQ(out[i].port, pc.expect[i].port) << pc.name << " frame " << i;
        EXPECT_EQ(diff_wire(pc.expect[i].frame, out[i].frame), "") << pc.name << " frame " << i;
    }
    if (pc.drop) {
        EXPECT_EQ(p.drops(*pc.drop), 1U) << pc.name << ": " << dataplane::drop_reason_name(*pc.drop);
    }
    uint64_t all = 0;
    for (unsigned r = 1; r < dataplane::drop_reason_count; ++r) all += p.drops(static_cast<drop_reason>(r));
    EXPECT_EQ(all, pc.drop ? 1U : 0U) << pc.name << ": unexpected drops";
    EXPECT_EQ(p.mbufs_in_use(), 0U) << pc.name << ": mbuf leak";
}

INSTANTIATE_TEST_SUITE_P(Packets, ForwardingTable, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// The lab config with `routes` (JSON array members) in place of its static routes, except the
// 198.18.200.0/24 one (its gateway 198.18.2.9 must stay pinned across every change), and
// `icmp` as its ICMP limits.
std::string with_routes(const std::string& routes,
                        const std::string& icmp = R"("errorsPerSecond": 1000, "errorsBurst": 100)") {
    std::string c = packet_lab_config;
    auto from = c.find("\"routes\": [");
    auto to = c.find("],", from);
    std::string keep = R"({ "prefix": "198.18.200.0/24", "nextHop": "198.18.2.9", "interface": "srv1" })";
    c.replace(from, to - from + 2, "\"routes\": [" + keep + (routes.empty() ? "" : ", " + routes) + "],");
    from = c.find("\"icmp\": {");
    to = c.find('}', from);
    c.replace(from, to - from + 1, "\"icmp\": {" + icmp + "}");
    return c;
}

uint32_t v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d;
}

// Static routes change at run time (SIGHUP, a pushed snapshot): a new runtime is published and
// the old one freed; gateways no route uses any more lose their pin.
TEST(RouteChange, AddMoveRemoveUnpin) {
    pipeline p(with_routes(""));
    auto udp = udp4(4000, 5000, pattern(32));
    auto to_110 = [&](uint8_t t) {
        return ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.110.5", udp, ttl(t)));
    };
    auto routed = [&](const mac& host, const mac& gw) {
        return ether(host, gw, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.110.5", udp, ttl(8)));
    };
    auto& nt = p.neighbors();
    const auto gw9 = nt.find(dataplane::neighbor_key::v4(1, v4(198, 18, 2, 9)));
    ASSERT_GE(gw9, 0);
    ASSERT_TRUE(nt.entry(static_cast<uint32_t>(gw9)).pinned);

    // No route: net unreachable to the client.
    auto out = p.send(0, to_110(9));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].port, 0);
    EXPECT_EQ(p.drops(drop_reason::no_route), 1U);

    // Added via srv1's 198.18.2.2 (a static neighbor).
    const std::string via_srv1 = R"({ "prefix": "198.18.110.0/24", "nextHop": "198.18.2.2", "interface": "srv1" })";
    p.reload(with_routes(via_srv1));
    out = p.send(0, to_110(9));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].port, 1);
    EXPECT_EQ(diff_wire(routed(host_srv1, gw_srv1), out[0].frame), "");

    // Moved to srv2's 198.18.3.2.
    p.reload(with_routes(R"({ "prefix": "198.18.110.0/24", "nextHop": "198.18.3.2", "interface": "srv2" })"));
    out = p.send(0, to_110(9));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].port, 2);
    EXPECT_EQ(diff_wire(routed(host_srv2, gw_srv2), out[0].frame), "");

    // Via a gateway nobody answers for (an ARP request goes out and the packet waits), plus one
    // that is never used: both pinned.
    const auto k77 = dataplane::neighbor_key::v4(2, v4(198, 18, 3, 77));
    const auto k88 = dataplane::neighbor_key::v4(2, v4(198, 18, 3, 88));
    p.reload(with_routes(R"({ "prefix": "198.18.110.0/24", "nextHop": "198.18.3.77", "interface": "srv2" },
                            { "prefix": "198.18.111.0/24", "nextHop": "198.18.3.88", "interface": "srv2" })"));
    ASSERT_GE(nt.find(k77), 0);
    ASSERT_GE(nt.find(k88), 0);
    EXPECT_TRUE(nt.entry(static_cast<uint32_t>(nt.find(k77))).pinned);
    EXPECT_TRUE(nt.entry(static_cast<uint32_t>(nt.find(k88))).pinned);
    out = p.send(0, to_110(9));
    ASSERT_EQ(out.size(), 1U);  // the ARP request for 198.18.3.77
    EXPECT_EQ(out[0].port, 2);
    EXPECT_EQ(nt.entry(static_cast<uint32_t>(nt.find(k77))).state, dataplane::neighbor_state::incomplete);

    // Back to srv1: the unused gateway goes at once, the one being resolved when it fails (its
    // held packet dropped as unresolved, with host unreachable to the client); 198.18.2.9 stays.
    p.reload(with_routes(via_srv1));
    EXPECT_LT(nt.find(k88), 0);
    ASSERT_GE(nt.find(k77), 0);
    EXPECT_FALSE(nt.entry(static_cast<uint32_t>(nt.find(k77))).pinned);
    out = p.send(0, to_110(9));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].port, 1);
    p.advance(5);
    EXPECT_LT(nt.find(k77), 0);
    EXPECT_EQ(p.drops(drop_reason::neighbor_unresolved), 1U);
    EXPECT_EQ(nt.find(dataplane::neighbor_key::v4(1, v4(198, 18, 2, 9))), gw9);
    EXPECT_TRUE(nt.entry(static_cast<uint32_t>(gw9)).pinned);

    // Removed, and the ICMP limits down to one error in a burst: one net unreachable, then
    // rate limited.
    p.reload(with_routes("", R"("errorsPerSecond": 1, "errorsBurst": 1)"));
    p.advance(2);  // refill the bucket
    out = p.send(0, to_110(9));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].port, 0);
    out = p.send(0, to_110(9));
    EXPECT_EQ(out.size(), 0U);
    EXPECT_EQ(p.drops(drop_reason::no_route), 3U);
    EXPECT_EQ(p.drops(drop_reason::icmp_rate_limited), 1U);
    EXPECT_EQ(p.mbufs_in_use(), 0U);
}

// A route change that cannot be built is refused and changes nothing.
TEST(RouteChange, RejectedChangesNothing) {
    pipeline p(with_routes(R"({ "prefix": "198.18.110.0/24", "nextHop": "198.18.2.2", "interface": "srv1" })"));
    EXPECT_THROW(
        p.reload(with_routes(R"({ "prefix": "198.18.110.0/24", "nextHop": "198.18.9.9", "interface": "srv1" })")),
        std::runtime_error);
    auto udp = udp4(4000, 5000, pattern(32));
    auto out =
        p.send(0, ether(gw_client, host_client, eth_ipv4, ipv4_packet("198.18.1.2", "198.18.110.5", udp, ttl(9))));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].port, 1);
    EXPECT_LT(p.neighbors().find(dataplane::neighbor_key::v4(1, v4(198, 18, 9, 9))), 0);
}

}  // namespace
}  // namespace meshgate::test
