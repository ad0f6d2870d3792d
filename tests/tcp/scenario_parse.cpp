// Parser of the TCP scenario format (tests/tcp/README.md).
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/tcp/scenario.hpp"

namespace meshgate::test::tcp {
namespace {

const char* const config_keys[] = {
    // stack_config
    "max_connections", "max_time_wait", "mss", "mss_floor", "wscale", "timestamps", "sack", "rcv_buf", "snd_buf",
    "ooo_max_per_conn", "ooo_max_per_core", "rto_initial_us", "rto_min_us", "rto_max_us", "max_retries", "syn_retries",
    "synack_retries", "delack_us", "time_wait_us", "keepalive_idle_us", "keepalive_interval_us", "keepalive_probes",
    "persist_min_us", "half_open_budget", "challenge_acks_per_sec", "cc", "initial_cwnd_segments", "tail_loss_probe",
    // harness
    "family", "local", "remote", "remote_port", "local_port", "tolerance_ms", "autorecv", "strict_psh", "port_range",
    "step_ms"};

struct parse_error {
    std::string msg;
};

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

std::vector<std::string> split_ws(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream is(s);
    std::string w;
    while (is >> w) out.push_back(w);
    return out;
}

uint64_t parse_u64(const std::string& s, const char* what) {
    if (s.empty()) throw parse_error{std::string("missing ") + what};
    char* end = nullptr;
    unsigned long long v = std::strtoull(s.c_str(), &end, 0);
    if (*end != '\0' || s[0] == '-') throw parse_error{std::string("bad ") + what + " '" + s + "'"};
    return v;
}

uint32_t parse_u32(const std::string& s, const char* what) {
    uint64_t v = parse_u64(s, what);
    if (v > 0xffffffffULL) throw parse_error{std::string(what) + " out of range: " + s};
    return static_cast<uint32_t>(v);
}

wild_u32 parse_wild(const std::string& s, const char* what) {
    if (s == "*") return {true, 0};
    return {false, parse_u32(s, what)};
}

// "1.25" or "+0.5" (seconds) -> microseconds; relative to `base`.
uint64_t parse_time_one(const std::string& s, uint64_t base) {
    bool rel = !s.empty() && s[0] == '+';
    std::string n = rel ? s.substr(1) : s;
    if (n.empty()) throw parse_error{"bad time '" + s + "'"};
    for (char ch : n)
        if (!std::isdigit(static_cast<unsigned char>(ch)) && ch != '.') throw parse_error{"bad time '" + s + "'"};
    double sec = std::strtod(n.c_str(), nullptr);
    auto us = static_cast<uint64_t>(std::llround(sec * 1e6));
    return rel ? base + us : us;
}

bool is_time_token(const std::string& s) {
    if (s.empty()) return false;
    char c = s[0];
    return std::isdigit(static_cast<unsigned char>(c)) || c == '+';
}

bool is_conn_name(const std::string& s) {
    if (s.size() < 2 || s[0] != 'c') return false;
    for (size_t i = 1; i < s.size(); i++)
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    return true;
}

uint8_t parse_flags(const std::string& in, bool& ack_any) {
    uint8_t f = 0;
    std::string s = in;
    ack_any = false;
    if (s.size() >= 2 && s.compare(s.size() - 2, 2, ".?") == 0) {
        ack_any = true;
        s.resize(s.size() - 2);
    }
    for (char c : s) {
        switch (c) {
            case 'S':
                f |= f_syn;
                break;
            case 'F':
                f |= f_fin;
                break;
            case 'R':
                f |= f_rst;
                break;
            case 'P':
                f |= f_psh;
                break;
            case '.':
                f |= f_ack;
                break;
            case 'U':
                f |= f_urg;
                break;
            case 'E':
                f |= f_ece;
                break;
            case 'W':
                f |= f_cwr;
                break;
            default:
                throw parse_error{"bad flags '" + s + "' (use S F R P . U E W)"};
        }
    }
    return f;
}

std::vector<opt_spec> parse_options(const std::string& body) {
    std::vector<opt_spec> out;
    std::stringstream ss(body);
    std::string item;
    while (std::getline(ss, item, ',')) {
        auto w = split_ws(item);
        if (w.empty()) throw parse_error{"empty option in <" + body + ">"};
        opt_spec o;
        if (w[0] == "mss" && w.size() == 2) {
            o.k = opt_spec::kind::mss;
            o.a = parse_wild(w[1], "mss");
        } else if (w[0] == "wscale" && w.size() == 2) {
            o.k = opt_spec::kind::wscale;
            o.a = parse_wild(w[1], "wscale");
        } else if (w[0] == "sackOK" && w.size() == 1) {
            o.k = opt_spec::kind::sack_ok;
        } else if (w[0] == "nop" && w.size() == 1) {
            o.k = opt_spec::kind::nop;
        } else if (w[0] == "eol" && w.size() == 1) {
            o.k = opt_spec::kind::eol;
        } else if (w[0] == "TS" && w.size() == 5 && w[1] == "val" && w[3] == "ecr") {
            o.k = opt_spec::kind::ts;
            o.a = parse_wild(w[2], "TS val");
            o.b = parse_wild(w[4], "TS ecr");
        } else if (w[0] == "sack" && w.size() >= 2) {
            o.k = opt_spec::kind::sack;
            for (size_t i = 1; i < w.size(); i++) {
                auto colon = w[i].find(':');
                if (colon == std::string::npos) throw parse_error{"bad sack block '" + w[i] + "'"};
                o.blocks.emplace_back(parse_u32(w[i].substr(0, colon), "sack left edge"),
                                      parse_u32(w[i].substr(colon + 1), "sack right edge"));
            }
            if (o.blocks.size() > 4) throw parse_error{"more than 4 sack blocks"};
        } else if (w[0] == "raw" && (w.size() == 2 || w.size() == 3)) {
            // raw KIND [HEX]: an option with a correct length byte (e.g. one we do not implement)
            o.k = opt_spec::kind::raw;
            uint32_t kind = parse_u32(w[1], "raw option kind");
            if (kind > 255) throw parse_error{"raw option kind > 255"};
            std::string hex = w.size() == 3 ? w[2] : "";
            if (hex.size() % 2) throw parse_error{"odd hex in raw option"};
            o.bytes.push_back(static_cast<uint8_t>(kind));
            o.bytes.push_back(static_cast<uint8_t>(2 + hex.size() / 2));
            for (size_t i = 0; i < hex.size(); i += 2)
                o.bytes.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
        } else if (w[0] == "rawbytes" && w.size() == 2) {
            // rawbytes HEX: bytes exactly as written (malformed options)
            o.k = opt_spec::kind::raw;
            const std::string& hex = w[1];
            if (hex.size() % 2) throw parse_error{"odd hex in rawbytes"};
            for (size_t i = 0; i < hex.size(); i += 2)
                o.bytes.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
        } else {
            throw parse_error{"unknown option '" + trim(item) + "'"};
        }
        out.push_back(std::move(o));
    }
    return out;
}

// FLAGS SEQ:END(LEN) [ack A] [win W] [<opts>] [badcsum] [urp N] [payload *]
seg_spec parse_segment(const std::string& rest, bool inject) {
    seg_spec s;
    std::string body = rest;
    // Options: the first '<' after the sequence field.
    auto first_paren = body.find(')');
    auto lt = body.find('<', first_paren == std::string::npos ? 0 : first_paren);
    if (lt != std::string::npos) {
        auto gt = body.find('>', lt);
        if (gt == std::string::npos) throw parse_error{"unterminated <options>"};
        std::string ob = trim(body.substr(lt + 1, gt - lt - 1));
        if (ob == "*") {
            if (inject) throw parse_error{"<*> only on expected segments"};
            s.opts_any = true;
        } else if (!ob.empty()) {
            s.opts = parse_options(ob);
        }
        body = body.substr(0, lt) + " " + body.substr(gt + 1);
    }
    auto w = split_ws(body);
    if (w.size() < 2) throw parse_error{"segment needs FLAGS SEQ:END(LEN)"};
    s.flags = parse_flags(w[0], s.ack_flag_any);
    if (s.ack_flag_any && inject) throw parse_error{"'.?' only on expected segments"};
    // SEQ:END(LEN)
    const std::string& sq = w[1];
    auto colon = sq.find(':');
    auto lp = sq.find('(');
    auto rp = sq.find(')');
    if (colon == std::string::npos || lp == std::string::npos || rp != sq.size() - 1 || lp < colon)
        throw parse_error{"bad sequence field '" + sq + "' (want SEQ:END(LEN))"};
    std::string seq_s = sq.substr(0, colon), end_s = sq.substr(colon + 1, lp - colon - 1),
                len_s = sq.substr(lp + 1, rp - lp - 1);
    s.seq = parse_wild(seq_s, "seq");
    if (inject && s.seq.any) throw parse_error{"injected seq cannot be *"};
    if (len_s == "*") {
        if (inject) throw parse_error{"injected length cannot be *"};
        s.len_any = true;
        s.payload_any = true;
        if (end_s != "*") throw parse_error{"with (*) write END as *"};
    } else {
        s.len = parse_u32(len_s, "length");
        if (!s.seq.any) {
            uint32_t end = parse_u32(end_s, "end");
            if (end != s.seq.v + s.len) throw parse_error{"END must be SEQ+LEN in '" + sq + "'"};
        } else if (end_s != "*") {
            throw parse_error{"with seq * write END as *"};
        }
    }
    s.win_any = !inject;  // expected: unchecked unless written
    if (inject) s.win_lo = s.win_hi = 65535;
    bool win_seen = false;
    for (size_t i = 2; i < w.size(); i++) {
        if (w[i] == "ack" && i + 1 < w.size()) {
            s.has_ack = true;
            s.ack = parse_wild(w[++i], "ack");
            if (inject && s.ack.any) throw parse_error{"injected ack cannot be *"};
        } else if (w[i] == "win" && i + 1 < w.size()) {
            win_seen = true;
            const std::string& v = w[++i];
            if (v == "*") {
                if (inject) throw parse_error{"injected win cannot be *"};
                s.win_any = true;
            } else {
                s.win_any = false;
                auto dd = v.find("..");
                if (dd != std::string::npos) {
                    if (inject) throw parse_error{"injected win cannot be a range"};
                    s.win_lo = parse_u32(v.substr(0, dd), "win");
                    s.win_hi = parse_u32(v.substr(dd + 2), "win");
                } else {
                    s.win_lo = s.win_hi = parse_u32(v, "win");
                }
                if (s.win_lo > 65535 || s.win_hi > 65535 || s.win_lo > s.win_hi) throw parse_error{"bad win " + v};
            }
        } else if (w[i] == "badcsum" && inject) {
            s.bad_csum = true;
        } else if (w[i] == "urp" && inject && i + 1 < w.size()) {
            s.urp = static_cast<uint16_t>(parse_u32(w[++i], "urp"));
        } else if (w[i] == "payload" && !inject && i + 1 < w.size() && w[i + 1] == "*") {
            s.payload_any = true;
            i++;
        } else {
            throw parse_error{"unexpected '" + w[i] + "' in segment"};
        }
    }
    (void)win_seen;
    if ((s.flags & f_ack) && !s.has_ack && !s.ack_flag_any)
        throw parse_error{"flag '.' set but no 'ack' field (use 'ack *' to skip)"};
    if (!(s.flags & f_ack) && s.has_ack && !inject && !s.ack.any)
        throw parse_error{"'ack' field written without the '.' flag"};
    return s;
}

const char* const verbs_no_args[] = {"shutdown", "close", "abort", "wait", "relearn-isn", "unlisten"};

}  // namespace

bool known_config_key(const std::string& key) {
    for (const char* k : config_keys)
        if (key == k) return true;
    return false;
}

std::optional<scenario> parse_scenario_file(const std::string& path, std::string& err) {
    std::ifstream in(path);
    if (!in) {
        err = path + ": cannot open";
        return std::nullopt;
    }
    scenario sc;
    sc.file = path;
    std::string raw;
    int lineno = 0;
    uint64_t prev_t = 0;
    bool any_step = false;
    try {
        while (std::getline(in, raw)) {
            lineno++;
            std::string line = trim(raw);
            if (line.empty()) continue;
            if (line[0] == '#') {
                std::string h = trim(line.substr(1));
                if (h.rfind("name:", 0) == 0) {
                    sc.name = trim(h.substr(5));
                } else if (h.rfind("rfc:", 0) == 0) {
                    std::string r = trim(h.substr(4));
                    if (r.empty()) throw parse_error{"empty '# rfc:' line"};
                    sc.rfc.push_back(r);
                }
                continue;
            }
            auto cpos = line.find("//");
            if (cpos != std::string::npos) line = trim(line.substr(0, cpos));
            if (line.empty()) continue;
            auto w = split_ws(line);
            if (w[0] == "config") {
                if (any_step) throw parse_error{"config after the first timed line"};
                if (w.size() < 3) throw parse_error{"config KEY VALUE"};
                if (!known_config_key(w[1])) throw parse_error{"unknown config key '" + w[1] + "'"};
                std::string v = w[2];
                for (size_t i = 3; i < w.size(); i++) v += " " + w[i];
                sc.config.push_back({lineno, w[1], v});
                continue;
            }
            if (w[0] == "ignore-rest") {
                sc.ignore_rest = true;
                continue;
            }
            if (!is_time_token(w[0])) throw parse_error{"line must start with a time, 'config' or '#'"};
            step st;
            st.line = lineno;
            st.text = line;
            auto dd = w[0].find("..");
            if (dd != std::string::npos) {
                st.t_us = parse_time_one(w[0].substr(0, dd), prev_t);
                st.t_range = true;
                st.t_hi_us = parse_time_one(w[0].substr(dd + 2), prev_t);
                if (st.t_hi_us < st.t_us) throw parse_error{"time range ends before it starts"};
            } else {
                st.t_us = parse_time_one(w[0], prev_t);
            }
            if (st.t_us < prev_t) throw parse_error{"time goes backwards"};
            prev_t = st.t_us;
            any_step = true;
            // Rest of the line after the time token.
            std::string rest = trim(line.substr(line.find(w[0]) + w[0].size()));
            auto rw = split_ws(rest);
            if (rw.empty()) throw parse_error{"nothing after the time"};
            if (is_conn_name(rw[0])) {
                st.conn = rw[0];
                rest = trim(rest.substr(rw[0].size()));
                rw.erase(rw.begin());
                if (rw.empty()) throw parse_error{"nothing after the connection name"};
            }
            const std::string& vb = rw[0];
            auto args = std::vector<std::string>(rw.begin() + 1, rw.end());
            if (vb == "<") {
                st.v = verb::inject;
                st.seg = parse_segment(trim(rest.substr(1)), true);
            } else if (vb == ">") {
                st.v = verb::expect_out;
                st.seg = parse_segment(trim(rest.substr(1)), false);
            } else if (vb == "~>" || (vb == "~" && rw.size() > 1 && rw[1] == ">")) {
                st.v = verb::maybe_out;
                auto gt = rest.find('>');
                st.seg = parse_segment(trim(rest.substr(gt + 1)), false);
            } else if (vb == "listen" || vb == "conn") {
                if (args.size() != (vb == "listen" ? 1u : 2u))
                    throw parse_error{vb + " needs address:port argument(s)"};
                st.v = vb == "listen" ? verb::listen : verb::conn_decl;
                st.args = args;
            } else if (vb == "connect") {
                if (args.size() != 2) throw parse_error{"connect LOCAL:PORT REMOTE:PORT"};
                st.v = verb::connect;
                st.args = args;
            } else if (vb == "send") {
                if (args.empty() || args.size() > 2 || (args.size() == 2 && args[1] != "fails"))
                    throw parse_error{"send N [fails]"};
                parse_u32(args[0], "send length");
                st.v = verb::send;
                st.args = args;
            } else if (vb == "recv") {
                if (args.size() != 1) throw parse_error{"recv N | recv all | recv none"};
                if (args[0] != "all" && args[0] != "none") parse_u32(args[0], "recv length");
                st.v = verb::recv;
                st.args = args;
            } else if (vb == "expect") {
                if (args.empty()) throw parse_error{"expect what?"};
                const std::string& what = args[0];
                std::vector<std::string> a(args.begin() + 1, args.end());
                if (what == "state" && a.size() == 1)
                    st.v = verb::expect_state;
                else if (what == "event" && a.size() == 1)
                    st.v = verb::expect_event;
                else if (what == "no-event" && a.size() == 1)
                    st.v = verb::expect_no_event;
                else if (what == "no-conn" && a.empty())
                    st.v = verb::expect_no_conn;
                else if (what == "conns" && a.size() == 1)
                    st.v = verb::expect_conns;
                else if (what == "counter" && (a.size() == 2 || a.size() == 3))
                    st.v = verb::expect_counter;
                else if (what == "info" && (a.size() == 2 || a.size() == 3))
                    st.v = verb::expect_info;
                else if (what == "readable" && a.size() == 1)
                    st.v = verb::expect_readable;
                else if (what == "send_space" && (a.size() == 1 || a.size() == 2))
                    st.v = verb::expect_send_space;
                else if (what == "peer_closed" && a.size() == 1)
                    st.v = verb::expect_peer_closed;
                else
                    throw parse_error{"unknown or malformed expect '" + rest + "'"};
                st.args = a;
            } else {
                bool ok = false;
                for (const char* n : verbs_no_args) {
                    if (vb == n) {
                        ok = true;
                        if (!args.empty()) throw parse_error{vb + " takes no arguments"};
                    }
                }
                if (!ok) throw parse_error{"unknown action '" + vb + "'"};
                if (vb == "shutdown")
                    st.v = verb::shutdown;
                else if (vb == "close")
                    st.v = verb::close;
                else if (vb == "abort")
                    st.v = verb::abort;
                else if (vb == "wait")
                    st.v = verb::wait;
                else if (vb == "relearn-isn")
                    st.v = verb::relearn_isn;
                else
                    st.v = verb::unlisten;
            }
            if (st.t_range && st.v != verb::expect_out)
                throw parse_error{"a time range LO..HI is only for expected segments"};
            sc.steps.push_back(std::move(st));
        }
    } catch (const parse_error& e) {
        err = path + ":" + std::to_string(lineno) + ": " + e.msg;
        return std::nullopt;
    }
    if (sc.name.empty()) {
        auto slash = path.find_last_of('/');
        sc.name = path.substr(slash == std::string::npos ? 0 : slash + 1);
    }
    if (sc.rfc.empty()) {
        err = path + ": no '# rfc:' line (every scenario names the requirement it checks)";
        return std::nullopt;
    }
    if (sc.steps.empty()) {
        err = path + ": no timed lines";
        return std::nullopt;
    }
    return sc;
}

namespace {
std::string render_wild(const wild_u32& w) {
    return w.any ? "*" : std::to_string(w.v);
}
}  // namespace

std::string render_spec(const seg_spec& s, char dir) {
    std::string out(1, dir);
    out += ' ';
    std::string fl;
    if (s.flags & f_syn) fl += 'S';
    if (s.flags & f_fin) fl += 'F';
    if (s.flags & f_rst) fl += 'R';
    if (s.flags & f_psh) fl += 'P';
    if (s.flags & f_urg) fl += 'U';
    if (s.flags & f_ece) fl += 'E';
    if (s.flags & f_cwr) fl += 'W';
    if (s.flags & f_ack) fl += '.';
    if (s.ack_flag_any) fl += ".?";
    out += fl + ' ';
    if (s.len_any)
        out += render_wild(s.seq) + ":*(*)";
    else if (s.seq.any)
        out += "*:*(" + std::to_string(s.len) + ")";
    else
        out += std::to_string(s.seq.v) + ":" + std::to_string(s.seq.v + s.len) + "(" + std::to_string(s.len) + ")";
    if (s.has_ack) out += " ack " + render_wild(s.ack);
    if (s.win_any)
        out += " win *";
    else if (s.win_lo == s.win_hi)
        out += " win " + std::to_string(s.win_lo);
    else
        out += " win " + std::to_string(s.win_lo) + ".." + std::to_string(s.win_hi);
    if (s.opts_any) {
        out += " <*>";
    } else if (!s.opts.empty()) {
        out += " <";
        bool first = true;
        for (const auto& o : s.opts) {
            if (!first) out += ",";
            first = false;
            switch (o.k) {
                case opt_spec::kind::mss:
                    out += "mss " + render_wild(o.a);
                    break;
                case opt_spec::kind::wscale:
                    out += "wscale " + render_wild(o.a);
                    break;
                case opt_spec::kind::sack_ok:
                    out += "sackOK";
                    break;
                case opt_spec::kind::nop:
                    out += "nop";
                    break;
                case opt_spec::kind::eol:
                    out += "eol";
                    break;
                case opt_spec::kind::ts:
                    out += "TS val " + render_wild(o.a) + " ecr " + render_wild(o.b);
                    break;
                case opt_spec::kind::raw:
                    out += "raw";
                    break;
                case opt_spec::kind::sack:
                    out += "sack";
                    for (auto& b : o.blocks) out += " " + std::to_string(b.first) + ":" + std::to_string(b.second);
                    break;
            }
        }
        out += ">";
    }
    return out;
}

}  // namespace meshgate::test::tcp
