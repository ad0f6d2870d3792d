#include "dataplane/tcp/congestion.hpp"

#include <algorithm>
#include <cmath>

namespace meshgate::dataplane::tcp {

namespace {

uint32_t clamp_window(uint64_t w) noexcept {
    return static_cast<uint32_t>(std::min<uint64_t>(w, cc_ssthresh_infinite));
}

// RFC 6928 2 for the standard 10 segments; otherwise a plain count of segments.
uint32_t initial_window(uint32_t smss, uint32_t segments) noexcept {
    uint64_t mss = smss;
    if (segments == 10) return clamp_window(std::min<uint64_t>(10 * mss, std::max<uint64_t>(2 * mss, 14600)));
    return clamp_window(std::max<uint32_t>(segments, 1) * mss);
}

uint32_t floor_2smss(uint64_t w, uint32_t smss) noexcept {
    return clamp_window(std::max<uint64_t>(w, 2ull * smss));
}

// RFC 9438 4.2 W_cubic(t) = C*(t-K)^3 + W_max, segments.
double w_cubic(const cc_state& s, double t) noexcept {
    double d = t - s.k_;
    return cubic_c * d * d * d + s.w_max_;
}

// RFC 5681 3.1 slow start with RFC 3465 2.2 byte counting (L = 2 SMSS, 1 SMSS after an RTO).
// Returns the bytes left over for congestion avoidance when cwnd reaches ssthresh.
uint32_t slow_start(cc_state& s, uint32_t acked) noexcept {
    uint32_t limit = (s.ss_after_rto_ ? 1u : 2u) * s.smss;
    uint32_t inc = std::min(acked, limit);
    uint32_t room = s.ssthresh - s.cwnd;
    if (inc < room) {
        s.cwnd += inc;
        return 0;
    }
    s.cwnd = s.ssthresh;
    s.ss_after_rto_ = false;
    return acked - room;
}

// RFC 5681 3.1 congestion avoidance, counted in bytes (RFC 3465 2.1): +1 SMSS per cwnd ACKed.
void newreno_ca(cc_state& s, uint32_t acked) noexcept {
    s.bytes_acked_ += acked;
    if (s.bytes_acked_ >= s.cwnd) {
        s.bytes_acked_ -= s.cwnd;
        s.cwnd = clamp_window(uint64_t{s.cwnd} + s.smss);
    }
}

// RFC 9438 4.2-4.5: one ACK in congestion avoidance.
void cubic_ca(cc_state& s, uint32_t acked, uint64_t now_us, uint32_t rtt_us) noexcept {
    const double mss = s.smss;
    const double cwnd = s.cwnd / mss;
    if (!s.epoch_valid_) {
        s.epoch_valid_ = true;
        s.epoch_start_us_ = now_us;
        if (s.rto_epoch_ || s.w_max_ <= cwnd) {
            // RFC 9438 4.8 after an RTO (and 4.2 when cwnd is already beyond W_max): the plateau is here.
            s.w_max_ = cwnd;
            s.k_ = 0;
        } else {
            s.k_ = std::cbrt((s.w_max_ - cwnd) / cubic_c);  // RFC 9438 4.2 Figure 2
        }
        s.rto_epoch_ = false;
        s.w_est_ = cwnd;  // RFC 9438 4.3: W_est = cwnd_epoch
    }
    const double t = static_cast<double>(now_us - s.epoch_start_us_) * 1e-6;
    const double segs = acked / mss;
    // RFC 9438 4.3: alpha_cubic until W_est reaches cwnd_prior, then Reno's 1.
    s.w_est_ += (s.w_est_ >= s.cwnd_prior_ ? 1.0 : cubic_alpha) * segs / cwnd;
    double next;
    if (w_cubic(s, t) < s.w_est_) {
        next = s.w_est_;  // Reno-friendly region (4.3)
    } else {
        // Concave (4.4) and convex (4.5) regions: aim at W_cubic one RTT ahead, within [cwnd, 1.5*cwnd].
        double target = std::clamp(w_cubic(s, t + rtt_us * 1e-6), cwnd, 1.5 * cwnd);
        next = cwnd + (target - cwnd) / cwnd * segs;
    }
    double grow = std::max(next - cwnd, 0.0) * mss + s.frac_;
    double whole = std::floor(grow);
    s.frac_ = grow - whole;
    s.cwnd = clamp_window(s.cwnd + static_cast<uint64_t>(std::min(whole, double{cc_ssthresh_infinite})));
}

}  // namespace

void cc_init(cc_state& s, cc_algo algo, uint32_t smss, uint32_t initial_cwnd_segments) noexcept {
    s = cc_state{};
    s.algo = algo;
    s.smss = std::max<uint32_t>(smss, 1);
    s.iw_segments_ = static_cast<uint8_t>(std::clamp<uint32_t>(initial_cwnd_segments, 1, 255));
    s.cwnd = initial_window(s.smss, s.iw_segments_);
    s.ssthresh = cc_ssthresh_infinite;
}

void cc_set_mss(cc_state& s, uint32_t smss) noexcept {
    if (smss == 0 || smss == s.smss) return;
    uint32_t old = s.smss;
    if (s.cwnd == initial_window(old, s.iw_segments_)) {
        s.cwnd = initial_window(smss, s.iw_segments_);
    } else {
        s.cwnd = clamp_window(uint64_t{std::max(s.cwnd / old, 1u)} * smss);
    }
    if (s.ssthresh != cc_ssthresh_infinite) s.ssthresh = floor_2smss(uint64_t{s.ssthresh / old} * smss, smss);
    s.smss = smss;
    s.bytes_acked_ = 0;
    s.frac_ = 0;
}

void cc_on_ack(cc_state& s, uint32_t acked, uint64_t now_us, uint32_t rtt_us, bool cwnd_limited) noexcept {
    if (acked == 0) return;
    s.rto_backoff_ = false;
    if (!cwnd_limited) {
        // An unused window does not grow (RFC 7661, RFC 9438 5.8); CUBIC's epoch clock stands still.
        if (s.epoch_valid_ && now_us > s.last_ack_us_) s.epoch_start_us_ += now_us - s.last_ack_us_;
        s.last_ack_us_ = now_us;
        return;
    }
    s.last_ack_us_ = now_us;
    if (s.cwnd < s.ssthresh) {
        acked = slow_start(s, acked);
        if (acked == 0) return;
    }
    if (s.algo == cc_algo::newreno) {
        newreno_ca(s, acked);
    } else {
        cubic_ca(s, acked, now_us, rtt_us);
    }
}

void cc_on_congestion(cc_state& s, uint32_t flight, uint64_t /*now_us*/) noexcept {
    if (s.algo == cc_algo::newreno) {
        s.ssthresh = floor_2smss(flight / 2, s.smss);  // RFC 5681 (4)
    } else {
        const double cwnd = static_cast<double>(s.cwnd) / s.smss;
        // RFC 9438 4.7 fast convergence: a window that stopped below the last W_max releases bandwidth.
        s.w_max_ = cwnd < s.w_max_ ? cwnd * (1 + cubic_beta) / 2 : cwnd;
        s.cwnd_prior_ = cwnd;
        s.ssthresh = floor_2smss(static_cast<uint64_t>(s.cwnd * cubic_beta), s.smss);  // RFC 9438 4.6
        s.epoch_valid_ = false;
        s.frac_ = 0;
    }
    s.cwnd = s.ssthresh;
    s.bytes_acked_ = 0;
}

void cc_on_rto(cc_state& s, uint32_t flight, uint64_t /*now_us*/) noexcept {
    // RFC 5681 (4) text: when the timer fires again for a segment it already retransmitted, ssthresh
    // is held (flight is small by then and would collapse it).
    if (!s.rto_backoff_) {
        if (s.algo == cc_algo::newreno) {
            s.ssthresh = floor_2smss(flight / 2, s.smss);
        } else {
            // RFC 9438 4.8: ssthresh as in 4.6; W_max and K are set when congestion avoidance resumes.
            s.cwnd_prior_ = static_cast<double>(s.cwnd) / s.smss;
            s.ssthresh = floor_2smss(static_cast<uint64_t>(s.cwnd * cubic_beta), s.smss);
        }
    }
    s.cwnd = s.smss;  // loss window (RFC 5681 3.1)
    s.rto_backoff_ = true;
    s.ss_after_rto_ = true;
    s.bytes_acked_ = 0;
    s.epoch_valid_ = false;
    s.rto_epoch_ = true;
    s.frac_ = 0;
}

void cc_on_recovery_exit(cc_state& s, uint32_t flight, uint64_t /*now_us*/) noexcept {
    s.cwnd = std::min(s.ssthresh, clamp_window(uint64_t{std::max(flight, s.smss)} + s.smss));
    s.bytes_acked_ = 0;
    s.epoch_valid_ = false;  // RFC 9438 4.2: t counts from the start of congestion avoidance
    s.frac_ = 0;
}

void cc_on_idle_restart(cc_state& s) noexcept {
    s.cwnd = std::min(s.cwnd, initial_window(s.smss, s.iw_segments_));  // RW = min(IW, cwnd)
    s.bytes_acked_ = 0;
    s.epoch_valid_ = false;
    s.frac_ = 0;
}

const char* cc_name(cc_algo a) noexcept {
    switch (a) {
        case cc_algo::cubic:
            return "cubic";
        case cc_algo::newreno:
            return "newreno";
    }
    return "unknown";
}

}  // namespace meshgate::dataplane::tcp
