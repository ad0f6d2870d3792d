#include "policy/config.hpp"

#include <gtest/gtest.h>

#include <string>

namespace meshgate::policy {
namespace {

constexpr const char* good = R"({
  "generation": "7",
  "workers": { "lcores": [1, 2], "rxDescriptors": 512 },
  "interfaces": [
    { "name": "client", "device": "net_af_packet0,iface=mg-client", "mac": "02:00:00:00:00:01",
      "ipv4Addresses": ["198.18.1.1/24"], "ipv6Addresses": ["fd00:1::1/64"] },
    { "name": "srv", "device": "0000:03:00.1", "mtu": 1280, "vlan": 100,
      "ipv4Addresses": ["198.18.2.1/24"], "ipv6Addresses": ["fd00:2::1/64"],
      "staticNeighbors": [ { "ip": "198.18.2.9", "mac": "02:00:00:00:00:09" },
                           { "ip": "fd00:2::9", "mac": "02:00:00:00:00:09" } ] }
  ],
  "routes": [
    { "prefix": "0.0.0.0/0", "nextHop": "198.18.2.9", "interface": "srv" },
    { "prefix": "fd00:100::/48", "nextHop": "fd00:2::9", "interface": "srv" },
    { "prefix": "198.18.7.0/24", "interface": "client" }
  ]
})";

TEST(Config, AcceptsAGoodSnapshot) {
    auto r = parse_config_json(good);
    ASSERT_TRUE(r) << r.error_message();
    const auto& c = r.value();
    EXPECT_EQ(c.generation, 7U);
    EXPECT_EQ(c.workers.lcores, (std::vector<unsigned>{1, 2}));
    EXPECT_EQ(c.workers.rx_descriptors, 512U);
    EXPECT_EQ(c.workers.tx_descriptors, 1024U);
    ASSERT_EQ(c.interfaces.size(), 2U);
    EXPECT_EQ(c.interfaces[0].mtu, 1500U);
    EXPECT_EQ(c.interfaces[1].mtu, 1280U);
    EXPECT_EQ(c.interfaces[1].vlan, 100);
    EXPECT_EQ(to_string(*c.interfaces[0].mac), "02:00:00:00:00:01");
    EXPECT_FALSE(c.interfaces[1].mac);
    ASSERT_EQ(c.interfaces[1].static_neighbors.size(), 2U);
    EXPECT_TRUE(c.interfaces[1].static_neighbors[1].is_v6);
    ASSERT_EQ(c.routes4.size(), 2U);
    EXPECT_EQ(c.routes4[0].interface, 1U);
    EXPECT_EQ(to_string(*c.routes4[0].next_hop), "198.18.2.9");
    EXPECT_FALSE(c.routes4[1].next_hop);
    ASSERT_EQ(c.routes6.size(), 1U);
    EXPECT_EQ(c.icmp.errors_per_second, 1000U);
}

struct bad_case {
    const char* name;
    std::string from;  // text in the good config to replace
    std::string to;
    std::string error;  // expected error message prefix
};

class ConfigRejects : public ::testing::TestWithParam<bad_case> {};

TEST_P(ConfigRejects, NamesTheField) {
    const auto& bc = GetParam();
    std::string json = good;
    auto at = json.find(bc.from);
    ASSERT_NE(at, std::string::npos) << bc.from;
    json.replace(at, bc.from.size(), bc.to);
    auto r = parse_config_json(json);
    ASSERT_FALSE(r) << "accepted: " << bc.name;
    EXPECT_EQ(r.error_message().substr(0, bc.error.size()), bc.error) << r.error_message();
}

