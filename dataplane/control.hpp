#pragma once
// The control lcore's packet work: ARP (RFC 826) and IPv6 neighbor discovery (RFC 4861)
// answers, next-hop resolution with bounded hold queues, retries and expiry. Workers punt ARP,
// NS/NA and packets whose next hop has no MAC yet through per-worker rings; what the control
// lcore sends goes back through worker 0's inject ring, so only workers touch TX queues.
//
// Thread contract: every method runs on the main lcore only.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/neighbor.hpp"
#include "dataplane/runtime.hpp"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

namespace meshgate::dataplane {

class forwarder;
struct tx_batch;

class control_plane {
public:
    control_plane(const runtime* rt, neighbor_table* neighbors, rte_mempool* pool, core_counters* counters,
                  uint64_t tsc_hz, neighbor_timers timers) noexcept;

    // Switches to another runtime with the same interfaces (a route change). Only its interfaces
    // are read here; the neighbor table stays the same.
    void set_runtime(const runtime* rt) noexcept { rt_ = rt; }

    // Each worker's punt ring (worker -> control) and inject ring (control -> worker).
    void add_worker(rte_ring* punt, rte_ring* inject) { workers_.push_back({punt, inject}); }
    // The control lcore's own forwarder, for the ICMP errors it originates (host unreachable when
    // resolution fails): its output batch, and the ring it punts to (drained here like a worker's).
    void set_error_path(forwarder* fwd, tx_batch* batch, rte_ring* self_punt) noexcept {
        err_fwd_ = fwd;
        err_batch_ = batch;
        self_punt_ = self_punt;
    }
    // Who takes health probes' answers (punt kind probe); it frees them.
    void set_probe_handler(void (*handler)(void*, rte_mbuf*, uint64_t), void* arg) noexcept {
        probe_handler_ = handler;
        probe_arg_ = arg;
    }
    // Sends what was queued on the error path's batch (probes originated on this lcore).
    void flush_originated() noexcept { send_batch(); }
    // Static neighbors from the config become permanent entries.
    result<bool> install_static_neighbors(const policy::config& cfg);
    // Drains the punt rings and runs due timers. Returns the number of packets handled.
    unsigned poll(uint64_t now) noexcept;
    // One line per neighbor entry in use (for SIGUSR1 and telemetry).
    std::vector<std::string> describe_neighbors() const;
    // Entries by state (index: neighbor_state), for the metrics. Main lcore.
    std::array<uint32_t, 6> count_neighbors() const;

    static neighbor_timers default_timers(uint64_t tsc_hz) noexcept { return {tsc_hz, tsc_hz * 30, 3}; }

private:
    struct worker_rings {
        rte_ring* punt;
        rte_ring* inject;
    };

    void handle(rte_mbuf* m, uint64_t now) noexcept;
    void handle_arp(rte_mbuf* m, uint16_t ifindex, uint64_t now) noexcept;
    void handle_nd(rte_mbuf* m, uint16_t ifindex, uint64_t now) noexcept;
    void handle_resolve(rte_mbuf* m, uint64_t now) noexcept;
    // A neighbor's MAC was seen; `create` adds an entry that did not exist.
    void confirm(const neighbor_key& key, const rte_ether_addr& mac, bool create, uint64_t now,
                 neighbor_state st = neighbor_state::reachable) noexcept;
    void advert(const neighbor_key& key, const uint8_t* tlla, bool solicited, bool override_flag,
                uint64_t now) noexcept;
    void solicit(uint32_t slot, bool unicast) noexcept;
    void release_held(uint32_t slot) noexcept;
    void drop_held(uint32_t slot, uint64_t now) noexcept;
    void send_batch() noexcept;
    void run_timers(uint64_t now) noexcept;
    void send(rte_mbuf* m) noexcept;
    void drop(uint16_t port, rte_mbuf* m, drop_reason r) noexcept;

    const runtime* rt_;
    neighbor_table* nt_;
    rte_mempool* pool_;
    core_counters* ctr_;
    neighbor_timers timers_;
    uint64_t timer_step_;  // how often the neighbor timers are scanned
    uint64_t next_scan_ = 0;
    std::vector<worker_rings> workers_;
    uint32_t held_total_ = 0;  // packets held across all neighbors
    uint32_t held_limit_;      // an eighth of the mbuf pool
    forwarder* err_fwd_ = nullptr;
    tx_batch* err_batch_ = nullptr;
    rte_ring* self_punt_ = nullptr;
    void (*probe_handler_)(void*, rte_mbuf*, uint64_t) = nullptr;
    void* probe_arg_ = nullptr;
};

}  // namespace meshgate::dataplane
