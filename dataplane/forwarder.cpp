#include "dataplane/forwarder.hpp"
#include "dataplane/wire.hpp"

#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "dataplane/icmp.hpp"
#include "dataplane/l4/l4_worker.hpp"
#include "dataplane/neighbor.hpp"
#include "dataplane/tcp/tcp_proxy.hpp"

namespace meshgate::dataplane {
namespace {

using namespace wire;

// Enough for a 9000-byte packet over a 576-byte MTU, or 1500 bytes over 68; beyond that the
// packet is dropped as fragmentation_failed.
constexpr unsigned max_fragments = 32;

// Drops any Ethernet padding after the IP packet.
inline void trim_padding(rte_mbuf* m, const packet_info& info) noexcept {
    uint32_t end = uint32_t{info.l3_offset} + info.ip_total;
    if (m->data_len > end) rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - end));
}

// Drops the L2 header and any Ethernet padding after the IP packet.
inline void strip_to_ip(rte_mbuf* m, const packet_info& info) noexcept {
    trim_padding(m, info);
    rte_pktmbuf_adj(m, info.l3_offset);
}

inline bool is_solicited_node(const uint8_t* a) noexcept {
    // ff02::1:ffXX:XXXX (RFC 4291 2.7.1)
    static constexpr uint8_t prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    return std::memcmp(a, prefix, 13) == 0;
}

inline bool is_all_nodes(const uint8_t* a) noexcept {
    static constexpr uint8_t all[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(a, all, 16) == 0;
}

}  // namespace

forwarder::forwarder(const runtime* rt, rte_mempool* pool, core_counters* counters, rte_ring* punt_ring,
                     uint64_t tsc_hz) noexcept
    : rt_(nullptr),
      rt_serial_(0),
      neighbors_(rt->neighbors),
      pool_(pool),
      ctr_(counters),
      punt_ring_(punt_ring),
      tsc_hz_(tsc_hz) {
    adopt(rt);
    icmp_credit_ = icmp_cap_;
}

void forwarder::adopt(const runtime* rt) noexcept {
    rt_ = rt;
    rt_serial_ = rt->serial;
    routes_ = rt->routes->lookup();
    neighbors_ = rt->neighbors;
    uint32_t rate = rt->icmp_errors_per_second == 0 ? 1 : rt->icmp_errors_per_second;
    icmp_cost_ = tsc_hz_ / rate;
    icmp_cap_ = icmp_cost_ * (rt->icmp_errors_burst == 0 ? 1 : rt->icmp_errors_burst);
    if (icmp_credit_ > icmp_cap_) icmp_credit_ = icmp_cap_;
}

void forwarder::refresh() noexcept {
    const runtime* rt = pub_->rt.load(std::memory_order_acquire);
    // The serial too: the runtime this worker last used may have been freed since (its last
    // burst was before the grace period) and a new one allocated at the same address.
    if (rt != nullptr && (rt != rt_ || rt->serial != rt_serial_)) adopt(rt);
    const l4::l4_runtime* l4 = pub_->l4.load(std::memory_order_acquire);
    if (l4_->is_new(l4)) {
        l4_->adopt(l4);
        if (proxy_ != nullptr) proxy_->adopt(l4, micros(rte_rdtsc()));
    }
    l4_on_ = l4 != nullptr && l4->active();
}

void forwarder::poll(uint64_t now) noexcept {
    if (l4_ != nullptr && l4_->current() != nullptr) l4_->poll(now);
}

void forwarder::forward_translated(uint16_t port, rte_mbuf* m, uint16_t ifindex, tx_batch& out) noexcept {
    uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*);
    if ((ip[0] >> 4) == 6) {
        const next_hop* nh = routes_.lookup6(ip + 24);
        if (nh == nullptr || nh->kind != nh_kind::forward) return drop(port, m, drop_reason::no_route);
        if (ip[7] <= 1) return drop(port, m, drop_reason::ttl_exceeded);
        if (m->pkt_len > nh->mtu) return drop(port, m, drop_reason::mtu_exceeded);
        ip[7] = static_cast<uint8_t>(ip[7] - 1);
        uint8_t dst[16];
        std::memcpy(dst, ip + 24, 16);
        return emit6(m, 0, *nh, dst, ifindex, out);
    }
    uint32_t dst = rd32(ip + 16);
    const next_hop* nh = routes_.lookup4(dst);
    if (nh == nullptr || nh->kind != nh_kind::forward) return drop(port, m, drop_reason::no_route);
    if (ip[8] <= 1) return drop(port, m, drop_reason::ttl_exceeded);
    uint16_t old_word = rd16(ip + 8);
    auto new_word = static_cast<uint16_t>(old_word - 0x0100);
    wr16(ip + 8, new_word);
    wr16(ip + 10, checksum_adjust(rd16(ip + 10), old_word, new_word));
    if (m->pkt_len > nh->mtu) {
        if ((ip[6] & 0x40) != 0) return drop(port, m, drop_reason::mtu_exceeded);
        return fragment4(port, m, *nh, dst, ifindex, out);
    }
    emit4(m, 0, *nh, dst, ifindex, out);
}

