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
    bool operator==(const static_neighbor&) const = default;
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
    bool operator==(const interface&) const = default;
};

struct route4 {
    ipv4_prefix prefix;                 // canonical (no host bits)
    std::optional<ipv4_addr> next_hop;  // unset: on-link
    uint32_t interface = 0;             // index into config::interfaces
    bool operator==(const route4&) const = default;
};

struct route6 {
    ipv6_prefix prefix;
    std::optional<ipv6_addr> next_hop;
    uint32_t interface = 0;
    bool operator==(const route6&) const = default;
};

struct worker_settings {
    std::vector<unsigned> lcores;  // empty: every worker lcore EAL enabled
    uint32_t rx_descriptors = 1024;
    uint32_t tx_descriptors = 1024;
    uint32_t mbufs = 16383;
    bool operator==(const worker_settings&) const = default;
};

struct icmp_limits {
    uint32_t errors_per_second = 1000;
    uint32_t errors_burst = 100;
};

// An address or prefix of either family.
struct ip_addr {
    bool is_v6 = false;
    ipv4_addr v4;
    ipv6_addr v6;
    auto operator<=>(const ip_addr&) const = default;
};

struct ip_prefix {
    bool is_v6 = false;
    ipv4_prefix v4;  // canonical (no host bits)
    ipv6_prefix v6;
    bool contains(const ip_addr& a) const noexcept {
        return a.is_v6 == is_v6 && (is_v6 ? v6.contains(a.v6) : v4.contains(a.v4));
    }
};

std::string to_string(const ip_addr& a);
std::string to_string(const ip_prefix& p);

namespace l4 {
inline constexpr uint8_t any = 0;
inline constexpr uint8_t icmp = 1;  // ICMP or ICMPv6, by the rule's family
inline constexpr uint8_t tcp = 6;
inline constexpr uint8_t udp = 17;
inline constexpr uint8_t sctp = 132;
}  // namespace l4

// Session table of each worker, and idle timeouts in seconds.
struct flow_settings {
    uint32_t sessions_per_worker = 65536;
    uint32_t tcp_syn_timeout = 10;  // SYN seen, not yet established
    uint32_t tcp_established_timeout = 7200;
    uint32_t tcp_closing_timeout = 10;  // FIN or RST seen
    uint32_t udp_timeout = 60;
    uint32_t icmp_timeout = 30;
    uint32_t sctp_timeout = 300;
    uint32_t max_flows_per_source = 0;  // per worker, per source address; 0: unlimited
};

// A token bucket: rate per second and burst. rate 0: unlimited.
struct rate_limit {
    uint32_t rate = 0;
    uint32_t burst = 0;
};

struct backend {
    ip_addr addr;
    uint16_t port = 0;
    uint32_t weight = 1;  // 1..65535
    bool admin_up = true;
};

struct health_check {
    enum class kind : uint8_t { none, tcp, http };
    kind type = kind::none;
    uint32_t interval_ms = 2000;
    uint32_t timeout_ms = 1000;
    uint32_t rise = 2;  // successes in a row to become healthy
    uint32_t fall = 3;  // failures in a row to become unhealthy
    std::string http_path = "/";
    uint16_t http_port = 0;  // 0: the backend's port
    uint32_t expect_status = 200;
};

// full_nat: destination and source translated; dnat: destination only; tcp_proxy: the client's
// TCP connection ends in the user-space stack (dataplane/tcp), which opens its own to the backend.
enum class nat_mode : uint8_t { full_nat, dnat, tcp_proxy };

// The user-space TCP connections of a tcp_proxy service (both sides). Defaults when unset.
struct tcp_proxy_settings {
    uint32_t connect_timeout_ms = 5000;  // backend handshake; 100..600000
    uint32_t idle_timeout_ms = 300000;   // no bytes either way; 1000..604800000
    bool newreno = false;                // congestion control: false CUBIC (RFC 9438), true NewReno (RFC 6582)
    uint16_t min_mss = 536;              // smallest MSS option accepted from a peer; 64..1460
    uint32_t buffer_bytes = 262144;      // per direction per connection; 16384..16777216
    bool operator==(const tcp_proxy_settings&) const = default;
};

