#pragma once
// The worker's packet path: parse, classify (ARP/ND to the control lcore, own addresses,
// forwarding), route by longest-prefix match, TTL/hop limit, MTU (fragment or ICMP), neighbor
// rewrite, and the batch of packets to transmit. No allocation except mbufs from the pool, no
// locks, syscalls, logging or exceptions.
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "dataplane/counters.hpp"
#include "dataplane/neighbor.hpp"
#include "dataplane/packet_parse.hpp"
#include "dataplane/runtime.hpp"

struct rte_ring;
struct rte_mempool;

namespace meshgate::dataplane::l4 {
class l4_worker;
struct l4_runtime;
}  // namespace meshgate::dataplane::l4
namespace meshgate::dataplane::tcp {
class tcp_proxy;
}

namespace meshgate::dataplane {

// Where the main lcore publishes tables that change while workers run (config reload, backend
// health); workers load them once per burst. The old ones are freed after every worker's
// quiescent point (rte_rcu_qsbr).
struct published_tables {
    std::atomic<const runtime*> rt{nullptr};
    std::atomic<const l4::l4_runtime*> l4{nullptr};
};

inline constexpr uint16_t burst_size = 32;
// Per port per burst: 32 packets, each up to 8 fragments plus an ICMP message, plus injected.
inline constexpr uint16_t tx_batch_max = 512;

// What a worker hands the control lcore, in the mbuf's private area.
struct punt_meta {
    enum kind_t : uint8_t { arp = 1, nd = 2, resolve = 3, probe = 4 };
    uint8_t kind;
    uint16_t ifindex;     // arp/nd: ingress interface
    uint16_t in_ifindex;  // resolve: ingress interface (no_interface: originated here)
    neighbor_key target;  // resolve: the neighbor (egress interface, family, address)
};

inline constexpr uint16_t mbuf_priv_size = (sizeof(punt_meta) + RTE_MBUF_PRIV_ALIGN - 1) & ~(RTE_MBUF_PRIV_ALIGN - 1);

inline punt_meta* meta_of(rte_mbuf* m) noexcept {
    return static_cast<punt_meta*>(rte_mbuf_to_priv(m));
}

// Packets to transmit, bucketed by port, filled by one worker during one loop iteration.
struct tx_batch {
    uint16_t count[max_ports];
    uint16_t used[max_ports];  // ports with count > 0, in first-use order
    uint16_t n_used;
    rte_mbuf* pkts[max_ports][tx_batch_max];

    void clear() noexcept {
        for (uint16_t i = 0; i < n_used; ++i) count[used[i]] = 0;
        n_used = 0;
    }
};

// Writes Ethernet (and an 802.1Q tag when `vlan` is set) in front of the IP header, for output
// on `port`. MACs come as words (mac_to_word). The mbuf starts with `l2_have` bytes of an old L2
// header (0: it starts at the IP header); when the new header has the same length it is
// rewritten in place. False when the mbuf has no headroom left.
inline bool write_l2(rte_mbuf* m, uint16_t l2_have, uint16_t port, uint16_t vlan, uint64_t src, uint64_t dst,
                     uint16_t ether_type) noexcept {
    uint16_t l2 = vlan != 0 ? 18 : 14;
    uint8_t* h;
    if (l2_have == l2) {
        h = rte_pktmbuf_mtod(m, uint8_t*);
    } else {
        if (l2_have != 0) rte_pktmbuf_adj(m, l2_have);
        h = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, l2));
        if (h == nullptr) return false;
    }
    // Destination (6 bytes) then source (6): one 8-byte and one 4-byte store.
    uint64_t first = (dst & 0xffffffffffffULL) | (src << 48);
    auto second = static_cast<uint32_t>(src >> 16);
    std::memcpy(h, &first, 8);
    std::memcpy(h + 8, &second, 4);
    if (vlan != 0) {
        h[12] = 0x81;
        h[13] = 0x00;
        h[14] = static_cast<uint8_t>(vlan >> 8);
        h[15] = static_cast<uint8_t>(vlan);
        h += 4;
    }
    h[12] = static_cast<uint8_t>(ether_type >> 8);
    h[13] = static_cast<uint8_t>(ether_type);
    m->port = port;
    return true;
}