void forwarder::attach_proxy(tcp::tcp_proxy* proxy) noexcept {
    proxy_ = proxy;
    cycles_per_us_ = tsc_hz_ / 1000000 == 0 ? 1 : tsc_hz_ / 1000000;
    if (l4_ != nullptr && l4_->current() != nullptr) proxy_->adopt(l4_->current(), micros(rte_rdtsc()));
}

bool forwarder::service_tcp(uint64_t now, tx_batch& out) noexcept {
    if (proxy_ == nullptr) return false;
    proxy_->poll(micros(now));
    if (proxy_->pending_output() == 0) return false;
    // At most a burst's worth of TX room per call; the rest waits in the stack's queue.
    rte_mbuf* pkts[256];
    uint16_t n = proxy_->drain(pkts, 256);
    for (uint16_t i = 0; i < n; ++i) send_local(pkts[i], out);
    return n > 0;
}

void forwarder::send_local(rte_mbuf* m, tx_batch& out) noexcept {
    uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*);
    if ((ip[0] >> 4) == 6) {
        const next_hop* nh = routes_.lookup6(ip + 24);
        if (nh == nullptr || nh->kind != nh_kind::forward) return drop(0, m, drop_reason::no_route);
        if (m->pkt_len > nh->mtu) return drop(0, m, drop_reason::mtu_exceeded);
        uint8_t dst[16];
        std::memcpy(dst, ip + 24, 16);
        return emit6(m, 0, *nh, dst, no_interface, out);
    }
    uint32_t dst = rd32(ip + 16);
    const next_hop* nh = routes_.lookup4(dst);
    if (nh == nullptr || nh->kind != nh_kind::forward) return drop(0, m, drop_reason::no_route);
    if (m->pkt_len > nh->mtu) return drop(0, m, drop_reason::mtu_exceeded);
    emit4(m, 0, *nh, dst, no_interface, out);
}

void forwarder::process_handoff(rte_mbuf** pkts, uint16_t n, uint64_t now, tx_batch& out) noexcept {
    if (l4_ != nullptr) refresh();
    if (proxy_ != nullptr) proxy_->stack().begin_batch();
    for (uint16_t i = 0; i < n; ++i) handle(pkts[i]->port, pkts[i], now, out);
    if (proxy_ != nullptr) proxy_->stack().end_batch();
}

void forwarder::hand_off(uint16_t port, rte_mbuf* m, unsigned owner) noexcept {
    m->port = port;
    if (handoff_ == nullptr || rte_ring_mp_enqueue(handoff_[owner], m) != 0)
        return drop(port, m, drop_reason::worker_handoff_full);
}

void forwarder::process(uint16_t port, rte_mbuf** pkts, uint16_t n, uint64_t now, tx_batch& out) noexcept {
    if (l4_ != nullptr) refresh();
    if (proxy_ != nullptr) proxy_->stack().begin_batch();
    if (l4_on_) {
        // Session lookups for the whole burst at once (see l4_worker::stage).
        l4_->begin_burst();
        for (uint16_t i = 0; i < n; ++i) {
            rte_mbuf* m = pkts[i];
            packet_info info;
            if (m->nb_segs == 1 &&
                parse_packet_fast(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, info, false) == drop_reason::none)
                l4_->stage(m, info);
        }
        l4_->lookup_staged();
    }
    auto& pc = ctr_->ports[port];
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n && i < 4; ++i) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
    for (uint16_t i = 0; i < n; ++i) {
        if (i + 4 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void*));
        bytes += pkts[i]->pkt_len;
        handle(port, pkts[i], now, out);
    }
    count(pc.rx_packets, n);
    count(pc.rx_bytes, bytes);
    if (proxy_ != nullptr) proxy_->stack().end_batch();
}

