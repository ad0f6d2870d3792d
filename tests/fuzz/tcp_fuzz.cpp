// libFuzzer target: the TCP stack (dataplane/tcp) fed segments in every state. The input is a
// script of 8-byte records; the target plays the peer, learning the stack's sequence numbers
// from what it sends, so that most segments land near the window and drive the state machine
// (handshakes both ways, data, out of order, FIN, RST, SYN in synchronized states), with the
// clock moving for the timers (RTO, delayed ACK, persist, keepalive, TIME-WAIT) and the app
// sending, reading, closing and aborting. One record kind injects raw bytes as the TCP header
// and options (the parser). Every segment the stack emits must carry valid checksums and a sane
// length, and the stack's counters must stay consistent; anything else traps.
//
// Record (8 bytes): op, then fields:
//   op%10 == 0  segment: [1] flags (bit 6: IPv6; bit 7: from another port, 41000 + [5]), [2] seq
//               selector, [3] ack selector,
//               [4..5] window, [6] payload length, [7] options selector
//   1 clock: advance ([1]+1) * 5 ms, or ([1]+1) s when [2] is odd; then poll
//   2 app send ([1]+1) * 64 bytes      3 app recv all      4 shutdown      5 close      6 abort
//   7 active open to the peer           8 raw: next [1] bytes are the TCP header and payload
//   9 listener off/on
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dataplane/tcp/checksum.hpp"
#include "dataplane/tcp/tcp_stack.hpp"
#include "tests/support/eal_env.hpp"

using namespace meshgate::dataplane::tcp;

namespace {

constexpr uint8_t local4[4] = {198, 18, 50, 20};
constexpr uint8_t peer4[4] = {198, 18, 1, 2};
constexpr uint8_t local6[16] = {0xfd, 0, 0, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20};
constexpr uint8_t peer6[16] = {0xfd, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};

rte_mempool* pool() {
    static rte_mempool* p = [] {
        meshgate::test::init_eal();
        return rte_pktmbuf_pool_create("tcp_fuzz", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    }();
    return p;
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}
uint32_t get32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

struct world {
    tcp_stack* st = nullptr;
    tcp_conn* conn = nullptr;  // the accepted or connected one
    uint64_t now = 1000000;
    uint32_t peer_next = 1000;  // the peer's next sequence number
    uint32_t stack_next = 0;    // highest sequence number the stack sent, plus its length
    uint32_t peer_ts = 1;
    bool family6 = false;
    int listener = -1;
};

world* g = nullptr;

bool on_accept(void*, tcp_conn* c) {
    if (g->conn == nullptr) g->conn = c;
    return true;
}
void on_closed(void*, tcp_conn* c, close_reason) {
    if (g->conn == c) g->conn = nullptr;
}
void on_readable(void*, tcp_conn* c) {
    // Reads only some of it: the rest keeps the window short.
    if (rte_mbuf* m = g->st->recv(c, 700, g->now)) rte_pktmbuf_free(m);
}

callbacks cbs() {
    callbacks cb;
    cb.on_accept = on_accept;
    cb.on_closed = on_closed;
    cb.on_readable = on_readable;
    return cb;
}

// Checks and frees what the stack sent, learning its sequence numbers.
void drain() {
    rte_mbuf* out[64];
    uint16_t n;
    while ((n = g->st->drain(out, 64)) > 0) {
        for (uint16_t i = 0; i < n; ++i) {
            rte_mbuf* m = out[i];
            const uint8_t* ip = rte_pktmbuf_mtod(m, const uint8_t*);
            uint32_t l3 = (ip[0] >> 4) == 6 ? 40 : 20;
            if (m->data_len < l3 + 20) __builtin_trap();
            if (l3 == 20) {
                if (rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip)) != 0 &&
                    rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip)) != 0xffff)
                    __builtin_trap();
                if (tcp_checksum(m, ip, l3, false) != 0) __builtin_trap();
                if ((uint32_t{ip[2]} << 8 | ip[3]) != m->pkt_len) __builtin_trap();
            } else {
                if (tcp_checksum(m, ip, l3, true) != 0) __builtin_trap();
                if ((uint32_t{ip[4]} << 8 | ip[5]) + 40 != m->pkt_len) __builtin_trap();
            }
            const uint8_t* t = ip + l3;
            uint32_t hl = (t[12] >> 4) * 4u;
            if (hl < 20 || l3 + hl > m->data_len) __builtin_trap();
            uint32_t len = m->pkt_len - l3 - hl + ((t[13] & 0x02) ? 1 : 0) + ((t[13] & 0x01) ? 1 : 0);
            uint32_t end = get32(t + 4) + len;
            if (static_cast<int32_t>(end - g->stack_next) > 0 || g->stack_next == 0) g->stack_next = end;
            rte_pktmbuf_free(m);
        }
    }
}

