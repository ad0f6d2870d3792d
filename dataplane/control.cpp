#include "dataplane/control.hpp"
#include "dataplane/wire.hpp"

#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstring>

#include "dataplane/forwarder.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/packet_parse.hpp"

namespace meshgate::dataplane {
namespace {

using namespace wire;

constexpr uint8_t nd_opt_source_lla = 1;
constexpr uint8_t nd_opt_target_lla = 2;

bool unicast_mac(const uint8_t* m) noexcept {
    static constexpr uint8_t zero[6] = {};
    return (m[0] & 1) == 0 && std::memcmp(m, zero, 6) != 0;
}

// Our IPv4 address on `ifc` that shares a subnet with `ip` (0 when none).
uint32_t own_v4_on_subnet(const interface_rt& ifc, uint32_t ip) noexcept {
    for (const auto& p : ifc.ipv4) {
        if (p.contains(ipv4_addr{ip})) return p.addr.value;
    }
    return 0;
}

bool is_own_v4(const interface_rt& ifc, uint32_t ip) noexcept {
    for (const auto& p : ifc.ipv4) {
        if (p.addr.value == ip) return true;
    }
    return false;
}

bool is_own_v6(const interface_rt& ifc, const uint8_t* ip) noexcept {
    for (const auto& p : ifc.ipv6) {
        if (std::memcmp(p.addr.bytes.data(), ip, 16) == 0) return true;
    }
    return false;
}

bool own_v6_prefix_of(const interface_rt& ifc, const uint8_t* ip) noexcept {
    ipv6_addr a;
    std::memcpy(a.bytes.data(), ip, 16);
    for (const auto& p : ifc.ipv6) {
        if (p.contains(a)) return true;
    }
    return false;
}

const ipv6_addr* own_v6_on_subnet(const interface_rt& ifc, const uint8_t* ip) noexcept {
    ipv6_addr a;
    std::memcpy(a.bytes.data(), ip, 16);
    for (const auto& p : ifc.ipv6) {
        if (p.contains(a)) return &p.addr;
    }
    return ifc.ipv6.empty() ? nullptr : &ifc.ipv6.front().addr;
}

// Finds an ND option of `type` in options[0..len); returns its payload or nullptr. False in
// `valid` when an option has length 0 (RFC 4861 4.6: the packet must be discarded).
const uint8_t* find_nd_option(const uint8_t* opt, uint32_t len, uint8_t type, bool& valid) noexcept {
    valid = true;
    const uint8_t* found = nullptr;
    while (len >= 2) {
        uint32_t olen = opt[1] * 8U;
        if (olen == 0 || olen > len) {
            valid = false;
            return nullptr;
        }
        if (opt[0] == type && olen >= 8 && found == nullptr) found = opt + 2;
        opt += olen;
        len -= olen;
    }
    return found;
}

}  // namespace

control_plane::control_plane(const runtime* rt, neighbor_table* neighbors, rte_mempool* pool, core_counters* counters,
                             uint64_t tsc_hz, neighbor_timers timers) noexcept
    : rt_(rt),
      nt_(neighbors),
      pool_(pool),
      ctr_(counters),
      timers_(timers),
      timer_step_(tsc_hz / 20),
      held_limit_(std::max(64U, pool->size / 8)) {}

result<bool> control_plane::install_static_neighbors(const policy::config& cfg) {
    for (size_t i = 0; i < cfg.interfaces.size(); ++i) {
        for (const auto& n : cfg.interfaces[i].static_neighbors) {
            auto ifx = static_cast<uint16_t>(i);
            auto key = n.is_v6 ? neighbor_key::v6(ifx, n.v6.bytes.data()) : neighbor_key::v4(ifx, n.v4.value);
            int32_t slot = nt_->find_or_add(key);
            if (slot < 0) return error{"neighbor table full while adding static neighbors"};
            rte_ether_addr mac;
            std::memcpy(mac.addr_bytes, n.mac.bytes.data(), 6);
            nt_->set_mac(static_cast<uint32_t>(slot), mac, neighbor_state::permanent, 0);
        }
    }
    return true;
}

unsigned control_plane::poll(uint64_t now) noexcept {
    unsigned handled = 0;
    rte_mbuf* pkts[burst_size];
    for (auto& w : workers_) {
        unsigned n = rte_ring_sc_dequeue_burst(w.punt, reinterpret_cast<void**>(pkts), burst_size, nullptr);
        for (unsigned i = 0; i < n; ++i) handle(pkts[i], now);
        handled += n;
    }
    if (self_punt_ != nullptr) {
        unsigned n = rte_ring_sc_dequeue_burst(self_punt_, reinterpret_cast<void**>(pkts), burst_size, nullptr);
        for (unsigned i = 0; i < n; ++i) handle(pkts[i], now);
        handled += n;
    }
    if (now >= next_scan_) {
        run_timers(now);
        next_scan_ = now + timer_step_;
    }
    return handled;
}

void control_plane::send(rte_mbuf* m) noexcept {
    if (workers_.empty() || rte_ring_sp_enqueue(workers_.front().inject, m) != 0) {
        drop(m->port, m, drop_reason::control_ring_full);
    }
}

void control_plane::drop(uint16_t port, rte_mbuf* m, drop_reason r) noexcept {
    count(ctr_->ports[port].drops[static_cast<unsigned>(r)]);
    rte_pktmbuf_free(m);
}

void control_plane::handle(rte_mbuf* m, uint64_t now) noexcept {
    auto* meta = meta_of(m);
    switch (meta->kind) {
        case punt_meta::arp:
            return handle_arp(m, meta->ifindex, now);
        case punt_meta::nd:
            return handle_nd(m, meta->ifindex, now);
        case punt_meta::resolve:
            return handle_resolve(m, now);
        case punt_meta::probe:
            if (probe_handler_ != nullptr) return probe_handler_(probe_arg_, m, now);
            rte_pktmbuf_free(m);
            return;
        default:
            rte_pktmbuf_free(m);
    }
}

void control_plane::confirm(const neighbor_key& key, const rte_ether_addr& mac, bool create, uint64_t now,
                            neighbor_state st) noexcept {
    int32_t slot = create ? nt_->find_or_add(key) : nt_->find(key);
    if (slot < 0) {
        if (create)
            count(ctr_->ports[rt_->interfaces[key.ifindex].port]
                      .drops[static_cast<unsigned>(drop_reason::neighbor_table_full)]);
        return;
    }
    auto& e = nt_->entry(static_cast<uint32_t>(slot));
    if (e.state == neighbor_state::permanent) return;
    // A STALE entry is used as it is and probed when its time is up, like a REACHABLE one.
    nt_->set_mac(static_cast<uint32_t>(slot), mac, st, now + timers_.reachable);
    count(ctr_->neighbors_learned);
    release_held(static_cast<uint32_t>(slot));
}

// RFC 4861 7.2.5: what a neighbor advertisement changes in an existing entry.
void control_plane::advert(const neighbor_key& key, const uint8_t* tlla, bool solicited, bool override_flag,
                           uint64_t now) noexcept {
    int32_t s = nt_->find(key);
    if (s < 0) return;  // unsolicited news about a stranger: nothing to update
    auto slot = static_cast<uint32_t>(s);
    auto& e = nt_->entry(slot);
    if (e.state == neighbor_state::permanent) return;
    rte_ether_addr cur;
    bool has = nt_->slot_mac(slot, cur);
    rte_ether_addr mac;
    if (tlla != nullptr) std::memcpy(mac.addr_bytes, tlla, 6);
    if (!has) {
        if (tlla == nullptr) return;  // an incomplete entry needs the address
        return confirm(key, mac, false, now, solicited ? neighbor_state::reachable : neighbor_state::stale);
    }
    bool differs = tlla != nullptr && std::memcmp(cur.addr_bytes, tlla, 6) != 0;
    if (differs && !override_flag) {
        if (e.state == neighbor_state::reachable) e.state = neighbor_state::stale;  // keep the cached MAC
        return;
    }
    if (solicited) return confirm(key, differs ? mac : cur, false, now, neighbor_state::reachable);
    if (differs) confirm(key, mac, false, now, neighbor_state::stale);
}

void control_plane::handle_arp(rte_mbuf* m, uint16_t ifindex, uint64_t now) noexcept {
    const auto& ifc = rt_->interfaces[ifindex];
    packet_info info;
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    if (parse_packet(frame, m->data_len, info) != drop_reason::none || info.l3 != l3_kind::arp)
        return drop(ifc.port, m, drop_reason::arp_malformed);
    uint8_t* a = frame + info.l3_offset;
    uint16_t op = rd16(a + 6);
    const uint8_t* sha = a + 8;
    uint32_t spa = rd32(a + 14);
    uint32_t tpa = rd32(a + 24);
    if (op != 1 && op != 2) return drop(ifc.port, m, drop_reason::arp_malformed);
    bool for_us = is_own_v4(ifc, tpa);
    // RFC 826 "packet reception": update the sender if we know it; add it if the packet is for us.
    if (unicast_mac(sha) && own_v4_on_subnet(ifc, spa) != 0 && !is_own_v4(ifc, spa)) {
        rte_ether_addr mac;
        std::memcpy(mac.addr_bytes, sha, 6);
        confirm(neighbor_key::v4(ifindex, spa), mac, for_us, now);
    }
    if (op != 1 || !for_us) {
        if (!for_us) return drop(ifc.port, m, drop_reason::arp_not_for_us);
        rte_pktmbuf_free(m);  // a reply to us: consumed
        return;
    }
    // Turn the request into the reply in place (RFC 826).
    wr16(a + 6, 2);
    std::memcpy(a + 18, sha, 6);     // tha = requester
    std::memcpy(a + 24, a + 14, 4);  // tpa = requester's address
    std::memcpy(a + 8, ifc.mac.addr_bytes, 6);
    wr32(a + 14, tpa);
    std::memcpy(frame, a + 18, 6);  // Ethernet destination: the requester
    std::memcpy(frame + 6, ifc.mac.addr_bytes, 6);
    m->port = ifc.port;
    count(ctr_->arp_replies_sent);
    send(m);
}

void control_plane::handle_nd(rte_mbuf* m, uint16_t ifindex, uint64_t now) noexcept {
    const auto& ifc = rt_->interfaces[ifindex];
    packet_info info;
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    if (parse_packet(frame, m->data_len, info) != drop_reason::none || info.l3 != l3_kind::ipv6 ||
        info.l4_proto != ip_proto::icmpv6 || !info.has_l4)
        return drop(ifc.port, m, drop_reason::nd_malformed);
    uint8_t* ip = frame + info.l3_offset;
    uint8_t* icmp = ip + info.l3_len;
    uint32_t len = info.ip_total - info.l3_len;
    // RFC 4861 7.1.1 / 7.1.2 validity: hop limit 255, code 0, checksum, length, target not multicast.
    if (ip[7] != 255 || icmp[1] != 0 || len < 24 || icmp[8] == 0xff || icmp6_checksum(ip + 8, ip + 24, icmp, len) != 0)
        return drop(ifc.port, m, drop_reason::nd_malformed);
    bool opts_ok = true;
    const uint8_t* target = icmp + 8;
    static constexpr uint8_t unspecified[16] = {};
    bool src_unspecified = std::memcmp(ip + 8, unspecified, 16) == 0;
    if (icmp[0] == icmp6::neighbor_advert) {
        const uint8_t* tlla = find_nd_option(icmp + 24, len - 24, nd_opt_target_lla, opts_ok);
        bool solicited = (icmp[4] & 0x40) != 0;
        bool override_flag = (icmp[4] & 0x20) != 0;
        if (!opts_ok || (solicited && ip[24] == 0xff)) return drop(ifc.port, m, drop_reason::nd_malformed);
        advert(neighbor_key::v6(ifindex, target), tlla != nullptr && unicast_mac(tlla) ? tlla : nullptr, solicited,
               override_flag, now);
        rte_pktmbuf_free(m);
        return;
    }
    // Neighbor solicitation. From the unspecified address (DAD) it must go to the target's
    // solicited-node address and carry no source link-layer option (RFC 4861 7.1.1).
    const uint8_t* slla = find_nd_option(icmp + 24, len - 24, nd_opt_source_lla, opts_ok);
    static constexpr uint8_t sn_prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    bool to_solicited_node = std::memcmp(ip + 24, sn_prefix, 13) == 0 && std::memcmp(ip + 37, target + 13, 3) == 0;
    if (!opts_ok || (src_unspecified && (slla != nullptr || !to_solicited_node)))
        return drop(ifc.port, m, drop_reason::nd_malformed);
    if (!is_own_v6(ifc, target)) return drop(ifc.port, m, drop_reason::nd_not_for_us);
    // The NA built in place below is 32 bytes of ICMPv6: check the room before writing.
    constexpr uint32_t na_len = 32;
    if (info.l3_offset + info.l3_len + na_len > static_cast<uint32_t>(m->buf_len - m->data_off))
        return drop(ifc.port, m, drop_reason::nd_malformed);
    // RFC 4861 7.2.3: learn the sender (STALE) when it is on the link: link-local or on one of
    // the interface's prefixes; spoofed off-link sources create nothing.
    if (!src_unspecified && slla != nullptr && unicast_mac(slla) &&
        ((ip[8] == 0xfe && (ip[9] & 0xc0) == 0x80) || own_v6_prefix_of(ifc, ip + 8))) {
        rte_ether_addr mac;
        std::memcpy(mac.addr_bytes, slla, 6);
        confirm(neighbor_key::v6(ifindex, ip + 8), mac, true, now, neighbor_state::stale);
    }
    // RFC 4861 7.2.4: answer with a solicited NA (router flag, override) carrying our MAC; a DAD
    // probe (unspecified source) is answered to all-nodes without the solicited flag.
    uint8_t dst_mac[6];
    if (src_unspecified) {
        static constexpr uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        std::memcpy(ip + 24, all_nodes, 16);
        const uint8_t mcast[6] = {0x33, 0x33, 0, 0, 0, 1};
        std::memcpy(dst_mac, mcast, 6);
    } else if (slla != nullptr) {
        std::memcpy(ip + 24, ip + 8, 16);
        std::memcpy(dst_mac, slla, 6);
    } else {
        // No source link-layer option (a unicast probe): answer to the frame's sender.
        std::memcpy(ip + 24, ip + 8, 16);
        std::memcpy(dst_mac, frame + 6, 6);
    }
    std::memcpy(ip + 8, target, 16);
    uint8_t target_copy[16];
    std::memcpy(target_copy, target, 16);
    // Rebuild the message: 24 bytes of NA plus the 8-byte target link-layer option.
    icmp[0] = icmp6::neighbor_advert;
    icmp[1] = 0;
    wr16(icmp + 2, 0);
    wr32(icmp + 4, src_unspecified ? 0xa0000000 : 0xe0000000);  // R, S, O flags
    std::memcpy(icmp + 8, target_copy, 16);
    icmp[24] = nd_opt_target_lla;
    icmp[25] = 1;
    std::memcpy(icmp + 26, ifc.mac.addr_bytes, 6);
    uint32_t new_total = info.l3_len + na_len;
    wr16(ip + 4, static_cast<uint16_t>(new_total - 40));
    ip[6] = ip_proto::icmpv6;  // extension headers, if any, are not echoed back
    ip[7] = 255;
    uint32_t l3_total = 40 + na_len;
    if (info.l3_len != 40) {
        std::memmove(ip + 40, icmp, na_len);
        icmp = ip + 40;
        wr16(ip + 4, na_len);
    }
    uint16_t ck = icmp6_checksum(ip + 8, ip + 24, icmp, na_len);
    std::memcpy(icmp + 2, &ck, 2);
    uint32_t frame_len = info.l3_offset + l3_total;
    m->data_len = static_cast<uint16_t>(frame_len);
    m->pkt_len = frame_len;
    std::memcpy(frame, dst_mac, 6);
    std::memcpy(frame + 6, ifc.mac.addr_bytes, 6);
    m->port = ifc.port;
    count(ctr_->arp_replies_sent);
    send(m);
}

void control_plane::handle_resolve(rte_mbuf* m, uint64_t now) noexcept {
    const neighbor_key key = meta_of(m)->target;
    const auto& egress = rt_->interfaces[key.ifindex];
    int32_t s = nt_->find_or_add(key);
    if (s < 0) return drop(egress.port, m, drop_reason::neighbor_table_full);
    auto slot = static_cast<uint32_t>(s);
    auto& e = nt_->entry(slot);
    rte_ether_addr mac;
    if (nt_->slot_mac(slot, mac)) {  // resolved since the worker looked
        if (!write_l2(m, 0, egress, mac, key.family == 6 ? ether_ipv6 : ether_ipv4))
            return drop(egress.port, m, drop_reason::no_headroom);
        return send(m);
    }
    // Bounded per neighbor (oldest dropped) and in total (a sweep of a large subnet must not eat
    // the pool: then the new packet is dropped, but the neighbor is still resolved).
    if (held_total_ >= held_limit_ && e.hold_count == 0) {
        drop(egress.port, m, drop_reason::neighbor_hold_full);
    } else {
        if (e.hold_count == neighbor_hold_max || held_total_ >= held_limit_) {
            drop(egress.port, e.hold[0], drop_reason::neighbor_hold_full);
            std::copy(e.hold + 1, e.hold + e.hold_count, e.hold);
            --e.hold_count;
            --held_total_;
        }
        e.hold[e.hold_count++] = m;
        ++held_total_;
    }
    if (e.state == neighbor_state::none || e.state == neighbor_state::failed) {
        e.state = neighbor_state::incomplete;
        e.probes = 1;
        e.deadline = now + timers_.retrans;
        solicit(slot, false);
    }
}

void control_plane::release_held(uint32_t slot) noexcept {
    auto& e = nt_->entry(slot);
    rte_ether_addr mac;
    if (!nt_->slot_mac(slot, mac)) return;
    const auto& egress = rt_->interfaces[e.key.ifindex];
    for (unsigned i = 0; i < e.hold_count; ++i) {
        rte_mbuf* m = e.hold[i];
        if (!write_l2(m, 0, egress, mac, e.key.family == 6 ? ether_ipv6 : ether_ipv4)) {
            drop(egress.port, m, drop_reason::no_headroom);
            continue;
        }
        send(m);
    }
    held_total_ -= e.hold_count;
    e.hold_count = 0;
}

void control_plane::drop_held(uint32_t slot, uint64_t now) noexcept {
    auto& e = nt_->entry(slot);
    const auto& egress = rt_->interfaces[e.key.ifindex];
    for (unsigned i = 0; i < e.hold_count; ++i) {
        if (err_fwd_ != nullptr)
            err_fwd_->unreachable(e.hold[i], e.key.family, meta_of(e.hold[i])->in_ifindex, now, *err_batch_);
        drop(egress.port, e.hold[i], drop_reason::neighbor_unresolved);
    }
    held_total_ -= e.hold_count;
    e.hold_count = 0;
    send_batch();
}

// What the control lcore's own forwarder queued goes out through worker 0.
void control_plane::send_batch() noexcept {
    if (err_batch_ == nullptr) return;
    for (uint16_t i = 0; i < err_batch_->n_used; ++i) {
        uint16_t port = err_batch_->used[i];
        for (uint16_t k = 0; k < err_batch_->count[port]; ++k) send(err_batch_->pkts[port][k]);
    }
    err_batch_->clear();
}

void control_plane::solicit(uint32_t slot, bool unicast) noexcept {
    auto& e = nt_->entry(slot);
    const auto& ifc = rt_->interfaces[e.key.ifindex];
    rte_ether_addr known{};
    bool have_mac = unicast && nt_->slot_mac(slot, known);
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) {
        count(ctr_->ports[ifc.port].drops[static_cast<unsigned>(drop_reason::icmp_no_buffer)]);
        return;
    }
    if (e.key.family == 4) {
        uint32_t target = rd32(e.key.ip);
        uint32_t self = own_v4_on_subnet(ifc, target);
        if (self == 0) self = ifc.ipv4_primary;
        auto* a = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 28));
        wr16(a, 1);
        wr16(a + 2, ether_ipv4);
        a[4] = 6;
        a[5] = 4;
        wr16(a + 6, 1);
        std::memcpy(a + 8, ifc.mac.addr_bytes, 6);
        wr32(a + 14, self);
        std::memset(a + 18, 0, 6);
        wr32(a + 24, target);
        rte_ether_addr dst;
        if (have_mac)
            dst = known;
        else
            std::memset(dst.addr_bytes, 0xff, 6);
        write_l2(m, 0, ifc, dst, ether_arp);
    } else {
        const ipv6_addr* self = own_v6_on_subnet(ifc, e.key.ip);
        if (self == nullptr) {
            rte_pktmbuf_free(m);
            return;
        }
        auto* ip = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 40 + 32));
        wr32(ip, 0x60000000);
        wr16(ip + 4, 32);
        ip[6] = ip_proto::icmpv6;
        ip[7] = 255;
        std::memcpy(ip + 8, self->bytes.data(), 16);
        rte_ether_addr dst;
        if (have_mac) {
            std::memcpy(ip + 24, e.key.ip, 16);
            dst = known;
        } else {
            // Solicited-node multicast address and its MAC (RFC 4291 2.7.1, RFC 2464 7).
            static constexpr uint8_t sn[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
            std::memcpy(ip + 24, sn, 13);
            std::memcpy(ip + 37, e.key.ip + 13, 3);
            const uint8_t mac[6] = {0x33, 0x33, 0xff, e.key.ip[13], e.key.ip[14], e.key.ip[15]};
            std::memcpy(dst.addr_bytes, mac, 6);
        }
        uint8_t* icmp = ip + 40;
        icmp[0] = icmp6::neighbor_solicit;
        icmp[1] = 0;
        wr16(icmp + 2, 0);
        wr32(icmp + 4, 0);
        std::memcpy(icmp + 8, e.key.ip, 16);
        icmp[24] = nd_opt_source_lla;
        icmp[25] = 1;
        std::memcpy(icmp + 26, ifc.mac.addr_bytes, 6);
        uint16_t ck = icmp6_checksum(ip + 8, ip + 24, icmp, 32);
        std::memcpy(icmp + 2, &ck, 2);
        write_l2(m, 0, ifc, dst, ether_ipv6);
    }
    count(ctr_->neighbor_solicits_sent);
    send(m);
}

