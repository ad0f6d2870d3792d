#include "dataplane/tcp/tcp_stack.hpp"

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_random.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/l4/syn_cookie.hpp"
#include "dataplane/tcp/checksum.hpp"
#include "dataplane/tcp/congestion.hpp"
#include "dataplane/tcp/sack_scoreboard.hpp"
#include "dataplane/tcp/seq.hpp"
#include "dataplane/tcp/timer_wheel.hpp"

namespace meshgate::dataplane::tcp {

namespace {

constexpr uint8_t f_fin = 0x01, f_syn = 0x02, f_rst = 0x04, f_psh = 0x08, f_ack = 0x10;  // URG: not supported
constexpr uint32_t max_listeners = 64;
constexpr uint32_t out_ring_size = 4096;  // power of two
constexpr uint32_t small_copy = 256;      // payload up to this is copied into the header mbuf
constexpr uint64_t us_per_tick = 1000;    // the timer wheel's tick: 1 ms

inline uint16_t rd16(const uint8_t* p) noexcept {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t rd32(const uint8_t* p) noexcept {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void wr16(uint8_t* p, uint16_t v) noexcept {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void wr32(uint8_t* p, uint32_t v) noexcept {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}
inline void count(uint64_t& c, uint64_t n = 1) noexcept {
    std::atomic_ref<uint64_t> r(c);
    r.store(r.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline void uncount(uint64_t& c, uint64_t n = 1) noexcept {
    std::atomic_ref<uint64_t> r(c);
    r.store(r.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}

// Connection key: local then remote (16-byte addresses, IPv4 in the first 4).
struct conn_key {
    uint8_t laddr[16];
    uint8_t raddr[16];
    uint16_t lport;
    uint16_t rport;
    uint8_t family;
    uint8_t pad[3];
};
static_assert(sizeof(conn_key) == 40);

// Options of a received segment.
struct seg_opts {
    uint16_t mss = 0;
    int8_t wscale = -1;
    bool sack_ok = false;
    bool has_ts = false;
    uint32_t ts_val = 0, ts_ecr = 0;
    uint8_t n_sack = 0;
    seq_range sack[4];
};

// A received segment, parsed.
struct segment {
    rte_mbuf* m;
    conn_key key;
    uint32_t seq, ack;
    uint32_t wnd;  // raw window field
    uint8_t flags;
    uint32_t len;  // payload bytes
    uint16_t payload_off;
    seg_opts o;
    uint32_t seg_len() const noexcept { return len + ((flags & f_syn) ? 1 : 0) + ((flags & f_fin) ? 1 : 0); }
};

enum conn_flags : uint16_t {
    cf_fin_queued = 1,          // the app asked for a FIN after the queued data
    cf_fin_sent = 2,            // our FIN has a sequence number (snd_max includes it)
    cf_fin_received = 4,        // rcv_nxt covers the peer's FIN
    cf_app_closed = 8,          // close(): no more callbacks; data arriving now draws RST
    cf_passive = 16,            // from a listener
    cf_in_recovery = 32,        // fast recovery (RFC 6582 / RFC 6675)
    cf_ack_now = 64,            // an ACK is owed now
    cf_rtt_timing = 128,        // rtt_seq is being timed (no timestamps; Karn)
    cf_cookie = 256,            // made from a SYN cookie
    cf_dead = 512,              // freed at the end of the current call
    cf_notified_fin = 1024,     // on_peer_fin given
    cf_writable_wanted = 2048,  // send_space was short: on_writable when it frees up
    cf_close_pending = 4096,    // TIME-WAIT reached with data unread: on_closed once it is read
    cf_rescued = 8192,          // this recovery's rescue retransmission was sent (RFC 6675 4 rule 4)
};

}  // namespace

struct tcp_conn {
    conn_key key;
    tcp_state st = tcp_state::closed;
    uint16_t flags = 0;
    int16_t listener = -1;
    uint32_t index = 0;
    uint32_t gen = 0;         // bumped on each reuse of the slot (deferred ACKs check it)
    bool ack_urgent = false;  // the ACK owed may not wait for the end of a batch (RFC 5681 4.2)
    callbacks cb;
    void* ctx = nullptr;
    uint32_t rcv_buf = 0, snd_buf = 0;
    uint16_t mss_floor = 536;

    // send side
    uint32_t iss = 0, snd_una = 0, snd_nxt = 0, snd_max = 0;
    uint32_t snd_wnd = 0, snd_wl1 = 0, snd_wl2 = 0, max_snd_wnd = 0;
    uint16_t smss = 536;  // payload per segment (options accounted separately)
    uint16_t peer_mss = 536;
    uint16_t adv_mss = 1460;
    uint16_t rcv_mss = 536;  // largest segment received: "full-sized" for the ACK rule
    uint8_t snd_wscale = 0, rcv_wscale = 0;
    bool ws_ok = false, ts_ok = false, sack_ok = false;
    rte_mbuf* sq_head = nullptr;  // queued data starting at snd_una, linked through ->next
    rte_mbuf* sq_tail = nullptr;
    uint32_t sq_bytes = 0;
    rte_mbuf* cur_m = nullptr;  // cursor into the send queue: mbuf whose first byte has seq cur_seq
    uint32_t cur_seq = 0;
    cc_state cc{};
    sack_scoreboard sb;
    uint32_t recover = 0, high_rxt = 0;
    uint8_t dupacks = 0;
    uint32_t rtt_seq = 0;
    uint64_t rtt_start_us = 0;
    uint32_t srtt_us = 0, rttvar_us = 0, rto_us = 1000000;
    uint8_t retries = 0;  // RTO expiries in a row (or SYN/SYN-ACK retransmissions, keepalive probes)
    uint32_t persist_backoff = 0;

    // receive side
    uint32_t irs = 0, rcv_nxt = 0, rcv_adv = 0;  // rcv_adv: right edge last advertised
    uint32_t ts_recent = 0;
    uint64_t ts_recent_us = 0;
    uint32_t last_ack_sent = 0;
    rte_mbuf* rq_head = nullptr;  // in-order payload not yet read, linked through ->next
    rte_mbuf* rq_tail = nullptr;
    uint32_t rq_bytes = 0;
    rte_mbuf* ooo = nullptr;      // out-of-order segments by seq (hash.fdir.lo), FIN flag in fdir.hi
    uint32_t ooo_charge = 0;      // buffer bytes held out of order
    uint8_t unacked_segs = 0;     // full segments received since our last ACK
    seq_range sack_hist[4] = {};  // SACK blocks to report, most recent first (RFC 2018 4)
    uint8_t n_sack_hist = 0;

    // timers (absolute µs; 0: off) on one wheel node
    timer_node tn;
    uint64_t t_rtx = 0, t_delack = 0, t_persist = 0, t_keep = 0, t_2msl = 0, t_user = 0;
    uint64_t t_tlp = 0;     // tail loss probe (RFC 8985 7), ahead of the RTO
    bool tlp_out = false;   // a probe is out: no other until new data is acknowledged
    uint32_t rxt_mark = 0;  // SND.MAX when SND.UNA was last retransmitted in recovery (0: none)
    uint32_t user_timeout_us = 0;
    uint64_t last_activity_us = 0;
    uint64_t last_send_us = 0;    // last data segment sent (idle restart)
    tcp_conn* tw_next = nullptr;  // TIME_WAIT FIFO
    tcp_conn* tw_prev = nullptr;
    tcp_conn* dead_next = nullptr;
    tcp_conn* notify_next = nullptr;
    bool notify_queued = false;

    uint64_t bytes_in = 0, bytes_out = 0, segs_in = 0, segs_out = 0, retrans = 0;
};

namespace {

struct listener {
    bool used = false;
    uint8_t family = 4;
    uint8_t addr[16] = {};
    bool any = true;
    uint16_t port = 0;
    callbacks cb;
    void* ctx = nullptr;
    uint32_t half_open = 0;
    conn_options opts;
};

tcp_conn* conn_of_node(timer_node* n) noexcept {
    return reinterpret_cast<tcp_conn*>(reinterpret_cast<char*>(n) - offsetof(tcp_conn, tn));
}

}  // namespace

struct tcp_stack::impl {
    explicit impl(uint64_t now_tick) noexcept : wheel(now_tick) {}
    stack_config cfg;
    rte_mempool* pool = nullptr;
    unsigned worker = 0, workers = 1;
    rte_hash* table = nullptr;
    std::vector<tcp_conn> conns;
    std::vector<uint32_t> free_list;
    listener listeners[max_listeners];
    timer_wheel wheel;
    rte_mbuf* out[out_ring_size];
    uint32_t out_head = 0, out_tail = 0;
    stack_counters ctr{};
    l4::cookie_secret secret;
    uint64_t now = 0;  // µs, of the current call
    uint64_t start_us = 0;
    uint16_t port_min = 32768, port_max = 60999;
    tcp_stack::port_filter port_taken = nullptr;
    void* port_ctx = nullptr;
    uint16_t next_port = 0;
    uint16_t ip_id = 0;
    uint32_t ooo_total = 0;
    uint32_t min_iss = 0;  // a connection reopened from TIME-WAIT starts above this
    bool min_iss_set = false;
    tcp_conn* tw_first = nullptr;  // oldest TIME_WAIT
    tcp_conn* tw_last = nullptr;
    uint32_t tw_count = 0;
    tcp_conn* dead = nullptr;
    int depth = 0;  // nesting of API calls (callbacks calling back in); frees happen at depth 0
    uint64_t ca_window_start = 0;
    uint32_t ca_count = 0;

    // ---- helpers ----------------------------------------------------------------------------
    static uint32_t ts_now(uint64_t now_us) noexcept { return static_cast<uint32_t>(now_us / 1000); }
    uint64_t seconds() const noexcept { return (now - start_us) / 1000000; }

    tcp_conn* lookup(const conn_key& k) const noexcept {
        void* data = nullptr;
        if (rte_hash_lookup_data(table, &k, &data) < 0) return nullptr;
        return static_cast<tcp_conn*>(data);
    }

    int find_listener(uint8_t family, const uint8_t* addr, uint16_t port) const noexcept {
        int any = -1;
        for (uint32_t i = 0; i < max_listeners; ++i) {
            const listener& l = listeners[i];
            if (!l.used || l.family != family || l.port != port) continue;
            if (!l.any && std::memcmp(l.addr, addr, family == 6 ? 16 : 4) == 0) return static_cast<int>(i);
            if (l.any) any = static_cast<int>(i);
        }
        return any;
    }

    uint32_t isn_for(const conn_key& k) const noexcept {
        // RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs timer.
        uint8_t msg[40];
        std::memcpy(msg, &k, 40);
        msg[37] = msg[38] = msg[39] = 0;
        uint64_t f = l4::detail::siphash(secret, msg, 40);
        return static_cast<uint32_t>(now / 4) + static_cast<uint32_t>(f);
    }

    cc_algo cc_for(const tcp_conn* c) const noexcept { return c->cc.algo; }
    void apply_options(tcp_conn* c, const conn_options* o) noexcept {
        c->cc.algo = cfg.cc;
        if (o == nullptr) return;
        if (o->rcv_buf) c->rcv_buf = o->rcv_buf;
        if (o->snd_buf) c->snd_buf = o->snd_buf;
        if (o->mss_floor) c->mss_floor = o->mss_floor;
        if (o->mss) c->adv_mss = std::min<uint16_t>(o->mss, c->adv_mss);
        if (o->cc >= 0) c->cc.algo = static_cast<cc_algo>(o->cc);
    }

    // ---- connections --------------------------------------------------------------------------
    tcp_conn* alloc_conn(const conn_key& k) noexcept {
        if (free_list.empty()) {
            // Reuse the oldest TIME_WAIT connection (bounded TIME_WAIT resources).
            if (tw_first == nullptr) return nullptr;
            tcp_conn* old = tw_first;
            count(ctr.time_wait_reused);
            destroy(old);
        }
        uint32_t idx = free_list.back();
        free_list.pop_back();
        tcp_conn* c = &conns[idx];
        uint32_t gen = c->gen + 1;
        *c = tcp_conn{};
        c->gen = gen;
        c->index = idx;
        c->key = k;
        if (rte_hash_add_key_data(table, &c->key, c) < 0) {
            free_list.push_back(idx);
            return nullptr;
        }
        c->adv_mss = static_cast<uint16_t>(k.family == 6 ? cfg.mss - 20 : cfg.mss);
        c->smss = k.family == 6 ? 1220 : 536;  // RFC 9293 3.7.1: the default without an MSS option
        c->rto_us = cfg.rto_initial_us;
        c->last_activity_us = now;
        c->rcv_buf = cfg.rcv_buf;
        c->snd_buf = cfg.snd_buf;
        c->mss_floor = cfg.mss_floor;
        count(ctr.conns);
        return c;
    }

    void tw_unlink(tcp_conn* c) noexcept {
        if (c->tw_prev)
            c->tw_prev->tw_next = c->tw_next;
        else if (tw_first == c)
            tw_first = c->tw_next;
        if (c->tw_next)
            c->tw_next->tw_prev = c->tw_prev;
        else if (tw_last == c)
            tw_last = c->tw_prev;
        c->tw_next = c->tw_prev = nullptr;
    }

    static void free_chain_list(rte_mbuf*& head) noexcept {
        while (head != nullptr) {
            rte_mbuf* n = head->next;
            head->next = nullptr;
            rte_pktmbuf_free_seg(head);
            head = n;
        }
    }

    // Frees everything now (no callbacks).
    void destroy(tcp_conn* c) noexcept {
        if (c->st == tcp_state::time_wait) {
            tw_unlink(c);
            --tw_count;
            uncount(ctr.time_wait);
        }
        if (c->st == tcp_state::established || c->st == tcp_state::close_wait) uncount(ctr.established);
        if (c->st == tcp_state::syn_received && c->listener >= 0 && listeners[c->listener].half_open > 0)
            --listeners[c->listener].half_open;
        wheel.disarm(&c->tn);
        free_chain_list(c->sq_head);
        free_chain_list(c->rq_head);
        while (c->ooo != nullptr) {
            rte_mbuf* n = c->ooo->next;
            ooo_total -= c->ooo->buf_len;
            c->ooo->next = nullptr;
            rte_pktmbuf_free_seg(c->ooo);
            c->ooo = n;
        }
        rte_hash_del_key(table, &c->key);
        c->st = tcp_state::closed;
        c->flags = cf_dead;
        uncount(ctr.conns);
        free_list.push_back(c->index);
    }

    // Ends a connection: on_closed (unless the app closed or aborted it), freed at depth 0.
    void finish(tcp_conn* c, close_reason r, bool notify) noexcept {
        if (c->flags & cf_dead) return;
        bool tell = notify && !(c->flags & cf_app_closed) && c->cb.on_closed != nullptr &&
                    !(c->st == tcp_state::syn_received && (c->flags & cf_passive));
        set_state(c, tcp_state::closed);
        c->flags |= cf_dead;
        wheel.disarm(&c->tn);
        if (tell) c->cb.on_closed(c->ctx, c, r);
        c->dead_next = dead;
        dead = c;
    }

    // ACKs owed while a batch of segments is processed (begin_batch/end_batch): one per
    // connection at the end of the batch instead of one per two segments within it.
    bool batching = false;
    struct pending_ack {
        tcp_conn* c;
        uint32_t gen;
    };
    pending_ack acks[64];
    uint32_t n_acks = 0;
    void ack_soon(tcp_conn* c) noexcept {
        if (!batching || c->ack_urgent) return send_ack(c);
        for (uint32_t i = 0; i < n_acks; ++i)
            if (acks[i].c == c && acks[i].gen == c->gen) return;
        if (n_acks == 64) return send_ack(c);
        acks[n_acks++] = {c, c->gen};
    }
    void flush_acks() noexcept {
        for (uint32_t i = 0; i < n_acks; ++i) {
            tcp_conn* c = acks[i].c;
            if (c->gen == acks[i].gen && !(c->flags & cf_dead) && (c->flags & cf_ack_now) && c->st != tcp_state::closed)
                send_ack(c);
        }
        n_acks = 0;
    }

    // Notifications due after the current API call (see recv()).
    tcp_conn* notify_head = nullptr;
    void defer_notify(tcp_conn* c) noexcept {
        if (c->notify_queued) return;
        c->notify_queued = true;
        c->notify_next = notify_head;
        notify_head = c;
    }
    void run_notifications() noexcept {
        while (notify_head != nullptr) {
            tcp_conn* c = notify_head;
            notify_head = c->notify_next;
            c->notify_queued = false;
            if ((c->flags & (cf_dead | cf_app_closed)) || c->rq_bytes != 0) continue;
            if ((c->flags & cf_fin_received) && !(c->flags & cf_notified_fin)) {
                c->flags |= cf_notified_fin;
                if (c->cb.on_peer_fin) c->cb.on_peer_fin(c->ctx, c);
                if (c->flags & (cf_dead | cf_app_closed)) continue;
            }
            if ((c->flags & cf_close_pending) && c->rq_bytes == 0) {
                c->flags = static_cast<uint16_t>((c->flags & ~cf_close_pending) | cf_app_closed);
                if (c->cb.on_closed) c->cb.on_closed(c->ctx, c, close_reason::normal);
            }
        }
    }

    void reap() noexcept {
        while (dead != nullptr) {
            tcp_conn* c = dead;
            dead = c->dead_next;
            c->flags &= static_cast<uint16_t>(~cf_dead);
            destroy(c);
        }
    }

    void set_state(tcp_conn* c, tcp_state s) noexcept {
        tcp_state old = c->st;
        if (old == s) return;
        bool was_est = old == tcp_state::established || old == tcp_state::close_wait;
        bool is_est = s == tcp_state::established || s == tcp_state::close_wait;
        if (was_est && !is_est) uncount(ctr.established);
        if (!was_est && is_est) count(ctr.established);
        if (old == tcp_state::syn_received && c->listener >= 0 && listeners[c->listener].half_open > 0)
            --listeners[c->listener].half_open;
        if (old == tcp_state::time_wait) {
            tw_unlink(c);
            --tw_count;
            uncount(ctr.time_wait);
        }
        if (s == tcp_state::time_wait) {
            c->tw_prev = tw_last;
            c->tw_next = nullptr;
            if (tw_last)
                tw_last->tw_next = c;
            else
                tw_first = c;
            tw_last = c;
            ++tw_count;
            count(ctr.time_wait);
        }
        c->st = s;
    }

    void enter_time_wait(tcp_conn* c) noexcept {
        set_state(c, tcp_state::time_wait);
        c->t_rtx = c->t_persist = c->t_keep = c->t_delack = c->t_user = 0;
        c->t_2msl = now + cfg.time_wait_us;
        free_chain_list(c->sq_head);
        c->sq_tail = nullptr;
        c->sq_bytes = 0;
        c->cur_m = nullptr;
        if (tw_count > cfg.max_time_wait && tw_first != nullptr && tw_first != c) {
            count(ctr.time_wait_reused);
            tcp_conn* old = tw_first;
            finish(old, close_reason::normal, false);
        }
        // Callbacks end when both directions are done and everything received was read.
        if (!(c->flags & cf_app_closed) && c->rq_bytes > 0) {
            c->flags |= cf_close_pending;
        } else if (!(c->flags & cf_app_closed) && c->cb.on_closed != nullptr) {
            auto cb = c->cb.on_closed;
            void* ctx = c->ctx;
            c->flags |= cf_app_closed;
            cb(ctx, c, close_reason::normal);
        }
        arm(c);
    }

    // ---- timers -------------------------------------------------------------------------------
    void arm(tcp_conn* c) noexcept {
        if (c->flags & cf_dead) return;
        uint64_t t = UINT64_MAX;
        for (uint64_t d : {c->t_rtx, c->t_delack, c->t_persist, c->t_keep, c->t_2msl, c->t_user, c->t_tlp})
            if (d != 0 && d < t) t = d;
        if (t == UINT64_MAX) {
            wheel.disarm(&c->tn);
            return;
        }
        wheel.arm(&c->tn, (t + us_per_tick - 1) / us_per_tick);
    }

    void restart_rtx(tcp_conn* c) noexcept {
        c->t_rtx = now + c->rto_us;
        arm_tlp(c);
    }
    // RFC 8985 7.2: a probe timeout of 2 SRTT (10 ms at least; plus a delayed ACK when one segment
    // is out), when it comes before the RTO, outside loss recovery, once per flight.
    void arm_tlp(tcp_conn* c) noexcept {
        c->t_tlp = 0;
        if (!cfg.tail_loss_probe || c->tlp_out || c->srtt_us == 0 || (c->flags & cf_in_recovery) ||
            c->st != tcp_state::established || c->t_rtx == 0)
            return;
        uint64_t pto = std::max<uint64_t>(2ull * c->srtt_us, 10000);
        if (flight(c) <= c->smss) pto += cfg.delack_us;
        if (now + pto < c->t_rtx) c->t_tlp = now + pto;
    }

    void on_timer(tcp_conn* c) noexcept;

    // ---- output -------------------------------------------------------------------------------
    void push_out(rte_mbuf* m) noexcept {
        if (out_tail - out_head >= out_ring_size) {
            count(ctr.output_dropped);
            rte_pktmbuf_free(m);
            return;
        }
        out[out_tail++ & (out_ring_size - 1)] = m;
        count(ctr.segments_out);
    }

    uint32_t rcv_window(const tcp_conn* c) const noexcept {
        uint32_t used = c->rq_bytes;
        uint32_t w = c->rcv_buf > used ? c->rcv_buf - used : 0;
        uint32_t maxw = c->ws_ok ? (65535U << c->rcv_wscale) : 65535U;
        if (w > maxw) w = maxw;
        // Never move the right edge back (RFC 9293 3.8.6.2.2).
        uint32_t old = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
        if (w < old) w = old;
        // Receiver SWS avoidance (RFC 9293 3.8.6.2.2): the right edge moves by a full segment or
        // half the buffer at least.
        if (w > old && w - old < std::min<uint32_t>(c->rcv_buf / 2, c->adv_mss) && w < c->rcv_buf) w = old;
        return w;
    }

    // Builds and queues one segment. `data_seq`/`len`: payload from the send queue (len 0: none).
    void emit(tcp_conn* c, uint8_t flags, uint32_t seq, uint32_t len, bool syn_opts) noexcept;
    void send_ack(tcp_conn* c) noexcept { emit(c, f_ack, c->snd_nxt, 0, false); }
    void send_rst_for(const segment& s) noexcept;
    void raw_segment(const conn_key& k, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, const uint8_t* opts,
                     uint8_t opt_len) noexcept;

    void challenge_ack(tcp_conn* c) noexcept {
        // RFC 5961 7: rate limited per stack.
        uint64_t sec = now / 1000000;
        if (sec != ca_window_start) {
            ca_window_start = sec;
            ca_count = 0;
        }
        if (ca_count >= cfg.challenge_acks_per_sec) {
            count(ctr.challenge_acks_suppressed);
            return;
        }
        ++ca_count;
        count(ctr.challenge_acks);
        send_ack(c);
    }

    void output(tcp_conn* c) noexcept;  // sends what window, cwnd and the queue allow
    void retransmit_una(tcp_conn* c) noexcept;

    // ---- input --------------------------------------------------------------------------------
    bool parse(rte_mbuf* m, segment& s) noexcept;
    void input(rte_mbuf* m, tcp_conn* hint = nullptr) noexcept;
    void on_listen(int li, segment& s) noexcept;
    void on_syn_sent(tcp_conn* c, segment& s) noexcept;
    void on_segment(tcp_conn* c, segment& s) noexcept;
    bool process_ack(tcp_conn* c, segment& s) noexcept;
    void process_data(tcp_conn* c, segment& s) noexcept;
    void apply_syn_options(tcp_conn* c, const seg_opts& o, bool ours_sent_ws) noexcept;
    void rtt_sample(tcp_conn* c, uint32_t rtt) noexcept;
    // An RTT from an echoed timestamp (RFC 7323 4.3), unless the echo is from the future or
    // older than the longest RTO (a stale or forged TSecr).
    void ts_sample(tcp_conn* c, uint32_t ecr) noexcept {
        uint32_t ms = ts_now(now) - ecr;
        if (static_cast<int32_t>(ms) < 0 || ms > cfg.rto_max_us / 1000) return;
        rtt_sample(c, ms * 1000);
    }
    void ack_policy(tcp_conn* c, bool immediate) noexcept;
    void deliver_ooo(tcp_conn* c) noexcept;
    // on_peer_fin now if all data before the FIN was read. False: the connection is gone.
    bool tell_peer_fin(tcp_conn* c) noexcept {
        if ((c->flags & (cf_app_closed | cf_notified_fin)) || c->rq_bytes != 0) return true;
        c->flags |= cf_notified_fin;
        if (c->cb.on_peer_fin) c->cb.on_peer_fin(c->ctx, c);
        return !(c->flags & cf_dead);
    }
    void notify_readable(tcp_conn* c) noexcept {
        if ((c->flags & cf_app_closed) || c->cb.on_readable == nullptr) return;
        c->cb.on_readable(c->ctx, c);
    }
    void maybe_writable(tcp_conn* c) noexcept {
        if (!(c->flags & cf_writable_wanted) || (c->flags & (cf_app_closed | cf_dead))) return;
        if (c->sq_bytes > c->snd_buf / 2) return;
        c->flags &= static_cast<uint16_t>(~cf_writable_wanted);
        if (c->cb.on_writable != nullptr) c->cb.on_writable(c->ctx, c);
    }
    uint32_t flight(const tcp_conn* c) const noexcept { return c->snd_max - c->snd_una; }
    uint32_t pipe(const tcp_conn* c) const noexcept;
    void free_acked(tcp_conn* c, uint32_t acked) noexcept;
    void note_sack(tcp_conn* c, uint32_t seq) noexcept;
    void new_established(tcp_conn* c) noexcept;
};

// =============================================================================================
// output

void tcp_stack::impl::raw_segment(const conn_key& k, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
                                  const uint8_t* opts, uint8_t opt_len) noexcept {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) {
        count(ctr.output_dropped);
        return;
    }
    bool v6 = k.family == 6;
    uint16_t ip_len = v6 ? 40 : 20;
    uint16_t tcp_len = static_cast<uint16_t>(20 + opt_len);
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(ip_len + tcp_len)));
    if (p == nullptr) {
        rte_pktmbuf_free(m);
        count(ctr.output_dropped);
        return;
    }
    uint8_t* t = p + ip_len;
    if (v6) {
        wr32(p, 0x60000000);
        wr16(p + 4, tcp_len);
        p[6] = 6;
        p[7] = 64;
        std::memcpy(p + 8, k.laddr, 16);
        std::memcpy(p + 24, k.raddr, 16);
    } else {
        p[0] = 0x45;
        p[1] = 0;
        wr16(p + 2, static_cast<uint16_t>(ip_len + tcp_len));
        wr16(p + 4, ip_id++);
        wr16(p + 6, 0x4000);  // DF
        p[8] = 64;
        p[9] = 6;
        wr16(p + 10, 0);
        std::memcpy(p + 12, k.laddr, 4);
        std::memcpy(p + 16, k.raddr, 4);
    }
    wr16(t, k.lport);
    wr16(t + 2, k.rport);
    wr32(t + 4, seq);
    wr32(t + 8, ack);
    t[12] = static_cast<uint8_t>((tcp_len / 4) << 4);
    t[13] = flags;
    wr16(t + 14, wnd);
    wr16(t + 16, 0);
    wr16(t + 18, 0);
    if (opt_len) std::memcpy(t + 20, opts, opt_len);
    if (v6) {
        wr16(t + 16, rte_be_to_cpu_16(rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(p), t)));
    } else {
        auto* ip4 = reinterpret_cast<rte_ipv4_hdr*>(p);
        ip4->hdr_checksum = rte_ipv4_cksum(ip4);
        wr16(t + 16, rte_be_to_cpu_16(rte_ipv4_udptcp_cksum(ip4, t)));
    }
    push_out(m);
}

// RFC 9293 3.10.7.1: a reset for a segment that belongs to no connection.
void tcp_stack::impl::send_rst_for(const segment& s) noexcept {
    if (s.flags & f_rst) return;
    count(ctr.resets_out);
    if (s.flags & f_ack) {
        raw_segment(s.key, s.ack, 0, f_rst, 0, nullptr, 0);
    } else {
        raw_segment(s.key, 0, s.seq + s.seg_len(), f_rst | f_ack, 0, nullptr, 0);
    }
}

void tcp_stack::impl::emit(tcp_conn* c, uint8_t flags, uint32_t seq, uint32_t len, bool syn_opts) noexcept {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) {
        count(ctr.output_dropped);
        return;
    }
    bool v6 = c->key.family == 6;
    uint8_t opts[40];
    uint8_t ol = 0;
    if (syn_opts) {
        // MSS, SACK-permitted, timestamps, window scale (RFC 9293 3.7.1, RFC 2018, RFC 7323).
        opts[ol++] = 2;
        opts[ol++] = 4;
        wr16(opts + ol, c->adv_mss);
        ol += 2;
        // A SYN offers what is configured; a SYN-ACK only what the peer's SYN offered too
        // (RFC 7323 2.2 and 3.2, RFC 2018 2).
        bool synack = (flags & f_ack) != 0;
        bool sack = synack ? c->sack_ok : cfg.sack;
        bool ts = synack ? c->ts_ok : cfg.timestamps;
        bool ws = synack ? c->ws_ok : true;
        if (sack && ts) {
            opts[ol++] = 4;
            opts[ol++] = 2;
        } else if (sack) {
            opts[ol++] = 1;
            opts[ol++] = 1;
            opts[ol++] = 4;
            opts[ol++] = 2;
        }
        if (ts) {
            if (!sack) {
                opts[ol++] = 1;
                opts[ol++] = 1;
            }
            opts[ol++] = 8;
            opts[ol++] = 10;
            wr32(opts + ol, ts_now(now));
            wr32(opts + ol + 4, (flags & f_ack) ? c->ts_recent : 0);
            ol += 8;
        }
        if (ws) {
            opts[ol++] = 1;
            opts[ol++] = 3;
            opts[ol++] = 3;
            opts[ol++] = c->rcv_wscale;
        }
    } else {
        if (c->ts_ok) {
            opts[ol++] = 1;
            opts[ol++] = 1;
            opts[ol++] = 8;
            opts[ol++] = 10;
            wr32(opts + ol, ts_now(now));
            wr32(opts + ol + 4, c->ts_recent);
            ol += 8;
        }
        // SACK blocks (RFC 2018 4): the block with the most recent segment first, then others.
        if (c->sack_ok && c->ooo != nullptr && (flags & f_ack) && !(flags & f_rst)) {
            int maxb = c->ts_ok ? 3 : 4;
            // On data, options count against the MSS (RFC 6691, MUST-16): blocks only where the
            // segment has room for them.
            if (len > 0) {
                uint32_t room = uint32_t{c->smss} + (c->ts_ok ? 12u : 0u) - ol - std::min<uint32_t>(len, c->smss);
                maxb = room >= 12 ? std::min<int>(maxb, static_cast<int>((room - 4) / 8)) : 0;
            }
            seq_range blocks[4];
            int nb = 0;
            for (int i = 0; i < c->n_sack_hist && nb < maxb; ++i) {
                const seq_range& h = c->sack_hist[i];
                if (seq_leq(h.end, c->rcv_nxt)) continue;
                blocks[nb++] = {seq_max(h.start, c->rcv_nxt), h.end};
            }
            if (nb > 0) {
                opts[ol++] = 1;
                opts[ol++] = 1;
                opts[ol++] = 5;
                opts[ol++] = static_cast<uint8_t>(2 + 8 * nb);
                for (int i = 0; i < nb; ++i) {
                    wr32(opts + ol, blocks[i].start);
                    wr32(opts + ol + 4, blocks[i].end);
                    ol += 8;
                }
            }
        }
    }
    uint16_t ip_len = v6 ? 40 : 20;
    auto tcp_len = static_cast<uint16_t>(20 + ol);
    uint32_t hdr_len = ip_len + tcp_len;
    bool copy = len <= small_copy;
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(hdr_len + (copy ? len : 0))));
    if (p == nullptr) {
        rte_pktmbuf_free(m);
        count(ctr.output_dropped);
        return;
    }
    // Payload from the send queue at `seq`.
    if (len > 0) {
        uint32_t off = seq - c->snd_una;
        rte_mbuf* q;
        uint32_t qoff;
        if (c->cur_m != nullptr && seq_geq(seq, c->cur_seq)) {
            q = c->cur_m;
            qoff = seq - c->cur_seq;
        } else {
            q = c->sq_head;
            qoff = off;
        }
        while (q != nullptr && qoff >= q->data_len) {
            qoff -= q->data_len;
            q = q->next;
        }
        uint32_t left = len;
        uint8_t* dst = p + hdr_len;
        rte_mbuf* last = m;
        bool fail = false;
        while (left > 0 && q != nullptr) {
            uint32_t take = std::min<uint32_t>(left, q->data_len - qoff);
            if (copy) {
                std::memcpy(dst, rte_pktmbuf_mtod_offset(q, const uint8_t*, qoff), take);
                dst += take;
            } else {
                rte_mbuf* ind = rte_pktmbuf_alloc(pool);
                if (ind == nullptr) {
                    fail = true;
                    break;
                }
                rte_pktmbuf_attach(ind, q);
                ind->data_off = static_cast<uint16_t>(ind->data_off + qoff);
                ind->data_len = static_cast<uint16_t>(take);
                ind->pkt_len = take;
                last->next = ind;
                last = ind;
                m->nb_segs++;
                m->pkt_len += take;
            }
            left -= take;
            qoff += take;
            if (qoff == q->data_len) {
                // Remember where the next segment starts (usually the next transmission).
                c->cur_seq = seq + (len - left);
                q = q->next;
                c->cur_m = q;
                qoff = 0;
            }
        }
        if (fail || left > 0) {
            rte_pktmbuf_free(m);
            count(ctr.output_dropped);
            return;
        }
    }
    uint8_t* t = p + ip_len;
    uint32_t total = hdr_len + len;
    if (v6) {
        wr32(p, 0x60000000);
        wr16(p + 4, static_cast<uint16_t>(tcp_len + len));
        p[6] = 6;
        p[7] = 64;
        std::memcpy(p + 8, c->key.laddr, 16);
        std::memcpy(p + 24, c->key.raddr, 16);
    } else {
        p[0] = 0x45;
        p[1] = 0;
        wr16(p + 2, static_cast<uint16_t>(total));
        wr16(p + 4, ip_id++);
        wr16(p + 6, 0x4000);
        p[8] = 64;
        p[9] = 6;
        wr16(p + 10, 0);
        std::memcpy(p + 12, c->key.laddr, 4);
        std::memcpy(p + 16, c->key.raddr, 4);
    }
    wr16(t, c->key.lport);
    wr16(t + 2, c->key.rport);
    wr32(t + 4, seq);
    uint32_t ackno = (flags & f_ack) ? c->rcv_nxt : 0;
    wr32(t + 8, ackno);
    t[12] = static_cast<uint8_t>((tcp_len / 4) << 4);
    t[13] = flags;
    uint16_t wfield = 0;
    if (!(flags & f_rst)) {
        uint32_t w = rcv_window(c);
        if (flags & f_syn) {
            wfield = static_cast<uint16_t>(std::min<uint32_t>(w, 65535));  // RFC 7323 2.2: never scaled
            c->rcv_adv = c->rcv_nxt + wfield;
        } else {
            uint32_t shift = c->ws_ok ? c->rcv_wscale : 0;
            wfield = static_cast<uint16_t>(std::min<uint32_t>(w >> shift, 65535));
            uint32_t edge = c->rcv_nxt + (uint32_t{wfield} << shift);
            if (seq_gt(edge, c->rcv_adv)) c->rcv_adv = edge;
        }
    }
    wr16(t + 14, wfield);
    wr16(t + 16, 0);
    wr16(t + 18, 0);
    if (ol) std::memcpy(t + 20, opts, ol);
    if (v6) {
        wr16(t + 16, rte_be_to_cpu_16(tcp_checksum(m, p, ip_len, true)));
        if (t[16] == 0 && t[17] == 0) wr16(t + 16, 0xffff);
    } else {
        auto* ip4 = reinterpret_cast<rte_ipv4_hdr*>(p);
        ip4->hdr_checksum = rte_ipv4_cksum(ip4);
        wr16(t + 16, rte_be_to_cpu_16(tcp_checksum(m, p, ip_len, false)));
    }
    if (flags & f_ack) {
        c->last_ack_sent = c->rcv_nxt;
        c->t_delack = 0;
        c->unacked_segs = 0;
        c->flags &= static_cast<uint16_t>(~cf_ack_now);
        c->ack_urgent = false;
    }
    if (flags & f_rst) count(ctr.resets_out);
    ++c->segs_out;
    push_out(m);
}

