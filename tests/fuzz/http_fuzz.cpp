// libFuzzer target: the telemetry HTTP request parser on arbitrary bytes, parsed the way the
// server does (request after request from the front of the buffer) with the default limits and
// with tiny ones. Checks what the server relies on: nothing is consumed past the buffer, a
// complete request is self-delimiting, its path is safe to map onto files, and errors carry one
// of the statuses the parser documents.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "telemetry/http_server.hpp"

using namespace meshgate::telemetry;

namespace {

void check_request(const http_request& req, const http_limits& lim) {
    if (req.method.empty()) std::abort();
    if (req.path.empty()) std::abort();
    if (req.path != "*" && req.path.front() != '/') std::abort();
    if (req.minor_version < 0 || req.minor_version > 9) std::abort();
    if (req.headers.size() > lim.max_headers) std::abort();
    if (req.body.size() > lim.max_body_bytes) std::abort();
    for (char c : req.path) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) std::abort();
    }
    std::string_view p = req.path;
    if (p == ".." || p.starts_with("../") || p.ends_with("/..") || p.find("/../") != std::string_view::npos)
        std::abort();
    for (const auto& [k, v] : req.headers) {
        if (k.empty()) std::abort();
        if (v.find_first_of("\r\n") != std::string::npos) std::abort();
    }
    // The accessors must cope with whatever was parsed.
    (void)req.header("host");
    (void)req.header(req.headers.empty() ? "x" : req.headers.back().first);
    (void)req.query_param("name");
    (void)req.query_param("");
}

void run(std::string_view buf, const http_limits& lim) {
    for (int n = 0; n < 64 && !buf.empty(); ++n) {
        http_request req;
        parse_result r = parse_http_request(buf, req, lim);
        if (r.status == parse_status::incomplete) {
            if (r.consumed != 0) std::abort();
            return;
        }
        if (r.status == parse_status::error) {
            const int st = r.http_status;
            if (st != 400 && st != 411 && st != 413 && st != 414 && st != 431 && st != 501 && st != 505) std::abort();
            if (r.message.empty()) std::abort();
            return;  // the server closes the connection here
        }
        if (r.consumed == 0 || r.consumed > buf.size()) std::abort();
        check_request(req, lim);
        // Self-delimiting: the request alone parses the same, and a strict prefix of it is not
        // yet a request (the server must never answer early).
        http_request again;
        parse_result alone = parse_http_request(buf.substr(0, r.consumed), again, lim);
        if (alone.status != parse_status::complete || alone.consumed != r.consumed) std::abort();
        if (again.path != req.path || again.body != req.body || again.headers != req.headers) std::abort();
        if (parse_http_request(buf.substr(0, r.consumed - 1), again, lim).status != parse_status::incomplete)
            std::abort();
        if (parse_http_request(buf.substr(0, r.consumed / 2), again, lim).status != parse_status::incomplete)
            std::abort();
        buf.remove_prefix(r.consumed);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 65536) return 0;
    std::string_view buf(reinterpret_cast<const char*>(data), size);
    run(buf, http_limits{});
    http_limits tiny;
    tiny.max_header_bytes = 64;
    tiny.max_headers = 2;
    tiny.max_body_bytes = 8;
    run(buf, tiny);
    return 0;
}
