#include "dataplane/oper_state.hpp"

#include <rte_cycles.h>

#include <charconv>
#include <cmath>
#include <ctime>
#include <map>
#include <string_view>

#include "dataplane/control.hpp"
#include "dataplane/drop_reason.hpp"
#include "dataplane/forwarder.hpp"
#include "dataplane/l4/health.hpp"
#include "dataplane/l4/l4_runtime.hpp"
#include "dataplane/l4/l4_stats.hpp"
#include "dataplane/neighbor.hpp"
#include "telemetry/log.hpp"

namespace meshgate::dataplane {

namespace {

// Merges entries that share a key into the first one with that key (order kept).
template <class T, class Key, class Merge>
std::vector<T> unique_by(const std::vector<T>& in, Key key, Merge merge) {
    std::vector<T> out;
    std::map<std::string, size_t> at;
    for (const auto& e : in) {
        auto [it, fresh] = at.try_emplace(key(e), out.size());
        if (fresh) {
            out.push_back(e);
        } else {
            merge(out[it->second], e);
        }
    }
    return out;
}

class json_out {
public:
    std::string s;

    void key(std::string_view k) {
        comma();
        s += '"';
        s += k;
        s += "\":";
        first_ = false;
    }
    void open(char c) {
        s += c;
        first_ = true;
    }
    void close(char c) {
        s += c;
        first_ = false;
    }
    void obj_in_array() {
        comma();
        open('{');
    }
    void str(std::string_view k, std::string_view v) {
        key(k);
        s += '"';
        telemetry::json_escape(s, v);
        s += '"';
    }
    void u64(std::string_view k, uint64_t v) { str(k, std::to_string(v)); }  // RFC 7951 6.1: a string
    void u32(std::string_view k, uint64_t v) {
        key(k);
        s += std::to_string(v);
    }
    void boolean(std::string_view k, bool v) {
        key(k);
        s += v ? "true" : "false";
    }

private:
    void comma() {
        if (!first_) s += ',';
    }
    bool first_ = true;
};

std::string date_and_time(double unix_seconds) {
    auto secs = static_cast<time_t>(std::floor(unix_seconds));
    auto ms = static_cast<int>((unix_seconds - static_cast<double>(secs)) * 1000.0);
    if (ms > 999) ms = 999;
    if (ms < 0) ms = 0;
    tm t{};
    gmtime_r(&secs, &t);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                  t.tm_hour, t.tm_min, t.tm_sec, ms);
    return buf;
}

bool yang_acl_action(const std::string& a) {
    return a == "allow" || a == "deny" || a == "log";
}

}  // namespace

bool split_backend_key(const std::string& key, std::string& address, uint16_t& port) {
    auto colon = key.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= key.size()) return false;
    std::string_view addr(key.data(), colon);
    if (addr.front() == '[') {
        if (addr.size() < 3 || addr.back() != ']') return false;
        addr = addr.substr(1, addr.size() - 2);
    } else if (addr.find(':') != std::string_view::npos) {
        return false;
    }
    unsigned p = 0;
    const char* end = key.data() + key.size();
    auto [ptr, ec] = std::from_chars(key.data() + colon + 1, end, p);
    if (ec != std::errc() || ptr != end || p > 65535) return false;
    address = std::string(addr);
    port = static_cast<uint16_t>(p);
    return true;
}

