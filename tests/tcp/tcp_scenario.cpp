// tcp_scenario: runs packet-level scenario files (tests/tcp/scenarios/*.pkt, format in
// tests/tcp/README.md) against the user-space TCP stack (dataplane/tcp/tcp_stack.hpp) on a
// virtual clock. Each scenario gets a fresh stack and runs in a forked child, so a crash or a
// hang in the stack fails that scenario only.
//
//   tcp_scenario [-v] [--list] [--no-fork] [-k SUBSTR] [--timeout SEC] FILE|DIR...
//
// Output: one PASS/FAIL line per scenario; the last line is exactly "N passed, M failed".
#include <poll.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/tcp/tcp_stack.hpp"
#include "tests/tcp/scenario.hpp"
#include "tests/tcp/scenario_wire.hpp"

namespace meshgate::test::tcp {
namespace {

namespace ts = meshgate::dataplane::tcp;

bool g_verbose = false;

// Byte patterns: the peer's data is keyed by absolute sequence number (so retransmissions and
// overlaps carry the same bytes), the app's data by stream offset.
inline uint8_t peer_byte(uint32_t seq) {
    return static_cast<uint8_t>((seq * 2654435761u) >> 24);
}
inline uint8_t app_byte(uint64_t off) {
    return static_cast<uint8_t>((static_cast<uint32_t>(off) * 2246822519u + 0x9e37u) >> 23);
}

std::string fmt_time(uint64_t us) {
    char b[32];
    std::snprintf(b, sizeof b, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
    std::string s(b);
    // trim to milliseconds when exact
    if (s.size() > 3 && s.compare(s.size() - 3, 3, "000") == 0) s.resize(s.size() - 3);
    return s;
}

struct scenario_failure {
    int line;
    std::string msg;
};

struct conn_rec {
    std::string name;
    addr laddr, raddr;
    uint16_t lport = 0, rport = 0;
    ts::tcp_conn* c = nullptr;  // null before accept/connect, and once gone
    bool gone = false;          // on_closed ran or the app aborted
    bool app_closed = false;    // the app called close(): no more callbacks, pointer may die
    bool isn_known = false;
    uint32_t isn = 0;
    bool peer_isn_known = false;
    uint32_t peer_isn = 0;
    uint64_t sent = 0;      // app bytes queued by send
    uint64_t received = 0;  // app bytes read by recv
    bool ts_seen = false;
    uint32_t last_tsval = 0;
};

struct out_pkt {
    uint64_t t;
    conn_rec* rec;
    wire_seg seg;
};

struct event_rec {
    uint64_t t;
    conn_rec* rec;
    std::string kind;
    bool consumed = false;
};

struct listener_rec {
    addr a;
    uint16_t port;
    int id;
};

const std::map<std::string, uint64_t ts::stack_counters::*>& counter_fields() {
    static const std::map<std::string, uint64_t ts::stack_counters::*> m = {
        {"segments_in", &ts::stack_counters::segments_in},
        {"segments_out", &ts::stack_counters::segments_out},
        {"bytes_in", &ts::stack_counters::bytes_in},
        {"bytes_out", &ts::stack_counters::bytes_out},
        {"retransmits", &ts::stack_counters::retransmits},
        {"rto_expired", &ts::stack_counters::rto_expired},
        {"fast_retransmits", &ts::stack_counters::fast_retransmits},
        {"active_opens", &ts::stack_counters::active_opens},
        {"passive_opens", &ts::stack_counters::passive_opens},
        {"established", &ts::stack_counters::established},
        {"time_wait", &ts::stack_counters::time_wait},
        {"conns", &ts::stack_counters::conns},
        {"resets_in", &ts::stack_counters::resets_in},
        {"resets_out", &ts::stack_counters::resets_out},
        {"challenge_acks", &ts::stack_counters::challenge_acks},
        {"challenge_acks_suppressed", &ts::stack_counters::challenge_acks_suppressed},
        {"syn_cookies_sent", &ts::stack_counters::syn_cookies_sent},
        {"syn_cookies_accepted", &ts::stack_counters::syn_cookies_accepted},
        {"syn_cookies_rejected", &ts::stack_counters::syn_cookies_rejected},
        {"paws_rejected", &ts::stack_counters::paws_rejected},
        {"bad_checksum", &ts::stack_counters::bad_checksum},
        {"malformed", &ts::stack_counters::malformed},
        {"ooo_segments", &ts::stack_counters::ooo_segments},
        {"ooo_dropped", &ts::stack_counters::ooo_dropped},
        {"duplicate_segments", &ts::stack_counters::duplicate_segments},
        {"out_of_window", &ts::stack_counters::out_of_window},
        {"tiny_mss_clamped", &ts::stack_counters::tiny_mss_clamped},
        {"no_connection", &ts::stack_counters::no_connection},
        {"table_full", &ts::stack_counters::table_full},
        {"output_dropped", &ts::stack_counters::output_dropped},
        {"time_wait_reused", &ts::stack_counters::time_wait_reused},
        {"keepalive_timeouts", &ts::stack_counters::keepalive_timeouts},
        {"zero_window_probes", &ts::stack_counters::zero_window_probes},
        {"tail_loss_probes", &ts::stack_counters::tail_loss_probes},
    };
    return m;
}

bool compare_op(const std::string& op, uint64_t got, uint64_t want) {
    if (op == "==" || op == "=") return got == want;
    if (op == "!=") return got != want;
    if (op == ">=") return got >= want;
    if (op == "<=") return got <= want;
    if (op == ">") return got > want;
    if (op == "<") return got < want;
    throw scenario_failure{0, "unknown comparison '" + op + "'"};
}

std::string state_upper(ts::tcp_state s) {
    switch (s) {
        case ts::tcp_state::closed:
            return "CLOSED";
        case ts::tcp_state::listen:
            return "LISTEN";
        case ts::tcp_state::syn_sent:
            return "SYN_SENT";
        case ts::tcp_state::syn_received:
            return "SYN_RECEIVED";
        case ts::tcp_state::established:
            return "ESTABLISHED";
        case ts::tcp_state::fin_wait_1:
            return "FIN_WAIT_1";
        case ts::tcp_state::fin_wait_2:
            return "FIN_WAIT_2";
        case ts::tcp_state::close_wait:
            return "CLOSE_WAIT";
        case ts::tcp_state::closing:
            return "CLOSING";
        case ts::tcp_state::last_ack:
            return "LAST_ACK";
        case ts::tcp_state::time_wait:
            return "TIME_WAIT";
    }
    return "?";
}

const char* reason_name(ts::close_reason r) {
    switch (r) {
        case ts::close_reason::normal:
            return "normal";
        case ts::close_reason::reset:
            return "reset";
        case ts::close_reason::refused:
            return "refused";
        case ts::close_reason::timeout:
            return "timeout";
        case ts::close_reason::aborted:
            return "aborted";
        case ts::close_reason::connect_timeout:
            return "connect_timeout";
    }
    return "?";
}

class runner {
public:
    runner(const scenario& sc, rte_mempool* pool) : sc_(sc), pool_(pool) {}

    // Throws scenario_failure.
    void run() {
        apply_config();
        auto created = ts::tcp_stack::create(cfg_, pool_, 0, 1, base_us_);
        if (!created) throw scenario_failure{0, "tcp_stack::create failed: " + created.error_message()};
        st_ = std::move(created.value());
        if (port_min_ != 0) st_->set_port_range(port_min_, port_max_);
        uint64_t last_t = 0;
        for (const auto& s : sc_.steps) {
            cur_line_ = s.line;
            if (g_verbose) std::printf("  [%s] line %d: %s\n", fmt_time(now_).c_str(), s.line, s.text.c_str());
            do_step(s);
            last_t = std::max(last_t, s.t_us);
        }
        cur_line_ = 0;
        if (!sc_.ignore_rest) {
            advance_to(std::max(now_, last_t + tol_us_));
            if (!q_.empty())
                throw scenario_failure{0, "unexpected output after the last line: " + describe_out(q_.front())};
        }
    }

    // Frees the stack; returns the number of mbufs not back in the pool.
    void teardown() {
        drain_all_discard();
        st_.reset();
    }

private:
    // ---------------------------------------------------------------- config
    void apply_config() {
        std::string family = "4";
        std::string local, remote;
        for (const auto& c : sc_.config) {
            cur_line_ = c.line;
            auto num = [&](uint64_t max) {
                char* end = nullptr;
                unsigned long long v = std::strtoull(c.value.c_str(), &end, 0);
                if (*end || v > max) throw scenario_failure{c.line, "bad value for " + c.key + ": " + c.value};
                return v;
            };
            const std::string& k = c.key;
            if (k == "max_connections")
                cfg_.max_connections = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "max_time_wait")
                cfg_.max_time_wait = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "mss")
                cfg_.mss = static_cast<uint16_t>(num(65535));
            else if (k == "mss_floor")
                cfg_.mss_floor = static_cast<uint16_t>(num(65535));
            else if (k == "wscale")
                cfg_.wscale = static_cast<uint8_t>(num(14));
            else if (k == "timestamps")
                cfg_.timestamps = num(1) != 0;
            else if (k == "sack")
                cfg_.sack = num(1) != 0;
            else if (k == "rcv_buf")
                cfg_.rcv_buf = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "snd_buf")
                cfg_.snd_buf = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "ooo_max_per_conn")
                cfg_.ooo_max_per_conn = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "ooo_max_per_core")
                cfg_.ooo_max_per_core = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "rto_initial_us")
                cfg_.rto_initial_us = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "rto_min_us")
                cfg_.rto_min_us = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "rto_max_us")
                cfg_.rto_max_us = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "max_retries")
                cfg_.max_retries = static_cast<uint8_t>(num(255));
            else if (k == "syn_retries")
                cfg_.syn_retries = static_cast<uint8_t>(num(255));
            else if (k == "synack_retries")
                cfg_.synack_retries = static_cast<uint8_t>(num(255));
            else if (k == "delack_us")
                cfg_.delack_us = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "time_wait_us")
                cfg_.time_wait_us = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "keepalive_idle_us")
                cfg_.keepalive_idle_us = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "keepalive_interval_us")
                cfg_.keepalive_interval_us = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "keepalive_probes")
                cfg_.keepalive_probes = static_cast<uint8_t>(num(255));
            else if (k == "persist_min_us")
                cfg_.persist_min_us = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "half_open_budget")
                cfg_.half_open_budget = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "challenge_acks_per_sec")
                cfg_.challenge_acks_per_sec = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "initial_cwnd_segments")
                cfg_.initial_cwnd_segments = static_cast<uint32_t>(num(UINT32_MAX));
            else if (k == "tail_loss_probe")
                cfg_.tail_loss_probe = num(1) != 0;
            else if (k == "cc") {
                if (c.value == "cubic")
                    cfg_.cc = ts::cc_algo::cubic;
                else if (c.value == "newreno")
                    cfg_.cc = ts::cc_algo::newreno;
                else
                    throw scenario_failure{c.line, "cc is cubic or newreno"};
            } else if (k == "family") {
                if (c.value != "4" && c.value != "6") throw scenario_failure{c.line, "family is 4 or 6"};
                family = c.value;
            } else if (k == "local")
                local = c.value;
            else if (k == "remote")
                remote = c.value;
            else if (k == "remote_port")
                remote_port_ = static_cast<uint16_t>(num(65535));
            else if (k == "local_port")
                local_port_ = static_cast<uint16_t>(num(65535));
            else if (k == "tolerance_ms")
                tol_us_ = num(100000) * 1000;
            else if (k == "autorecv")
                autorecv_ = num(1) != 0;
            else if (k == "step_ms")
                step_us_ = std::max<uint64_t>(1, num(60000)) * 1000;
            else if (k == "strict_psh")
                strict_psh_ = num(1) != 0;
            else if (k == "port_range") {
                unsigned a = 0, b = 0;
                if (std::sscanf(c.value.c_str(), "%u %u", &a, &b) != 2 || a > 65535 || b > 65535 || a > b)
                    throw scenario_failure{c.line, "port_range MIN MAX"};
                port_min_ = static_cast<uint16_t>(a);
                port_max_ = static_cast<uint16_t>(b);
            }
        }
        cur_line_ = 0;
        if (local.empty()) local = family == "4" ? "192.0.2.1" : "2001:db8::1";
        if (remote.empty()) remote = family == "4" ? "192.0.2.2" : "2001:db8::2";
        auto l = parse_addr(local), r = parse_addr(remote);
        if (!l || !r || l->family != r->family) throw scenario_failure{0, "bad local/remote address config"};
        local_ = *l;
        remote_ = *r;
        cfg_.isn_secret[0] = 0x6d65736867617465ULL;  // fixed: reproducible ISNs and cookies
        cfg_.isn_secret[1] = 0x7463707363656e31ULL;
    }

    // ---------------------------------------------------------------- clock and output
    void step_clock(uint64_t t) {
        now_ = t;
        st_->poll(base_us_ + now_);
        drain_output();
    }

    void advance_to(uint64_t t) {
        while (now_ < t) step_clock(std::min(t, (now_ / step_us_ + 1) * step_us_));
    }

    void drain_all_discard() {
        if (!st_) return;
        rte_mbuf* out[64];
        uint16_t n;
        while ((n = st_->drain(out, 64)) > 0)
            for (uint16_t i = 0; i < n; i++) rte_pktmbuf_free(out[i]);
    }

    void drain_output() {
        rte_mbuf* out[64];
        uint16_t n;
        while ((n = st_->drain(out, 64)) > 0) {
            for (uint16_t i = 0; i < n; i++) {
                rte_mbuf* m = out[i];
                std::vector<uint8_t> bytes(m->pkt_len);
                uint32_t seglen = 0;
                uint16_t segs = 0;
                for (rte_mbuf* s = m; s; s = s->next) {
                    seglen += s->data_len;
                    segs++;
                }
                const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, bytes.data());
                if (p && p != bytes.data()) std::memcpy(bytes.data(), p, m->pkt_len);
                bool chain_ok = seglen == m->pkt_len && segs == m->nb_segs && p != nullptr;
                rte_pktmbuf_free(m);
                if (!chain_ok) fail_now("stack emitted an mbuf whose pkt_len/nb_segs disagree with its chain");
                std::string why;
                auto seg = parse_packet(bytes, why);
                if (!seg) fail_now("stack emitted a malformed packet at " + fmt_time(now_) + ": " + why);
                conn_rec* rec = find_by_tuple(seg->src, seg->sport, seg->dst, seg->dport);
                if (!rec) rec = anon_rec(*seg);
                if ((seg->flags & f_syn) && !rec->isn_known) {
                    rec->isn_known = true;
                    rec->isn = seg->seq;
                }
                if (seg->opts.has_ts) {
                    // RFC 7323 5.4: TSval values are monotone non-decreasing.
                    if (rec->ts_seen && static_cast<int32_t>(seg->opts.ts_val - rec->last_tsval) < 0)
                        fail_now("TSval went backwards on " + rec->name + ": " + std::to_string(rec->last_tsval) +
                                 " then " + std::to_string(seg->opts.ts_val) + " (RFC 7323 5.4)");
                    rec->ts_seen = true;
                    rec->last_tsval = seg->opts.ts_val;
                }
                if (g_verbose) std::printf("    [%s] %s\n", fmt_time(now_).c_str(), render_actual(rec, *seg).c_str());
                q_.push_back({now_, rec, std::move(*seg)});
            }
        }
    }

    [[noreturn]] void fail_now(const std::string& msg) { throw scenario_failure{cur_line_, msg}; }

    // ---------------------------------------------------------------- connections
    conn_rec* find_by_tuple(const addr& la, uint16_t lp, const addr& ra, uint16_t rp) {
        for (auto& r : conns_)
            if (r->lport == lp && r->rport == rp && r->laddr == la && r->raddr == ra) return r.get();
        return nullptr;
    }

    conn_rec* anon_rec(const wire_seg& s) {
        auto r = std::make_unique<conn_rec>();
        r->name = "?" + render_addr(s.src) + ":" + std::to_string(s.sport) + ">" + render_addr(s.dst) + ":" +
                  std::to_string(s.dport);
        r->laddr = s.src;
        r->lport = s.sport;
        r->raddr = s.dst;
        r->rport = s.dport;
        conns_.push_back(std::move(r));
        return conns_.back().get();
    }

    conn_rec* find_name(const std::string& n) {
        for (auto& r : conns_)
            if (r->name == n) return r.get();
        return nullptr;
    }

    // The named connection; created with the default tuple (first listener, the remote peer at
    // remote_port + N - 1 for cN) when first used by a segment line.
    conn_rec* rec_for(const std::string& name) {
        if (conn_rec* r = find_name(name)) return r;
        auto r = std::make_unique<conn_rec>();
        r->name = name;
        unsigned n = static_cast<unsigned>(std::stoul(name.substr(1)));
        if (!listeners_.empty()) {
            const auto& l = listeners_.front();
            bool any = true;
            for (int i = 0; i < (l.a.family == 4 ? 4 : 16); i++) any = any && l.a.b[i] == 0;
            r->laddr = any ? (l.a.family == local_.family ? local_ : l.a) : l.a;
            r->lport = l.port;
        } else {
            r->laddr = local_;
            r->lport = local_port_;
        }
        r->raddr = remote_;
        if (r->raddr.family != r->laddr.family)
            fail_now("listener family differs from config family; set config family");
        r->rport = static_cast<uint16_t>(remote_port_ + (n == 0 ? 0 : n - 1));
        conns_.push_back(std::move(r));
        return conns_.back().get();
    }

    conn_rec* rec_of_conn(ts::tcp_conn* c) {
        ts::conn_info ci = st_->info(c);
        addr la, ra;
        la.family = ra.family = ci.family == 6 ? 6 : 4;
        std::memcpy(la.b, ci.local_addr, 16);
        std::memcpy(ra.b, ci.remote_addr, 16);
        conn_rec* r = find_by_tuple(la, ci.local_port, ra, ci.remote_port);
        if (!r) {
            for (auto& x : conns_)
                if (x->c == c) return x.get();
            auto nr = std::make_unique<conn_rec>();
            nr->name = "c" + std::to_string(conns_.size() + 1) + "?";
            nr->laddr = la;
            nr->raddr = ra;
            nr->lport = ci.local_port;
            nr->rport = ci.remote_port;
            conns_.push_back(std::move(nr));
            r = conns_.back().get();
        }
        if (r->c != c) {
            r->c = c;
            r->gone = false;
            r->app_closed = false;
        }
        return r;
    }

    ts::tcp_conn* live_conn(conn_rec* r) {
        if (r->gone) fail_now(r->name + " is closed (on_closed ran or it was aborted)");
        if (r->app_closed) fail_now(r->name + " was closed by the app; its handle is no longer usable");
        if (!r->c) fail_now(r->name + " has no connection yet (not accepted or connected)");
        return r->c;
    }

    // ---------------------------------------------------------------- callbacks
    static runner* self(void* ctx) { return static_cast<runner*>(ctx); }
    void note(ts::tcp_conn* c, const std::string& kind) {
        conn_rec* r = rec_of_conn(c);
        events_.push_back({now_, r, kind});
        if (g_verbose) std::printf("    [%s] event %s on %s\n", fmt_time(now_).c_str(), kind.c_str(), r->name.c_str());
    }
    static bool cb_accept(void* ctx, ts::tcp_conn* c) {
        runner* r = self(ctx);
        r->note(c, "accept");
        r->st_->set_callbacks(c, r->cbs_, r);
        return true;
    }
    static void cb_connected(void* ctx, ts::tcp_conn* c) { self(ctx)->note(c, "connected"); }
    static void cb_readable(void* ctx, ts::tcp_conn* c) {
        runner* r = self(ctx);
        r->note(c, "readable");
        if (r->autorecv_) {
            conn_rec* rec = r->rec_of_conn(c);
            r->read_some(rec, c, UINT32_MAX, true);
        }
    }
    static void cb_writable(void* ctx, ts::tcp_conn* c) { self(ctx)->note(c, "writable"); }
    static void cb_peer_fin(void* ctx, ts::tcp_conn* c) { self(ctx)->note(c, "peer_fin"); }
    static void cb_closed(void* ctx, ts::tcp_conn* c, ts::close_reason why) {
        runner* r = self(ctx);
        conn_rec* rec = r->rec_of_conn(c);
        r->note(c, std::string("closed(") + reason_name(why) + ")");
        rec->gone = true;
        rec->c = nullptr;
    }

    // Reads up to max bytes (all there is with `loop`); checks the pattern. Returns bytes read.
    uint64_t read_some(conn_rec* rec, ts::tcp_conn* c, uint32_t max, bool loop) {
        uint64_t total = 0;
        for (;;) {
            rte_mbuf* m = st_->recv(c, max, base_us_ + now_);
            if (!m) break;
            uint32_t got = 0;
            for (rte_mbuf* s = m; s; s = s->next) {
                const uint8_t* d = rte_pktmbuf_mtod(s, const uint8_t*);
                for (uint16_t i = 0; i < s->data_len; i++) {
                    if (!rec->peer_isn_known) {
                        rte_pktmbuf_free(m);
                        fail_now("recv on " + rec->name + ": peer ISN unknown (no SYN injected)");
                    }
                    uint32_t sq = rec->peer_isn + 1 + static_cast<uint32_t>(rec->received + got);
                    if (d[i] != peer_byte(sq)) {
                        char b[160];
                        std::snprintf(b, sizeof b,
                                      "recv on %s: byte at stream offset %" PRIu64 " (seq %u) is 0x%02x, sent 0x%02x",
                                      rec->name.c_str(), rec->received + got, sq, d[i], peer_byte(sq));
                        rte_pktmbuf_free(m);
                        fail_now(b);
                    }
                    got++;
                }
            }
            if (got != m->pkt_len) {
                rte_pktmbuf_free(m);
                fail_now("recv chain pkt_len " + std::to_string(m->pkt_len) + " != bytes in its segments");
            }
            rte_pktmbuf_free(m);
            rec->received += got;
            total += got;
            if (got > max) fail_now("recv returned " + std::to_string(got) + " bytes, more than asked");
            if (!loop) break;
        }
        return total;
    }

    // ---------------------------------------------------------------- rendering and matching
    std::string render_actual(const conn_rec* rec, const wire_seg& s) const {
        seg_spec a;
        a.flags = s.flags;
        uint32_t base = rec->isn_known ? rec->isn : 0;
        a.seq = {false, s.seq - base};
        a.len = static_cast<uint32_t>(s.payload.size());
        a.has_ack = (s.flags & f_ack) != 0;
        a.ack = {false, s.ack};
        a.win_lo = a.win_hi = s.win;
        auto add = [&](opt_spec::kind k, uint32_t x, uint32_t y) {
            opt_spec o;
            o.k = k;
            o.a = {false, x};
            o.b = {false, y};
            a.opts.push_back(o);
        };
        if (s.opts.has_mss) add(opt_spec::kind::mss, s.opts.mss, 0);
        if (s.opts.sack_ok) add(opt_spec::kind::sack_ok, 0, 0);
        if (s.opts.has_ts) add(opt_spec::kind::ts, s.opts.ts_val, s.opts.ts_ecr);
        if (s.opts.has_ws) add(opt_spec::kind::wscale, s.opts.ws, 0);
        if (s.opts.has_sack) {
            add(opt_spec::kind::sack, 0, 0);
            a.opts.back().blocks = s.opts.sack;
        }
        std::string out = render_spec(a, '>');
        if (rec->name[0] != 'c' || rec->name.back() == '?') out = rec->name + " " + out;
        return out;
    }

    std::string describe_out(const out_pkt& p) const {
        return "`" + (p.rec->name[0] == 'c' ? p.rec->name + " " : std::string()) + render_actual(p.rec, p.seg) +
               "` at " + fmt_time(p.t);
    }

    // "" when `p` matches `spec` on connection `rec`; else what differs.
    std::string mismatch(const seg_spec& spec, conn_rec* want_rec, const out_pkt& p) const {
        std::vector<std::string> d;
        if (p.rec != want_rec) d.push_back("connection (" + p.rec->name + " instead of " + want_rec->name + ")");
        const wire_seg& s = p.seg;
        uint8_t mask = strict_psh_ ? 0xff : static_cast<uint8_t>(~f_psh);
        if (spec.ack_flag_any) mask = static_cast<uint8_t>(mask & ~f_ack);
        if ((s.flags & mask) != (spec.flags & mask)) d.push_back("flags");
        uint32_t base = p.rec->isn_known ? p.rec->isn : 0;
        uint32_t rel = s.seq - base;
        if (!spec.seq.any && rel != spec.seq.v) d.push_back("seq");
        if (!spec.len_any && s.payload.size() != spec.len) d.push_back("length");
        if (spec.has_ack && !spec.ack.any && !spec.ack_flag_any && (s.flags & f_ack) && s.ack != spec.ack.v)
            d.push_back("ack");
        if (!spec.win_any && (s.win < spec.win_lo || s.win > spec.win_hi)) d.push_back("win");
        if (!spec.opts_any) {
            const wire_opts& o = s.opts;
            bool w_mss = false, w_ws = false, w_sok = false, w_ts = false, w_sack = false;
            for (const auto& e : spec.opts) {
                switch (e.k) {
                    case opt_spec::kind::mss:
                        w_mss = true;
                        if (!o.has_mss)
                            d.push_back("options (mss missing)");
                        else if (!e.a.any && o.mss != e.a.v)
                            d.push_back("options (mss value)");
                        break;
                    case opt_spec::kind::wscale:
                        w_ws = true;
                        if (!o.has_ws)
                            d.push_back("options (wscale missing)");
                        else if (!e.a.any && o.ws != e.a.v)
                            d.push_back("options (wscale value)");
                        break;
                    case opt_spec::kind::sack_ok:
                        w_sok = true;
                        if (!o.sack_ok) d.push_back("options (sackOK missing)");
                        break;
                    case opt_spec::kind::ts:
                        w_ts = true;
                        if (!o.has_ts)
                            d.push_back("options (TS missing)");
                        else {
                            if (!e.a.any && o.ts_val != e.a.v) d.push_back("options (TS val)");
                            if (!e.b.any && o.ts_ecr != e.b.v) d.push_back("options (TS ecr)");
                        }
                        break;
                    case opt_spec::kind::sack:
                        w_sack = true;
                        if (!o.has_sack)
                            d.push_back("options (sack blocks missing)");
                        else if (o.sack != e.blocks)
                            d.push_back("options (sack blocks)");
                        break;
                    case opt_spec::kind::nop:
                    case opt_spec::kind::eol:
                    case opt_spec::kind::raw:
                        break;  // padding: layout is not a requirement
                }
            }
            if (o.has_mss && !w_mss) d.push_back("options (unexpected mss)");
            if (o.has_ws && !w_ws) d.push_back("options (unexpected wscale)");
            if (o.sack_ok && !w_sok) d.push_back("options (unexpected sackOK)");
            if (o.has_ts && !w_ts) d.push_back("options (unexpected TS)");
            if (o.has_sack && !w_sack) d.push_back("options (unexpected sack blocks)");
        }
        if (d.empty() && !spec.payload_any && !s.payload.empty() && p.rec->isn_known) {
            uint32_t data_rel = rel + ((s.flags & f_syn) ? 1u : 0u);
            for (size_t i = 0; i < s.payload.size(); i++) {
                uint64_t off = static_cast<uint32_t>(data_rel - 1 + i);
                if (off >= p.rec->sent) {
                    d.push_back("payload (byte at stream offset " + std::to_string(off) + " beyond the " +
                                std::to_string(p.rec->sent) + " bytes the app sent)");
                    break;
                }
                if (s.payload[i] != app_byte(off)) {
                    d.push_back("payload (byte at stream offset " + std::to_string(off) +
                                " differs from what the app sent)");
                    break;
                }
            }
        }
        std::string out;
        for (auto& x : d) out += (out.empty() ? "" : ", ") + x;
        return out;
    }

    // ---------------------------------------------------------------- steps
    void check_quiet(const step& s) {
        if (!q_.empty()) fail_now("unexpected output before `" + s.text + "`: " + describe_out(q_.front()));
    }

    void do_step(const step& s) {
        switch (s.v) {
            case verb::expect_out:
                return do_expect_out(s);
            case verb::maybe_out: {
                advance_to(std::max(now_, s.t_us));
                if (!q_.empty() && q_.front().t + tol_us_ >= s.t_us &&
                    mismatch(s.seg, rec_for(s.conn), q_.front()).empty())
                    q_.pop_front();
                return;
            }
            default:
                break;
        }
        advance_to(std::max(now_, s.t_us));
        check_quiet(s);
        const uint64_t now = base_us_ + now_;
        switch (s.v) {
            case verb::inject:
                do_inject(s);
                break;
            case verb::listen: {
                addr a;
                uint16_t port;
                if (!parse_endpoint(s.args[0], local_, a, port)) fail_now("bad endpoint " + s.args[0]);
                int id = st_->listen(a.family, a.b, port, cbs_, this);
                if (id < 0) fail_now("listen failed");
                listeners_.push_back({a, port, id});
                break;
            }
            case verb::unlisten:
                if (listeners_.empty()) fail_now("no listener");
                st_->unlisten(listeners_.front().id);
                break;
            case verb::conn_decl:
            case verb::connect: {
                addr la, ra;
                uint16_t lp, rp;
                if (!parse_endpoint(s.args[0], local_, la, lp) || !parse_endpoint(s.args[1], remote_, ra, rp))
                    fail_now("bad endpoints");
                if (la.family != ra.family) fail_now("local and remote families differ");
                if (find_name(s.conn)) fail_now(s.conn + " already defined");
                auto r = std::make_unique<conn_rec>();
                r->name = s.conn;
                r->laddr = la;
                r->lport = lp;
                r->raddr = ra;
                r->rport = rp;
                conn_rec* rec = r.get();
                conns_.push_back(std::move(r));
                if (s.v == verb::connect) {
                    ts::tcp_conn* c = st_->connect(la.family, la.b, lp, ra.b, rp, cbs_, this, now);
                    if (!c) fail_now("connect returned null");
                    rec->c = c;
                    ts::conn_info ci = st_->info(c);
                    rec->lport = ci.local_port;
                }
                break;
            }
            case verb::send: {
                conn_rec* rec = rec_for(s.conn);
                ts::tcp_conn* c = live_conn(rec);
                uint32_t n = static_cast<uint32_t>(std::stoul(s.args[0]));
                bool want_fail = s.args.size() == 2;
                rte_mbuf* head = make_data(rec->sent, n);
                bool ok = st_->send(c, head, now);
                if (ok && want_fail) fail_now("send succeeded, expected it to be refused");
                if (!ok && !want_fail) fail_now("send of " + std::to_string(n) + " bytes refused");
                if (ok) rec->sent += n;
                break;
            }
            case verb::recv: {
                conn_rec* rec = rec_for(s.conn);
                ts::tcp_conn* c = live_conn(rec);
                if (s.args[0] == "none") {
                    uint64_t got = read_some(rec, c, UINT32_MAX, false);
                    if (got) fail_now("recv returned " + std::to_string(got) + " bytes, expected none");
                } else if (s.args[0] == "all") {
                    read_some(rec, c, UINT32_MAX, true);
                } else {
                    uint32_t n = static_cast<uint32_t>(std::stoul(s.args[0]));
                    uint64_t got = 0;
                    while (got < n) {
                        uint64_t g = read_some(rec, c, static_cast<uint32_t>(n - got), false);
                        if (!g) break;
                        got += g;
                    }
                    if (got != n) fail_now("recv " + std::to_string(n) + ": got " + std::to_string(got) + " bytes");
                }
                break;
            }
            case verb::shutdown:
                st_->shutdown_write(live_conn(rec_for(s.conn)), now);
                break;
            case verb::close: {
                conn_rec* rec = rec_for(s.conn);
                ts::tcp_conn* c = live_conn(rec);
                rec->app_closed = true;
                st_->close(c, now);
                break;
            }
            case verb::abort: {
                conn_rec* rec = rec_for(s.conn);
                ts::tcp_conn* c = live_conn(rec);
                rec->gone = true;
                rec->c = nullptr;
                st_->abort(c, now);
                break;
            }
            case verb::wait:
                break;
            case verb::relearn_isn: {
                conn_rec* rec = rec_for(s.conn);
                rec->isn_known = false;
                rec->peer_isn_known = false;
                rec->sent = rec->received = 0;
                rec->ts_seen = false;
                break;
            }
            case verb::expect_state: {
                conn_rec* rec = rec_for(s.conn);
                std::string want = s.args[0];
                std::replace(want.begin(), want.end(), '-', '_');
                std::string got;
                if (rec->gone)
                    got = "CLOSED";
                else if (!rec->c)
                    fail_now(rec->name + " has no connection handle yet (not accepted or connected)");
                else if (rec->app_closed && st_->connection_count() == 0)
                    got = "CLOSED";
                else
                    got = state_upper(st_->state(rec->c));
                if (got != want) fail_now("expected state " + want + ", got " + got);
                break;
            }
            case verb::expect_event:
            case verb::expect_no_event: {
                conn_rec* rec = rec_for(s.conn);
                const std::string& want = s.args[0];
                event_rec* hit = nullptr;
                for (auto& e : events_) {
                    if (e.consumed || e.rec != rec) continue;
                    if (e.kind == want || (want == "closed" && e.kind.rfind("closed(", 0) == 0)) {
                        hit = &e;
                        break;
                    }
                }
                if (s.v == verb::expect_event) {
                    if (!hit) {
                        std::string seen;
                        for (auto& e : events_)
                            if (e.rec == rec && !e.consumed) seen += " " + e.kind + "@" + fmt_time(e.t);
                        fail_now("expected event " + want + " on " + rec->name +
                                 ", not seen (unconsumed:" + (seen.empty() ? " none" : seen) + ")");
                    }
                    hit->consumed = true;
                } else if (hit) {
                    fail_now("event " + hit->kind + " on " + rec->name + " at " + fmt_time(hit->t) + ", expected none");
                }
                break;
            }
            case verb::expect_no_conn:
                if (st_->connection_count() != 0)
                    fail_now("expected no connection, the stack holds " + std::to_string(st_->connection_count()));
                break;
            case verb::expect_conns: {
                uint32_t n = static_cast<uint32_t>(std::stoul(s.args[0]));
                if (st_->connection_count() != n)
                    fail_now("expected " + std::to_string(n) + " connections, the stack holds " +
                             std::to_string(st_->connection_count()));
                break;
            }
            case verb::expect_counter: {
                auto it = counter_fields().find(s.args[0]);
                if (it == counter_fields().end()) fail_now("unknown counter " + s.args[0]);
                std::string op = s.args.size() == 3 ? s.args[1] : "==";
                uint64_t want = std::stoull(s.args.back());
                uint64_t got = st_->counters().*(it->second);
                if (!compare_op(op, got, want))
                    fail_now("counter " + s.args[0] + " is " + std::to_string(got) + ", expected " + op + " " +
                             std::to_string(want));
                break;
            }
            case verb::expect_info: {
                ts::conn_info ci = st_->info(live_conn(rec_for(s.conn)));
                const std::string& f = s.args[0];
                uint64_t got;
                if (f == "snd_mss")
                    got = ci.snd_mss;
                else if (f == "cwnd")
                    got = ci.cwnd;
                else if (f == "ssthresh")
                    got = ci.ssthresh;
                else if (f == "srtt_us")
                    got = ci.srtt_us;
                else if (f == "rto_us")
                    got = ci.rto_us;
                else if (f == "snd_wnd")
                    got = ci.snd_wnd;
                else if (f == "rcv_wnd")
                    got = ci.rcv_wnd;
                else if (f == "snd_wscale")
                    got = ci.snd_wscale;
                else if (f == "rcv_wscale")
                    got = ci.rcv_wscale;
                else if (f == "ts_ok")
                    got = ci.ts_ok;
                else if (f == "sack_ok")
                    got = ci.sack_ok;
                else if (f == "unread")
                    got = ci.unread;
                else if (f == "unsent")
                    got = ci.unsent;
                else if (f == "in_flight")
                    got = ci.in_flight;
                else if (f == "retransmits")
                    got = ci.retransmits;
                else if (f == "bytes_in")
                    got = ci.bytes_in;
                else if (f == "bytes_out")
                    got = ci.bytes_out;
                else
                    fail_now("unknown info field " + f);
                std::string op = s.args.size() == 3 ? s.args[1] : "==";
                uint64_t want = std::stoull(s.args.back());
                if (!compare_op(op, got, want))
                    fail_now("info " + f + " is " + std::to_string(got) + ", expected " + op + " " +
                             std::to_string(want));
                break;
            }
            case verb::expect_readable: {
                uint32_t got = st_->readable(live_conn(rec_for(s.conn)));
                if (got != std::stoul(s.args[0]))
                    fail_now("readable is " + std::to_string(got) + ", expected " + s.args[0]);
                break;
            }
            case verb::expect_send_space: {
                uint32_t got = st_->send_space(live_conn(rec_for(s.conn)));
                std::string op = s.args.size() == 2 ? s.args[0] : "==";
                if (!compare_op(op, got, std::stoull(s.args.back())))
                    fail_now("send_space is " + std::to_string(got) + ", expected " + op + " " + s.args.back());
                break;
            }
            case verb::expect_peer_closed: {
                bool got = st_->peer_closed(live_conn(rec_for(s.conn)));
                if (got != (s.args[0] == "1"))
                    fail_now(std::string("peer_closed is ") + (got ? "1" : "0") + ", expected " + s.args[0]);
                break;
            }
            default:
                break;
        }
        drain_output();
    }

    rte_mbuf* make_data(uint64_t off, uint32_t n) {
        rte_mbuf* head = nullptr;
        rte_mbuf* tail = nullptr;
        uint32_t done = 0;
        do {
            rte_mbuf* m = rte_pktmbuf_alloc(pool_);
            if (!m) fail_now("mbuf pool empty");
            uint32_t room = std::min<uint32_t>(rte_pktmbuf_tailroom(m), n - done);
            auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(room)));
            for (uint32_t i = 0; i < room; i++) d[i] = app_byte(off + done + i);
            done += room;
            if (!head) {
                head = tail = m;
            } else {
                tail->next = m;
                tail = m;
                head->nb_segs++;
                head->pkt_len += m->data_len;
            }
        } while (done < n);
        return head;
    }

    void do_inject(const step& s) {
        conn_rec* rec = rec_for(s.conn);
        const seg_spec& sp = s.seg;
        if ((sp.flags & f_syn) && !(sp.flags & f_ack) && rec->gone) {
            // A new incarnation on this tuple.
            rec->gone = false;
            rec->c = nullptr;
            rec->isn_known = rec->peer_isn_known = false;
            rec->sent = rec->received = 0;
            rec->ts_seen = false;
        }
        if ((sp.flags & f_syn) && !rec->peer_isn_known) {
            rec->peer_isn_known = true;
            rec->peer_isn = sp.seq.v;
        }
        uint32_t base = rec->isn_known ? rec->isn : 0;
        wire_seg w;
        w.src = rec->raddr;
        w.dst = rec->laddr;
        w.sport = rec->rport;
        w.dport = rec->lport;
        w.seq = sp.seq.v;
        w.ack = sp.has_ack ? sp.ack.v + base : 0;
        w.flags = sp.flags;
        w.win = static_cast<uint16_t>(sp.win_lo);
        w.urp = sp.urp;
        uint32_t data_seq = sp.seq.v + ((sp.flags & f_syn) ? 1u : 0u);
        w.payload.resize(sp.len);
        for (uint32_t i = 0; i < sp.len; i++) w.payload[i] = peer_byte(data_seq + i);
        std::vector<uint8_t> ob;
        auto put32 = [&](uint32_t v) {
            for (int sh = 24; sh >= 0; sh -= 8) ob.push_back(static_cast<uint8_t>(v >> sh));
        };
        for (const auto& o : sp.opts) {
            switch (o.k) {
                case opt_spec::kind::mss:
                    ob.insert(ob.end(), {2, 4, static_cast<uint8_t>(o.a.v >> 8), static_cast<uint8_t>(o.a.v)});
                    break;
                case opt_spec::kind::wscale:
                    ob.insert(ob.end(), {3, 3, static_cast<uint8_t>(o.a.v)});
                    break;
                case opt_spec::kind::sack_ok:
                    ob.insert(ob.end(), {4, 2});
                    break;
                case opt_spec::kind::nop:
                    ob.push_back(1);
                    break;
                case opt_spec::kind::eol:
                    ob.push_back(0);
                    break;
                case opt_spec::kind::ts:
                    ob.insert(ob.end(), {8, 10});
                    put32(o.a.any ? 0 : o.a.v);
                    put32(o.b.any ? (rec->ts_seen ? rec->last_tsval : 0) : o.b.v);
                    break;
                case opt_spec::kind::raw:
                    ob.insert(ob.end(), o.bytes.begin(), o.bytes.end());
                    break;
                case opt_spec::kind::sack:
                    ob.insert(ob.end(), {5, static_cast<uint8_t>(2 + 8 * o.blocks.size())});
                    for (auto& b : o.blocks) {
                        put32(b.first + base);
                        put32(b.second + base);
                    }
                    break;
            }
        }
        while (ob.size() % 4) ob.push_back(0);
        if (ob.size() > 40) fail_now("options longer than 40 bytes");
        std::vector<uint8_t> pkt = build_packet(w, ob, sp.bad_csum);
        rte_mbuf* m = rte_pktmbuf_alloc(pool_);
        if (!m) fail_now("mbuf pool empty");
        if (pkt.size() > rte_pktmbuf_tailroom(m)) {
            rte_pktmbuf_free(m);
            fail_now("injected packet larger than one mbuf");
        }
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(pkt.size())), pkt.data(), pkt.size());
        m->packet_type = (w.src.family == 4 ? RTE_PTYPE_L3_IPV4 : RTE_PTYPE_L3_IPV6) | RTE_PTYPE_L4_TCP;
        m->l3_len = w.src.family == 4 ? 20 : 40;
        st_->input(m, base_us_ + now_);
    }

    void do_expect_out(const step& s) {
        conn_rec* want = rec_for(s.conn);
        uint64_t lo = s.t_range ? s.t_us : (s.t_us > tol_us_ ? s.t_us - tol_us_ : 0);
        uint64_t hi = s.t_range ? s.t_hi_us : s.t_us + tol_us_;
        while (q_.empty() && now_ < hi) step_clock(std::min(hi, (now_ / step_us_ + 1) * step_us_));
        std::string when = s.t_range ? fmt_time(lo) + ".." + fmt_time(hi)
                                     : fmt_time(s.t_us) + " (+-" + std::to_string(tol_us_ / 1000) + " ms)";
        std::string exp = "`" + render_spec(s.seg, '>') + "` at " + when;
        if (q_.empty()) fail_now("expected " + exp + ", got nothing by " + fmt_time(hi));
        const out_pkt& p = q_.front();
        std::string d = mismatch(s.seg, want, p);
        if (!d.empty()) fail_now("expected " + exp + ", got " + describe_out(p) + " -- differs in: " + d);
        if (p.t < lo) fail_now("expected " + exp + ", got it early at " + fmt_time(p.t));
        q_.pop_front();
    }

    const scenario& sc_;
    rte_mempool* pool_;
    ts::stack_config cfg_;
    std::unique_ptr<ts::tcp_stack> st_;
    const uint64_t base_us_ = 5000000;  // scenario time 0 on the stack's clock
    uint64_t now_ = 0;                  // scenario time (us)
    uint64_t tol_us_ = 2000;
    uint64_t step_us_ = 1000;  // clock step between events (1 ms catches timers at their time)
    bool autorecv_ = false;
    bool strict_psh_ = false;
    uint16_t remote_port_ = 40000, local_port_ = 8080;
    uint16_t port_min_ = 0, port_max_ = 0;
    addr local_, remote_;
    int cur_line_ = 0;
    std::deque<out_pkt> q_;
    std::vector<std::unique_ptr<conn_rec>> conns_;
    std::vector<event_rec> events_;
    std::vector<listener_rec> listeners_;
    ts::callbacks cbs_ = {cb_accept, cb_connected, cb_readable, cb_writable, cb_peer_fin, cb_closed};

