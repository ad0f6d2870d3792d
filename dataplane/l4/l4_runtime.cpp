#include "dataplane/l4/l4_runtime.hpp"

#include <rte_hash_crc.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <unordered_map>

#include "dataplane/runtime.hpp"

namespace meshgate::dataplane::l4 {
namespace {

void put_addr(const policy::ip_addr& a, uint8_t* out, uint8_t& family) {
    std::memset(out, 0, 16);
    if (a.is_v6) {
        std::memcpy(out, a.v6.bytes.data(), 16);
        family = 6;
    } else {
        uint32_t v = a.v4.value;
        out[0] = static_cast<uint8_t>(v >> 24);
        out[1] = static_cast<uint8_t>(v >> 16);
        out[2] = static_cast<uint8_t>(v >> 8);
        out[3] = static_cast<uint8_t>(v);
        family = 4;
    }
}

void add_nat_address(l4_runtime& rt, const uint8_t* addr, uint8_t family) {
    for (const auto& p : rt.nat_addresses) {
        if (p.family == family && std::memcmp(p.addr, addr, 16) == 0) return;
    }
    l4_runtime::probe_source p{};
    std::memcpy(p.addr, addr, 16);
    p.family = family;
    rt.nat_addresses.push_back(p);
}

std::string backend_key(const policy::backend& b) {
    // Appended piece by piece: `"[" + std::string&&` trips GCC 12's -Wrestrict false positive
    // (bug 105329) in builds without LTO.
    std::string k;
    if (b.addr.is_v6) k = "[";
    k += policy::to_string(b.addr);
    if (b.addr.is_v6) k += "]";
    k += ":";
    k += std::to_string(b.port);
    return k;
}

// A compiled rule that is the IPv6 half of the rule before it (a config rule without a family
// compiles to an IPv4 and an IPv6 rule, in that order, identical but for the family).
bool second_half(const policy::acl_rule& prev, const policy::acl_rule& r) {
    return !prev.is_v6 && r.is_v6 && prev.name == r.name && prev.src.v4.len == 0 && prev.dst.v4.len == 0 &&
           r.src.v6.len == 0 && r.dst.v6.len == 0 && prev.protocol == r.protocol &&
           prev.src_port_min == r.src_port_min && prev.src_port_max == r.src_port_max &&
           prev.dst_port_min == r.dst_port_min && prev.dst_port_max == r.dst_port_max &&
           prev.in_interface == r.in_interface && prev.action == r.action;
}

// Slot of `key` in `map`: an existing one, else the next free one in [first, end), else `overflow`.
uint16_t slot_of(std::unordered_map<std::string, uint16_t>& map, std::string key, uint32_t first, uint32_t end,
                 uint16_t overflow) {
    auto it = map.find(key);
    if (it != map.end()) return it->second;
    uint32_t next = first + static_cast<uint32_t>(map.size());
    if (next >= end) return overflow;
    auto slot = static_cast<uint16_t>(next);
    map.emplace(std::move(key), slot);
    return slot;
}

}  // namespace

uint16_t stat_slots::backend(const std::string& service, const std::string& backend_key) {
    std::string key = service;
    key += '\0';
    key += backend_key;
    return slot_of(backends_, std::move(key), 1, max_backend_stats, 0);
}

uint16_t stat_slots::acl_rule(const std::string& label, policy::acl_action action) {
    std::string key = label;
    key += '\0';
    key += static_cast<char>('0' + static_cast<int>(action));
    return slot_of(rules_, std::move(key), 0, max_acl_stat_rules - 1, max_acl_stat_rules - 1);
}

uint16_t stat_slots::snat_pool(const std::string& name) {
    return slot_of(pools_, name, 1, max_snat_stats, 0);
}

stat_slots& stat_slots::process() {
    static stat_slots registry;
    return registry;
}

uint32_t service_hash(uint8_t family, const uint8_t* vip, uint8_t proto, uint16_t port) noexcept {
    uint32_t h = rte_hash_crc(vip, family == 6 ? 16 : 4, 0x5e41);
    return rte_hash_crc_4byte((uint32_t{proto} << 16) | port | (uint32_t{family} << 24), h);
}

int32_t l4_runtime::find_service(uint8_t family, const uint8_t* vip, uint8_t proto, uint16_t port) const noexcept {
    if (services.empty()) return -1;
    uint32_t i = service_hash(family, vip, proto, port) & index_mask;
    size_t vlen = family == 6 ? 16 : 4;
    for (;;) {
        int32_t s = index[i];
        if (s < 0) return -1;
        const auto& svc = services[static_cast<size_t>(s)];
        if (svc.port == port && svc.proto == proto && svc.family == family && std::memcmp(svc.vip, vip, vlen) == 0)
            return s;
        i = (i + 1) & index_mask;
    }
}

result<std::unique_ptr<l4_runtime>> build_l4_runtime(const policy::config& cfg, const runtime& rt,
                                                     const health_view* health, std::shared_ptr<const acl_set> acl,
                                                     const std::string& name, stat_slots* registry,
                                                     const l4_runtime* previous) {
    if (registry == nullptr) registry = &stat_slots::process();
    static std::atomic<uint64_t> serials{0};
    auto out = std::make_unique<l4_runtime>();
    out->serial = ++serials;
    std::unordered_map<std::string_view, const service_rt*> previous_by_name;
    if (previous != nullptr)
        for (const auto& ps : previous->services) previous_by_name.emplace(ps.name, &ps);
    out->generation = cfg.generation;
    out->flows = cfg.flows;
    out->max_flows_per_source = cfg.flows.max_flows_per_source;
    out->fw_enabled = cfg.fw.enabled;
    out->min_mtu = UINT32_MAX;
    for (const auto& ifc : cfg.interfaces) out->min_mtu = std::min(out->min_mtu, ifc.mtu);
    if (out->min_mtu == UINT32_MAX) out->min_mtu = 68;
    out->fw_default = cfg.fw.default_action;
    if (cfg.services.size() > max_services)
        return error{"services: more than " + std::to_string(max_services) + " services"};
    if (cfg.source_limits.size() > max_source_limits)
        return error{"sourceLimits: more than " + std::to_string(max_source_limits) + " limits"};
    if (out->fw_enabled) {
        if (!acl) {
            auto built = acl_set::build(cfg.fw.rules, name + "_acl");
            if (!built) return error{"firewall.rules: " + built.error_message()};
            acl = std::shared_ptr<const acl_set>(std::move(built).value().release());
        }
        out->acl = std::move(acl);
        size_t config_index = 0;
        for (size_t i = 0; i < cfg.fw.rules.size(); ++i) {
            const auto& r = cfg.fw.rules[i];
            out->rule_action.push_back(r.action);
            if (i != 0 && second_half(cfg.fw.rules[i - 1], r)) {
                out->rule_label.push_back(out->rule_label.back());
                out->rule_slot.push_back(out->rule_slot.back());
                continue;
            }
            std::string label = r.name;
            if (label.empty()) {
                label = "rule-";
                label += std::to_string(config_index);
            }
            out->rule_slot.push_back(registry->acl_rule(label, r.action));
            out->rule_label.push_back(std::move(label));
            ++config_index;
        }
    }

    for (size_t si = 0; si < cfg.services.size(); ++si) {
        const auto& sc = cfg.services[si];
        service_rt s;
        s.name = sc.name;
        put_addr(sc.vip, s.vip, s.family);
        s.proto = sc.protocol;
        s.port = sc.port;
        s.mode = sc.mode;
        s.proxy = sc.proxy;
        s.new_flows = sc.new_flows;
        s.packets = sc.packets;
        s.syn_proxy_threshold = sc.syn_proxy_threshold;
        s.reset_on_backend_down = sc.reset_on_backend_down;
        std::vector<maglev_backend> mb;
        for (const auto& bc : sc.backends) {
            backend_rt b;
            put_addr(bc.addr, b.addr, b.family);
            b.port = bc.port;
            b.weight = bc.weight;
            b.admin_up = bc.admin_up;
            b.key = backend_key(bc);
            b.stat_slot = registry->backend(sc.name, b.key);
            b.healthy = health == nullptr || health->healthy(sc.name, b.key);
            // The address of the interface the backend is routed through: probes leave from it,
            // and full-NAT uses it when the service names no source of the backend's family.
            const next_hop* nh =
                bc.addr.is_v6 ? rt.routes->lookup6(bc.addr.v6.bytes.data()) : rt.routes->lookup4(bc.addr.v4.value);
            if (nh != nullptr && nh->kind == nh_kind::forward) {
                const auto& ifc = rt.interfaces[nh->ifindex];
                if (bc.addr.is_v6 && ifc.has_ipv6) {
                    std::memcpy(b.probe_src, ifc.ipv6_primary.bytes.data(), 16);
                    b.has_probe_src = true;
                } else if (!bc.addr.is_v6 && ifc.ipv4_primary != 0) {
                    uint8_t fam = 0;
                    put_addr(policy::ip_addr{false, ipv4_addr{ifc.ipv4_primary}, {}}, b.probe_src, fam);
                    b.has_probe_src = true;
                }
            }
            if (sc.mode != policy::nat_mode::dnat) {  // full-NAT and the TCP proxy: a source of our own
                for (const auto& src : sc.source_addresses) {
                    if (src.is_v6 == bc.addr.is_v6) {
                        uint8_t fam = 0;
                        put_addr(src, b.nat_src, fam);
                        b.has_nat_src = true;
                        std::memcpy(b.probe_src, b.nat_src, 16);
                        b.has_probe_src = true;
                    }
                }
                if (!b.has_nat_src && b.has_probe_src) {
                    std::memcpy(b.nat_src, b.probe_src, 16);
                    b.has_nat_src = true;
                }
            } else {
                b.has_nat_src = true;  // DNAT keeps the client's address
            }
            if (sc.health.type != policy::health_check::kind::none && b.has_probe_src) {
                bool known = false;
                for (const auto& p : out->probe_sources) {
                    known = known || (p.family == b.family && std::memcmp(p.addr, b.probe_src, 16) == 0);
                }
                if (!known) {
                    l4_runtime::probe_source p{};
                    std::memcpy(p.addr, b.probe_src, 16);
                    p.family = b.family;
                    out->probe_sources.push_back(p);
                }
            }
            if (sc.mode != policy::nat_mode::dnat && b.has_nat_src) add_nat_address(*out, b.nat_src, b.family);
            bool usable = b.admin_up && b.healthy && b.has_nat_src;
            if (usable) ++s.usable_backends;
            mb.push_back({b.key, usable ? b.weight : 0});
            s.backends.push_back(std::move(b));
        }
        auto pi = previous_by_name.find(sc.name);
        if (const service_rt* prev = pi != previous_by_name.end() ? pi->second : nullptr;
            prev != nullptr && prev->table != nullptr && prev->table->size() == sc.maglev_table_size &&
            prev->table_input == mb) {
            s.table = prev->table;  // the same table would come out: populating 65537 entries is the cost
        } else {
            auto table = maglev::build(mb, sc.maglev_table_size);
            if (!table) return error{"services[" + std::to_string(si) + "].maglevTableSize: " + table.error_message()};
            s.table = std::make_shared<const maglev>(std::move(table).value());
        }
        s.table_input = std::move(mb);
        out->services.push_back(std::move(s));
    }
    uint32_t slots = 16;
    while (slots < out->services.size() * 4) slots <<= 1;
    out->index.assign(slots, -1);
    out->index_mask = slots - 1;
    for (size_t i = 0; i < out->services.size(); ++i) {
        const auto& s = out->services[i];
        uint32_t h = service_hash(s.family, s.vip, s.proto, s.port) & out->index_mask;
        while (out->index[h] >= 0) h = (h + 1) & out->index_mask;
        out->index[h] = static_cast<int32_t>(i);
    }

    for (const auto& pc : cfg.snat_pools) {
        snat_rt p;
        p.name = pc.name;
        p.sources = pc.sources;
        for (auto a : pc.v4) {
            std::array<uint8_t, 16> b{};
            uint8_t fam = 0;
            put_addr(policy::ip_addr{false, a, {}}, b.data(), fam);
            p.v4.push_back(b);
        }
        for (const auto& a : pc.v6) {
            std::array<uint8_t, 16> b{};
            std::memcpy(b.data(), a.bytes.data(), 16);
            p.v6.push_back(b);
        }
        for (const auto& a : p.v4) add_nat_address(*out, a.data(), 4);
        for (const auto& a : p.v6) add_nat_address(*out, a.data(), 6);
        p.port_min = pc.port_min;
        p.port_max = pc.port_max;
        p.out_interface = pc.out_interface == UINT32_MAX ? 0xffff : static_cast<uint16_t>(pc.out_interface);
        p.eim = pc.endpoint_independent;
        p.stat_slot = registry->snat_pool(p.name);
        out->snat.push_back(std::move(p));
    }
    for (const auto& lc : cfg.source_limits) out->limits.push_back({lc.prefix, lc.new_flows, lc.packets});
    return out;
}

}  // namespace meshgate::dataplane::l4