void forwarder::enqueue_injected(rte_mbuf** pkts, uint16_t n, tx_batch& out) noexcept {
    for (uint16_t i = 0; i < n; ++i) queue_tx(pkts[i], out);
}

void forwarder::queue_tx(rte_mbuf* m, tx_batch& out) noexcept {
    // IEEE 802.3 minimum frame (60 bytes before the FCS, 64 with an 802.1Q tag): zero-padded here
    // rather than trusting every NIC and virtual port to do it.
    if (m->pkt_len < 64) [[unlikely]] {
        const uint8_t* h = rte_pktmbuf_mtod(m, const uint8_t*);
        uint32_t min = (m->pkt_len >= 14 && h[12] == 0x81 && h[13] == 0x00) ? 64 : 60;
        if (m->pkt_len < min) {
            auto gap = static_cast<uint16_t>(min - m->pkt_len);
            if (char* tail = rte_pktmbuf_append(m, gap)) std::memset(tail, 0, gap);
        }
    }
    uint16_t p = m->port;
    uint16_t c = out.count[p];
    if (c >= tx_batch_max) {
        count(ctr_->ports[p].drops[static_cast<unsigned>(drop_reason::tx_full)]);
        rte_pktmbuf_free(m);
        return;
    }
    if (c == 0) out.used[out.n_used++] = p;
    out.pkts[p][c] = m;
    out.count[p] = static_cast<uint16_t>(c + 1);
}

void forwarder::punt(uint16_t port, rte_mbuf* m) noexcept {
    if (rte_ring_sp_enqueue(punt_ring_, m) != 0) {
        drop(port, m, drop_reason::control_ring_full);
        return;
    }
    count(ctr_->punted);
}

void forwarder::punt_probe(uint16_t port, rte_mbuf* m, const packet_info& info) noexcept {
    strip_to_ip(m, info);
    meta_of(m)->kind = punt_meta::probe;
    punt(port, m);
}

void forwarder::punt_nd(uint16_t port, rte_mbuf* m, uint16_t ifindex) noexcept {
    auto* meta = meta_of(m);
    meta->kind = punt_meta::nd;
    meta->ifindex = ifindex;
    punt(port, m);
}

void forwarder::handle(uint16_t port, rte_mbuf* m, uint64_t now, tx_batch& out) noexcept {
    if (m->nb_segs != 1) return drop(port, m, drop_reason::multi_segment);
    const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
    packet_info info;
    bool ck_good = (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD;
    if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD)
        return drop(port, m, drop_reason::ipv4_bad_checksum);
    drop_reason r = parse_packet_fast(data, m->data_len, info, ck_good);
    if (r != drop_reason::none) return drop(port, m, r);
    uint16_t ifindex = rt_->ports[port].lookup(info.vlan);
    if (ifindex == no_interface) return drop(port, m, drop_reason::vlan_unknown);
    const auto& ifc = rt_->interfaces[ifindex];
    if ((data[0] & 1) == 0 && std::memcmp(data, ifc.mac.addr_bytes, 6) != 0)
        return drop(port, m, drop_reason::l2_not_for_us);
    switch (info.l3) {
        case l3_kind::ipv4:
            return handle_ipv4(port, m, info, ifindex, now, out);
        case l3_kind::ipv6:
            return handle_ipv6(port, m, info, ifindex, now, out);
        case l3_kind::arp: {
            auto* meta = meta_of(m);
            meta->kind = punt_meta::arp;
            meta->ifindex = ifindex;
            return punt(port, m);
        }
    }
}