inline bool write_l2(rte_mbuf* m, uint16_t l2_have, const interface_rt& ifc, const rte_ether_addr& dst,
                     uint16_t ether_type) noexcept {
    return write_l2(m, l2_have, ifc.port, ifc.vlan, mac_to_word(ifc.mac), mac_to_word(dst), ether_type);
}

class forwarder {
public:
    // Thread contract: built on the main lcore, then used only by its worker lcore.
    forwarder(const runtime* rt, rte_mempool* pool, core_counters* counters, rte_ring* punt_ring,
              uint64_t tsc_hz) noexcept;

    // Attaches the L4 stage (sessions, NAT, firewall) and the published tables it and the routes
    // are read from. Before the worker starts.
    // `handoff` (optional): each worker's ring for packets of sessions it owns.
    void attach(l4::l4_worker* l4, const published_tables* pub, rte_ring* const* handoff = nullptr) noexcept {
        l4_ = l4;
        pub_ = pub;
        handoff_ = handoff;
    }
    // Attaches the worker's TCP stack and tcp-proxy (services of mode tcp-proxy). Before the
    // worker starts; after attach().
    void attach_proxy(tcp::tcp_proxy* proxy) noexcept;
    // The TCP stack's timers and output: routes what it wants sent into `out`. Once per loop
    // iteration. True when it queued anything.
    bool service_tcp(uint64_t now, tx_batch& out) noexcept;

    // Switches to another runtime (same interfaces and ports; other routes or ICMP limits).
    // Workers do this themselves from the published tables, once per burst; this is for a
    // forwarder nobody attached tables to (the control lcore's), on its own thread.
    void set_runtime(const runtime* rt) noexcept { adopt(rt); }

    // Packets another worker handed over (m->port is their ingress port); not counted as RX again.
    void process_handoff(rte_mbuf** pkts, uint16_t n, uint64_t now, tx_batch& out) noexcept;
    // Session expiry; call once per loop iteration.
    void poll(uint64_t now) noexcept;

    // Handles a received burst from `port`, filling `out`.
    void process(uint16_t port, rte_mbuf** pkts, uint16_t n, uint64_t now, tx_batch& out) noexcept;
    // Queues packets built by the control lcore (L2 already written, m->port set).
    void enqueue_injected(rte_mbuf** pkts, uint16_t n, tx_batch& out) noexcept;

    // Sends an IP packet to next hop `nh`: neighbor lookup, Ethernet rewrite and queueing, or a
    // hand-off (IP header first) to the control lcore for resolution. The mbuf starts with
    // `l2_have` bytes of the received L2 header, or at the IP header (0).
    void emit4(rte_mbuf* m, uint16_t l2_have, const next_hop& nh, uint32_t dst, uint16_t in_ifindex,
               tx_batch& out) noexcept;
    void emit6(rte_mbuf* m, uint16_t l2_have, const next_hop& nh, const uint8_t* dst, uint16_t in_ifindex,
               tx_batch& out) noexcept;

