#pragma once
// The L4 statistics as plain rows, for the Prometheus exporter (telemetry/METRICS.md: service_*,
// backend_*, health_check_duration_seconds, acl_hits_total, snat_ports*): the current runtime's
// services, backends, firewall rules and SNAT pools, with the per-core counters summed (relaxed
// loads of owner-written counters) and the health checker's round-trip histograms.
//
// Counters are indexed by statistics slots that stay with their labels across reloads (see
// stat_slots in l4_runtime.hpp), so a row's counters are monotonic while its labels exist, and a
// session opened before a reload keeps charging its backend.
//
// Thread contract: the main lcore only (the health checker is its state; the runtime must be the
// published one, or one the caller otherwise keeps alive). Allocates; never touches the workers'
// tables.
#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/l4/l4_runtime.hpp"

namespace meshgate::dataplane::l4 {

class health_checker;

struct service_row {
    std::string name;
    uint32_t backends = 0;     // configured
    uint32_t backends_up = 0;  // admin-up and healthy
};

struct backend_row {
    std::string service;
    std::string backend;        // its key: "198.18.2.2:80", "[fd00:2::2]:80"
    bool up = false;            // admin-up and healthy (as the published runtime has it)
    uint64_t connections = 0;   // sessions opened to it
    uint64_t packets_to = 0;    // packets sent to it
    uint64_t bytes_to = 0;      // their IP bytes as sent (after NAT, NAT46/64 included)
    uint64_t packets_from = 0;  // packets received from it
    uint64_t bytes_from = 0;    // their IP bytes as received
    // Round trips of its successful health checks (health_checker::rtt_bounds). Empty bounds
    // and buckets when no health checker was given or the service has no health check.
    std::vector<double> health_bounds;     // upper bounds, seconds, ascending
    std::vector<uint64_t> health_buckets;  // per bucket, NOT cumulative; bounds.size() + 1 entries (last: +Inf)
    double health_sum = 0;                 // seconds
    uint64_t health_count = 0;
};

struct acl_row {
    std::string rule;    // the rule's config name, "rule-<n>" (n: its position in firewall.rules)
                         // when unnamed, "default" for the default action, "other" for rules
                         // beyond the statistics slots
    std::string action;  // "allow", "deny", "log" ("mixed": an "other" row over several actions)
    uint64_t hits = 0;   // new flows matched
};

struct snat_row {
    std::string pool;
    uint64_t in_use = 0;    // NAT mappings held (EIM: mappings; otherwise: sessions)
    uint64_t capacity = 0;  // addresses x ports of its range (probe ports 61000-61999 excluded)
};

// Services of the runtime, in config order.
std::vector<service_row> service_rows(const l4_runtime& rt);

// Backends of every service, in config order. `cores`: n_cores blocks (workers and the control
// lcore); `health` may be null (no histograms). Backends beyond the statistics slots
// (max_backend_stats distinct service/backend pairs in the process's life) report zero traffic.
std::vector<backend_row> backend_rows(const l4_runtime& rt, const core_counters* cores, unsigned n_cores,
                                      const health_checker* health);

// Firewall rules (rules that share a name and action are one row; so are the two family halves
// of a rule without a family), then "other" when some rules are beyond the statistics slots,
// then "default". Empty when the firewall is off.
std::vector<acl_row> acl_rows(const l4_runtime& rt, const core_counters* cores, unsigned n_cores);

// SNAT pools, in config order.
std::vector<snat_row> snat_rows(const l4_runtime& rt, const core_counters* cores, unsigned n_cores);

const char* action_name(policy::acl_action a) noexcept;

}  // namespace meshgate::dataplane::l4
