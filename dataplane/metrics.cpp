#include "dataplane/metrics.hpp"

#include <rte_cycles.h>

#include <string>

#include "dataplane/control.hpp"
#include "dataplane/forwarder.hpp"
#include "dataplane/l4/health.hpp"
#include "dataplane/l4/l4_runtime.hpp"
#include "dataplane/l4/l4_stats.hpp"
#include "telemetry/log.hpp"
#include "telemetry/prometheus.hpp"

#ifndef MESHGATE_VERSION
#define MESHGATE_VERSION "dev"
#endif

namespace meshgate::dataplane {

namespace {

using telemetry::prom_writer;

void port_metrics(prom_writer& w, const stats_source& s) {
    w.family("meshgate_interface_rx_packets_total", "Frames received.", "counter");
    w.family("meshgate_interface_rx_bytes_total", "Bytes received (frames, without FCS).", "counter");
    w.family("meshgate_interface_tx_packets_total", "Frames sent.", "counter");
    w.family("meshgate_interface_tx_bytes_total", "Bytes sent (frames, without FCS).", "counter");
    w.family("meshgate_interface_drops_total", "Packets dropped, by reason, charged to the ingress port.", "counter");
    for (const auto& pl : s.ports) {
        auto p = sum_port(s, pl.port);
        std::string port = std::to_string(pl.port);
        w.sample("meshgate_interface_rx_packets_total", {{"interface", pl.name}, {"port", port}}, p.rx_packets);
        w.sample("meshgate_interface_rx_bytes_total", {{"interface", pl.name}, {"port", port}}, p.rx_bytes);
        w.sample("meshgate_interface_tx_packets_total", {{"interface", pl.name}, {"port", port}}, p.tx_packets);
        w.sample("meshgate_interface_tx_bytes_total", {{"interface", pl.name}, {"port", port}}, p.tx_bytes);
        for (unsigned r = 1; r < drop_reason_count; ++r) {
            w.sample(
                "meshgate_interface_drops_total",
                {{"interface", pl.name}, {"port", port}, {"reason", drop_reason_name(static_cast<drop_reason>(r))}},
                p.drops[r]);
        }
    }
}

void global_counters(prom_writer& w, const stats_source& s) {
    struct field {
        const char* name;
        const char* help;
        const char* type;
        uint64_t core_counters::*member;
    };
    static constexpr field fields[] = {
        {"meshgate_icmp_errors_sent_total", "ICMP errors sent (time exceeded, unreachable, packet too big).", "counter",
         &core_counters::icmp_errors_sent},
        {"meshgate_icmp_echo_replies_total", "Echo replies sent from the gateway's addresses.", "counter",
         &core_counters::icmp_echo_replies},
        {"meshgate_fragments_sent_total", "IPv4 fragments produced.", "counter", &core_counters::fragments_sent},
        {"meshgate_punted_total", "Packets handed to the control lcore (ARP, ND, unresolved next hops).", "counter",
         &core_counters::punted},
        {"meshgate_neighbor_solicits_sent_total", "ARP requests and neighbor solicitations sent.", "counter",
         &core_counters::neighbor_solicits_sent},
        {"meshgate_sessions_active", "L4 sessions in the workers' tables.", "gauge", &core_counters::sessions_active},
        {"meshgate_sessions_half_open", "TCP sessions to VIPs in SYN state.", "gauge",
         &core_counters::sessions_half_open},
        {"meshgate_sessions_created_total", "L4 sessions created.", "counter", &core_counters::sessions_created},
        {"meshgate_sessions_expired_total", "L4 sessions ended (idle, closed or reset).", "counter",
         &core_counters::sessions_expired},
        {"meshgate_syn_cookies_sent_total", "SYN-ACKs sent with a SYN cookie.", "counter",
         &core_counters::syn_cookies_sent},
        {"meshgate_syn_cookies_accepted_total", "ACKs with a valid SYN cookie.", "counter",
         &core_counters::syn_cookies_accepted},
        {"meshgate_nat_icmp_errors_total", "ICMP errors translated through a session (RFC 5508).", "counter",
         &core_counters::nat_icmp_errors},
        {"meshgate_nat64_translated_total", "Packets translated between IPv4 and IPv6.", "counter",
         &core_counters::nat64_translated},
    };
    for (const auto& f : fields) {
        w.family(f.name, f.help, f.type);
        w.sample(f.name, {}, sum_field(s, f.member));
    }
}

void neighbor_metrics(prom_writer& w, const control_plane& control) {
    w.family("meshgate_neighbors", "Neighbor table entries by state.", "gauge");
    auto n = control.count_neighbors();
    for (size_t i = 1; i < n.size(); ++i) {
        w.sample("meshgate_neighbors", {{"state", to_string(static_cast<neighbor_state>(i))}}, uint64_t{n[i]});
    }
}

void l4_metrics(prom_writer& w, const metrics_sources& src) {
    const l4::l4_runtime* rt = src.pub->l4.load(std::memory_order_acquire);
    if (rt == nullptr) return;
    const stats_source& s = *src.stats;
    w.family("meshgate_service_backends", "Backends configured per service.", "gauge");
    w.family("meshgate_service_backends_up", "Backends admin-up and healthy per service.", "gauge");
    for (const auto& svc : l4::service_rows(*rt)) {
        w.sample("meshgate_service_backends", {{"service", svc.name}}, uint64_t{svc.backends});
        w.sample("meshgate_service_backends_up", {{"service", svc.name}}, uint64_t{svc.backends_up});
    }
    w.family("meshgate_backend_up", "1 if the backend is admin-up and healthy.", "gauge");
    w.family("meshgate_backend_connections_total", "Sessions opened to the backend.", "counter");
    w.family("meshgate_backend_packets_total", "Packets to and from the backend.", "counter");
    w.family("meshgate_backend_bytes_total", "IP bytes to and from the backend.", "counter");
    w.family("meshgate_health_check_duration_seconds", "Round trip of successful health checks.", "histogram");
    for (const auto& b : l4::backend_rows(*rt, s.cores, s.n_cores, src.health)) {
        w.sample("meshgate_backend_up", {{"service", b.service}, {"backend", b.backend}}, uint64_t{b.up ? 1U : 0U});
        w.sample("meshgate_backend_connections_total", {{"service", b.service}, {"backend", b.backend}}, b.connections);
        w.sample("meshgate_backend_packets_total",
                 {{"service", b.service}, {"backend", b.backend}, {"direction", "to_backend"}}, b.packets_to);
        w.sample("meshgate_backend_packets_total",
                 {{"service", b.service}, {"backend", b.backend}, {"direction", "from_backend"}}, b.packets_from);
        w.sample("meshgate_backend_bytes_total",
                 {{"service", b.service}, {"backend", b.backend}, {"direction", "to_backend"}}, b.bytes_to);
        w.sample("meshgate_backend_bytes_total",
                 {{"service", b.service}, {"backend", b.backend}, {"direction", "from_backend"}}, b.bytes_from);
        if (b.health_count != 0 || !b.health_bounds.empty()) {
            w.histogram("meshgate_health_check_duration_seconds", {{"service", b.service}, {"backend", b.backend}},
                        b.health_bounds, b.health_buckets, b.health_sum);
        }
    }
    w.family("meshgate_acl_hits_total", "New flows matched per firewall rule (\"default\": no rule matched).",
             "counter");
    for (const auto& a : l4::acl_rows(*rt, s.cores, s.n_cores)) {
        w.sample("meshgate_acl_hits_total", {{"rule", a.rule}, {"action", a.action}}, a.hits);
    }
    w.family("meshgate_snat_ports_in_use", "NAT mappings held per SNAT pool.", "gauge");
    w.family("meshgate_snat_ports", "Mappings an SNAT pool can hold (addresses x ports).", "gauge");
    for (const auto& p : l4::snat_rows(*rt, s.cores, s.n_cores)) {
        w.sample("meshgate_snat_ports_in_use", {{"pool", p.pool}}, p.in_use);
        w.sample("meshgate_snat_ports", {{"pool", p.pool}}, p.capacity);
    }
}

void tap_metrics(prom_writer& w, const std::vector<tap_metrics_row>& rows) {
    w.family("meshgate_tap_running", "1 while the tap captures.", "gauge");
    w.family("meshgate_tap_matched_packets_total", "Packets that matched the tap's filter.", "counter");
    w.family("meshgate_tap_captured_packets_total", "Copies taken.", "counter");
    w.family("meshgate_tap_dropped_packets_total", "Matching packets not copied, by reason.", "counter");
    w.family("meshgate_tap_written_bytes_total", "pcapng bytes written.", "counter");
    w.family("meshgate_tap_mirrored_packets_total", "Copies sent to the mirror collector.", "counter");
    w.family("meshgate_tap_files", "pcapng files of the tap on disk.", "gauge");
    for (const auto& t : rows) {
        w.sample("meshgate_tap_running", {{"tap", t.name}}, uint64_t{t.running ? 1U : 0U});
        w.sample("meshgate_tap_matched_packets_total", {{"tap", t.name}}, t.matched);
        w.sample("meshgate_tap_captured_packets_total", {{"tap", t.name}}, t.captured);
        w.sample("meshgate_tap_dropped_packets_total", {{"tap", t.name}, {"reason", "rate_limit"}},
                 t.dropped_rate_limit);
        w.sample("meshgate_tap_dropped_packets_total", {{"tap", t.name}, {"reason", "ring_full"}}, t.dropped_ring_full);
        w.sample("meshgate_tap_dropped_packets_total", {{"tap", t.name}, {"reason", "no_buffer"}}, t.dropped_no_buffer);
        w.sample("meshgate_tap_written_bytes_total", {{"tap", t.name}}, t.written_bytes);
        w.sample("meshgate_tap_mirrored_packets_total", {{"tap", t.name}}, t.mirrored);
        w.sample("meshgate_tap_files", {{"tap", t.name}}, t.files);
    }
}

}  // namespace

std::string render_metrics(const metrics_sources& src) {
    prom_writer w;
    const stats_source& s = *src.stats;
    w.family("meshgate_build_info", "Build of the data plane (value 1).", "gauge");
    w.sample("meshgate_build_info", {{"version", MESHGATE_VERSION}}, uint64_t{1});
    w.family("meshgate_workers", "Worker lcores.", "gauge");
    w.sample("meshgate_workers", {}, uint64_t{s.n_cores - 1});
    w.family("meshgate_uptime_seconds", "Seconds since the data plane started.", "gauge");
    w.sample("meshgate_uptime_seconds", {},
             static_cast<double>(rte_rdtsc() - src.start_tsc) / static_cast<double>(src.tsc_hz));
    w.family("meshgate_config_generation", "Generation of the running config.", "gauge");
    w.sample("meshgate_config_generation", {}, s.generation);
    if (src.reloads != nullptr) {
        w.family("meshgate_config_reloads_total", "Config reloads, applied or rejected.", "counter");
        w.sample("meshgate_config_reloads_total", {{"result", "applied"}}, src.reloads->applied);
        w.sample("meshgate_config_reloads_total", {{"result", "rejected"}}, src.reloads->rejected);
        w.family("meshgate_config_last_reload_success", "1 if the last reload was applied, 0 if it was rejected.",
                 "gauge");
        w.sample("meshgate_config_last_reload_success", {}, uint64_t{src.reloads->last_ok ? 1U : 0U});
        w.family("meshgate_config_last_reload_timestamp_seconds", "Unix time of the last reload attempt.", "gauge");
        w.sample("meshgate_config_last_reload_timestamp_seconds", {}, src.reloads->last_unix);
    }
    port_metrics(w, s);
    global_counters(w, s);
    if (src.control != nullptr) neighbor_metrics(w, *src.control);
    if (src.pub != nullptr) l4_metrics(w, src);
    if (src.taps) tap_metrics(w, src.taps());
    w.family("meshgate_log_suppressed_total", "Log lines dropped by rate limits.", "counter");
    w.sample("meshgate_log_suppressed_total", {}, telemetry::log_suppressed_total());
    return std::move(w).str();
}

}  // namespace meshgate::dataplane
