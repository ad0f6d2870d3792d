// meshgate-dataplane: EAL, ports, workers and the control loop.
//
//   meshgate-dataplane [EAL args] -- --config FILE [--check] [--duration SEC] [--mgmt-socket PATH]
//
// --mgmt-socket PATH: serve the mgmtd link (policy/proto/meshgate/config/v1/push.proto) on a
// unix socket at PATH (mode 0660); SIGHUP still re-reads --config.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pdump.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/control.hpp"
#include "dataplane/forwarder.hpp"
#include "dataplane/http_api.hpp"
#include "dataplane/l4/health.hpp"
#include "dataplane/l4/l4_runtime.hpp"
#include "dataplane/l4/l4_worker.hpp"
#include "dataplane/mailbox.hpp"
#include "dataplane/metrics.hpp"
#include "dataplane/mgmt_link.hpp"
#include "dataplane/neighbor.hpp"
#include "dataplane/oper_state.hpp"
#include "dataplane/reaper.hpp"
#include "dataplane/runtime.hpp"
#include "dataplane/stats.hpp"
#include "dataplane/tap/tap.hpp"
#include "dataplane/tcp/tcp_proxy.hpp"
#include "dataplane/wire.hpp"
#include "policy/config.hpp"
#include "policy/push.hpp"
#include "telemetry/http_server.hpp"
#include "telemetry/log.hpp"

namespace meshgate::dataplane {
namespace {

namespace tl = telemetry;
using tl::level;

std::atomic<bool> g_stop{false};
std::atomic<bool> g_report{false};
std::atomic<bool> g_reload{false};

void on_signal(int sig) {
    if (sig == SIGUSR1) {
        g_report.store(true);
    } else if (sig == SIGHUP) {
        g_reload.store(true);
    } else {
        g_stop.store(true);
    }
}

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "meshgate-dataplane: %s\n", msg.c_str());
    std::fflush(stderr);
    std::exit(1);
}

struct options {
    std::string config;
    bool check = false;
    double duration = 0;
    std::string mgmt_socket;  // empty: no mgmtd link
};

options parse_options(int argc, char** argv) {
    options o;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        auto need = [&](const char* what) -> std::string {
            if (i + 1 >= argc) die(std::string(what) + " needs a value");
            return argv[++i];
        };
        if (a == "--config") {
            o.config = need("--config");
        } else if (a == "--mgmt-socket") {
            o.mgmt_socket = need("--mgmt-socket");
            if (o.mgmt_socket.empty()) die("--mgmt-socket: the path is empty");
        } else if (a == "--check") {
            o.check = true;
        } else if (a == "--duration") {
            char* end = nullptr;
            auto v = need("--duration");
            o.duration = std::strtod(v.c_str(), &end);
            if (end == v.c_str() || *end != '\0' || o.duration <= 0)
                die("--duration: \"" + v + "\" is not a positive number of seconds");
        } else if (a == "--help" || a == "-h") {
            std::printf(
                "usage: meshgate-dataplane [EAL args] -- --config FILE [--check] [--duration SEC] "
                "[--mgmt-socket PATH]\n");
            std::exit(0);
        } else {
            die("unknown option \"" + a + "\" (see --help)");
        }
    }
    if (o.config.empty()) die("--config FILE is required (after the EAL arguments and --)");
    return o;
}

struct worker_ctx {
    unsigned id = 0;  // 0..n_workers-1, also the TX queue index and RCU thread id
    unsigned lcore = 0;
    std::vector<std::pair<uint16_t, uint16_t>> rx;  // (port, queue) this worker polls
    forwarder* fwd = nullptr;
    tx_batch* batch = nullptr;
    rte_ring* inject = nullptr;
    rte_ring* handoff = nullptr;  // packets of sessions this worker owns, from other workers
    core_counters* ctr = nullptr;
    rte_rcu_qsbr* qsbr = nullptr;
    tap::tap_worker* taps = nullptr;  // packet taps: copies of matches to the main lcore
    tcp::tcp_proxy* proxy = nullptr;  // TCP stack and tcp-proxy of this worker
};

void flush(worker_ctx& w) noexcept {
    tx_batch& b = *w.batch;
    const tap::tap_set* taps = w.taps->active();  // nullptr unless a tap runs
    for (uint16_t i = 0; i < b.n_used; ++i) {
        uint16_t port = b.used[i];
        uint16_t n = b.count[port];
        rte_mbuf** pkts = b.pkts[port];
        if (taps != nullptr) [[unlikely]]
            w.taps->capture(*taps, port, static_cast<uint16_t>(w.id), pkts, n, tap::dir_tx);
        uint64_t bytes = 0;
        for (uint16_t k = 0; k < n; ++k) bytes += pkts[k]->pkt_len;
        uint16_t sent = rte_eth_tx_burst(port, static_cast<uint16_t>(w.id), pkts, n);
        if (sent < n) {
            for (uint16_t k = sent; k < n; ++k) {
                bytes -= pkts[k]->pkt_len;
                rte_pktmbuf_free(pkts[k]);
            }
            count(w.ctr->ports[port].drops[static_cast<unsigned>(drop_reason::tx_full)], n - sent);
        }
        count(w.ctr->ports[port].tx_packets, sent);
        count(w.ctr->ports[port].tx_bytes, bytes);
    }
    b.clear();
}