// The L4 stage for an IPv4 or IPv6 packet. True when it consumed the packet (dropped, handed to
// another worker or the control lcore, translated and sent, or answered with an ICMP error);
// false: route it as it now is.
bool forwarder::l4_stage(uint16_t port, rte_mbuf* m, packet_info& info, uint16_t ifindex, uint64_t now,
                         tx_batch& out) noexcept {
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, info.l3_offset);
    bool v6 = info.l3 == l3_kind::ipv6;
    auto error = [&](uint8_t type4, uint8_t code4, uint8_t type6, uint32_t value) {
        if (v6) {
            icmp6_error(ip, info, ifindex, type6, 0, value, now, out);
        } else {
            icmp4_error(ip, info, ifindex, type4, code4, value, now, out);
        }
    };
    if (ip[v6 ? 7 : 8] <= 1) {
        // Expiring on the way (to a VIP as to anyone): time exceeded about the packet as sent.
        const next_hop* nh = v6 ? routes_.lookup6(ip + 24) : routes_.lookup4(rd32(ip + 16));
        if (nh == nullptr || nh->kind != nh_kind::local) {
            error(icmp4::time_exceeded, 0, icmp6::time_exceeded, 0);
            drop(port, m, drop_reason::ttl_exceeded);
            return true;
        }
    }
    if (proxy_ != nullptr && info.l4_proto == ip_proto::tcp && info.has_l4 && !info.is_fragment) {
        // Segments of the TCP stack's connections (clients of tcp-proxy VIPs, replies from their
        // backends) go to it directly; new ones pass the firewall and limits first (below).
        const uint8_t* th = rte_pktmbuf_mtod_offset(m, const uint8_t*, info.l4_offset);
        const uint8_t* src = v6 ? ip + 8 : ip + 12;
        const uint8_t* dst = v6 ? ip + 24 : ip + 16;
        if (proxy_->input_connected(m, info.l3_offset, v6 ? 6 : 4, src, rd16(th), dst, rd16(th + 2), routes_,
                                    micros(now)))
            return true;
    }
    drop_reason why = drop_reason::nat_untranslatable;
    unsigned owner = 0;
    switch (l4_->process(m, info, ifindex, routes_, now, why, owner)) {
        case l4::verdict::terminate:
            if (proxy_ == nullptr) {
                drop(port, m, drop_reason::tcp_no_session);
                return true;
            }
            strip_to_ip(m, info);
            proxy_->input(m, routes_, micros(now));
            return true;
        case l4::verdict::pass:
            return false;
        case l4::verdict::drop:
            drop(port, m, why);
            return true;
        case l4::verdict::handoff:
            hand_off(port, m, owner);
            return true;
        case l4::verdict::xlated:
            forward_translated(port, m, ifindex, out);
            return true;
        case l4::verdict::probe:
            punt_probe(port, m, info);
            return true;
        case l4::verdict::too_big:
            // RFC 1191 (frag-needed, MTU in the low 16 bits) / RFC 4443 3.2 (packet too big).
            error(icmp4::dest_unreachable, icmp4::code_frag_needed, icmp6::packet_too_big, v6 ? owner : owner & 0xffff);
            drop(port, m, drop_reason::mtu_exceeded);
            return true;
    }
    return false;
}

void forwarder::handle_ipv4(uint16_t port, rte_mbuf* m, packet_info& info, uint16_t ifindex, uint64_t now,
                            tx_batch& out) noexcept {
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, info.l3_offset);
    uint32_t src = rd32(ip + 12);
    uint32_t dst = rd32(ip + 16);
    // RFC 1812 5.3.7: martian sources are not forwarded, nor answered.
    if (src == 0xffffffff || (src >> 28) >= 0xe || (src >> 24) == 127 || (src >> 24) == 0)
        return drop(port, m, drop_reason::ipv4_bad_source);
    if ((dst >> 28) == 0xe) return drop(port, m, drop_reason::multicast_unsupported);
    if ((dst >> 28) == 0xf || (dst >> 24) == 127 || (dst >> 24) == 0)
        return drop(port, m, drop_reason::ipv4_bad_destination);
    if (l4_on_) {
        if (l4_stage(port, m, info, ifindex, now, out)) return;
        src = rd32(ip + 12);  // NAT may have rewritten them
        dst = rd32(ip + 16);
    }
    const next_hop* nh = routes_.lookup4(dst);
    bool local = nh != nullptr && nh->kind == nh_kind::local;
    // RFC 1812 5.3.4: a unicast packet for someone else in a link-layer broadcast or multicast
    // frame is discarded, and draws no error.
    if (!local && (rte_pktmbuf_mtod(m, const uint8_t*)[0] & 1) != 0)
        return drop(port, m, drop_reason::l2_group_not_routed);
    if (!local && ((src >> 16) == 0xa9fe || (dst >> 16) == 0xa9fe))
        return drop(port, m, drop_reason::ipv4_link_local_forward);
    if (nh == nullptr) {
        icmp4_error(ip, info, ifindex, icmp4::dest_unreachable, icmp4::code_net_unreachable, 0, now, out);
        return drop(port, m, drop_reason::no_route);
    }
    if (nh->kind == nh_kind::local) return local_ipv4(port, m, info, ifindex, now, out);
    if (nh->kind == nh_kind::broadcast) return drop(port, m, drop_reason::directed_broadcast);

    // RFC 1812 5.3.1: a packet that would leave with TTL 0 is dropped with time exceeded.
    uint8_t ttl = ip[8];
    if (ttl <= 1) {
        icmp4_error(ip, info, ifindex, icmp4::time_exceeded, 0, 0, now, out);
        return drop(port, m, drop_reason::ttl_exceeded);
    }
    bool too_big = info.ip_total > nh->mtu;
    bool df = (ip[6] & 0x40) != 0;
    if (too_big && df) {
        // RFC 1191 4: code 4 with the next-hop MTU in the low 16 bits.
        icmp4_error(ip, info, ifindex, icmp4::dest_unreachable, icmp4::code_frag_needed, nh->mtu & 0xffff, now, out);
        return drop(port, m, drop_reason::mtu_exceeded);
    }
    // TTL lives in the high byte of the word shared with the protocol (RFC 1624 update).
    // Computed in registers: writing the TTL byte and reading the word back would stall on
    // store-to-load forwarding.
    uint16_t old_word = rd16(ip + 8);
    auto new_word = static_cast<uint16_t>(old_word - 0x0100);
    wr16(ip + 8, new_word);
    wr16(ip + 10, checksum_adjust(rd16(ip + 10), old_word, new_word));
    if (too_big) {
        strip_to_ip(m, info);
        return fragment4(port, m, *nh, dst, ifindex, out);
    }
    trim_padding(m, info);
    emit4(m, info.l3_offset, *nh, dst, ifindex, out);
}