uint32_t tcp_stack::impl::pipe(const tcp_conn* c) const noexcept {
    // RFC 6675 SetPipe(), per SACK hole rather than per octet.
    uint32_t total = flight(c);
    if (!c->sack_ok || c->sb.empty()) return total;
    uint32_t p = total - std::min(total, c->sb.sacked_bytes());
    uint32_t from = c->snd_una;
    const seq_range* r = c->sb.ranges();
    for (int i = 0; i < c->sb.size(); ++i) {
        uint32_t hs = from, he = r[i].start;
        if (seq_lt(hs, he) && c->sb.is_lost(hs, c->smss)) {
            uint32_t hole = he - hs;
            p -= std::min(p, hole);
            // Retransmitted parts of a lost hole are in the network again.
            if ((c->flags & cf_in_recovery) && seq_gt(c->high_rxt, hs)) p += std::min(hole, c->high_rxt - hs);
        }
        from = r[i].end;
    }
    return p;
}

void tcp_stack::impl::retransmit_una(tcp_conn* c) noexcept {
    if (c->st == tcp_state::syn_sent) {
        emit(c, f_syn, c->iss, 0, true);
        return;
    }
    if (c->st == tcp_state::syn_received) {
        emit(c, f_syn | f_ack, c->iss, 0, true);
        return;
    }
    uint32_t data_end = c->snd_una + c->sq_bytes;
    // At most a segment, and within the peer's window (one octet when it is zero).
    uint32_t len = std::min<uint32_t>({c->smss, c->sq_bytes, std::max<uint32_t>(c->snd_wnd, 1)});
    uint8_t fl = f_ack;
    if (len > 0 && seq_lt(c->snd_una, data_end)) {
        if (c->snd_una + len == data_end && (c->flags & cf_fin_sent)) fl |= f_fin;
        emit(c, static_cast<uint8_t>(fl | f_psh), c->snd_una, len, false);
    } else if (c->flags & cf_fin_sent) {
        emit(c, f_fin | f_ack, c->snd_una, 0, false);
    } else {
        return;
    }
    ++c->retrans;
    count(ctr.retransmits);
    c->flags &= static_cast<uint16_t>(~cf_rtt_timing);  // Karn
    if (seq_lt(c->high_rxt, c->snd_una + std::max<uint32_t>(len, 1)))
        c->high_rxt = c->snd_una + std::max<uint32_t>(len, 1);
}

