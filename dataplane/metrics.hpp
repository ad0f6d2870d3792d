#pragma once
// The Prometheus exposition of the data plane (names in telemetry/METRICS.md), rendered on the
// main lcore from the per-core counters (relaxed loads, summed) and the main lcore's own state.
// Workers are never asked for anything: a scrape costs them nothing.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dataplane/stats.hpp"

namespace meshgate::dataplane::tcp {
class tcp_proxy;
}

namespace meshgate::dataplane {

class control_plane;
struct published_tables;
namespace l4 {
class health_checker;
}

// Config reloads and commits, kept by the main lcore.
struct reload_status {
    uint64_t applied = 0;
    uint64_t rejected = 0;
    bool last_ok = true;
    double last_unix = 0;  // 0: none yet
};

// One tap's figures, as the tap manager reports them.
struct tap_metrics_row {
    std::string name;
    bool running = false;
    uint64_t matched = 0, captured = 0;
    uint64_t dropped_rate_limit = 0, dropped_ring_full = 0, dropped_no_buffer = 0;
    uint64_t written_bytes = 0, mirrored = 0;
    uint64_t files = 0;
};

struct metrics_sources {
    const stats_source* stats = nullptr;
    const published_tables* pub = nullptr;
    const l4::health_checker* health = nullptr;
    const control_plane* control = nullptr;
    const reload_status* reloads = nullptr;
    std::function<std::vector<tap_metrics_row>()> taps;  // may be empty
    // The workers' TCP stacks and tcp-proxies (counters read relaxed; never touched otherwise).
    std::vector<const tcp::tcp_proxy*> proxies;
    uint64_t start_tsc = 0;
    uint64_t tsc_hz = 1;
};

// Main lcore only.
std::string render_metrics(const metrics_sources& src);

}  // namespace meshgate::dataplane