void inject(const uint8_t* tcp_bytes, uint32_t tcp_len, bool v6) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool());
    if (m == nullptr) return;
    uint32_t l3 = v6 ? 40 : 20;
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(l3 + tcp_len)));
    if (p == nullptr) {
        rte_pktmbuf_free(m);
        return;
    }
    std::memset(p, 0, l3);
    std::memcpy(p + l3, tcp_bytes, tcp_len);
    if (v6) {
        p[0] = 0x60;
        put16(p + 4, static_cast<uint16_t>(tcp_len));
        p[6] = 6;
        p[7] = 64;
        std::memcpy(p + 8, peer6, 16);
        std::memcpy(p + 24, local6, 16);
        put16(p + l3 + 16, 0);
        put16(p + l3 + 16, rte_be_to_cpu_16(rte_ipv6_udptcp_cksum(reinterpret_cast<rte_ipv6_hdr*>(p), p + l3)));
    } else {
        p[0] = 0x45;
        put16(p + 2, static_cast<uint16_t>(l3 + tcp_len));
        p[8] = 64;
        p[9] = 6;
        std::memcpy(p + 12, peer4, 4);
        std::memcpy(p + 16, local4, 4);
        auto* h = reinterpret_cast<rte_ipv4_hdr*>(p);
        h->hdr_checksum = rte_ipv4_cksum(h);
        put16(p + l3 + 16, 0);
        put16(p + l3 + 16, rte_be_to_cpu_16(rte_ipv4_udptcp_cksum(h, p + l3)));
    }
    g->st->input(m, g->now);
    drain();
}

