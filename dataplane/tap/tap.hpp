#pragma once
// Packet taps: named captures from the config. A tap has a pcap-filter expression (run as eBPF on
// the workers), the interfaces and direction it watches, a snap length and packet/byte rate
// limits; its copies go to rotating pcapng files and/or, live, to a collector in ERSPAN type II.
//
// Worker side (tap_worker, hot path): right after rx_burst and just before tx_burst, for each
// running tap watching the port and direction, the filter runs over the burst; matches pass the
// worker's token buckets (each worker gets rate/workers), are copied (truncated to the snap
// length) into the tap mempool and enqueued to the worker's bounded SP/SC ring. Ring full, pool
// empty or rate limit: freed and counted per core per tap, never waited for. With no tap running
// the cost is one pointer load and a branch per burst.
//
// Main lcore (manager): compiles the taps of a config (build), publishes the running ones to the
// workers as an immutable set (atomic pointer; the old set is freed after rte_rcu_qsbr says every
// worker passed a quiescent point), drains the rings, writes pcapng (rte_pcapng) and sends the
// mirror copies through the control lcore's forwarder. Other non-worker threads (DPDK telemetry,
// HTTP) reach it through call(), which runs a job on the main lcore.
#include <rte_mbuf.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/mailbox.hpp"
#include "dataplane/tap/filter.hpp"
#include "dataplane/tap/pcapng_file.hpp"
#include "policy/config.hpp"
#include "policy/result.hpp"

struct rte_mempool;
struct rte_ring;
struct rte_rcu_qsbr;

namespace meshgate::dataplane {
class forwarder;
struct tx_batch;
struct runtime;
struct next_hop;
}  // namespace meshgate::dataplane

namespace meshgate::dataplane::tap {

inline constexpr unsigned max_taps = 64;  // policy/config.cpp accepts at most 64
inline constexpr uint8_t dir_rx = 1;      // = policy::tap_settings::dir::rx
inline constexpr uint8_t dir_tx = 2;
inline constexpr unsigned copy_burst = 64;  // copies a worker collects before one ring enqueue

// ---- compiled config ------------------------------------------------------------------------

// One tap of a config, compiled. Immutable; shared by the manager and the published sets.
struct tap_def {
    policy::tap_settings cfg;
    std::shared_ptr<const filter> flt;  // nullptr: every packet
    uint64_t ports = 0;                 // bit per DPDK port watched
    std::vector<std::string> interfaces;
    // Mirror (cfg.mirror_collector set): where copies leave and from which address.
    const next_hop* mirror_nh = nullptr;  // the route to the collector (the runtime outlives it)
    uint8_t mirror_src[16] = {};
    uint8_t mirror_dst[16] = {};
};

struct compiled_taps {
    std::vector<std::shared_ptr<const tap_def>> taps;  // config order
};

// Main lcore (needs EAL for the eBPF programs): compiles every tap of `cfg`; `rt` maps interfaces
// to ports and routes the mirror collectors. Errors name the field, e.g.
// `taps[1].filter: "tcp prot 80": syntax error` or `taps[0].mirror.collector: 10.0.0.1 has no route`.
// Interfaces are watched by port: a tap on a VLAN interface also sees the port's other VLANs
// (add "vlan 7" to the filter to tell them apart).
// Also creates missing tap directories. Nothing is applied: hand the result to manager::apply.
result<compiled_taps> build(const policy::config& cfg, const runtime& rt);

// ---- worker side ----------------------------------------------------------------------------

// A running tap as the workers see it.
struct active_tap {
    uint16_t slot = 0;                 // per-core counters and buckets index
    uint32_t epoch = 0;                // changes with the tap's settings: the buckets start full again
    uint8_t dirs = 0;                  // dir_rx | dir_tx
    uint64_t ports = 0;                // bit per DPDK port
    const filter* flt = nullptr;       // nullptr: every packet
    uint64_t (*jit)(void*) = nullptr;  // flt's native code, when it has some
    uint32_t snap = 0;                 // bytes copied at most
    double pkt_rate = 0;               // tokens per TSC cycle for this worker; 0: unlimited
    double pkt_burst = 0;              // bucket size in packets
    double byte_rate = 0;              // bytes per TSC cycle for this worker; 0: unlimited
    double byte_burst = 0;             // bucket size in bytes
};

// What the workers load once per burst: the running taps. Immutable once published.
struct tap_set {
    uint64_t ports[3] = {};  // [dir_rx], [dir_tx]: union of the taps' ports (quick reject)
    unsigned n = 0;
    active_tap taps[max_taps];
    std::vector<std::shared_ptr<const tap_def>> keep;  // keeps the filters alive
};

// Per core per tap; written by its worker only (count()), read relaxed by the main lcore.
struct slot_counters {
    uint64_t matched;             // passed the filter
    uint64_t captured;            // copied and enqueued
    uint64_t dropped_rate_limit;  // over the tap's packet or byte rate
    uint64_t dropped_ring_full;   // the ring to the main lcore was full
    uint64_t dropped_no_buffer;   // the tap mempool was empty
};

// Carried in a copy's private area (tap mempool), from the worker to the main lcore.
struct copy_meta {
    uint64_t tsc;       // when it was seen
    uint32_t orig_len;  // bytes on the wire (the copy may be truncated)
    uint16_t slot;
    uint16_t port;
    uint16_t queue;
    uint8_t dir;
};

class tap_worker {
public:
    // Thread contract: built by the manager on the main lcore; capture() and active() on its
    // worker lcore only.
    tap_worker(const std::atomic<const tap_set*>* pub, rte_ring* ring, rte_mempool* pool,
               const rte_mempool* skip_pool) noexcept
        : pub_(pub), ring_(ring), pool_(pool), skip_pool_(skip_pool) {}