void forwarder::fragment4(uint16_t port, rte_mbuf* m, const next_hop& nh, uint32_t dst, uint16_t ifindex,
                          tx_batch& out) noexcept {
    rte_mbuf* frags[max_fragments];
    // Single-segment fragments (copied), so that every PMD can send them without multi-segment
    // TX support, and the control lcore can parse them if they wait for a neighbor.
    int32_t n = rte_ipv4_fragment_copy_nonseg_packet(m, frags, max_fragments, static_cast<uint16_t>(nh.mtu), pool_);
    rte_pktmbuf_free(m);
    if (n < 0) {
        count(ctr_->ports[port].drops[static_cast<unsigned>(drop_reason::fragmentation_failed)]);
        return;
    }
    for (int32_t i = 0; i < n; ++i) {
        auto* h = rte_pktmbuf_mtod(frags[i], rte_ipv4_hdr*);
        h->hdr_checksum = 0;
        h->hdr_checksum = rte_ipv4_cksum(h);
        emit4(frags[i], 0, nh, dst, ifindex, out);
    }
    count(ctr_->fragments_sent, static_cast<uint64_t>(n));
}

void forwarder::local_ipv4(uint16_t port, rte_mbuf* m, const packet_info& info, uint16_t ifindex, uint64_t now,
                           tx_batch& out) noexcept {
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, info.l3_offset);
    if (info.l4_proto == ip_proto::udp && info.has_l4) {
        // RFC 1812 4.3.2.4 / RFC 1122: UDP to a port nobody serves draws port unreachable
        // (what traceroute expects from the last hop).
        icmp4_error(ip, info, ifindex, icmp4::dest_unreachable, icmp4::code_port_unreachable, 0, now, out);
        return drop(port, m, drop_reason::local_unsupported);
    }
    if (info.l4_proto != ip_proto::icmp || !info.has_l4 || info.is_fragment)
        return drop(port, m, drop_reason::local_unsupported);
    uint8_t* icmp = ip + info.l3_len;
    uint32_t icmp_len = info.ip_total - info.l3_len;
    if (icmp[0] != icmp4::echo_request) return drop(port, m, drop_reason::local_unsupported);
    if (icmp_len < 8 || rte_raw_cksum(icmp, icmp_len) != 0xffff) return drop(port, m, drop_reason::icmp_malformed);
    // RFC 792 echo reply: addresses swapped, type 0, the rest as received.
    uint8_t tmp[4];
    std::memcpy(tmp, ip + 12, 4);
    std::memcpy(ip + 12, ip + 16, 4);
    std::memcpy(ip + 16, tmp, 4);
    ip[8] = 64;
    ip[1] = 0;
    wr16(ip + 10, 0);
    auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
    h->hdr_checksum = rte_ipv4_cksum(h);
    uint16_t old_word = rd16(icmp);
    icmp[0] = icmp4::echo_reply;
    wr16(icmp + 2, checksum_adjust(rd16(icmp + 2), old_word, rd16(icmp)));
    uint32_t dst = rd32(ip + 16);
    trim_padding(m, info);
    const next_hop* nh = routes_.lookup4(dst);
    if (nh == nullptr || nh->kind != nh_kind::forward) return drop(port, m, drop_reason::no_route);
    count(ctr_->icmp_echo_replies);
    emit4(m, info.l3_offset, *nh, dst, no_interface, out);
}

