#include "policy/net_types.hpp"

#include <gtest/gtest.h>

namespace meshgate {
namespace {

TEST(NetTypes, ParsesAndPrintsAddresses) {
    EXPECT_EQ(to_string(*parse_ipv4("198.18.1.1")), "198.18.1.1");
    EXPECT_EQ(parse_ipv4("198.18.1.1")->value, 0xc6120101U);
    EXPECT_EQ(to_string(*parse_ipv6("fd00:1::1")), "fd00:1::1");
    EXPECT_EQ(to_string(*parse_mac("02:AB:00:00:00:01")), "02:ab:00:00:00:01");
    EXPECT_FALSE(parse_ipv4("198.18.1.256"));
    EXPECT_FALSE(parse_ipv4("fd00::1"));
    EXPECT_FALSE(parse_ipv6("198.18.1.1"));
    EXPECT_FALSE(parse_mac("02:ab:00:00:00"));
    EXPECT_FALSE(parse_mac("02-ab-00-00-00-01"));
}

TEST(NetTypes, PrefixesContainAndCanonicalize) {
    auto p = *parse_ipv4_prefix("198.18.1.7/24");
    EXPECT_EQ(to_string(p.network()), "198.18.1.0");
    EXPECT_TRUE(p.contains(*parse_ipv4("198.18.1.200")));
    EXPECT_FALSE(p.contains(*parse_ipv4("198.18.2.1")));
    auto p6 = *parse_ipv6_prefix("fd00:1::1/61");
    EXPECT_EQ(to_string(p6.network()), "fd00:1::");
    EXPECT_TRUE(p6.contains(*parse_ipv6("fd00:1:0:7::9")));
    EXPECT_FALSE(p6.contains(*parse_ipv6("fd00:1:0:8::9")));
    EXPECT_FALSE(parse_ipv4_prefix("198.18.1.0/33"));
    EXPECT_FALSE(parse_ipv4_prefix("198.18.1.0/"));
    EXPECT_FALSE(parse_ipv4_prefix("198.18.1.0"));
    EXPECT_FALSE(parse_ipv6_prefix("fd00::/129"));
    EXPECT_TRUE(parse_ipv6_prefix("::/0"));
}

}  // namespace
}  // namespace meshgate
