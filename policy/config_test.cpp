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

// Replaces `bc.from` in `json` by `bc.to` and expects the config to be rejected with an error
// starting with `bc.error`.
void expect_rejected(std::string json, const bad_case& bc) {
    auto at = json.find(bc.from);
    ASSERT_NE(at, std::string::npos) << bc.from;
    json.replace(at, bc.from.size(), bc.to);
    auto r = parse_config_json(json);
    ASSERT_FALSE(r) << "accepted: " << bc.name;
    EXPECT_EQ(r.error_message().substr(0, bc.error.size()), bc.error) << r.error_message();
}

class ConfigRejects : public ::testing::TestWithParam<bad_case> {};

TEST_P(ConfigRejects, NamesTheField) {
    expect_rejected(good, GetParam());
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

namespace meshgate::policy {
namespace {

constexpr const char* good_l4 = R"({
  "interfaces": [
    { "name": "client", "device": "net_null0", "ipv4Addresses": ["198.18.1.1/24"], "ipv6Addresses": ["fd00:1::1/64"] },
    { "name": "srv", "device": "net_null1", "ipv4Addresses": ["198.18.2.1/24"], "ipv6Addresses": ["fd00:2::1/64"] }
  ],
  "flows": { "sessionsPerWorker": 131072, "udpTimeout": 30, "maxFlowsPerSource": 100 },
  "services": [
    { "name": "web", "vip": "198.18.50.10", "protocol": "tcp", "port": 80, "mode": "full-nat",
      "sourceAddresses": ["198.18.50.1", "fd00:50::1"],
      "backends": [ { "address": "198.18.2.10", "port": 8080, "weight": 2 },
                    { "address": "fd00:2::10", "adminState": "down" } ],
      "healthCheck": { "type": "http", "intervalMs": 500, "timeoutMs": 200, "httpPath": "/health" },
      "newFlows": { "rate": 1000 }, "synProxy": "auto", "synProxyThreshold": 64 },
    { "name": "dns", "vip": "fd00:50::53", "protocol": "udp", "port": 53, "mode": "dnat",
      "backends": [ { "address": "fd00:2::53" } ] },
    { "name": "proxy", "vip": "198.18.50.20", "protocol": "tcp", "port": 443, "mode": "tcp-proxy",
      "sourceAddresses": ["198.18.2.20", "fd00:2::20"],
      "backends": [ { "address": "198.18.2.30" }, { "address": "fd00:2::30", "port": 8443 } ],
      "tcpProxy": { "connectTimeoutMs": 2000, "idleTimeoutMs": 60000, "congestionControl": "newreno",
                    "minMss": 1200, "bufferBytes": 1048576 } }
  ],
  "firewall": { "defaultAction": "deny", "rules": [
    { "name": "web", "source": "198.18.1.0/24", "protocol": "tcp", "destinationPorts": "80", "action": "allow" },
    { "name": "ping", "protocol": "icmp", "action": "log" },
    { "name": "ssh", "destination": "fd00:2::/64", "protocol": "tcp", "destinationPorts": "22-23",
      "inInterface": "client", "action": "deny" } ] },
  "snatPools": [ { "name": "egress", "sources": ["198.18.2.0/24", "fd00:2::/64"],
                   "addresses": ["198.18.60.1", "fd00:60::1"], "portMin": 20000, "portMax": 29999,
                   "outInterface": "client", "endpointIndependent": true } ],
  "sourceLimits": [ { "prefix": "198.18.1.0/24", "newFlows": { "rate": 100, "burst": 200 } } ]
})";

TEST(ConfigL4, AcceptsServicesFirewallSnatLimits) {
    auto r = parse_config_json(good_l4);
    ASSERT_TRUE(r) << r.error_message();
    const auto& c = r.value();
    EXPECT_EQ(c.flows.sessions_per_worker, 131072U);
    EXPECT_EQ(c.flows.udp_timeout, 30U);
    EXPECT_EQ(c.flows.tcp_established_timeout, 7200U);  // default
    ASSERT_EQ(c.services.size(), 3U);
    const auto& web = c.services[0];
    EXPECT_EQ(web.port, 80);
    EXPECT_EQ(web.protocol, l4::tcp);
    EXPECT_EQ(web.source_addresses.size(), 2U);
    ASSERT_EQ(web.backends.size(), 2U);
    EXPECT_EQ(web.backends[0].weight, 2U);
    EXPECT_EQ(web.backends[1].port, 80);  // the service port
    EXPECT_FALSE(web.backends[1].admin_up);
    EXPECT_EQ(web.health.type, health_check::kind::http);
    EXPECT_EQ(web.health.http_path, "/health");
    EXPECT_EQ(web.health.rise, 2U);
    EXPECT_EQ(web.syn_proxy_threshold, 64U);
    EXPECT_EQ(web.maglev_table_size, 65537U);
    EXPECT_EQ(c.services[1].mode, nat_mode::dnat);
    EXPECT_EQ(c.services[1].syn_proxy_threshold, UINT32_MAX);  // UDP: never
    EXPECT_EQ(web.mode, nat_mode::full_nat);
    EXPECT_EQ(web.proxy, tcp_proxy_settings{});  // not a proxy: defaults
    const auto& proxy = c.services[2];
    EXPECT_EQ(proxy.mode, nat_mode::tcp_proxy);
    EXPECT_EQ(proxy.syn_proxy_threshold, UINT32_MAX);  // the TCP stack has its own SYN cookies
    EXPECT_EQ(proxy.source_addresses.size(), 2U);
    ASSERT_EQ(proxy.backends.size(), 2U);
    EXPECT_TRUE(proxy.backends[1].addr.is_v6);  // the other family than the VIP: its own connection
    EXPECT_EQ(proxy.backends[1].port, 8443);
    EXPECT_EQ(proxy.proxy.connect_timeout_ms, 2000U);
    EXPECT_EQ(proxy.proxy.idle_timeout_ms, 60000U);
    EXPECT_TRUE(proxy.proxy.newreno);
    EXPECT_EQ(proxy.proxy.min_mss, 1200);
    EXPECT_EQ(proxy.proxy.buffer_bytes, 1048576U);
    EXPECT_TRUE(c.fw.enabled);
    EXPECT_EQ(c.fw.default_action, acl_action::deny);
    // "ping" has no prefix: one rule per family.
    ASSERT_EQ(c.fw.rules.size(), 4U);
    EXPECT_EQ(c.fw.rules[1].is_v6, false);
    EXPECT_EQ(c.fw.rules[2].is_v6, true);
    EXPECT_EQ(c.fw.rules[3].dst_port_min, 22);
    EXPECT_EQ(c.fw.rules[3].dst_port_max, 23);
    EXPECT_EQ(c.fw.rules[3].in_interface, 0U);
    ASSERT_EQ(c.snat_pools.size(), 1U);
    EXPECT_TRUE(c.snat_pools[0].endpoint_independent);
    EXPECT_EQ(c.snat_pools[0].port_min, 20000);
    EXPECT_EQ(c.source_limits[0].new_flows.burst, 200U);
}

class ConfigL4Rejects : public ::testing::TestWithParam<bad_case> {};

TEST_P(ConfigL4Rejects, NamesTheField) {
    expect_rejected(good_l4, GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Bad, ConfigL4Rejects,
    ::testing::Values(
        bad_case{"sessions", "131072", "100", "flows.sessionsPerWorker: 100 is not in 1024..4194304"},
        bad_case{"vip", "198.18.50.10", "198.18.50.300", "services[0].vip: \"198.18.50.300\" is not an IPv4 or IPv6"},
        bad_case{"vip_own", "198.18.50.10", "198.18.1.1", "services[0].vip: \"198.18.1.1\" is an interface address"},
        bad_case{"proto", "\"protocol\": \"udp\"", "\"protocol\": \"icmp\"", "services[1].protocol: \"icmp\""},
        bad_case{"port", "\"port\": 80", "\"port\": 70000", "services[0].port: 70000 is not in 1..65535"},
        bad_case{"mode", "\"mode\": \"dnat\"", "\"mode\": \"dsr\"", "services[1].mode: \"dsr\""},
        bad_case{"two_v4_sources", "\"fd00:50::1\"", "\"198.18.50.2\"",
                 "services[0].sourceAddresses[1]: a second IPv4 source address"},
        bad_case{"no_backends", "[ { \"address\": \"fd00:2::53\" } ]", "[]", "services[1].backends: at least one"},
        bad_case{"backend_addr", "198.18.2.10", "198.18.2.1",
                 "services[0].backends[0].address: \"198.18.2.1\" is one of"},
        bad_case{"weight", "\"weight\": 2", "\"weight\": 70000", "services[0].backends[0].weight: 70000"},
        bad_case{"admin", "\"adminState\": \"down\"", "\"adminState\": \"off\"", "services[0].backends[1].adminState:"},
        bad_case{"dnat_cross_family", "fd00:2::53", "198.18.2.53",
                 "services[1].backends[0].address: \"198.18.2.53\" is of the other family than the VIP; NAT46/NAT64 "
                 "needs mode \"full-nat\""},
        bad_case{"maglev_prime", "\"mode\": \"dnat\",", "\"mode\": \"dnat\", \"maglevTableSize\": 1000,",
                 "services[1].maglevTableSize: 1000 is not a prime"},
        bad_case{"health_type", "\"type\": \"http\"", "\"type\": \"icmp\"", "services[0].healthCheck.type: \"icmp\""},
        bad_case{"health_timeout", "\"timeoutMs\": 200", "\"timeoutMs\": 900",
                 "services[0].healthCheck.timeoutMs: 900 is not in 10..intervalMs"},
        bad_case{"health_path", "\"/health\"", "\"health\"", "services[0].healthCheck.httpPath:"},
        bad_case{"syn_proxy", "\"synProxy\": \"auto\"", "\"synProxy\": \"yes\"", "services[0].synProxy: \"yes\""},
        bad_case{"dup_service", "\"name\": \"dns\"", "\"name\": \"web\"", "services[1].name: \"web\" is used"},
        bad_case{"fw_default", "\"defaultAction\": \"deny\"", "\"defaultAction\": \"drop\"",
                 "firewall.defaultAction: \"drop\""},
        bad_case{"rule_prefix", "\"source\": \"198.18.1.0/24\"", "\"source\": \"198.18.1.1/24\"",
                 "firewall.rules[0].source: \"198.18.1.1/24\" has host bits set (did you mean 198.18.1.0/24?)"},
        bad_case{"rule_ports", "\"22-23\"", "\"23-22\"", "firewall.rules[2].destinationPorts: \"23-22\""},
        bad_case{"rule_ports_proto", "\"protocol\": \"icmp\", \"action\"",
                 "\"protocol\": \"icmp\", \"sourcePorts\": \"1\", \"action\"",
                 "firewall.rules[1].sourcePorts: ports need protocol"},
        bad_case{"rule_iface", "\"inInterface\": \"client\"", "\"inInterface\": \"nope\"",
                 "firewall.rules[2].inInterface: \"nope\" names no interface"},
        bad_case{"rule_action", "\"action\": \"log\"", "\"action\": \"reject\"", "firewall.rules[1].action:"},
        bad_case{"snat_addr", "\"198.18.60.1\"", "\"198.18.60\"", "snatPools[0].addresses[0]:"},
        bad_case{"snat_family", "\"fd00:60::1\"", "\"198.18.60.2\"", "snatPools[0].addresses: has no IPv6 address"},
        bad_case{"snat_range", "\"portMax\": 29999", "\"portMax\": 20010", "snatPools[0].portMax:"},
        bad_case{"snat_iface", "\"outInterface\": \"client\"", "\"outInterface\": \"x\"",
                 "snatPools[0].outInterface: \"x\" names no interface"},
        bad_case{"limit_prefix", "\"prefix\": \"198.18.1.0/24\"", "\"prefix\": \"x\"", "sourceLimits[0].prefix:"},
        bad_case{"proxy_mode_unknown", "\"mode\": \"tcp-proxy\"", "\"mode\": \"proxy\"",
                 "services[2].mode: \"proxy\" is not one of \"full-nat\", \"dnat\", \"tcp-proxy\""},
        bad_case{"proxy_udp", "\"mode\": \"dnat\"", "\"mode\": \"tcp-proxy\"",
                 "services[1].mode: \"tcp-proxy\" needs protocol \"tcp\""},
        bad_case{"proxy_settings_without_mode", "\"mode\": \"tcp-proxy\"", "\"mode\": \"full-nat\"",
                 "services[2].tcpProxy: is set but mode is \"full-nat\""},
        bad_case{"proxy_settings_default_mode", "\"mode\": \"tcp-proxy\",", "",
                 "services[2].tcpProxy: is set but mode is \"full-nat\""},
        bad_case{"proxy_empty_settings_dnat", "\"mode\": \"dnat\",", "\"mode\": \"dnat\", \"tcpProxy\": {},",
                 "services[1].tcpProxy: is set but mode is \"dnat\""},
        bad_case{"proxy_connect", "\"connectTimeoutMs\": 2000", "\"connectTimeoutMs\": 50",
                 "services[2].tcpProxy.connectTimeoutMs: 50 is not in 100..600000"},
        bad_case{"proxy_idle", "\"idleTimeoutMs\": 60000", "\"idleTimeoutMs\": 700000000",
                 "services[2].tcpProxy.idleTimeoutMs: 700000000 is not in 1000..604800000"},
        bad_case{"proxy_cc", "\"newreno\"", "\"bbr\"",
                 "services[2].tcpProxy.congestionControl: \"bbr\" is not \"cubic\" or \"newreno\""},
        bad_case{"proxy_mss_low", "\"minMss\": 1200", "\"minMss\": 20",
                 "services[2].tcpProxy.minMss: 20 is not in 64..1460"},
        bad_case{"proxy_mss_high", "\"minMss\": 1200", "\"minMss\": 1461",
                 "services[2].tcpProxy.minMss: 1461 is not in 64..1460"},
        bad_case{"proxy_buffer", "\"bufferBytes\": 1048576", "\"bufferBytes\": 4096",
                 "services[2].tcpProxy.bufferBytes: 4096 is not in 16384..16777216"},
        bad_case{"proxy_buffer_high", "\"bufferBytes\": 1048576", "\"bufferBytes\": 16777217",
                 "services[2].tcpProxy.bufferBytes: 16777217 is not in 16384..16777216"},
        bad_case{"proxy_two_v6_sources", "\"fd00:2::20\"", "\"fd00:2::20\", \"fd00:2::21\"",
                 "services[2].sourceAddresses[2]: a second IPv6 source address"}),
    [](const auto& info) { return std::string(info.param.name); });

// Telemetry endpoint, logs and taps.
std::string with_taps() {
    std::string g = good;
    g.erase(g.rfind('}'));
    return g + R"(,
  "telemetry": { "httpAddress": "::1", "httpPort": 9180, "logFormat": "text", "logLevel": "warning",
                 "dropBurstPerSecond": 50 },
  "taps": [
    { "name": "web", "filter": "tcp port 80 and host fd00:2::10", "interfaces": ["srv"], "direction": "rx",
      "snapLength": 128, "packets": { "rate": 1000, "burst": 100 }, "directory": "/var/tmp/web",
      "maxFileBytes": 1000000, "maxFiles": 3, "start": true },
    { "name": "all", "mirror": { "collector": "198.18.2.77", "sessionId": 7 } }
  ]
})";
}

