#include "dataplane/l4/l4_stats.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "dataplane/l4/health.hpp"

namespace meshgate::dataplane::l4 {
namespace {

template <class F>
uint64_t sum(const core_counters* cores, unsigned n_cores, F&& field) noexcept {
    uint64_t v = 0;
    for (unsigned c = 0; c < n_cores; ++c) v += read_counter(field(cores[c]));
    return v;
}

std::string pair_key(const std::string& a, const std::string& b) {
    std::string k = a;
    k += '\0';
    k += b;
    return k;
}

}  // namespace

const char* action_name(policy::acl_action a) noexcept {
    switch (a) {
        case policy::acl_action::allow:
            return "allow";
        case policy::acl_action::deny:
            return "deny";
        case policy::acl_action::log:
            return "log";
    }
    return "allow";
}

std::vector<service_row> service_rows(const l4_runtime& rt) {
    std::vector<service_row> out;
    out.reserve(rt.services.size());
    for (const auto& s : rt.services) {
        service_row r;
        r.name = s.name;
        r.backends = static_cast<uint32_t>(s.backends.size());
        for (const auto& b : s.backends) r.backends_up += b.admin_up && b.healthy ? 1 : 0;
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<backend_row> backend_rows(const l4_runtime& rt, const core_counters* cores, unsigned n_cores,
                                      const health_checker* health) {
    std::unordered_map<std::string, const health_checker::rtt_histogram*> rtt;
    if (health != nullptr) {
        health->for_each_target(
            [&](const std::string& service, const std::string& key, bool, const health_checker::rtt_histogram& h) {
                rtt.emplace(pair_key(service, key), &h);
            });
    }
    std::vector<backend_row> out;
    for (const auto& s : rt.services) {
        for (const auto& b : s.backends) {
            backend_row r;
            r.service = s.name;
            r.backend = b.key;
            r.up = b.admin_up && b.healthy;
            if (cores != nullptr && b.stat_slot != 0 && b.stat_slot < max_backend_stats) {
                const size_t slot = b.stat_slot;
                r.connections = sum(cores, n_cores, [slot](const core_counters& c) -> const uint64_t& {
                    return c.backends[slot].connections;
                });
                r.packets_to = sum(cores, n_cores, [slot](const core_counters& c) -> const uint64_t& {
                    return c.backends[slot].packets_to;
                });
                r.bytes_to = sum(cores, n_cores, [slot](const core_counters& c) -> const uint64_t& {
                    return c.backends[slot].bytes_to;
                });
                r.packets_from = sum(cores, n_cores, [slot](const core_counters& c) -> const uint64_t& {
                    return c.backends[slot].packets_from;
                });
                r.bytes_from = sum(cores, n_cores, [slot](const core_counters& c) -> const uint64_t& {
                    return c.backends[slot].bytes_from;
                });
            }
            if (!rtt.empty()) {
                auto it = rtt.find(pair_key(s.name, b.key));
                if (it != rtt.end()) {
                    const auto& h = *it->second;
                    r.health_bounds.assign(health_checker::rtt_bounds.begin(), health_checker::rtt_bounds.end());
                    r.health_buckets.assign(h.buckets.begin(), h.buckets.end());
                    r.health_sum = h.sum;
                    r.health_count = h.count;
                }
            }
            out.push_back(std::move(r));
        }
    }
    return out;
}

std::vector<acl_row> acl_rows(const l4_runtime& rt, const core_counters* cores, unsigned n_cores) {
    std::vector<acl_row> out;
    if (!rt.fw_enabled) return out;
    auto hits_of = [&](size_t slot) {
        if (cores == nullptr) return uint64_t{0};
        return sum(cores, n_cores, [slot](const core_counters& c) -> const uint64_t& { return c.acl_hits[slot]; });
    };
    constexpr uint16_t other = max_acl_stat_rules - 1;
    std::vector<bool> seen(max_acl_stat_rules, false);
    // One row per (rule, action) label pair: rules sharing a slot share it already; a label that
    // collides with "other" or "default" is merged into that row too.
    std::unordered_map<std::string, size_t> row_of;
    auto add = [&](const std::string& rule, const std::string& action, uint64_t hits) {
        auto [it, fresh] = row_of.try_emplace(pair_key(rule, action), out.size());
        if (fresh) {
            out.push_back({rule, action, hits});
        } else {
            out[it->second].hits += hits;
        }
    };
    const char* other_action = nullptr;
    size_t n = std::min(rt.rule_slot.size(), std::min(rt.rule_label.size(), rt.rule_action.size()));
    for (size_t i = 0; i < n; ++i) {
        uint16_t slot = rt.rule_slot[i];
        const char* action = action_name(rt.rule_action[i]);
        if (slot == other) {
            if (other_action == nullptr) {
                other_action = action;
            } else if (std::string_view(other_action) != action) {
                other_action = "mixed";
            }
            continue;
        }
        if (slot >= max_acl_stat_rules || seen[slot]) continue;
        seen[slot] = true;
        add(rt.rule_label[i], action, hits_of(slot));
    }
    if (other_action != nullptr) add("other", other_action, hits_of(other));
    uint64_t def = cores == nullptr ? 0 : sum(cores, n_cores, [](const core_counters& c) -> const uint64_t& {
        return c.acl_default_hits;
    });
    add("default", action_name(rt.fw_default), def);
    return out;
}

std::vector<snat_row> snat_rows(const l4_runtime& rt, const core_counters* cores, unsigned n_cores) {
    std::vector<snat_row> out;
    out.reserve(rt.snat.size());
    for (const auto& p : rt.snat) {
        snat_row r;
        r.pool = p.name;
        if (cores != nullptr && p.stat_slot != 0 && p.stat_slot < max_snat_stats) {
            const size_t slot = p.stat_slot;
            r.in_use =
                sum(cores, n_cores, [slot](const core_counters& c) -> const uint64_t& { return c.snat_in_use[slot]; });
        }
        uint64_t ports = p.port_max >= p.port_min ? uint64_t{p.port_max} - p.port_min + 1 : 0;
        // Probe source ports are never handed out.
        uint64_t lo = std::max<uint64_t>(p.port_min, probe_port_min);
        uint64_t hi = std::min<uint64_t>(p.port_max, probe_port_max);
        if (lo <= hi) ports -= hi - lo + 1;
        r.capacity = (p.v4.size() + p.v6.size()) * ports;
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace meshgate::dataplane::l4
