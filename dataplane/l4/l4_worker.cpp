#include "dataplane/l4/l4_worker.hpp"

#include "dataplane/tcp/tcp_stack.hpp"

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include <algorithm>

#include "dataplane/icmp.hpp"
#include "dataplane/l4/nat_rewrite.hpp"
#include "dataplane/runtime.hpp"
#include "dataplane/wire.hpp"

namespace meshgate::dataplane::l4 {
namespace {

using namespace wire;

namespace tcp_flag {
inline constexpr uint8_t fin = 0x01;
inline constexpr uint8_t syn = 0x02;
inline constexpr uint8_t rst = 0x04;
inline constexpr uint8_t ack = 0x10;
}  // namespace tcp_flag

constexpr uint32_t expire_budget = 4096;  // sessions examined per poll (64 polls a second)

struct source_key {
    uint8_t addr[16];
    uint32_t family;
};

struct eim_key {
    uint8_t addr[16];
    uint16_t port;
    uint8_t proto;
    uint8_t outside;  // 0: the inside (host, port); 1: the outside (pool address, port)
    uint32_t family;
};

bool is_icmp_echo_request(uint8_t family, uint8_t type) noexcept {
    return family == 4 ? type == icmp4::echo_request : type == icmp6::echo_request;
}
bool is_icmp_echo_reply(uint8_t family, uint8_t type) noexcept {
    return family == 4 ? type == icmp4::echo_reply : type == icmp6::echo_reply;
}
bool is_icmp_error(uint8_t family, uint8_t type) noexcept {
    if (family == 4) return type == 3 || type == 11 || type == 12;
    return type >= 1 && type <= 4;
}

// Key of a packet as it arrived. False for packets without ports the stage cannot key (later
// fragments); `icmp_error` is set for ICMP errors (handled through their embedded packet).
bool key_of(const uint8_t* ip, const packet_info& info, const uint8_t* l4, flow_key& k, uint8_t& tcp_flags,
            bool& icmp_error) noexcept {
    k = flow_key{};
    tcp_flags = 0;
    icmp_error = false;
    if (info.l3 == l3_kind::ipv4) {
        std::memcpy(k.src, ip + 12, 4);
        std::memcpy(k.dst, ip + 16, 4);
        k.family = 4;
    } else {
        std::memcpy(k.src, ip + 8, 16);
        std::memcpy(k.dst, ip + 24, 16);
        k.family = 6;
    }
    k.proto = info.l4_proto;
    if (!info.has_l4) return !info.is_fragment;
    switch (info.l4_proto) {
        case ip_proto::tcp:
            tcp_flags = l4[13];
            [[fallthrough]];
        case ip_proto::udp:
        case ip_proto::sctp:
            k.sport = rd16(l4);
            k.dport = rd16(l4 + 2);
            return true;
        case ip_proto::icmp:
        case ip_proto::icmpv6:
            if (is_icmp_echo_request(k.family, l4[0])) {
                k.sport = rd16(l4 + 4);
            } else if (is_icmp_echo_reply(k.family, l4[0])) {
                k.dport = rd16(l4 + 4);
            } else if (is_icmp_error(k.family, l4[0])) {
                icmp_error = true;
            }
            return true;
        default:
            return true;
    }
}

// The endpoints a packet matching t[dir] leaves with: the mirror of the other direction.
endpoints target_of(const session& s, uint8_t dir, bool echo_reply) noexcept {
    const flow_key& o = s.t[1 - dir];
    endpoints e;
    std::memcpy(e.src, o.dst, 16);
    std::memcpy(e.dst, o.src, 16);
    e.sport = o.dport;
    e.dport = o.sport;
    if (echo_reply) e.sport = o.sport;  // the identifier of an echo reply sits in dport of its key
    return e;
}

void adjust32(uint8_t* field, uint8_t* cksum, uint32_t v) noexcept {
    uint32_t old = rd32(field);
    wr32(field, v);
    uint16_t c = rd16(cksum);
    c = checksum_adjust(c, static_cast<uint16_t>(old >> 16), static_cast<uint16_t>(v >> 16));
    c = checksum_adjust(c, static_cast<uint16_t>(old), static_cast<uint16_t>(v));
    wr16(cksum, c);
}

// SYN proxy: shift a client->backend segment's ACK (and SACK edges) into the backend's sequence
// space, or a backend->client segment's sequence number into the cookie's.
void shift_sequence(uint8_t* tcp, uint32_t tcp_len, uint8_t dir, uint32_t delta) noexcept {
    if (dir == 1) {
        adjust32(tcp + 4, tcp + 16, rd32(tcp + 4) - delta);
        return;
    }
    if ((tcp[13] & tcp_flag::ack) != 0) adjust32(tcp + 8, tcp + 16, rd32(tcp + 8) + delta);
    uint32_t hl = (tcp[12] >> 4) * 4U;
    if (hl > tcp_len) return;
    for (uint32_t o = 20; o < hl;) {
        uint8_t kind = tcp[o];
        if (kind == 0) break;
        if (kind == 1) {
            ++o;
            continue;
        }
        if (o + 1 >= hl || tcp[o + 1] < 2 || o + tcp[o + 1] > hl) break;
        uint8_t len = tcp[o + 1];
        if (kind == 5) {  // SACK (RFC 2018): edges are the backend's sequence numbers
            for (uint32_t e = o + 2; e + 4 <= o + len; e += 4) adjust32(tcp + e, tcp + 16, rd32(tcp + e) + delta);
        }
        o += len;
    }
}

uint16_t tcp_mss_option(const uint8_t* tcp, uint32_t tcp_len) noexcept {
    uint32_t hl = (tcp[12] >> 4) * 4U;
    if (hl > tcp_len) return 536;
    for (uint32_t o = 20; o + 1 < hl;) {
        uint8_t kind = tcp[o];
        if (kind == 0) break;
        if (kind == 1) {
            ++o;
            continue;
        }
        uint8_t len = tcp[o + 1];
        if (len < 2 || o + len > hl) break;
        if (kind == 2 && len == 4) return rd16(tcp + o + 2);
        o += len;
    }
    return 536;  // RFC 9293 3.7.1 default
}

// Rebuilds the packet in place as a bare TCP segment (20-byte IPv4 or 40-byte IPv6 header,
// optional MSS option, no payload) with the given fields, and fixes all checksums.
void rebuild_segment(rte_mbuf* m, packet_info& info, uint8_t* ip, bool swap, uint32_t seq, uint32_t ack, uint8_t flags,
                     uint16_t window, uint16_t mss) noexcept {
    bool v6 = info.l3 == l3_kind::ipv6;
    uint8_t* tcp = ip + info.l3_len;
    if (swap) {
        uint8_t tmp[16];
        size_t off = v6 ? 8 : 12, len = v6 ? 16 : 4;
        std::memcpy(tmp, ip + off, len);
        std::memcpy(ip + off, ip + off + len, len);
        std::memcpy(ip + off + len, tmp, len);
        uint8_t p[2];
        std::memcpy(p, tcp, 2);
        std::memcpy(tcp, tcp + 2, 2);
        std::memcpy(tcp + 2, p, 2);
    }
    uint16_t tcp_len = mss != 0 ? 24 : 20;
    uint32_t want = uint32_t{info.l3_offset} + info.l3_len + tcp_len;
    if (m->data_len < want && rte_pktmbuf_append(m, static_cast<uint16_t>(want - m->data_len)) == nullptr) mss = 0;
    tcp_len = mss != 0 ? 24 : 20;
    wr32(tcp + 4, seq);
    wr32(tcp + 8, ack);
    tcp[12] = static_cast<uint8_t>((tcp_len / 4) << 4);
    tcp[13] = flags;
    wr16(tcp + 14, window);
    wr16(tcp + 16, 0);
    wr16(tcp + 18, 0);
    if (mss != 0) {
        tcp[20] = 2;
        tcp[21] = 4;
        wr16(tcp + 22, mss);
    }
    uint32_t total = info.l3_len + tcp_len;
    if (v6) {
        wr16(ip + 4, static_cast<uint16_t>(total - 40));
        ip[7] = 65;  // leaves with 64 after the forwarding decrement
        auto ck = rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(ip), tcp);
        std::memcpy(tcp + 16, &ck, 2);
    } else {
        wr16(ip + 2, static_cast<uint16_t>(total));
        ip[8] = 65;
        wr16(ip + 6, 0x4000);  // DF
        wr16(ip + 10, 0);
        auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
        h->hdr_checksum = rte_ipv4_cksum(h);
        auto ck = rte_ipv4_udptcp_cksum(h, tcp);
        std::memcpy(tcp + 16, &ck, 2);
    }
    uint32_t frame = info.l3_offset + total;
    if (m->data_len > frame) rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - frame));
    info.ip_total = static_cast<uint16_t>(total);
}