public:
    int current_line() const { return cur_line_; }
};

// Runs one scenario in this process; returns "" on success or the failure text. `warn` gets
// warnings (leaks).
std::string run_one(const scenario& sc, rte_mempool* pool, std::string& warn) {
    unsigned before = rte_mempool_avail_count(pool);
    std::string result;
    {
        runner r(sc, pool);
        try {
            r.run();
        } catch (const scenario_failure& f) {
            result = (f.line ? "line " + std::to_string(f.line) + ": " : std::string()) + f.msg;
        } catch (const std::exception& e) {
            result = std::string("harness exception: ") + e.what();
        }
        r.teardown();
    }
    unsigned after = rte_mempool_avail_count(pool);
    if (after != before)
        warn = std::to_string(static_cast<int>(before) - static_cast<int>(after)) + " mbufs not returned to the pool";
    return result;
}

void collect(const std::string& arg, std::vector<std::string>& files) {
    namespace fs = std::filesystem;
    if (fs::is_directory(arg)) {
        std::vector<std::string> v;
        for (auto& e : fs::recursive_directory_iterator(arg))
            if (e.is_regular_file() && e.path().extension() == ".pkt") v.push_back(e.path().string());
        std::sort(v.begin(), v.end());
        files.insert(files.end(), v.begin(), v.end());
    } else {
        files.push_back(arg);
    }
}

