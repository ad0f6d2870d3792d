#include "dataplane/l4/health.hpp"

#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdio>
#include <cstring>

#include "dataplane/forwarder.hpp"
#include "dataplane/runtime.hpp"
#include "dataplane/wire.hpp"
#include "telemetry/log.hpp"

namespace meshgate::dataplane::l4 {
namespace {

using namespace wire;

constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;

std::string ntoa(const uint8_t* a, uint8_t family) {
    char buf[64];
    if (family == 4) {
        std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
        return buf;
    }
    ipv6_addr v6;
    std::memcpy(v6.bytes.data(), a, 16);
    // Appended piece by piece: `"[" + std::string&&` trips GCC 12's -Wrestrict false positive
    // (bug 105329) in builds without LTO.
    std::string s = "[";
    s += to_string(v6);
    s += "]";
    return s;
}

}  // namespace

void health_checker::configure(const policy::config& cfg, const l4_runtime& rt, const runtime* routes, uint64_t now) {
    routes_ = routes;
    std::vector<target> next;
    for (size_t si = 0; si < cfg.services.size() && si < rt.services.size(); ++si) {
        const auto& sc = cfg.services[si];
        const auto& sr = rt.services[si];
        if (sc.health.type == policy::health_check::kind::none) continue;
        for (const auto& b : sr.backends) {
            if (!b.has_probe_src) continue;
            target t;
            t.service = sc.name;
            t.key = b.key;
            t.hc = sc.health;
            t.family = b.family;
            std::memcpy(t.addr, b.addr, 16);
            std::memcpy(t.src, b.probe_src, 16);
            t.port = sc.health.http_port != 0 ? sc.health.http_port : b.port;
            // Spread the first probes over one interval instead of sending them all at once.
            t.next = now + (hz_ * sc.health.interval_ms / 1000) * (next.size() % 8) / 8;
            for (const auto& old : targets_) {
                if (old.service == t.service && old.key == t.key) {
                    t.up = old.up;
                    t.successes = old.successes;
                    t.failures = old.failures;
                    t.last_error = old.last_error;
                    t.rtt = old.rtt;
                }
            }
            next.push_back(std::move(t));
        }
    }
    targets_ = std::move(next);
}

bool health_checker::healthy(const std::string& service, const std::string& backend_key) const {
    for (const auto& t : targets_) {
        if (t.service == service && t.key == backend_key) return t.up;
    }
    return true;
}

std::vector<std::string> health_checker::describe() const {
    std::vector<std::string> out;
    for (const auto& t : targets_) {
        out.push_back(t.service + " " + t.key + " " + (t.up ? "up" : "down") +
                      (t.last_error.empty() ? "" : " (" + t.last_error + ")"));
    }
    return out;
}

void health_checker::send_segment(target& t, uint32_t seq, uint32_t acknum, uint8_t flags,
                                  const std::string& payload) noexcept {
    if (fwd_ == nullptr || routes_ == nullptr) return;
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) return;
    bool v6 = t.family == 6;
    uint16_t l3 = v6 ? 40 : 20;
    uint16_t tcp_len = static_cast<uint16_t>((flags & syn) != 0 ? 24 : 20);
    auto total = static_cast<uint16_t>(l3 + tcp_len + payload.size());
    auto* ip = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, total));
    if (ip == nullptr) {
        rte_pktmbuf_free(m);
        return;
    }
    std::memset(ip, 0, total);
    uint8_t* tcp = ip + l3;
    wr16(tcp, t.sport);
    wr16(tcp + 2, t.port);
    wr32(tcp + 4, seq);
    wr32(tcp + 8, acknum);
    tcp[12] = static_cast<uint8_t>((tcp_len / 4) << 4);
    tcp[13] = flags;
    wr16(tcp + 14, 65535);
    if ((flags & syn) != 0) {
        tcp[20] = 2;
        tcp[21] = 4;
        wr16(tcp + 22, v6 ? 1220 : 1240);  // small: the probe must fit any path
    }
    std::memcpy(tcp + tcp_len, payload.data(), payload.size());
    if (v6) {
        ip[0] = 0x60;
        wr16(ip + 4, static_cast<uint16_t>(total - 40));
        ip[6] = 6;
        ip[7] = 64;
        std::memcpy(ip + 8, t.src, 16);
        std::memcpy(ip + 24, t.addr, 16);
        auto ck = rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(ip), tcp);
        std::memcpy(tcp + 16, &ck, 2);
        const next_hop* nh = routes_->routes->lookup6(t.addr);
        if (nh == nullptr || nh->kind != nh_kind::forward) {
            rte_pktmbuf_free(m);
            return;
        }
        uint8_t dst[16];
        std::memcpy(dst, t.addr, 16);
        fwd_->emit6(m, 0, *nh, dst, no_interface, *batch_);
    } else {
        ip[0] = 0x45;
        wr16(ip + 2, total);
        wr16(ip + 6, 0x4000);
        ip[8] = 64;
        ip[9] = 6;
        std::memcpy(ip + 12, t.src, 4);
        std::memcpy(ip + 16, t.addr, 4);
        auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
        h->hdr_checksum = rte_ipv4_cksum(h);
        auto ck = rte_ipv4_udptcp_cksum(h, tcp);
        std::memcpy(tcp + 16, &ck, 2);
        uint32_t dst = rd32(t.addr);
        const next_hop* nh = routes_->routes->lookup4(dst);
        if (nh == nullptr || nh->kind != nh_kind::forward) {
            rte_pktmbuf_free(m);
            return;
        }
        fwd_->emit4(m, 0, *nh, dst, no_interface, *batch_);
    }
    if (flush_ != nullptr) flush_(flush_arg_);
}

