#include "telemetry/log.hpp"

#include <atomic>
#include <charconv>
#include <cmath>
#include <ctime>
#include <mutex>
#include <string>
#include <unordered_map>

namespace meshgate::telemetry {

namespace {

struct limit_state {
    std::chrono::steady_clock::time_point window_start;
    unsigned emitted = 0;     // lines written in the current window
    uint64_t suppressed = 0;  // dropped since the last line written for this key
};

// Keys come from code (event names, sometimes with a port or a peer); past this many, expired
// windows are forgotten so a key per peer cannot grow the map without bound.
constexpr size_t max_limit_keys = 4096;

struct logger_state {
    std::mutex mu;
    format fmt = format::text;
    level min_level = level::info;
    FILE* out = nullptr;  // nullptr: stdout (not a constant initialiser)
    std::function<std::chrono::system_clock::time_point()> wall;
    std::function<std::chrono::steady_clock::time_point()> mono;
    std::unordered_map<std::string, limit_state> limits;
    std::string line;  // reused buffer
};

logger_state& state() {
    static logger_state s;
    return s;
}

std::atomic<uint64_t> suppressed_total{0};

void append_double(std::string& out, double v) {
    char buf[64];
    std::to_chars_result r;
    // Integral values print as integers (no 1e+06); others in the shortest round-trip form.
    if (std::trunc(v) == v && std::fabs(v) < 1e21) {
        r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    } else {
        r = std::to_chars(buf, buf + sizeof buf, v);
    }
    out.append(buf, r.ptr);
}

template <class Int>
void append_int(std::string& out, Int v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// Length of the valid UTF-8 sequence at s[i] (RFC 3629 4), or 0 if it is not one.
size_t utf8_sequence(std::string_view s, size_t i) noexcept {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    unsigned char c = b(0);
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;  // overlong
        if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;  // overlong
        if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    if (b(1) < lo || b(1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if (b(k) < 0x80 || b(k) > 0xbf) return 0;
    return n;
}

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    json_escape(out, s);
    out.push_back('"');
}

// logfmt-like text value: bare when it is one plain word, else quoted.
void append_text_value(std::string& out, std::string_view s) {
    bool quote = s.empty();
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f || c == '"' || c == '=' || c == '\\') {
            quote = true;
            break;
        }
    }
    if (!quote) {
        out.append(s);
        return;
    }
    out.push_back('"');
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (c == '\n') {
            out.append("\\n");
        } else if (c == '\t') {
            out.append("\\t");
        } else if (u < 0x20 || u == 0x7f) {
            static constexpr char hex[] = "0123456789abcdef";
            out.append("\\x");
            out.push_back(hex[u >> 4]);
            out.push_back(hex[u & 15]);
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

// The message in a text line: verbatim but for control characters (one event, one line).
void append_text_message(std::string& out, std::string_view s) {
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '\n') {
            out.append("\\n");
        } else if (c == '\r') {
            out.append("\\r");
        } else if (c == '\t') {
            out.append("\\t");
        } else if (u < 0x20 || u == 0x7f) {
            static constexpr char hex[] = "0123456789abcdef";
            out.append("\\x");
            out.push_back(hex[u >> 4]);
            out.push_back(hex[u & 15]);
        } else {
            out.push_back(c);
        }
    }
}

void append_value(std::string& out, const field_value& v, format f) {
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) {
                if (f == format::json) {
                    append_json_string(out, x);
                } else {
                    append_text_value(out, x);
                }
            } else if constexpr (std::is_same_v<T, bool>) {
                out.append(x ? "true" : "false");
            } else if constexpr (std::is_same_v<T, double>) {
                if (std::isfinite(x)) {
                    append_double(out, x);
                } else {
                    // JSON has no NaN or infinity: they travel as strings.
                    std::string_view s = std::isnan(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf";
                    if (f == format::json) {
                        append_json_string(out, s);
                    } else {
                        out.append(s);
                    }
                }
            } else {
                append_int(out, x);
            }
        },
        v.value());
}

std::chrono::system_clock::time_point wall_now(const logger_state& s) {
    return s.wall ? s.wall() : std::chrono::system_clock::now();
}

std::chrono::steady_clock::time_point mono_now(const logger_state& s) {
    return s.mono ? s.mono() : std::chrono::steady_clock::now();
}