int worker_main(void* arg) {
    auto& w = *static_cast<worker_ctx*>(arg);
    rte_rcu_qsbr_thread_register(w.qsbr, w.id);
    rte_rcu_qsbr_thread_online(w.qsbr, w.id);
    rte_mbuf* pkts[burst_size];
    while (!g_stop.load(std::memory_order_relaxed)) {
        rte_rcu_qsbr_quiescent(w.qsbr, w.id);
        uint64_t now = rte_rdtsc();
        w.fwd->poll(now);
        bool busy = false;
        const tap::tap_set* taps = w.taps->active();  // nullptr unless a tap runs
        for (auto [port, q] : w.rx) {
            uint16_t n = rte_eth_rx_burst(port, q, pkts, burst_size);
            if (n == 0) continue;
            // Before processing: the forwarder rewrites the packets in place.
            if (taps != nullptr) [[unlikely]]
                w.taps->capture(*taps, port, q, pkts, n, tap::dir_rx);
            w.fwd->process(port, pkts, n, now, *w.batch);
            busy = true;
        }
        unsigned n = rte_ring_sc_dequeue_burst(w.inject, reinterpret_cast<void**>(pkts), burst_size, nullptr);
        if (n != 0) {
            w.fwd->enqueue_injected(pkts, static_cast<uint16_t>(n), *w.batch);
            busy = true;
        }
        n = rte_ring_sc_dequeue_burst(w.handoff, reinterpret_cast<void**>(pkts), burst_size, nullptr);
        if (n != 0) {
            w.fwd->process_handoff(pkts, static_cast<uint16_t>(n), now, *w.batch);
            busy = true;
        }
        busy |= w.fwd->service_tcp(now, *w.batch);
        if (busy) flush(w);
    }
    rte_rcu_qsbr_thread_offline(w.qsbr, w.id);
    rte_rcu_qsbr_thread_unregister(w.qsbr, w.id);
    return 0;
}

// Flows that "log" firewall rules let in, as one line each (at most 64 per call).
void print_acl_log(rte_ring* ring, const policy::config& cfg) {
    l4::acl_log_record recs[64];
    unsigned n = rte_ring_sc_dequeue_burst_elem(ring, recs, sizeof(l4::acl_log_record), 64, nullptr);
    for (unsigned i = 0; i < n; ++i) {
        const auto& r = recs[i];
        auto addr = [&](const uint8_t* a) {
            if (r.k.family == 4) return to_string(ipv4_addr{wire::rd32(a)});
            ipv6_addr v6;
            std::memcpy(v6.bytes.data(), a, 16);
            std::string out(1, '[');
            out += to_string(v6);
            out += ']';
            return out;
        };
        const char* rule = r.rule < cfg.fw.rules.size() ? cfg.fw.rules[r.rule].name.c_str() : "?";
        const char* ifname = r.ifindex < cfg.interfaces.size() ? cfg.interfaces[r.ifindex].name.c_str() : "?";
        std::string src = addr(r.k.src), dst = addr(r.k.dst);
        char msg[320];
        std::snprintf(msg, sizeof msg, "acl: rule %u (%s) log: proto %u %s:%u -> %s:%u in %s", r.rule, rule, r.k.proto,
                      src.c_str(), r.k.sport, dst.c_str(), r.k.dport, ifname);
        tl::log_limited("acl.log", 1000, 1.0, level::info, "acl.log", msg,
                        {{"rule", std::string(rule)},
                         {"protocol", uint64_t{r.k.proto}},
                         {"source", src},
                         {"source_port", uint64_t{r.k.sport}},
                         {"destination", dst},
                         {"destination_port", uint64_t{r.k.dport}},
                         {"interface", std::string(ifname)}});
    }
}

std::string l4_name(uint64_t generation) {
    static uint64_t builds = 0;
    // rte_acl context names are short: keep this under 26 characters.
    return "mg_l4_" + std::to_string(generation % 1000000) + "_" + std::to_string(++builds % 1000000);
}

// rte_lpm/rte_lpm6 names of a rebuilt route table (unique per process; "4"/"6" is appended).
std::string routes_name() {
    static uint64_t builds = 0;
    return "mg_rt_" + std::to_string(++builds) + "_";
}

// Replaced tables are freed off the main lcore (dataplane/reaper.hpp).
reaper& table_reaper() {
    static reaper r;
    return r;
}

// Publishes a new L4 runtime; the old one is freed once every worker has passed a quiescent
// point (they pass one between bursts, so none holds it after that).
void publish_l4(published_tables& pub, std::unique_ptr<l4::l4_runtime> next, rte_rcu_qsbr* qsbr) {
    const l4::l4_runtime* old = pub.l4.exchange(next.release(), std::memory_order_acq_rel);
    rte_rcu_qsbr_synchronize(qsbr, RTE_QSBR_THRID_INVALID);
    table_reaper().free_later(old);
}

// A backend changed health: the same config, rebuilt with the new health (the ACL is shared).
void republish_health(const policy::config& running, const runtime& rt, l4::health_checker& health,
                      published_tables& pub, rte_rcu_qsbr* qsbr) {
    const l4::l4_runtime* cur = pub.l4.load();
    auto built = l4::build_l4_runtime(running, rt, &health, cur != nullptr ? cur->acl : nullptr,
                                      l4_name(running.generation), nullptr, cur);
    if (!built) {
        tl::log(level::error, "health.republish_failed", "health change not applied: " + built.error_message());
        return;
    }
    publish_l4(pub, std::move(built).value(), qsbr);
}

double unix_now() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void configure_logs(const policy::telemetry_settings& t) {
    tl::log_configure(
        t.log_format == policy::telemetry_settings::log_format_t::json ? tl::format::json : tl::format::text,
        static_cast<level>(t.log_level));
}

// A config compiled and checked, ready to publish: everything that can fail is done.
struct prepared_config {
    policy::config cfg;
    // A new runtime when routes or ICMP limits change (else null: the running one stays). The L4
    // runtime and the taps are built against this one, or the running one of `base_serial`.
    std::unique_ptr<runtime> rt;
    uint64_t base_serial = 0;
    std::unique_ptr<l4::l4_runtime> l4;
    tap::compiled_taps taps;
    uint64_t health_epoch = 0;  // health changes seen when l4 was built
};