void health_checker::result(target& t, bool ok, const char* why, uint64_t now) noexcept {
    t.busy = false;
    t.stage = 0;
    t.next = now + hz_ * t.hc.interval_ms / 1000;
    if (ok) {
        record_rtt(t, now);
        t.failures = 0;
        ++t.successes;
        t.last_error.clear();
        if (!t.up && t.successes >= t.hc.rise) {
            t.up = true;
            changed_ = true;
            char msg[256];
            std::snprintf(msg, sizeof msg, "health: service %s backend %s up (%u successes)", t.service.c_str(),
                          t.key.c_str(), t.successes);
            telemetry::log(telemetry::level::info, "health.up", msg,
                           {{"service", t.service}, {"backend", t.key}, {"successes", t.successes}});
        }
        return;
    }
    t.successes = 0;
    ++t.failures;
    t.last_error = why;
    if (t.up && t.failures >= t.hc.fall) {
        t.up = false;
        changed_ = true;
        char msg[320];
        std::snprintf(msg, sizeof msg, "health: service %s backend %s down (%u failures, last: %s)", t.service.c_str(),
                      t.key.c_str(), t.failures, why);
        telemetry::log(telemetry::level::warning, "health.down", msg,
                       {{"service", t.service}, {"backend", t.key}, {"failures", t.failures}, {"last_error", why}});
    }
}

void health_checker::record_rtt(target& t, uint64_t now) noexcept {
    double s = now > t.started ? static_cast<double>(now - t.started) / static_cast<double>(hz_) : 0.0;
    size_t b = 0;
    while (b < rtt_bounds.size() && s > rtt_bounds[b]) ++b;
    ++t.rtt.buckets[b];
    ++t.rtt.count;
    t.rtt.sum += s;
}

