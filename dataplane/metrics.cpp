#include "dataplane/metrics.hpp"
#include "dataplane/tcp/tcp_proxy.hpp"

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

// The workers' TCP stacks (dataplane/tcp) and their tcp-proxies, summed over workers.
void tcp_metrics(prom_writer& w, const std::vector<const tcp::tcp_proxy*>& proxies) {
    struct sfield {
        const char* name;
        const char* help;
        const char* type;
        uint64_t tcp::stack_counters::*member;
    };
    static constexpr sfield sfields[] = {
        {"meshgate_tcp_segments_received_total", "TCP segments the stack received.", "counter",
         &tcp::stack_counters::segments_in},
        {"meshgate_tcp_segments_sent_total", "TCP segments the stack sent.", "counter",
         &tcp::stack_counters::segments_out},
        {"meshgate_tcp_received_bytes_total", "Payload bytes received in order.", "counter",
         &tcp::stack_counters::bytes_in},
        {"meshgate_tcp_sent_bytes_total", "Payload bytes sent (first transmissions).", "counter",
         &tcp::stack_counters::bytes_out},
        {"meshgate_tcp_retransmitted_segments_total", "Segments sent again (RTO, fast retransmit, SACK recovery).",
         "counter", &tcp::stack_counters::retransmits},
        {"meshgate_tcp_rto_expirations_total", "Retransmission timeouts.", "counter",
         &tcp::stack_counters::rto_expired},
        {"meshgate_tcp_fast_retransmits_total", "Fast retransmits (entries into loss recovery).", "counter",
         &tcp::stack_counters::fast_retransmits},
        {"meshgate_tcp_active_opens_total", "Connections the stack opened (reached ESTABLISHED).", "counter",
         &tcp::stack_counters::active_opens},
        {"meshgate_tcp_passive_opens_total", "SYNs accepted by listeners.", "counter",
         &tcp::stack_counters::passive_opens},
        {"meshgate_tcp_connections_established", "Connections in ESTABLISHED or CLOSE-WAIT.", "gauge",
         &tcp::stack_counters::established},
        {"meshgate_tcp_connections_time_wait", "Connections in TIME-WAIT.", "gauge", &tcp::stack_counters::time_wait},
        {"meshgate_tcp_connections", "Connections held, all states.", "gauge", &tcp::stack_counters::conns},
        {"meshgate_tcp_resets_received_total", "RST segments received.", "counter", &tcp::stack_counters::resets_in},
        {"meshgate_tcp_resets_sent_total", "RST segments sent.", "counter", &tcp::stack_counters::resets_out},
        {"meshgate_tcp_challenge_acks_total", "RFC 5961 challenge ACKs sent.", "counter",
         &tcp::stack_counters::challenge_acks},
        {"meshgate_tcp_challenge_acks_suppressed_total", "Challenge ACKs not sent (rate limit).", "counter",
         &tcp::stack_counters::challenge_acks_suppressed},
        {"meshgate_tcp_syn_cookies_sent_total", "SYN-ACKs carrying a SYN cookie.", "counter",
         &tcp::stack_counters::syn_cookies_sent},
        {"meshgate_tcp_syn_cookies_accepted_total", "Connections made from a valid SYN cookie.", "counter",
         &tcp::stack_counters::syn_cookies_accepted},
        {"meshgate_tcp_syn_cookies_rejected_total", "ACKs to a listener with no valid cookie.", "counter",
         &tcp::stack_counters::syn_cookies_rejected},
        {"meshgate_tcp_paws_rejected_total", "Segments dropped by PAWS (RFC 7323).", "counter",
         &tcp::stack_counters::paws_rejected},
        {"meshgate_tcp_bad_checksum_total", "Segments with a bad TCP checksum.", "counter",
         &tcp::stack_counters::bad_checksum},
        {"meshgate_tcp_malformed_total", "Malformed segments (header, data offset, options).", "counter",
         &tcp::stack_counters::malformed},
        {"meshgate_tcp_out_of_order_segments_total", "Segments held out of order.", "counter",
         &tcp::stack_counters::ooo_segments},
        {"meshgate_tcp_out_of_order_dropped_total", "Out-of-order segments dropped (per-connection or per-core limit).",
         "counter", &tcp::stack_counters::ooo_dropped},
        {"meshgate_tcp_duplicate_segments_total", "Segments with only data already received.", "counter",
         &tcp::stack_counters::duplicate_segments},
        {"meshgate_tcp_out_of_window_total", "Unacceptable segments (answered with an ACK).", "counter",
         &tcp::stack_counters::out_of_window},
        {"meshgate_tcp_tiny_mss_clamped_total", "Peers' MSS options raised to the floor.", "counter",
         &tcp::stack_counters::tiny_mss_clamped},
        {"meshgate_tcp_no_connection_total", "Segments for no connection and no listener.", "counter",
         &tcp::stack_counters::no_connection},
        {"meshgate_tcp_table_full_total", "Connections refused: the table was full.", "counter",
         &tcp::stack_counters::table_full},
        {"meshgate_tcp_output_dropped_total", "Segments not sent: output queue full or no mbuf.", "counter",
         &tcp::stack_counters::output_dropped},
        {"meshgate_tcp_time_wait_reused_total", "TIME-WAIT connections ended early to make room.", "counter",
         &tcp::stack_counters::time_wait_reused},
        {"meshgate_tcp_keepalive_timeouts_total", "Connections ended by unanswered keepalives.", "counter",
         &tcp::stack_counters::keepalive_timeouts},
        {"meshgate_tcp_zero_window_probes_total", "Zero-window probes sent.", "counter",
         &tcp::stack_counters::zero_window_probes},
        {"meshgate_tcp_tail_loss_probes_total", "Tail loss probes sent (RFC 8985).", "counter",
         &tcp::stack_counters::tail_loss_probes},
    };
    for (const auto& f : sfields) {
        uint64_t v = 0;
        for (const auto* p : proxies) v += read_counter(p->stack().counters().*f.member);
        w.family(f.name, f.help, f.type);
        w.sample(f.name, {}, v);
    }
    struct pfield {
        const char* name;
        const char* help;
        const char* type;
        uint64_t tcp::proxy_counters::*member;
    };
    static constexpr pfield pfields[] = {
        {"meshgate_tcp_proxy_accepted_total", "Client connections accepted by tcp-proxy services.", "counter",
         &tcp::proxy_counters::accepted},
        {"meshgate_tcp_proxy_refused_total", "Client connections reset: no usable backend or no room.", "counter",
         &tcp::proxy_counters::refused},
        {"meshgate_tcp_proxy_backend_connected_total", "Backend connections established.", "counter",
         &tcp::proxy_counters::backend_connected},
        {"meshgate_tcp_proxy_backend_failed_total",
         "Backend connections refused, reset or timed out before connecting.", "counter",
         &tcp::proxy_counters::backend_failed},
        {"meshgate_tcp_proxy_connect_timeouts_total", "Backend connects that hit the connect timeout.", "counter",
         &tcp::proxy_counters::connect_timeouts},
        {"meshgate_tcp_proxy_idle_timeouts_total", "Connections ended by the idle timeout.", "counter",
         &tcp::proxy_counters::idle_timeouts},
        {"meshgate_tcp_proxy_resets_forwarded_total", "Connections reset because the other side was reset or failed.",
         "counter", &tcp::proxy_counters::resets_forwarded},
        {"meshgate_tcp_proxy_completed_total", "Spliced connections that ended with both sides closed normally.",
         "counter", &tcp::proxy_counters::completed},
        {"meshgate_tcp_proxy_active", "Spliced connection pairs alive.", "gauge", &tcp::proxy_counters::active},
    };
    for (const auto& f : pfields) {
        uint64_t v = 0;
        for (const auto* p : proxies) v += read_counter(p->counters().*f.member);
        w.family(f.name, f.help, f.type);
        w.sample(f.name, {}, v);
    }
    w.family("meshgate_tcp_proxy_bytes_total", "Payload bytes moved by tcp-proxy services.", "counter");
    uint64_t c2b = 0, b2c = 0;
    for (const auto* p : proxies) {
        c2b += read_counter(p->counters().bytes_client_to_backend);
        b2c += read_counter(p->counters().bytes_backend_to_client);
    }
    w.sample("meshgate_tcp_proxy_bytes_total", {{"direction", "client_to_backend"}}, c2b);
    w.sample("meshgate_tcp_proxy_bytes_total", {{"direction", "backend_to_client"}}, b2c);
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
    if (!src.proxies.empty()) tcp_metrics(w, src.proxies);
    w.family("meshgate_log_suppressed_total", "Log lines dropped by rate limits.", "counter");
    w.sample("meshgate_log_suppressed_total", {}, telemetry::log_suppressed_total());
    return std::move(w).str();
}

}  // namespace meshgate::dataplane