// Config changes under traffic, in two steps shared by SIGHUP (source "file": the --config file
// re-read) and the mgmtd link (source "mgmtd": a pushed snapshot): prepare() checks and compiles,
// activate() publishes (health targets, the runtime and the L4 runtime by atomic swap plus one
// RCU grace period, taps). What can change: static routes, ICMP limits, services, backends,
// firewall, SNAT pools, limits, timeouts, taps, logging. Sessions stay. A config that fails
// validation, or changes what needs a restart, is rejected whole and the running one stays.
// Main lcore only.
//
// The runtime (interfaces, ports, routes, ICMP limits) is owned here. Who holds it: the workers
// (published_tables::rt, loaded once per burst), the control plane and the control lcore's
// forwarder (switched in activate), the health checker (configure), compiled taps (mirror next
// hops) and L4 runtimes (built from it; they keep no pointer into it). A replaced runtime is
// freed in activate after the grace period and after every one of those was switched; the main
// loop reads the current one through rt().
class config_control {
public:
    config_control(policy::config& running, std::unique_ptr<runtime> rt, std::vector<uint16_t> port_of,
                   std::vector<rte_ether_addr> port_mac, published_tables& pub, rte_rcu_qsbr* qsbr,
                   l4::health_checker& health, tap::manager& taps, control_plane& control, forwarder& ctl_fwd,
                   reload_status& status, stats_source& stats)
        : running_(running),
          rt_(std::move(rt)),
          port_of_(std::move(port_of)),
          port_mac_(std::move(port_mac)),
          pub_(pub),
          qsbr_(qsbr),
          health_(health),
          taps_(taps),
          control_(control),
          ctl_fwd_(ctl_fwd),
          status_(status),
          stats_(stats) {}

    // The running runtime. Main lcore; valid until the next activate.
    const runtime& rt() const noexcept { return *rt_; }

    // At exit, the workers stopped and nothing else running: frees what this holds (DPDK tables)
    // while EAL is still up.
    void shutdown() noexcept {
        pending_.reset();
        rt_.reset();
    }

    // SIGHUP: the file, prepared and activated at once (a snapshot mgmtd prepared stays prepared).
    void reload_file(const std::string& path) {
        auto fresh = policy::load_config_file(path);
        if (!fresh) return reject("file", fresh.error_message(), 0);
        auto p = prepare(std::move(fresh).value(), "file");
        if (p) activate(std::move(p).value(), "file");
    }

    // A request of the mgmtd link (mgmt_link runs it here, on the main lcore).
    policy::push_response handle(policy::push_request& req) {
        policy::push_response r;
        using clock = std::chrono::steady_clock;
        auto us_since = [](clock::time_point t0) {
            return static_cast<uint64_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0).count());
        };
        switch (req.kind) {
            case policy::push_kind::prepare: {
                auto t0 = clock::now();
                if (!req.snapshot) {
                    r.reason = req.snapshot.error_message();
                    reject("mgmtd", r.reason, req.generation);
                    break;
                }
                auto p = prepare(std::move(req.snapshot).value(), "mgmtd");
                r.prepare_us = us_since(t0);
                if (!p) {
                    r.reason = p.error_message();
                    break;
                }
                if (pending_ && pending_->cfg.generation != req.generation)
                    tl::log(level::info, "config.prepare.replaced",
                            "prepared generation " + std::to_string(pending_->cfg.generation) + " dropped for " +
                                std::to_string(req.generation),
                            {{"generation", req.generation}, {"dropped_generation", pending_->cfg.generation}});
                pending_ = std::move(p).value();
                unpin_gateways();  // of the snapshot it replaced
                r.ok = true;
                tl::log(level::info, "config.prepared",
                        "prepared: config generation " + std::to_string(req.generation) + " in " +
                            std::to_string(r.prepare_us) + " us",
                        {{"generation", req.generation}, {"source", "mgmtd"}, {"prepare_us", r.prepare_us}});
                break;
            }
            case policy::push_kind::activate: {
                if (!pending_ || pending_->cfg.generation != req.generation) {
                    r.reason = "no prepared snapshot with generation " + std::to_string(req.generation);
                    reject("mgmtd", r.reason, req.generation);
                    break;
                }
                auto t0 = clock::now();
                prepared_config p = std::move(*pending_);
                pending_.reset();
                activate(std::move(p), "mgmtd");
                r.activate_us = us_since(t0);
                r.ok = true;
                break;
            }
            case policy::push_kind::abort:
                if (pending_ && (req.generation == 0 || pending_->cfg.generation == req.generation)) {
                    tl::log(level::info, "config.aborted",
                            "prepared config generation " + std::to_string(pending_->cfg.generation) + " dropped",
                            {{"generation", pending_->cfg.generation}, {"source", "mgmtd"}});
                    pending_.reset();
                    unpin_gateways();
                }
                r.ok = true;  // nothing prepared (or another generation): nothing to drop
                break;
            case policy::push_kind::status:
            case policy::push_kind::state:
                r.ok = true;  // the caller adds the state
                break;
        }
        r.generation = running_.generation;
        r.config_source = source_;
        return r;
    }

    // The health checker changed a backend's state (and the running runtime was republished).
    void note_health_change() noexcept { ++health_epoch_; }

