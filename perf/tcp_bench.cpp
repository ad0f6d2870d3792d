// Microbenchmarks of the TCP stack's per-packet building blocks (dataplane/tcp): the timer wheel
// (arm/disarm as done on every ACK, and the per-tick advance with 100k connections' timers), and
// the SACK scoreboard (ACK processing and the RFC 6675 NextSeg() hole search).
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "dataplane/tcp/sack_scoreboard.hpp"
#include "dataplane/tcp/timer_wheel.hpp"

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

}  // namespace

BENCHMARK_MAIN();
