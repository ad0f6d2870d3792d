#pragma once
// The immutable runtime tables workers read: interfaces, the port/VLAN map, routes with their
// next hops. Built on the control path from a validated policy::config.
#include <rte_ether.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/counters.hpp"
#include "policy/config.hpp"
#include "policy/result.hpp"

namespace meshgate::dataplane {

class neighbor_table;

inline constexpr uint16_t no_interface = 0xffff;

struct interface_rt {
    uint16_t port = 0;          // DPDK port id
    uint16_t vlan = 0;          // 0: untagged
    uint32_t mtu = 1500;        // IP MTU
    rte_ether_addr mac{};       // our MAC on this interface
    uint32_t ipv4_primary = 0;  // first IPv4 address, host order (0: none); ICMP error source
    bool has_ipv6 = false;
    ipv6_addr ipv6_primary;         // first IPv6 address; ICMPv6 error source
    std::vector<ipv4_prefix> ipv4;  // all own addresses with their subnets
    std::vector<ipv6_prefix> ipv6;
    std::string name;
};

enum class nh_kind : uint8_t {
    forward,    // send out `ifindex` to the gateway or, on-link, to the destination
    local,      // one of our addresses
    broadcast,  // a connected subnet's broadcast address
};

// What a route resolves to. The egress interface's port, VLAN, MTU and MAC are copied in (as
// VPP's adjacencies carry their rewrite), so forwarding reads one entry after the lookup.
struct next_hop {
    nh_kind kind = nh_kind::forward;
    bool has_gateway = false;   // false: the destination itself is the neighbor
    uint16_t ifindex = 0;       // egress interface (local: the interface owning the address)
    uint32_t gateway_slot = 0;  // pinned neighbor-table slot of the gateway (has_gateway)
    uint32_t mtu = 0;           // egress IP MTU
    uint16_t port = 0;          // egress DPDK port
    uint16_t vlan = 0;          // egress 802.1Q VLAN, 0 untagged
    uint64_t mac_word = 0;      // egress source MAC in the low 48 bits, wire order
    uint32_t gateway4 = 0;      // host order
    ipv6_addr gateway6;
};

// A MAC as the low 48 bits of a word, bytes in wire order (little-endian hosts).
inline uint64_t mac_to_word(const rte_ether_addr& m) noexcept {
    uint64_t w = 0;
    std::memcpy(&w, m.addr_bytes, 6);
    return w;
}

// Per port: which interface a VLAN id (0 = untagged) belongs to.
struct port_map {
    uint16_t untagged = no_interface;
    std::vector<std::pair<uint16_t, uint16_t>> vlans;  // (vlan id, ifindex)

    uint16_t lookup(uint16_t vlan) const noexcept {
        if (vlan == 0) return untagged;
        for (const auto& [v, i] : vlans) {
            if (v == vlan) return i;
        }
        return no_interface;
    }
};

// The lookup half of a route table as a small value: a worker keeps a copy in its own state, so
// a lookup is one load to reach the tables instead of a chain of pointers (which the compiler
// must reload after every store into packet bytes).
struct route_lookup {
    const rte_lpm* lpm4 = nullptr;
    const rte_lpm6* lpm6 = nullptr;
    const next_hop* hops = nullptr;
    int32_t default4 = -1;  // next hop of 0.0.0.0/0, -1 when none
    int32_t default6 = -1;  // next hop of ::/0

    // Any thread. dst4 in host order; dst6 in network order. nullptr: no route.
    const next_hop* lookup4(uint32_t dst4) const noexcept {
        uint32_t hop = 0;
        if (rte_lpm_lookup(const_cast<rte_lpm*>(lpm4), dst4, &hop) == 0) return &hops[hop];
        return default4 < 0 ? nullptr : &hops[static_cast<uint32_t>(default4)];
    }
    const next_hop* lookup6(const uint8_t* dst6) const noexcept {
        uint32_t hop = 0;
        if (rte_lpm6_lookup(lpm6, dst6, &hop) == 0) return &hops[hop];
        return default6 < 0 ? nullptr : &hops[static_cast<uint32_t>(default6)];
    }
};

// Longest-prefix match for IPv4 (rte_lpm, DIR-24-8) and IPv6 (rte_lpm6) onto next hops:
// connected subnets, own addresses (/32, /128 -> local), subnet broadcasts, static routes.
class route_table {
public:
    route_table() = default;
    route_table(const route_table&) = delete;
    route_table& operator=(const route_table&) = delete;
    ~route_table();

    // Control path. Gateways get pinned slots in `neighbors`. `name` must be unique per process.
    static result<std::unique_ptr<route_table>> build(const policy::config& cfg,
                                                      const std::vector<interface_rt>& ifaces,
                                                      neighbor_table& neighbors, const std::string& name);

    const route_lookup& lookup() const noexcept { return view_; }
    const std::vector<next_hop>& hops() const noexcept { return hops_; }
    const next_hop* lookup4(uint32_t dst4) const noexcept { return view_.lookup4(dst4); }
    const next_hop* lookup6(const uint8_t* dst6) const noexcept { return view_.lookup6(dst6); }

private:
    rte_lpm* lpm4_ = nullptr;
    rte_lpm6* lpm6_ = nullptr;
    std::vector<next_hop> hops_;
    route_lookup view_;  // filled when the table is complete
};

// Everything the workers read, built once and then immutable. A route or ICMP change builds a
// new one (same interfaces and ports) and publishes it; the old one is freed after a grace period.
struct runtime {
    uint64_t generation = 0;
    // Unique per build in the process: a worker that last saw a freed runtime cannot mistake a
    // new one allocated at the same address for it (pointer comparison alone would).
    uint64_t serial = 0;
    std::vector<interface_rt> interfaces;
    port_map ports[max_ports];
    std::unique_ptr<route_table> routes;
    std::vector<next_hop> on_link;        // per interface: its directly attached link (link-local peers)
    neighbor_table* neighbors = nullptr;  // owned by the control plane; lock-free reads
    uint32_t icmp_errors_per_second = 1000;
    uint32_t icmp_errors_burst = 100;
};

// Builds the runtime tables from a validated config. `port_of[i]` and `port_mac[i]` give
// interface i's DPDK port and the MAC the port reported (used when the config sets none).
// Route gateways get pinned slots in `neighbors`; `name` must be unique per process.
result<std::unique_ptr<runtime>> build_runtime(const policy::config& cfg, const std::vector<uint16_t>& port_of,
                                               const std::vector<rte_ether_addr>& port_mac, neighbor_table& neighbors,
                                               const std::string& name);

// The neighbor-table slots pinned for `rt`'s route gateways.
std::vector<uint32_t> gateway_slots(const runtime& rt);

// Control path. Route gateways pinned by none of the `live` runtimes (the published one and any
// built but not yet published) lose their pin: unresolved ones (none, failed) are removed, the
// others become ordinary neighbors that age out. Call only once no worker can still hold a
// runtime that is not in `live` (after the grace period that follows its unpublishing, or when it
// was never published). Returns the number of slots unpinned.
unsigned unpin_unused_gateways(neighbor_table& neighbors, const std::vector<const runtime*>& live);

}  // namespace meshgate::dataplane