oper_state collect_oper_state(const metrics_sources& src) {
    oper_state o;
    const stats_source& s = *src.stats;
    o.config_generation = s.generation;
    o.uptime_seconds = (rte_rdtsc() - src.start_tsc) / (src.tsc_hz != 0 ? src.tsc_hz : 1);
    o.workers = s.n_cores - 1;
    if (src.reloads != nullptr) {
        o.has_reloads = true;
        o.reloads_applied = src.reloads->applied;
        o.reloads_rejected = src.reloads->rejected;
        o.reloads_last_ok = src.reloads->last_ok;
        o.reloads_last_unix = src.reloads->last_unix;
    }
    for (const auto& pl : s.ports) {
        auto p = sum_port(s, pl.port);
        oper_state::interface i;
        i.name = pl.name;
        i.port = pl.port;
        i.rx_packets = p.rx_packets;
        i.rx_bytes = p.rx_bytes;
        i.tx_packets = p.tx_packets;
        i.tx_bytes = p.tx_bytes;
        for (unsigned r = 1; r < drop_reason_count; ++r)
            i.drops.push_back({std::string(drop_reason_name(static_cast<drop_reason>(r))), p.drops[r]});
        o.interfaces.push_back(std::move(i));
    }
    o.icmp_errors_sent = sum_field(s, &core_counters::icmp_errors_sent);
    o.icmp_echo_replies = sum_field(s, &core_counters::icmp_echo_replies);
    if (src.control != nullptr) {
        auto n = src.control->count_neighbors();
        for (size_t i = 1; i < n.size(); ++i)
            o.neighbors.emplace_back(to_string(static_cast<neighbor_state>(i)), uint64_t{n[i]});
    }
    o.sessions_active = sum_field(s, &core_counters::sessions_active);
    o.sessions_half_open = sum_field(s, &core_counters::sessions_half_open);
    o.sessions_created = sum_field(s, &core_counters::sessions_created);
    o.sessions_expired = sum_field(s, &core_counters::sessions_expired);
    o.syn_cookies_sent = sum_field(s, &core_counters::syn_cookies_sent);
    o.syn_cookies_accepted = sum_field(s, &core_counters::syn_cookies_accepted);
    o.nat_icmp_errors = sum_field(s, &core_counters::nat_icmp_errors);
    o.nat64_translated = sum_field(s, &core_counters::nat64_translated);

    const l4::l4_runtime* rt = src.pub != nullptr ? src.pub->l4.load(std::memory_order_acquire) : nullptr;
    if (rt != nullptr) {
        std::map<std::string, size_t> svc_at;
        for (const auto& r : l4::service_rows(*rt)) {
            svc_at.try_emplace(r.name, o.services.size());
            o.services.push_back({r.name, r.backends, r.backends_up, {}});
        }
        for (const auto& b : l4::backend_rows(*rt, s.cores, s.n_cores, src.health)) {
            auto it = svc_at.find(b.service);
            oper_state::backend ob;
            if (it == svc_at.end() || !split_backend_key(b.backend, ob.address, ob.port)) continue;
            ob.up = b.up;
            ob.connections = b.connections;
            ob.packets_to = b.packets_to;
            ob.packets_from = b.packets_from;
            ob.bytes_to = b.bytes_to;
            ob.bytes_from = b.bytes_from;
            o.services[it->second].backends.push_back(std::move(ob));
        }
        for (const auto& a : l4::acl_rows(*rt, s.cores, s.n_cores)) o.acl_rules.push_back({a.rule, a.action, a.hits});
        for (const auto& p : l4::snat_rows(*rt, s.cores, s.n_cores))
            o.snat_pools.push_back({p.pool, p.in_use, p.capacity});
    }
    if (src.taps) o.taps = src.taps();
    return o;
}

