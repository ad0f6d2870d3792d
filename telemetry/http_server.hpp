#pragma once
// A small HTTP/1.1 server (RFC 9110, RFC 9112) for the data plane's telemetry endpoint: Prometheus
// /metrics, the dashboard, tap control and pcapng downloads. It is deliberately plain: one thread,
// poll(), requests served one at a time, no chunked bodies, no TLS. It must never run on a DPDK
// worker; the handler may block (waiting for another thread to render metrics, say), which only
// delays the other telemetry clients.
//
// The request parser is a pure function so it can be unit-tested and fuzzed without sockets.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "policy/result.hpp"

namespace meshgate::telemetry {

struct http_request {
    std::string method;     // as received, case-sensitive (RFC 9110 9.1); the server hands HEAD over as GET
    std::string target;     // request-target as received (origin-form, absolute-form or "*")
    std::string path;       // percent-decoded path; always starts with '/' (or is "*"), never has a ".." segment
    std::string query;      // raw query after '?', not decoded (see query_param)
    int minor_version = 1;  // HTTP/1.<minor>
    bool is_head = false;   // set by the server: the client sent HEAD, the body will be dropped
    std::vector<std::pair<std::string, std::string>> headers;  // in order; values trimmed of OWS
    std::string body;

    // First header with this name (case-insensitive), or "" when absent.
    std::string header(std::string_view name) const;
    // The first `name=value` of the query, value percent-decoded with '+' as space
    // (application/x-www-form-urlencoded); "" when absent or undecodable.
    std::string query_param(std::string_view name) const;
};

struct http_response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    // Non-empty: the body is this file, streamed from disk (the size is taken when it is opened;
    // a file that shrinks while it is sent ends the connection). A missing file answers 404.
    std::string file_path;
    // Extra headers. The server owns the framing: Content-Length, Transfer-Encoding, Connection and
    // Date given here are ignored, and headers holding CR, LF or NUL are dropped.
    std::vector<std::pair<std::string, std::string>> headers;

    // A short text body: "<status> <reason>: <message>\n".
    static http_response error(int status, std::string_view message);
};

// The standard reason phrase of a status code ("Not Found"), or "Unknown".
std::string_view http_reason(int status) noexcept;

struct http_limits {
    size_t max_header_bytes = 16 * 1024;  // request line + header fields + the empty line
    size_t max_headers = 100;
    size_t max_body_bytes = 1024 * 1024;
    // Server only: a connection with no traffic for this long is closed, and a request must arrive
    // whole within three times it (so a client trickling bytes cannot hold a slot forever).
    unsigned idle_timeout_ms = 10'000;
};

enum class parse_status : uint8_t {
    incomplete,  // need more bytes (nothing consumed)
    complete,    // `out` holds a request of `consumed` bytes
    error,       // answer `http_status` and close the connection (framing can no longer be trusted)
};

struct parse_result {
    parse_status status = parse_status::incomplete;
    size_t consumed = 0;  // complete: bytes of this request, header block and body
    int http_status = 0;  // error: 400, 411, 413, 414, 431, 501 or 505
    std::string message;  // error: why, for the response body and the log
    // incomplete: the header block is complete and the client sent `Expect: 100-continue`
    // (RFC 9110 10.1.1), so it may be waiting for an interim 100 before sending the body.
    bool expect_continue = false;
};

// Parses one request from the front of `buf` (pipelined requests follow it). Strict per RFC 9112:
// CRLF line ends only (bare CR or LF: 400), request line `method SP target SP HTTP/1.x`, token
// header names with no whitespace before the colon, no obsolete line folding, Host required in
// HTTP/1.1 and never repeated, one valid Content-Length at most, no Transfer-Encoding (501, or 400
// in HTTP/1.0), a path whose percent-decoding holds no %2F, control character or ".." segment.
// A POST/PUT/PATCH announcing a body (Content-Type or Expect) without Content-Length gets 411.
// Up to one empty line before the request line is skipped (RFC 9112 2.2). `out` is overwritten.
// Thread contract: pure, any thread.
parse_result parse_http_request(std::string_view buf, http_request& out, const http_limits& lim = {});

// Percent-decodes `in` (RFC 3986 2.1); false on a malformed escape. `plus_is_space` for query values.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space = false);

using handler_fn = std::function<http_response(const http_request&)>;

// Thread contract: start() and stop() from one control thread; the handler runs on the server's
// own thread, one request at a time.
class http_server {
public:
    static constexpr unsigned max_connections = 64;

    http_server() = default;
    ~http_server() { stop(); }
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    // Binds `address` (an IPv4 or IPv6 literal, brackets allowed: "[::1]") and `port` (0: an
    // ephemeral port, for tests), then serves on a new thread. Returns the bound port, or an error
    // naming the address and port (bind failure, already started).
    result<uint16_t> start(const std::string& address, uint16_t port, handler_fn handler,
                           const http_limits& limits = {});
    // Closes the listener and every connection and joins the thread; waits for a handler that is
    // running. Idempotent.
    void stop();
    // The bound port; 0 before start().
    uint16_t port() const noexcept { return port_.load(std::memory_order_relaxed); }

private:
    void run() noexcept;

    int listen_fd_ = -1;
    int wake_fd_ = -1;  // eventfd: stop() wakes poll()
    std::atomic<uint16_t> port_{0};
    std::atomic<bool> stopping_{false};
    handler_fn handler_;
    http_limits limits_;
    std::thread thread_;
};

}  // namespace meshgate::telemetry
