#include "dataplane/l4/acl.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <rte_acl.h>
#include <rte_vect.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace meshgate::dataplane::l4 {
namespace {

using policy::acl_action;
using policy::acl_rule;

// ---- building rules and keys ------------------------------------------------------------------

policy::ip_prefix any4() {
    return policy::ip_prefix{};
}

policy::ip_prefix p4(const std::string& s) {
    auto p = parse_ipv4_prefix(s);
    EXPECT_TRUE(p.has_value()) << s;
    policy::ip_prefix r;
    r.v4 = ipv4_prefix{p->network(), p->len};
    return r;
}

policy::ip_prefix p6(const std::string& s) {
    auto p = parse_ipv6_prefix(s);
    EXPECT_TRUE(p.has_value()) << s;
    policy::ip_prefix r;
    r.is_v6 = true;
    r.v6 = ipv6_prefix{p->network(), p->len};
    return r;
}

acl_rule rule4(policy::ip_prefix src, policy::ip_prefix dst, acl_action action = acl_action::allow) {
    acl_rule r;
    r.src = src;
    r.dst = dst;
    r.action = action;
    return r;
}

acl_rule rule6(policy::ip_prefix src, policy::ip_prefix dst, acl_action action = acl_action::allow) {
    acl_rule r = rule4(src, dst, action);
    r.is_v6 = true;
    return r;
}

acl_rule with_ports(acl_rule r, uint16_t slo, uint16_t shi, uint16_t dlo, uint16_t dhi) {
    r.src_port_min = slo;
    r.src_port_max = shi;
    r.dst_port_min = dlo;
    r.dst_port_max = dhi;
    return r;
}

acl_rule with_proto(acl_rule r, uint8_t proto) {
    r.protocol = proto;
    return r;
}

acl_rule with_interface(acl_rule r, uint32_t ifc) {
    r.in_interface = ifc;
    return r;
}

struct key4_args {
    uint8_t proto = 6;
    uint16_t ifindex = 0;
    std::string src = "192.0.2.1";
    std::string dst = "198.51.100.1";
    uint16_t sport = 40000;
    uint16_t dport = 80;
    bool has_ports = true;
};

acl_key4 key4(const key4_args& a) {
    std::array<uint8_t, 4> s{}, d{};
    EXPECT_EQ(inet_pton(AF_INET, a.src.c_str(), s.data()), 1) << a.src;
    EXPECT_EQ(inet_pton(AF_INET, a.dst.c_str(), d.data()), 1) << a.dst;
    acl_key4 k;
    make_key4(k, a.proto, a.ifindex, s.data(), d.data(), htons(a.sport), htons(a.dport), a.has_ports);
    return k;
}

struct key6_args {
    uint8_t proto = 6;
    uint16_t ifindex = 0;
    std::string src = "2001:db8::1";
    std::string dst = "2001:db8:ffff::1";
    uint16_t sport = 40000;
    uint16_t dport = 80;
    bool has_ports = true;
};

acl_key6 key6(const key6_args& a) {
    std::array<uint8_t, 16> s{}, d{};
    EXPECT_EQ(inet_pton(AF_INET6, a.src.c_str(), s.data()), 1) << a.src;
    EXPECT_EQ(inet_pton(AF_INET6, a.dst.c_str(), d.data()), 1) << a.dst;
    acl_key6 k;
    make_key6(k, a.proto, a.ifindex, s.data(), d.data(), htons(a.sport), htons(a.dport), a.has_ports);
    return k;
}

std::string unique_name() {
    static int n = 0;
    return "acltest" + std::to_string(n++);
}

std::unique_ptr<acl_set> build_ok(const std::vector<acl_rule>& rules) {
    auto r = acl_set::build(rules, unique_name());
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error_message());
    return r.ok() ? std::move(r).value() : nullptr;
}

uint32_t classify(const acl_set& s, const acl_key4& k) {
    const acl_key4* p = &k;
    uint32_t res = 12345;
    s.classify4(&p, &res, 1);
    return res;
}

uint32_t classify(const acl_set& s, const acl_key6& k) {
    const acl_key6* p = &k;
    uint32_t res = 12345;
    s.classify6(&p, &res, 1);
    return res;
}

// ---- layout -----------------------------------------------------------------------------------

TEST(acl_key, fill_helpers_keep_network_order) {
    acl_key4 k =
        key4({.proto = 17, .ifindex = 0x0102, .src = "10.1.2.3", .dst = "10.4.5.6", .sport = 0x1234, .dport = 0x5678});
    const auto* b = reinterpret_cast<const uint8_t*>(&k);
    const uint8_t want[16] = {17, 1, 1, 2, 10, 1, 2, 3, 10, 4, 5, 6, 0x12, 0x34, 0x56, 0x78};
    EXPECT_EQ(std::memcmp(b, want, 16), 0);

    acl_key4 np = key4({.proto = 1, .sport = 7, .dport = 9, .has_ports = false});
    EXPECT_EQ(np.flags, 0);
    EXPECT_EQ(np.sport, 0);
    EXPECT_EQ(np.dport, 0);

    acl_key6 k6 = key6({.proto = 58, .ifindex = 3, .src = "2001:db8::1", .dst = "::2", .sport = 1, .dport = 2});
    const auto* b6 = reinterpret_cast<const uint8_t*>(&k6);
    EXPECT_EQ(b6[0], 58);
    EXPECT_EQ(b6[2], 0);
    EXPECT_EQ(b6[3], 3);
    EXPECT_EQ(b6[4], 0x20);
    EXPECT_EQ(b6[5], 0x01);
    EXPECT_EQ(b6[19], 1);
    EXPECT_EQ(b6[35], 2);
    EXPECT_EQ(b6[37], 1);
    EXPECT_EQ(b6[39], 2);
}

