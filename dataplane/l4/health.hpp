#pragma once
// Active backend health checks, run on the control lcore: TCP connect (SYN, then SYN-ACK means
// up and is answered with RST) or HTTP GET (the handshake, one request segment, the status line
// of the answer). Probes leave from the address the service reaches the backend with and a
// source port in [probe_port_min, probe_port_max]; workers hand the answers over (punt kind
// probe). Rise/fall thresholds decide the state; a change asks the main loop to rebuild and
// publish the L4 runtime, so a down backend leaves the Maglev table.
//
// Thread contract: main lcore only.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dataplane/l4/l4_runtime.hpp"
#include "policy/config.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace meshgate::dataplane {
class forwarder;
struct tx_batch;
struct runtime;
}  // namespace meshgate::dataplane

namespace meshgate::dataplane::l4 {

class health_checker : public health_view {
public:
    // Round trip of successful checks (TCP: SYN to SYN-ACK; HTTP: SYN to the status line), in
    // fixed buckets: upper bounds in seconds, plus one bucket above the last.
    static constexpr std::array<double, 11> rtt_bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,   0.1,   0.25,   0.5,   1.0};
    struct rtt_histogram {
        std::array<uint64_t, rtt_bounds.size() + 1> buckets{};  // per bucket, not cumulative
        uint64_t count = 0;
        double sum = 0;  // seconds
    };

    health_checker(rte_mempool* pool, uint64_t tsc_hz) noexcept : pool_(pool), hz_(tsc_hz) {}

    // Where probes go out: the control lcore's forwarder and batch (flushed by `flush`).
    void set_output(forwarder* fwd, tx_batch* batch, void (*flush)(void*), void* flush_arg) noexcept {
        fwd_ = fwd;
        batch_ = batch;
        flush_ = flush;
        flush_arg_ = flush_arg;
    }

    // Targets from the config and the runtime built from it (probe sources per backend). State
    // of targets that stay (same service name and backend) is kept.
    void configure(const policy::config& cfg, const l4_runtime& rt, const runtime* routes, uint64_t now);

    // Sends due probes and times out late ones. Returns true when some backend changed state.
    bool poll(uint64_t now) noexcept;
    // An answer to a probe (IP header first); frees it. May change state (see poll).
    void on_packet(rte_mbuf* m, uint64_t now) noexcept;
    bool take_changed() noexcept {
        bool c = changed_;
        changed_ = false;
        return c;
    }

    bool healthy(const std::string& service, const std::string& backend_key) const override;
    // "service backend up|down" lines, for the report and the integration tests.
    std::vector<std::string> describe() const;
    // Calls f(service, backend_key, up, const rtt_histogram&) for every checked backend. A
    // backend's histogram is kept across reconfigurations while it stays (same service name and
    // backend key).
    template <class F>
    void for_each_target(F&& f) const {
        for (const auto& t : targets_) f(t.service, t.key, t.up, t.rtt);
    }

private:
    struct target {
        std::string service;
        std::string key;
        policy::health_check hc;
        uint8_t family = 4;
        uint8_t addr[16] = {};
        uint8_t src[16] = {};
        uint16_t port = 0;
        bool up = true;
        uint32_t successes = 0;
        uint32_t failures = 0;
        uint64_t next = 0;  // TSC of the next probe
        // In flight.
        bool busy = false;
        uint8_t stage = 0;  // 1: SYN sent; 2: HTTP request sent
        uint16_t sport = 0;
        uint32_t isn = 0;
        uint64_t deadline = 0;
        uint64_t started = 0;  // TSC the probe's SYN left
        std::string last_error;
        rtt_histogram rtt;
    };

    void send_segment(target& t, uint32_t seq, uint32_t ack, uint8_t flags, const std::string& payload) noexcept;
    void result(target& t, bool ok, const char* why, uint64_t now) noexcept;
    void record_rtt(target& t, uint64_t now) noexcept;

    rte_mempool* pool_;
    uint64_t hz_;
    const runtime* routes_ = nullptr;
    forwarder* fwd_ = nullptr;
    tx_batch* batch_ = nullptr;
    void (*flush_)(void*) = nullptr;
    void* flush_arg_ = nullptr;
    std::vector<target> targets_;
    uint16_t next_port_ = probe_port_min;
    bool changed_ = false;
};

}  // namespace meshgate::dataplane::l4