INSTANTIATE_TEST_SUITE_P(
    Bad, ConfigRejects,
    ::testing::Values(
        bad_case{"bad_v4", "198.18.1.1/24", "198.18.1.300/24",
                 "interfaces[0].ipv4Addresses[0]: \"198.18.1.300/24\" is not an IPv4"},
        bad_case{"no_len", "198.18.1.1/24", "198.18.1.1", "interfaces[0].ipv4Addresses[0]:"},
        bad_case{"net_addr", "198.18.1.1/24", "198.18.1.0/24",
                 "interfaces[0].ipv4Addresses[0]: \"198.18.1.0/24\" is the subnet's network"},
        bad_case{"bcast_addr", "198.18.1.1/24", "198.18.1.255/24", "interfaces[0].ipv4Addresses[0]:"},
        bad_case{"mcast_v4", "198.18.1.1/24", "224.0.0.1/24",
                 "interfaces[0].ipv4Addresses[0]: \"224.0.0.1/24\" is not a unicast"},
        bad_case{"bad_v6", "fd00:1::1/64", "fd00:1::g/64", "interfaces[0].ipv6Addresses[0]:"},
        bad_case{"mcast_v6", "fd00:1::1/64", "ff02::1/64", "interfaces[0].ipv6Addresses[0]:"},
        bad_case{"mac", "02:00:00:00:00:01", "02:00:00:00:00", "interfaces[0].mac:"},
        bad_case{"mac_mcast", "02:00:00:00:00:01", "01:00:5e:00:00:01",
                 "interfaces[0].mac: \"01:00:5e:00:00:01\" is not a unicast"},
        bad_case{"no_device", "\"device\": \"0000:03:00.1\"", "\"device\": \"\"", "interfaces[1].device: is required"},
        bad_case{"dup_name", "\"name\": \"srv\"", "\"name\": \"client\"", "interfaces[1].name: \"client\" is used"},
        bad_case{"bad_name", "\"name\": \"srv\"", "\"name\": \"s r v\"", "interfaces[1].name:"},
        bad_case{"vlan", "\"vlan\": 100", "\"vlan\": 4095", "interfaces[1].vlan: 4095 is not in 0..4094"},
        bad_case{"mtu_v6", "\"mtu\": 1280", "\"mtu\": 1200", "interfaces[1].mtu: 1200 is below 1280"},
        bad_case{"mtu_big", "\"mtu\": 1280", "\"mtu\": 9001", "interfaces[1].mtu: 9001 is not in 68..9000"},
        bad_case{"overlap", "198.18.2.1/24", "198.18.1.2/16", "interfaces[1].ipv4Addresses[0]: overlaps 198.18.1.1/24"},
        bad_case{"neigh_off_link", "\"ip\": \"198.18.2.9\"", "\"ip\": \"198.18.9.9\"",
                 "interfaces[1].staticNeighbors[0].ip:"},
        bad_case{"neigh_mac", "\"mac\": \"02:00:00:00:00:09\"", "\"mac\": \"zz\"",
                 "interfaces[1].staticNeighbors[0].mac:"},
        bad_case{"route_iface", "\"interface\": \"client\" }", "\"interface\": \"nope\" }",
                 "routes[2].interface: \"nope\" names no interface"},
        bad_case{"route_hostbits", "198.18.7.0/24", "198.18.7.1/24",
                 "routes[2].prefix: \"198.18.7.1/24\" has host bits set (did you mean 198.18.7.0/24?)"},
        bad_case{"route_prefix", "198.18.7.0/24", "nonsense",
                 "routes[2].prefix: \"nonsense\" is not an IPv4 or IPv6 prefix"},
        bad_case{"route_nh_family", "\"nextHop\": \"fd00:2::9\"", "\"nextHop\": \"198.18.2.9\"",
                 "routes[1].nextHop: \"198.18.2.9\" is not an IPv6 address"},
        bad_case{"route_nh_off_link", "\"nextHop\": \"198.18.2.9\"", "\"nextHop\": \"198.18.1.9\"",
                 "routes[0].nextHop: \"198.18.1.9\" is not on a subnet of interface \"srv\""},
        bad_case{"route_dup", "198.18.7.0/24", "0.0.0.0/0", "routes[2].prefix: \"0.0.0.0/0\" is routed twice"},
        bad_case{"lcore_dup", "[1, 2]", "[1, 1]", "workers.lcores[1]: lcore 1 is listed twice"},
        bad_case{"desc", "\"rxDescriptors\": 512", "\"rxDescriptors\": 500",
                 "workers.rxDescriptors: 500 is not a power of two"},
        bad_case{"unknown_field", "\"generation\"", "\"generashun\"", "not a valid Snapshot in proto3 JSON"},
        bad_case{"wrong_type", "\"mtu\": 1280", "\"mtu\": \"big\"", "not a valid Snapshot in proto3 JSON"},
        bad_case{"not_json", "{", "[", "not a valid Snapshot in proto3 JSON"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Config, RejectsEmptyInterfaces) {
    auto r = parse_config_json("{}");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error_message(), "interfaces: at least one interface is required");
}

TEST(Config, FileErrorsNameThePath) {
    auto r = load_config_file("/nonexistent/meshgate.json");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error_message(), "/nonexistent/meshgate.json: cannot be read");
}

}  // namespace
}  // namespace meshgate::policy