    // The running taps, or nullptr (then the worker does nothing more). One acquire load.
    const tap_set* active() const noexcept { return pub_->load(std::memory_order_acquire); }

    // Copies the matches of `pkts` (Ethernet frames as received on, or about to be sent from,
    // (port, queue)) for every tap of `s` watching that port and direction. The packets are not
    // touched. Any n (TX batches are larger than a burst).
    void capture(const tap_set& s, uint16_t port, uint16_t queue, rte_mbuf* const* pkts, uint16_t n,
                 uint8_t dir) noexcept;

    const slot_counters& counters(unsigned slot) const noexcept { return ctr_[slot]; }
    rte_ring* ring() const noexcept { return ring_; }

private:
    struct bucket {
        double pkts;     // tokens (packets)
        double bytes;    // tokens (bytes); may go below zero by one packet
        uint64_t last;   // TSC of the last refill
        uint32_t epoch;  // active_tap::epoch it was filled for; another one: start full
    };
    // Copies taken during one capture() call, enqueued at its end (or when full).
    struct pending {
        rte_mbuf* copies[copy_burst];
        uint16_t slots[copy_burst];
        unsigned n = 0;
        uint64_t now = 0;  // TSC, read at the first match
        uint16_t port = 0, queue = 0;
        uint8_t dir = 0;
    };
    // A match: counted, policed, copied into `p`. Out of line: the loop over non-matching
    // packets stays small.
    [[gnu::noinline]] void take(const active_tap& t, rte_mbuf* m, pending& p) noexcept;
    bool admit(const active_tap& t, uint32_t len, uint64_t now) noexcept;
    void enqueue(rte_mbuf** copies, const uint16_t* slots, unsigned n) noexcept;

    const std::atomic<const tap_set*>* pub_;  // the manager's published set
    rte_ring* ring_;                          // copies to the main lcore (SP/SC)
    rte_mempool* pool_;                       // where copies come from
    const rte_mempool* skip_pool_;            // mirror packets this process sends: never tapped
    slot_counters ctr_[max_taps] = {};
    bucket buckets_[max_taps] = {};
};

// ---- main lcore -----------------------------------------------------------------------------

// One tap's figures (the Prometheus rows; names as telemetry/METRICS.md).
struct tap_stats {
    std::string name;
    bool running = false;
    uint64_t matched = 0, captured = 0;
    uint64_t dropped_rate_limit = 0, dropped_ring_full = 0, dropped_no_buffer = 0;
    uint64_t written_bytes = 0;   // pcapng bytes written (headers included)
    uint64_t files = 0;           // pcapng files on disk
    uint64_t mirrored = 0;        // ERSPAN copies handed to the forwarder
    uint64_t mirror_dropped = 0;  // no mirror buffer, or the copy could not be sent
    uint64_t write_errors = 0;    // failed file writes (packets lost)
};

// stats plus what the tap is, for listings (/meshgate/taps).
struct tap_description {
    tap_stats stats;
    std::string filter;
    std::string direction;  // "rx", "tx", "both"
    std::vector<std::string> interfaces;
    uint32_t snap_length = 0;  // effective (at most the largest frame)
    bool jit = false;          // the filter runs as native code
    std::string directory;
    std::string collector;  // "" without mirroring
    uint16_t session_id = 0;
};

struct tap_file_info {
    std::string name;  // base name
    uint64_t bytes = 0;
};

struct manager_params {
    unsigned n_workers = 1;
    uint64_t tsc_hz = 0;
    rte_rcu_qsbr* qsbr = nullptr;  // the workers' (they report quiescent points)
    const runtime* rt = nullptr;   // mirror routes and source addresses
    uint32_t max_frame = 1522;     // largest frame a port sees: copies are truncated to it
    unsigned copies = 8191;        // tap mempool (copies in flight)
    unsigned ring_size = 2048;     // per worker
    unsigned mirror_buffers = 2047;
    std::string name = "mg_tap";  // prefix of the DPDK object names (unique per process)
};

class manager {
public:
    // Main lcore, after EAL init and before the workers start.
    static result<std::unique_ptr<manager>> create(const manager_params& p);
    ~manager();
    manager(const manager&) = delete;
    manager& operator=(const manager&) = delete;