    // ICMP host unreachable (ICMPv6 address unreachable) about a packet, IP header first, whose
    // next hop never answered (RFC 1812 4.3.3.1, RFC 4443 3.1 code 3); rate limited like every
    // error. Used by the control lcore's own forwarder.
    void unreachable(const rte_mbuf* m, uint8_t family, uint16_t in_ifindex, uint64_t now, tx_batch& out) noexcept;

private:
    void handle(uint16_t port, rte_mbuf* m, uint64_t now, tx_batch& out) noexcept;
    void refresh() noexcept;
    void adopt(const runtime* rt) noexcept;
    void hand_off(uint16_t port, rte_mbuf* m, unsigned owner) noexcept;
    bool l4_stage(uint16_t port, rte_mbuf* m, packet_info& info, uint16_t ifindex, uint64_t now,
                  tx_batch& out) noexcept;
    // A packet the L4 stage translated to the other family (IP header first): route and send.
    void forward_translated(uint16_t port, rte_mbuf* m, uint16_t ifindex, tx_batch& out) noexcept;
    void handle_ipv4(uint16_t port, rte_mbuf* m, packet_info& info, uint16_t ifindex, uint64_t now,
                     tx_batch& out) noexcept;
    void handle_ipv6(uint16_t port, rte_mbuf* m, packet_info& info, uint16_t ifindex, uint64_t now,
                     tx_batch& out) noexcept;
    void local_ipv4(uint16_t port, rte_mbuf* m, const packet_info& info, uint16_t ifindex, uint64_t now,
                    tx_batch& out) noexcept;
    void local_ipv6(uint16_t port, rte_mbuf* m, const packet_info& info, uint16_t ifindex, uint64_t now,
                    tx_batch& out) noexcept;
    void fragment4(uint16_t port, rte_mbuf* m, const next_hop& nh, uint32_t dst, uint16_t ifindex,
                   tx_batch& out) noexcept;
    void icmp4_error(const uint8_t* ip, const packet_info& info, uint16_t ifindex, uint8_t type, uint8_t code,
                     uint32_t rest, uint64_t now, tx_batch& out) noexcept;
    void icmp6_error(const uint8_t* ip, const packet_info& info, uint16_t ifindex, uint8_t type, uint8_t code,
                     uint32_t param, uint64_t now, tx_batch& out) noexcept;
    bool icmp_token(uint64_t now) noexcept;
    const next_hop* route6_to(const uint8_t* dst, uint16_t ifindex) const noexcept;
    void punt(uint16_t port, rte_mbuf* m) noexcept;
    void punt_nd(uint16_t port, rte_mbuf* m, uint16_t ifindex) noexcept;
    // A health probe's answer, IP header first, to the control lcore.
    void punt_probe(uint16_t port, rte_mbuf* m, const packet_info& info) noexcept;
    // Rewrite and queue with the neighbor's MAC word, or (0) hand to the control lcore to resolve
    // `target` (nullptr: the route's pinned gateway).
    void send_to(rte_mbuf* m, uint16_t l2_have, const next_hop& nh, uint64_t mac, uint16_t ether_type,
                 const neighbor_key* target, uint16_t in_ifindex, tx_batch& out) noexcept;
    void drop(uint16_t port, rte_mbuf* m, drop_reason r) noexcept {
        count(ctr_->ports[port].drops[static_cast<unsigned>(r)]);
        rte_pktmbuf_free(m);
    }
    void queue_tx(rte_mbuf* m, tx_batch& out) noexcept;
    // An IP packet the TCP stack built (IP header first): route and send, or drop.
    void send_local(rte_mbuf* m, tx_batch& out) noexcept;
    uint64_t micros(uint64_t tsc) const noexcept { return tsc / cycles_per_us_; }

    const runtime* rt_;
    tcp::tcp_proxy* proxy_ = nullptr;
    uint64_t cycles_per_us_ = 1;
    uint64_t rt_serial_;  // rt_->serial: rt_ may be freed and its address reused (see refresh)
    l4::l4_worker* l4_ = nullptr;
    const published_tables* pub_ = nullptr;
    rte_ring* const* handoff_ = nullptr;
    bool l4_on_ = false;   // the adopted L4 runtime has something to do
    route_lookup routes_;  // copy of rt_->routes->lookup(): one load to the tables
    const neighbor_table* neighbors_;
    rte_mempool* pool_;
    core_counters* ctr_;
    rte_ring* punt_ring_;
    uint64_t tsc_hz_;
    uint64_t icmp_cost_;  // TSC cycles of credit one ICMP error costs
    uint64_t icmp_cap_;   // bucket size in cycles of credit
    uint64_t icmp_credit_ = 0;
    uint64_t icmp_last_ = 0;
};

}  // namespace meshgate::dataplane