bool prefix_match(const policy::ip_prefix& p, const flow_key& k) noexcept {
    if (p.is_v6 != (k.family == 6)) return false;
    if (p.is_v6) {
        ipv6_addr a;
        std::memcpy(a.bytes.data(), k.src, 16);
        return p.v6.contains(a);
    }
    return p.v4.contains(ipv4_addr{rd32(k.src)});
}

}  // namespace

result<l4_worker*> l4_worker::create(unsigned id, unsigned n_workers, uint32_t capacity, uint64_t tsc_hz,
                                     const cookie_secret& secret, core_counters* ctr, const std::string& name) {
    auto flows = flow_table::create(name + "_ft", capacity, static_cast<int>(rte_socket_id()), tsc_hz);
    if (!flows) return error{flows.error_message()};
    auto* w = new l4_worker();
    w->flows_ = flows.value();
    w->id_ = id;
    w->n_workers_ = n_workers == 0 ? 1 : n_workers;
    w->hz_ = tsc_hz;
    w->secret_ = secret;
    w->ctr_ = ctr;
    w->rng_ ^= (uint64_t{id} + 1) * 0xbf58476d1ce4e5b9ULL;

    rte_hash_parameters p{};
    std::string ps = name + "_src";
    p.name = ps.c_str();
    p.entries = capacity;
    p.key_len = sizeof(source_key);
    p.hash_func = rte_hash_crc;
    p.socket_id = static_cast<int>(rte_socket_id());
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    w->per_source_ = rte_hash_create(&p);
    std::string es = name + "_eim";
    p.name = es.c_str();
    p.entries = capacity * 2;
    p.key_len = sizeof(eim_key);
    w->eim_index_ = rte_hash_create(&p);
    w->eim_ = static_cast<eim_mapping*>(rte_zmalloc((name + "_eimm").c_str(), sizeof(eim_mapping) * capacity, 64));
    w->eim_free_ = static_cast<uint32_t*>(rte_malloc((name + "_eimf").c_str(), sizeof(uint32_t) * capacity, 64));
    if (w->per_source_ == nullptr || w->eim_index_ == nullptr || w->eim_ == nullptr || w->eim_free_ == nullptr) {
        delete w;
        return error{"flows.sessionsPerWorker: cannot allocate the per-source and NAT mapping tables for " +
                     std::to_string(capacity) + " sessions (reserve more hugepages)"};
    }
    for (uint32_t i = 0; i < capacity; ++i) w->eim_free_[i] = capacity - 1 - i;
    w->eim_n_free_ = capacity;
    return w;
}

l4_worker::~l4_worker() {
    delete flows_;
    rte_hash_free(per_source_);
    rte_hash_free(eim_index_);
    rte_free(eim_);
    rte_free(eim_free_);
}

void l4_worker::adopt(const l4_runtime* rt) noexcept {
    if (!is_new(rt)) return;
    rt_ = rt;
    rt_serial_ = rt != nullptr ? rt->serial : 0;
    ++rt_epoch_;
    if (rt == nullptr) return;
    flows_->set_timeouts(rt->flows);
    for (size_t i = 0; i < rt->services.size(); ++i) {
        svc_flows_[i].configure(rt->services[i].new_flows, hz_, n_workers_);
        svc_packets_[i].configure(rt->services[i].packets, hz_, n_workers_);
    }
    for (size_t i = 0; i < rt->limits.size(); ++i) {
        src_flows_[i].configure(rt->limits[i].new_flows, hz_, n_workers_);
        src_packets_[i].configure(rt->limits[i].packets, hz_, n_workers_);
    }
}

void l4_worker::poll(uint64_t now) noexcept {
    // 64 times a second is plenty for a 1/16 s wheel, and keeps the idle loop cheap.
    if (now < next_poll_) return;
    next_poll_ = now + hz_ / 64;
    uint32_t n = flows_->expire(now, expire_budget, [this](uint32_t idx) { release(idx); });
    if (n != 0) {
        count(ctr_->sessions_expired, n);
        ctr_->sessions_active = flows_->active();
    }
}

// What a session holds besides its keys: the half-open gauge, per-source count, EIM mapping.
void l4_worker::release(uint32_t idx) noexcept {
    session& s = flows_->at(idx);
    if ((s.flags & session_flag::half_open) != 0) {
        --half_open_;
        s.flags &= static_cast<uint8_t>(~session_flag::half_open);
        ctr_->sessions_half_open = half_open_;
    }
    if ((s.flags & session_flag::src_counted) != 0) source_count_del(s.t[0]);
    if ((s.flags & session_flag::eim) != 0) {
        release_mapping(s.mapping);
    } else if (s.kind == session_kind::snat) {
        uncount(ctr_->snat_in_use[s.stat_slot]);
    }
}

