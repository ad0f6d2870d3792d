#pragma once
// Summing the per-core counters off the workers: the text report (SIGUSR1, exit) and the DPDK
// telemetry commands. Thread contract: any non-worker thread; reads counters relaxed.
#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/counters.hpp"

namespace meshgate::dataplane {

struct port_label {
    uint16_t port;
    std::string name;  // interface name(s) on the port
};

struct stats_source {
    const core_counters* cores = nullptr;  // worker blocks then the control lcore's
    unsigned n_cores = 0;
    std::vector<port_label> ports;
    uint64_t generation = 0;
};

port_counters sum_port(const stats_source& s, uint16_t port) noexcept;
uint64_t sum_field(const stats_source& s, uint64_t core_counters::*field) noexcept;
std::string format_report(const stats_source& s);
// Registers /meshgate/ports, /meshgate/drops and /meshgate/info; `s` must outlive the process.
void register_telemetry(const stats_source* s);

}  // namespace meshgate::dataplane