void control_plane::run_timers(uint64_t now) noexcept {
    for (uint32_t slot = 0; slot < nt_->capacity(); ++slot) {
        auto& e = nt_->entry(slot);
        if (now < e.deadline) continue;
        switch (e.state) {
            case neighbor_state::incomplete:
                if (e.probes < timers_.max_probes) {
                    ++e.probes;
                    e.deadline = now + timers_.retrans;
                    solicit(slot, false);
                    break;
                }
                drop_held(slot, now);
                if (e.pinned) {
                    nt_->invalidate(slot, neighbor_state::failed);
                } else {
                    nt_->remove(slot);
                }
                break;
            case neighbor_state::reachable:
                // Confirmation is old: keep using the MAC, and probe it (unicast) until it answers.
                e.state = neighbor_state::stale;
                e.probes = 0;
                e.deadline = now;
                break;
            case neighbor_state::stale:
                if (e.probes < timers_.max_probes) {
                    ++e.probes;
                    e.deadline = now + timers_.retrans;
                    solicit(slot, true);
                    break;
                }
                if (e.pinned) {
                    nt_->invalidate(slot, neighbor_state::failed);
                } else {
                    nt_->remove(slot);
                }
                break;
            default:
                break;
        }
    }
}

std::array<uint32_t, 6> control_plane::count_neighbors() const {
    std::array<uint32_t, 6> n{};
    for (uint32_t slot = 0; slot < nt_->capacity(); ++slot) {
        const auto& e = nt_->entry(slot);
        if (e.state == neighbor_state::none && !e.pinned) continue;
        auto i = static_cast<size_t>(e.state);
        if (i < n.size()) ++n[i];
    }
    return n;
}

std::vector<std::string> control_plane::describe_neighbors() const {
    std::vector<std::string> out;
    for (uint32_t slot = 0; slot < nt_->capacity(); ++slot) {
        const auto& e = nt_->entry(slot);
        if (e.state == neighbor_state::none && !e.pinned) continue;
        std::string ip;
        if (e.key.family == 4) {
            ip = to_string(ipv4_addr{rd32(e.key.ip)});
        } else {
            ipv6_addr a;
            std::memcpy(a.bytes.data(), e.key.ip, 16);
            ip = to_string(a);
        }
        rte_ether_addr mac;
        std::string mac_s = "-";
        if (nt_->slot_mac(slot, mac)) {
            mac_addr mm;
            std::memcpy(mm.bytes.data(), mac.addr_bytes, 6);
            mac_s = to_string(mm);
        }
        std::string line = rt_->interfaces[e.key.ifindex].name;
        line += " " + ip;
        line += " " + mac_s;
        line += " ";
        line += to_string(e.state);
        out.push_back(std::move(line));
    }
    return out;
}

}  // namespace meshgate::dataplane