TEST(ConfigTelemetry, AcceptsEndpointLogsAndTaps) {
    auto r = parse_config_json(with_taps());
    ASSERT_TRUE(r) << r.error_message();
    const auto& c = r.value();
    EXPECT_TRUE(c.telemetry.http_address.is_v6);
    EXPECT_EQ(c.telemetry.http_port, 9180);
    EXPECT_EQ(c.telemetry.log_format, telemetry_settings::log_format_t::text);
    EXPECT_EQ(c.telemetry.log_level, telemetry_settings::level::warning);
    EXPECT_EQ(c.telemetry.drop_burst_per_second, 50U);
    ASSERT_EQ(c.taps.size(), 2U);
    const auto& t = c.taps[0];
    EXPECT_EQ(t.name, "web");
    EXPECT_EQ(t.interfaces, (std::vector<uint32_t>{1}));
    EXPECT_EQ(t.direction, tap_settings::dir::rx);
    EXPECT_EQ(t.snap_length, 128U);
    EXPECT_EQ(t.packets.rate, 1000U);
    EXPECT_EQ(t.max_files, 3U);
    EXPECT_TRUE(t.start);
    EXPECT_FALSE(t.mirror_collector);
    const auto& m = c.taps[1];
    EXPECT_EQ(m.direction, tap_settings::dir::both);
    EXPECT_EQ(m.snap_length, 65535U);
    EXPECT_EQ(m.max_file_bytes, 64ULL << 20);
    ASSERT_TRUE(m.mirror_collector);
    EXPECT_EQ(to_string(*m.mirror_collector), "198.18.2.77");
    EXPECT_EQ(m.mirror_session, 7);
}