void l4_worker::release_mapping(uint32_t mapping) noexcept {
    if (mapping >= flows_->capacity()) return;
    {
        eim_mapping& mp = eim_[mapping];
        if (--mp.refs == 0) {
            eim_key ik{};
            std::memcpy(ik.addr, mp.inside, 16);
            ik.port = mp.inside_port;
            ik.proto = mp.proto;
            ik.family = mp.family;
            rte_hash_del_key(eim_index_, &ik);
            eim_key ok{};
            std::memcpy(ok.addr, mp.outside, 16);
            ok.port = mp.outside_port;
            ok.proto = mp.proto;
            ok.outside = 1;
            ok.family = mp.family;
            rte_hash_del_key(eim_index_, &ok);
            eim_free_[eim_n_free_++] = mapping;
            uncount(ctr_->snat_in_use[mp.stat_slot]);
        }
    }
}

bool l4_worker::source_count_add(const flow_key& k) noexcept {
    source_key sk{};
    std::memcpy(sk.addr, k.src, 16);
    sk.family = k.family;
    void* data = nullptr;
    uintptr_t n = 0;
    if (rte_hash_lookup_data(per_source_, &sk, &data) >= 0) n = reinterpret_cast<uintptr_t>(data);
    if (n >= rt_->max_flows_per_source) return false;
    return rte_hash_add_key_data(per_source_, &sk, reinterpret_cast<void*>(n + 1)) == 0;
}

void l4_worker::source_count_del(const flow_key& k) noexcept {
    source_key sk{};
    std::memcpy(sk.addr, k.src, 16);
    sk.family = k.family;
    void* data = nullptr;
    if (rte_hash_lookup_data(per_source_, &sk, &data) < 0) return;
    auto n = reinterpret_cast<uintptr_t>(data);
    if (n <= 1) {
        rte_hash_del_key(per_source_, &sk);
    } else {
        rte_hash_add_key_data(per_source_, &sk, reinterpret_cast<void*>(n - 1));
    }
}

bool l4_worker::acl_allows(const flow_key& k, uint16_t ifindex, bool has_ports) noexcept {
    if (!rt_->fw_enabled) return true;
    uint32_t result = 0;
    uint16_t sp = __builtin_bswap16(k.sport);
    uint16_t dp = __builtin_bswap16(k.dport);
    // ICMP keys carry the echo identifier, not ports: rules see none.
    bool ports = has_ports && (k.proto == ip_proto::tcp || k.proto == ip_proto::udp || k.proto == ip_proto::sctp);
    if (!ports) sp = dp = 0;
    if (k.family == 4) {
        acl_key4 key;
        make_key4(key, k.proto, ifindex, k.src, k.dst, sp, dp, ports);
        const acl_key4* kp = &key;
        rt_->acl->classify4(&kp, &result, 1);
    } else {
        acl_key6 key;
        make_key6(key, k.proto, ifindex, k.src, k.dst, sp, dp, ports);
        const acl_key6* kp = &key;
        rt_->acl->classify6(&kp, &result, 1);
    }
    policy::acl_action a;
    if (result == 0) {
        a = rt_->fw_default;
        count(ctr_->acl_default_hits);
    } else {
        a = rt_->rule_action[result - 1];
        count(ctr_->acl_hits[rt_->rule_slot[result - 1]]);
    }
    if (a == policy::acl_action::log) {
        count(ctr_->acl_logged);
        if (log_ring_ != nullptr) {
            acl_log_record rec{k, result - 1, ifindex, 0};
            rte_ring_mp_enqueue_elem(log_ring_, &rec, sizeof(rec));
        }
    }
    return a != policy::acl_action::deny;
}

bool l4_worker::source_admit(const flow_key& k, uint64_t now, bool new_flow, drop_reason& why) noexcept {
    for (size_t i = 0; i < rt_->limits.size(); ++i) {
        if (!prefix_match(rt_->limits[i].prefix, k)) continue;
        if (!src_packets_[i].take(now) || (new_flow && !src_flows_[i].take(now))) {
            why = drop_reason::rate_limited_source;
            return false;
        }
        return true;  // the first matching prefix applies
    }
    return true;
}

verdict l4_worker::process(rte_mbuf* m, packet_info& info, uint16_t ifindex, const route_lookup& routes, uint64_t now,
                           drop_reason& why, unsigned& owner) noexcept {
    routes_ = &routes;
    verdict v = classify(m, info, ifindex, routes, now, why, owner);
    if (v == verdict::too_big) owner = too_big_mtu_;
    return v;
}

void l4_worker::stage(rte_mbuf* m, const packet_info& info) noexcept {
    if (n_pre_ >= 64 || (info.l3 != l3_kind::ipv4 && info.l3 != l3_kind::ipv6)) return;
    const uint8_t* ip = rte_pktmbuf_mtod_offset(m, const uint8_t*, info.l3_offset);
    const uint8_t* l4 = rte_pktmbuf_mtod_offset(m, const uint8_t*, info.l4_offset);
    staged& st = pre_[n_pre_];
    uint8_t flags = 0;
    bool icmp_error = false;
    if (!key_of(ip, info, l4, st.k, flags, icmp_error) || icmp_error) return;
    st.m = m;
    st.idx = no_session;
    ++n_pre_;
}

void l4_worker::lookup_staged() noexcept {
    if (n_pre_ == 0) return;
    const void* keys[64];
    void* data[64];
    for (uint16_t i = 0; i < n_pre_; ++i) keys[i] = &pre_[i].k;
    uint64_t hits = 0;
    flows_->lookup_bulk(keys, n_pre_, hits, data);
    for (uint16_t i = 0; i < n_pre_; ++i) {
        if ((hits >> i & 1) == 0) continue;
        auto v = reinterpret_cast<uintptr_t>(data[i]);
        pre_[i].idx = static_cast<uint32_t>(v >> 1);
        pre_[i].dir = static_cast<uint8_t>(v & 1);
        rte_prefetch0(&flows_->at(pre_[i].idx));
    }
}

