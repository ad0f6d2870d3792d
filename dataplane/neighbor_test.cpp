// The neighbor state machine through the real pipeline on a virtual clock: resolution with a
// bounded hold queue, retries and give-up, learning from ARP/NS, REACHABLE -> STALE -> probe.
#include "dataplane/neighbor.hpp"

#include <gtest/gtest.h>

#include "tests/support/pipeline.hpp"

namespace meshgate::dataplane {
namespace {

using namespace meshgate::test;

constexpr const char* config = R"({
  "interfaces": [
    { "name": "client", "device": "c", "mac": "02:00:00:00:00:01",
      "ipv4Addresses": ["198.18.1.1/24"], "ipv6Addresses": ["fd00:1::1/64"],
      "staticNeighbors": [ { "ip": "198.18.1.2", "mac": "02:00:00:00:01:02" },
                           { "ip": "fd00:1::2", "mac": "02:00:00:00:01:02" } ] },
    { "name": "srv", "device": "s", "mac": "02:00:00:00:00:02",
      "ipv4Addresses": ["198.18.2.1/24"], "ipv6Addresses": ["fd00:2::1/64"] }
  ],
  "routes": [ { "prefix": "198.18.100.0/24", "nextHop": "198.18.2.9", "interface": "srv" } ]
})";

const mac gw_client = mac_of("02:00:00:00:00:01");
const mac gw_srv = mac_of("02:00:00:00:00:02");
const mac host_client = mac_of("02:00:00:00:01:02");
const mac server = mac_of("02:00:00:00:02:55");
const mac bcast = mac_of("ff:ff:ff:ff:ff:ff");

bytes udp_to(const std::string& dst, uint16_t seq) {
    return ether(gw_client, host_client, 0x0800, ipv4_packet("198.18.1.2", dst, udp4(seq, 9, pattern(16))));
}

bytes forwarded(const std::string& dst, uint16_t seq) {
    ipv4_opts o;
    o.ttl = 63;
    return ether(server, gw_srv, 0x0800, ipv4_packet("198.18.1.2", dst, udp4(seq, 9, pattern(16)), o));
}

bytes arp_request_for(const std::string& target, const mac& to = bcast) {
    return ether(to, gw_srv, 0x0806, arp_packet(1, gw_srv, "198.18.2.1", mac{}, target));
}

TEST(Neighbor, ResolvesHoldsAndReleasesInOrder) {
    pipeline p(config);
    auto out = p.send(0, udp_to("198.18.2.50", 1));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].port, 1);
    EXPECT_EQ(diff_wire(arp_request_for("198.18.2.50"), out[0].frame), "");
    // More packets wait without new requests.
    EXPECT_TRUE(p.send(0, udp_to("198.18.2.50", 2)).empty());
    EXPECT_TRUE(p.send(0, udp_to("198.18.2.50", 3)).empty());
    // The reply releases them, in order, rewritten to the learned MAC.
    out = p.send(1, ether(gw_srv, server, 0x0806, arp_packet(2, server, "198.18.2.50", gw_srv, "198.18.2.1")));
    ASSERT_EQ(out.size(), 3U);
    for (uint16_t i = 0; i < 3; ++i)
        EXPECT_EQ(diff_wire(forwarded("198.18.2.50", static_cast<uint16_t>(i + 1)), out[i].frame), "");
    // Now the worker forwards directly.
    out = p.send(0, udp_to("198.18.2.50", 4));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(diff_wire(forwarded("198.18.2.50", 4), out[0].frame), "");
    EXPECT_EQ(p.mbufs_in_use(), 0U);
}