// Formats and writes one line; `s.mu` held.
void write_line(logger_state& s, level l, std::string_view event, std::string_view message, log_fields fields,
                uint64_t suppressed) {
    std::string& o = s.line;
    o.clear();
    std::string ts = format_timestamp(wall_now(s));
    if (s.fmt == format::json) {
        o.append("{\"ts\":\"").append(ts).append("\",\"level\":\"").append(to_string(l)).append("\",\"event\":");
        append_json_string(o, event);
        o.append(",\"msg\":");
        append_json_string(o, message);
        for (const auto& [k, v] : fields) {
            o.push_back(',');
            append_json_string(o, k);
            o.push_back(':');
            append_value(o, v, format::json);
        }
        if (suppressed > 0) {
            o.append(",\"suppressed\":");
            append_int(o, suppressed);
        }
        o.push_back('}');
    } else {
        o.append(ts).push_back(' ');
        o.append(to_string(l)).push_back(' ');
        append_text_message(o, event);
        o.append(": ");
        append_text_message(o, message);
        for (const auto& [k, v] : fields) {
            o.push_back(' ');
            append_text_message(o, k);
            o.push_back('=');
            append_value(o, v, format::text);
        }
        if (suppressed > 0) {
            o.append(" suppressed=");
            append_int(o, suppressed);
        }
    }
    o.push_back('\n');
    FILE* out = s.out != nullptr ? s.out : stdout;
    std::fwrite(o.data(), 1, o.size(), out);
    std::fflush(out);
}

}  // namespace

std::string_view to_string(level l) noexcept {
    switch (l) {
        case level::debug:
            return "debug";
        case level::info:
            return "info";
        case level::warning:
            return "warning";
        case level::error:
            return "error";
    }
    return "unknown";
}

void json_escape(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < s.size();) {
        auto u = static_cast<unsigned char>(s[i]);
        if (u < 0x80) {
            if (u == '"' || u == '\\') {
                out.push_back('\\');
                out.push_back(static_cast<char>(u));
            } else if (u < 0x20) {
                out.append("\\u00");
                out.push_back(hex[u >> 4]);
                out.push_back(hex[u & 15]);
            } else {
                out.push_back(static_cast<char>(u));
            }
            ++i;
            continue;
        }
        size_t n = utf8_sequence(s, i);
        if (n == 0) {
            out.append("\\ufffd");  // invalid byte: the replacement character keeps the line valid
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
}

std::string format_timestamp(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
    auto secs = static_cast<std::time_t>(ms / 1000);
    auto frac = static_cast<int>(ms % 1000);
    if (frac < 0) {  // before 1970: floor, not truncate
        frac += 1000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

void log_configure(format f, level min_level, FILE* out) {
    auto& s = state();
    std::lock_guard lock(s.mu);
    s.fmt = f;
    s.min_level = min_level;
    s.out = out;
}

bool log_enabled(level l) {
    auto& s = state();
    std::lock_guard lock(s.mu);
    return l >= s.min_level;
}

void log(level l, std::string_view event, std::string_view message, log_fields fields) {
    auto& s = state();
    std::lock_guard lock(s.mu);
    if (l < s.min_level) return;
    write_line(s, l, event, message, fields, 0);
}

bool log_limited(std::string_view key, unsigned per_interval, double interval_s, level l, std::string_view event,
                 std::string_view message, log_fields fields) {
    auto& s = state();
    std::lock_guard lock(s.mu);
    if (l < s.min_level) return false;
    auto now = mono_now(s);
    auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(interval_s > 0 ? interval_s : 0));

    auto it = s.limits.find(std::string(key));
    if (it == s.limits.end()) {
        if (s.limits.size() >= max_limit_keys) {
            // Forget keys whose window ended and that hold no suppressed count to report.
            std::erase_if(s.limits, [&](const auto& kv) {
                return now - kv.second.window_start >= interval && kv.second.suppressed == 0;
            });
        }
        it = s.limits.emplace(std::string(key), limit_state{now, 0, 0}).first;
    }
    limit_state& st = it->second;
    if (now - st.window_start >= interval) {
        st.window_start = now;
        st.emitted = 0;
    }
    if (st.emitted >= per_interval) {
        ++st.suppressed;
        suppressed_total.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    ++st.emitted;
    write_line(s, l, event, message, fields, st.suppressed);
    st.suppressed = 0;
    return true;
}

uint64_t log_suppressed_total() noexcept {
    return suppressed_total.load(std::memory_order_relaxed);
}

void log_set_clocks_for_test(std::function<std::chrono::system_clock::time_point()> wall,
                             std::function<std::chrono::steady_clock::time_point()> mono) {
    auto& s = state();
    std::lock_guard lock(s.mu);
    s.wall = std::move(wall);
    s.mono = std::move(mono);
}

void log_reset_for_test() {
    auto& s = state();
    std::lock_guard lock(s.mu);
    s.limits.clear();
    suppressed_total.store(0, std::memory_order_relaxed);
}

}  // namespace meshgate::telemetry