void tcp_stack::impl::output(tcp_conn* c) noexcept {
    if (c->flags & cf_dead) return;
    switch (c->st) {
        case tcp_state::established:
        case tcp_state::close_wait:
        case tcp_state::fin_wait_1:
        case tcp_state::closing:
        case tcp_state::last_ack:
            break;
        default:
            if (c->flags & cf_ack_now) ack_soon(c);
            return;
    }
    bool sent_any = false;
    // SACK loss recovery (RFC 6675 5 (C)): holes first while the pipe allows.
    if ((c->flags & cf_in_recovery) && c->sack_ok) {
        uint32_t p = pipe(c);
        int guard = 64;
        while (p + c->smss <= c->cc.cwnd && guard-- > 0) {
            uint32_t hs, he;
            uint32_t from = seq_max(c->high_rxt, c->snd_una);
            if (!c->sb.next_lost_hole(from, c->smss, hs, he)) break;
            uint32_t len = std::min<uint32_t>(he - hs, c->smss);
            uint32_t data_end = c->snd_una + c->sq_bytes;
            if (seq_geq(hs, data_end)) break;
            len = std::min(len, data_end - hs);
            emit(c, f_ack, hs, len, false);
            ++c->retrans;
            count(ctr.retransmits);
            c->high_rxt = hs + len;
            p += len;
            sent_any = true;
        }
    }
    uint32_t data_end = c->snd_una + c->sq_bytes;
    // RFC 5681 4.1: after an idle period longer than the RTO, restart from the restart window.
    if (c->snd_nxt == c->snd_una && c->last_send_us != 0 && now - c->last_send_us > c->rto_us &&
        seq_lt(c->snd_nxt, data_end))
        cc_on_idle_restart(c->cc);
    uint32_t wnd = std::min(c->snd_wnd, c->cc.cwnd);
    if ((c->flags & cf_in_recovery) && !c->sack_ok) wnd = std::min(c->snd_wnd, c->cc.cwnd);
    for (int guard = 0; guard < 1024; ++guard) {
        uint32_t unsent = seq_lt(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
        uint32_t in_flight = (c->flags & cf_in_recovery) && c->sack_ok ? pipe(c) : c->snd_nxt - c->snd_una;
        uint32_t usable = wnd > in_flight ? wnd - in_flight : 0;
        // The peer's window bounds what may be sent beyond snd_una (RFC 9293 3.8.6.2.1).
        uint32_t peer_room = c->snd_wnd > (c->snd_nxt - c->snd_una) ? c->snd_wnd - (c->snd_nxt - c->snd_una) : 0;
        usable = std::min(usable, peer_room);
        if (unsent > 0) {
            uint32_t len = std::min({unsent, static_cast<uint32_t>(c->smss), usable});
            if (len == 0) break;
            // Sender SWS avoidance (RFC 9293 3.8.6.2.1): a full segment, or all that is queued, or at
            // least half the largest window the peer offered.
            if (len < c->smss && len < unsent && len < c->max_snd_wnd / 2) {
                // Held back: with nothing in flight the override timer sends it anyway
                // (RFC 9293 3.8.6.2.1, MUST-38), on the persist timer.
                if (c->snd_nxt == c->snd_una && c->t_persist == 0)
                    c->t_persist = now + std::max<uint64_t>(cfg.persist_min_us, c->rto_us);
                break;
            }
            bool retx = seq_lt(c->snd_nxt, c->snd_max);
            // Skip data the peer already SACKed (after an RTO rewinds snd_nxt).
            if (retx && c->sack_ok && c->sb.sacked(c->snd_nxt)) {
                const seq_range* r = c->sb.ranges();
                for (int i = 0; i < c->sb.size(); ++i)
                    if (seq_leq(r[i].start, c->snd_nxt) && seq_lt(c->snd_nxt, r[i].end)) {
                        c->snd_nxt = seq_min(r[i].end, data_end);
                        break;
                    }
                continue;
            }
            if (retx) {
                len = std::min(len, c->snd_max - c->snd_nxt);
                ++c->retrans;
                count(ctr.retransmits);
            }
            uint8_t fl = f_ack;
            if (c->snd_nxt + len == data_end) {
                fl |= f_psh;
                if (c->flags & cf_fin_queued) fl |= f_fin;
            }
            if (!retx && !(c->flags & cf_rtt_timing) && !c->ts_ok) {
                c->flags |= cf_rtt_timing;
                c->rtt_seq = c->snd_nxt;
                c->rtt_start_us = now;
            }
            emit(c, fl, c->snd_nxt, len, false);
            c->last_send_us = now;
            if (!retx) {
                c->bytes_out += len;
                count(ctr.bytes_out, len);
            }
            c->snd_nxt += len;
            if (fl & f_fin) {
                c->flags |= cf_fin_sent;
                c->snd_nxt += 1;
            }
            if (seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
            if (c->t_rtx == 0) {
                restart_rtx(c);
            } else if (!retx) {
                arm_tlp(c);  // RFC 8985 7.2: re-armed as new data goes out
            }
            c->t_persist = 0;
            sent_any = true;
            continue;
        }
        // All data sent: the FIN on its own (it takes no window).
        if ((c->flags & cf_fin_queued) && !(c->flags & cf_fin_sent) && c->snd_nxt == data_end) {
            emit(c, f_fin | f_ack, c->snd_nxt, 0, false);
            c->flags |= cf_fin_sent;
            c->snd_nxt += 1;
            if (seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
            if (c->t_rtx == 0) restart_rtx(c);
            sent_any = true;
        } else if ((c->flags & cf_fin_sent) && c->snd_nxt == data_end && seq_lt(c->snd_nxt, c->snd_max)) {
            // After an RTO rewound snd_nxt: the FIN again.
            emit(c, f_fin | f_ack, c->snd_nxt, 0, false);
            c->snd_nxt += 1;
            sent_any = true;
        }
        break;
    }
    // SACK recovery with room left and no new data to send: RFC 6675 4 NextSeg() rule 3 (an
    // unSACKed hole not yet deemed lost) and once per recovery rule 4 (rescue retransmission).
    if ((c->flags & cf_in_recovery) && c->sack_ok && !c->sb.empty()) {
        uint32_t p = pipe(c);
        for (int guard = 0; guard < 16 && p + c->smss <= c->cc.cwnd; ++guard) {
            uint32_t from = seq_max(c->high_rxt, c->snd_una);
            uint32_t hs = 0, he = 0;
            bool found = false;
            uint32_t prev_end = c->snd_una;
            const seq_range* r = c->sb.ranges();
            for (int i = 0; i < c->sb.size() && !found; ++i) {
                uint32_t a = seq_max(prev_end, from), b = r[i].start;
                if (seq_lt(a, b)) {
                    hs = a;
                    he = b;
                    found = true;
                }
                prev_end = r[i].end;
            }
            if (!found) {
                uint32_t top = c->snd_una + c->sq_bytes;
                if ((c->flags & cf_rescued) || !seq_lt(c->sb.highest_sacked(), top)) break;
                // Rule 4: the highest segment not SACKed.
                hs = seq_max(c->sb.highest_sacked(), top - std::min<uint32_t>(c->smss, top - c->sb.highest_sacked()));
                he = top;
                c->flags |= cf_rescued;
            }
            uint32_t data_end = c->snd_una + c->sq_bytes;
            if (seq_geq(hs, data_end)) break;
            uint32_t len = std::min({he - hs, static_cast<uint32_t>(c->smss), data_end - hs});
            emit(c, f_ack, hs, len, false);
            ++c->retrans;
            count(ctr.retransmits);
            if (found) c->high_rxt = hs + len;
            p += len;
            sent_any = true;
        }
    }
    // Zero window with data waiting and nothing in flight: probe (RFC 9293 3.8.6.1).
    uint32_t unsent = seq_lt(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
    if (unsent > 0 && c->snd_wnd == 0 && c->snd_nxt == c->snd_una && c->t_persist == 0) {
        c->t_rtx = 0;
        uint64_t iv = std::max<uint64_t>(cfg.persist_min_us, c->rto_us);
        c->t_persist = now + iv;
        c->persist_backoff = 0;
    }
    if (!sent_any && (c->flags & cf_ack_now)) ack_soon(c);
    arm(c);
}

// =============================================================================================
// input

bool tcp_stack::impl::parse(rte_mbuf* m, segment& s) noexcept {
    s.m = m;
    auto bad = [this] {
        count(ctr.malformed);
        return false;
    };
    uint32_t avail = m->data_len;
    const uint8_t* ip = rte_pktmbuf_mtod(m, const uint8_t*);
    if (avail < 20) return bad();
    uint32_t l3, total;
    if ((ip[0] >> 4) == 4) {
        l3 = (ip[0] & 0x0f) * 4u;
        total = rd16(ip + 2);
        if (l3 < 20 || total > avail || total < l3 + 20 || ip[9] != 6) return bad();
        if ((rd16(ip + 6) & 0x3fff) != 0) return bad();  // fragments are not reassembled here
        s.key.family = 4;
        std::memset(s.key.laddr, 0, 16);
        std::memset(s.key.raddr, 0, 16);
        std::memcpy(s.key.laddr, ip + 16, 4);
        std::memcpy(s.key.raddr, ip + 12, 4);
        if (!(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_GOOD)) {
            const auto* h = reinterpret_cast<const rte_ipv4_hdr*>(ip);
            if (rte_ipv4_udptcp_cksum_verify(h, ip + l3) != 0) {
                count(ctr.bad_checksum);
                return false;
            }
        }
    } else if ((ip[0] >> 4) == 6) {
        if (avail < 60 || ip[6] != 6) return bad();  // extension headers: not for the stack
        l3 = 40;
        total = 40u + rd16(ip + 4);
        if (total > avail || total < 60) return bad();
        s.key.family = 6;
        std::memcpy(s.key.laddr, ip + 24, 16);
        std::memcpy(s.key.raddr, ip + 8, 16);
        if (!(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_GOOD)) {
            const auto* h = reinterpret_cast<const rte_ipv6_hdr*>(ip);
            if (rte_ipv6_udptcp_cksum_verify(h, ip + l3) != 0) {
                count(ctr.bad_checksum);
                return false;
            }
        }
    } else {
        return bad();
    }
    const uint8_t* t = ip + l3;
    uint32_t off = (t[12] >> 4) * 4u;
    if (off < 20 || l3 + off > total) {
        count(ctr.malformed);
        return false;
    }
    s.key.pad[0] = s.key.pad[1] = s.key.pad[2] = 0;
    s.key.rport = rd16(t);
    s.key.lport = rd16(t + 2);
    s.seq = rd32(t + 4);
    s.ack = rd32(t + 8);
    s.flags = t[13] & 0x3f;
    s.wnd = rd16(t + 14);
    s.payload_off = static_cast<uint16_t>(l3 + off);
    s.len = total - l3 - off;
    s.o = seg_opts{};
    // Options (RFC 9293 3.1; unknown kinds skipped by their length).
    const uint8_t* o = t + 20;
    uint32_t ol = off - 20;
    uint32_t i = 0;
    while (i < ol) {
        uint8_t kind = o[i];
        if (kind == 0) break;
        if (kind == 1) {
            ++i;
            continue;
        }
        if (i + 1 >= ol) {
            count(ctr.malformed);
            return false;
        }
        uint8_t len = o[i + 1];
        if (len < 2 || i + len > ol) {
            count(ctr.malformed);
            return false;
        }
        switch (kind) {
            case 2:
                if (len == 4 && (s.flags & f_syn)) s.o.mss = rd16(o + i + 2);
                break;
            case 3:
                if (len == 3 && (s.flags & f_syn)) s.o.wscale = static_cast<int8_t>(std::min<uint8_t>(o[i + 2], 14));
                break;
            case 4:
                if (len == 2 && (s.flags & f_syn)) s.o.sack_ok = true;
                break;
            case 5:
                if (len >= 10 && (len - 2) % 8 == 0) {
                    uint8_t n = static_cast<uint8_t>((len - 2) / 8);
                    for (uint8_t b = 0; b < n && b < 4; ++b) {
                        s.o.sack[b].start = rd32(o + i + 2 + 8 * b);
                        s.o.sack[b].end = rd32(o + i + 6 + 8 * b);
                    }
                    s.o.n_sack = std::min<uint8_t>(n, 4);
                }
                break;
            case 8:
                if (len == 10) {
                    s.o.has_ts = true;
                    s.o.ts_val = rd32(o + i + 2);
                    s.o.ts_ecr = rd32(o + i + 6);
                }
                break;
            default:
                break;
        }
        i += len;
    }
    return true;
}

void tcp_stack::impl::apply_syn_options(tcp_conn* c, const seg_opts& o, bool ours_sent_ws) noexcept {
    uint16_t mss = o.mss != 0 ? o.mss : static_cast<uint16_t>(c->key.family == 6 ? 1220 : 536);
    if (mss < c->mss_floor) {
        count(ctr.tiny_mss_clamped);
        mss = c->mss_floor;
    }
    c->peer_mss = mss;
    c->ws_ok = o.wscale >= 0 && ours_sent_ws;
    c->snd_wscale = c->ws_ok ? static_cast<uint8_t>(o.wscale) : 0;
    if (!c->ws_ok) c->rcv_wscale = 0;
    c->ts_ok = o.has_ts && cfg.timestamps;
    c->sack_ok = o.sack_ok && cfg.sack;
    if (c->ts_ok) {
        c->ts_recent = o.ts_val;
        c->ts_recent_us = now;
    }
    uint32_t eff = std::min<uint32_t>(mss, c->adv_mss);
    if (c->ts_ok) eff -= 12;  // RFC 6691: options come out of the MSS
    c->smss = static_cast<uint16_t>(eff);
    cc_set_mss(c->cc, c->smss);
}

void tcp_stack::impl::rtt_sample(tcp_conn* c, uint32_t rtt) noexcept {
    // RFC 6298 2.2 and 2.3 (alpha 1/8, beta 1/4, G = 1 ms clock).
    if (rtt == 0) rtt = 1;
    if (c->srtt_us == 0) {
        c->srtt_us = rtt;
        c->rttvar_us = rtt / 2;
    } else {
        uint32_t d = c->srtt_us > rtt ? c->srtt_us - rtt : rtt - c->srtt_us;
        c->rttvar_us = (3 * c->rttvar_us + d) / 4;
        c->srtt_us = (7 * c->srtt_us + rtt) / 8;
    }
    uint64_t rto = c->srtt_us + std::max<uint64_t>(1000, 4ull * c->rttvar_us);
    rto = std::clamp<uint64_t>(rto, cfg.rto_min_us, cfg.rto_max_us);
    c->rto_us = static_cast<uint32_t>(rto);
}

void tcp_stack::impl::new_established(tcp_conn* c) noexcept {
    set_state(c, tcp_state::established);
    // RFC 6298 5.7: after a SYN (or SYN-ACK) timed out, data starts with an RTO of 3 s unless
    // an RTT was measured; otherwise the RTO from the estimator, not the handshake's backoff.
    if (c->retries > 0) {
        c->rto_us = std::max<uint32_t>(3000000, cfg.rto_initial_us);
    } else if (c->srtt_us != 0) {
        uint64_t rto = c->srtt_us + std::max<uint64_t>(1000, 4ull * c->rttvar_us);
        c->rto_us = static_cast<uint32_t>(std::clamp<uint64_t>(rto, cfg.rto_min_us, cfg.rto_max_us));
    } else {
        c->rto_us = cfg.rto_initial_us;
    }
    c->retries = 0;
    c->t_rtx = 0;
    if (cfg.keepalive_idle_us) c->t_keep = now + cfg.keepalive_idle_us;
}

void tcp_stack::impl::on_listen(int li, segment& s) noexcept {
    listener& l = listeners[li];
    if (s.flags & f_rst) return;  // RFC 9293 3.10.7.2 first
    if (s.flags & f_ack) {
        // Second: an ACK may complete a SYN cookie handshake (RFC 4987 3.6).
        if (!(s.flags & (f_syn | f_fin))) {
            uint8_t src[16] = {}, dst[16] = {};
            std::memcpy(src, s.key.raddr, 16);
            std::memcpy(dst, s.key.laddr, 16);
            int mi = l4::check_cookie(secret, s.ack - 1, src, dst, s.key.rport, s.key.lport, s.seq - 1, seconds());
            if (mi >= 0) {
                tcp_conn* c = alloc_conn(s.key);
                if (c == nullptr) {
                    count(ctr.table_full);
                    return;
                }
                count(ctr.syn_cookies_accepted);
                count(ctr.passive_opens);
                c->flags |= cf_passive | cf_cookie;
                c->listener = static_cast<int16_t>(li);
                c->cb = l.cb;
                c->ctx = l.ctx;
                c->irs = s.seq - 1;
                c->rcv_nxt = s.seq;
                c->rcv_adv = s.seq;
                c->iss = s.ack - 1;
                c->snd_una = c->snd_nxt = c->snd_max = s.ack;
                c->high_rxt = c->recover = s.ack;
                apply_options(c, &l.opts);
                cc_init(c->cc, c->cc.algo, c->smss, cfg.initial_cwnd_segments);
                seg_opts o;
                o.mss = l4::cookie_mss_table[mi];
                apply_syn_options(c, o, false);
                c->snd_wnd = s.wnd;
                c->max_snd_wnd = c->snd_wnd;
                c->snd_wl1 = s.seq;
                c->snd_wl2 = s.ack;
                new_established(c);
                bool ok = l.cb.on_accept == nullptr || l.cb.on_accept(l.ctx, c);
                if (!ok) {
                    emit(c, f_rst, c->snd_nxt, 0, false);
                    finish(c, close_reason::aborted, false);
                    return;
                }
                if (s.len > 0 || (s.flags & f_fin)) on_segment(c, s);
                return;
            }
            count(ctr.syn_cookies_rejected);
        }
        send_rst_for(s);
        count(ctr.no_connection);
        return;
    }
    if (!(s.flags & f_syn)) return;  // fourth: other segments are dropped
    // Third: a SYN.
    bool cookie = l.half_open >= cfg.half_open_budget;
    if (!cookie) {
        tcp_conn* c = alloc_conn(s.key);
        if (c == nullptr) {
            count(ctr.table_full);
            cookie = true;
        } else {
            c->flags |= cf_passive;
            c->listener = static_cast<int16_t>(li);
            c->cb = l.cb;
            c->ctx = l.ctx;
            c->irs = s.seq;
            c->rcv_nxt = s.seq + 1;
            c->rcv_adv = c->rcv_nxt;
            c->iss = isn_for(s.key);
            if (min_iss_set && seq_lt(c->iss, min_iss)) c->iss = min_iss;
            c->snd_una = c->iss;
            c->snd_nxt = c->iss + 1;
            c->snd_max = c->snd_nxt;
            c->high_rxt = c->recover = c->snd_una;
            c->rcv_wscale = cfg.wscale;
            apply_options(c, &l.opts);
            cc_init(c->cc, c->cc.algo, c->smss, cfg.initial_cwnd_segments);
            apply_syn_options(c, s.o, true);
            c->snd_wnd = s.wnd;  // unscaled in a SYN (RFC 7323 2.2)
            c->max_snd_wnd = c->snd_wnd;
            c->snd_wl1 = s.seq;
            c->snd_wl2 = c->iss;
            set_state(c, tcp_state::syn_received);
            ++l.half_open;
            count(ctr.passive_opens);
            c->rtt_start_us = now;
            emit(c, f_syn | f_ack, c->iss, 0, true);
            c->t_rtx = now + c->rto_us;
            arm(c);
            // Data in a SYN is not queued before the handshake completes (it is ACKed as
            // missing and sent again by the peer).
            return;
        }
    }
    // SYN cookie: a SYN-ACK carrying the state in its ISN, MSS option only.
    uint8_t src[16] = {}, dst[16] = {};
    std::memcpy(src, s.key.raddr, 16);
    std::memcpy(dst, s.key.laddr, 16);
    uint16_t mss = s.o.mss != 0 ? s.o.mss : 536;
    uint8_t mi = l4::cookie_mss_index(mss);
    uint32_t isn = l4::make_cookie(secret, src, dst, s.key.rport, s.key.lport, s.seq, seconds(), mi);
    uint8_t opt[4] = {2, 4, 0, 0};
    wr16(opt + 2, static_cast<uint16_t>(s.key.family == 6 ? cfg.mss - 20 : cfg.mss));
    raw_segment(s.key, isn, s.seq + 1, f_syn | f_ack, static_cast<uint16_t>(std::min<uint32_t>(cfg.rcv_buf, 65535)),
                opt, 4);
    count(ctr.syn_cookies_sent);
}

void tcp_stack::impl::on_syn_sent(tcp_conn* c, segment& s) noexcept {
    // RFC 9293 3.10.7.3.
    bool ack_ok = false;
    if (s.flags & f_ack) {
        if (seq_leq(s.ack, c->iss) || seq_gt(s.ack, c->snd_max)) {
            if (!(s.flags & f_rst)) send_rst_for(s);
            return;
        }
        ack_ok = true;
    }
    if (s.flags & f_rst) {
        // RFC 5961 3.2 / RFC 9293: only with an acceptable ACK.
        if (ack_ok) {
            count(ctr.resets_in);
            finish(c, close_reason::refused, true);
        }
        return;
    }
    if (!(s.flags & f_syn)) return;
    c->irs = s.seq;
    c->rcv_nxt = s.seq + 1;
    c->rcv_adv = c->rcv_nxt;
    apply_syn_options(c, s.o, true);
    if (c->ts_ok && s.o.has_ts && ack_ok && s.o.ts_ecr != 0) ts_sample(c, s.o.ts_ecr);
    if (ack_ok) {
        if (!c->ts_ok && c->retries == 0) rtt_sample(c, static_cast<uint32_t>(now - c->rtt_start_us));
        c->snd_una = s.ack;
        c->snd_wnd = s.wnd;  // a SYN's window is never scaled (RFC 7323 2.2)
        c->max_snd_wnd = c->snd_wnd;
        c->snd_wl1 = s.seq;
        c->snd_wl2 = s.ack;
        new_established(c);
        c->flags |= cf_ack_now;
        if (s.len == 0 && !(s.flags & f_fin)) send_ack(c);  // else the ACK covers the data too
        count(ctr.active_opens);
        if (c->cb.on_connected) c->cb.on_connected(c->ctx, c);
        if (c->flags & cf_dead) return;
        if (s.len > 0 || (s.flags & f_fin)) {
            // Data or a FIN with the SYN-ACK (RFC 9293 3.10.7.3: on at the sixth step): the rest of
            // the segment, starting at RCV.NXT, as any segment in ESTABLISHED.
            s.seq += 1;
            s.flags &= static_cast<uint8_t>(~f_syn);
            on_segment(c, s);
            return;
        }
        output(c);
        return;
    }
    // Simultaneous open (RFC 9293 3.5 figure 7): SYN-RECEIVED, SYN-ACK with our ISN.
    set_state(c, tcp_state::syn_received);
    c->snd_wnd = s.wnd;
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = s.seq;
    c->snd_wl2 = c->iss;
    c->retries = 0;
    emit(c, f_syn | f_ack, c->iss, 0, true);
    c->t_rtx = now + c->rto_us;
    arm(c);
}

void tcp_stack::impl::ack_policy(tcp_conn* c, bool immediate) noexcept {
    // RFC 9293 3.8.6.3 / RFC 5681 4.2: an ACK for at least every second full-sized segment, and
    // within delack_us; at once for out-of-order data or filling a hole.
    if (immediate || c->unacked_segs >= 2 || cfg.delack_us == 0) {
        c->flags |= cf_ack_now;
        c->ack_urgent = c->ack_urgent || immediate;  // not held to the end of a batch
        return;
    }
    if (c->t_delack == 0) c->t_delack = now + cfg.delack_us;
}

void tcp_stack::impl::deliver_ooo(tcp_conn* c) noexcept {
    while (c->ooo != nullptr) {
        rte_mbuf* o = c->ooo;
        uint32_t s0 = o->hash.fdir.lo;
        if (seq_gt(s0, c->rcv_nxt)) break;
        c->ooo = o->next;
        o->next = nullptr;
        ooo_total -= o->buf_len;
        c->ooo_charge -= o->buf_len;
        bool fin = o->hash.fdir.hi != 0;
        uint32_t e0 = s0 + o->data_len;
        if (seq_leq(e0, c->rcv_nxt) && !(fin && e0 == c->rcv_nxt)) {
            rte_pktmbuf_free_seg(o);
            continue;
        }
        uint32_t skip = c->rcv_nxt - s0;
        if (skip > 0) {
            o->data_off = static_cast<uint16_t>(o->data_off + skip);
            o->data_len = static_cast<uint16_t>(o->data_len - skip);
        }
        uint32_t n = o->data_len;
        if (n > 0) {
            if (c->rq_tail)
                c->rq_tail->next = o;
            else
                c->rq_head = o;
            c->rq_tail = o;
            c->rq_bytes += n;
            c->rcv_nxt += n;
            c->bytes_in += n;
            count(ctr.bytes_in, n);
        } else {
            rte_pktmbuf_free_seg(o);
        }
        if (fin) {
            c->rcv_nxt += 1;
            c->flags |= cf_fin_received;
        }
    }
}

void tcp_stack::impl::process_data(tcp_conn* c, segment& s) noexcept {
    rte_mbuf* m = s.m;
    s.m = nullptr;  // consumed here
    bool fin = (s.flags & f_fin) != 0;
    bool can_data = c->st == tcp_state::established || c->st == tcp_state::fin_wait_1 ||
                    c->st == tcp_state::fin_wait_2 || c->st == tcp_state::syn_received;
    if (!can_data || (c->flags & cf_fin_received)) {
        // RFC 9293 3.10.7.4 seventh: data after the FIN is ignored (the FIN is ACKed again).
        rte_pktmbuf_free(m);
        if (s.len > 0 || fin) c->flags |= cf_ack_now;
        return;
    }
    if (s.len > 0 && (c->flags & cf_app_closed)) {
        // RFC 1122 4.2.2.13 / RFC 9293 3.10.4: the app closed; new data is answered with RST.
        rte_pktmbuf_free(m);
        emit(c, f_rst | f_ack, c->snd_nxt, 0, false);
        count(ctr.resets_out);
        finish(c, close_reason::aborted, false);
        return;
    }
    // Strip to the payload.
    rte_pktmbuf_adj(m, s.payload_off);
    if (m->data_len > s.len) rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - s.len));
    uint32_t seq = s.seq;
    // Trim what is already received (RFC 9293 3.10.7.4 first check, trimming).
    if (seq_lt(seq, c->rcv_nxt)) {
        uint32_t d = c->rcv_nxt - seq;
        if (d >= s.len) {
            // Entirely old (a FIN at exactly rcv_nxt survives).
            bool fin_new = fin && seq + s.len == c->rcv_nxt;
            rte_pktmbuf_free(m);
            if (!fin_new) {
                if (s.len > 0) count(ctr.duplicate_segments);
                c->flags |= cf_ack_now;
                return;
            }
            m = nullptr;
            s.len = 0;
        } else {
            rte_pktmbuf_adj(m, static_cast<uint16_t>(d));
            s.len -= d;
        }
        seq = c->rcv_nxt;
    }
    // Trim to the window.
    uint32_t wnd_edge = c->rcv_nxt + std::max(rcv_window(c), 1u);
    if (m != nullptr && seq_gt(seq + s.len, wnd_edge)) {
        uint32_t keep = seq_gt(wnd_edge, seq) ? wnd_edge - seq : 0;
        if (keep < s.len) {
            rte_pktmbuf_trim(m, static_cast<uint16_t>(s.len - keep));
            s.len = keep;
            fin = false;
            c->flags |= cf_ack_now;  // the window is full: say so at once
        }
    }
    if (seq == c->rcv_nxt) {
        bool filled_hole = c->ooo != nullptr;
        if (m != nullptr && s.len > 0) {
            m->next = nullptr;
            m->nb_segs = 1;
            m->pkt_len = m->data_len;
            if (c->rq_tail)
                c->rq_tail->next = m;
            else
                c->rq_head = m;
            c->rq_tail = m;
            c->rq_bytes += s.len;
            c->rcv_nxt += s.len;
            c->bytes_in += s.len;
            count(ctr.bytes_in, s.len);
            // RFC 5681 4.2 / RFC 9293 3.8.6.3: every second full-sized segment is ACKed at once;
            // otherwise the delayed-ACK timer runs (a reply usually carries the ACK).
            // Full-sized: as large as the largest segment the peer sent (its MSS may be below ours).
            if (s.len > c->rcv_mss) c->rcv_mss = static_cast<uint16_t>(std::min<uint32_t>(s.len, 65535));
            if (s.len >= c->rcv_mss) ++c->unacked_segs;
        } else if (m != nullptr) {
            rte_pktmbuf_free(m);
        }
        if (fin) {
            c->rcv_nxt += 1;
            c->flags |= cf_fin_received;
        }
        deliver_ooo(c);
        ack_policy(c, filled_hole || fin || (c->flags & cf_fin_received));
    } else {
        // Out of order: held, bounded per connection and per core (by buffer size held).
        if (m == nullptr || s.len == 0) {
            if (m) rte_pktmbuf_free(m);
            c->flags |= cf_ack_now;
            return;
        }
        if (c->ooo_charge + m->buf_len > cfg.ooo_max_per_conn || ooo_total + m->buf_len > cfg.ooo_max_per_core) {
            count(ctr.ooo_dropped);
            rte_pktmbuf_free(m);
            c->flags |= cf_ack_now;
            return;
        }
        m->next = nullptr;
        m->nb_segs = 1;
        m->pkt_len = m->data_len;
        m->hash.fdir.lo = seq;
        m->hash.fdir.hi = fin ? 1 : 0;
        // Insert sorted by seq; a segment wholly inside another is dropped.
        rte_mbuf** pp = &c->ooo;
        bool dup = false;
        while (*pp != nullptr && seq_leq((*pp)->hash.fdir.lo, seq)) {
            rte_mbuf* q = *pp;
            if (seq_leq(seq + s.len, q->hash.fdir.lo + q->data_len) && !fin) {
                dup = true;
                break;
            }
            pp = &q->next;
        }
        if (dup) {
            count(ctr.duplicate_segments);
            rte_pktmbuf_free(m);
        } else {
            m->next = *pp;
            *pp = m;
            c->ooo_charge += m->buf_len;
            ooo_total += m->buf_len;
            count(ctr.ooo_segments);
        }
        note_sack(c, seq);
        c->flags |= cf_ack_now;  // RFC 5681 4.2: an immediate duplicate ACK
        c->ack_urgent = true;
    }
}

// RFC 2018 4: the first SACK block is the run holding the segment just received; the others
// repeat the most recently reported ones. Runs merged by this segment replace their parts.
void tcp_stack::impl::note_sack(tcp_conn* c, uint32_t seq) noexcept {
    seq_range run{};
    bool found = false;
    for (rte_mbuf* o = c->ooo; o != nullptr && !found;) {
        uint32_t s0 = o->hash.fdir.lo;
        uint32_t e0 = s0 + o->data_len + (o->hash.fdir.hi ? 1 : 0);
        o = o->next;
        while (o != nullptr && seq_leq(o->hash.fdir.lo, e0)) {
            e0 = seq_max(e0, o->hash.fdir.lo + o->data_len + (o->hash.fdir.hi ? 1 : 0));
            o = o->next;
        }
        if (seq_leq(s0, seq) && seq_lt(seq, e0)) {
            run = {s0, e0};
            found = true;
        }
    }
    if (!found) return;
    seq_range out[4];
    uint8_t n = 0;
    out[n++] = run;
    for (uint8_t i = 0; i < c->n_sack_hist && n < 4; ++i) {
        const seq_range& h = c->sack_hist[i];
        bool overlaps = seq_lt(h.start, run.end) && seq_gt(h.end, run.start);
        if (!overlaps && seq_gt(h.end, c->rcv_nxt)) out[n++] = h;
    }
    std::copy(out, out + n, c->sack_hist);
    c->n_sack_hist = n;
}

void tcp_stack::impl::free_acked(tcp_conn* c, uint32_t acked) noexcept {
    // Data bytes acknowledged (the SYN and FIN take no queue space).
    acked = std::min(acked, c->sq_bytes);
    c->sq_bytes -= acked;
    while (acked > 0 && c->sq_head != nullptr) {
        rte_mbuf* h = c->sq_head;
        if (h->data_len <= acked) {
            acked -= h->data_len;
            c->sq_head = h->next;
            if (c->cur_m == h) c->cur_m = nullptr;
            h->next = nullptr;
            rte_pktmbuf_free_seg(h);
        } else {
            h->data_off = static_cast<uint16_t>(h->data_off + acked);
            h->data_len = static_cast<uint16_t>(h->data_len - acked);
            if (c->cur_m == h) c->cur_m = nullptr;
            acked = 0;
        }
    }
    if (c->sq_head == nullptr) {
        c->sq_tail = nullptr;
        c->cur_m = nullptr;
    }
}

// RFC 9293 3.10.7.4 fifth check. False: drop the segment (processing ends).
bool tcp_stack::impl::process_ack(tcp_conn* c, segment& s) noexcept {
    if (!(s.flags & f_ack)) return false;
    if (c->st == tcp_state::syn_received) {
        if (seq_gt(s.ack, c->snd_una) && seq_leq(s.ack, c->snd_max)) {
            // The handshake's RTT: timestamps, or the SYN-ACK's send time unless it was sent
            // again (Karn, RFC 6298 3).
            if (c->ts_ok && s.o.has_ts && s.o.ts_ecr != 0) {
                ts_sample(c, s.o.ts_ecr);
            } else if (c->retries == 0 && c->rtt_start_us != 0) {
                rtt_sample(c, static_cast<uint32_t>(now - c->rtt_start_us));
            }
            new_established(c);
            c->snd_wnd = s.wnd << c->snd_wscale;
            c->max_snd_wnd = std::max(c->max_snd_wnd, c->snd_wnd);
            c->snd_wl1 = s.seq;
            c->snd_wl2 = s.ack;
            c->snd_una = s.ack;
            if (c->flags & cf_passive) {
                const listener& l = listeners[c->listener];
                bool ok = l.used ? (l.cb.on_accept == nullptr || l.cb.on_accept(l.ctx, c)) : false;
                if (c->flags & cf_dead) return false;
                if (!ok) {
                    emit(c, f_rst, c->snd_nxt, 0, false);
                    finish(c, close_reason::aborted, false);
                    return false;
                }
            } else {
                count(ctr.active_opens);
                if (c->cb.on_connected) c->cb.on_connected(c->ctx, c);
                if (c->flags & cf_dead) return false;
            }
            return true;
        }
        send_rst_for(s);
        return false;
    }
    // RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT].
    if (seq_gt(s.ack, c->snd_max)) {
        challenge_ack(c);
        return false;
    }
    if (seq_lt(s.ack, c->snd_una - c->max_snd_wnd)) {
        challenge_ack(c);
        return false;
    }
    uint32_t wnd = s.wnd << c->snd_wscale;
    bool win_changed = false;
    if (seq_lt(c->snd_wl1, s.seq) || (c->snd_wl1 == s.seq && seq_leq(c->snd_wl2, s.ack))) {
        win_changed = wnd != c->snd_wnd;
        c->snd_wnd = wnd;
        c->max_snd_wnd = std::max(c->max_snd_wnd, wnd);
        c->snd_wl1 = s.seq;
        c->snd_wl2 = s.ack;
        if (wnd > 0 && c->t_persist != 0) {
            // The window opened: what the probe carried goes again, from SND.UNA.
            if (s.ack == c->snd_una && seq_gt(c->snd_nxt, c->snd_una)) {
                c->snd_nxt = c->snd_una;
                c->snd_max = c->snd_una;
                c->cur_m = nullptr;
            }
            c->t_persist = 0;
            c->persist_backoff = 0;
        }
    }
    uint32_t newly_sacked = 0;
    if (c->sack_ok && s.o.n_sack > 0)
        newly_sacked = c->sb.update(seq_max(c->snd_una, s.ack), c->snd_max, s.o.sack, s.o.n_sack);
    // Zero-window probing goes on as long as the peer answers (RFC 9293 3.8.6.1).
    // MUST-37: so does a retransmission into a zero window (a FIN, or data sent before the window
    // closed) that the peer answers with a zero window.
    if ((c->t_persist != 0 || s.wnd == 0) && s.ack == c->snd_una) c->retries = 0;
    if (seq_gt(s.ack, c->snd_una)) {
        uint32_t acked = s.ack - c->snd_una;
        uint32_t flight_before = flight(c);
        // RTT (RFC 7323 4.3 with timestamps, else one timed segment per RTT with Karn).
        if (c->ts_ok && s.o.has_ts && s.o.ts_ecr != 0) {
            ts_sample(c, s.o.ts_ecr);
        } else if ((c->flags & cf_rtt_timing) && seq_gt(s.ack, c->rtt_seq)) {
            c->flags &= static_cast<uint16_t>(~cf_rtt_timing);
            rtt_sample(c, static_cast<uint32_t>(now - c->rtt_start_us));
        }
        uint32_t data_acked = acked;
        // The SYN or FIN take a sequence number but no queue byte.
        if ((c->flags & cf_fin_sent) && s.ack == c->snd_max) data_acked = acked - 1;
        free_acked(c, data_acked);
        c->snd_una = s.ack;
        if (seq_lt(c->snd_nxt, c->snd_una)) c->snd_nxt = c->snd_una;
        if (seq_lt(c->high_rxt, c->snd_una)) c->high_rxt = c->snd_una;
        c->sb.advance(c->snd_una);
        // Reneging (RFC 2018 8): SND.UNA lands on data the peer had SACKed; its SACK reports no
        // longer hold, so none is trusted until the peer reports again.
        if (c->sack_ok && !c->sb.empty() && c->sb.sacked(c->snd_una)) c->sb.clear();
        c->retries = 0;
        c->dupacks = 0;
        if (c->flags & cf_in_recovery) {
            if (seq_geq(s.ack, c->recover)) {
                // Full ACK (RFC 6582 3.2 step 3).
                c->flags &= static_cast<uint16_t>(~cf_in_recovery);
                cc_on_recovery_exit(c->cc, flight(c), now);
            } else {
                // Partial ACK: the next hole at once (RFC 6582 3.2 step 4), deflate.
                if (!c->sack_ok) {
                    retransmit_una(c);
                    uint32_t cw = c->cc.cwnd > acked ? c->cc.cwnd - acked : 0;
                    if (acked >= c->smss) cw += c->smss;
                    c->cc.cwnd = std::max<uint32_t>(cw, c->smss);
                }
                restart_rtx(c);
            }
        } else {
            bool limited = flight_before + c->smss >= c->cc.cwnd;
            cc_on_ack(c->cc, acked, now, c->srtt_us, limited);
        }
        c->t_rtx = flight(c) > 0 && c->t_persist == 0 ? now + c->rto_us : 0;
        c->tlp_out = false;
        arm_tlp(c);
        maybe_writable(c);
        if (c->flags & cf_dead) return false;
    } else if (s.ack == c->snd_una && s.len == 0 && !(s.flags & (f_syn | f_fin)) && flight(c) > 0 && c->snd_wnd > 0 &&
               (!win_changed || (c->sack_ok && newly_sacked > 0))) {
        // Duplicate ACK (RFC 5681 2); with SACK, one that SACKs new data counts even when the
        // window moved (RFC 6675 2, DupAck).
        ++c->dupacks;
        if (c->flags & cf_in_recovery) {
            if (!c->sack_ok) c->cc.cwnd += c->smss;  // RFC 6582 3.2 step 3 inflation
            // The retransmission of SND.UNA was lost when data sent after it is SACKed (the
            // RACK idea, RFC 8985 6.2, for that one segment): send it again.
            if (c->sack_ok && c->rxt_mark != 0 && !c->sb.empty() && seq_gt(c->sb.highest_sacked(), c->rxt_mark) &&
                seq_gt(c->snd_max, c->rxt_mark)) {
                retransmit_una(c);
                c->rxt_mark = c->snd_max;
                restart_rtx(c);
            }
        } else {
            // Early retransmit (RFC 5827): with fewer than four segments out and nothing new to
            // send, the threshold is the segments out less one.
            uint32_t dupthresh = 3;
            uint32_t out_segs = (flight(c) + c->smss - 1) / c->smss;
            uint32_t unsent = c->sq_bytes > flight(c) ? c->sq_bytes - flight(c) : 0;
            bool can_send = unsent > 0 && flight(c) + c->smss <= std::min(c->cc.cwnd, c->snd_wnd);
            if (out_segs < 4 && !can_send) dupthresh = std::max<uint32_t>(1, out_segs - 1);
            bool lost =
                c->dupacks >= dupthresh || (c->sack_ok && newly_sacked > 0 && c->sb.is_lost(c->snd_una, c->smss));
            // RFC 6582 3.2 step 2: not again for losses of the same window.
            if (lost && (seq_gt(s.ack, c->recover) || c->recover == c->snd_una || c->recover == c->iss)) {
                c->flags |= cf_in_recovery;
                c->flags &= static_cast<uint16_t>(~cf_rescued);
                c->recover = c->snd_max;
                c->high_rxt = c->snd_una;
                count(ctr.fast_retransmits);
                cc_on_congestion(c->cc, flight(c), now);
                retransmit_una(c);
                c->rxt_mark = c->snd_max;
                c->tlp_out = false;
                if (!c->sack_ok) c->cc.cwnd = c->cc.ssthresh + 3u * c->smss;
                restart_rtx(c);
            }
        }
    }
    // Our FIN acknowledged?
    bool fin_acked = (c->flags & cf_fin_sent) && c->snd_una == c->snd_max;
    switch (c->st) {
        case tcp_state::fin_wait_1:
            if (fin_acked) {
                set_state(c, tcp_state::fin_wait_2);
                c->t_rtx = 0;
                // An orphaned FIN-WAIT-2 does not live forever (as deployed stacks do).
                if (c->flags & cf_app_closed) c->t_2msl = now + cfg.time_wait_us;
            }
            break;
        case tcp_state::closing:
            if (fin_acked) {
                enter_time_wait(c);
                return false;
            }
            break;
        case tcp_state::last_ack:
            if (fin_acked) {
                finish(c, close_reason::normal, true);
                return false;
            }
            break;
        case tcp_state::time_wait:
            // A retransmitted FIN: ACK it and restart the 2 MSL timeout (3.10.7.4 eighth).
            break;
        default:
            break;
    }
    return true;
}

void tcp_stack::impl::on_segment(tcp_conn* c, segment& s) noexcept {
    c->last_activity_us = now;
    // RFC 7323 3.2: once timestamps are on, a non-RST segment without one is dropped.
    if (c->ts_ok && !s.o.has_ts && !(s.flags & f_rst)) {
        count(ctr.malformed);
        return;
    }
    // PAWS (RFC 7323 5.3): a segment with an older timestamp than TS.Recent is dropped.
    if (c->ts_ok && s.o.has_ts && !(s.flags & f_rst) && seq_lt(s.o.ts_val, c->ts_recent) &&
        now - c->ts_recent_us < 24ull * 24 * 3600 * 1000000) {
        count(ctr.paws_rejected);
        send_ack(c);
        return;
    }
    // Simultaneous open (RFC 9293 3.5 figure 7): the peer's SYN-ACK in SYN-RECEIVED acknowledges
    // our SYN; its SYN repeats the one already received. Processed as the ACK it carries.
    if (c->st == tcp_state::syn_received && !(c->flags & cf_passive) &&
        (s.flags & (f_syn | f_ack)) == (f_syn | f_ack) && !(s.flags & f_rst) && s.seq + 1 == c->rcv_nxt &&
        s.ack == c->snd_max) {
        s.flags &= static_cast<uint8_t>(~f_syn);
        s.seq += 1;
    }
    // First check: acceptability (RFC 9293 3.10.7.4 table).
    uint32_t rwnd = rcv_window(c);
    uint32_t slen = s.seg_len();
    bool ok;
    if (slen == 0) {
        ok = rwnd == 0 ? s.seq == c->rcv_nxt : (seq_leq(c->rcv_nxt, s.seq) && seq_lt(s.seq, c->rcv_nxt + rwnd));
    } else if (rwnd == 0) {
        ok = false;
    } else {
        ok = (seq_leq(c->rcv_nxt, s.seq) && seq_lt(s.seq, c->rcv_nxt + rwnd)) ||
             (seq_leq(c->rcv_nxt, s.seq + slen - 1) && seq_lt(s.seq + slen - 1, c->rcv_nxt + rwnd));
    }
    // A zero window still takes ACKs and RSTs at rcv_nxt (RFC 9293 3.10.7.4 note).
    if (!ok && rwnd == 0 && s.seq == c->rcv_nxt && (s.flags & (f_ack | f_rst))) {
        // Its ACK (or RST) counts; its data and FIN do not: they draw an ACK.
        ok = true;
        if (s.len > 0 || (s.flags & f_fin)) {
            count(ctr.out_of_window);
            s.len = 0;
            s.flags &= static_cast<uint8_t>(~f_fin);
            c->flags |= cf_ack_now;
        }
    }
    if (c->st == tcp_state::time_wait && (s.flags & f_syn) && !(s.flags & (f_ack | f_rst)) &&
        (seq_gt(s.seq, c->rcv_nxt) || (c->ts_ok && s.o.has_ts && seq_gt(s.o.ts_val, c->ts_recent)))) {
        // RFC 1122 4.2.2.13 / RFC 6191: a new incarnation from TIME-WAIT, for a listener only,
        // with an initial sequence number above everything the old one sent.
        int li = find_listener(c->key.family, c->key.laddr, c->key.lport);
        if (li >= 0) {
            uint32_t floor = c->snd_max + 65536;
            finish(c, close_reason::normal, false);
            reap();
            min_iss = floor;
            min_iss_set = true;
            on_listen(li, s);
            min_iss_set = false;
            return;
        }
    }
    if (!ok) {
        if (c->st == tcp_state::time_wait && (s.flags & f_fin) && !(s.flags & f_rst)) {
            // A retransmitted FIN: ACK it and restart the 2 MSL timeout (RFC 9293 3.10.7.4).
            c->t_2msl = now + cfg.time_wait_us;
            send_ack(c);
            arm(c);
            return;
        }
        if (!(s.flags & f_rst)) {
            if (slen > 0 && seq_lt(s.seq, c->rcv_nxt))
                count(ctr.duplicate_segments);
            else
                count(ctr.out_of_window);
            send_ack(c);
        }
        return;
    }
    // Timestamps: TS.Recent from the segment at the left edge (RFC 7323 4.3 (2)).
    if (c->ts_ok && s.o.has_ts && seq_leq(s.seq, c->last_ack_sent) && seq_geq(s.o.ts_val, c->ts_recent)) {
        c->ts_recent = s.o.ts_val;
        c->ts_recent_us = now;
    }
    // Second: RST (RFC 5961 3.2).
    if (s.flags & f_rst) {
        count(ctr.resets_in);
        if (s.seq == c->rcv_nxt) {
            if (c->st == tcp_state::syn_received && (c->flags & cf_passive)) {
                finish(c, close_reason::reset, false);
            } else if (c->st == tcp_state::closing || c->st == tcp_state::last_ack || c->st == tcp_state::time_wait) {
                finish(c, close_reason::normal, true);
            } else if (c->st == tcp_state::syn_received) {
                finish(c, close_reason::refused, true);  // an active open (simultaneous): refused (MUST-11)
            } else {
                finish(c, close_reason::reset, true);
            }
        } else {
            challenge_ack(c);
        }
        return;
    }
    // Fourth: SYN in a synchronized state (RFC 5961 4.2): challenge ACK.
    if (s.flags & f_syn) {
        challenge_ack(c);
        return;
    }
    // Fifth: ACK.
    if (!process_ack(c, s)) return;
    if (c->flags & cf_dead) return;
    if (c->st == tcp_state::time_wait) {
        if (s.flags & f_fin) {
            c->t_2msl = now + cfg.time_wait_us;
            send_ack(c);
            arm(c);
        }
        return;
    }
    // Seventh and eighth: text and FIN.
    bool had_fin = (c->flags & cf_fin_received) != 0;
    uint32_t before = c->rq_bytes;
    if (s.len > 0 || (s.flags & f_fin)) process_data(c, s);
    if (c->flags & cf_dead) return;
    if (c->rq_bytes > before) notify_readable(c);
    if (c->flags & cf_dead) return;
    if (!had_fin && (c->flags & cf_fin_received)) {
        c->flags |= cf_ack_now;
        switch (c->st) {
            case tcp_state::syn_received:
            case tcp_state::established:
                set_state(c, tcp_state::close_wait);
                break;
            case tcp_state::fin_wait_1:
                if ((c->flags & cf_fin_sent) && c->snd_una == c->snd_max) {
                    send_ack(c);
                    if (!tell_peer_fin(c)) return;
                    enter_time_wait(c);
                    return;
                }
                set_state(c, tcp_state::closing);
                break;
            case tcp_state::fin_wait_2:
                send_ack(c);
                if (!tell_peer_fin(c)) return;
                enter_time_wait(c);
                return;
            default:
                break;
        }
        if (!(c->flags & cf_app_closed) && c->rq_bytes == 0 && !(c->flags & cf_notified_fin)) {
            c->flags |= cf_notified_fin;
            if (c->cb.on_peer_fin) c->cb.on_peer_fin(c->ctx, c);
            if (c->flags & cf_dead) return;
        } else if (!(c->flags & cf_app_closed) && c->rq_bytes > 0) {
            // Told once the app has read the data before it (recv()).
        }
    }
    output(c);
}

void tcp_stack::impl::input(rte_mbuf* m, tcp_conn* hint) noexcept {
    segment s;
    count(ctr.segments_in);
    if (!parse(m, s)) {
        rte_pktmbuf_free(m);
        return;
    }
    tcp_conn* c = hint != nullptr ? hint : lookup(s.key);
    if (c == nullptr) {
        int li = find_listener(s.key.family, s.key.laddr, s.key.lport);
        if (li >= 0) {
            on_listen(li, s);
        } else {
            count(ctr.no_connection);
            send_rst_for(s);
        }
        // s.m, not m: a SYN-cookie ACK carrying data hands its mbuf to the new connection.
        if (s.m != nullptr) rte_pktmbuf_free(s.m);
        return;
    }
    ++c->segs_in;
    if (c->st == tcp_state::syn_sent) {
        c->last_activity_us = now;
        on_syn_sent(c, s);
        if (s.m) rte_pktmbuf_free(s.m);
        return;
    }
    on_segment(c, s);
    if (s.m) rte_pktmbuf_free(s.m);
    if (!(c->flags & cf_dead)) {
        if (c->flags & cf_ack_now) send_ack(c);
        if (cfg.keepalive_idle_us && c->t_keep != 0) {
            c->t_keep = now + cfg.keepalive_idle_us;
            c->retries = c->t_rtx ? c->retries : 0;
        }
        if (c->user_timeout_us) c->t_user = now + c->user_timeout_us;
        arm(c);
    }
}

// =============================================================================================
// timers

void tcp_stack::impl::on_timer(tcp_conn* c) noexcept {
    if (c->flags & cf_dead) return;
    if (c->t_2msl && c->t_2msl <= now) {
        c->t_2msl = 0;
        finish(c, close_reason::normal, c->st != tcp_state::time_wait);
        return;
    }
    if (c->t_user && c->t_user <= now) {
        c->t_user = 0;
        emit(c, f_rst | f_ack, c->snd_nxt, 0, false);
        finish(c, c->st == tcp_state::syn_sent ? close_reason::connect_timeout : close_reason::timeout, true);
        return;
    }
    if (c->t_delack && c->t_delack <= now) {
        c->t_delack = 0;
        send_ack(c);
    }
    if (c->t_tlp && c->t_tlp <= now) {
        // Tail loss probe (RFC 8985 7.3): new data if the windows allow, else the last segment
        // sent again, so that the peer's ACK (with SACK) starts fast recovery instead of an RTO.
        c->t_tlp = 0;
        if (c->st == tcp_state::established && !(c->flags & cf_in_recovery) && flight(c) > 0) {
            c->tlp_out = true;
            uint32_t data_end = c->snd_una + c->sq_bytes;
            uint32_t unsent = seq_lt(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
            if (unsent > 0 && c->snd_nxt == c->snd_max && c->snd_nxt - c->snd_una + c->smss <= c->snd_wnd) {
                uint32_t len = std::min<uint32_t>(unsent, c->smss);
                emit(c, static_cast<uint8_t>(f_ack | (len == unsent ? f_psh : 0)), c->snd_nxt, len, false);
                c->bytes_out += len;
                count(ctr.bytes_out, len);
                c->snd_nxt += len;
                c->snd_max = c->snd_nxt;
            } else if (c->snd_max == c->snd_una + c->sq_bytes && c->sq_bytes > 0) {
                uint32_t len = std::min<uint32_t>(c->sq_bytes, c->smss);
                emit(c, f_ack, c->snd_max - len, len, false);
                ++c->retrans;
                count(ctr.retransmits);
            }
            count(ctr.tail_loss_probes);
            c->t_rtx = now + c->rto_us;
        }
    }
    if (c->t_rtx && c->t_rtx <= now) {
        c->t_rtx = 0;
        c->t_tlp = 0;
        ++c->retries;
        count(ctr.rto_expired);
        uint8_t limit = c->st == tcp_state::syn_sent       ? cfg.syn_retries
                        : c->st == tcp_state::syn_received ? cfg.synack_retries
                                                           : cfg.max_retries;
        if (c->retries > limit) {
            if (c->st == tcp_state::syn_sent) {
                finish(c, close_reason::connect_timeout, true);
            } else {
                if (c->st != tcp_state::syn_received) emit(c, f_rst | f_ack, c->snd_nxt, 0, false);
                finish(c, close_reason::timeout, true);
            }
            return;
        }
        // RFC 6298 5.5-5.7: back off, retransmit the earliest unacknowledged segment.
        c->rto_us = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{c->rto_us} * 2, cfg.rto_max_us));
        if (c->st == tcp_state::syn_sent || c->st == tcp_state::syn_received) {
            retransmit_una(c);
            if (c->st == tcp_state::syn_sent && c->retries == 1 && c->srtt_us == 0) {
                // RFC 6298 5.7: after a lost SYN, data starts with RTO 3 s.
            }
        } else {
            cc_on_rto(c->cc, flight(c), now);
            c->flags &= static_cast<uint16_t>(~(cf_in_recovery | cf_rtt_timing));
            c->recover = c->snd_max;
            c->dupacks = 0;
            // The scoreboard stays: the go-back from SND.UNA skips what the peer SACKed (RFC
            // 6675 5.1), while nothing is freed until cumulatively acknowledged (RFC 2018 8).
            c->high_rxt = c->snd_una;
            // Go back to snd_una: retransmit one segment now, the rest as the window opens.
            c->snd_nxt = c->snd_una;
            c->cur_m = nullptr;
            retransmit_una(c);
            uint32_t data_end = c->snd_una + c->sq_bytes;
            uint32_t adv = std::min<uint32_t>(c->smss, c->sq_bytes);
            c->snd_nxt = c->snd_una + adv;
            if ((c->flags & cf_fin_sent) && c->snd_nxt == data_end) c->snd_nxt += 1;
            if (adv == 0 && (c->flags & cf_fin_sent)) c->snd_nxt = c->snd_una + 1;
        }
        c->t_rtx = now + c->rto_us;
    }
    if (c->t_persist && c->t_persist <= now) {
        // Zero-window probe: one byte beyond the window (RFC 9293 3.8.6.1), backed off.
        c->t_persist = 0;
        uint32_t data_end = c->snd_una + c->sq_bytes;
        if (c->snd_wnd > 0 && c->snd_nxt == c->snd_una && seq_lt(c->snd_nxt, data_end)) {
            // The SWS override: what the window takes, now.
            uint32_t len = std::min({data_end - c->snd_nxt, c->snd_wnd, static_cast<uint32_t>(c->smss)});
            emit(c, f_ack | f_psh, c->snd_nxt, len, false);
            c->bytes_out += len;
            count(ctr.bytes_out, len);
            c->snd_nxt += len;
            if (seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
            if (c->t_rtx == 0) c->t_rtx = now + c->rto_us;
        } else if (c->snd_wnd == 0 && seq_lt(c->snd_una, data_end)) {
            // The probe is the next byte of data, sent at SND.UNA (again on later probes).
            count(ctr.zero_window_probes);
            c->cur_m = nullptr;
            emit(c, f_ack, c->snd_una, 1, false);
            if (c->snd_nxt == c->snd_una) {
                c->snd_nxt = c->snd_una + 1;
                if (seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
            }
            ++c->persist_backoff;
            uint64_t iv = std::max<uint64_t>(cfg.persist_min_us, c->rto_us)
                          << std::min<uint32_t>(c->persist_backoff, 16);
            c->t_persist = now + std::min<uint64_t>(iv, cfg.rto_max_us);
        }
    }
    if (c->t_keep && c->t_keep <= now) {
        // Keepalive (RFC 9293 3.8.4 / RFC 1122 4.2.3.6): SEG.SEQ = SND.NXT - 1, no data.
        if (c->st == tcp_state::established || c->st == tcp_state::close_wait) {
            if (c->retries >= cfg.keepalive_probes && c->t_rtx == 0) {
                count(ctr.keepalive_timeouts);
                emit(c, f_rst | f_ack, c->snd_nxt, 0, false);
                finish(c, close_reason::timeout, true);
                return;
            }
            if (c->t_rtx == 0) {
                ++c->retries;
                emit(c, f_ack, c->snd_nxt - 1, 0, false);
            }
            c->t_keep = now + cfg.keepalive_interval_us;
        } else {
            c->t_keep = 0;
        }
    }
    if (c->flags & cf_dead) return;
    output(c);
    arm(c);
}

}  // namespace meshgate::dataplane::tcp

// =============================================================================================
// public API

namespace meshgate::dataplane::tcp {

const char* state_name(tcp_state s) noexcept {
    switch (s) {
        case tcp_state::closed:
            return "CLOSED";
        case tcp_state::listen:
            return "LISTEN";
        case tcp_state::syn_sent:
            return "SYN-SENT";
        case tcp_state::syn_received:
            return "SYN-RECEIVED";
        case tcp_state::established:
            return "ESTABLISHED";
        case tcp_state::fin_wait_1:
            return "FIN-WAIT-1";
        case tcp_state::fin_wait_2:
            return "FIN-WAIT-2";
        case tcp_state::close_wait:
            return "CLOSE-WAIT";
        case tcp_state::closing:
            return "CLOSING";
        case tcp_state::last_ack:
            return "LAST-ACK";
        case tcp_state::time_wait:
            return "TIME-WAIT";
    }
    return "?";
}

const char* close_reason_name(close_reason r) noexcept {
    switch (r) {
        case close_reason::normal:
            return "normal";
        case close_reason::reset:
            return "reset";
        case close_reason::refused:
            return "refused";
        case close_reason::timeout:
            return "timeout";
        case close_reason::aborted:
            return "aborted";
        case close_reason::connect_timeout:
            return "connect_timeout";
    }
    return "?";
}

namespace {
// RAII depth guard: connections ended during a call are freed when the outermost call returns.
struct call_guard {
    tcp_stack::impl& s;
    explicit call_guard(tcp_stack::impl& st, uint64_t now_us) : s(st) {
        if (s.depth++ == 0 && now_us != 0) s.now = now_us;
    }
    ~call_guard() {
        if (s.depth == 1 && s.notify_head != nullptr) s.run_notifications();  // callbacks nest at depth 1
        if (--s.depth == 0) s.reap();
    }
};
std::atomic<uint32_t> stack_serial{0};
}  // namespace

tcp_stack::tcp_stack(std::unique_ptr<impl> p) noexcept : p_(std::move(p)) {}

tcp_stack::~tcp_stack() {
    if (!p_) return;
    for (auto& c : p_->conns)
        if (c.st != tcp_state::closed || (c.flags & cf_dead)) {
            c.flags = 0;
            p_->destroy(&c);
        }
    while (p_->out_head != p_->out_tail) rte_pktmbuf_free(p_->out[p_->out_head++ & (out_ring_size - 1)]);
    if (p_->table) rte_hash_free(p_->table);
}

result<std::unique_ptr<tcp_stack>> tcp_stack::create(const stack_config& cfg, rte_mempool* pool, unsigned worker,
                                                     unsigned workers, uint64_t now_us) {
    if (pool == nullptr) return error{"tcp stack: no mbuf pool"};
    if (cfg.max_connections == 0 || cfg.max_connections > (1u << 22))
        return error{"tcp stack: max_connections " + std::to_string(cfg.max_connections) + " is not in 1..4194304"};
    if (cfg.mss < 88 || cfg.mss > 9000)
        return error{"tcp stack: mss " + std::to_string(cfg.mss) + " is not in 88..9000"};
    if (cfg.wscale > 14) return error{"tcp stack: wscale above 14 (RFC 7323 2.3)"};
    auto p = std::make_unique<impl>(now_us / us_per_tick);
    p->cfg = cfg;
    p->pool = pool;
    p->worker = worker;
    p->workers = workers == 0 ? 1 : workers;
    p->now = now_us;
    p->start_us = now_us;
    if (cfg.isn_secret[0] == 0 && cfg.isn_secret[1] == 0) {
        p->secret.k0 = rte_rand();
        p->secret.k1 = rte_rand();
    } else {
        p->secret.k0 = cfg.isn_secret[0];
        p->secret.k1 = cfg.isn_secret[1];
    }
    std::string name = "tcp" + std::to_string(worker) + "_" + std::to_string(stack_serial.fetch_add(1));
    rte_hash_parameters hp{};
    hp.name = name.c_str();
    hp.entries = std::max<uint32_t>(cfg.max_connections + cfg.max_connections / 4, 64);
    hp.key_len = sizeof(conn_key);
    hp.hash_func = rte_hash_crc;
    hp.socket_id = static_cast<int>(rte_socket_id());
    p->table = rte_hash_create(&hp);
    if (p->table == nullptr) return error{"tcp stack: cannot create the connection table " + name};
    p->conns.resize(cfg.max_connections);
    p->free_list.reserve(cfg.max_connections);
    for (uint32_t i = cfg.max_connections; i-- > 0;) p->free_list.push_back(i);
    p->next_port = p->port_min;
    return std::unique_ptr<tcp_stack>(new tcp_stack(std::move(p)));
}

int tcp_stack::listen(uint8_t family, const uint8_t* addr, uint16_t port, const callbacks& cb, void* ctx,
                      const conn_options* opts) noexcept {
    uint8_t a[16] = {};
    if (addr) std::memcpy(a, addr, family == 6 ? 16 : 4);
    bool any = true;
    for (uint8_t b : a)
        if (b) any = false;
    int free_slot = -1;
    for (uint32_t i = 0; i < max_listeners; ++i) {
        listener& l = p_->listeners[i];
        if (!l.used) {
            if (free_slot < 0) free_slot = static_cast<int>(i);
            continue;
        }
        if (l.family == family && l.port == port && l.any == any && std::memcmp(l.addr, a, 16) == 0) return -1;
    }
    if (free_slot < 0) return -1;
    listener& l = p_->listeners[free_slot];
    l = listener{};
    l.used = true;
    l.family = family;
    std::memcpy(l.addr, a, 16);
    l.any = any;
    l.port = port;
    l.cb = cb;
    l.ctx = ctx;
    if (opts) l.opts = *opts;
    return free_slot;
}

void tcp_stack::unlisten(int id) noexcept {
    if (id < 0 || id >= static_cast<int>(max_listeners) || !p_->listeners[id].used) return;
    call_guard g(*p_, 0);
    for (auto& c : p_->conns) {
        if (c.listener != id || (c.flags & cf_dead) || c.st == tcp_state::closed) continue;
        if (c.st == tcp_state::syn_received) {
            p_->emit(&c, f_rst, c.snd_nxt, 0, false);
            p_->finish(&c, close_reason::aborted, false);
        } else {
            c.listener = -1;
        }
    }
    p_->listeners[id].used = false;
}

void tcp_stack::set_port_filter(port_filter f, void* ctx) noexcept {
    p_->port_taken = f;
    p_->port_ctx = ctx;
}

void tcp_stack::set_port_range(uint16_t port_min, uint16_t port_max) noexcept {
    if (port_min == 0 || port_min > port_max) return;
    p_->port_min = port_min;
    p_->port_max = port_max;
    p_->next_port = port_min;
}

tcp_conn* tcp_stack::connect(uint8_t family, const uint8_t* laddr, uint16_t lport, const uint8_t* raddr, uint16_t rport,
                             const callbacks& cb, void* ctx, uint64_t now_us, const conn_options* opts) noexcept {
    call_guard g(*p_, now_us);
    impl& s = *p_;
    conn_key k{};
    k.family = family;
    std::memcpy(k.laddr, laddr, family == 6 ? 16 : 4);
    std::memcpy(k.raddr, raddr, family == 6 ? 16 : 4);
    k.rport = rport;
    if (lport != 0) {
        k.lport = lport;
        if (s.lookup(k) != nullptr) return nullptr;
    } else {
        // A free port of this core: p % workers == worker (replies come back here).
        uint32_t span = uint32_t{s.port_max} - s.port_min + 1;
        bool found = false;
        for (uint32_t tries = 0; tries < span; ++tries) {
            uint16_t p = s.next_port;
            s.next_port = p >= s.port_max ? s.port_min : static_cast<uint16_t>(p + 1);
            if (p % s.workers != s.worker) continue;
            k.lport = p;
            tcp_conn* old = s.lookup(k);
            if (old == nullptr &&
                (s.port_taken == nullptr || !s.port_taken(s.port_ctx, family, k.laddr, p, k.raddr, rport))) {
                found = true;
                break;
            }
        }
        if (!found) return nullptr;
    }
    tcp_conn* c = s.alloc_conn(k);
    if (c == nullptr) {
        count(s.ctr.table_full);
        return nullptr;
    }
    c->cb = cb;
    c->ctx = ctx;
    s.apply_options(c, opts);
    c->iss = s.isn_for(k);
    c->snd_una = c->iss;
    c->snd_nxt = c->iss + 1;
    c->snd_max = c->snd_nxt;
    c->high_rxt = c->recover = c->iss;
    c->rcv_wscale = s.cfg.wscale;
    c->ts_ok = s.cfg.timestamps;
    c->sack_ok = s.cfg.sack;
    cc_init(c->cc, c->cc.algo, c->smss, s.cfg.initial_cwnd_segments);
    s.set_state(c, tcp_state::syn_sent);
    c->rtt_start_us = s.now;
    s.emit(c, f_syn, c->iss, 0, true);
    c->ts_ok = false;
    c->sack_ok = false;
    c->t_rtx = s.now + c->rto_us;
    if (c->user_timeout_us) c->t_user = s.now + c->user_timeout_us;
    s.arm(c);
    return c;
}

void tcp_stack::set_callbacks(tcp_conn* c, const callbacks& cb, void* ctx) noexcept {
    c->cb = cb;
    c->ctx = ctx;
}

void* tcp_stack::context(const tcp_conn* c) const noexcept {
    return c->ctx;
}

void tcp_stack::set_timeout(tcp_conn* c, uint32_t us, uint64_t now_us) noexcept {
    if (c->flags & cf_dead) return;
    c->user_timeout_us = us;
    c->t_user = us ? now_us + us : 0;
    p_->arm(c);
}

bool tcp_stack::wants(uint8_t family, const uint8_t* saddr, uint16_t sport, const uint8_t* daddr,
                      uint16_t dport) const noexcept {
    return has_connection(family, saddr, sport, daddr, dport) || p_->find_listener(family, daddr, dport) >= 0;
}

bool tcp_stack::has_connection(uint8_t family, const uint8_t* saddr, uint16_t sport, const uint8_t* daddr,
                               uint16_t dport) const noexcept {
    conn_key k{};
    k.family = family;
    std::memcpy(k.laddr, daddr, family == 6 ? 16 : 4);
    std::memcpy(k.raddr, saddr, family == 6 ? 16 : 4);
    k.lport = dport;
    k.rport = sport;
    return p_->lookup(k) != nullptr;
}

bool tcp_stack::input_connected(rte_mbuf* m, uint8_t family, const uint8_t* saddr, uint16_t sport, const uint8_t* daddr,
                                uint16_t dport, uint64_t now_us) noexcept {
    conn_key k{};
    k.family = family;
    std::memcpy(k.laddr, daddr, family == 6 ? 16 : 4);
    std::memcpy(k.raddr, saddr, family == 6 ? 16 : 4);
    k.lport = dport;
    k.rport = sport;
    tcp_conn* c = p_->lookup(k);
    if (c == nullptr) return false;
    call_guard g(*p_, now_us);
    p_->input(m, c);
    return true;
}

void tcp_stack::begin_batch() noexcept {
    p_->batching = true;
}

void tcp_stack::end_batch() noexcept {
    p_->batching = false;
    p_->flush_acks();
}

void tcp_stack::input(rte_mbuf* m, uint64_t now_us) noexcept {
    call_guard g(*p_, now_us);
    p_->input(m);
}

void tcp_stack::poll(uint64_t now_us) noexcept {
    call_guard g(*p_, now_us);
    impl& s = *p_;
    s.wheel.advance(now_us / us_per_tick, [&](timer_node* n) { s.on_timer(conn_of_node(n)); });
}

uint16_t tcp_stack::drain(rte_mbuf** out, uint16_t max) noexcept {
    uint16_t n = 0;
    while (n < max && p_->out_head != p_->out_tail) out[n++] = p_->out[p_->out_head++ & (out_ring_size - 1)];
    return n;
}

uint16_t tcp_stack::pending_output() const noexcept {
    return static_cast<uint16_t>(p_->out_tail - p_->out_head);
}

bool tcp_stack::send(tcp_conn* c, rte_mbuf* data, uint64_t now_us) noexcept {
    call_guard g(*p_, now_us);
    bool open =
        !(c->flags & (cf_dead | cf_fin_queued)) && (c->st == tcp_state::established || c->st == tcp_state::close_wait ||
                                                    c->st == tcp_state::syn_sent || c->st == tcp_state::syn_received);
    if (!open) {
        rte_pktmbuf_free(data);
        return false;
    }
    // Append each segment of the chain to the queue (zero-length ones are freed).
    rte_mbuf* m = data;
    while (m != nullptr) {
        rte_mbuf* n = m->next;
        m->next = nullptr;
        if (m->data_len == 0) {
            rte_pktmbuf_free_seg(m);
        } else {
            m->nb_segs = 1;
            m->pkt_len = m->data_len;
            if (c->sq_tail)
                c->sq_tail->next = m;
            else
                c->sq_head = m;
            c->sq_tail = m;
            c->sq_bytes += m->data_len;
        }
        m = n;
    }
    if (c->sq_bytes >= c->snd_buf) c->flags |= cf_writable_wanted;
    p_->output(c);
    return true;
}

uint32_t tcp_stack::send_space(const tcp_conn* c) const noexcept {
    if (c->flags & (cf_dead | cf_fin_queued)) return 0;
    uint32_t space = c->sq_bytes >= c->snd_buf ? 0 : c->snd_buf - c->sq_bytes;
    if (space == 0) const_cast<tcp_conn*>(c)->flags |= cf_writable_wanted;
    return space;
}

rte_mbuf* tcp_stack::recv(tcp_conn* c, uint32_t max, uint64_t now_us) noexcept {
    call_guard g(*p_, now_us);
    if (c->rq_head == nullptr || max == 0) return nullptr;
    uint32_t old_wnd = p_->rcv_window(c);
    uint32_t edge_room = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    rte_mbuf* head = nullptr;
    rte_mbuf* tail = nullptr;
    uint32_t got = 0;
    uint16_t segs = 0;
    while (c->rq_head != nullptr && got < max) {
        rte_mbuf* m = c->rq_head;
        uint32_t want = max - got;
        if (m->data_len > want) {
            // Split: the first `want` bytes go out as an indirect mbuf.
            rte_mbuf* part = rte_pktmbuf_alloc(p_->pool);
            if (part == nullptr) break;
            rte_pktmbuf_attach(part, m);
            part->data_len = static_cast<uint16_t>(want);
            part->pkt_len = want;
            m->data_off = static_cast<uint16_t>(m->data_off + want);
            m->data_len = static_cast<uint16_t>(m->data_len - want);
            m = part;
        } else {
            c->rq_head = m->next;
            if (c->rq_head == nullptr) c->rq_tail = nullptr;
            m->next = nullptr;
        }
        got += m->data_len;
        ++segs;
        if (tail)
            tail->next = m;
        else
            head = m;
        tail = m;
    }
    if (head == nullptr) return nullptr;
    head->nb_segs = segs;
    head->pkt_len = got;
    c->rq_bytes -= got;
    // Window update when the window opened by two segments or half the buffer (RFC 9293
    // 3.8.6.2.2, receiver-side SWS avoidance), and always after a zero window.
    uint32_t new_wnd = p_->rcv_window(c);
    uint32_t thresh = std::min<uint32_t>(2u * c->adv_mss, c->rcv_buf / 2);
    if (!(c->flags & cf_dead) && c->st != tcp_state::closed &&
        (new_wnd >= edge_room + thresh || (edge_room == 0 && new_wnd >= c->adv_mss) || old_wnd == 0)) {
        if (new_wnd > edge_room) p_->send_ack(c);
    }
    // The peer's FIN (and the end, in TIME-WAIT) is reported once all data before it was read:
    // after this call returns, not from inside it (the caller still holds what it read).
    if (c->rq_bytes == 0 &&
        (((c->flags & cf_fin_received) && !(c->flags & cf_notified_fin)) || (c->flags & cf_close_pending)))
        p_->defer_notify(c);
    return head;
}

uint32_t tcp_stack::readable(const tcp_conn* c) const noexcept {
    return c->rq_bytes;
}

bool tcp_stack::peer_closed(const tcp_conn* c) const noexcept {
    return (c->flags & cf_fin_received) && c->rq_bytes == 0;
}

void tcp_stack::shutdown_write(tcp_conn* c, uint64_t now_us) noexcept {
    call_guard g(*p_, now_us);
    if (c->flags & (cf_dead | cf_fin_queued)) return;
    switch (c->st) {
        case tcp_state::syn_sent:
            p_->finish(c, close_reason::aborted, false);
            return;
        case tcp_state::syn_received:
        case tcp_state::established:
            c->flags |= cf_fin_queued;
            p_->set_state(c, tcp_state::fin_wait_1);
            break;
        case tcp_state::close_wait:
            c->flags |= cf_fin_queued;
            p_->set_state(c, tcp_state::last_ack);
            break;
        default:
            return;
    }
    if (c->st == tcp_state::fin_wait_1 && c->snd_una == c->iss) {
        // SYN-RECEIVED: the FIN follows once established (RFC 9293 3.10.4).
        return;
    }
    p_->output(c);
}

void tcp_stack::close(tcp_conn* c, uint64_t now_us) noexcept {
    call_guard g(*p_, now_us);
    if (c->flags & cf_dead) return;
    if (c->rq_bytes > 0 || c->st == tcp_state::syn_sent) {
        // Unread data: RST (RFC 1122 4.2.2.13).
        if (c->st != tcp_state::syn_sent) p_->emit(c, f_rst | f_ack, c->snd_nxt, 0, false);
        c->flags |= cf_app_closed;
        p_->finish(c, close_reason::aborted, false);
        return;
    }
    c->flags |= cf_app_closed;
    shutdown_write(c, now_us);
    if (c->st == tcp_state::fin_wait_2) c->t_2msl = p_->now + p_->cfg.time_wait_us;
    p_->arm(c);
}

void tcp_stack::abort(tcp_conn* c, uint64_t now_us) noexcept {
    call_guard g(*p_, now_us);
    if (c->flags & cf_dead) return;
    if (c->st != tcp_state::syn_sent && c->st != tcp_state::time_wait && c->st != tcp_state::closed)
        p_->emit(c, f_rst | f_ack, c->snd_nxt, 0, false);
    c->flags |= cf_app_closed;
    p_->finish(c, close_reason::aborted, false);
}

conn_info tcp_stack::info(const tcp_conn* c) const noexcept {
    conn_info i{};
    i.state = c->st;
    i.family = c->key.family;
    std::memcpy(i.local_addr, c->key.laddr, 16);
    std::memcpy(i.remote_addr, c->key.raddr, 16);
    i.local_port = c->key.lport;
    i.remote_port = c->key.rport;
    i.snd_mss = c->smss;
    i.cwnd = c->cc.cwnd;
    i.ssthresh = c->cc.ssthresh;
    i.srtt_us = c->srtt_us;
    i.rto_us = c->rto_us;
    i.snd_wnd = c->snd_wnd;
    i.rcv_wnd = p_->rcv_window(c);
    i.snd_wscale = c->snd_wscale;
    i.rcv_wscale = c->rcv_wscale;
    i.ts_ok = c->ts_ok;
    i.sack_ok = c->sack_ok;
    i.bytes_in = c->bytes_in;
    i.bytes_out = c->bytes_out;
    i.segs_in = c->segs_in;
    i.segs_out = c->segs_out;
    i.retransmits = c->retrans;
    i.unread = c->rq_bytes;
    uint32_t sent = c->snd_nxt - c->snd_una;
    i.unsent = c->sq_bytes > sent ? c->sq_bytes - sent : 0;
    i.in_flight = c->snd_max - c->snd_una;
    return i;
}

tcp_state tcp_stack::state(const tcp_conn* c) const noexcept {
    return c->st;
}

const stack_counters& tcp_stack::counters() const noexcept {
    return p_->ctr;
}

const stack_config& tcp_stack::config() const noexcept {
    return p_->cfg;
}

uint32_t tcp_stack::connection_count() const noexcept {
    return static_cast<uint32_t>(p_->conns.size() - p_->free_list.size());
}

}  // namespace meshgate::dataplane::tcp
