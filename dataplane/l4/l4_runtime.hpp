#pragma once
// The L4 half of a snapshot, compiled off the workers and published by pointer: services with
// their Maglev tables, the firewall's rte_acl contexts, SNAT pools and source limits. Immutable
// once published; workers read it with no locks. Backend health is folded in: a health change
// builds a new one (sharing the compiled ACL) and publishes it the same way.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/l4/acl.hpp"
#include "dataplane/l4/maglev.hpp"
#include "policy/config.hpp"
#include "policy/result.hpp"

namespace meshgate::dataplane {
struct runtime;
}

namespace meshgate::dataplane::l4 {

inline constexpr uint32_t max_services = 1024;
inline constexpr uint32_t max_source_limits = 256;
// Source ports the gateway never hands out for NAT: its own health probes use them.
inline constexpr uint16_t probe_port_min = 61000;
inline constexpr uint16_t probe_port_max = 61999;

struct backend_rt {
    uint8_t addr[16] = {};
    uint8_t family = 4;
    uint16_t port = 0;
    uint32_t weight = 1;
    bool admin_up = true;
    bool healthy = true;         // from the health checker; true without one
    uint8_t nat_src[16] = {};    // full-NAT source toward this backend (family of the backend)
    bool has_nat_src = false;    // false: no address of that family to use (backend unusable)
    uint8_t probe_src[16] = {};  // health probes leave from here (the NAT source, else the egress address)
    bool has_probe_src = false;
    std::string key;         // "198.18.2.2:80", Maglev identity and health-state key
    uint16_t stat_slot = 0;  // core_counters::backends[]: same (service name, key) -> same slot
};

struct service_rt {
    std::string name;
    uint8_t vip[16] = {};
    uint8_t family = 4;
    uint8_t proto = 6;
    uint16_t port = 0;
    policy::nat_mode mode = policy::nat_mode::full_nat;
    policy::tcp_proxy_settings proxy;  // mode tcp_proxy: terminated by the workers' TCP stacks
    std::vector<backend_rt> backends;
    // Shared with the runtime it was built for first: a rebuild whose service has the same
    // (key, usable weight) list and table size reuses it instead of populating it again.
    std::shared_ptr<const maglev> table;
    std::vector<maglev_backend> table_input;
    policy::rate_limit new_flows;
    policy::rate_limit packets;
    uint32_t syn_proxy_threshold = UINT32_MAX;
    bool reset_on_backend_down = false;
    uint32_t usable_backends = 0;
};

struct snat_rt {
    std::string name;
    std::vector<policy::ip_prefix> sources;
    std::vector<std::array<uint8_t, 16>> v4;  // first 4 bytes
    std::vector<std::array<uint8_t, 16>> v6;
    uint16_t port_min = 1024, port_max = 65535;
    uint16_t out_interface = 0xffff;
    bool eim = false;
    uint16_t stat_slot = 0;  // core_counters::snat_in_use[]: same pool name -> same slot
};

struct source_limit_rt {
    policy::ip_prefix prefix;
    policy::rate_limit new_flows;
    policy::rate_limit packets;
};

// Health of backends, keyed by service name and backend key; kept by the control lcore.
struct health_view {
    // Returns false when the backend is known to be down.
    virtual bool healthy(const std::string& service, const std::string& backend_key) const = 0;
    virtual ~health_view() = default;
};

struct l4_runtime {
    uint64_t generation = 0;
    // Unique per build in the process: a worker tells a new runtime from a freed one that had the
    // same address (it may not have looked since that one was replaced).
    uint64_t serial = 0;
    policy::flow_settings flows;
    bool fw_enabled = false;
    policy::acl_action fw_default = policy::acl_action::allow;
    std::shared_ptr<const acl_set> acl;
    std::vector<policy::acl_action> rule_action;  // by rule index (both families, as compiled)
    // Statistics of the compiled rules, by the same index: the rule's label (its config name, or
    // "rule-<n>" with n its position in firewall.rules) and its core_counters::acl_hits[] slot.
    // The two compiled halves of a rule without a family share label and slot.
    std::vector<std::string> rule_label;
    std::vector<uint16_t> rule_slot;
    std::vector<service_rt> services;
    std::vector<snat_rt> snat;
    std::vector<source_limit_rt> limits;
    uint32_t max_flows_per_source = 0;
    uint32_t min_mtu = 68;  // smallest interface MTU: packets up to it (after translation) skip the path-MTU check

