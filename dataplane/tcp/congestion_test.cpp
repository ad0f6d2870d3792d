#include "dataplane/tcp/congestion.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

using namespace meshgate::dataplane::tcp;

namespace {

// One round trip of a cwnd-limited sender: a window of data ACKed in `per_ack`-byte ACKs (the last
// one may be shorter) spread evenly over the RTT, starting at now_us. Returns the end of the round.
uint64_t round_trip(cc_state& s, uint64_t now_us, uint32_t rtt_us, uint32_t per_ack) {
    uint32_t window = s.cwnd;
    uint32_t n = (window + per_ack - 1) / per_ack;
    for (uint32_t i = 0; i < n; ++i) {
        uint32_t a = std::min(per_ack, window - i * per_ack);
        cc_on_ack(s, a, now_us + uint64_t{rtt_us} * (i + 1) / n, rtt_us, true);
    }
    return now_us + rtt_us;
}

double segs(const cc_state& s) {
    return static_cast<double>(s.cwnd) / s.smss;
}

// CUBIC at cwnd = w segments, after a loss there (W_max = w).
cc_state cubic_after_loss(uint32_t smss, uint32_t w, uint64_t now_us) {
    cc_state s;
    cc_init(s, cc_algo::cubic, smss, 10);
    s.cwnd = w * smss;
    cc_on_congestion(s, s.cwnd, now_us);
    return s;
}

TEST(Congestion, Names) {
    EXPECT_STREQ(cc_name(cc_algo::cubic), "cubic");
    EXPECT_STREQ(cc_name(cc_algo::newreno), "newreno");
}

TEST(Congestion, InitialWindowRfc6928) {
    cc_state s;
    cc_init(s, cc_algo::newreno, 1460, 10);
    EXPECT_EQ(s.cwnd, 14600u);
    EXPECT_EQ(s.ssthresh, cc_ssthresh_infinite);
    EXPECT_EQ(s.smss, 1460u);
    EXPECT_EQ(s.algo, cc_algo::newreno);
    cc_init(s, cc_algo::cubic, 536, 10);
    EXPECT_EQ(s.cwnd, 5360u);  // 10 segments
    cc_init(s, cc_algo::cubic, 9000, 10);
    EXPECT_EQ(s.cwnd, 18000u);  // max(2*SMSS, 14600)
    cc_init(s, cc_algo::cubic, 1460, 4);
    EXPECT_EQ(s.cwnd, 4u * 1460);
    cc_init(s, cc_algo::cubic, 1460, 1);
    EXPECT_EQ(s.cwnd, 1460u);
}

TEST(Congestion, InitResetsEverything) {
    cc_state s = cubic_after_loss(1000, 100, 1);
    cc_on_rto(s, 1000, 2);
    cc_init(s, cc_algo::newreno, 1000, 10);
    EXPECT_EQ(s.cwnd, 10000u);
    EXPECT_EQ(s.ssthresh, cc_ssthresh_infinite);
    EXPECT_EQ(s.bytes_acked_, 0u);
    EXPECT_FALSE(s.rto_backoff_ || s.ss_after_rto_ || s.epoch_valid_ || s.rto_epoch_);
    EXPECT_EQ(s.w_max_, 0.0);
    EXPECT_EQ(s.cwnd_prior_, 0.0);
    cc_on_ack(s, 3000, 3, 0, true);  // L = 2 SMSS again
    EXPECT_EQ(s.cwnd, 12000u);
}

TEST(Congestion, SetMssRecomputesInitialWindow) {
    cc_state s;
    cc_init(s, cc_algo::cubic, 536, 10);
    cc_set_mss(s, 1460);
    EXPECT_EQ(s.cwnd, 14600u);
    EXPECT_EQ(s.smss, 1460u);
    cc_set_mss(s, 9000);
    EXPECT_EQ(s.cwnd, 18000u);
    EXPECT_EQ(s.ssthresh, cc_ssthresh_infinite);
}

TEST(Congestion, SetMssKeepsSegmentsOtherwise) {
    cc_state s;
    cc_init(s, cc_algo::newreno, 536, 10);
    s.cwnd = 20 * 536;
    s.ssthresh = 30 * 536;
    cc_set_mss(s, 1000);
    EXPECT_EQ(s.cwnd, 20000u);
    EXPECT_EQ(s.ssthresh, 30000u);
    cc_set_mss(s, 0);  // ignored
    EXPECT_EQ(s.smss, 1000u);
}

TEST(NewReno, SlowStartDoublesPerRtt) {
    cc_state s;
    cc_init(s, cc_algo::newreno, 1000, 10);
    uint64_t t = 0;
    for (int r = 0; r < 4; ++r) {
        uint32_t before = s.cwnd;
        t = round_trip(s, t, 100000, 1000);
        EXPECT_EQ(s.cwnd, 2 * before) << r;
    }
    EXPECT_EQ(s.cwnd, 160000u);
}

TEST(NewReno, SlowStartDoublesWithDelayedAcks) {
    // RFC 3465 L = 2*SMSS: an ACK for two segments opens two.
    cc_state s;
    cc_init(s, cc_algo::newreno, 1000, 10);
    uint64_t t = round_trip(s, 0, 100000, 2000);
    EXPECT_EQ(s.cwnd, 20000u);
    round_trip(s, t, 100000, 2000);
    EXPECT_EQ(s.cwnd, 40000u);
}

TEST(NewReno, StretchAckLimitedToTwoSegments) {
    cc_state s;
    cc_init(s, cc_algo::newreno, 1000, 10);
    cc_on_ack(s, 10000, 1, 0, true);
    EXPECT_EQ(s.cwnd, 12000u);  // RFC 3465 2.2
}

TEST(NewReno, SlowStartStopsAtSsthreshLeftoverCounted) {
    cc_state s;
    cc_init(s, cc_algo::newreno, 1000, 10);
    s.ssthresh = 11000;
    cc_on_ack(s, 2000, 1, 0, true);  // 1000 to reach ssthresh, 1000 counted in CA
    EXPECT_EQ(s.cwnd, 11000u);
    for (int i = 0; i < 9; ++i) cc_on_ack(s, 1000, 2, 0, true);
    EXPECT_EQ(s.cwnd, 11000u);
    cc_on_ack(s, 1000, 3, 0, true);  // 11000 bytes ACKed in CA: +1 SMSS
    EXPECT_EQ(s.cwnd, 12000u);
}

TEST(NewReno, CongestionAvoidanceOneSegmentPerRtt) {
    cc_state s;
    cc_init(s, cc_algo::newreno, 1000, 10);
    s.cwnd = s.ssthresh = 20000;
    uint64_t t = 0;
    for (int r = 0; r < 10; ++r) {
        uint32_t before = s.cwnd;
        t = round_trip(s, t, 50000, 1000);
        EXPECT_EQ(s.cwnd, before + 1000) << r;
    }
    // Same with delayed ACKs.
    for (int r = 0; r < 10; ++r) {
        uint32_t before = s.cwnd;
        t = round_trip(s, t, 50000, 2000);
        EXPECT_EQ(s.cwnd, before + 1000) << r;
    }
}

TEST(NewReno, UnusedWindowDoesNotGrow) {
    cc_state s;
    cc_init(s, cc_algo::newreno, 1000, 10);
    for (int i = 0; i < 100; ++i) cc_on_ack(s, 1000, static_cast<uint64_t>(i), 0, false);
    EXPECT_EQ(s.cwnd, 10000u);
    s.ssthresh = s.cwnd;
    for (int i = 0; i < 100; ++i) cc_on_ack(s, 1000, static_cast<uint64_t>(i), 0, false);
    EXPECT_EQ(s.cwnd, 10000u);
}

TEST(NewReno, CongestionHalvesFlightWithFloor) {
    cc_state s;
    cc_init(s, cc_algo::newreno, 1000, 10);
    s.cwnd = 80000;
    cc_on_congestion(s, 60000, 0);  // RFC 5681 (4): FlightSize, not cwnd
    EXPECT_EQ(s.ssthresh, 30000u);
    EXPECT_EQ(s.cwnd, 30000u);
    cc_on_congestion(s, 3000, 0);
    EXPECT_EQ(s.ssthresh, 2000u);
    EXPECT_EQ(s.cwnd, 2000u);
}

TEST(NewReno, RtoLossWindowAndHeldSsthresh) {
    cc_state s;
    cc_init(s, cc_algo::newreno, 1000, 10);
    s.cwnd = 40000;
    cc_on_rto(s, 40000, 0);
    EXPECT_EQ(s.cwnd, 1000u);
    EXPECT_EQ(s.ssthresh, 20000u);
    cc_on_rto(s, 1000, 1);  // the same segment timed out again: ssthresh held
    EXPECT_EQ(s.ssthresh, 20000u);
    EXPECT_EQ(s.cwnd, 1000u);
    cc_on_ack(s, 1000, 2, 0, true);  // progress
    cc_on_rto(s, 2000, 3);           // a new loss
    EXPECT_EQ(s.ssthresh, 2000u);    // floor 2*SMSS
    EXPECT_EQ(s.cwnd, 1000u);
}

TEST(NewReno, SlowStartAfterRtoOneSegmentPerAck) {
    cc_state s;
    cc_init(s, cc_algo::newreno, 1000, 10);
    s.cwnd = 40000;
    cc_on_rto(s, 40000, 0);
    cc_on_ack(s, 3000, 1, 0, true);  // RFC 3465 2.3: L = 1*SMSS after an RTO
    EXPECT_EQ(s.cwnd, 2000u);
    cc_on_ack(s, 1000, 2, 0, true);
    EXPECT_EQ(s.cwnd, 3000u);
}

TEST(NewReno, RecoveryExit) {
    cc_state s;
    cc_init(s, cc_algo::newreno, 1460, 10);
    s.ssthresh = 50000;
    cc_on_recovery_exit(s, 10000, 0);  // RFC 6582 3.2 step 3 (1)
    EXPECT_EQ(s.cwnd, 11460u);
    cc_on_recovery_exit(s, 60000, 0);
    EXPECT_EQ(s.cwnd, 50000u);
    cc_on_recovery_exit(s, 0, 0);
    EXPECT_EQ(s.cwnd, 2920u);
}

TEST(Congestion, IdleRestart) {
    for (cc_algo a : {cc_algo::newreno, cc_algo::cubic}) {
        cc_state s;
        cc_init(s, a, 1460, 10);
        s.cwnd = 100000;
        cc_on_idle_restart(s);
        EXPECT_EQ(s.cwnd, 14600u);
        s.cwnd = 5000;
        cc_on_idle_restart(s);
        EXPECT_EQ(s.cwnd, 5000u);  // RW = min(IW, cwnd)
    }
}

TEST(Congestion, WindowCappedNoOverflow) {
    for (cc_algo a : {cc_algo::newreno, cc_algo::cubic}) {
        cc_state s;
        cc_init(s, a, 65000, 10);
        s.cwnd = cc_ssthresh_infinite - 100;
        s.ssthresh = cc_ssthresh_infinite - 50;
        for (int i = 0; i < 100000; ++i) cc_on_ack(s, 65000, static_cast<uint64_t>(i) * 1000000, 1000, true);
        EXPECT_LE(s.cwnd, cc_ssthresh_infinite);
        EXPECT_GE(s.cwnd, cc_ssthresh_infinite - 100);
    }
}

TEST(Cubic, CongestionBetaAndFloor) {
    cc_state s = cubic_after_loss(1000, 100, 0);
    EXPECT_EQ(s.ssthresh, 70000u);  // RFC 9438 4.6
    EXPECT_EQ(s.cwnd, 70000u);
    EXPECT_DOUBLE_EQ(s.w_max_, 100.0);
    cc_state t = cubic_after_loss(1000, 2, 0);
    EXPECT_EQ(t.ssthresh, 2000u);
    EXPECT_EQ(t.cwnd, 2000u);
}

TEST(Cubic, FastConvergence) {
    cc_state s = cubic_after_loss(1000, 100, 0);
    s.cwnd = 80000;  // lost again below W_max
    cc_on_congestion(s, 80000, 1000000);
    EXPECT_DOUBLE_EQ(s.w_max_, 80 * (1 + 0.7) / 2);  // RFC 9438 4.7
    EXPECT_EQ(s.ssthresh, 56000u);
    s.cwnd = 90000;  // above W_max: plain W_max = cwnd
    cc_on_congestion(s, 90000, 2000000);
    EXPECT_DOUBLE_EQ(s.w_max_, 90.0);
}

// Concave up to W_max around t = K, plateau, then convex (RFC 9438 4.4, 4.5).
TEST(Cubic, ConcaveThenConvexAroundK) {
    const uint32_t rtt = 100000;
    cc_state s = cubic_after_loss(1000, 100, 0);
    const double k = std::cbrt(30 / 0.4);  // 4.217 s
    std::vector<double> w{segs(s)};
    uint64_t t = 0;
    for (int r = 0; r < 80; ++r) {
        t = round_trip(s, t, rtt, 1000);
        w.push_back(segs(s));
    }
    EXPECT_NEAR(s.k_, k, 1e-9);
    auto inc = [&](int a, int b) { return (w[static_cast<size_t>(b)] - w[static_cast<size_t>(a)]) / (b - a); };
    // Concave: the increase slows down approaching W_max.
    EXPECT_GT(inc(0, 5), inc(15, 20));
    EXPECT_GT(inc(15, 20), inc(30, 35));
    for (int r = 0; r < 40; ++r) EXPECT_LE(w[static_cast<size_t>(r)], 100.5) << r;
    // At t = K the window is back at W_max.
    EXPECT_NEAR(w[42], 100.0, 1.0);
    // Convex: probing away from W_max speeds up.
    EXPECT_LT(inc(45, 50), inc(55, 60));
    EXPECT_LT(inc(55, 60), inc(70, 75));
    EXPECT_GT(w[80], 120.0);
    // Never more than 1.5x per RTT, never down.
    for (size_t r = 1; r < w.size(); ++r) {
        EXPECT_GE(w[r], w[r - 1]);
        EXPECT_LE(w[r], 1.5 * w[r - 1] + 1e-9);
    }
}

TEST(Cubic, MatchesCubicFunction) {
    // With delayed ACKs and a long RTT, cwnd tracks W_cubic(t) (RFC 9438 4.2 Figure 1) closely.
    const uint32_t rtt = 200000;
    cc_state s = cubic_after_loss(1448, 200, 0);
    uint64_t t = 0;
    for (int r = 0; r < 60; ++r) {
        t = round_trip(s, t, rtt, 2 * 1448);
        double sec = static_cast<double>(t) * 1e-6;
        double want = 0.4 * std::pow(sec - s.k_, 3) + 200;  // aiming one RTT ahead, reached in one RTT
        EXPECT_NEAR(segs(s), want, std::max(1.0, want * 0.01)) << r;
    }
}

TEST(Cubic, RenoFriendlyRegion) {
    // Short RTT, small window: Reno's AIMD(0.53, 0.7) estimate is ahead of the cubic curve (RFC 9438 4.3).
    const uint32_t rtt = 10000;
    cc_state s = cubic_after_loss(1000, 20, 0);
    std::vector<double> w{segs(s)};
    uint64_t t = 0;
    for (int r = 0; r < 40; ++r) {
        t = round_trip(s, t, rtt, 1000);
        w.push_back(segs(s));
    }
    EXPECT_NEAR(w[10], 14 + 10 * cubic_alpha, 0.4);
    // After W_est passed cwnd_prior (20), alpha is 1: Reno's one segment per RTT.
    EXPECT_NEAR((w[40] - w[20]) / 20, 1.0, 0.1);
    EXPECT_GT(s.w_est_, 20.0);
    // Far above what the cubic curve alone would give.
    double sec = static_cast<double>(t) * 1e-6;
    EXPECT_GT(w[40], 0.4 * std::pow(sec + 0.01 - s.k_, 3) + 20 + 10);
}

TEST(Cubic, RtoLossWindowThenConvexFromNewPlateau) {
    cc_state s;
    cc_init(s, cc_algo::cubic, 1000, 10);
    s.cwnd = 100000;
    cc_on_rto(s, 100000, 0);
    EXPECT_EQ(s.cwnd, 1000u);
    EXPECT_EQ(s.ssthresh, 70000u);  // RFC 9438 4.8: beta_cubic
    cc_on_rto(s, 1000, 1000000);
    EXPECT_EQ(s.ssthresh, 70000u);  // held on back-off
    uint64_t t = 2000000;
    while (s.cwnd < 64000) t = round_trip(s, t, 100000, 1000);        // slow start up to 64 segments
    for (int i = 0; i < 6; ++i) cc_on_ack(s, 1000, t, 100000, true);  // reaches ssthresh exactly
    EXPECT_EQ(s.cwnd, 70000u);
    std::vector<double> w{segs(s)};
    for (int r = 0; r < 100; ++r) {
        t = round_trip(s, t, 100000, 1000);
        w.push_back(segs(s));
    }
    EXPECT_DOUBLE_EQ(s.k_, 0.0);
    EXPECT_DOUBLE_EQ(s.w_max_, 70.0);  // W_max = cwnd at the start of congestion avoidance
    // No concave climb back to the old W_max of 100 (K would be 4.2 s and cwnd ~99 at 3 s) ...
    EXPECT_LT(w[30], 92.0);
    EXPECT_GT(w[30], 80.0);
    // ... but convex growth from the new plateau.
    EXPECT_LT(w[25] - w[20], w[95] - w[90]);
}

TEST(Cubic, SlowStartLikeReno) {
    cc_state s;
    cc_init(s, cc_algo::cubic, 1000, 10);
    uint64_t t = 0;
    for (int r = 0; r < 3; ++r) t = round_trip(s, t, 100000, 1000);
    EXPECT_EQ(s.cwnd, 80000u);
}

TEST(Cubic, UnusedWindowFreezesTheClock) {
    const uint32_t rtt = 100000;
    cc_state a = cubic_after_loss(1000, 100, 0);
    cc_state b = a;
    uint64_t ta = 0, tb = 0;
    for (int r = 0; r < 10; ++r) ta = round_trip(a, ta, rtt, 1000), tb = round_trip(b, tb, rtt, 1000);
    // b is application-limited for 20 s: ACKs arrive, the window is not used.
    uint32_t before = b.cwnd;
    for (int i = 0; i < 200; ++i) cc_on_ack(b, 1000, tb += rtt, rtt, false);
    EXPECT_EQ(b.cwnd, before);
    for (int r = 0; r < 10; ++r) ta = round_trip(a, ta, rtt, 1000), tb = round_trip(b, tb, rtt, 1000);
    // No jump: b continues where it stopped, as if the pause had not happened.
    EXPECT_NEAR(segs(b), segs(a), 1.0);
    EXPECT_LT(segs(b), 100.5);
}

TEST(Cubic, RecoveryExitStartsNewEpoch) {
    const uint32_t rtt = 100000;
    cc_state s = cubic_after_loss(1000, 100, 0);
    uint64_t t = round_trip(s, 0, rtt, 1000);
    s.cwnd = 75000;
    cc_on_congestion(s, 75000, t);  // below W_max: fast convergence
    EXPECT_DOUBLE_EQ(s.w_max_, 75 * 0.85);
    cc_on_recovery_exit(s, 100000, t + 500000);
    EXPECT_EQ(s.cwnd, s.ssthresh);
    t = round_trip(s, t + 500000, rtt, 1000);
    EXPECT_NEAR(s.k_, std::cbrt((75 * 0.85 - 52.5) / 0.4), 1e-9);
}

TEST(Cubic, LongGapBoundedByOneAndAHalf) {
    cc_state s = cubic_after_loss(1000, 100, 0);
    cc_on_ack(s, 1000, 1, 100000, true);  // epoch starts
    uint32_t before = s.cwnd;
    cc_on_ack(s, 70000, 100000000, 100000, true);  // 100 s later, a whole window in one ACK
    EXPECT_GT(s.cwnd, before);
    EXPECT_LE(s.cwnd, before + before / 2 + 1);
}

}  // namespace