verdict l4_worker::classify(rte_mbuf* m, packet_info& info, uint16_t ifindex, const route_lookup& routes, uint64_t now,
                            drop_reason& why, unsigned& owner) noexcept {
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, info.l3_offset);
    const uint8_t* l4 = rte_pktmbuf_mtod_offset(m, const uint8_t*, info.l4_offset);
    flow_key k;
    uint8_t tcp_flags = 0;
    bool icmp_error = false;
    // The burst pre-pass keyed this packet already (staged packets are never ICMP errors).
    // Packets reach here in burst order, but not all of them (drops before the stage, packets
    // never staged): look ahead without losing the place.
    const staged* st = nullptr;
    for (uint16_t c = pre_cursor_; c < n_pre_; ++c) {
        if (pre_[c].m == m) {
            st = &pre_[c];
            pre_cursor_ = static_cast<uint16_t>(c + 1);
            break;
        }
    }
    if (st != nullptr) {
        k = st->k;
        tcp_flags = info.l4_proto == ip_proto::tcp && info.has_l4 ? l4[13] : 0;
    } else if (!key_of(ip, info, l4, k, tcp_flags, icmp_error)) {
        // A later fragment carries no ports: without reassembly it cannot be matched. Routed
        // traffic passes unless the firewall denies by default; NAT needs whole packets.
        if (rt_->fw_enabled && rt_->fw_default == policy::acl_action::deny) {
            why = drop_reason::acl_denied;
            return verdict::drop;
        }
        return verdict::pass;
    }
    if (icmp_error) return on_icmp_error(m, info, ifindex, now, why, owner);
    // The burst pre-pass's answer when it is still right (the session it found still holds
    // this tuple); a miss there is checked again: an earlier packet may have made the session.
    // A new connection (a bare SYN) on the tuple of a closed load-balanced session is a new
    // flow: Maglev picks its backend again (the old one may be down now).
    auto reopened = [&](uint32_t i, uint8_t d) {
        const session& s = flows_->at(i);
        if (d != 0 || s.kind != session_kind::service ||
            (tcp_flags & (tcp_flag::syn | tcp_flag::ack)) != tcp_flag::syn ||
            (s.state != tcp_state::closing && s.state != tcp_state::closed))
            return false;
        count(ctr_->sessions_expired);
        release(i);
        flows_->remove(i);
        ctr_->sessions_active = flows_->active();
        return true;
    };
    if (st != nullptr && st->idx != no_session) {
        const session& s = flows_->at(st->idx);
        if (s.in_use != 0 && s.t[st->dir] == k && !reopened(st->idx, st->dir))
            return on_hit(m, info, st->idx, st->dir, tcp_flags, now, why);
    }
    hash_sig_t sig = flows_->hash(k);
    uint8_t dir = 0;
    uint32_t idx = flows_->lookup(k, sig, dir);
    if (idx != no_session && !reopened(idx, dir)) return on_hit(m, info, idx, dir, tcp_flags, now, why);
    if (n_workers_ > 1 && k.dport % n_workers_ != id_ && !rt_->nat_addresses.empty() &&
        rt_->is_nat_address(k.dst, k.family)) {
        // A reply to a NAT source port another worker handed out: that worker has the session.
        owner = k.dport % n_workers_;
        return verdict::handoff;
    }
    return on_miss(m, info, k, sig, tcp_flags, ifindex, routes, now, why);
}

bool l4_worker::revalidate(session& s) noexcept {
    // A new runtime since this session was last seen: is its backend still in service?
    int32_t svc = rt_->find_service(s.t[0].family, s.t[0].dst, s.t[0].proto, s.t[0].dport);
    if (svc < 0) return true;  // service removed: established sessions run to their end
    const service_rt& sv = rt_->services[static_cast<size_t>(svc)];
    size_t alen = s.t[1].family == 6 ? 16 : 4;
    for (size_t b = 0; b < sv.backends.size(); ++b) {
        const backend_rt& be = sv.backends[b];
        if (be.port == s.t[1].sport && be.family == s.t[1].family && std::memcmp(be.addr, s.t[1].src, alen) == 0) {
            s.service = static_cast<uint16_t>(svc);
            s.backend = static_cast<uint16_t>(b);
            s.stat_slot = be.stat_slot;  // the same slot unless the service was renamed
            return !(sv.reset_on_backend_down && (!be.admin_up || !be.healthy));
        }
    }
    return !sv.reset_on_backend_down;
}

verdict l4_worker::on_hit(rte_mbuf* m, packet_info& info, uint32_t idx, uint8_t dir, uint8_t tcp_flags, uint64_t now,
                          drop_reason& why) noexcept {
    session& s = flows_->at(idx);
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, info.l3_offset);
    uint8_t* l4 = ip + info.l3_len;
    bool tcp = info.l4_proto == ip_proto::tcp;
    if (s.kind == session_kind::service && s.mapping != rt_epoch_) {
        // `mapping` doubles as the runtime epoch for service sessions (they hold no EIM mapping).
        s.mapping = rt_epoch_;
        if (!revalidate(s)) {
            count(ctr_->sessions_expired);
            release(idx);
            flows_->remove(idx);
            ctr_->sessions_active = flows_->active();
            if (tcp && dir == 0 && (tcp_flags & tcp_flag::rst) == 0) {
                // Tell the client: RST from the VIP, in the sequence space it knows.
                uint32_t seq = (tcp_flags & tcp_flag::ack) != 0 ? rd32(l4 + 8) : 0;
                rebuild_segment(m, info, ip, true, seq, 0, tcp_flag::rst, 0, 0);
                return verdict::pass;
            }
            why = drop_reason::backend_reset;
            return verdict::drop;
        }
    }
    if (dir == 0) {
        if (s.kind == session_kind::service && s.service < rt_->services.size() && !svc_packets_[s.service].take(now)) {
            why = drop_reason::rate_limited_service;
            return verdict::drop;
        }
        if (!rt_->limits.empty() && !source_admit(s.t[0], now, false, why)) return verdict::drop;
    }
    s.last_seen = now;
    ++s.packets[dir];
    if (dir == 1 && s.kind == session_kind::service) {
        backend_counters& bc = ctr_->backends[s.stat_slot];
        count(bc.packets_from);
        count(bc.bytes_from, info.ip_total);
    }
    if (tcp) {
        if ((s.flags & session_flag::syn_proxy_wait) != 0) {
            if (dir == 1 && (tcp_flags & (tcp_flag::syn | tcp_flag::ack)) == (tcp_flag::syn | tcp_flag::ack)) {
                // The backend's SYN-ACK: remember the shift between its ISN and our cookie, and
                // complete its handshake ourselves (the client did so with us already).
                uint32_t backend_isn = rd32(l4 + 4);
                uint32_t client_next = rd32(l4 + 8);
                s.seq_delta = backend_isn - s.seq_delta;
                s.flags = static_cast<uint8_t>((s.flags & ~session_flag::syn_proxy_wait) | session_flag::syn_proxy);
                s.state = tcp_state::established;
                flows_->reschedule(idx);
                rebuild_segment(m, info, ip, true, client_next, backend_isn + 1, tcp_flag::ack, 65535, 0);
                count_to_backend(s, verdict::pass, m, info);
                return verdict::pass;  // already in the backend's addressing: swap made it S->B
            }
            if (dir == 1 && (tcp_flags & tcp_flag::rst) != 0) {
                // The backend refused: the client knows only the cookie's sequence space.
                adjust32(l4 + 4, l4 + 16, s.seq_delta + 1);
                s.state = tcp_state::closed;
                s.flags &= static_cast<uint8_t>(~session_flag::syn_proxy_wait);
                flows_->reschedule(idx);
                return translate(m, info, s, dir);
            }
            if (dir == 0) {
                why = drop_reason::syn_proxy_pending;
                return verdict::drop;
            }
        }
        if (dir == 0 && (tcp_flags & (tcp_flag::syn | tcp_flag::ack)) == tcp_flag::syn &&
            (s.state == tcp_state::closing || s.state == tcp_state::closed)) {
            // A new connection on the 4-tuple of a closed one (TIME_WAIT reuse, RFC 6191): start over.
            s.state = tcp_state::syn_sent;
            s.flags &=
                static_cast<uint8_t>(~(session_flag::fin_orig | session_flag::fin_reply | session_flag::syn_proxy));
            flows_->reschedule(idx);
        }
        if ((tcp_flags & tcp_flag::rst) != 0) {
            s.state = tcp_state::closed;
            flows_->reschedule(idx);
        } else if ((tcp_flags & tcp_flag::fin) != 0) {
            s.flags |= dir == 0 ? session_flag::fin_orig : session_flag::fin_reply;
            if ((s.flags & (session_flag::fin_orig | session_flag::fin_reply)) ==
                (session_flag::fin_orig | session_flag::fin_reply)) {
                s.state = tcp_state::closing;
                flows_->reschedule(idx);
            }
        } else if (s.state != tcp_state::established && s.state != tcp_state::closing) {
            if (dir == 1 && (tcp_flags & tcp_flag::syn) != 0) {
                s.state = tcp_state::syn_received;
            } else if (dir == 0 && s.state == tcp_state::syn_received && (tcp_flags & tcp_flag::ack) != 0) {
                s.state = tcp_state::established;
                if ((s.flags & session_flag::half_open) != 0) {
                    s.flags &= static_cast<uint8_t>(~session_flag::half_open);
                    --half_open_;
                    ctr_->sessions_half_open = half_open_;
                }
            }
        }
        if ((s.flags & session_flag::syn_proxy) != 0) shift_sequence(l4, info.ip_total - info.l3_len, dir, s.seq_delta);
    }
    verdict v = translate(m, info, s, dir);
    if (dir == 0 && s.kind == session_kind::service) count_to_backend(s, v, m, info);
    return v;
}

