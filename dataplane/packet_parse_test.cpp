#include "dataplane/packet_parse.hpp"

#include <gtest/gtest.h>

#include "tests/support/packet_builder.hpp"

namespace meshgate::dataplane {
namespace {

using namespace meshgate::test;

const mac a = mac_of("02:00:00:00:00:01");
const mac b = mac_of("02:00:00:00:00:02");

drop_reason parse(const bytes& f, packet_info& info) {
    return parse_packet(f.data(), static_cast<uint32_t>(f.size()), info);
}

ipv4_opts proto(uint8_t p) {
    ipv4_opts o;
    o.proto = p;
    return o;
}

TEST(Parse, Ipv4Udp) {
    auto f = ether(a, b, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", udp4(1, 2, pattern(10))));
    packet_info i;
    ASSERT_EQ(parse(f, i), drop_reason::none);
    EXPECT_EQ(i.l3, l3_kind::ipv4);
    EXPECT_EQ(i.l3_offset, 14);
    EXPECT_EQ(i.l3_len, 20);
    EXPECT_EQ(i.ip_total, 38);
    EXPECT_EQ(i.l4_proto, ip_proto::udp);
    EXPECT_EQ(i.l4_offset, 34);
    EXPECT_TRUE(i.has_l4);
    EXPECT_FALSE(i.is_fragment);
}

TEST(Parse, Ipv4TcpSctpIcmp) {
    packet_info i;
    auto tcp = ether(a, b, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", tcp_segment(1, 2, 0x12), proto(6)));
    ASSERT_EQ(parse(tcp, i), drop_reason::none);
    EXPECT_EQ(i.l4_proto, ip_proto::tcp);
    EXPECT_TRUE(i.has_l4);
    auto sctp = ether(a, b, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", pattern(28), proto(132)));
    ASSERT_EQ(parse(sctp, i), drop_reason::none);
    EXPECT_EQ(i.l4_proto, ip_proto::sctp);
    auto icmp = ether(a, b, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", icmp4_echo(8, 1, 1, {}), proto(1)));
    ASSERT_EQ(parse(icmp, i), drop_reason::none);
    EXPECT_EQ(i.l4_proto, ip_proto::icmp);
}

TEST(Parse, Vlan) {
    auto f = ether(a, b, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::2", udp6("fd00:1::2", "fd00:2::2", 1, 2, {})), 42);
    packet_info i;
    ASSERT_EQ(parse(f, i), drop_reason::none);
    EXPECT_EQ(i.vlan, 42);
    EXPECT_EQ(i.l3_offset, 18);
    EXPECT_EQ(i.l3, l3_kind::ipv6);
    // QinQ is not terminated.
    bytes qinq = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xa8, 0, 5, 0x81, 0x00, 0, 6, 0x08, 0x00};
    qinq.resize(64, 0);
    EXPECT_EQ(parse(qinq, i), drop_reason::vlan_unknown);
}

TEST(Parse, Ipv6ExtensionHeaders) {
    // HBH -> routing -> fragment(first) -> UDP
    bytes hbh = {43, 0, 1, 4, 0, 0, 0, 0};
    bytes rt = {44, 0, 0, 0, 0, 0, 0, 0};
    bytes fr = {17, 0, 0x00, 0x01, 0, 0, 0, 9};  // offset 0, M=1
    auto u = udp6("fd00:1::2", "fd00:2::2", 1, 2, pattern(8));
    bytes body = hbh;
    body.insert(body.end(), rt.begin(), rt.end());
    body.insert(body.end(), fr.begin(), fr.end());
    body.insert(body.end(), u.begin(), u.end());
    ipv6_opts o;
    o.next_header = 0;
    auto f = ether(a, b, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::2", body, o));
    packet_info i;
    ASSERT_EQ(parse(f, i), drop_reason::none);
    EXPECT_EQ(i.l3_len, 40 + 24);
    EXPECT_EQ(i.l4_proto, ip_proto::udp);
    EXPECT_TRUE(i.is_fragment);
    EXPECT_TRUE(i.has_l4);
    // A later fragment has no transport header.
    body[16 + 2] = 0x01;  // offset 8 * 32 bytes
    body[16 + 3] = 0x00;
    f = ether(a, b, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::2", body, o));
    ASSERT_EQ(parse(f, i), drop_reason::none);
    EXPECT_TRUE(i.is_fragment);
    EXPECT_FALSE(i.has_l4);
}

TEST(Parse, Ipv6Malformed) {
    packet_info i;
    ipv6_opts o;
    o.next_header = 60;
    // Hop-by-hop anywhere but first is invalid (RFC 8200 4.1).
    bytes dopt = {0, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0};
    auto f = ether(a, b, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::2", dopt, o));
    EXPECT_EQ(parse(f, i), drop_reason::ipv6_bad_ext_header);
    // Extension header longer than the payload.
    bytes longh = {17, 200, 0, 0, 0, 0, 0, 0};
    f = ether(a, b, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::2", longh, o));
    EXPECT_EQ(parse(f, i), drop_reason::ipv6_bad_ext_header);
    // A chain of ten destination-options headers is refused.
    bytes chain;
    for (int k = 0; k < 10; ++k) {
        bytes h = {static_cast<uint8_t>(k == 9 ? 59 : 60), 0, 1, 4, 0, 0, 0, 0};
        chain.insert(chain.end(), h.begin(), h.end());
    }
    f = ether(a, b, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::2", chain, o));
    EXPECT_EQ(parse(f, i), drop_reason::ipv6_bad_ext_header);
    // Payload length beyond the frame.
    f = ether(a, b, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::2", pattern(20)));
    f.resize(f.size() - 5);
    EXPECT_EQ(parse(f, i), drop_reason::ipv6_truncated);
    // Version 4 in an IPv6 EtherType.
    f = ether(a, b, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::2", pattern(20)));
    f[14] = 0x40;
    EXPECT_EQ(parse(f, i), drop_reason::ipv6_bad_version);
    bytes short6 = ether(a, b, 0x86dd, pattern(30));
    EXPECT_EQ(parse(short6, i), drop_reason::ipv6_truncated);
}

TEST(Parse, Ipv4Malformed) {
    packet_info i;
    auto good = ether(a, b, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", udp4(1, 2, pattern(10))));
    auto f = good;
    f[14] = 0x44;  // IHL 4
    EXPECT_EQ(parse(f, i), drop_reason::ipv4_bad_ihl);
    f = good;
    f[14] = 0x65;  // version 6
    EXPECT_EQ(parse(f, i), drop_reason::ipv4_bad_version);
    f = good;
    f[14 + 3] = 0xff;  // total length beyond the frame
    EXPECT_EQ(parse(f, i), drop_reason::ipv4_truncated);
    f = good;
    f[14 + 12] ^= 1;
    EXPECT_EQ(parse(f, i), drop_reason::ipv4_bad_checksum);
    EXPECT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), i, true), drop_reason::none)
        << "a NIC-verified checksum is trusted";
    f = good;
    f.resize(14 + 12);
    EXPECT_EQ(parse(f, i), drop_reason::ipv4_truncated);
    auto tcp = ether(a, b, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", tcp_segment(1, 2, 0x02), proto(6)));
    tcp[14 + 20 + 12] = 0x40;  // data offset 4
    EXPECT_EQ(parse(tcp, i), drop_reason::tcp_bad_offset);
    tcp[14 + 20 + 12] = 0xf0;  // data offset 60 > segment
    EXPECT_EQ(parse(tcp, i), drop_reason::tcp_bad_offset);
    auto shorttcp = ether(a, b, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", pattern(10), proto(6)));
    EXPECT_EQ(parse(shorttcp, i), drop_reason::l4_truncated);
    auto shortsctp = ether(a, b, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", pattern(10), proto(132)));
    EXPECT_EQ(parse(shortsctp, i), drop_reason::l4_truncated);
    auto udp = ether(a, b, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", udp4(1, 2, pattern(10))));
    udp[14 + 20 + 5] = 4;  // UDP length below 8
    EXPECT_EQ(parse(udp, i), drop_reason::udp_bad_length);
}

TEST(Parse, Ipv4Fragments) {
    packet_info i;
    ipv4_opts o;
    o.mf = true;
    auto first = ether(a, b, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", udp4(1, 2, pattern(100)), o));
    ASSERT_EQ(parse(first, i), drop_reason::none);
    EXPECT_TRUE(i.is_fragment);
    EXPECT_TRUE(i.has_l4);
    o.mf = false;
    o.frag_offset = 20;
    auto later = ether(a, b, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", pattern(3), o));
    ASSERT_EQ(parse(later, i), drop_reason::none);
    EXPECT_TRUE(i.is_fragment);
    EXPECT_FALSE(i.has_l4);
}

TEST(Parse, Arp) {
    packet_info i;
    auto f = ether(a, b, 0x0806, arp_packet(1, a, "198.18.1.2", mac{}, "198.18.1.1"));
    ASSERT_EQ(parse(f, i), drop_reason::none);
    EXPECT_EQ(i.l3, l3_kind::arp);
    f[14 + 4] = 8;  // hardware length 8
    EXPECT_EQ(parse(f, i), drop_reason::arp_malformed);
    f.resize(30);
    EXPECT_EQ(parse(f, i), drop_reason::arp_malformed);
}

TEST(Parse, RuntAndUnknown) {
    packet_info i;
    bytes runt(13, 0);
    EXPECT_EQ(parse(runt, i), drop_reason::runt_frame);
    auto lldp = ether(a, b, 0x88cc, pattern(40));
    EXPECT_EQ(parse(lldp, i), drop_reason::ethertype_unsupported);
    bytes vlan_runt = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0, 0};
    EXPECT_EQ(parse(vlan_runt, i), drop_reason::runt_frame);
}

TEST(DropReasons, NamesAreUniqueAndDescribed) {
    for (unsigned r = 0; r < drop_reason_count; ++r) {
        auto name = drop_reason_name(static_cast<drop_reason>(r));
        EXPECT_FALSE(name.empty());
        EXPECT_FALSE(drop_reason_description(static_cast<drop_reason>(r)).empty());
        for (unsigned s = 0; s < r; ++s) EXPECT_NE(name, drop_reason_name(static_cast<drop_reason>(s)));
    }
}

}  // namespace
}  // namespace meshgate::dataplane