void forwarder::handle_ipv6(uint16_t port, rte_mbuf* m, packet_info& info, uint16_t ifindex, uint64_t now,
                            tx_batch& out) noexcept {
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, info.l3_offset);
    const uint8_t* src = ip + 8;
    const uint8_t* dst = ip + 24;
    static constexpr uint8_t loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr uint8_t unspecified[16] = {};
    bool nd = info.has_l4 && info.l4_proto == ip_proto::icmpv6 &&
              (ip[info.l3_len] == icmp6::neighbor_solicit || ip[info.l3_len] == icmp6::neighbor_advert);
    // RFC 4291 2.5.2/2.5.3: never from multicast or loopback, never to loopback or unspecified.
    // The unspecified source is legal only for duplicate address detection (an NS).
    if (src[0] == 0xff || std::memcmp(src, loopback, 16) == 0 || (!nd && std::memcmp(src, unspecified, 16) == 0))
        return drop(port, m, drop_reason::ipv6_bad_source);
    if (std::memcmp(dst, loopback, 16) == 0 || std::memcmp(dst, unspecified, 16) == 0)
        return drop(port, m, drop_reason::ipv6_bad_destination);
    // IPv4-mapped addresses (::ffff:0:0/96) never appear on the wire (RFC 4291 2.5.5.2).
    static constexpr uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(src, v4mapped, 12) == 0) return drop(port, m, drop_reason::ipv6_bad_source);
    if (std::memcmp(dst, v4mapped, 12) == 0) return drop(port, m, drop_reason::ipv6_bad_destination);
    if (dst[0] == 0xff) {
        if (nd && (is_solicited_node(dst) || is_all_nodes(dst))) return punt_nd(port, m, ifindex);
        return drop(port, m, drop_reason::multicast_unsupported);
    }
    if (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80) {
        // NS/NA to a link-local address: ours or not, the control lcore decides.
        if (nd) return punt_nd(port, m, ifindex);
        return drop(port, m, drop_reason::ipv6_link_local_forward);
    }
    // Neighbor discovery to our own addresses is link business, never the firewall's.
    if (l4_on_ && !nd && l4_stage(port, m, info, ifindex, now, out)) return;
    const next_hop* nh = routes_.lookup6(dst);
    bool local = nh != nullptr && nh->kind == nh_kind::local;
    if (!local && (rte_pktmbuf_mtod(m, const uint8_t*)[0] & 1) != 0)
        return drop(port, m, drop_reason::l2_group_not_routed);
    if (nh == nullptr) {
        icmp6_error(ip, info, ifindex, icmp6::dest_unreachable, icmp6::code_no_route, 0, now, out);
        return drop(port, m, drop_reason::no_route);
    }
    if (nh->kind == nh_kind::local) {
        if (nd) {
            return punt_nd(port, m, ifindex);
        }
        return local_ipv6(port, m, info, ifindex, now, out);
    }
    // RFC 4291 2.5.6: packets with a link-local source are not forwarded; RFC 4443 3.1 code 2
    // (beyond the scope of the source address) tells the sender.
    if (src[0] == 0xfe && (src[1] & 0xc0) == 0x80) {
        icmp6_error(ip, info, ifindex, icmp6::dest_unreachable, icmp6::code_beyond_scope, 0, now, out);
        return drop(port, m, drop_reason::ipv6_link_local_forward);
    }
    uint8_t hop_limit = ip[7];
    if (hop_limit <= 1) {
        icmp6_error(ip, info, ifindex, icmp6::time_exceeded, 0, 0, now, out);
        return drop(port, m, drop_reason::ttl_exceeded);
    }
    if (info.ip_total > nh->mtu) {
        // RFC 8200 5 / RFC 4443 3.2: routers do not fragment IPv6; packet too big with the MTU.
        icmp6_error(ip, info, ifindex, icmp6::packet_too_big, 0, nh->mtu, now, out);
        return drop(port, m, drop_reason::mtu_exceeded);
    }
    ip[7] = static_cast<uint8_t>(hop_limit - 1);
    uint8_t dst_copy[16];
    std::memcpy(dst_copy, dst, 16);
    trim_padding(m, info);
    emit6(m, info.l3_offset, *nh, dst_copy, ifindex, out);
}