verdict l4_worker::translate(rte_mbuf* m, packet_info& info, const session& s, uint8_t dir) noexcept {
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, info.l3_offset);
    const flow_key& here = s.t[dir];
    const flow_key& there = s.t[1 - dir];
    bool echo_reply = (info.l4_proto == ip_proto::icmp || info.l4_proto == ip_proto::icmpv6) && info.has_l4 &&
                      is_icmp_echo_reply(here.family, ip[info.l3_len]);
    // A session without NAT (firewall): the packet leaves as it came.
    if (here.family == there.family && here == there.mirrored()) return verdict::pass;
    endpoints to = target_of(s, dir, echo_reply);
    auto l4_len = static_cast<uint16_t>(info.ip_total - info.l3_len);
    // Path MTU toward the new destination, checked before rewriting so that the ICMP error
    // quotes the packet as its sender sent it (RFC 1191, RFC 8201; RFC 7915 4.2/5.2 for the
    // 20 bytes a family change adds or removes).
    if (routes_ != nullptr && uint32_t{info.ip_total} + 20 > rt_->min_mtu) {
        const next_hop* nh = there.family == 4 ? routes_->lookup4(rd32(to.dst)) : routes_->lookup6(to.dst);
        if (nh != nullptr && nh->kind == nh_kind::forward) {
            int delta = here.family == there.family ? 0 : (there.family == 6 ? 20 : -20);
            uint32_t out_len = static_cast<uint32_t>(static_cast<int>(info.ip_total) + delta);
            bool df = here.family == 6 || (ip[6] & 0x40) != 0 || there.family == 6;
            if (out_len > nh->mtu && df) {
                int report = static_cast<int>(nh->mtu) - delta;
                if (here.family == 6 && report < 1280) report = 1280;
                too_big_mtu_ = static_cast<uint32_t>(report);
                return verdict::too_big;
            }
        }
    }
    if (here.family == there.family) {
        if (here.family == 4) {
            rewrite4(ip, info.l3_len, l4_len, info.l4_proto, info.has_l4, to);
        } else {
            rewrite6(ip, info.l3_len, l4_len, info.l4_proto, info.has_l4, to);
        }
        return verdict::pass;
    }
    // NAT46/NAT64: the packet changes family; it leaves the L2 header behind.
    uint32_t end = uint32_t{info.l3_offset} + info.ip_total;
    if (m->data_len > end) rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - end));
    rte_pktmbuf_adj(m, info.l3_offset);
    bool ok = here.family == 4 ? xlate_4to6(m, to, nullptr) : xlate_6to4(m, to, nullptr);
    if (!ok) return verdict::drop;
    count(ctr_->nat64_translated);
    return verdict::xlated;
}

verdict l4_worker::on_icmp_error(rte_mbuf* m, packet_info& info, uint16_t ifindex, uint64_t /*now*/, drop_reason& why,
                                 unsigned& owner) noexcept {
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, info.l3_offset);
    bool v6 = info.l3 == l3_kind::ipv6;
    embedded_flow e;
    bool ok = v6 ? icmp_error_embedded6(ip, info.ip_total, e) : icmp_error_embedded4(ip, info.ip_total, e);
    if (ok) {
        // The embedded packet is one we sent: its mirror is the key it answers.
        flow_key k{};
        std::memcpy(k.src, e.dst, 16);
        std::memcpy(k.dst, e.src, 16);
        k.sport = e.dport;
        k.dport = e.sport;
        k.proto = e.proto;
        k.family = v6 ? 6 : 4;
        uint8_t dir = 0;
        uint32_t idx = flows_->lookup(k, flows_->hash(k), dir);
        if (idx == no_session && n_workers_ > 1 && k.dport % n_workers_ != id_ &&
            rt_->is_nat_address(k.dst, k.family)) {
            owner = k.dport % n_workers_;
            return verdict::handoff;
        }
        if (idx != no_session) {
            const session& s = flows_->at(idx);
            const flow_key& other = s.t[1 - dir];
            if (other.family != k.family) {
                // NAT46/64 (RFC 7915 4.2/5.2): the error crosses families. Its sender has no
                // address in the other family, so it appears to come from the address that side
                // talks to (the VIP, or the gateway's source address), as a stateful NAT64's own
                // address does (RFC 6146 3.5.3).
                endpoints outer{};
                std::memcpy(outer.src, other.dst, 16);
                std::memcpy(outer.dst, other.src, 16);
                endpoints inner{};
                std::memcpy(inner.src, other.src, 16);
                std::memcpy(inner.dst, other.dst, 16);
                inner.sport = other.sport;
                inner.dport = other.dport;
                uint32_t end = uint32_t{info.l3_offset} + info.ip_total;
                if (m->data_len > end) rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - end));
                rte_pktmbuf_adj(m, info.l3_offset);
                bool ok = v6 ? xlate_6to4(m, outer, &inner) : xlate_4to6(m, outer, &inner);
                if (!ok) {
                    why = drop_reason::nat_untranslatable;
                    return verdict::drop;
                }
                count(ctr_->nat_icmp_errors);
                count(ctr_->nat64_translated);
                return verdict::xlated;
            }
            bool nat = !(std::memcmp(other.src, k.dst, 16) == 0 && std::memcmp(other.dst, k.src, 16) == 0 &&
                         other.sport == k.dport && other.dport == k.sport);
            if (!nat) return verdict::pass;
            // RFC 5508 4: the error goes to the other side's source; its embedded packet is
            // rewritten to what that side sent.
            endpoints inner;
            std::memcpy(inner.src, other.src, 16);
            std::memcpy(inner.dst, other.dst, 16);
            inner.sport = other.sport;
            inner.dport = other.dport;
            bool done = v6 ? rewrite_icmp_error6(ip, info.ip_total, nullptr, other.src, inner)
                           : rewrite_icmp_error4(ip, info.ip_total, nullptr, other.src, inner);
            if (!done) {
                why = drop_reason::nat_untranslatable;
                return verdict::drop;
            }
            count(ctr_->nat_icmp_errors);
            return verdict::pass;
        }
    }
    // Not about a session: a new flow as far as the firewall is concerned (no session is kept).
    flow_key k{};
    std::memcpy(k.src, ip + (v6 ? 8 : 12), v6 ? 16 : 4);
    std::memcpy(k.dst, ip + (v6 ? 24 : 16), v6 ? 16 : 4);
    k.proto = info.l4_proto;
    k.family = v6 ? 6 : 4;
    if (!acl_allows(k, ifindex, false)) {
        why = drop_reason::acl_denied;
        return verdict::drop;
    }
    return verdict::pass;
}

