#include "dataplane/stats.hpp"

#include <rte_telemetry.h>

#include <cstdio>

namespace meshgate::dataplane {

port_counters sum_port(const stats_source& s, uint16_t port) noexcept {
    port_counters out{};
    for (unsigned c = 0; c < s.n_cores; ++c) {
        const auto& p = s.cores[c].ports[port];
        out.rx_packets += read_counter(p.rx_packets);
        out.rx_bytes += read_counter(p.rx_bytes);
        out.tx_packets += read_counter(p.tx_packets);
        out.tx_bytes += read_counter(p.tx_bytes);
        for (unsigned r = 0; r < drop_reason_count; ++r) out.drops[r] += read_counter(p.drops[r]);
    }
    return out;
}

uint64_t sum_field(const stats_source& s, uint64_t core_counters::*field) noexcept {
    uint64_t v = 0;
    for (unsigned c = 0; c < s.n_cores; ++c) v += read_counter(s.cores[c].*field);
    return v;
}

std::string format_report(const stats_source& s) {
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line, "%-6s %-16s %14s %14s %14s %14s %12s\n", "port", "interfaces", "rx_packets",
                  "rx_bytes", "tx_packets", "tx_bytes", "dropped");
    out += line;
    for (const auto& pl : s.ports) {
        auto p = sum_port(s, pl.port);
        uint64_t dropped = 0;
        for (unsigned r = 1; r < drop_reason_count; ++r) dropped += p.drops[r];
        std::snprintf(line, sizeof line, "%-6u %-16s %14lu %14lu %14lu %14lu %12lu\n", pl.port, pl.name.c_str(),
                      p.rx_packets, p.rx_bytes, p.tx_packets, p.tx_bytes, dropped);
        out += line;
        for (unsigned r = 1; r < drop_reason_count; ++r) {
            if (p.drops[r] == 0) continue;
            auto name = drop_reason_name(static_cast<drop_reason>(r));
            std::snprintf(line, sizeof line, "       drop %-28.*s %14lu\n", static_cast<int>(name.size()), name.data(),
                          p.drops[r]);
            out += line;
        }
    }
    std::snprintf(line, sizeof line,
                  "icmp_errors_sent %lu icmp_echo_replies %lu fragments_sent %lu punted %lu "
                  "nd_replies_sent %lu nd_solicits_sent %lu neighbors_learned %lu\n",
                  sum_field(s, &core_counters::icmp_errors_sent), sum_field(s, &core_counters::icmp_echo_replies),
                  sum_field(s, &core_counters::fragments_sent), sum_field(s, &core_counters::punted),
                  sum_field(s, &core_counters::arp_replies_sent), sum_field(s, &core_counters::neighbor_solicits_sent),
                  sum_field(s, &core_counters::neighbors_learned));
    out += line;
    std::snprintf(line, sizeof line,
                  "sessions_active %lu sessions_created %lu sessions_expired %lu half_open %lu syn_cookies_sent %lu "
                  "syn_cookies_accepted %lu acl_logged %lu nat_icmp_errors %lu nat64_translated %lu\n",
                  sum_field(s, &core_counters::sessions_active), sum_field(s, &core_counters::sessions_created),
                  sum_field(s, &core_counters::sessions_expired), sum_field(s, &core_counters::sessions_half_open),
                  sum_field(s, &core_counters::syn_cookies_sent), sum_field(s, &core_counters::syn_cookies_accepted),
                  sum_field(s, &core_counters::acl_logged), sum_field(s, &core_counters::nat_icmp_errors),
                  sum_field(s, &core_counters::nat64_translated));
    out += line;
    return out;
}

namespace {

const stats_source* g_source = nullptr;

int tel_ports(const char*, const char* params, rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    for (const auto& pl : g_source->ports) {
        if (params != nullptr && *params != '\0' && pl.name != params && std::to_string(pl.port) != params) continue;
        auto p = sum_port(*g_source, pl.port);
        rte_tel_data* c = rte_tel_data_alloc();
        rte_tel_data_start_dict(c);
        rte_tel_data_add_dict_u64(c, "port", pl.port);
        rte_tel_data_add_dict_u64(c, "rx_packets", p.rx_packets);
        rte_tel_data_add_dict_u64(c, "rx_bytes", p.rx_bytes);
        rte_tel_data_add_dict_u64(c, "tx_packets", p.tx_packets);
        rte_tel_data_add_dict_u64(c, "tx_bytes", p.tx_bytes);
        for (unsigned r = 1; r < drop_reason_count; ++r) {
            std::string key = "drop_" + std::string(drop_reason_name(static_cast<drop_reason>(r)));
            rte_tel_data_add_dict_u64(c, key.c_str(), p.drops[r]);
        }
        rte_tel_data_add_dict_container(d, pl.name.c_str(), c, 0);
    }
    return 0;
}

int tel_drops(const char*, const char*, rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    for (unsigned r = 1; r < drop_reason_count; ++r) {
        uint64_t total = 0;
        for (const auto& pl : g_source->ports) total += sum_port(*g_source, pl.port).drops[r];
        std::string key(drop_reason_name(static_cast<drop_reason>(r)));
        rte_tel_data_add_dict_u64(d, key.c_str(), total);
    }
    return 0;
}

int tel_info(const char*, const char*, rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "config_generation", g_source->generation);
    rte_tel_data_add_dict_u64(d, "workers", g_source->n_cores - 1);
    rte_tel_data_add_dict_u64(d, "icmp_errors_sent", sum_field(*g_source, &core_counters::icmp_errors_sent));
    rte_tel_data_add_dict_u64(d, "icmp_echo_replies", sum_field(*g_source, &core_counters::icmp_echo_replies));
    rte_tel_data_add_dict_u64(d, "fragments_sent", sum_field(*g_source, &core_counters::fragments_sent));
    rte_tel_data_add_dict_u64(d, "punted", sum_field(*g_source, &core_counters::punted));
    rte_tel_data_add_dict_u64(d, "neighbors_learned", sum_field(*g_source, &core_counters::neighbors_learned));
    return 0;
}

int tel_l4(const char*, const char*, rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    const std::pair<const char*, uint64_t core_counters::*> fields[] = {
        {"sessions_active", &core_counters::sessions_active},
        {"sessions_created", &core_counters::sessions_created},
        {"sessions_expired", &core_counters::sessions_expired},
        {"sessions_half_open", &core_counters::sessions_half_open},
        {"syn_cookies_sent", &core_counters::syn_cookies_sent},
        {"syn_cookies_accepted", &core_counters::syn_cookies_accepted},
        {"acl_logged", &core_counters::acl_logged},
        {"nat_icmp_errors", &core_counters::nat_icmp_errors},
        {"nat64_translated", &core_counters::nat64_translated},
    };
    for (const auto& [name, field] : fields) rte_tel_data_add_dict_u64(d, name, sum_field(*g_source, field));
    return 0;
}

}  // namespace

void register_telemetry(const stats_source* s) {
    g_source = s;
    rte_telemetry_register_cmd(
        "/meshgate/ports", tel_ports,
        "Per-port rx/tx packets and bytes and drops by reason. Parameters: int port id or interface name");
    rte_telemetry_register_cmd("/meshgate/drops", tel_drops, "Drops by reason, all ports. Takes no parameters");
    rte_telemetry_register_cmd("/meshgate/info", tel_info, "Config generation, workers, ICMP and neighbor counters");
    rte_telemetry_register_cmd("/meshgate/l4", tel_l4,
                               "Sessions (active, created, expired, half-open), SYN cookies, ACL log, NAT counters");
}

}  // namespace meshgate::dataplane