private:
    void reject(const char* source, const std::string& why, uint64_t generation) {
        ++status_.rejected;
        status_.last_ok = false;
        status_.last_unix = unix_now();
        tl::log(level::warning, "config.reload.rejected", "reload rejected: " + why,
                {{"generation_running", running_.generation},
                 {"generation", generation},
                 {"source", source},
                 {"reason", why}});
    }

    result<prepared_config> prepare(policy::config c, const char* source) {
        auto fail = [&](const std::string& why) -> result<prepared_config> {
            reject(source, why, c.generation);
            return error{why};
        };
        if (std::strcmp(source, "mgmtd") == 0 && c.generation == 0)
            return fail("generation: a pushed snapshot needs a generation above 0");
        if (!(c.interfaces == running_.interfaces)) return fail("interfaces: changing interfaces needs a restart");
        if (!(c.workers == running_.workers)) return fail("workers: changing workers needs a restart");
        if (c.flows.sessions_per_worker != running_.flows.sessions_per_worker)
            return fail("flows.sessionsPerWorker: changing the session table size needs a restart");
        if (c.telemetry.http_port != running_.telemetry.http_port ||
            c.telemetry.http_address != running_.telemetry.http_address)
            return fail("telemetry.httpPort: changing the HTTP endpoint needs a restart");
        uint64_t epoch = health_epoch_;
        // Routes and ICMP limits live in the runtime: a change builds a new one (same interfaces
        // and ports). Its gateways get pinned neighbor slots now; a failure below unpins them.
        std::unique_ptr<runtime> next_rt;
        const bool routes_changed = !(c.routes4 == running_.routes4) || !(c.routes6 == running_.routes6);
        const bool icmp_changed = c.icmp.errors_per_second != running_.icmp.errors_per_second ||
                                  c.icmp.errors_burst != running_.icmp.errors_burst;
        if (routes_changed || icmp_changed) {
            auto made = build_runtime(c, port_of_, port_mac_, *rt_->neighbors, routes_name());
            if (!made) {
                unpin_gateways();
                return fail(std::string(routes_changed ? "routes" : "icmp") + ": " + made.error_message());
            }
            next_rt = std::move(made).value();
        }
        auto fail_built = [&](const std::string& why) {
            next_rt.reset();
            unpin_gateways();
            return fail(why);
        };
        const runtime& target = next_rt ? *next_rt : *rt_;
        auto built = l4::build_l4_runtime(c, target, &health_, nullptr, l4_name(c.generation), nullptr,
                                          pub_.l4.load(std::memory_order_acquire));
        if (!built) return fail_built(built.error_message());
        auto taps_built = tap::build(c, target);
        if (!taps_built) return fail_built(taps_built.error_message());
        const uint64_t base = rt_->serial;
        return prepared_config{
            std::move(c), std::move(next_rt), base, std::move(built).value(), std::move(taps_built).value(), epoch};
    }

    void activate(prepared_config p, const char* source) {
        status_.last_unix = unix_now();
        if (!p.rt && p.base_serial != rt_->serial) {
            // Cannot happen (activate drops the prepared snapshot when the runtime changes under
            // it); never publish tables built against a freed runtime.
            tl::log(level::error, "config.activate.stale", "prepared config built against a replaced runtime: dropped");
            return;
        }
        std::unique_ptr<runtime> old_rt;
        if (p.rt) {
            // Routes changed: both tables in one step, one grace period, then everything on this
            // lcore that holds the runtime switches before the old one is freed.
            health_.configure(p.cfg, *p.l4, p.rt.get(), rte_rdtsc());
            pub_.rt.store(p.rt.get(), std::memory_order_release);
            const l4::l4_runtime* old_l4 = pub_.l4.exchange(p.l4.release(), std::memory_order_acq_rel);
            rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
            table_reaper().free_later(old_l4);
            control_.set_runtime(p.rt.get());
            ctl_fwd_.set_runtime(p.rt.get());
            old_rt = std::move(rt_);
            rt_ = std::move(p.rt);
        } else {
            health_.configure(p.cfg, *p.l4, rt_.get(), rte_rdtsc());
            publish_l4(pub_, std::move(p.l4), qsbr_);
        }
        taps_.apply(std::move(p.taps));  // mirror next hops of the new taps point into rt_
        if (old_rt) {
            // A snapshot mgmtd prepared against the old runtime (no routes of its own) is stale:
            // its taps and L4 runtime were built from the old routes.
            if (pending_ && !pending_->rt && pending_->base_serial != rt_->serial) {
                tl::log(level::warning, "config.prepare.dropped",
                        "prepared generation " + std::to_string(pending_->cfg.generation) +
                            " dropped: the routes changed under it (" + source + ")",
                        {{"dropped_generation", pending_->cfg.generation}, {"source", source}});
                pending_.reset();
            }
            const uint64_t old_routes = old_rt->routes->hops().size();
            table_reaper().free_later(old_rt.release());  // nothing refers to it any more
            unsigned unpinned = unpin_gateways();
            tl::log(level::info, "config.routes.applied",
                    "routes: " + std::to_string(p.cfg.routes4.size() + p.cfg.routes6.size()) +
                        " static routes, ICMP errors " + std::to_string(rt_->icmp_errors_per_second) + "/s burst " +
                        std::to_string(rt_->icmp_errors_burst),
                    {{"generation", p.cfg.generation},
                     {"routes", uint64_t{p.cfg.routes4.size() + p.cfg.routes6.size()}},
                     {"previous_next_hops", old_routes},
                     {"gateways_unpinned", uint64_t{unpinned}},
                     {"source", source}});
        }
        uint64_t old_generation = running_.generation;
        running_ = std::move(p.cfg);
        stats_.generation = running_.generation;
        source_ = source;
        // A backend changed health after the runtime was compiled: publish it again with the
        // health as it is now.
        if (p.health_epoch != health_epoch_) republish_health(running_, *rt_, health_, pub_, qsbr_);
        ++status_.applied;
        status_.last_ok = true;
        configure_logs(running_.telemetry);
        tl::log(level::info, "config.reload.applied",
                "reloaded: config generation " + std::to_string(running_.generation) + ", " +
                    std::to_string(running_.services.size()) + " services, " +
                    std::to_string(running_.fw.rules.size()) + " firewall rules",
                {{"generation", running_.generation},
                 {"previous_generation", old_generation},
                 {"services", uint64_t{running_.services.size()}},
                 {"firewall_rules", uint64_t{running_.fw.rules.size()}},
                 {"source", source}});
    }

    // Route gateways pinned by neither the running runtime nor the prepared one lose their pin.
    // Only after a grace period for a runtime that was published (activate does that first).
    unsigned unpin_gateways() {
        std::vector<const runtime*> live{rt_.get()};
        if (pending_ && pending_->rt) live.push_back(pending_->rt.get());
        return unpin_unused_gateways(*rt_->neighbors, live);
    }

    policy::config& running_;
    std::unique_ptr<runtime> rt_;
    const std::vector<uint16_t> port_of_;
    const std::vector<rte_ether_addr> port_mac_;
    published_tables& pub_;
    rte_rcu_qsbr* qsbr_;
    l4::health_checker& health_;
    tap::manager& taps_;
    control_plane& control_;
    forwarder& ctl_fwd_;
    reload_status& status_;
    stats_source& stats_;
    std::optional<prepared_config> pending_;  // mgmtd's, until activated, aborted or replaced
    const char* source_ = "file";
    uint64_t health_epoch_ = 0;
};