// ---- matching, IPv4 ---------------------------------------------------------------------------

TEST(acl_v4, prefix_match) {
    auto s = build_ok({rule4(any4(), p4("10.1.0.0/16")), rule4(p4("192.0.2.7/32"), any4()),
                       rule4(p4("172.16.0.0/12"), p4("203.0.113.0/25"))});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->rule_count(), 3U);
    EXPECT_EQ(classify(*s, key4({.dst = "10.1.0.0"})), 1U);
    EXPECT_EQ(classify(*s, key4({.dst = "10.1.255.255"})), 1U);
    EXPECT_EQ(classify(*s, key4({.dst = "10.2.0.0"})), 0U);
    EXPECT_EQ(classify(*s, key4({.dst = "10.0.255.255"})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "192.0.2.7"})), 2U);
    EXPECT_EQ(classify(*s, key4({.src = "192.0.2.6"})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "192.0.2.8"})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "172.31.255.255", .dst = "203.0.113.127"})), 3U);
    EXPECT_EQ(classify(*s, key4({.src = "172.16.0.0", .dst = "203.0.113.0"})), 3U);
    EXPECT_EQ(classify(*s, key4({.src = "172.32.0.0", .dst = "203.0.113.0"})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "172.16.0.1", .dst = "203.0.113.128"})), 0U);
}

TEST(acl_v4, zero_length_prefix_matches_everything) {
    auto s = build_ok({rule4(any4(), any4())});
    ASSERT_TRUE(s);
    EXPECT_EQ(classify(*s, key4({.src = "0.0.0.0", .dst = "255.255.255.255"})), 1U);
    EXPECT_EQ(classify(*s, key4({.proto = 47, .src = "1.2.3.4", .dst = "5.6.7.8", .has_ports = false})), 1U);
}

TEST(acl_v4, protocol) {
    auto s =
        build_ok({with_proto(rule4(p4("10.0.0.1/32"), any4()), policy::l4::tcp),
                  with_proto(rule4(p4("10.0.0.2/32"), any4()), policy::l4::udp),
                  with_proto(rule4(p4("10.0.0.3/32"), any4()), policy::l4::icmp),
                  with_proto(rule4(p4("10.0.0.4/32"), any4()), policy::l4::sctp), rule4(p4("10.0.0.5/32"), any4())});
    ASSERT_TRUE(s);
    EXPECT_EQ(classify(*s, key4({.proto = 6, .src = "10.0.0.1"})), 1U);
    EXPECT_EQ(classify(*s, key4({.proto = 17, .src = "10.0.0.1"})), 0U);
    EXPECT_EQ(classify(*s, key4({.proto = 17, .src = "10.0.0.2"})), 2U);
    EXPECT_EQ(classify(*s, key4({.proto = 6, .src = "10.0.0.2"})), 0U);
    EXPECT_EQ(classify(*s, key4({.proto = 1, .src = "10.0.0.3", .has_ports = false})), 3U);
    EXPECT_EQ(classify(*s, key4({.proto = 58, .src = "10.0.0.3", .has_ports = false})), 0U);
    EXPECT_EQ(classify(*s, key4({.proto = 132, .src = "10.0.0.4"})), 4U);
    for (uint8_t proto : {1, 6, 17, 47, 132, 255})
        EXPECT_EQ(classify(*s, key4({.proto = proto, .src = "10.0.0.5"})), 5U) << int{proto};
}

TEST(acl_v4, port_ranges_are_inclusive) {
    auto s = build_ok({with_ports(rule4(p4("10.0.0.1/32"), any4()), 0, 65535, 1000, 2000),
                       with_ports(rule4(p4("10.0.0.2/32"), any4()), 53, 53, 0, 65535),
                       with_ports(rule4(p4("10.0.0.3/32"), any4()), 0, 0, 65535, 65535),
                       with_ports(rule4(p4("10.0.0.4/32"), any4()), 1024, 65535, 22, 23)});
    ASSERT_TRUE(s);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.1", .dport = 999})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.1", .dport = 1000})), 1U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.1", .dport = 1500})), 1U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.1", .dport = 2000})), 1U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.1", .dport = 2001})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.2", .sport = 52})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.2", .sport = 53})), 2U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.2", .sport = 54})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.3", .sport = 0, .dport = 65535})), 3U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.3", .sport = 1, .dport = 65535})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.3", .sport = 0, .dport = 65534})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.4", .sport = 1024, .dport = 22})), 4U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.4", .sport = 65535, .dport = 23})), 4U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.4", .sport = 1023, .dport = 22})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.4", .sport = 2000, .dport = 24})), 0U);
    EXPECT_EQ(classify(*s, key4({.src = "10.0.0.4", .sport = 2000, .dport = 21})), 0U);
}