    bool active() const noexcept { return fw_enabled || !services.empty() || !snat.empty() || !limits.empty(); }

    // Service of (family, VIP, protocol, port), or -1. A handful of services is the norm: an
    // open-addressed table keeps the miss path to one or two probes.
    int32_t find_service(uint8_t family, const uint8_t* vip, uint8_t proto, uint16_t port) const noexcept;

    // Addresses health probes leave from: a TCP segment to one of them, to a probe port, with no
    // session is a probe's answer (handed to the control lcore).
    struct probe_source {
        uint8_t addr[16];
        uint8_t family;
    };
    std::vector<probe_source> probe_sources;
    bool is_probe_answer(const uint8_t* dst, uint8_t family, uint16_t dport) const noexcept {
        if (dport < probe_port_min || dport > probe_port_max) return false;
        for (const auto& p : probe_sources) {
            if (p.family == family && std::memcmp(p.addr, dst, family == 6 ? 16 : 4) == 0) return true;
        }
        return false;
    }

    // Addresses NAT translates sources to (full-NAT sources, SNAT pools). With several workers,
    // a packet to one of them belongs to the worker owning its destination port (port % workers).
    std::vector<probe_source> nat_addresses;
    bool is_nat_address(const uint8_t* dst, uint8_t family) const noexcept {
        for (const auto& p : nat_addresses) {
            if (p.family == family && std::memcmp(p.addr, dst, family == 6 ? 16 : 4) == 0) return true;
        }
        return false;
    }

    // Open-addressing index over services (power-of-two slots, -1 empty).
    std::vector<int32_t> index;
    uint32_t index_mask = 0;
};

uint32_t service_hash(uint8_t family, const uint8_t* vip, uint8_t proto, uint16_t port) noexcept;

// Statistics slots that outlive runtimes: the per-core counters of a backend, firewall rule or
// SNAT pool are indexed by a slot that stays the same for the same labels (service name and
// backend key; rule label and action; pool name) across rebuilds, however the config reorders
// them. Sessions record their slot, so a session keeps charging its backend after a reload.
// Slots are never reused; when they run out, new labels get the overflow slot (backends, pools:
// slot 0, counted but never reported; rules: the last slot, reported as "other").
// Thread contract: the thread that builds runtimes (the main lcore).
class stat_slots {
public:
    uint16_t backend(const std::string& service, const std::string& backend_key);  // 1..max_backend_stats-1, 0
    uint16_t acl_rule(const std::string& label, policy::acl_action action);        // 0..max_acl_stat_rules-1
    uint16_t snat_pool(const std::string& name);                                   // 1..max_snat_stats-1, 0

    // The process's registry, used when build_l4_runtime is given none.
    static stat_slots& process();

private:
    std::unordered_map<std::string, uint16_t> backends_, rules_, pools_;
};

// Builds from a validated config. `acl` reuses an already compiled ACL (health-only rebuilds);
// null compiles the config's rules under `name`. Full-NAT sources default to the primary
// address of the interface each backend is routed through (looked up in `rt`). Statistics slots
// come from `registry` (null: stat_slots::process()). `previous` (may be null): the runtime being
// replaced, whose Maglev tables are reused for services whose table would come out the same.
result<std::unique_ptr<l4_runtime>> build_l4_runtime(const policy::config& cfg, const runtime& rt,
                                                     const health_view* health, std::shared_ptr<const acl_set> acl,
                                                     const std::string& name, stat_slots* registry = nullptr,
                                                     const l4_runtime* previous = nullptr);

}  // namespace meshgate::dataplane::l4