struct service {
    std::string name;
    ip_addr vip;
    uint8_t protocol = l4::tcp;  // tcp, udp or sctp
    uint16_t port = 0;
    nat_mode mode = nat_mode::full_nat;
    // Full-NAT and tcp-proxy source addresses: at most one per family; the family of the chosen
    // backend picks.
    std::vector<ip_addr> source_addresses;
    std::vector<backend> backends;
    uint32_t maglev_table_size = 65537;  // prime
    health_check health;
    bool reset_on_backend_down = false;  // unhealthy/removed backend: reset its flows (else keep)
    rate_limit new_flows;                // per VIP, shared by the workers (each gets rate/workers)
    rate_limit packets;
    // SYN-flood defense: half-open sessions per worker above which SYNs are answered with SYN
    // cookies (SYN proxy) and create no state. 0: always; UINT32_MAX (unset): off. Always
    // UINT32_MAX for tcp_proxy (the TCP stack has its own SYN cookies) and for UDP and SCTP.
    uint32_t syn_proxy_threshold = 1000;
    tcp_proxy_settings proxy;  // mode tcp_proxy only (defaults otherwise)
};

enum class acl_action : uint8_t { allow, deny, log };  // log: allow, count and record

struct acl_rule {
    std::string name;
    bool is_v6 = false;
    ip_prefix src;  // len 0: any
    ip_prefix dst;
    uint8_t protocol = l4::any;
    uint16_t src_port_min = 0, src_port_max = 65535;
    uint16_t dst_port_min = 0, dst_port_max = 65535;
    uint32_t in_interface = UINT32_MAX;  // index into config::interfaces; UINT32_MAX: any
    acl_action action = acl_action::allow;
};

struct firewall {
    bool enabled = false;  // rules present or default deny: every flow is tracked
    acl_action default_action = acl_action::allow;
    std::vector<acl_rule> rules;  // first match wins
};

// Egress SNAT: traffic from `sources` leaving through `out_interface` gets a pool address and port.
struct snat_pool {
    std::string name;
    std::vector<ip_prefix> sources;
    std::vector<ipv4_addr> v4;
    std::vector<ipv6_addr> v6;
    uint16_t port_min = 1024, port_max = 65535;
    uint32_t out_interface = UINT32_MAX;  // UINT32_MAX: any
    bool endpoint_independent = false;    // RFC 4787 EIM: one mapping per (source, port) for all destinations
};

struct source_limit {
    ip_prefix prefix;
    rate_limit new_flows;
    rate_limit packets;
};

struct telemetry_settings {
    enum class log_format_t : uint8_t { json, text };
    enum class level : uint8_t { debug, info, warning, error };
    ip_addr http_address{false, ipv4_addr{0x7f000001}, {}};
    uint16_t http_port = 0;  // 0: no HTTP endpoint
    log_format_t log_format = log_format_t::json;
    level log_level = level::info;
    uint32_t drop_burst_per_second = 1000;
};

struct tap_settings {
    enum class dir : uint8_t { rx = 1, tx = 2, both = 3 };
    std::string name;
    std::string filter;                // pcap-filter expression; empty: all
    std::vector<uint32_t> interfaces;  // indexes into config::interfaces; empty: all
    dir direction = dir::both;
    uint32_t snap_length = 65535;
    rate_limit packets;  // rate 0: unlimited
    rate_limit bytes;
    std::string directory;  // empty: no files
    uint64_t max_file_bytes = 64ull << 20;
    uint32_t max_files = 4;
    bool start = false;
    std::optional<ip_addr> mirror_collector;
    uint16_t mirror_session = 0;
};

struct config {
    uint64_t generation = 0;
    worker_settings workers;
    std::vector<interface> interfaces;
    std::vector<route4> routes4;
    std::vector<route6> routes6;
    icmp_limits icmp;
    flow_settings flows;
    std::vector<service> services;
    firewall fw;
    std::vector<snat_pool> snat_pools;
    std::vector<source_limit> source_limits;
    telemetry_settings telemetry;
    std::vector<tap_settings> taps;
};

// Parses a Snapshot in proto3 JSON and validates it. Errors name the field as it is spelled in
// the JSON file, e.g. `interfaces[1].ipv4Addresses[0]: "198.18.1.300/24" is not an IPv4 prefix`.
result<config> parse_config_json(std::string_view json);
// Parses a Snapshot in the protobuf binary encoding and validates it (the same validation).
result<config> parse_config_binary(std::string_view bytes);
// Reads and parses a file; errors start with the path.
result<config> load_config_file(const std::string& path);

}  // namespace meshgate::policy