TEST(acl_v4, packets_without_ports_skip_port_rules) {
    // Rule 1 covers port 0 yet restricts the range: it must not match a port-less packet.
    auto s = build_ok({with_ports(rule4(any4(), p4("10.0.0.0/8")), 0, 65535, 0, 1023),
                       with_ports(rule4(any4(), p4("10.0.0.0/8")), 0, 65535, 80, 80), rule4(any4(), p4("10.0.0.0/8"))});
    ASSERT_TRUE(s);
    EXPECT_EQ(classify(*s, key4({.proto = 1, .dst = "10.0.0.1", .has_ports = false})), 3U);
    EXPECT_EQ(classify(*s, key4({.proto = 6, .dst = "10.0.0.1", .has_ports = false})), 3U);
    EXPECT_EQ(classify(*s, key4({.proto = 6, .dst = "10.0.0.1", .dport = 80})), 1U);
    EXPECT_EQ(classify(*s, key4({.proto = 6, .dst = "10.0.0.1", .dport = 0})), 1U);
    EXPECT_EQ(classify(*s, key4({.proto = 6, .dst = "10.0.0.1", .dport = 8080})), 3U);
}

TEST(acl_v4, interface) {
    auto s = build_ok({with_interface(rule4(any4(), p4("10.0.0.0/8")), 2),
                       with_interface(rule4(any4(), p4("10.0.0.0/8")), 65535), rule4(any4(), p4("11.0.0.0/8"))});
    ASSERT_TRUE(s);
    EXPECT_EQ(classify(*s, key4({.ifindex = 2, .dst = "10.0.0.1"})), 1U);
    EXPECT_EQ(classify(*s, key4({.ifindex = 1, .dst = "10.0.0.1"})), 0U);
    EXPECT_EQ(classify(*s, key4({.ifindex = 3, .dst = "10.0.0.1"})), 0U);
    EXPECT_EQ(classify(*s, key4({.ifindex = 258, .dst = "10.0.0.1"})), 0U);
    EXPECT_EQ(classify(*s, key4({.ifindex = 65535, .dst = "10.0.0.1"})), 2U);
    for (uint16_t ifc : {0, 1, 2, 1000, 65535}) EXPECT_EQ(classify(*s, key4({.ifindex = ifc, .dst = "11.1.1.1"})), 3U);
}

TEST(acl_v4, first_match_wins) {
    auto deny_first = build_ok({rule4(any4(), p4("10.1.0.0/16"), acl_action::deny),
                                with_ports(rule4(any4(), p4("10.0.0.0/8"), acl_action::allow), 0, 65535, 80, 80)});
    ASSERT_TRUE(deny_first);
    EXPECT_EQ(classify(*deny_first, key4({.dst = "10.1.2.3", .dport = 80})), 1U);
    EXPECT_EQ(classify(*deny_first, key4({.dst = "10.2.2.3", .dport = 80})), 2U);

    auto allow_first = build_ok({with_ports(rule4(any4(), p4("10.0.0.0/8"), acl_action::allow), 0, 65535, 80, 80),
                                 rule4(any4(), p4("10.1.0.0/16"), acl_action::deny)});
    ASSERT_TRUE(allow_first);
    EXPECT_EQ(classify(*allow_first, key4({.dst = "10.1.2.3", .dport = 80})), 1U);
    EXPECT_EQ(classify(*allow_first, key4({.dst = "10.1.2.3", .dport = 81})), 2U);
    EXPECT_EQ(classify(*allow_first, key4({.dst = "10.2.2.3", .dport = 81})), 0U);

    // A more specific rule later never wins over an earlier broad one.
    auto broad_first = build_ok({rule4(any4(), any4()), rule4(p4("1.2.3.4/32"), p4("5.6.7.8/32"))});
    ASSERT_TRUE(broad_first);
    EXPECT_EQ(classify(*broad_first, key4({.src = "1.2.3.4", .dst = "5.6.7.8"})), 1U);
}

// ---- matching, IPv6 ---------------------------------------------------------------------------

TEST(acl_v6, prefix_match) {
    auto s = build_ok({rule6(any4(), p6("2001:db8:1::/48")), rule6(p6("2001:db8::7/128"), any4()),
                       rule6(p6("2001:db8:aaaa:bbbb:cccc:d000::/84"), any4()), rule6(p6("fe80::/10"), p6("::/0"))});
    ASSERT_TRUE(s);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8:ffff::1", .dst = "2001:db8:1::"})), 1U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8:ffff::1", .dst = "2001:db8:1:ffff:ffff:ffff:ffff:ffff"})), 1U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8:ffff::1", .dst = "2001:db8:2::"})), 0U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8::7"})), 2U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8::6"})), 0U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8:0:0:0:1::7"})), 0U);
    // /84 ends inside the third 32-bit word.
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8:aaaa:bbbb:cccc:d000::"})), 3U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8:aaaa:bbbb:cccc:dfff:ffff:ffff"})), 3U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8:aaaa:bbbb:cccc:e000::"})), 0U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8:aaaa:bbbb:cccd:d000::"})), 0U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8:aaaa:bbbc:cccc:d000::"})), 0U);
    EXPECT_EQ(classify(*s, key6({.src = "fe80::1", .dst = "ff02::1"})), 4U);
    EXPECT_EQ(classify(*s, key6({.src = "febf:ffff::1", .dst = "::"})), 4U);
    EXPECT_EQ(classify(*s, key6({.src = "fec0::1", .dst = "::"})), 0U);
}