std::string port_name_of(const std::string& device) {
    return device.substr(0, device.find(','));
}

// Finds or probes the DPDK port for a device string.
uint16_t attach_port(const std::string& device, const std::string& field) {
    uint16_t port = 0;
    auto name = port_name_of(device);
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port) == 0) return port;
    int rc = rte_dev_probe(device.c_str());
    if (rc != 0) die(field + ": cannot probe \"" + device + "\": " + rte_strerror(-rc));
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0)
        die(field + ": \"" + device + "\" was probed but created no port named \"" + name + "\"");
    if (port >= max_ports)
        die(field + ": port id " + std::to_string(port) + " is above the supported " + std::to_string(max_ports));
    return port;
}

struct port_setup {
    uint16_t port;
    uint16_t rx_queues;
    uint32_t mtu;
    std::optional<mac_addr> mac;
    std::string names;
};

void setup_port(port_setup& ps, unsigned n_workers, const policy::worker_settings& ws, rte_mempool* pool) {
    const std::string what = "port " + std::to_string(ps.port) + " (" + ps.names + ")";
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(ps.port, &info) != 0) die(what + ": cannot read device info");
    if (info.max_tx_queues < n_workers)
        die(what + ": supports " + std::to_string(info.max_tx_queues) + " TX queues, " + std::to_string(n_workers) +
            " workers need one each (af_packet: add qpairs=" + std::to_string(n_workers) + " to the device string)");
    ps.rx_queues = static_cast<uint16_t>(std::min<unsigned>(n_workers, info.max_rx_queues));
    rte_eth_conf conf{};
    static uint8_t symmetric_key[40];
    for (unsigned i = 0; i < sizeof symmetric_key; i += 2) {
        symmetric_key[i] = 0x6d;  // a repeated 16-bit pattern makes Toeplitz hashing symmetric
        symmetric_key[i + 1] = 0x5a;
    }
    // Every RX queue the PMD offers up to one per worker is polled: with RSS the NIC spreads
    // flows over them; a PMD without RSS offload may still spread (af_packet's fanout), and
    // otherwise everything simply arrives on queue 0.
    if (ps.rx_queues > 1 && info.flow_type_rss_offloads != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = symmetric_key;
        conf.rx_adv_conf.rss_conf.rss_key_len = sizeof symmetric_key;
        conf.rx_adv_conf.rss_conf.rss_hf =
            (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    }
    int rc = rte_eth_dev_configure(ps.port, ps.rx_queues, static_cast<uint16_t>(n_workers), &conf);
    if (rc != 0) die(what + ": configure failed: " + rte_strerror(-rc));
    uint16_t rxd = static_cast<uint16_t>(ws.rx_descriptors), txd = static_cast<uint16_t>(ws.tx_descriptors);
    rte_eth_dev_adjust_nb_rx_tx_desc(ps.port, &rxd, &txd);
    int socket = rte_eth_dev_socket_id(ps.port);
    if (socket < 0) socket = static_cast<int>(rte_socket_id());
    for (uint16_t q = 0; q < ps.rx_queues; ++q) {
        rc = rte_eth_rx_queue_setup(ps.port, q, rxd, static_cast<unsigned>(socket), nullptr, pool);
        if (rc != 0) die(what + ": RX queue " + std::to_string(q) + " setup failed: " + rte_strerror(-rc));
    }
    for (unsigned q = 0; q < n_workers; ++q) {
        rc = rte_eth_tx_queue_setup(ps.port, static_cast<uint16_t>(q), txd, static_cast<unsigned>(socket), nullptr);
        if (rc != 0) die(what + ": TX queue " + std::to_string(q) + " setup failed: " + rte_strerror(-rc));
    }
    rc = rte_eth_dev_set_mtu(ps.port, static_cast<uint16_t>(ps.mtu));
    if (rc != 0 && rc != -ENOTSUP)
        std::fprintf(stderr, "meshgate-dataplane: %s: MTU %u not set on the device (%s); enforced in software\n",
                     what.c_str(), ps.mtu, rte_strerror(-rc));
    if (ps.mac) {
        rte_ether_addr a;
        std::memcpy(a.addr_bytes, ps.mac->bytes.data(), 6);
        if (rte_eth_dev_default_mac_addr_set(ps.port, &a) != 0) rte_eth_promiscuous_enable(ps.port);
    }
    rte_eth_allmulticast_enable(ps.port);  // IPv6 neighbor discovery uses solicited-node multicast
    rc = rte_eth_dev_start(ps.port);
    if (rc != 0) die(what + ": start failed: " + rte_strerror(-rc));
}

// Logs a drop reason whose rate went above the configured threshold (at most once per reason
// every 10 s). Main lcore, once a second.
class drop_burst_monitor {
public:
    void poll(const stats_source& s, uint64_t now, uint64_t hz, uint32_t per_second) {
        if (last_ != 0 && now - last_ < hz) return;
        uint64_t totals[drop_reason_count] = {};
        for (const auto& pl : s.ports) {
            auto p = sum_port(s, pl.port);
            for (unsigned r = 1; r < drop_reason_count; ++r) totals[r] += p.drops[r];
        }
        if (last_ != 0) {
            double secs = static_cast<double>(now - last_) / static_cast<double>(hz);
            for (unsigned r = 1; r < drop_reason_count; ++r) {
                double rate = static_cast<double>(totals[r] - prev_[r]) / secs;
                if (rate <= per_second) continue;
                std::string name(drop_reason_name(static_cast<drop_reason>(r)));
                char msg[160];
                std::snprintf(msg, sizeof msg, "drop burst: %s at %.0f packets/s", name.c_str(), rate);
                tl::log_limited("drops." + name, 1, 10.0, level::warning, "drops.burst", msg,
                                {{"reason", name}, {"per_second", rate}, {"total", totals[r]}});
            }
        }
        std::copy(std::begin(totals), std::end(totals), std::begin(prev_));
        last_ = now;
    }

private:
    uint64_t last_ = 0;
    uint64_t prev_[drop_reason_count] = {};
};