bool l4_worker::port_free(const flow_key& t1) const noexcept {
    if (flows_->contains(t1)) return false;
    return tcp_ == nullptr || t1.proto != ip_proto::tcp ||
           !tcp_->has_connection(t1.family, t1.src, t1.sport, t1.dst, t1.dport);
}

bool l4_worker::pick_port(flow_key& t1, uint16_t preferred, uint16_t lo, uint16_t hi) noexcept {
    // t1 is the reply tuple with its destination port to be chosen. The port must belong to this
    // worker (p % workers == id), so that the worker owning the session also owns the replies.
    auto usable = [&](uint32_t p) {
        return p >= lo && p <= hi && (p < probe_port_min || p > probe_port_max) && p % n_workers_ == id_;
    };
    if (usable(preferred)) {
        t1.dport = preferred;
        if (port_free(t1)) return true;
    }
    uint32_t range = uint32_t{hi} - lo + 1;
    for (int tries = 0; tries < 32; ++tries) {
        uint32_t p = lo + next_random() % range;
        p = p - p % n_workers_ + id_;
        if (!usable(p)) continue;
        t1.dport = static_cast<uint16_t>(p);
        if (port_free(t1)) return true;
    }
    // Nearly full: walk the range from a random start (bounded), so no free port is missed in
    // small pools.
    uint32_t start = next_random() % range;
    uint32_t steps = std::min<uint32_t>(range, 4096);
    for (uint32_t i = 0; i < steps; ++i) {
        uint32_t p = lo + (start + i) % range;
        if (!usable(p)) continue;
        t1.dport = static_cast<uint16_t>(p);
        if (port_free(t1)) return true;
    }
    return false;
}

bool l4_worker::snat_eim(flow_key& t1, const flow_key& t0, const snat_rt& pool, const uint8_t* addr,
                         uint32_t& mapping) noexcept {
    // RFC 4787 4.1 endpoint-independent mapping: one (address, port) per inside (host, port),
    // whatever the destination.
    eim_key ik{};
    std::memcpy(ik.addr, t0.src, 16);
    ik.port = t0.sport;
    ik.proto = t0.proto;
    ik.family = t0.family;
    void* data = nullptr;
    if (rte_hash_lookup_data(eim_index_, &ik, &data) >= 0) {
        mapping = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data));
        eim_mapping& mp = eim_[mapping];
        std::memcpy(t1.dst, mp.outside, 16);
        t1.dport = mp.outside_port;
        if (flows_->contains(t1)) return false;
        ++mp.refs;
        return true;
    }
    if (eim_n_free_ == 0) return false;
    std::memcpy(t1.dst, addr, 16);
    eim_key ok{};
    std::memcpy(ok.addr, addr, 16);
    ok.proto = t0.proto;
    ok.outside = 1;
    ok.family = t0.family;
    uint32_t range = uint32_t{pool.port_max} - pool.port_min + 1;
    uint32_t start = next_random() % range;
    uint32_t limit = 64 + std::min<uint32_t>(range, 4096);
    for (uint32_t tries = 0; tries < limit; ++tries) {
        // The inside port first, then random ports, then a bounded walk of the range.
        uint32_t p = tries == 0   ? t0.sport
                     : tries < 64 ? pool.port_min + next_random() % range
                                  : pool.port_min + (start + tries - 64) % range;
        if (tries != 0 && tries < 64) p = p - p % n_workers_ + id_;
        if (p < pool.port_min || p > pool.port_max || p % n_workers_ != id_ ||
            (p >= probe_port_min && p <= probe_port_max))
            continue;
        ok.port = static_cast<uint16_t>(p);
        if (rte_hash_lookup(eim_index_, &ok) >= 0) continue;
        t1.dport = ok.port;
        if (flows_->contains(t1)) continue;
        mapping = eim_free_[--eim_n_free_];
        eim_mapping& mp = eim_[mapping];
        std::memcpy(mp.inside, t0.src, 16);
        std::memcpy(mp.outside, addr, 16);
        mp.inside_port = t0.sport;
        mp.outside_port = ok.port;
        mp.proto = t0.proto;
        mp.family = t0.family;
        mp.stat_slot = pool.stat_slot;
        mp.refs = 1;
        auto v = reinterpret_cast<void*>(static_cast<uintptr_t>(mapping));
        if (rte_hash_add_key_data(eim_index_, &ik, v) < 0 || rte_hash_add_key_data(eim_index_, &ok, v) < 0) {
            rte_hash_del_key(eim_index_, &ik);
            eim_free_[eim_n_free_++] = mapping;
            return false;
        }
        count(ctr_->snat_in_use[mp.stat_slot]);
        return true;
    }
    return false;
}