TEST(acl_v6, protocol_ports_interface) {
    auto s =
        build_ok({with_proto(rule6(p6("2001:db8::1/128"), any4()), policy::l4::icmp),
                  with_ports(with_proto(rule6(p6("2001:db8::2/128"), any4()), policy::l4::udp), 0, 65535, 5000, 5010),
                  with_interface(rule6(p6("2001:db8::3/128"), any4()), 7),
                  with_ports(rule6(p6("2001:db8::4/128"), any4()), 0, 1023, 0, 65535)});
    ASSERT_TRUE(s);
    EXPECT_EQ(classify(*s, key6({.proto = 58, .src = "2001:db8::1", .has_ports = false})), 1U);
    EXPECT_EQ(classify(*s, key6({.proto = 1, .src = "2001:db8::1", .has_ports = false})), 0U);
    EXPECT_EQ(classify(*s, key6({.proto = 17, .src = "2001:db8::2", .dport = 4999})), 0U);
    EXPECT_EQ(classify(*s, key6({.proto = 17, .src = "2001:db8::2", .dport = 5000})), 2U);
    EXPECT_EQ(classify(*s, key6({.proto = 17, .src = "2001:db8::2", .dport = 5010})), 2U);
    EXPECT_EQ(classify(*s, key6({.proto = 17, .src = "2001:db8::2", .dport = 5011})), 0U);
    EXPECT_EQ(classify(*s, key6({.proto = 6, .src = "2001:db8::2", .dport = 5005})), 0U);
    EXPECT_EQ(classify(*s, key6({.ifindex = 7, .src = "2001:db8::3"})), 3U);
    EXPECT_EQ(classify(*s, key6({.ifindex = 6, .src = "2001:db8::3"})), 0U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8::4", .sport = 1023})), 4U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db8::4", .sport = 1024})), 0U);
    EXPECT_EQ(classify(*s, key6({.proto = 58, .src = "2001:db8::4", .has_ports = false})), 0U);
}

TEST(acl_v6, first_match_wins) {
    auto deny_first = build_ok({rule6(any4(), p6("2001:db8:1::/48"), acl_action::deny),
                                rule6(any4(), p6("2001:db8::/32"), acl_action::allow)});
    ASSERT_TRUE(deny_first);
    EXPECT_EQ(classify(*deny_first, key6({.dst = "2001:db8:1::5"})), 1U);
    EXPECT_EQ(classify(*deny_first, key6({.dst = "2001:db8:2::5"})), 2U);
    EXPECT_EQ(classify(*deny_first, key6({.dst = "2001:db9::5"})), 0U);

    auto allow_first = build_ok({rule6(any4(), p6("2001:db8::/32"), acl_action::allow),
                                 rule6(any4(), p6("2001:db8:1::/48"), acl_action::deny)});
    ASSERT_TRUE(allow_first);
    EXPECT_EQ(classify(*allow_first, key6({.dst = "2001:db8:1::5"})), 1U);
}

// ---- both families, sets, errors --------------------------------------------------------------

TEST(acl_set_test, indexes_count_both_families) {
    auto s = build_ok({rule6(any4(), p6("2001:db8::/32")), rule4(any4(), p4("10.0.0.0/8")), rule6(any4(), any4()),
                       rule4(any4(), any4())});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->rule_count(), 4U);
    EXPECT_EQ(s->rule_count4(), 2U);
    EXPECT_EQ(s->rule_count6(), 2U);
    EXPECT_EQ(classify(*s, key4({.dst = "10.0.0.1"})), 2U);
    EXPECT_EQ(classify(*s, key4({.dst = "11.0.0.1"})), 4U);
    EXPECT_EQ(classify(*s, key6({.dst = "2001:db8::1"})), 1U);
    EXPECT_EQ(classify(*s, key6({.dst = "2001:db9::1"})), 3U);

    // A whole burst in one call, and an empty one.
    std::array<acl_key4, acl_set::max_burst> keys{};
    std::array<const acl_key4*, acl_set::max_burst> ptrs{};
    std::array<uint32_t, acl_set::max_burst> res{};
    for (uint32_t i = 0; i < acl_set::max_burst; ++i) {
        keys[i] = key4({.dst = (i % 2 == 0 ? "10.0.0." : "11.0.0.") + std::to_string(i)});
        ptrs[i] = &keys[i];
    }
    s->classify4(ptrs.data(), res.data(), acl_set::max_burst);
    for (uint32_t i = 0; i < acl_set::max_burst; ++i) EXPECT_EQ(res[i], i % 2 == 0 ? 2U : 4U) << i;
    res.fill(77);
    s->classify4(ptrs.data(), res.data(), 0);
    EXPECT_EQ(res[0], 77U);
}

TEST(acl_set_test, empty_sets) {
    auto s = build_ok({});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->rule_count(), 0U);
    EXPECT_EQ(classify(*s, key4({})), 0U);
    EXPECT_EQ(classify(*s, key6({})), 0U);

    auto only4 = build_ok({rule4(any4(), any4())});
    ASSERT_TRUE(only4);
    EXPECT_EQ(classify(*only4, key4({})), 1U);
    EXPECT_EQ(classify(*only4, key6({})), 0U);

    auto only6 = build_ok({rule6(any4(), any4())});
    ASSERT_TRUE(only6);
    EXPECT_EQ(classify(*only6, key4({})), 0U);
    EXPECT_EQ(classify(*only6, key6({})), 1U);
}

TEST(acl_set_test, no_match) {
    auto s = build_ok({rule4(p4("10.0.0.0/8"), any4()), rule6(p6("2001:db8::/32"), any4())});
    ASSERT_TRUE(s);
    EXPECT_EQ(classify(*s, key4({.src = "11.0.0.1"})), 0U);
    EXPECT_EQ(classify(*s, key6({.src = "2001:db9::1"})), 0U);
}

