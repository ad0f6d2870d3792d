// Microbenchmarks of the TCP stack's per-packet building blocks (dataplane/tcp): the timer wheel
// (arm/disarm as done on every ACK, and the per-tick advance with 100k connections' timers), and
// the SACK scoreboard (ACK processing and the RFC 6675 NextSeg() hole search), and the stack's
// whole receive path (an in-order data segment in, the app reads it, the ACK out) and send path
// (the app queues a segment, it goes out, its ACK comes back), each with the cost of building
// and freeing the same mbufs alone as the baseline.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstring>

#include "dataplane/tcp/sack_scoreboard.hpp"
#include "dataplane/tcp/tcp_stack.hpp"
#include "dataplane/tcp/timer_wheel.hpp"
#include "tests/support/eal_env.hpp"

using namespace meshgate::dataplane::tcp;

namespace {

// ---- Timer wheel (1 tick = 1 ms, as in the stack) ----

// RTO-like expiry: 200 ms .. 1.2 s ahead.
uint64_t rto_spread(std::mt19937& rng) {
    return 200 + rng() % 1000;
}

// The RTO restart on each ACK: re-arm one connection's timer among many armed ones, then cancel.
void BM_timer_wheel_arm_disarm(benchmark::State& st) {
    const auto n = static_cast<size_t>(st.range(0));
    timer_wheel w;
    std::vector<timer_node> background(n);
    std::mt19937 rng(1);
    for (auto& x : background) w.arm(&x, rto_spread(rng));
    std::vector<uint64_t> exp(1024);
    for (auto& e : exp) e = rto_spread(rng);
    timer_node node;
    size_t i = 0;
    for (auto _ : st) {
        w.arm(&node, exp[i++ & 1023]);
        w.disarm(&node);
        benchmark::DoNotOptimize(node);
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_timer_wheel_arm_disarm)->Arg(0)->Arg(100000);

// Re-arming an armed timer (RTO pushed back by an ACK), the most frequent wheel operation.
void BM_timer_wheel_rearm(benchmark::State& st) {
    timer_wheel w;
    std::vector<timer_node> nodes(100000);
    std::mt19937 rng(2);
    for (auto& x : nodes) w.arm(&x, rto_spread(rng));
    std::vector<uint32_t> pick(4096);
    for (auto& p : pick) p = rng() % 100000;
    size_t i = 0;
    for (auto _ : st) {
        w.arm(&nodes[pick[i & 4095]], 200 + (i & 1023));
        ++i;
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_timer_wheel_rearm);

// Steady state with 100k armed timers: every tick (1 ms) fires the due ones, which re-arm 200 ms
// .. 1.2 s ahead (about 100 per tick). Items are fired timers; the time is per tick.
void BM_timer_wheel_advance(benchmark::State& st) {
    const auto n = static_cast<size_t>(st.range(0));
    timer_wheel w;
    std::vector<timer_node> nodes(n);
    std::mt19937 rng(3);
    for (auto& x : nodes) w.arm(&x, rto_spread(rng));
    std::vector<uint64_t> spread(4096);
    for (auto& s : spread) s = rto_spread(rng);
    size_t k = 0;
    uint64_t fired = 0;
    auto refire = [&](timer_node* x) { w.arm(x, w.now() + spread[k++ & 4095]); };
    for (int i = 0; i < 2000; ++i) w.advance(w.now() + 1, refire);  // warm up to the steady state
    for (auto _ : st) fired += w.advance(w.now() + 1, refire);
    st.SetItemsProcessed(static_cast<int64_t>(fired));
    st.counters["fired_per_tick"] =
        benchmark::Counter(static_cast<double>(fired) / static_cast<double>(st.iterations()));
}
BENCHMARK(BM_timer_wheel_advance)->Arg(100000);

// An idle hour in one call with 100k timers spread over it: the cost of a big clock jump.
void BM_timer_wheel_jump_hour(benchmark::State& st) {
    std::vector<timer_node> nodes(100000);
    std::mt19937 rng(4);
    std::vector<uint64_t> at(nodes.size());
    for (auto& a : at) a = 1 + rng() % 3600000;
    for (auto _ : st) {
        st.PauseTiming();
        std::optional<timer_wheel> w;
        w.emplace(0);
        for (size_t i = 0; i < nodes.size(); ++i) w->arm(&nodes[i], at[i]);
        st.ResumeTiming();
        benchmark::DoNotOptimize(w->advance(3600000, [](timer_node*) {}));
    }
    st.SetItemsProcessed(st.iterations() * static_cast<int64_t>(nodes.size()));
}
BENCHMARK(BM_timer_wheel_jump_hour)->Unit(benchmark::kMillisecond);

// ---- SACK scoreboard ----

constexpr uint32_t mss = 1448;
constexpr uint32_t una = 0xFFFF0000u;  // across the sequence wrap
constexpr uint32_t nxt = una + 400 * mss;

// A scoreboard with 8 ranges of 3 segments, each above a one-segment hole.
sack_scoreboard eight_ranges() {
    sack_scoreboard sb;
    for (uint32_t i = 0; i < 8; ++i) {
        seq_range b{una + (1 + i * 4) * mss, una + (4 + i * 4) * mss};
        sb.update(una, nxt, &b, 1);
    }
    return sb;
}

// ACK processing: 4 blocks as a receiver sends them (the newest first, extending a range; then the
// most recent others, already known), against 8 ranges. The scoreboard is restored each time.
void BM_sack_update(benchmark::State& st) {
    const sack_scoreboard base = eight_ranges();
    std::vector<std::array<seq_range, 4>> acks;
    for (uint32_t i = 0; i < 8; ++i) {
        uint32_t r = (i * 3) % 8;
        std::array<seq_range, 4> a{};
        a[0] = {una + (1 + r * 4) * mss, una + (5 + r * 4) * mss};  // fills the hole above range r
        for (uint32_t k = 1; k < 4; ++k) {
            uint32_t o = (r + 8 - k) % 8;
            a[k] = {una + (1 + o * 4) * mss, una + (4 + o * 4) * mss};
        }
        acks.push_back(a);
    }
    size_t i = 0;
    uint64_t total = 0;
    for (auto _ : st) {
        sack_scoreboard sb = base;
        const auto& a = acks[i++ & 7];
        total += sb.update(una, nxt, a.data(), 4);
        benchmark::DoNotOptimize(sb);
    }
    benchmark::DoNotOptimize(total);
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_sack_update);

// The scoreboard copy alone, the baseline subtracted from BM_sack_update.
void BM_sack_copy_baseline(benchmark::State& st) {
    const sack_scoreboard base = eight_ranges();
    for (auto _ : st) {
        sack_scoreboard sb = base;
        benchmark::DoNotOptimize(sb);
    }
}
BENCHMARK(BM_sack_copy_baseline);

// NextSeg() rule (1): the next lost hole from successive positions (HighRxt walking up).
void BM_sack_next_lost_hole(benchmark::State& st) {
    const sack_scoreboard sb = eight_ranges();
    std::vector<uint32_t> from(32);
    for (uint32_t i = 0; i < 32; ++i) from[i] = una + i * mss;
    size_t i = 0;
    uint64_t found = 0;
    for (auto _ : st) {
        uint32_t s = 0, e = 0;
        found += sb.next_lost_hole(from[i++ & 31], mss, s, e);
        benchmark::DoNotOptimize(s);
        benchmark::DoNotOptimize(e);
    }
    benchmark::DoNotOptimize(found);
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_sack_next_lost_hole);

// ---- The stack: a connection's receive and send paths ----

constexpr uint8_t local_addr[4] = {198, 18, 50, 20};
constexpr uint8_t peer_addr[4] = {198, 18, 1, 2};

rte_mempool* bench_pool() {
    static rte_mempool* p = [] {
        meshgate::test::init_eal();
        return rte_pktmbuf_pool_create("tcp_bench", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    }();
    return p;
}

// A segment from the peer (IPv4, timestamps), checksums filled.
rte_mbuf* peer_segment(uint32_t seq, uint32_t ack, uint8_t flags, uint32_t len, uint32_t tsval, bool syn_opts) {
    rte_mbuf* m = rte_pktmbuf_alloc(bench_pool());
    if (m == nullptr) return nullptr;
    uint32_t ol = syn_opts ? 20 : 12;
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(40 + ol + len)));
    std::memset(p, 0, 40 + ol);
    auto w16 = [](uint8_t* q, uint32_t v) {
        q[0] = static_cast<uint8_t>(v >> 8);
        q[1] = static_cast<uint8_t>(v);
    };
    auto w32 = [&](uint8_t* q, uint32_t v) {
        w16(q, v >> 16);
        w16(q + 2, v & 0xffff);
    };
    p[0] = 0x45;
    w16(p + 2, 40 + ol + len);
    p[8] = 64;
    p[9] = 6;
    std::memcpy(p + 12, peer_addr, 4);
    std::memcpy(p + 16, local_addr, 4);
    uint8_t* t = p + 20;
    w16(t, 40000);
    w16(t + 2, 80);
    w32(t + 4, seq);
    w32(t + 8, ack);
    t[12] = static_cast<uint8_t>(((20 + ol) / 4) << 4);
    t[13] = flags;
    w16(t + 14, 65535);
    uint8_t* o = t + 20;
    if (syn_opts) {
        o[0] = 2, o[1] = 4, w16(o + 2, 1460), o[4] = 4, o[5] = 2, o[6] = 8, o[7] = 10;
        w32(o + 8, tsval), w32(o + 12, 0), o[16] = 1, o[17] = 3, o[18] = 3, o[19] = 7;
    } else {
        o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
        w32(o + 4, tsval), w32(o + 8, 0);
    }
    std::memset(t + 20 + ol, 'x', len);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    w16(t + 16, rte_be_to_cpu_16(rte_ipv4_udptcp_cksum(ip, t)));
    return m;
}

uint32_t drain_all(tcp_stack& st, uint32_t* last_seq = nullptr) {
    rte_mbuf* out[64];
    uint16_t n;
    uint32_t total = 0;
    while ((n = st.drain(out, 64)) > 0) {
        for (uint16_t i = 0; i < n; ++i) {
            if (last_seq != nullptr) {
                const uint8_t* t = rte_pktmbuf_mtod_offset(out[i], const uint8_t*, 20);
                *last_seq = (uint32_t{t[4]} << 24 | uint32_t{t[5]} << 16 | uint32_t{t[6]} << 8 | t[7]);
            }
            rte_pktmbuf_free(out[i]);
        }
        total += n;
    }
    return total;
}

struct bench_conn {
    std::unique_ptr<tcp_stack> st;
    tcp_conn* c = nullptr;
    uint32_t peer_seq = 1000;
    uint32_t our_seq = 0;  // next sequence number of ours the peer expects
    uint64_t now = 1000000;
};

bool on_accept_keep(void* ctx, tcp_conn* c) {
    static_cast<bench_conn*>(ctx)->c = c;
    return true;
}

// A passive open with timestamps, window scale and SACK.
bool establish(bench_conn& b) {
    stack_config cfg;
    cfg.max_connections = 64;
    cfg.isn_secret[0] = 7;
    cfg.isn_secret[1] = 9;
    cfg.delack_us = 40000;
    auto st = tcp_stack::create(cfg, bench_pool(), 0, 1, b.now);
    if (!st) return false;
    b.st = std::move(st.value());
    callbacks cb;
    cb.on_accept = on_accept_keep;
    b.st->listen(4, local_addr, 80, cb, &b);
    b.st->input(peer_segment(b.peer_seq, 0, 0x02, 0, 1, true), b.now);
    uint32_t isn = 0;
    drain_all(*b.st, &isn);
    b.peer_seq += 1;
    b.our_seq = isn + 1;
    b.st->input(peer_segment(b.peer_seq, b.our_seq, 0x10, 0, 2, false), b.now);
    drain_all(*b.st);
    return b.c != nullptr;
}

// In-order full-sized data segments: the stack takes each (checksum, lookup, state machine,
// queue), the app reads it (the mbuf handed over, no copy) and frees it, and every second
// segment draws an ACK, drained here.
void BM_segment_receive(benchmark::State& state) {
    bench_conn b;
    if (!establish(b)) {
        state.SkipWithError("no connection");
        return;
    }
    uint32_t ts = 3;
    for (auto _ : state) {
        rte_mbuf* m = peer_segment(b.peer_seq, b.our_seq, 0x10, 1448, ts++, false);
        b.peer_seq += 1448;
        b.st->input(m, b.now);
        if (rte_mbuf* d = b.st->recv(b.c, UINT32_MAX, b.now)) rte_pktmbuf_free(d);
        drain_all(*b.st);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_segment_receive);

// The baseline: building and freeing the same segment, without the stack.
void BM_segment_receive_build_only(benchmark::State& state) {
    uint32_t seq = 1000, ts = 3;
    for (auto _ : state) {
        rte_mbuf* m = peer_segment(seq, 1, 0x10, 1448, ts++, false);
        seq += 1448;
        rte_pktmbuf_free(m);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_segment_receive_build_only);

// The send path: the app queues a 1448-byte mbuf, the stack segments it (header mbuf plus an
// indirect mbuf on the data, checksum over both), the segment is drained, and its ACK comes
// back (RTT sample, congestion window, the queue freed, the RTO timer re-armed).
void BM_segment_send_and_ack(benchmark::State& state) {
    bench_conn b;
    if (!establish(b)) {
        state.SkipWithError("no connection");
        return;
    }
    uint32_t ts = 3;
    for (auto _ : state) {
        rte_mbuf* d = rte_pktmbuf_alloc(bench_pool());
        std::memset(rte_pktmbuf_append(d, 1448), 'y', 1448);
        b.st->send(b.c, d, b.now);
        drain_all(*b.st);
        b.our_seq += 1448;
        b.st->input(peer_segment(b.peer_seq, b.our_seq, 0x10, 0, ts++, false), b.now);
        drain_all(*b.st);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_segment_send_and_ack);

// Its baseline: the data mbuf and the ACK built and freed, without the stack.
void BM_segment_send_and_ack_build_only(benchmark::State& state) {
    uint32_t ts = 3;
    for (auto _ : state) {
        rte_mbuf* d = rte_pktmbuf_alloc(bench_pool());
        std::memset(rte_pktmbuf_append(d, 1448), 'y', 1448);
        rte_pktmbuf_free(d);
        rte_pktmbuf_free(peer_segment(1000, 1, 0x10, 0, ts++, false));
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_segment_send_and_ack_build_only);

}  // namespace

BENCHMARK_MAIN();
