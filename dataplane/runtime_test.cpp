// Route table built from config: connected subnets, own addresses, broadcasts, static routes,
// longest-prefix match in both families.
#include "dataplane/runtime.hpp"

#include <gtest/gtest.h>

#include "dataplane/neighbor.hpp"
#include "tests/support/pipeline.hpp"

namespace meshgate::dataplane {
namespace {

constexpr const char* config = R"({
  "interfaces": [
    { "name": "a", "device": "x", "ipv4Addresses": ["198.18.1.1/24", "198.18.9.1/30"], "ipv6Addresses": ["fd00:1::1/64"] },
    { "name": "b", "device": "y", "ipv4Addresses": ["198.18.2.1/24"], "ipv6Addresses": ["fd00:2::1/64"] }
  ],
  "routes": [
    { "prefix": "0.0.0.0/0", "nextHop": "198.18.2.254", "interface": "b" },
    { "prefix": "198.18.64.0/18", "nextHop": "198.18.1.254", "interface": "a" },
    { "prefix": "198.18.64.128/25", "interface": "b" },
    { "prefix": "::/0", "nextHop": "fd00:2::fe", "interface": "b" },
    { "prefix": "fd00:40::/40", "nextHop": "fd00:1::fe", "interface": "a" },
    { "prefix": "fd00:40:0:1::/64", "interface": "b" }
  ]
})";

uint32_t ip4(const char* s) {
    return parse_ipv4(s)->value;
}
const uint8_t* ip6(const char* s) {
    static ipv6_addr a;
    a = *parse_ipv6(s);
    return a.bytes.data();
}

TEST(Routes, LongestPrefixMatchV4) {
    test::pipeline p(config);
    const auto& r = *p.runtime().routes;
    auto* h = r.lookup4(ip4("198.18.1.77"));
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->kind, nh_kind::forward);
    EXPECT_EQ(h->ifindex, 0);
    EXPECT_FALSE(h->has_gateway);
    h = r.lookup4(ip4("198.18.1.1"));
    EXPECT_EQ(h->kind, nh_kind::local);
    h = r.lookup4(ip4("198.18.2.1"));
    EXPECT_EQ(h->kind, nh_kind::local);
    EXPECT_EQ(h->ifindex, 1);
    EXPECT_EQ(r.lookup4(ip4("198.18.1.255"))->kind, nh_kind::broadcast);
    EXPECT_EQ(r.lookup4(ip4("198.18.9.3"))->kind, nh_kind::broadcast);
    EXPECT_EQ(r.lookup4(ip4("198.18.9.2"))->kind, nh_kind::forward);
    h = r.lookup4(ip4("198.18.70.1"));
    EXPECT_TRUE(h->has_gateway);
    EXPECT_EQ(h->gateway4, ip4("198.18.1.254"));
    h = r.lookup4(ip4("198.18.64.200"));
    EXPECT_FALSE(h->has_gateway);
    EXPECT_EQ(h->ifindex, 1);
    h = r.lookup4(ip4("203.0.113.9"));
    EXPECT_EQ(h->gateway4, ip4("198.18.2.254"));
}

TEST(Routes, LongestPrefixMatchV6) {
    test::pipeline p(config);
    const auto& r = *p.runtime().routes;
    EXPECT_EQ(r.lookup6(ip6("fd00:1::1"))->kind, nh_kind::local);
    auto* h = r.lookup6(ip6("fd00:1::99"));
    EXPECT_EQ(h->kind, nh_kind::forward);
    EXPECT_FALSE(h->has_gateway);
    h = r.lookup6(ip6("fd00:40:0:2::1"));
    EXPECT_TRUE(h->has_gateway);
    EXPECT_EQ(h->gateway6, *parse_ipv6("fd00:1::fe"));
    h = r.lookup6(ip6("fd00:40:0:1::1"));
    EXPECT_FALSE(h->has_gateway);
    EXPECT_EQ(h->ifindex, 1);
    h = r.lookup6(ip6("2001:db8::1"));
    EXPECT_EQ(h->gateway6, *parse_ipv6("fd00:2::fe"));
}

TEST(Routes, NoDefaultMeansNoMatch) {
    test::pipeline p(R"({"interfaces":[{"name":"a","device":"x","ipv4Addresses":["198.18.1.1/24"]}]})");
    EXPECT_EQ(p.runtime().routes->lookup4(ip4("198.18.2.1")), nullptr);
    EXPECT_EQ(p.runtime().routes->lookup6(ip6("fd00::1")), nullptr);
}

TEST(Routes, GatewaysArePinnedNeighbors) {
    test::pipeline p(config);
    auto* h = p.runtime().routes->lookup4(ip4("198.18.70.1"));
    auto& e = p.neighbors().entry(h->gateway_slot);
    EXPECT_TRUE(e.pinned);
    EXPECT_EQ(e.key.family, 4);
    EXPECT_EQ(e.key.ifindex, 0);
}

}  // namespace
}  // namespace meshgate::dataplane