TEST(acl_set_test, errors_name_the_rule) {
    auto expect_error = [](const std::vector<acl_rule>& rules, const std::string& part) {
        auto r = acl_set::build(rules, unique_name());
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error_message().find(part), std::string::npos) << r.error_message();
    };
    acl_rule good = rule4(any4(), any4());
    acl_rule named = with_ports(rule4(any4(), any4()), 10, 9, 0, 65535);
    named.name = "web";
    expect_error({good, named}, "acl rule 1 (web): source port range 10-9");
    expect_error({good, good, with_ports(rule6(any4(), any4()), 0, 65535, 2, 1)}, "acl rule 2: destination port");
    expect_error({rule4(p6("2001:db8::/32"), any4())}, "acl rule 0: source prefix 2001:db8::/32 is not IPv4");
    expect_error({good, rule6(any4(), p4("10.0.0.0/8"))}, "acl rule 1: destination prefix 10.0.0.0/8 is not IPv6");
    expect_error({with_interface(good, 65536)}, "acl rule 0: interface index 65536");
    acl_rule long_prefix = good;
    long_prefix.dst.v4.len = 33;
    expect_error({long_prefix}, "acl rule 0: destination prefix length 33");
}

TEST(acl_set_test, names) {
    std::string name = unique_name();
    auto a = acl_set::build({rule4(any4(), any4()), rule6(any4(), any4())}, name);
    ASSERT_TRUE(a.ok());
    auto b = acl_set::build({rule4(any4(), any4())}, name);
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.error_message().find("already in use"), std::string::npos) << b.error_message();
    a.value().reset();  // frees the contexts and so the names
    auto c = acl_set::build({rule4(any4(), any4()), rule6(any4(), any4())}, name);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error_message());

    EXPECT_TRUE(acl_set::build({}, std::string(30, 'x')).ok());
    EXPECT_FALSE(acl_set::build({}, std::string(31, 'x')).ok());
    EXPECT_FALSE(acl_set::build({}, "").ok());
}

// ---- property test against a linear reference matcher ----------------------------------------

struct packet {
    bool v6 = false;
    uint8_t proto = 0;
    uint16_t ifindex = 0;
    std::array<uint8_t, 16> src{}, dst{};  // v4 in the first 4 bytes, network order
    uint16_t sport = 0, dport = 0;         // host order
    bool has_ports = true;
};

bool prefix_matches(const policy::ip_prefix& p, bool v6, const std::array<uint8_t, 16>& a) {
    unsigned len = p.is_v6 ? p.v6.len : p.v4.len;
    if (len == 0) return true;
    std::array<uint8_t, 16> net{};
    if (v6) {
        net = p.v6.addr.bytes;
    } else {
        uint32_t v = p.v4.addr.value;
        net = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
               static_cast<uint8_t>(v)};
    }
    for (unsigned bit = 0; bit < len; ++bit) {
        unsigned byte = bit / 8, shift = 7 - bit % 8;
        if (((net[byte] >> shift) & 1U) != ((a[byte] >> shift) & 1U)) return false;
    }
    return true;
}

uint32_t reference(const std::vector<acl_rule>& rules, const packet& p) {
    for (size_t i = 0; i < rules.size(); ++i) {
        const acl_rule& r = rules[i];
        if (r.is_v6 != p.v6) continue;
        if (r.protocol != 0) {
            uint8_t want = r.protocol == 1 && r.is_v6 ? 58 : r.protocol;
            if (p.proto != want) continue;
        }
        if (r.in_interface != UINT32_MAX && r.in_interface != p.ifindex) continue;
        if (!prefix_matches(r.src, p.v6, p.src) || !prefix_matches(r.dst, p.v6, p.dst)) continue;
        bool port_rule =
            r.src_port_min != 0 || r.src_port_max != 65535 || r.dst_port_min != 0 || r.dst_port_max != 65535;
        if (port_rule && !p.has_ports) continue;
        uint16_t sp = p.has_ports ? p.sport : 0, dp = p.has_ports ? p.dport : 0;
        if (sp < r.src_port_min || sp > r.src_port_max || dp < r.dst_port_min || dp > r.dst_port_max) continue;
        return static_cast<uint32_t>(i + 1);
    }
    return 0;
}

class generator {
public:
    explicit generator(uint32_t seed) : rng_(seed) {
        for (auto& a : pool4_) a = random_bytes();
        for (auto& a : pool6_) a = random_bytes();
    }

    acl_rule rule(bool v6) {
        acl_rule r;
        r.is_v6 = v6;
        r.src = prefix(v6);
        r.dst = prefix(v6);
        static constexpr uint8_t protos[] = {0, 0, 1, 6, 6, 17, 132};
        r.protocol = protos[pick(std::size(protos))];
        port_range(r.src_port_min, r.src_port_max, 4);
        port_range(r.dst_port_min, r.dst_port_max, 2);
        r.in_interface = pick(4) == 0 ? static_cast<uint32_t>(pick(4)) : UINT32_MAX;
        r.action = static_cast<acl_action>(pick(3));
        return r;
    }