    // Worker `id`'s side (0..n_workers-1); lives as long as the manager.
    tap_worker* worker(unsigned id) noexcept { return workers_[id].get(); }
    // Mirror packets come from this pool (the workers skip them, so a tap never sees its own
    // or another tap's mirror copies).
    const rte_mempool* mirror_pool() const noexcept { return mirror_pool_; }

    // Where mirror copies go out: the control lcore's forwarder and batch, flushed by `flush`
    // (as the health checker's probes). Without it mirror copies are counted as dropped.
    void set_output(forwarder* fwd, tx_batch* batch, void (*flush)(void*), void* flush_arg) noexcept;
    // Log lines ("tap web: ..."); default: stdout with the "meshgate-dataplane: " prefix.
    void set_logger(std::function<void(const std::string&)> log) { log_ = std::move(log); }

    // Main lcore. Installs the taps of a (re)loaded config: taps that keep their name keep their
    // counters, files and running state (unless their `start` changed); removed taps stop and
    // close their file; new taps run if `start`. Never fails (build() did the checking).
    void apply(compiled_taps next);

    // Main lcore, every loop iteration: drains the rings (bounded work), writes files, sends
    // mirror copies, runs jobs posted with call(). Returns packets handled.
    unsigned poll();
    // Main lcore, after the workers stopped: drains everything and closes the files.
    void shutdown();

    // Main lcore: start/stop by name. Errors: no such tap, or already in that state.
    result<bool> start(const std::string& name);
    result<bool> stop(const std::string& name);
    // Main lcore.
    std::vector<tap_stats> stats() const;
    std::vector<tap_description> describe() const;
    result<std::vector<tap_file_info>> files(const std::string& tap) const;
    // Main lcore: the full path of one of the tap's own files, for a download. Only names the
    // tap wrote (or adopted) and still keeps are resolved; anything else is an error.
    result<std::string> resolve_file(const std::string& tap, const std::string& file) const;

    // Any non-worker thread except the main lcore (which would wait for itself until the
    // timeout): runs `job` on the main lcore at its next poll() and waits. False if it was not
    // taken within `timeout` (then it never runs).
    bool call(const std::function<void()>& job, std::chrono::milliseconds timeout = std::chrono::seconds(2));

    // Registers /meshgate/taps, /meshgate/tap_start, /meshgate/tap_stop, /meshgate/tap_files and
    // /meshgate/tap_file (one manager per process). Main lcore.
    void register_telemetry();

private:
    void unregister_telemetry() noexcept;  // the commands answer "no taps" afterwards
    struct tap_state {
        std::shared_ptr<const tap_def> def;
        uint16_t slot = 0;
        uint32_t epoch = 0;  // new for a new tap and for new settings of one (reload)
        bool running = false;
        slot_counters base{};  // worker counters when this tap got the slot
        std::unique_ptr<pcapng_files> out;
        std::vector<rte_mbuf*> pending;  // formatted, not yet written
        uint64_t mirrored = 0, mirror_dropped = 0, write_errors = 0;
        uint64_t written = 0;  // pcapng bytes, all files of this tap
        uint32_t gre_seq = 0;
        uint16_t ip_id = 0;
        bool logged_error = false;
    };

    explicit manager(const manager_params& p) : p_(p) {}
    void publish();
    unsigned drain(unsigned max_per_ring);
    void handle(rte_mbuf* copy);
    void mirror(tap_state& t, const rte_mbuf* copy, const copy_meta& meta) noexcept;
    void flush_mirrors() noexcept;
    void write_pending(tap_state& t);
    void write_all_pending();
    void run_calls();
    void log(const std::string& line) const;
    slot_counters sum(unsigned slot) const noexcept;
    uint64_t tsc_to_ns(uint64_t tsc) const noexcept;
    tap_state* find(const std::string& name) noexcept;
    const tap_state* find(const std::string& name) const noexcept;
    void set_writer(tap_state& t);

    manager_params p_;
    uint64_t tsc0_ = 0;  // a TSC reading and the wall clock (ns since the epoch) at that moment
    uint64_t ns0_ = 0;
    rte_mempool* copy_pool_ = nullptr;
    rte_mempool* fmt_pool_ = nullptr;     // rte_pcapng_copy's output
    rte_mempool* mirror_pool_ = nullptr;  // ERSPAN packets
    std::vector<rte_ring*> rings_;
    std::vector<std::unique_ptr<tap_worker>> workers_;
    std::atomic<const tap_set*> pub_{nullptr};
    std::array<std::unique_ptr<tap_state>, max_taps> slots_;
    std::vector<tap_state*> order_;  // config order, for listings
    forwarder* fwd_ = nullptr;
    tx_batch* batch_ = nullptr;
    void (*flush_)(void*) = nullptr;
    void* flush_arg_ = nullptr;
    unsigned mirror_queued_ = 0;  // in the control lcore's batch since the last flush
    uint32_t epochs_ = 0;         // last tap_state::epoch given
    std::function<void(const std::string&)> log_;

    main_mailbox mailbox_;  // call(): jobs from other threads, run by poll() on the main lcore
};

}  // namespace meshgate::dataplane::tap
