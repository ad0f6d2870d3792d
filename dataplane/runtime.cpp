#include "dataplane/runtime.hpp"

#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "dataplane/neighbor.hpp"

namespace meshgate::dataplane {

namespace {

void set_egress(next_hop& h, const interface_rt& ifc) {
    h.mtu = ifc.mtu;
    h.port = ifc.port;
    h.vlan = ifc.vlan;
    h.mac_word = mac_to_word(ifc.mac);
}

next_hop hop_to(nh_kind kind, uint16_t ifindex) {
    next_hop h;
    h.kind = kind;
    h.ifindex = ifindex;
    return h;
}

std::vector<interface_rt> build_interfaces(const policy::config& cfg, const std::vector<uint16_t>& port_of,
                                           const std::vector<rte_ether_addr>& port_mac) {
    std::vector<interface_rt> out;
    for (size_t i = 0; i < cfg.interfaces.size(); ++i) {
        const auto& c = cfg.interfaces[i];
        interface_rt r;
        r.port = port_of[i];
        r.vlan = c.vlan;
        r.mtu = c.mtu;
        if (c.mac) {
            std::memcpy(r.mac.addr_bytes, c.mac->bytes.data(), 6);
        } else {
            r.mac = port_mac[i];
        }
        r.ipv4 = c.ipv4;
        r.ipv6 = c.ipv6;
        if (!c.ipv4.empty()) r.ipv4_primary = c.ipv4.front().addr.value;
        if (!c.ipv6.empty()) {
            r.has_ipv6 = true;
            r.ipv6_primary = c.ipv6.front().addr;
        }
        r.name = c.name;
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace

result<std::unique_ptr<runtime>> build_runtime(const policy::config& cfg, const std::vector<uint16_t>& port_of,
                                               const std::vector<rte_ether_addr>& port_mac, neighbor_table& neighbors,
                                               const std::string& name) {
    static std::atomic<uint64_t> serials{0};
    auto rt = std::make_unique<runtime>();
    rt->generation = cfg.generation;
    rt->serial = ++serials;
    rt->interfaces = build_interfaces(cfg, port_of, port_mac);
    for (size_t i = 0; i < rt->interfaces.size(); ++i) {
        auto& pm = rt->ports[rt->interfaces[i].port];
        if (rt->interfaces[i].vlan == 0) {
            pm.untagged = static_cast<uint16_t>(i);
        } else {
            pm.vlans.emplace_back(rt->interfaces[i].vlan, static_cast<uint16_t>(i));
        }
    }
    for (size_t i = 0; i < rt->interfaces.size(); ++i) {
        next_hop h = hop_to(nh_kind::forward, static_cast<uint16_t>(i));
        set_egress(h, rt->interfaces[i]);
        rt->on_link.push_back(h);
    }
    rt->neighbors = &neighbors;
    auto routes = route_table::build(cfg, rt->interfaces, neighbors, name);
    if (!routes) return error{routes.error_message()};
    rt->routes = std::move(routes).value();
    rt->icmp_errors_per_second = cfg.icmp.errors_per_second;
    rt->icmp_errors_burst = cfg.icmp.errors_burst;
    return rt;
}

std::vector<uint32_t> gateway_slots(const runtime& rt) {
    std::vector<uint32_t> out;
    if (!rt.routes) return out;
    for (const auto& h : rt.routes->hops()) {
        if (h.has_gateway) out.push_back(h.gateway_slot);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

unsigned unpin_unused_gateways(neighbor_table& neighbors, const std::vector<const runtime*>& live) {
    std::vector<uint32_t> keep;
    for (const runtime* rt : live) {
        if (rt == nullptr) continue;
        auto s = gateway_slots(*rt);
        keep.insert(keep.end(), s.begin(), s.end());
    }
    std::sort(keep.begin(), keep.end());
    unsigned n = 0;
    for (uint32_t slot = 0; slot < neighbors.capacity(); ++slot) {
        auto& e = neighbors.entry(slot);
        if (!e.pinned || std::binary_search(keep.begin(), keep.end(), slot)) continue;
        e.pinned = false;
        ++n;
        // Nothing resolves or ages an unresolved entry without a pin: remove it (its position is
        // reused only after a grace period). Incomplete, reachable and stale ones run their
        // timers as any neighbor's; permanent (static) ones stay.
        if ((e.state == neighbor_state::none || e.state == neighbor_state::failed) && e.hold_count == 0)
            neighbors.remove(slot);
    }
    return n;
}

route_table::~route_table() {
    if (lpm4_ != nullptr) rte_lpm_free(lpm4_);
    if (lpm6_ != nullptr) rte_lpm6_free(lpm6_);
}

result<std::unique_ptr<route_table>> route_table::build(const policy::config& cfg,
                                                        const std::vector<interface_rt>& ifaces,
                                                        neighbor_table& neighbors, const std::string& name) {
    auto t = std::make_unique<route_table>();
    rte_lpm_config c4{};
    c4.max_rules = 4096 + static_cast<uint32_t>(cfg.routes4.size());
    c4.number_tbl8s = 1024;
    t->lpm4_ = rte_lpm_create((name + "4").c_str(), SOCKET_ID_ANY, &c4);
    if (t->lpm4_ == nullptr)
        return error{"route table: rte_lpm_create failed: " + std::string(rte_strerror(rte_errno))};
    rte_lpm6_config c6{};
    c6.max_rules = 4096 + static_cast<uint32_t>(cfg.routes6.size());
    c6.number_tbl8s = 4096;
    t->lpm6_ = rte_lpm6_create((name + "6").c_str(), SOCKET_ID_ANY, &c6);
    if (t->lpm6_ == nullptr)
        return error{"route table: rte_lpm6_create failed: " + std::string(rte_strerror(rte_errno))};

    auto add_hop = [&](const next_hop& h) {
        t->hops_.push_back(h);
        return static_cast<uint32_t>(t->hops_.size() - 1);
    };
    // rte_lpm and rte_lpm6 take depths from 1; a default route is kept beside them.
    auto add4 = [&](uint32_t ip, uint8_t len, uint32_t hop) -> bool {
        if (len == 0) {
            t->view_.default4 = static_cast<int32_t>(hop);
            return true;
        }
        return rte_lpm_add(t->lpm4_, ip, len, hop) == 0;
    };
    auto add6 = [&](const ipv6_addr& ip, uint8_t len, uint32_t hop) -> bool {
        if (len == 0) {
            t->view_.default6 = static_cast<int32_t>(hop);
            return true;
        }
        return rte_lpm6_add(t->lpm6_, ip.bytes.data(), len, hop) == 0;
    };
    // Order matters only within equal prefixes, and those cannot repeat (validated), except
    // that a static route may shadow a connected subnet of the same length: the static one wins
    // because it is added last.
    for (size_t i = 0; i < ifaces.size(); ++i) {
        auto ifx = static_cast<uint16_t>(i);
        for (const auto& p : ifaces[i].ipv4) {
            auto connected = add_hop(hop_to(nh_kind::forward, ifx));
            if (!add4(p.network().value, p.len, connected)) return error{"route table: cannot add " + to_string(p)};
            if (p.len < 31) {
                uint32_t bcast = p.addr.value | (~uint32_t{0} >> p.len);
                if (!add4(bcast, 32, add_hop(hop_to(nh_kind::broadcast, ifx))))
                    return error{"route table: cannot add broadcast of " + to_string(p)};
            }
        }
        for (const auto& p : ifaces[i].ipv6) {
            auto connected = add_hop(hop_to(nh_kind::forward, ifx));
            if (!add6(p.network(), p.len, connected)) return error{"route table: cannot add " + to_string(p)};
        }
    }
    for (const auto& r : cfg.routes4) {
        next_hop h = hop_to(nh_kind::forward, static_cast<uint16_t>(r.interface));
        if (r.next_hop) {
            int32_t slot = neighbors.find_or_add(neighbor_key::v4(h.ifindex, r.next_hop->value));
            if (slot < 0) return error{"route table: neighbor table full"};
            neighbors.entry(static_cast<uint32_t>(slot)).pinned = true;
            h.has_gateway = true;
            h.gateway_slot = static_cast<uint32_t>(slot);
            h.gateway4 = r.next_hop->value;
        }
        if (!add4(r.prefix.addr.value, r.prefix.len, add_hop(h)))
            return error{"route table: cannot add " + to_string(r.prefix)};
    }
    for (const auto& r : cfg.routes6) {
        next_hop h = hop_to(nh_kind::forward, static_cast<uint16_t>(r.interface));
        if (r.next_hop) {
            int32_t slot = neighbors.find_or_add(neighbor_key::v6(h.ifindex, r.next_hop->bytes.data()));
            if (slot < 0) return error{"route table: neighbor table full"};
            neighbors.entry(static_cast<uint32_t>(slot)).pinned = true;
            h.has_gateway = true;
            h.gateway_slot = static_cast<uint32_t>(slot);
            h.gateway6 = *r.next_hop;
        }
        if (!add6(r.prefix.addr, r.prefix.len, add_hop(h)))
            return error{"route table: cannot add " + to_string(r.prefix)};
    }
    // Own addresses last: a host route to ourselves beats everything.
    for (size_t i = 0; i < ifaces.size(); ++i) {
        auto ifx = static_cast<uint16_t>(i);
        for (const auto& p : ifaces[i].ipv4) {
            if (!add4(p.addr.value, 32, add_hop(hop_to(nh_kind::local, ifx))))
                return error{"route table: cannot add " + to_string(p.addr)};
        }
        for (const auto& p : ifaces[i].ipv6) {
            if (!add6(p.addr, 128, add_hop(hop_to(nh_kind::local, ifx))))
                return error{"route table: cannot add " + to_string(p.addr)};
        }
    }
    if (t->hops_.size() >= (1U << 21)) return error{"route table: too many next hops"};
    for (auto& h : t->hops_) set_egress(h, ifaces[h.ifindex]);
    t->view_.lpm4 = t->lpm4_;
    t->view_.lpm6 = t->lpm6_;
    t->view_.hops = t->hops_.data();
    return t;
}

}  // namespace meshgate::dataplane