    packet pkt(bool v6) {
        packet p;
        p.v6 = v6;
        p.src = address(v6);
        p.dst = address(v6);
        static constexpr uint8_t protos[] = {1, 6, 6, 17, 17, 47, 58, 132, 0};
        p.proto = protos[pick(std::size(protos))];
        p.ifindex = static_cast<uint16_t>(pick(5));
        p.has_ports = pick(8) != 0;
        p.sport = port();
        p.dport = port();
        return p;
    }

    uint32_t pick(size_t n) { return static_cast<uint32_t>(rng_() % n); }

private:
    std::array<uint8_t, 16> random_bytes() {
        std::array<uint8_t, 16> a{};
        for (auto& b : a) b = static_cast<uint8_t>(rng_());
        return a;
    }

    // Addresses near the pool so that prefixes match often; random bits flipped past a random depth.
    std::array<uint8_t, 16> address(bool v6) {
        std::array<uint8_t, 16> a = v6 ? pool6_[pick(pool6_.size())] : pool4_[pick(pool4_.size())];
        unsigned bits = v6 ? 128 : 32;
        unsigned keep = pick(bits + 1);
        for (unsigned bit = keep; bit < bits; ++bit)
            if (pick(2) != 0) a[bit / 8] = static_cast<uint8_t>(a[bit / 8] ^ (0x80U >> (bit % 8)));
        if (!v6) std::fill(a.begin() + 4, a.end(), 0);
        return a;
    }

    policy::ip_prefix prefix(bool v6) {
        policy::ip_prefix p;
        p.is_v6 = v6;
        if (pick(6) == 0) return p;  // any
        auto a = address(v6);
        if (v6) {
            static constexpr uint8_t lens[] = {16, 32, 48, 56, 64, 72, 96, 100, 112, 127, 128};
            unsigned len = pick(3) == 0 ? pick(129) : lens[pick(std::size(lens))];
            p.v6 = ipv6_prefix{ipv6_addr{a}, static_cast<uint8_t>(len)};
            p.v6.addr = p.v6.network();
        } else {
            static constexpr uint8_t lens[] = {8, 12, 16, 20, 24, 28, 31, 32};
            unsigned len = pick(3) == 0 ? pick(33) : lens[pick(std::size(lens))];
            uint32_t v = uint32_t{a[0]} << 24 | uint32_t{a[1]} << 16 | uint32_t{a[2]} << 8 | a[3];
            p.v4 = ipv4_prefix{ipv4_addr{v}, static_cast<uint8_t>(len)};
            p.v4.addr = p.v4.network();
        }
        return p;
    }

    static constexpr uint16_t interesting_ports[] = {0, 1, 22, 53, 80, 443, 1023, 1024, 8080, 65534, 65535};

    uint16_t port() {
        uint16_t p = interesting_ports[pick(std::size(interesting_ports))];
        switch (pick(4)) {
            case 0:
                return static_cast<uint16_t>(p + 1);
            case 1:
                return static_cast<uint16_t>(p - 1);
            case 2:
                return static_cast<uint16_t>(rng_());
            default:
                return p;
        }
    }

    // 1 in `full_odds`: the whole range; else one port or a range between two interesting ports.
    void port_range(uint16_t& lo, uint16_t& hi, uint32_t full_odds) {
        lo = 0;
        hi = 65535;
        if (pick(full_odds) != 0) return;
        uint16_t a = port(), b = port();
        if (pick(2) == 0) b = a;
        lo = std::min(a, b);
        hi = std::max(a, b);
    }

    std::mt19937 rng_;
    std::array<std::array<uint8_t, 16>, 6> pool4_{};
    std::array<std::array<uint8_t, 16>, 6> pool6_{};
};

acl_key4 to_key4(const packet& p) {
    acl_key4 k;
    make_key4(k, p.proto, p.ifindex, p.src.data(), p.dst.data(), htons(p.sport), htons(p.dport), p.has_ports);
    return k;
}

acl_key6 to_key6(const packet& p) {
    acl_key6 k;
    make_key6(k, p.proto, p.ifindex, p.src.data(), p.dst.data(), htons(p.sport), htons(p.dport), p.has_ports);
    return k;
}

// rte_acl picks its classify implementation when a context is created, from the CPU and the EAL's
// max SIMD bitwidth: 64 scalar, 128 SSE, 256 AVX2 (AVX512 instructions on 256-bit vectors where the
// CPU has them), 512 AVX512 on 512-bit vectors. Tests run every width the machine allows.
class simd_width {
public:
    explicit simd_width(uint16_t bits) : saved_(rte_vect_get_max_simd_bitwidth()) {
        ok_ = rte_vect_set_max_simd_bitwidth(bits) == 0;
    }
    ~simd_width() { rte_vect_set_max_simd_bitwidth(saved_); }
    simd_width(const simd_width&) = delete;
    simd_width& operator=(const simd_width&) = delete;
    bool ok() const { return ok_; }

private:
    uint16_t saved_;
    bool ok_ = false;
};

constexpr uint16_t simd_widths[] = {RTE_VECT_SIMD_DISABLED, RTE_VECT_SIMD_128, RTE_VECT_SIMD_256, RTE_VECT_SIMD_512};

struct run_stats {
    size_t packets = 0, matched = 0, mismatches = 0;
    std::set<uint64_t> rules_hit;  // seed << 32 | rule index
};