int run(int argc, char** argv) {
    int split = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            split = i;
            break;
        }
    }
    options opt = parse_options(split < argc ? argc - split - 1 : 0, argv + split + 1);
    auto loaded = policy::load_config_file(opt.config);
    if (!loaded) die("config rejected: " + loaded.error_message());
    policy::config cfg = std::move(loaded).value();
    configure_logs(cfg.telemetry);
    if (opt.check) {
        // Tap filters: libpcap's verdict (no EAL needed); the eBPF load happens at start.
        for (size_t i = 0; i < cfg.taps.size(); ++i) {
            if (auto r = tap::check_filter(cfg.taps[i].filter, cfg.taps[i].snap_length); !r)
                die("config rejected: taps[" + std::to_string(i) + "].filter: \"" + cfg.taps[i].filter +
                    "\": " + r.error_message());
        }
        std::printf("meshgate-dataplane: config %s is valid (generation %lu, %zu interfaces, %zu routes)\n",
                    opt.config.c_str(), cfg.generation, cfg.interfaces.size(), cfg.routes4.size() + cfg.routes6.size());
        return 0;
    }

    if (rte_eal_init(split, argv) < 0) die(std::string("EAL init failed: ") + rte_strerror(rte_errno));
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGUSR1, on_signal);
    std::signal(SIGHUP, on_signal);

    // Worker lcores.
    std::vector<unsigned> lcores;
    if (cfg.workers.lcores.empty()) {
        unsigned l;
        RTE_LCORE_FOREACH_WORKER(l) {
            lcores.push_back(l);
        }
    } else {
        for (size_t i = 0; i < cfg.workers.lcores.size(); ++i) {
            unsigned l = cfg.workers.lcores[i];
            if (!rte_lcore_is_enabled(l) || l == rte_get_main_lcore())
                die("config rejected: workers.lcores[" + std::to_string(i) + "]: lcore " + std::to_string(l) +
                    " is not a worker lcore enabled in EAL (-l)");
            lcores.push_back(l);
        }
    }
    if (lcores.empty()) die("no worker lcore: give EAL at least two lcores (-l 0,1)");
    const auto n_workers = static_cast<unsigned>(lcores.size());
    const uint64_t hz = rte_get_tsc_hz();

    // Packet buffers: big enough for the largest MTU plus Ethernet, a VLAN tag and FCS.
    uint32_t max_mtu = 1500;
    for (const auto& i : cfg.interfaces) max_mtu = std::max(max_mtu, i.mtu);
    uint32_t room = std::max<uint32_t>(2048, max_mtu + 26) + RTE_PKTMBUF_HEADROOM;
    rte_mempool* pool = rte_pktmbuf_pool_create("mg_mbufs", cfg.workers.mbufs, 256, mbuf_priv_size,
                                                static_cast<uint16_t>(room), static_cast<int>(rte_socket_id()));
    if (pool == nullptr)
        die("workers.mbufs: cannot allocate " + std::to_string(cfg.workers.mbufs) +
            " mbufs: " + rte_strerror(rte_errno));

    // Ports: interfaces naming the same device share one.
    std::vector<uint16_t> port_of(cfg.interfaces.size());
    std::map<uint16_t, port_setup> ports;
    for (size_t i = 0; i < cfg.interfaces.size(); ++i) {
        const auto& ic = cfg.interfaces[i];
        uint16_t p = attach_port(ic.device, "interfaces[" + std::to_string(i) + "].device");
        port_of[i] = p;
        auto [it, fresh] = ports.try_emplace(p, port_setup{p, 1, ic.mtu, ic.mac, ic.name});
        if (!fresh) {
            it->second.mtu = std::max(it->second.mtu, ic.mtu);
            it->second.names += "," + ic.name;
            if (!it->second.mac) it->second.mac = ic.mac;
        }
    }
    uint64_t rx_need = 0;
    for (size_t i = 0; i < ports.size(); ++i) rx_need += uint64_t{cfg.workers.rx_descriptors} * n_workers;
    if (cfg.workers.mbufs < rx_need + 1024)
        die("config rejected: workers.mbufs: " + std::to_string(cfg.workers.mbufs) + " is too few for " +
            std::to_string(ports.size()) + " ports' RX rings (need at least " + std::to_string(rx_need + 1024) + ")");
    for (auto& [p, ps] : ports) setup_port(ps, n_workers, cfg.workers, pool);
    // dpdk-dumpcap attaches to the running data plane as a secondary process (rte_pdump): that
    // needs the primary's memory shared, i.e. hugepages.
    if (rte_eal_has_hugepages() == 0) {
        tl::log(level::info, "pdump.unavailable",
                "pdump unavailable without hugepages (--no-huge): dpdk-dumpcap cannot attach");
    } else if (rte_pdump_init() != 0) {
        tl::log(level::warning, "pdump.unavailable", std::string("pdump unavailable: ") + rte_strerror(rte_errno));
    } else {
        tl::log(level::info, "pdump.ready", "pdump enabled: dpdk-dumpcap can attach",
                {{"runtime_dir", rte_eal_get_runtime_dir()}});
    }
    std::vector<rte_ether_addr> port_mac(cfg.interfaces.size());
    for (size_t i = 0; i < cfg.interfaces.size(); ++i) rte_eth_macaddr_get(port_of[i], &port_mac[i]);

    // RCU: workers report quiescent points; the neighbor hash frees deleted keys after them.
    size_t qsz = rte_rcu_qsbr_get_memsize(n_workers);
    auto* qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc("mg_qsbr", qsz, RTE_CACHE_LINE_SIZE));
    if (qsbr == nullptr || rte_rcu_qsbr_init(qsbr, n_workers) != 0) die("cannot set up RCU");

    auto nt = neighbor_table::create("mg_neighbors", 4096, qsbr);
    if (!nt) die(nt.error_message());
    auto built = build_runtime(cfg, port_of, port_mac, *nt.value(), "mg_routes");
    if (!built) die(built.error_message());
    // The first runtime: config_control owns it (and the ones routes changes replace it with);
    // `rt` is for the setup below only.
    std::unique_ptr<runtime> rt_owned = std::move(built).value();
    const runtime* rt = rt_owned.get();

    auto* counters =
        static_cast<core_counters*>(rte_zmalloc("mg_counters", sizeof(core_counters) * (n_workers + 1), 64));
    if (counters == nullptr) die("cannot allocate counters");
    control_plane control(rt, rt->neighbors, pool, &counters[n_workers], hz, control_plane::default_timers(hz));
    if (auto r = control.install_static_neighbors(cfg); !r) die(r.error_message());
    // The control lcore's own forwarder sends the ICMP errors it originates.
    rte_ring* self_punt = rte_ring_create("mg_punt_ctl", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    auto* ctl_batch = static_cast<tx_batch*>(rte_zmalloc("mg_batch_ctl", sizeof(tx_batch), 64));
    if (self_punt == nullptr || ctl_batch == nullptr) die("cannot allocate the control lcore's rings");
    forwarder ctl_fwd(rt, pool, &counters[n_workers], self_punt, hz);
    control.set_error_path(&ctl_fwd, ctl_batch, self_punt);

    // L4: the compiled services, firewall and NAT pools, published for the workers.
    static published_tables pub;
    pub.rt.store(rt);
    static l4::health_checker health(pool, hz);
    auto l4_built = l4::build_l4_runtime(cfg, *rt, &health, nullptr, l4_name(cfg.generation));
    if (!l4_built) die("config rejected: " + l4_built.error_message());
    health.configure(cfg, *l4_built.value(), rt, rte_rdtsc());
    health.set_output(
        &ctl_fwd, ctl_batch, [](void* c) { static_cast<control_plane*>(c)->flush_originated(); }, &control);
    control.set_probe_handler(
        [](void* h, rte_mbuf* m, uint64_t now) { static_cast<l4::health_checker*>(h)->on_packet(m, now); }, &health);
    pub.l4.store(std::move(l4_built).value().release());
    l4::cookie_secret secret{rte_rand(), rte_rand()};

    // Packet taps: compiled here, published to the workers; the main lcore writes their pcapng
    // files and sends mirror copies through the control lcore's forwarder.
    tap::manager_params tap_params;
    tap_params.n_workers = n_workers;
    tap_params.tsc_hz = hz;
    tap_params.qsbr = qsbr;
    tap_params.rt = rt;
    tap_params.max_frame = max_mtu + 26;
    auto tap_made = tap::manager::create(tap_params);
    if (!tap_made) die(tap_made.error_message());
    tap::manager* taps = std::move(tap_made).value().release();  // lives until exit (telemetry may ask it)
    taps->set_logger([](const std::string& line) { tl::log(level::info, "tap", line); });
    taps->set_output(
        &ctl_fwd, ctl_batch, [](void* c) { static_cast<control_plane*>(c)->flush_originated(); }, &control);
    auto taps_built = tap::build(cfg, *rt);
    if (!taps_built) die("config rejected: " + taps_built.error_message());
    taps->apply(std::move(taps_built).value());
    taps->register_telemetry();

    rte_ring* acl_log =
        rte_ring_create_elem("mg_acl_log", sizeof(l4::acl_log_record), 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (acl_log == nullptr) die("cannot allocate the ACL log ring");

    std::vector<worker_ctx> workers(n_workers);
    static std::vector<rte_ring*> handoff(n_workers);
    for (unsigned w = 0; w < n_workers; ++w) {
        handoff[w] = rte_ring_create(("mg_handoff" + std::to_string(w)).c_str(), 4096, SOCKET_ID_ANY, RING_F_SC_DEQ);
        if (handoff[w] == nullptr) die("cannot allocate worker hand-off rings");
    }
    for (unsigned w = 0; w < n_workers; ++w) {
        auto& c = workers[w];
        c.id = w;
        c.lcore = lcores[w];
        c.ctr = &counters[w];
        c.qsbr = qsbr;
        c.taps = taps->worker(w);
        std::string suffix = std::to_string(w);
        rte_ring* punt =
            rte_ring_create(("mg_punt" + suffix).c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        c.inject = rte_ring_create(("mg_inject" + suffix).c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        c.batch = static_cast<tx_batch*>(rte_zmalloc("mg_batch", sizeof(tx_batch), 64));
        if (punt == nullptr || c.inject == nullptr || c.batch == nullptr) die("cannot allocate worker rings");
        c.fwd = new forwarder(rt, pool, c.ctr, punt, hz);
        auto l4w =
            l4::l4_worker::create(w, n_workers, cfg.flows.sessions_per_worker, hz, secret, c.ctr, "mg_l4w" + suffix);
        if (!l4w) die(l4w.error_message());
        c.fwd->attach(l4w.value(), &pub, handoff.data());
        // The worker's TCP stack and tcp-proxy (services of mode tcp-proxy).
        tcp::stack_config tcfg;
        tcfg.max_connections = std::clamp<uint32_t>(cfg.flows.sessions_per_worker / 2, 1024, 262144);
        tcfg.max_time_wait = tcfg.max_connections / 4;
        auto proxy = tcp::tcp_proxy::create(tcfg, pool, w, n_workers, c.ctr, rte_rdtsc() / (hz / 1000000));
        if (!proxy) die(proxy.error_message());
        c.proxy = proxy.value().release();
        c.fwd->attach_proxy(c.proxy);
        l4w.value()->set_tcp_stack(&c.proxy->stack());
        c.proxy->set_flow_table(&l4w.value()->flows());
        l4w.value()->set_log_ring(acl_log);
        c.handoff = handoff[w];
        control.add_worker(punt, c.inject);
    }
    // RX queues to workers, round robin over (port, queue).
    unsigned next = 0;
    for (auto& [p, ps] : ports) {
        for (uint16_t q = 0; q < ps.rx_queues; ++q) workers[next++ % n_workers].rx.emplace_back(p, q);
    }

    stats_source stats;
    stats.cores = counters;
    stats.n_cores = n_workers + 1;
    stats.generation = cfg.generation;
    for (auto& [p, ps] : ports) stats.ports.push_back({p, ps.names});
    register_telemetry(&stats);

    for (auto& c : workers) {
        if (rte_eal_remote_launch(worker_main, &c, c.lcore) != 0)
            die("cannot launch worker on lcore " + std::to_string(c.lcore));
    }
    const uint64_t start = rte_rdtsc();

    // The HTTP endpoint: its own thread; what it shows is rendered by the main lcore (mailbox).
    static reload_status reloads;
    static main_mailbox mailbox;
    metrics_sources msrc;
    msrc.stats = &stats;
    msrc.pub = &pub;
    msrc.health = &health;
    msrc.control = &control;
    msrc.reloads = &reloads;
    msrc.start_tsc = start;
    msrc.tsc_hz = hz;
    for (const auto& c : workers) msrc.proxies.push_back(c.proxy);
    msrc.taps = [taps] {
        std::vector<tap_metrics_row> rows;
        for (const auto& t : taps->stats()) {
            rows.push_back({t.name, t.running, t.matched, t.captured, t.dropped_rate_limit, t.dropped_ring_full,
                            t.dropped_no_buffer, t.written_bytes, t.mirrored, t.files});
        }
        return rows;
    };
    const http_api api{&msrc, taps, &mailbox};
    tl::http_server http;
    if (cfg.telemetry.http_port != 0) {
        auto handler = [&api](const tl::http_request& req) { return api.serve(req); };
        auto started = http.start(policy::to_string(cfg.telemetry.http_address), cfg.telemetry.http_port, handler);
        if (!started) die("telemetry.httpPort: " + started.error_message());
    }
    drop_burst_monitor drop_bursts;

    config_control configs(cfg, std::move(rt_owned), port_of, port_mac, pub, qsbr, health, *taps, control, ctl_fwd,
                           reloads, stats);
    rt = nullptr;  // from here on: configs.rt(), which a route change replaces
    std::unique_ptr<mgmt_link> link;
    if (!opt.mgmt_socket.empty()) {
        auto handler = [&configs, &msrc](policy::push_request& req) {
            if (g_stop.load()) {
                policy::push_response r;
                r.reason = "the data plane is stopping";
                return r;
            }
            auto r = configs.handle(req);
            if (req.kind == policy::push_kind::state) r.state_json = to_json(collect_oper_state(msrc));
            return r;
        };
        auto started = mgmt_link::start(opt.mgmt_socket, &mailbox, handler);
        if (!started) die(started.error_message());
        link = std::move(started).value();
    }

    std::printf("tsc_hz %lu\n", hz);
    std::fflush(stdout);
    tl::log(level::info, "dataplane.running",
            "running: " + std::to_string(cfg.interfaces.size()) + " interfaces on " + std::to_string(ports.size()) +
                " ports, " + std::to_string(n_workers) + " workers, config generation " +
                std::to_string(cfg.generation),
            {{"interfaces", uint64_t{cfg.interfaces.size()}},
             {"ports", uint64_t{ports.size()}},
             {"workers", uint64_t{n_workers}},
             {"generation", cfg.generation},
             {"http_port", uint64_t{cfg.telemetry.http_port}}});

    const uint64_t deadline =
        opt.duration > 0 ? start + static_cast<uint64_t>(opt.duration * static_cast<double>(hz)) : 0;
    while (!g_stop.load()) {
        uint64_t now = rte_rdtsc();
        unsigned handled = control.poll(now);
        if (health.poll(now)) {
            republish_health(cfg, configs.rt(), health, pub, qsbr);
            configs.note_health_change();
        }
        print_acl_log(acl_log, cfg);
        mailbox.poll();
        handled += taps->poll();
        drop_bursts.poll(stats, now, hz, cfg.telemetry.drop_burst_per_second);
        if (g_report.exchange(false)) {
            std::printf("%s", format_report(stats).c_str());
            for (const auto& line : control.describe_neighbors()) std::printf("neighbor %s\n", line.c_str());
            for (const auto& line : health.describe()) std::printf("health %s\n", line.c_str());
            std::fflush(stdout);
        }
        if (g_reload.exchange(false)) configs.reload_file(opt.config);
        if (deadline != 0 && now >= deadline) break;
        if (handled == 0) rte_delay_us_sleep(100);
    }
    g_stop.store(true);
    if (link) link->stop();
    http.stop();
    rte_eal_mp_wait_lcore();
    taps->shutdown();  // the copies still queued written, files closed
    const double seconds = static_cast<double>(rte_rdtsc() - start) / static_cast<double>(hz);

    tl::log(level::info, "dataplane.stopping", "stopping");
    std::printf("%s", format_report(stats).c_str());
    uint64_t rx = 0, tx = 0;
    for (const auto& pl : stats.ports) {
        auto p = sum_port(stats, pl.port);
        rx += p.rx_packets;
        tx += p.tx_packets;
    }
    std::printf("summary: rx_packets %lu tx_packets %lu seconds %.3f rx_mpps %.3f tx_mpps %.3f\n", rx, tx, seconds,
                static_cast<double>(rx) / seconds / 1e6, static_cast<double>(tx) / seconds / 1e6);
    std::fflush(stdout);
    for (auto& [p, ps] : ports) {
        rte_eth_dev_stop(p);
        rte_eth_dev_close(p);
    }
    table_reaper().stop();  // frees what it still holds, before the EAL memory goes
    configs.shutdown();
    rte_eal_cleanup();
    return 0;
}

}  // namespace
}  // namespace meshgate::dataplane

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): die() exits
    return meshgate::dataplane::run(argc, argv);
}