void forwarder::local_ipv6(uint16_t port, rte_mbuf* m, const packet_info& info, uint16_t ifindex, uint64_t now,
                           tx_batch& out) noexcept {
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, info.l3_offset);
    if (info.l4_proto == ip_proto::udp && info.has_l4) {
        icmp6_error(ip, info, ifindex, icmp6::dest_unreachable, icmp6::code_port_unreachable, 0, now, out);
        return drop(port, m, drop_reason::local_unsupported);
    }
    if (info.l4_proto != ip_proto::icmpv6 || !info.has_l4 || info.is_fragment)
        return drop(port, m, drop_reason::local_unsupported);
    uint8_t* icmp = ip + info.l3_len;
    uint32_t icmp_len = info.ip_total - info.l3_len;
    if (icmp[0] != icmp6::echo_request) return drop(port, m, drop_reason::local_unsupported);
    if (icmp_len < 8 || icmp6_checksum(ip + 8, ip + 24, icmp, icmp_len) != 0)
        return drop(port, m, drop_reason::icmp_malformed);
    // RFC 4443 4.2: the reply goes from the address the request was sent to.
    uint8_t tmp[16];
    std::memcpy(tmp, ip + 8, 16);
    std::memcpy(ip + 8, ip + 24, 16);
    std::memcpy(ip + 24, tmp, 16);
    ip[7] = 64;
    uint16_t old_word = rd16(icmp);
    icmp[0] = icmp6::echo_reply;
    wr16(icmp + 2, checksum_adjust(rd16(icmp + 2), old_word, rd16(icmp)));
    trim_padding(m, info);
    const next_hop* nh = route6_to(tmp, ifindex);
    if (nh == nullptr || nh->kind != nh_kind::forward) return drop(port, m, drop_reason::no_route);
    count(ctr_->icmp_echo_replies);
    emit6(m, info.l3_offset, *nh, tmp, no_interface, out);
}

void forwarder::unreachable(const rte_mbuf* m, uint8_t family, uint16_t in_ifindex, uint64_t now,
                            tx_batch& out) noexcept {
    if (in_ifindex == no_interface) return;  // originated here: nobody to tell
    const uint8_t* ip = rte_pktmbuf_mtod(m, const uint8_t*);
    packet_info info;
    if (parse_ip(ip, m->data_len, family == 6, info) != drop_reason::none) return;
    if (family == 6) {
        icmp6_error(ip, info, in_ifindex, icmp6::dest_unreachable, icmp6::code_addr_unreachable, 0, now, out);
    } else {
        icmp4_error(ip, info, in_ifindex, icmp4::dest_unreachable, icmp4::code_host_unreachable, 0, now, out);
    }
}

bool forwarder::icmp_token(uint64_t now) noexcept {
    uint64_t credit = icmp_credit_ + (now - icmp_last_);
    icmp_last_ = now;
    if (credit > icmp_cap_ || credit < icmp_credit_) credit = icmp_cap_;
    if (credit < icmp_cost_) {
        icmp_credit_ = credit;
        return false;
    }
    icmp_credit_ = credit - icmp_cost_;
    return true;
}

// RFC 1812 4.3.2.4: an error goes from an address of the interface it leaves on; the ingress
// interface's address when that one has none.
void forwarder::icmp4_error(const uint8_t* ip, const packet_info& info, uint16_t ifindex, uint8_t type, uint8_t code,
                            uint32_t rest, uint64_t now, tx_batch& out) noexcept {
    if (!icmp4_error_permitted(ip, info)) return;
    uint32_t dst = rd32(ip + 12);
    // No error to a source that is one of our subnets' broadcast addresses (RFC 1812 4.3.2.7).
    const next_hop* nh = routes_.lookup4(dst);
    if (nh == nullptr || nh->kind != nh_kind::forward) return;
    uint32_t src = rt_->interfaces[nh->ifindex].ipv4_primary;
    if (src == 0) src = rt_->interfaces[ifindex].ipv4_primary;
    uint16_t port = rt_->interfaces[ifindex].port;
    if (src == 0) return;
    if (!icmp_token(now)) {
        count(ctr_->ports[port].drops[static_cast<unsigned>(drop_reason::icmp_rate_limited)]);
        return;
    }
    rte_mbuf* e = make_icmp4_error(pool_, ip, info.ip_total, src, type, code, rest);
    if (e == nullptr) {
        count(ctr_->ports[port].drops[static_cast<unsigned>(drop_reason::icmp_no_buffer)]);
        return;
    }
    count(ctr_->icmp_errors_sent);
    emit4(e, 0, *nh, dst, no_interface, out);
}