// Classifies in bursts of 1..32 keys and compares every result with the reference.
template <class Key, class Classify>
void check_bursts(generator& g, const std::vector<Key>& keys, const std::vector<uint32_t>& want, Classify classify_fn,
                  const char* what, run_stats& st) {
    for (size_t at = 0; at < keys.size();) {
        uint32_t n = std::min<uint32_t>(static_cast<uint32_t>(keys.size() - at), 1 + g.pick(acl_set::max_burst));
        std::array<const Key*, acl_set::max_burst> ptrs{};
        std::array<uint32_t, acl_set::max_burst> res{};
        for (uint32_t i = 0; i < n; ++i) ptrs[i] = &keys[at + i];
        classify_fn(ptrs.data(), res.data(), n);
        for (uint32_t i = 0; i < n; ++i) {
            if (res[i] != want[at + i] && ++st.mismatches <= 10)
                ADD_FAILURE() << what << " key " << at + i << ": acl " << res[i] << ", reference " << want[at + i];
        }
        at += n;
    }
}

void property_run(uint32_t seed, size_t rule_num, size_t packets_per_family, run_stats& st) {
    generator g(seed);
    std::vector<acl_rule> rules;
    for (size_t i = 0; i < rule_num; ++i) rules.push_back(g.rule(g.pick(2) == 0));
    std::vector<acl_key4> k4;
    std::vector<acl_key6> k6;
    std::vector<uint32_t> want4, want6;
    for (size_t i = 0; i < 2 * packets_per_family; ++i) {
        packet p = g.pkt(i % 2 == 1);
        uint32_t want = reference(rules, p);
        if (want != 0) st.rules_hit.insert(uint64_t{seed} << 32 | want);
        st.matched += want != 0;
        if (p.v6) {
            k6.push_back(to_key6(p));
            want6.push_back(want);
        } else {
            k4.push_back(to_key4(p));
            want4.push_back(want);
        }
    }
    st.packets += 2 * packets_per_family;

    for (uint16_t width : simd_widths) {
        simd_width w(width);
        if (!w.ok()) continue;
        auto t0 = std::chrono::steady_clock::now();
        auto s = build_ok(rules);
        auto t1 = std::chrono::steady_clock::now();
        ASSERT_TRUE(s);
        std::string what = "seed " + std::to_string(seed) + " simd " + std::to_string(width);
        check_bursts(
            g, k4, want4, [&](const acl_key4* const* k, uint32_t* r, uint32_t n) { s->classify4(k, r, n); },
            (what + " v4").c_str(), st);
        check_bursts(
            g, k6, want6, [&](const acl_key6* const* k, uint32_t* r, uint32_t n) { s->classify6(k, r, n); },
            (what + " v6").c_str(), st);
        if (width == simd_widths[0])
            std::printf("[ info     ] seed %u: %zu rules (built in %.1f ms), %zu keys\n", seed, rule_num,
                        std::chrono::duration<double, std::milli>(t1 - t0).count(), 2 * packets_per_family);
    }
}

TEST(acl_property, matches_linear_reference) {
    run_stats st;
    property_run(1, 40, 3000, st);
    property_run(2, 200, 3000, st);
    property_run(3, 5, 1000, st);
    property_run(4, 500, 3000, st);
    EXPECT_EQ(st.mismatches, 0U);
    std::printf("[ info     ] %zu keys, %zu matched a rule, %zu distinct rules hit\n", st.packets, st.matched,
                st.rules_hit.size());
    // The generator must exercise both outcomes and many rules.
    EXPECT_GT(st.matched, st.packets / 10);
    EXPECT_GT(st.packets - st.matched, st.packets / 10);
    EXPECT_GT(st.rules_hit.size(), 50U);
}

// ---- scale ------------------------------------------------------------------------------------

