#pragma once
// Structured logs for the data plane's main lcore and helper threads: one line per event, JSON
// (for collectors) or text (for people), each flushed as written.
//
// Thread contract: any non-worker thread. Every call takes one process-wide mutex and writes to a
// FILE*, so a DPDK worker must never log: it counts, and the main lcore reports.
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace meshgate::telemetry {

enum class level : uint8_t { debug, info, warning, error };
enum class format : uint8_t { json, text };

std::string_view to_string(level l) noexcept;

// One field's value. Constructible from strings, integers, floating point and bool, so call sites
// read `{"port", 9100}`, `{"name", name}`; a string literal is a string, never a bool.
class field_value {
public:
    using value_type = std::variant<std::string, int64_t, uint64_t, double, bool>;

    field_value(const char* s) : v_(std::string(s != nullptr ? s : "")) {}  // NOLINT(google-explicit-constructor)
    field_value(std::string_view s) : v_(std::string(s)) {}                 // NOLINT(google-explicit-constructor)
    field_value(const std::string& s) : v_(s) {}                            // NOLINT(google-explicit-constructor)
    field_value(std::string&& s) : v_(std::move(s)) {}                      // NOLINT(google-explicit-constructor)
    field_value(bool b) : v_(b) {}                                          // NOLINT(google-explicit-constructor)
    template <std::signed_integral T>
    field_value(T v) : v_(static_cast<int64_t>(v)) {}  // NOLINT(google-explicit-constructor)
    template <std::unsigned_integral T>
    requires(!std::same_as<T, bool>) field_value(T v)
        : v_(static_cast<uint64_t>(v)) {}  // NOLINT(google-explicit-constructor)
    template <std::floating_point T>
    field_value(T v) : v_(static_cast<double>(v)) {}  // NOLINT(google-explicit-constructor)

    const value_type& value() const noexcept { return v_; }

private:
    value_type v_;
};

using log_fields = std::initializer_list<std::pair<std::string_view, field_value>>;

// Sets the output format, the lowest level written, and the stream (not closed by the logger).
// Before the first call: text, info, stdout.
void log_configure(format f, level min_level, FILE* out = stdout);

// Whether a line at `l` would be written (to skip building costly fields).
bool log_enabled(level l);

// Writes one line:
//   json: {"ts":"2026-11-27T16:20:00.123Z","level":"info","event":"config.reload","msg":"...","key":value}
//   text: 2026-11-27T16:20:00.123Z info config.reload: msg key=value
// JSON strings are escaped per RFC 8259 (control characters as \u00XX; invalid UTF-8 becomes
// U+FFFD so the line stays valid JSON). Text keeps the message as given except that control
// characters are escaped (\n, \t, \xHH), so one event stays one line; values with spaces, quotes
// or '=' are quoted.
void log(level l, std::string_view event, std::string_view message, log_fields fields = {});

// Like log(), at most `per_interval` lines per `key` in each `interval_s` window. Returns whether
// the line was written. Dropped lines are counted (log_suppressed_total) and the next line written
// for the key carries "suppressed":N. A line below the configured level is neither written nor
// counted.
bool log_limited(std::string_view key, unsigned per_interval, double interval_s, level l, std::string_view event,
                 std::string_view message, log_fields fields = {});

// Lines dropped by log_limited since start (meshgate_log_suppressed_total).
uint64_t log_suppressed_total() noexcept;

// Tests: fixed clocks (wall time for the timestamps, monotonic time for the rate limits), and a
// reset of the rate-limit state and suppressed count. Empty functions restore the real clocks.
void log_set_clocks_for_test(std::function<std::chrono::system_clock::time_point()> wall,
                             std::function<std::chrono::steady_clock::time_point()> mono);
void log_reset_for_test();

// Exposed for tests: appends `s` as a JSON string body (no quotes) / formats a UTC timestamp.
void json_escape(std::string& out, std::string_view s);
std::string format_timestamp(std::chrono::system_clock::time_point t);

}  // namespace meshgate::telemetry