void forwarder::icmp6_error(const uint8_t* ip, const packet_info& info, uint16_t ifindex, uint8_t type, uint8_t code,
                            uint32_t param, uint64_t now, tx_batch& out) noexcept {
    if (!icmp6_error_permitted(ip, info, type == icmp6::packet_too_big)) return;
    uint8_t dst[16];
    std::memcpy(dst, ip + 8, 16);
    const next_hop* nh = route6_to(dst, ifindex);
    if (nh == nullptr || nh->kind != nh_kind::forward) return;
    const interface_rt* from = &rt_->interfaces[nh->ifindex];
    if (!from->has_ipv6) from = &rt_->interfaces[ifindex];
    uint16_t port = rt_->interfaces[ifindex].port;
    if (!from->has_ipv6) return;
    if (!icmp_token(now)) {
        count(ctr_->ports[port].drops[static_cast<unsigned>(drop_reason::icmp_rate_limited)]);
        return;
    }
    rte_mbuf* e = make_icmp6_error(pool_, ip, info.ip_total, from->ipv6_primary, type, code, param);
    if (e == nullptr) {
        count(ctr_->ports[port].drops[static_cast<unsigned>(drop_reason::icmp_no_buffer)]);
        return;
    }
    count(ctr_->icmp_errors_sent);
    emit6(e, 0, *nh, dst, no_interface, out);
}

// Where a packet to `dst` that answers one received on `ifindex` goes: a link-local address is on
// that same link (RFC 4291 2.5.6), anything else is routed.
const next_hop* forwarder::route6_to(const uint8_t* dst, uint16_t ifindex) const noexcept {
    if (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80) return &rt_->on_link[ifindex];
    return routes_.lookup6(dst);
}

void forwarder::emit4(rte_mbuf* m, uint16_t l2_have, const next_hop& nh, uint32_t dst, uint16_t in_ifindex,
                      tx_batch& out) noexcept {
    if (nh.has_gateway) {
        return send_to(m, l2_have, nh, neighbors_->slot_word(nh.gateway_slot), ether_ipv4, nullptr, in_ifindex, out);
    }
    auto key = neighbor_key::v4(nh.ifindex, dst);
    send_to(m, l2_have, nh, neighbors_->lookup_word(key), ether_ipv4, &key, in_ifindex, out);
}

void forwarder::emit6(rte_mbuf* m, uint16_t l2_have, const next_hop& nh, const uint8_t* dst, uint16_t in_ifindex,
                      tx_batch& out) noexcept {
    if (nh.has_gateway) {
        return send_to(m, l2_have, nh, neighbors_->slot_word(nh.gateway_slot), ether_ipv6, nullptr, in_ifindex, out);
    }
    auto key = neighbor_key::v6(nh.ifindex, dst);
    send_to(m, l2_have, nh, neighbors_->lookup_word(key), ether_ipv6, &key, in_ifindex, out);
}

void forwarder::send_to(rte_mbuf* m, uint16_t l2_have, const next_hop& nh, uint64_t mac, uint16_t ether_type,
                        const neighbor_key* target, uint16_t in_ifindex, tx_batch& out) noexcept {
    if (mac == 0) {
        auto* meta = meta_of(m);
        meta->kind = punt_meta::resolve;
        meta->in_ifindex = in_ifindex;
        // A pinned gateway's key is written before the runtime naming its slot is published,
        // and the slot stays pinned (its key unchanged) while any worker can hold that runtime.
        meta->target = target != nullptr ? *target : neighbors_->entry(nh.gateway_slot).key;
        if (l2_have != 0) rte_pktmbuf_adj(m, l2_have);  // the control lcore takes IP packets
        return punt(nh.port, m);
    }
    if (!write_l2(m, l2_have, nh.port, nh.vlan, nh.mac_word, mac, ether_type))
        return drop(nh.port, m, drop_reason::no_headroom);
    queue_tx(m, out);
}

}  // namespace meshgate::dataplane
