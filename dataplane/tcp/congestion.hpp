#pragma once
// Congestion control for the TCP stack: NewReno (RFC 5681, RFC 6582, with RFC 3465 byte counting)
// and CUBIC (RFC 9438). The window is exposed in bytes; CUBIC computes in segments internally.
// Loss recovery itself (dupacks, SACK, window inflation) belongs to the caller: these functions
// only set cwnd and ssthresh at the events the caller reports.
//
// Thread contract: a cc_state is part of a connection and used only by its worker lcore. Per-ACK
// cost: a few integer operations (NewReno) or one cbrt-free cubic evaluation (CUBIC). No
// allocation, no exceptions.
#include <cstdint>

#include "dataplane/tcp/tcp_stack.hpp"

namespace meshgate::dataplane::tcp {

struct cc_state {
    cc_algo algo = cc_algo::cubic;
    uint32_t smss = 536;
    uint32_t cwnd = 0;      // bytes
    uint32_t ssthresh = 0;  // bytes; initially "arbitrarily high" (RFC 5681 3.1)

    // Private to congestion.cpp.
    uint32_t bytes_acked_ = 0;     // RFC 3465 2.1: bytes ACKed in congestion avoidance since the last increase
    uint8_t iw_segments_ = 10;     // cc_init's initial window, for the restart window (RFC 5681 4.1)
    bool rto_backoff_ = false;     // an RTO fired and no new data was ACKed since (RFC 5681 (4) text)
    bool ss_after_rto_ = false;    // slow start after an RTO: ABC limit L = 1 SMSS (RFC 3465 2.3)
    bool epoch_valid_ = false;     // CUBIC: a congestion avoidance epoch is running
    bool rto_epoch_ = false;       // CUBIC: the next epoch follows an RTO: K = 0, W_max = cwnd (RFC 9438 4.8)
    uint64_t epoch_start_us_ = 0;  // CUBIC: start of the epoch (shifted by periods not cwnd-limited)
    uint64_t last_ack_us_ = 0;     // CUBIC: time of the previous cc_on_ack
    double w_max_ = 0;             // CUBIC: W_max, segments (RFC 9438 4.2)
    double k_ = 0;                 // CUBIC: K, seconds
    double w_est_ = 0;             // CUBIC: Reno-friendly estimate W_est, segments (RFC 9438 4.3)
    double cwnd_prior_ = 0;        // CUBIC: cwnd before the last reduction, segments (RFC 9438 4.6)
    double frac_ = 0;              // CUBIC: growth below one byte, carried to the next ACK
};

inline constexpr uint32_t cc_ssthresh_infinite = UINT32_MAX / 2;                // also the cap of cwnd
inline constexpr double cubic_c = 0.4;                                          // RFC 9438 4.1
inline constexpr double cubic_beta = 0.7;                                       // RFC 9438 4.6
inline constexpr double cubic_alpha = 3 * (1 - cubic_beta) / (1 + cubic_beta);  // RFC 9438 4.3

// IW = min(10*smss, max(2*smss, 14600)) (RFC 6928 2) when initial_cwnd_segments is 10, else
// initial_cwnd_segments * smss (at least one segment).
void cc_init(cc_state& s, cc_algo algo, uint32_t smss, uint32_t initial_cwnd_segments) noexcept;
// After the handshake fixed the MSS: an untouched initial window is recomputed for the new SMSS,
// any other window keeps its size in segments.
void cc_set_mss(cc_state& s, uint32_t smss) noexcept;
// New data cumulatively ACKed, not in loss recovery: `acked` bytes at now_us; rtt_us is the
// smoothed RTT (0 = unknown); cwnd_limited says whether the sender was limited by cwnd (RFC 7661
// spirit: an unused window does not grow, and CUBIC's clock stands still meanwhile).
void cc_on_ack(cc_state& s, uint32_t acked, uint64_t now_us, uint32_t rtt_us, bool cwnd_limited) noexcept;
// Entering fast recovery (RFC 5681 3.2 step 2, RFC 6582 3.2, RFC 6675 5): NewReno ssthresh =
// max(flight/2, 2*smss); CUBIC ssthresh = max(cwnd*beta, 2*smss) with fast convergence on W_max
// (RFC 9438 4.6, 4.7). cwnd = ssthresh; any inflation is the caller's.
void cc_on_congestion(cc_state& s, uint32_t flight, uint64_t now_us) noexcept;
// RTO expiry (RFC 5681 3.1 and (4); RFC 9438 4.8): ssthresh as above (held when the timer fires
// again before new data is ACKed), cwnd = 1 SMSS (loss window).
void cc_on_rto(cc_state& s, uint32_t flight, uint64_t now_us) noexcept;
// Leaving recovery at a full ACK (RFC 6582 3.2 step 3 option 1): cwnd = min(ssthresh, max(flight,
// smss) + smss).
void cc_on_recovery_exit(cc_state& s, uint32_t flight, uint64_t now_us) noexcept;
// RFC 5681 4.1 restart after an idle period longer than the RTO: cwnd = min(cwnd, IW).
void cc_on_idle_restart(cc_state& s) noexcept;
const char* cc_name(cc_algo a) noexcept;

}  // namespace meshgate::dataplane::tcp