TEST(acl_scale, thousand_rules) {
    // A plausible firewall: per-host and per-subnet service rules, some with source restrictions.
    std::mt19937 rng(7);
    std::vector<acl_rule> rules;
    for (int i = 0; i < 1000; ++i) {
        bool v6 = i % 4 == 3;
        acl_rule r;
        r.is_v6 = v6;
        r.action = i % 7 == 0 ? acl_action::deny : acl_action::allow;
        r.protocol = i % 3 == 0 ? policy::l4::udp : policy::l4::tcp;
        uint16_t port = static_cast<uint16_t>(rng() % 2 == 0 ? 1 + rng() % 1024 : 1024 + rng() % 64000);
        r.dst_port_min = port;
        r.dst_port_max = i % 10 == 0 ? static_cast<uint16_t>(port + rng() % 100) : port;
        if (v6) {
            ipv6_addr a{};
            a.bytes = {0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(rng() % 16), static_cast<uint8_t>(rng())};
            a.bytes[15] = static_cast<uint8_t>(rng());
            r.dst.is_v6 = true;
            r.dst.v6 = ipv6_prefix{a, static_cast<uint8_t>(i % 5 == 0 ? 64 : 128)};
            r.dst.v6.addr = r.dst.v6.network();
            if (i % 3 == 0) {
                r.src.is_v6 = true;
                r.src.v6 = ipv6_prefix{ipv6_addr{{0x20, 0x01, 0x0d, 0xb8, 0xff, static_cast<uint8_t>(rng())}}, 48};
            }
        } else {
            uint32_t host = 0x0a000000U | (rng() & 0x000fffffU);
            uint8_t len = i % 5 == 0 ? 24 : 32;
            r.dst.v4 = ipv4_prefix{ipv4_addr{host}, len};
            r.dst.v4.addr = r.dst.v4.network();
            if (i % 3 == 0)
                r.src.v4 = ipv4_prefix{ipv4_addr{static_cast<uint32_t>(0xc0a80000U | (rng() & 0xff00U))}, 24};
        }
        if (i % 11 == 0) r.in_interface = i % 4;
        rules.push_back(r);
    }
    // Keys: half aimed at a rule, half random in the same space.
    std::vector<acl_key4> k4;
    std::vector<acl_key6> k6;
    std::vector<uint32_t> want4, want6;
    size_t hits = 0;
    for (int i = 0; i < 8192; ++i) {
        const acl_rule& r = rules[rng() % rules.size()];
        bool aimed = rng() % 2 == 0;
        packet p;
        p.v6 = i % 2 == 1;
        p.proto = aimed ? r.protocol : (rng() % 2 == 0 ? 17 : 6);
        p.ifindex = static_cast<uint16_t>(rng() % 4);
        p.sport = static_cast<uint16_t>(rng());
        p.dport = static_cast<uint16_t>(aimed ? r.dst_port_min : rng());
        if (p.v6) {
            p.src = {0x20, 0x01, 0x0d, 0xb8, 0xff, static_cast<uint8_t>(rng())};
            p.dst = aimed && r.is_v6
                        ? r.dst.v6.addr.bytes
                        : std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(rng() % 16)};
        } else {
            uint32_t src = static_cast<uint32_t>(0xc0a80000U | (rng() & 0xffffU));
            uint32_t dst =
                aimed && !r.is_v6 ? r.dst.v4.addr.value : static_cast<uint32_t>(0x0a000000U | (rng() & 0xfffffU));
            for (int b = 0; b < 4; ++b) {
                p.src[b] = static_cast<uint8_t>(src >> (24 - 8 * b));
                p.dst[b] = static_cast<uint8_t>(dst >> (24 - 8 * b));
            }
        }
        uint32_t want = reference(rules, p);
        hits += want != 0;
        if (p.v6) {
            k6.push_back(to_key6(p));
            want6.push_back(want);
        } else {
            k4.push_back(to_key4(p));
            want4.push_back(want);
        }
    }
    std::printf("[ info     ] %zu of %zu keys match a rule\n", hits, k4.size() + k6.size());

    for (uint16_t width : simd_widths) {
        simd_width w(width);
        if (!w.ok()) continue;
        auto t0 = std::chrono::steady_clock::now();
        auto built = acl_set::build(rules, unique_name());
        auto t1 = std::chrono::steady_clock::now();
        ASSERT_TRUE(built.ok()) << built.error_message();
        const acl_set& s = *built.value();
        EXPECT_EQ(s.rule_count(), 1000U);

        std::array<uint32_t, acl_set::max_burst> res{};
        std::array<const acl_key4*, acl_set::max_burst> p4{};
        std::array<const acl_key6*, acl_set::max_burst> p6{};
        for (size_t at = 0; at + acl_set::max_burst <= k4.size(); at += acl_set::max_burst) {
            for (uint32_t i = 0; i < acl_set::max_burst; ++i) p4[i] = &k4[at + i];
            s.classify4(p4.data(), res.data(), acl_set::max_burst);
            for (uint32_t i = 0; i < acl_set::max_burst; ++i) ASSERT_EQ(res[i], want4[at + i]) << "v4 key " << at + i;
        }
        for (size_t at = 0; at + acl_set::max_burst <= k6.size(); at += acl_set::max_burst) {
            for (uint32_t i = 0; i < acl_set::max_burst; ++i) p6[i] = &k6[at + i];
            s.classify6(p6.data(), res.data(), acl_set::max_burst);
            for (uint32_t i = 0; i < acl_set::max_burst; ++i) ASSERT_EQ(res[i], want6[at + i]) << "v6 key " << at + i;
        }

        // Cost per packet: bursts of 32 pointers into keys that stay in cache.
        constexpr int rounds = 20000;
        uint64_t sink = 0;
        auto bench = [&](const auto& keys, auto& ptrs, auto classify_fn) {
            const size_t bursts = keys.size() / acl_set::max_burst;
            auto b0 = std::chrono::steady_clock::now();
            for (int r = 0; r < rounds; ++r) {
                size_t at = (static_cast<size_t>(r) % bursts) * acl_set::max_burst;
                for (uint32_t i = 0; i < acl_set::max_burst; ++i) ptrs[i] = &keys[at + i];
                classify_fn(ptrs.data(), res.data());
                sink += res[0];
            }
            auto b1 = std::chrono::steady_clock::now();
            return std::chrono::duration<double, std::nano>(b1 - b0).count() / (rounds * acl_set::max_burst);
        };
        double ns4 =
            bench(k4, p4, [&](const acl_key4* const* k, uint32_t* r) { s.classify4(k, r, acl_set::max_burst); });
        double ns6 =
            bench(k6, p6, [&](const acl_key6* const* k, uint32_t* r) { s.classify6(k, r, acl_set::max_burst); });
        std::printf(
            "[ info     ] max SIMD %3u bits: 1000 rules (%zu v4, %zu v6) compiled in %.1f ms; classify %.1f "
            "ns/packet IPv4, %.1f ns/packet IPv6 (%llu)\n",
            width, s.rule_count4(), s.rule_count6(), std::chrono::duration<double, std::milli>(t1 - t0).count(), ns4,
            ns6, static_cast<unsigned long long>(sink % 2));
    }
}

}  // namespace
}  // namespace meshgate::dataplane::l4
