#pragma once
// The data plane's operational state as RFC 7951 JSON of the YANG container
// meshgate-config:operational (mgmt/yang/meshgate-config.yang), for mgmtd's GetState
// (policy/proto/meshgate/config/v1/push.proto). The same figures as the Prometheus metrics
// (metrics.cpp): collected on the main lcore from the same sources, rendered anywhere.
//
// RFC 7951 encoding: 64-bit integers (uint64, counter64, gauge64) are JSON strings; 32-bit and
// smaller are numbers; date-and-time is "YYYY-MM-DDThh:mm:ss.fffZ".
#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/metrics.hpp"

namespace meshgate::dataplane {

struct oper_state {
    uint64_t config_generation = 0;
    uint64_t uptime_seconds = 0;
    uint32_t workers = 0;
    bool has_reloads = false;
    uint64_t reloads_applied = 0, reloads_rejected = 0;
    bool reloads_last_ok = true;
    double reloads_last_unix = 0;  // 0: none yet (last-attempt left out)

    struct drop {
        std::string reason;
        uint64_t packets = 0;
    };
    struct interface {
        std::string name;  // the interface names on the port, comma-separated
        uint16_t port = 0;
        uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
        std::vector<drop> drops;
    };
    std::vector<interface> interfaces;

    uint64_t icmp_errors_sent = 0, icmp_echo_replies = 0;
    std::vector<std::pair<std::string, uint64_t>> neighbors;  // state, entries

    uint64_t sessions_active = 0, sessions_half_open = 0, sessions_created = 0, sessions_expired = 0;
    uint64_t syn_cookies_sent = 0, syn_cookies_accepted = 0, nat_icmp_errors = 0, nat64_translated = 0;

    struct backend {
        std::string address;  // without brackets
        uint16_t port = 0;
        bool up = false;
        uint64_t connections = 0, packets_to = 0, packets_from = 0, bytes_to = 0, bytes_from = 0;
    };
    struct service {
        std::string name;
        uint32_t backends_configured = 0, backends_up = 0;
        std::vector<backend> backends;
    };
    std::vector<service> services;

    struct acl_rule {
        std::string rule;
        std::string action;  // "allow", "deny", "log"; anything else is left out
        uint64_t hits = 0;
    };
    std::vector<acl_rule> acl_rules;

    struct snat_pool {
        std::string name;
        uint64_t in_use = 0, capacity = 0;
    };
    std::vector<snat_pool> snat_pools;

    std::vector<tap_metrics_row> taps;
};

// Main lcore only (like render_metrics).
oper_state collect_oper_state(const metrics_sources& src);

// {"meshgate-config:operational":{...}}. List entries with a key already written are merged into
// the first (counters summed), so the keys stay unique whatever the rows hold.
std::string to_json(const oper_state& s);

// "198.18.2.2:80" -> ("198.18.2.2", 80); "[fd00:2::2]:80" -> ("fd00:2::2", 80). False if not so.
bool split_backend_key(const std::string& key, std::string& address, uint16_t& port);

}  // namespace meshgate::dataplane