TEST(Neighbor, HoldQueueIsBounded) {
    pipeline p(config);
    for (uint16_t i = 0; i < neighbor_hold_max + 3; ++i) p.send(0, udp_to("198.18.2.51", i));
    EXPECT_EQ(p.drops(drop_reason::neighbor_hold_full), 3U);
    auto out = p.send(1, ether(gw_srv, server, 0x0806, arp_packet(2, server, "198.18.2.51", gw_srv, "198.18.2.1")));
    ASSERT_EQ(out.size(), neighbor_hold_max);
    EXPECT_EQ(diff_wire(forwarded("198.18.2.51", 3), out[0].frame), "") << "the oldest were dropped";
}

TEST(Neighbor, GivesUpAfterThreeRequests) {
    pipeline p(config);
    auto out = p.send(0, udp_to("198.18.2.52", 1));
    ASSERT_EQ(out.size(), 1U);
    out = p.advance(0.99);
    EXPECT_TRUE(out.empty());
    out = p.advance(0.1);
    ASSERT_EQ(out.size(), 1U) << "retry after RETRANS_TIMER (1 s)";
    EXPECT_EQ(diff_wire(arp_request_for("198.18.2.52"), out[0].frame), "");
    out = p.advance(1.0);
    ASSERT_EQ(out.size(), 1U);
    out = p.advance(1.0);
    // Given up: the held packet is dropped and its sender told, from the ingress interface
    // (RFC 1812 4.3.3.1: host unreachable).
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].port, 0);
    ipv4_opts fwd;
    fwd.ttl = 63;
    ipv4_opts err;
    err.proto = 1;
    err.id = 0;
    err.tos = 0xc0;
    auto held = ipv4_packet("198.18.1.2", "198.18.2.52", udp4(1, 9, pattern(16)), fwd);
    EXPECT_EQ(diff_wire(ether(host_client, gw_client, 0x0800,
                              ipv4_packet("198.18.1.1", "198.18.1.2", icmp4_error(3, 1, 0, held), err)),
                        out[0].frame),
              "");
    EXPECT_EQ(p.drops(drop_reason::neighbor_unresolved), 1U);
    EXPECT_EQ(p.neighbors().find(neighbor_key::v4(1, 0xc6120234)), -1) << "the entry is gone";
    EXPECT_EQ(p.mbufs_in_use(), 0U);
    // A new packet starts over.
    out = p.send(0, udp_to("198.18.2.52", 2));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(diff_wire(arp_request_for("198.18.2.52"), out[0].frame), "");
}

TEST(Neighbor, PinnedGatewayIsKeptAndReResolved) {
    pipeline p(config);
    auto out = p.send(0, udp_to("198.18.100.7", 1));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(diff_wire(arp_request_for("198.18.2.9"), out[0].frame), "");
    p.advance(3.5);
    int32_t slot = p.neighbors().find(neighbor_key::v4(1, 0xc6120209));
    ASSERT_GE(slot, 0) << "a route's gateway keeps its slot";
    EXPECT_EQ(p.neighbors().entry(static_cast<uint32_t>(slot)).state, neighbor_state::failed);
    out = p.send(0, udp_to("198.18.100.7", 2));
    ASSERT_EQ(out.size(), 1U);
    out = p.send(1, ether(gw_srv, server, 0x0806, arp_packet(2, server, "198.18.2.9", gw_srv, "198.18.2.1")));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(diff_wire(forwarded("198.18.100.7", 2), out[0].frame), "");
}

TEST(Neighbor, LearnsFromRequestsAndProbesWhenStale) {
    pipeline p(config);
    // The server asks for the gateway: answered, and the server is learned (RFC 826).
    auto out = p.send(1, ether(bcast, server, 0x0806, arp_packet(1, server, "198.18.2.60", mac{}, "198.18.2.1")));
    ASSERT_EQ(out.size(), 1U);
    out = p.send(0, udp_to("198.18.2.60", 1));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(diff_wire(forwarded("198.18.2.60", 1), out[0].frame), "") << "no request needed";
    // After REACHABLE_TIME the entry goes stale and is probed by unicast; still used meanwhile.
    out = p.advance(30.1);
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(diff_wire(arp_request_for("198.18.2.60", server), out[0].frame), "");
    out = p.send(0, udp_to("198.18.2.60", 2));
    ASSERT_EQ(out.size(), 1U) << "a stale entry still forwards";
    // No answer to three probes: removed.
    out = p.advance(3.1);
    EXPECT_EQ(out.size(), 2U);
    EXPECT_EQ(p.neighbors().find(neighbor_key::v4(1, 0xc612023c)), -1);
}