verdict l4_worker::on_miss(rte_mbuf* m, packet_info& info, const flow_key& k, hash_sig_t sig, uint8_t tcp_flags,
                           uint16_t ifindex, const route_lookup& routes, uint64_t now, drop_reason& why) noexcept {
    if (k.proto == ip_proto::tcp && !rt_->probe_sources.empty() && rt_->is_probe_answer(k.dst, k.family, k.dport))
        return verdict::probe;
    bool has_ports = info.has_l4;
    int32_t svc = rt_->find_service(k.family, k.dst, k.proto, k.dport);
    if (!acl_allows(k, ifindex, has_ports)) {
        why = drop_reason::acl_denied;
        return verdict::drop;
    }
    if (svc >= 0) {
        if (!rt_->limits.empty() && !source_admit(k, now, true, why)) return verdict::drop;
        return new_service_flow(m, info, k, sig, tcp_flags, svc, now, why);
    }

    // Egress SNAT: a pool whose sources hold the packet's source, for its egress interface.
    const snat_rt* pool = nullptr;
    if (!rt_->snat.empty()) {
        const next_hop* nh = nullptr;
        if (k.family == 4) {
            nh = routes.lookup4(rd32(k.dst));
        } else {
            nh = routes.lookup6(k.dst);
        }
        if (nh != nullptr && nh->kind == nh_kind::forward) {
            for (const auto& p : rt_->snat) {
                if (p.out_interface != 0xffff && p.out_interface != nh->ifindex) continue;
                bool src_in = false;
                for (const auto& pre : p.sources) src_in = src_in || prefix_match(pre, k);
                if (src_in && !(k.family == 4 ? p.v4.empty() : p.v6.empty())) {
                    pool = &p;
                    break;
                }
            }
        }
    }
    if (pool == nullptr && !rt_->fw_enabled) {
        // Nothing to track: routed as is; source limits count its packets only.
        if (!rt_->limits.empty() && !source_admit(k, now, false, why)) return verdict::drop;
        return verdict::pass;
    }
    if (!rt_->limits.empty() && !source_admit(k, now, true, why)) return verdict::drop;
    if (k.proto == ip_proto::tcp && (tcp_flags & tcp_flag::rst) != 0) {
        // A reset of nothing we know: pass it only where no state is needed.
        if (pool != nullptr) {
            why = drop_reason::tcp_no_session;
            return verdict::drop;
        }
        return verdict::pass;
    }
    if (rt_->max_flows_per_source != 0 && !source_count_add(k)) {
        why = drop_reason::flows_per_source;
        return verdict::drop;
    }
    flow_key t1 = k.mirrored();
    uint32_t mapping = no_session;
    if (pool != nullptr) {
        const auto& addrs = k.family == 4 ? pool->v4 : pool->v6;
        // The same inside host always gets the same pool address (RFC 4787 4.1 "paired").
        uint32_t h = rte_hash_crc(k.src, 16, 0);
        const uint8_t* addr = addrs[h % addrs.size()].data();
        bool ok = false;
        bool portful = k.proto == ip_proto::tcp || k.proto == ip_proto::udp || k.proto == ip_proto::sctp ||
                       ((k.proto == ip_proto::icmp || k.proto == ip_proto::icmpv6) && k.dport == 0 && info.has_l4 &&
                        is_icmp_echo_request(k.family, rte_pktmbuf_mtod_offset(m, const uint8_t*, info.l4_offset)[0]));
        if (!portful) {
            // No ports or identifier to translate: the address alone, if the reverse is free.
            std::memcpy(t1.dst, addr, 16);
            ok = !flows_->contains(t1);
        } else if (pool->eim) {
            ok = snat_eim(t1, k, *pool, addr, mapping);
        } else {
            std::memcpy(t1.dst, addr, 16);
            uint16_t preferred = k.sport;
            ok = pick_port(t1, preferred, pool->port_min, pool->port_max);
        }
        if (!ok) {
            if (rt_->max_flows_per_source != 0) source_count_del(k);
            why = drop_reason::nat_ports_exhausted;
            return verdict::drop;
        }
        // ICMP echo: the reply key carries the identifier in dport; keep the mirror consistent.
    } else if (flows_->contains(t1)) {
        // The reverse tuple is in use by another session (a NAT mapping): do not shadow it.
        if (rt_->max_flows_per_source != 0) source_count_del(k);
        why = drop_reason::nat_ports_exhausted;
        return verdict::drop;
    }
    uint32_t idx = flows_->insert(k, sig, t1, pool != nullptr ? session_kind::snat : session_kind::firewall, now);
    if (idx == no_session) {
        if (rt_->max_flows_per_source != 0) source_count_del(k);
        if (mapping != no_session) {
            release_mapping(mapping);
        }
        why = drop_reason::flow_table_full;
        return verdict::drop;
    }
    session& s = flows_->at(idx);
    if (rt_->max_flows_per_source != 0) s.flags |= session_flag::src_counted;
    if (mapping != no_session) {
        s.mapping = mapping;
        s.flags |= session_flag::eim;
    } else if (pool != nullptr) {
        // Its own (address, port) toward this destination: a mapping of the pool until it ends.
        s.stat_slot = pool->stat_slot;
        count(ctr_->snat_in_use[s.stat_slot]);
    }
    s.state = k.proto != ip_proto::tcp           ? tcp_state::none
              : (tcp_flags & tcp_flag::syn) != 0 ? tcp_state::syn_sent
                                                 : tcp_state::established;
    if (s.state != tcp_state::syn_sent) flows_->reschedule(idx);
    s.packets[0] = 1;
    count(ctr_->sessions_created);
    ctr_->sessions_active = flows_->active();
    return translate(m, info, s, 0);
}

// A new load-balanced session to backend `b`: its reply tuple (full-NAT: from the backend to our
// source address and a port of this worker; DNAT: to the client itself), the per-source count,
// the insert. no_session with `why` set when any of them fails.
uint32_t l4_worker::open_service_session(const service_rt& sv, int32_t b, const flow_key& k, hash_sig_t sig,
                                         uint64_t now, drop_reason& why) noexcept {
    const backend_rt& be = sv.backends[static_cast<size_t>(b)];
    flow_key t1{};
    std::memcpy(t1.src, be.addr, 16);
    t1.sport = be.port;
    t1.proto = k.proto;
    t1.family = be.family;
    bool ok = true;
    if (sv.mode == policy::nat_mode::full_nat) {
        std::memcpy(t1.dst, be.nat_src, 16);
        ok = pick_port(t1, k.sport, 1024, 65535);
    } else {
        std::memcpy(t1.dst, k.src, 16);
        t1.dport = k.sport;
        ok = !flows_->contains(t1);
    }
    if (!ok) {
        why = drop_reason::nat_ports_exhausted;
        return no_session;
    }
    bool per_source = rt_->max_flows_per_source != 0;
    if (per_source && !source_count_add(k)) {
        why = drop_reason::flows_per_source;
        return no_session;
    }
    uint32_t idx = flows_->insert(k, sig, t1, session_kind::service, now);
    if (idx == no_session) {
        if (per_source) source_count_del(k);
        why = drop_reason::flow_table_full;
        return no_session;
    }
    if (per_source) flows_->at(idx).flags |= session_flag::src_counted;
    return idx;
}

