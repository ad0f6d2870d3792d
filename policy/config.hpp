#pragma once
// Plain, validated configuration types. The data plane builds its runtime tables from these;
// only policy/config.cpp sees the generated protobuf code (the snapshot is translated at the edge).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/net_types.hpp"
#include "policy/result.hpp"

namespace meshgate::policy {

struct static_neighbor {
    bool is_v6 = false;
    ipv4_addr v4;
    ipv6_addr v6;
    mac_addr mac;
};

struct interface {
    std::string name;
    std::string device;             // PCI address or vdev string
    std::optional<mac_addr> mac;    // unset: the port's own
    uint32_t mtu = 1500;            // IP MTU
    uint16_t vlan = 0;              // 0: untagged
    std::vector<ipv4_prefix> ipv4;  // own addresses with their subnet length
    std::vector<ipv6_prefix> ipv6;
    std::vector<static_neighbor> static_neighbors;
};

struct route4 {
    ipv4_prefix prefix;                 // canonical (no host bits)
    std::optional<ipv4_addr> next_hop;  // unset: on-link
    uint32_t interface = 0;             // index into config::interfaces
};

struct route6 {
    ipv6_prefix prefix;
    std::optional<ipv6_addr> next_hop;
    uint32_t interface = 0;
};

struct worker_settings {
    std::vector<unsigned> lcores;  // empty: every worker lcore EAL enabled
    uint32_t rx_descriptors = 1024;
    uint32_t tx_descriptors = 1024;
    uint32_t mbufs = 16383;
};

struct icmp_limits {
    uint32_t errors_per_second = 1000;
    uint32_t errors_burst = 100;
};

struct config {
    uint64_t generation = 0;
    worker_settings workers;
    std::vector<interface> interfaces;
    std::vector<route4> routes4;
    std::vector<route6> routes6;
    icmp_limits icmp;
};

// Parses a Snapshot in proto3 JSON and validates it. Errors name the field as it is spelled in
// the JSON file, e.g. `interfaces[1].ipv4Addresses[0]: "198.18.1.300/24" is not an IPv4 prefix`.
result<config> parse_config_json(std::string_view json);
// Reads and parses a file; errors start with the path.
result<config> load_config_file(const std::string& path);

}  // namespace meshgate::policy