TEST(ConfigTelemetry, DefaultsWithoutTheSection) {
    auto r = parse_config_json(good);
    ASSERT_TRUE(r) << r.error_message();
    EXPECT_EQ(r.value().telemetry.http_port, 0);
    EXPECT_EQ(to_string(r.value().telemetry.http_address), "127.0.0.1");
    EXPECT_EQ(r.value().telemetry.log_format, telemetry_settings::log_format_t::json);
    EXPECT_EQ(r.value().telemetry.drop_burst_per_second, 1000U);
}

class ConfigTelemetryRejects : public ::testing::TestWithParam<bad_case> {};

TEST_P(ConfigTelemetryRejects, NamesTheField) {
    expect_rejected(with_taps(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigTelemetryRejects,
    ::testing::Values(
        bad_case{"http_address", "\"::1\"", "\"localhost\"", "telemetry.httpAddress: \"localhost\" is not an IP"},
        bad_case{"http_port", "9180", "70000", "telemetry.httpPort: 70000 is not in 0..65535"},
        bad_case{"log_format", "\"text\"", "\"xml\"", "telemetry.logFormat: \"xml\""},
        bad_case{"log_level", "\"warning\"", "\"loud\"", "telemetry.logLevel: \"loud\""},
        bad_case{"tap_name", "\"name\": \"web\"", "\"name\": \"we b\"", "taps[0].name: \"we b\" must be"},
        bad_case{"tap_dup", "\"name\": \"all\"", "\"name\": \"web\"", "taps[1].name: \"web\" is used by another tap"},
        bad_case{"tap_iface", "\"interfaces\": [\"srv\"]", "\"interfaces\": [\"srv\", \"x\"]",
                 "taps[0].interfaces[1]: \"x\" names no interface"},
        bad_case{"tap_dir", "\"direction\": \"rx\"", "\"direction\": \"in\"", "taps[0].direction: \"in\""},
        bad_case{"tap_snap", "\"snapLength\": 128", "\"snapLength\": 10", "taps[0].snapLength: 10 is not in 64..65535"},
        bad_case{"tap_rate", "\"packets\": { \"rate\": 1000, \"burst\": 100 }", "\"packets\": { \"burst\": 100 }",
                 "taps[0].packets.burst: is set but rate is 0"},
        bad_case{"tap_dir_rel", "\"/var/tmp/web\"", "\"web\"", "taps[0].directory: \"web\" is not an absolute path"},
        bad_case{"tap_size", "\"maxFileBytes\": 1000000", "\"maxFileBytes\": 100", "taps[0].maxFileBytes: 100"},
        bad_case{"tap_files", "\"maxFiles\": 3", "\"maxFiles\": 5000", "taps[0].maxFiles: 5000 is above 1000"},
        bad_case{"tap_collector", "\"198.18.2.77\"", "\"224.0.0.1\"",
                 "taps[1].mirror.collector: \"224.0.0.1\" is not a unicast IP address"},
        bad_case{"tap_session", "\"sessionId\": 7", "\"sessionId\": 1024", "taps[1].mirror.sessionId: 1024"},
        bad_case{"tap_no_output", "\"mirror\": { \"collector\": \"198.18.2.77\", \"sessionId\": 7 }",
                 "\"snapLength\": 64", "taps[1]: has neither a directory"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace meshgate::policy