verdict l4_worker::new_service_flow(rte_mbuf* m, packet_info& info, const flow_key& k, hash_sig_t sig,
                                    uint8_t tcp_flags, int32_t svc, uint64_t now, drop_reason& why) noexcept {
    const service_rt& sv = rt_->services[static_cast<size_t>(svc)];
    if (!svc_packets_[svc].take(now)) {
        why = drop_reason::rate_limited_service;
        return verdict::drop;
    }
    bool tcp = k.proto == ip_proto::tcp;
    if (sv.mode == policy::nat_mode::tcp_proxy) {
        // Terminated here: the worker's TCP stack keeps the connection (no flow-table session).
        // New connections (a SYN) are charged to the service's new-flow rate.
        bool syn = (tcp_flags & (tcp_flag::syn | tcp_flag::ack)) == tcp_flag::syn;
        if (syn && !svc_flows_[svc].take(now)) {
            why = drop_reason::rate_limited_service;
            return verdict::drop;
        }
        return verdict::terminate;
    }
    if (tcp) {
        if ((tcp_flags & tcp_flag::rst) != 0) {
            why = drop_reason::tcp_no_session;
            return verdict::drop;
        }
        bool syn = (tcp_flags & (tcp_flag::syn | tcp_flag::ack)) == tcp_flag::syn;
        bool proxying = sv.syn_proxy_threshold != UINT32_MAX && half_open_ >= sv.syn_proxy_threshold;
        if (syn && proxying) return syn_cookie_reply(m, info, k, now);
        if (!syn && sv.syn_proxy_threshold != UINT32_MAX && (tcp_flags & tcp_flag::ack) != 0 &&
            (tcp_flags & tcp_flag::syn) == 0) {
            const uint8_t* l4 = rte_pktmbuf_mtod_offset(m, const uint8_t*, info.l4_offset);
            uint32_t cookie = rd32(l4 + 8) - 1;
            uint32_t client_isn = rd32(l4 + 4) - 1;
            int mss = check_cookie(secret_, cookie, k.src, k.dst, k.sport, k.dport, client_isn, seconds(now));
            if (mss >= 0) return syn_proxy_accept(m, info, k, sig, svc, mss, now, why);
            if (proxying) {
                why = drop_reason::syn_cookie_invalid;
                return verdict::drop;
            }
            // Not a cookie and no flood: a connection from before a restart or from another
            // gateway; Maglev sends it to the backend it had (mid-stream pickup).
        }
    }
    if (!svc_flows_[svc].take(now)) {
        why = drop_reason::rate_limited_service;
        return verdict::drop;
    }
    int32_t b = sv.table->pick(sig);
    if (b < 0) {
        why = drop_reason::no_backend;
        return verdict::drop;
    }
    uint32_t idx = open_service_session(sv, b, k, sig, now, why);
    if (idx == no_session) return verdict::drop;
    session& s = flows_->at(idx);
    s.service = static_cast<uint16_t>(svc);
    s.backend = static_cast<uint16_t>(b);
    s.stat_slot = sv.backends[static_cast<size_t>(b)].stat_slot;
    s.mapping = rt_epoch_;
    s.packets[0] = 1;
    count(ctr_->backends[s.stat_slot].connections);
    if (tcp && (tcp_flags & tcp_flag::syn) != 0) {
        s.state = tcp_state::syn_sent;
        s.flags |= session_flag::half_open;
        ++half_open_;
        ctr_->sessions_half_open = half_open_;
    } else {
        s.state = tcp ? tcp_state::established : tcp_state::none;
        flows_->reschedule(idx);
    }
    count(ctr_->sessions_created);
    ctr_->sessions_active = flows_->active();
    verdict v = translate(m, info, s, 0);
    count_to_backend(s, v, m, info);
    return v;
}

verdict l4_worker::syn_cookie_reply(rte_mbuf* m, packet_info& info, const flow_key& k, uint64_t now) noexcept {
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, info.l3_offset);
    uint8_t* tcp = ip + info.l3_len;
    uint32_t client_isn = rd32(tcp + 4);
    uint8_t mss_index = cookie_mss_index(tcp_mss_option(tcp, info.ip_total - info.l3_len));
    uint32_t cookie = make_cookie(secret_, k.src, k.dst, k.sport, k.dport, client_isn, seconds(now), mss_index);
    // SYN-ACK without window scaling, SACK or timestamps: the cookie cannot carry them (the
    // connection to the backend is opened without them too, so both sides agree).
    rebuild_segment(m, info, ip, true, cookie, client_isn + 1, tcp_flag::syn | tcp_flag::ack, 65535,
                    cookie_mss_table[mss_index]);
    count(ctr_->syn_cookies_sent);
    return verdict::pass;
}

verdict l4_worker::syn_proxy_accept(rte_mbuf* m, packet_info& info, const flow_key& k, hash_sig_t sig, int32_t svc,
                                    int mss_index, uint64_t now, drop_reason& why) noexcept {
    const service_rt& sv = rt_->services[static_cast<size_t>(svc)];
    int32_t b = sv.table->pick(sig);
    if (b < 0) {
        why = drop_reason::no_backend;
        return verdict::drop;
    }
    if (!svc_flows_[svc].take(now)) {
        why = drop_reason::rate_limited_service;
        return verdict::drop;
    }
    uint32_t idx = open_service_session(sv, b, k, sig, now, why);
    if (idx == no_session) return verdict::drop;
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, info.l3_offset);
    uint8_t* tcp = ip + info.l3_len;
    uint32_t client_seq = rd32(tcp + 4);
    uint32_t cookie = rd32(tcp + 8) - 1;
    session& s = flows_->at(idx);
    s.service = static_cast<uint16_t>(svc);
    s.backend = static_cast<uint16_t>(b);
    s.stat_slot = sv.backends[static_cast<size_t>(b)].stat_slot;
    s.mapping = rt_epoch_;
    count(ctr_->backends[s.stat_slot].connections);
    s.state = tcp_state::syn_received;
    s.flags |= session_flag::syn_proxy_wait;
    s.seq_delta = cookie;  // until the backend's SYN-ACK gives its ISN
    s.packets[0] = 1;
    count(ctr_->syn_cookies_accepted);
    count(ctr_->sessions_created);
    ctr_->sessions_active = flows_->active();
    // The client's ACK becomes our SYN to the backend, with the client's ISN and MSS.
    uint16_t window = rd16(tcp + 14);
    rebuild_segment(m, info, ip, false, client_seq - 1, 0, tcp_flag::syn, window, cookie_mss_table[mss_index]);
    verdict v = translate(m, info, s, 0);
    count_to_backend(s, v, m, info);
    return v;
}

}  // namespace meshgate::dataplane::l4