TEST(Neighbor, Ipv6SolicitsToSolicitedNodeAndLearnsFromAdvert) {
    pipeline p(config);
    auto u = udp6("fd00:1::2", "fd00:2::77", 1, 2, pattern(8));
    auto pkt = ipv6_packet("fd00:1::2", "fd00:2::77", u);
    auto out = p.send(0, ether(gw_client, host_client, 0x86dd, pkt));
    ASSERT_EQ(out.size(), 1U);
    // NS from our address on that subnet to ff02::1:ff00:77 with our link-layer address.
    auto target = v6("fd00:2::77");
    bytes ns = {0, 0, 0, 0};
    ns.insert(ns.end(), target.begin(), target.end());
    bytes opt = {1, 1};
    opt.insert(opt.end(), gw_srv.begin(), gw_srv.end());
    ns.insert(ns.end(), opt.begin(), opt.end());
    ipv6_opts o;
    o.hop_limit = 255;
    o.next_header = 58;
    auto expect = ether(
        mac_of("33:33:ff:00:00:77"), gw_srv, 0x86dd,
        ipv6_packet("fd00:2::1", "ff02::1:ff00:77", icmp6_message("fd00:2::1", "ff02::1:ff00:77", 135, 0, ns), o));
    EXPECT_EQ(diff_wire(expect, out[0].frame), "");
    // A solicited NA with the target link-layer address resolves it.
    bytes na = {0x60, 0, 0, 0};
    na.insert(na.end(), target.begin(), target.end());
    bytes topt = {2, 1};
    topt.insert(topt.end(), server.begin(), server.end());
    na.insert(na.end(), topt.begin(), topt.end());
    out = p.send(
        1, ether(gw_srv, server, 0x86dd,
                 ipv6_packet("fd00:2::77", "fd00:2::1", icmp6_message("fd00:2::77", "fd00:2::1", 136, 0, na), o)));
    ASSERT_EQ(out.size(), 1U);
    ipv6_opts fwd;
    fwd.hop_limit = 63;
    EXPECT_EQ(diff_wire(ether(server, gw_srv, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::77", u, fwd)), out[0].frame),
              "");
}

// Linux answers a unicast probe without the target link-layer option (RFC 4861 7.2.4 allows it):
// a solicited NA without it must still confirm the cached address.
TEST(Neighbor, SolicitedAdvertWithoutLinkLayerOptionConfirms) {
    pipeline p(config);
    auto u = udp6("fd00:1::2", "fd00:2::77", 1, 2, pattern(8));
    p.send(0, ether(gw_client, host_client, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::77", u)));
    auto target = v6("fd00:2::77");
    ipv6_opts o;
    o.hop_limit = 255;
    o.next_header = 58;
    auto na = [&](uint8_t flags, bool with_option) {
        bytes body = {flags, 0, 0, 0};
        body.insert(body.end(), target.begin(), target.end());
        if (with_option) {
            bytes opt = {2, 1};
            opt.insert(opt.end(), server.begin(), server.end());
            body.insert(body.end(), opt.begin(), opt.end());
        }
        return ether(gw_srv, server, 0x86dd,
                     ipv6_packet("fd00:2::77", "fd00:2::1", icmp6_message("fd00:2::77", "fd00:2::1", 136, 0, body), o));
    };
    ASSERT_EQ(p.send(1, na(0x60, true)).size(), 1U) << "resolved, held packet released";
    auto out = p.advance(30.1);
    ASSERT_EQ(out.size(), 1U) << "stale: one unicast probe";
    EXPECT_EQ(out[0].frame[0], server[0]);
    EXPECT_TRUE(p.send(1, na(0x40, false)).empty());  // solicited, no override, no option
    out = p.advance(3.1);
    EXPECT_TRUE(out.empty()) << "confirmed: no more probes";
    int32_t slot = p.neighbors().find(neighbor_key::v6(1, target.data()));
    ASSERT_GE(slot, 0);
    EXPECT_EQ(p.neighbors().entry(static_cast<uint32_t>(slot)).state, neighbor_state::reachable);
}

// RFC 4861 7.2.5: without the override flag a different address does not replace a cached one.
TEST(Neighbor, AdvertWithoutOverrideKeepsTheCachedAddress) {
    pipeline p(config);
    p.send(1, ether(bcast, server, 0x0806, arp_packet(1, server, "198.18.2.60", mac{}, "198.18.2.1")));
    auto u = udp6("fd00:1::2", "fd00:2::78", 1, 2, pattern(8));
    p.send(0, ether(gw_client, host_client, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::78", u)));
    auto target = v6("fd00:2::78");
    ipv6_opts o;
    o.hop_limit = 255;
    o.next_header = 58;
    auto na = [&](uint8_t flags, const mac& who) {
        bytes body = {flags, 0, 0, 0};
        body.insert(body.end(), target.begin(), target.end());
        bytes opt = {2, 1};
        opt.insert(opt.end(), who.begin(), who.end());
        body.insert(body.end(), opt.begin(), opt.end());
        return ether(gw_srv, who, 0x86dd,
                     ipv6_packet("fd00:2::78", "fd00:2::1", icmp6_message("fd00:2::78", "fd00:2::1", 136, 0, body), o));
    };
    p.send(1, na(0x60, server));
    p.send(1, na(0x00, mac_of("02:00:00:00:02:66")));  // unsolicited, no override, other MAC
    auto out = p.send(0, ether(gw_client, host_client, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::78", u)));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(bytes(out[0].frame.begin(), out[0].frame.begin() + 6), bytes(server.begin(), server.end()));
    p.send(1, na(0x20, mac_of("02:00:00:00:02:66")));  // with override: replaced
    out = p.send(0, ether(gw_client, host_client, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::78", u)));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].frame[5], 0x66);
}

// Held packets are bounded in total, not only per neighbor: a sweep of a large subnet cannot
// take the mbuf pool.
TEST(Neighbor, HeldPacketsAreBoundedInTotal) {
    pipeline p(config);
    for (int n = 0; n < 60; ++n) {
        for (int k = 0; k < 8; ++k) p.send(0, udp_to("198.18.2." + std::to_string(100 + n), static_cast<uint16_t>(k)));
    }
    // The test pool has 2047 mbufs: at most an eighth may wait for neighbors.
    EXPECT_LE(p.mbufs_in_use(), 2047U / 8 + 1);
    EXPECT_GE(p.drops(drop_reason::neighbor_hold_full), 60U * 8 - 2047U / 8);
    p.advance(3.5);
    EXPECT_EQ(p.mbufs_in_use(), 0U) << "all released or dropped after the retries";
}

TEST(Neighbor, StaticEntriesNeverExpire) {
    pipeline p(config);
    p.advance(120);
    auto out = p.send(1, ether(gw_srv, server, 0x0800, ipv4_packet("198.18.2.60", "198.18.1.2", udp4(1, 2, {}))));
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].port, 0);
    int32_t slot = p.neighbors().find(neighbor_key::v4(0, 0xc6120102));
    ASSERT_GE(slot, 0);
    EXPECT_EQ(p.neighbors().entry(static_cast<uint32_t>(slot)).state, neighbor_state::permanent);
}

}  // namespace
}  // namespace meshgate::dataplane