std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

int usage() {
    std::fprintf(stderr, "usage: tcp_scenario [-v] [--list] [--no-fork] [-k SUBSTR] [--timeout SEC] FILE|DIR...\n");
    return 2;
}

}  // namespace
}  // namespace meshgate::test::tcp

int main(int argc, char** argv) {
    using namespace meshgate::test::tcp;
    bool list = false, fork_each = true;
    int timeout_s = 60;
    std::vector<std::string> filters;
    std::vector<std::string> files;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "-v")
            g_verbose = true;
        else if (a == "--list")
            list = true;
        else if (a == "--no-fork")
            fork_each = false;
        else if (a == "-k" && i + 1 < argc)
            filters.push_back(argv[++i]);
        else if (a == "--timeout" && i + 1 < argc)
            timeout_s = std::atoi(argv[++i]);
        else if (!a.empty() && a[0] == '-')
            return usage();
        else
            collect(a, files);
    }
    if (files.empty()) return usage();
    if (!filters.empty()) {
        std::vector<std::string> keep;
        for (auto& f : files)
            for (auto& k : filters)
                if (f.find(k) != std::string::npos) {
                    keep.push_back(f);
                    break;
                }
        files.swap(keep);
    }

    if (list) {
        int ok = 0, bad = 0;
        for (auto& f : files) {
            std::string err;
            auto sc = parse_scenario_file(f, err);
            if (!sc) {
                std::printf("INVALID %s\n", err.c_str());
                bad++;
                continue;
            }
            std::printf("%s (%s)\n", sc->name.c_str(), f.c_str());
            for (auto& r : sc->rfc) std::printf("    rfc: %s\n", r.c_str());
            ok++;
        }
        std::printf("%d listed, %d invalid\n", ok, bad);
        return bad ? 1 : 0;
    }

    std::string prefix = "--file-prefix=tcpscen" + std::to_string(getpid());
    const char* eal_args[] = {"tcp_scenario", "--no-huge",      "-m", "512", "--no-pci",
                              "--no-shconf",  "--no-telemetry", "-l", "0",   "--log-level=*:error",
                              prefix.c_str()};
    int eal_argc = static_cast<int>(sizeof eal_args / sizeof eal_args[0]);
    if (rte_eal_init(eal_argc, const_cast<char**>(eal_args)) < 0) {
        std::fprintf(stderr, "tcp_scenario: EAL init failed: %s\n", rte_strerror(rte_errno));
        return 2;
    }
    // No per-lcore cache, so the leak check can count mbufs exactly.
    rte_mempool* pool = rte_pktmbuf_pool_create("tcpscen", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (!pool) {
        std::fprintf(stderr, "tcp_scenario: mbuf pool: %s\n", rte_strerror(rte_errno));
        return 2;
    }

    int passed = 0, failed = 0;
    for (auto& f : files) {
        std::string err;
        auto sc = parse_scenario_file(f, err);
        if (!sc) {
            std::printf("FAIL %s (%s): %s\n", f.c_str(), f.c_str(), err.c_str());
            failed++;
            continue;
        }
        if (g_verbose) std::printf("RUN %s (%s)\n", sc->name.c_str(), f.c_str());
        std::fflush(stdout);
        std::string result, warn;
        bool ok;
        if (!fork_each) {
            result = run_one(*sc, pool, warn);
            ok = result.empty();
        } else {
            int fds[2];
            if (pipe(fds) != 0) {
                std::perror("pipe");
                return 2;
            }
            pid_t pid = fork();
            if (pid < 0) {
                std::perror("fork");
                return 2;
            }
            if (pid == 0) {
                close(fds[0]);
                std::string w;
                std::string res = run_one(*sc, pool, w);
                std::string msg = (res.empty() ? "P\n" : "F" + one_line(res) + "\n");
                if (!w.empty()) msg = "W" + one_line(w) + "\n" + msg;
                std::fflush(stdout);
                size_t off = 0;
                while (off < msg.size()) {
                    ssize_t n = write(fds[1], msg.data() + off, msg.size() - off);
                    if (n <= 0) break;
                    off += static_cast<size_t>(n);
                }
                _exit(0);
            }
            close(fds[1]);
            std::string buf;
            auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
            bool timed_out = false;
            for (;;) {
                auto left =
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
                        .count();
                if (left <= 0) {
                    timed_out = true;
                    break;
                }
                pollfd p{fds[0], POLLIN, 0};
                int pr = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
                if (pr < 0) break;
                if (pr == 0) continue;
                char tmp[4096];
                ssize_t n = read(fds[0], tmp, sizeof tmp);
                if (n <= 0) break;
                buf.append(tmp, static_cast<size_t>(n));
            }
            close(fds[0]);
            if (timed_out) kill(pid, SIGKILL);
            int status = 0;
            waitpid(pid, &status, 0);
            ok = false;
            size_t pos = 0;
            bool got_result = false;
            while (pos < buf.size()) {
                size_t nl = buf.find('\n', pos);
                std::string l = buf.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
                pos = nl == std::string::npos ? buf.size() : nl + 1;
                if (l.empty()) continue;
                if (l[0] == 'W')
                    warn = l.substr(1);
                else if (l[0] == 'P')
                    ok = got_result = true;
                else if (l[0] == 'F') {
                    result = l.substr(1);
                    got_result = true;
                }
            }
            if (!got_result) {
                if (timed_out)
                    result = "hung: no result after " + std::to_string(timeout_s) + " s (killed)";
                else if (WIFSIGNALED(status))
                    result = std::string("crashed: ") + strsignal(WTERMSIG(status));
                else
                    result = "child exited without a result (status " + std::to_string(status) + ")";
            }
        }
        if (ok) {
            passed++;
            std::printf("PASS %s (%s)%s\n", sc->name.c_str(), f.c_str(),
                        warn.empty() ? "" : (" [warning: " + warn + "]").c_str());
        } else {
            failed++;
            std::printf("FAIL %s (%s): %s%s\n", sc->name.c_str(), f.c_str(), result.c_str(),
                        warn.empty() ? "" : (" [warning: " + warn + "]").c_str());
        }
        std::fflush(stdout);
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    std::fflush(stdout);
    return failed == 0 ? 0 : 1;
}