bool health_checker::poll(uint64_t now) noexcept {
    for (auto& t : targets_) {
        if (t.busy) {
            if (now >= t.deadline) {
                if (t.stage >= 1) send_segment(t, t.isn + 1, 0, rst, {});
                result(t, false, t.stage == 2 ? "no HTTP answer" : "timeout", now);
            }
            continue;
        }
        if (now < t.next) continue;
        t.sport = next_port_;
        next_port_ = next_port_ == probe_port_max ? probe_port_min : static_cast<uint16_t>(next_port_ + 1);
        t.isn = static_cast<uint32_t>(now >> 4) ^ (uint32_t{t.sport} << 16);
        t.busy = true;
        t.stage = 1;
        t.deadline = now + hz_ * t.hc.timeout_ms / 1000;
        t.started = now;
        send_segment(t, t.isn, 0, syn, {});
    }
    return take_changed();
}

void health_checker::on_packet(rte_mbuf* m, uint64_t now) noexcept {
    const uint8_t* ip = rte_pktmbuf_mtod(m, const uint8_t*);
    uint32_t len = rte_pktmbuf_data_len(m);
    bool v6 = len >= 40 && (ip[0] >> 4) == 6;
    uint32_t l3 = v6 ? 40 : (len >= 20 ? (ip[0] & 0xfU) * 4U : 0);
    uint32_t total = v6 ? 40U + rd16(ip + 4) : (len >= 20 ? rd16(ip + 2) : 0);
    if (l3 == 0 || total > len || l3 + 20 > total || (v6 ? ip[6] : ip[9]) != 6) {
        rte_pktmbuf_free(m);
        return;
    }
    const uint8_t* src = v6 ? ip + 8 : ip + 12;
    const uint8_t* tcp = ip + l3;
    uint16_t sport = rd16(tcp);
    uint16_t dport = rd16(tcp + 2);
    uint32_t seq = rd32(tcp + 4);
    uint32_t acknum = rd32(tcp + 8);
    uint8_t flags = tcp[13];
    uint32_t hl = (tcp[12] >> 4) * 4U;
    for (auto& t : targets_) {
        if (!t.busy || t.sport != dport || t.port != sport || t.family != (v6 ? 6 : 4) ||
            std::memcmp(t.addr, src, v6 ? 16 : 4) != 0)
            continue;
        if ((flags & rst) != 0) {
            result(t, false, "connection refused", now);
            break;
        }
        if (t.stage == 1 && (flags & (syn | ack)) == (syn | ack) && acknum == t.isn + 1) {
            if (t.hc.type == policy::health_check::kind::tcp) {
                send_segment(t, t.isn + 1, 0, rst, {});
                result(t, true, "", now);
            } else {
                std::string req = "GET " + t.hc.http_path + " HTTP/1.0\r\nHost: " + ntoa(t.addr, t.family) +
                                  "\r\nUser-Agent: meshgate-health\r\nConnection: close\r\n\r\n";
                send_segment(t, t.isn + 1, seq + 1, ack | psh, req);
                t.stage = 2;
            }
            break;
        }
        if (t.stage == 2 && hl >= 20 && l3 + hl < total) {
            // The first data segment holds the status line: "HTTP/1.x NNN ...".
            const char* p = reinterpret_cast<const char*>(tcp + hl);
            size_t n = total - l3 - hl;
            unsigned status = 0;
            if (n >= 12 && std::memcmp(p, "HTTP/1.", 7) == 0 && p[8] == ' ') {
                for (size_t i = 9; i < 12 && p[i] >= '0' && p[i] <= '9'; ++i) status = status * 10 + (p[i] - '0');
            }
            send_segment(t, acknum, 0, rst, {});
            if (status == t.hc.expect_status) {
                result(t, true, "", now);
            } else {
                char why[64];
                std::snprintf(why, sizeof why, status == 0 ? "not an HTTP answer" : "HTTP status %u", status);
                result(t, false, why, now);
            }
            break;
        }
        if ((flags & fin) != 0 && t.stage == 2) {
            send_segment(t, acknum, 0, rst, {});
            result(t, false, "closed without an answer", now);
        }
        break;
    }
    rte_pktmbuf_free(m);
}

}  // namespace meshgate::dataplane::l4