std::string to_json(const oper_state& s) {
    json_out j;
    j.open('{');
    j.key("meshgate-config:operational");
    j.open('{');
    j.u64("config-generation", s.config_generation);
    j.u64("uptime", s.uptime_seconds);
    j.u32("workers", s.workers);
    if (s.has_reloads) {
        j.key("config-reloads");
        j.open('{');
        j.u64("applied", s.reloads_applied);
        j.u64("rejected", s.reloads_rejected);
        j.boolean("last-success", s.reloads_last_ok);
        if (s.reloads_last_unix > 0) j.str("last-attempt", date_and_time(s.reloads_last_unix));
        j.close('}');
    }

    auto interfaces = unique_by(
        s.interfaces, [](const oper_state::interface& i) { return i.name; },
        [](oper_state::interface& a, const oper_state::interface& b) {
            a.rx_packets += b.rx_packets;
            a.rx_bytes += b.rx_bytes;
            a.tx_packets += b.tx_packets;
            a.tx_bytes += b.tx_bytes;
            a.drops.insert(a.drops.end(), b.drops.begin(), b.drops.end());
        });
    if (!interfaces.empty()) {
        j.key("interface");
        j.open('[');
        for (const auto& i : interfaces) {
            j.obj_in_array();
            j.str("name", i.name);
            j.u32("port", i.port);
            j.u64("rx-packets", i.rx_packets);
            j.u64("rx-bytes", i.rx_bytes);
            j.u64("tx-packets", i.tx_packets);
            j.u64("tx-bytes", i.tx_bytes);
            auto drops = unique_by(
                i.drops, [](const oper_state::drop& d) { return d.reason; },
                [](oper_state::drop& a, const oper_state::drop& b) { a.packets += b.packets; });
            if (!drops.empty()) {
                j.key("drop");
                j.open('[');
                for (const auto& d : drops) {
                    j.obj_in_array();
                    j.str("reason", d.reason);
                    j.u64("packets", d.packets);
                    j.close('}');
                }
                j.close(']');
            }
            j.close('}');
        }
        j.close(']');
    }

    j.key("icmp");
    j.open('{');
    j.u64("errors-sent", s.icmp_errors_sent);
    j.u64("echo-replies", s.icmp_echo_replies);
    j.close('}');

    using nrow = std::pair<std::string, uint64_t>;
    auto neighbors = unique_by(
        s.neighbors, [](const nrow& n) { return n.first; }, [](nrow& a, const nrow& b) { a.second += b.second; });
    if (!neighbors.empty()) {
        j.key("neighbors");
        j.open('[');
        for (const auto& [state, entries] : neighbors) {
            j.obj_in_array();
            j.str("state", state);
            j.u64("entries", entries);
            j.close('}');
        }
        j.close(']');
    }

    j.key("sessions");
    j.open('{');
    j.u64("active", s.sessions_active);
    j.u64("half-open", s.sessions_half_open);
    j.u64("created", s.sessions_created);
    j.u64("expired", s.sessions_expired);
    j.u64("syn-cookies-sent", s.syn_cookies_sent);
    j.u64("syn-cookies-accepted", s.syn_cookies_accepted);
    j.u64("nat-icmp-errors", s.nat_icmp_errors);
    j.u64("nat64-translated", s.nat64_translated);
    j.close('}');

    auto services = unique_by(
        s.services, [](const oper_state::service& v) { return v.name; },
        [](oper_state::service& a, const oper_state::service& b) {
            a.backends.insert(a.backends.end(), b.backends.begin(), b.backends.end());
        });
    if (!services.empty()) {
        j.key("service");
        j.open('[');
        for (const auto& v : services) {
            j.obj_in_array();
            j.str("name", v.name);
            j.u32("backends", v.backends_configured);
            j.u32("backends-up", v.backends_up);
            auto backends = unique_by(
                v.backends, [](const oper_state::backend& b) { return b.address + " " + std::to_string(b.port); },
                [](oper_state::backend& a, const oper_state::backend& b) {
                    a.up = a.up || b.up;
                    a.connections += b.connections;
                    a.packets_to += b.packets_to;
                    a.packets_from += b.packets_from;
                    a.bytes_to += b.bytes_to;
                    a.bytes_from += b.bytes_from;
                });
            if (!backends.empty()) {
                j.key("backend");
                j.open('[');
                for (const auto& b : backends) {
                    j.obj_in_array();
                    j.str("address", b.address);
                    j.u32("port", b.port);
                    j.boolean("up", b.up);
                    j.u64("connections", b.connections);
                    j.u64("packets-to-backend", b.packets_to);
                    j.u64("packets-from-backend", b.packets_from);
                    j.u64("bytes-to-backend", b.bytes_to);
                    j.u64("bytes-from-backend", b.bytes_from);
                    j.close('}');
                }
                j.close(']');
            }
            j.close('}');
        }
        j.close(']');
    }

    auto rules = unique_by(
        s.acl_rules, [](const oper_state::acl_rule& r) { return r.rule; },
        [](oper_state::acl_rule& a, const oper_state::acl_rule& b) {
            a.hits += b.hits;
            if (a.action != b.action) a.action = "mixed";
        });
    if (!rules.empty()) {
        j.key("acl-rule");
        j.open('[');
        for (const auto& r : rules) {
            j.obj_in_array();
            j.str("rule", r.rule);
            if (yang_acl_action(r.action)) j.str("action", r.action);
            j.u64("hits", r.hits);
            j.close('}');
        }
        j.close(']');
    }

    auto pools = unique_by(
        s.snat_pools, [](const oper_state::snat_pool& p) { return p.name; },
        [](oper_state::snat_pool& a, const oper_state::snat_pool& b) {
            a.in_use += b.in_use;
            a.capacity += b.capacity;
        });
    if (!pools.empty()) {
        j.key("snat-pool");
        j.open('[');
        for (const auto& p : pools) {
            j.obj_in_array();
            j.str("name", p.name);
            j.u64("ports-in-use", p.in_use);
            j.u64("ports", p.capacity);
            j.close('}');
        }
        j.close(']');
    }

    auto taps = unique_by(
        s.taps, [](const tap_metrics_row& t) { return t.name; }, [](tap_metrics_row&, const tap_metrics_row&) {});
    if (!taps.empty()) {
        j.key("tap");
        j.open('[');
        for (const auto& t : taps) {
            j.obj_in_array();
            j.str("name", t.name);
            j.boolean("running", t.running);
            j.u64("matched-packets", t.matched);
            j.u64("captured-packets", t.captured);
            j.key("dropped");
            j.open('[');
            const std::pair<const char*, uint64_t> dropped[] = {{"rate_limit", t.dropped_rate_limit},
                                                                {"ring_full", t.dropped_ring_full},
                                                                {"no_buffer", t.dropped_no_buffer}};
            for (const auto& [reason, n] : dropped) {
                j.obj_in_array();
                j.str("reason", reason);
                j.u64("packets", n);
                j.close('}');
            }
            j.close(']');
            j.u64("written-bytes", t.written_bytes);
            j.u64("mirrored-packets", t.mirrored);
            j.u32("files", t.files > UINT32_MAX ? UINT32_MAX : t.files);
            j.close('}');
        }
        j.close(']');
    }
    j.close('}');
    j.close('}');
    return std::move(j.s);
}

}  // namespace meshgate::dataplane