void segment(const uint8_t* r) {
    uint8_t flags = r[1] & 0x3f;
    bool v6 = (r[1] & 0x40) != 0;
    uint8_t t[60 + 255] = {};
    uint32_t seq = g->peer_next;
    if (r[2] < 128) {
        seq += static_cast<uint32_t>(static_cast<int32_t>(r[2]) - 64) * 100u;
    } else {
        seq += r[2] * 4093u;
    }
    uint32_t ack = g->stack_next + static_cast<uint32_t>(static_cast<int32_t>(r[3]) - 128);
    put16(t, (r[1] & 0x80) ? static_cast<uint16_t>(41000 + r[5]) : 40000);
    put16(t + 2, 80);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[13] = flags;
    put16(t + 14, static_cast<uint16_t>(r[4] << 8 | r[5]));
    uint32_t ol = 0;
    uint8_t* o = t + 20;
    switch (r[7] % 8) {
        case 1:  // SYN-style: MSS, SACK-permitted, timestamps, window scale
            o[0] = 2, o[1] = 4, put16(o + 2, 1460);
            o[4] = 4, o[5] = 2, o[6] = 8, o[7] = 10;
            put32(o + 8, g->peer_ts), put32(o + 12, 0);
            o[16] = 1, o[17] = 3, o[18] = 3, o[19] = r[7] >> 4;
            ol = 20;
            break;
        case 2:  // timestamps
            o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
            put32(o + 4, g->peer_ts + (r[7] >> 3)), put32(o + 8, 1);
            ol = 12;
            break;
        case 3:  // SACK blocks around what the stack sent
            o[0] = 1, o[1] = 1, o[2] = 5, o[3] = 18;
            put32(o + 4, g->stack_next - 3000), put32(o + 8, g->stack_next - 1500);
            put32(o + 12, g->stack_next - 1000 + r[7]), put32(o + 16, g->stack_next);
            ol = 20;
            break;
        case 4:  // tiny MSS
            o[0] = 2, o[1] = 4, put16(o + 2, r[7] >> 3);
            ol = 4;
            break;
        case 5:  // malformed: length running past the header
            o[0] = 8, o[1] = 40, o[2] = 1, o[3] = 0;
            ol = 4;
            break;
        case 6:  // timestamps going back (PAWS)
            o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
            put32(o + 4, g->peer_ts - 1000), put32(o + 8, 0);
            ol = 12;
            break;
        default:
            break;
    }
    t[12] = static_cast<uint8_t>(((20 + ol) / 4) << 4);
    uint32_t plen = r[6] * 8u;
    for (uint32_t i = 0; i < plen && 20 + ol + i < sizeof t; ++i) t[20 + ol + i] = static_cast<uint8_t>(i);
    plen = std::min<uint32_t>(plen, static_cast<uint32_t>(sizeof t - 20 - ol));
    if (r[2] == 64 && !(flags & 0x04)) g->peer_next = seq + plen + ((flags & 0x02) ? 1 : 0) + ((flags & 0x01) ? 1 : 0);
    if (flags & 0x02) g->peer_next = seq + 1 + plen;
    g->peer_ts += 3;
    inject(t, 20 + ol + plen, v6 || g->family6);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    rte_mempool* mp = pool();
    if (mp == nullptr) return 0;
    stack_config cfg;
    cfg.max_connections = 8;
    cfg.max_time_wait = 2;
    cfg.rcv_buf = 8192;
    cfg.snd_buf = 16384;
    cfg.ooo_max_per_conn = 16384;
    cfg.ooo_max_per_core = 32768;
    cfg.half_open_budget = 2;
    cfg.keepalive_idle_us = 30000000;
    cfg.keepalive_interval_us = 5000000;
    cfg.keepalive_probes = 2;
    cfg.time_wait_us = 4000000;
    cfg.challenge_acks_per_sec = 5;
    cfg.isn_secret[0] = 1;
    cfg.isn_secret[1] = 2;
    cfg.cc = (size > 0 && (data[0] & 0x80)) ? cc_algo::newreno : cc_algo::cubic;
    world w;
    auto st = tcp_stack::create(cfg, mp, 0, 1, w.now);
    if (!st) return 0;
    w.st = st.value().get();
    g = &w;
    w.listener = w.st->listen(4, local4, 80, cbs(), nullptr);
    w.st->listen(6, local6, 80, cbs(), nullptr);
    size_t i = 0;
    while (i + 8 <= size) {
        const uint8_t* r = data + i;
        i += 8;
        switch (r[0] % 10) {
            case 0:
                segment(r);
                break;
            case 1:
                w.now += (r[2] & 1) ? (r[1] + 1ull) * 1000000 : (r[1] + 1ull) * 5000;
                w.st->poll(w.now);
                drain();
                break;
            case 2:
                if (w.conn != nullptr && w.st->send_space(w.conn) > 0) {
                    uint32_t n = (r[1] + 1u) * 64;
                    rte_mbuf* head = nullptr;
                    rte_mbuf* tail = nullptr;
                    while (n > 0) {
                        rte_mbuf* m = rte_pktmbuf_alloc(mp);
                        if (m == nullptr) break;
                        uint16_t k = static_cast<uint16_t>(std::min<uint32_t>(n, 1000));
                        std::memset(rte_pktmbuf_append(m, k), 'x', k);
                        n -= k;
                        if (head == nullptr) {
                            head = m;
                        } else {
                            tail->next = m;
                            head->nb_segs++;
                            head->pkt_len += k;
                        }
                        tail = m;
                    }
                    if (head != nullptr) w.st->send(w.conn, head, w.now);
                    drain();
                }
                break;
            case 3:
                if (w.conn != nullptr) {
                    // A callback run after recv() may end the connection (on_closed clears w.conn).
                    while (w.conn != nullptr) {
                        rte_mbuf* m = w.st->recv(w.conn, UINT32_MAX, w.now);
                        if (m == nullptr) break;
                        rte_pktmbuf_free(m);
                    }
                    drain();
                }
                break;
            case 4:
                if (w.conn != nullptr) w.st->shutdown_write(w.conn, w.now);
                drain();
                break;
            case 5:
                if (w.conn != nullptr) {
                    tcp_conn* c = w.conn;
                    w.conn = nullptr;
                    w.st->close(c, w.now);
                }
                drain();
                break;
            case 6:
                if (w.conn != nullptr) {
                    tcp_conn* c = w.conn;
                    w.conn = nullptr;
                    w.st->abort(c, w.now);
                }
                drain();
                break;
            case 7:
                if (w.conn == nullptr) {
                    w.family6 = (r[1] & 1) != 0;
                    w.conn = w.family6 ? w.st->connect(6, local6, 0, peer6, 40000, cbs(), nullptr, w.now)
                                       : w.st->connect(4, local4, 0, peer4, 40000, cbs(), nullptr, w.now);
                    drain();
                }
                break;
            case 8: {
                size_t n = std::min<size_t>(r[1], size - i);
                if (n >= 20) inject(data + i, static_cast<uint32_t>(n), (r[2] & 1) != 0);
                i += n;
                break;
            }
            case 9:
                if (w.listener >= 0) {
                    w.st->unlisten(w.listener);
                    w.listener = -1;
                } else {
                    w.listener = w.st->listen(4, local4, 80, cbs(), nullptr);
                }
                drain();
                break;
        }
        // Invariants the stack must keep whatever it was fed.
        const auto& c = w.st->counters();
        if (c.conns > cfg.max_connections || c.time_wait > c.conns || c.established > c.conns) __builtin_trap();
        if (w.st->connection_count() != c.conns) __builtin_trap();
    }
    // Everything ends: a long wait runs out every timer; connections are freed with the stack.
    g = nullptr;
    return 0;
}
