#include "telemetry/http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>

#include "telemetry/log.hpp"

namespace meshgate::telemetry {

namespace {

// RFC 9110 5.6.2: tchar.
bool is_tchar(unsigned char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != 0 && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// RFC 9110 5.5: field-vchar (VCHAR / obs-text), plus SP and HTAB inside a value.
bool is_field_value_char(unsigned char c) noexcept {
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

parse_result fail(int status, std::string message) {
    parse_result r;
    r.status = parse_status::error;
    r.http_status = status;
    r.message = std::move(message);
    return r;
}

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Does a comma-separated token list (Connection, Expect) hold `token`? RFC 9110 5.6.1.
bool list_has_token(std::string_view list, std::string_view token) noexcept {
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view item = trim_ows(list.substr(0, comma));
        if (iequals(item, token)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

// Splits the request-target (RFC 9112 3.2) into a raw path and query. False: not a form we serve.
bool split_target(std::string_view method, std::string_view target, std::string_view& path, std::string_view& query,
                  std::string& why) {
    if (target.find('#') != std::string_view::npos) {
        why = "fragment in request-target";
        return false;
    }
    if (target == "*") {
        // asterisk-form is for OPTIONS only (RFC 9112 3.2.4).
        if (method != "OPTIONS") {
            why = "asterisk-form target outside OPTIONS";
            return false;
        }
        path = target;
        query = {};
        return true;
    }
    std::string_view rest = target;
    if (target.front() != '/') {
        // absolute-form (RFC 9112 3.2.2): servers must accept it; the authority is not used.
        size_t scheme_len = istarts_with(target, "http://") ? 7 : istarts_with(target, "https://") ? 8 : 0;
        if (scheme_len == 0) {
            why = "request-target is neither origin-form nor absolute-form";
            return false;
        }
        rest = target.substr(scheme_len);
        size_t end = rest.find_first_of("/?");
        if (end == 0 || rest.empty()) {
            why = "absolute-form target without authority";
            return false;
        }
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    }
    size_t q = rest.find('?');
    path = rest.substr(0, q);
    query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
    if (path.empty()) path = "/";  // "http://host?x" has an empty path, which means "/"
    return true;
}

// The decoded path must not let a file-serving handler escape its directory or confuse a log line:
// no encoded '/', no control characters, no ".." segment.
bool decode_path(std::string_view raw, std::string& out, std::string& why) {
    for (size_t i = 0; i + 2 < raw.size(); ++i) {
        if (raw[i] == '%' && raw[i + 1] == '2' && (raw[i + 2] == 'F' || raw[i + 2] == 'f')) {
            why = "encoded '/' (%2F) in path";
            return false;
        }
    }
    if (!percent_decode(raw, out)) {
        why = "malformed percent-encoding in path";
        return false;
    }
    for (char c : out) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            why = u == 0 ? "NUL in path" : "control character in path";
            return false;
        }
    }
    std::string_view p = out;
    while (!p.empty()) {
        size_t slash = p.find('/');
        if (p.substr(0, slash) == "..") {
            why = "'..' segment in path";
            return false;
        }
        if (slash == std::string_view::npos) break;
        p.remove_prefix(slash + 1);
    }
    return true;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
    out.clear();
    out.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return false;
            int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return true;
}

std::string http_request::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return v;
    return {};
}

std::string http_request::query_param(std::string_view name) const {
    std::string_view q = query;
    std::string key, value;
    while (!q.empty()) {
        size_t amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        size_t eq = pair.find('=');
        if (percent_decode(pair.substr(0, eq), key, true) && key == name) {
            if (eq == std::string_view::npos) return {};
            if (!percent_decode(pair.substr(eq + 1), value, true)) return {};
            return value;
        }
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return {};
}

std::string_view http_reason(int status) noexcept {
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 206:
            return "Partial Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 303:
            return "See Other";
        case 304:
            return "Not Modified";
        case 307:
            return "Temporary Redirect";
        case 308:
            return "Permanent Redirect";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 406:
            return "Not Acceptable";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 410:
            return "Gone";
        case 411:
            return "Length Required";
        case 412:
            return "Precondition Failed";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 415:
            return "Unsupported Media Type";
        case 416:
            return "Range Not Satisfiable";
        case 422:
            return "Unprocessable Content";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Unknown";
    }
}

http_response http_response::error(int status, std::string_view message) {
    http_response r;
    r.status = status;
    r.body = std::to_string(status);
    r.body += ' ';
    r.body += http_reason(status);
    if (!message.empty()) {
        r.body += ": ";
        r.body += message;
    }
    r.body += '\n';
    return r;
}

namespace {

// request-line = method SP request-target SP HTTP-version (RFC 9112 3). Fills method, target and
// minor version; false with `err` set on a malformed line.
bool parse_request_line(std::string_view line, std::string_view& method, std::string_view& target, int& minor,
                        parse_result& err) {
    size_t m = 0;
    while (m < line.size() && is_tchar(static_cast<unsigned char>(line[m]))) ++m;
    if (m == 0 || m >= line.size() || line[m] != ' ') {
        err = fail(400, "malformed method in request line");
        return false;
    }
    method = line.substr(0, m);
    size_t t = m + 1;
    size_t t_end = t;
    while (t_end < line.size() && line[t_end] != ' ') {
        auto u = static_cast<unsigned char>(line[t_end]);
        if (u < 0x21 || u > 0x7e) {
            err = fail(400, "invalid character in request-target");
            return false;
        }
        ++t_end;
    }
    if (t_end == t || t_end >= line.size()) {
        err = fail(400, "malformed request-target in request line");
        return false;
    }
    target = line.substr(t, t_end - t);
    std::string_view version = line.substr(t_end + 1);
    // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3).
    if (version.size() != 8 || !version.starts_with("HTTP/") || version[6] != '.' || version[5] < '0' ||
        version[5] > '9' || version[7] < '0' || version[7] > '9') {
        err = fail(400, "malformed HTTP version");
        return false;
    }
    if (version[5] != '1') {
        err = fail(505, "only HTTP/1.x is served");
        return false;
    }
    minor = version[7] - '0';
    return true;
}

}  // namespace

parse_result parse_http_request(std::string_view buf, http_request& out, const http_limits& lim) {
    // RFC 9112 2.2: a server should ignore at least one empty line before the request line (some
    // clients send CRLF after a POST body). One is skipped; a second is a syntax error.
    size_t start = 0;
    if (buf.empty() || buf == "\r") return {};
    if (buf.starts_with("\r\n")) start = 2;

    // Find the end of the header block, checking line ends on the way so a client speaking bare LF
    // is answered at once instead of when the limit or the idle timeout is reached.
    const size_t scan_end = std::min(buf.size(), start + lim.max_header_bytes);
    size_t line_start = start;
    size_t request_line_end = std::string_view::npos;
    size_t header_end = std::string_view::npos;    // first byte after the empty line
    std::vector<std::pair<size_t, size_t>> lines;  // header field lines [begin, end)
    for (size_t i = start; i < scan_end; ++i) {
        char c = buf[i];
        if (c == '\n') return fail(400, "bare LF line ending");
        if (c != '\r') continue;
        if (i + 1 >= buf.size()) break;  // the LF has not arrived yet
        if (buf[i + 1] != '\n') return fail(400, "bare CR in request header");
        if (request_line_end == std::string_view::npos) {
            if (i == line_start) return fail(400, "empty request line");
            request_line_end = i;
        } else if (i == line_start) {
            header_end = i + 2;
            break;
        } else {
            if (lines.size() >= lim.max_headers)
                return fail(431, "more than " + std::to_string(lim.max_headers) + " header fields");
            lines.emplace_back(line_start, i);
        }
        line_start = i + 2;
        ++i;
    }
    // The request line is judged as soon as it is complete, so a client that is not speaking
    // HTTP/1.x hears so at once.
    std::string_view method, target;
    int minor = 1;
    if (request_line_end != std::string_view::npos) {
        parse_result err;
        if (!parse_request_line(buf.substr(start, request_line_end - start), method, target, minor, err)) return err;
    }
    if (header_end == std::string_view::npos) {
        if (buf.size() - start < lim.max_header_bytes) return {};
        if (request_line_end == std::string_view::npos) return fail(414, "request line longer than the header limit");
        return fail(431, "header block larger than " + std::to_string(lim.max_header_bytes) + " bytes");
    }
    if (header_end - start > lim.max_header_bytes)
        return fail(431, "header block larger than " + std::to_string(lim.max_header_bytes) + " bytes");

    out.method.clear();
    out.target.clear();
    out.path.clear();
    out.query.clear();
    out.headers.clear();
    out.body.clear();
    out.is_head = false;
    out.minor_version = minor;

    // field-line = field-name ":" OWS field-value OWS (RFC 9112 5).
    size_t host_count = 0, cl_count = 0;
    bool has_te = false, has_content_type = false, has_expect = false, expect_continue = false;
    std::string_view content_length;
    out.headers.reserve(lines.size());
    for (auto [b, e] : lines) {
        std::string_view fl = buf.substr(b, e - b);
        if (fl.front() == ' ' || fl.front() == '\t') return fail(400, "obsolete line folding in header");
        size_t n = 0;
        while (n < fl.size() && is_tchar(static_cast<unsigned char>(fl[n]))) ++n;
        if (n == fl.size()) return fail(400, "header field without colon");
        if (fl[n] != ':') {
            // RFC 9112 5.1: whitespace between the name and the colon must be rejected with 400.
            return fail(400, fl[n] == ' ' || fl[n] == '\t' ? "whitespace before colon in header field"
                                                           : "invalid character in header field name");
        }
        if (n == 0) return fail(400, "empty header field name");
        std::string_view name = fl.substr(0, n);
        std::string_view value = trim_ows(fl.substr(n + 1));
        for (char c : value)
            if (!is_field_value_char(static_cast<unsigned char>(c)))
                return fail(400, "invalid character in header field value");
        if (iequals(name, "host")) {
            ++host_count;
        } else if (iequals(name, "content-length")) {
            ++cl_count;
            content_length = value;
        } else if (iequals(name, "transfer-encoding")) {
            has_te = true;
        } else if (iequals(name, "content-type")) {
            has_content_type = true;
        } else if (iequals(name, "expect")) {
            has_expect = true;
            expect_continue = expect_continue || list_has_token(value, "100-continue");
        }
        out.headers.emplace_back(std::string(name), std::string(value));
    }

    // RFC 9112 3.2: an HTTP/1.1 request without Host, or with more than one, gets 400.
    if (host_count > 1) return fail(400, "more than one Host header");
    if (host_count == 0 && out.minor_version >= 1) return fail(400, "missing Host header");

    // Message body length (RFC 9112 6.1, 6.3). Transfer-Encoding in HTTP/1.0 means faulty framing;
    // in HTTP/1.1 it is a coding this server does not implement.
    if (has_te) {
        if (out.minor_version == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
        return fail(501, "Transfer-Encoding is not supported; send Content-Length");
    }
    size_t body_len = 0;
    if (cl_count > 1) return fail(400, "more than one Content-Length header");
    if (cl_count == 1) {
        if (content_length.empty()) return fail(400, "invalid Content-Length");
        for (char c : content_length)
            if (c < '0' || c > '9') return fail(400, "invalid Content-Length");
        std::string_view digits = content_length;
        while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
        if (digits.size() > 18) return fail(413, "body larger than " + std::to_string(lim.max_body_bytes) + " bytes");
        uint64_t v = 0;
        for (char c : digits) v = v * 10 + static_cast<uint64_t>(c - '0');
        if (v > lim.max_body_bytes)
            return fail(413, "body larger than " + std::to_string(lim.max_body_bytes) + " bytes");
        body_len = static_cast<size_t>(v);
    } else if ((method == "POST" || method == "PUT" || method == "PATCH") && (has_content_type || has_expect)) {
        // The request announces a body but gives no way to delimit it (RFC 9110 15.5.12).
        return fail(411, "a request with a body needs Content-Length");
    }

    std::string_view raw_path, query;
    std::string why;
    if (!split_target(method, target, raw_path, query, why)) return fail(400, why);
    if (raw_path == "*") {
        out.path.push_back('*');  // (out.path is empty; assigning "*" trips GCC 12's -Wrestrict, bug 105329)
    } else if (!decode_path(raw_path, out.path, why)) {
        return fail(400, why);
    }

    if (buf.size() - header_end < body_len) {
        parse_result r;
        r.expect_continue = expect_continue;
        return r;
    }

    out.method = method;
    out.target = target;
    out.query = query;
    out.body = buf.substr(header_end, body_len);
    parse_result r;
    r.status = parse_status::complete;
    r.consumed = header_end + body_len;
    return r;
}

// ---- the server ----

namespace {

using clock_type = std::chrono::steady_clock;

constexpr size_t read_chunk = 64 * 1024;
constexpr uint64_t sendfile_chunk = 1024 * 1024;
constexpr uint64_t max_file_bytes_per_wake = 8 * 1024 * 1024;  // then let other connections in
constexpr auto linger_time = std::chrono::seconds(2);
constexpr size_t max_linger_bytes = 1024 * 1024;
constexpr int request_deadline_factor = 3;  // a whole request must arrive within 3 idle timeouts

struct connection {
    int fd = -1;
    std::string in;   // received, not yet parsed
    std::string out;  // response head (and body unless a file)
    size_t out_off = 0;
    int file_fd = -1;  // file body being streamed
    off_t file_off = 0;
    uint64_t file_left = 0;
    bool close_after = false;    // close once the response is out
    bool read_eof = false;       // the client shut down its side
    bool sent_continue = false;  // 100 Continue already sent for the request in `in`
    bool lingering = false;      // response out, write side shut: draining input before close
    size_t lingered = 0;
    clock_type::time_point last_active;
    clock_type::time_point request_since;  // first byte of a still incomplete request; 0: none
    clock_type::time_point linger_since;

    bool writing() const noexcept { return out_off < out.size() || file_left > 0; }
};

void close_connection(connection& c) noexcept {
    if (c.file_fd >= 0) ::close(c.file_fd);
    if (c.fd >= 0) ::close(c.fd);
    c.file_fd = -1;
    c.fd = -1;
}

// IMF-fixdate (RFC 9110 5.6.7), independent of the C locale.
std::string http_date() {
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
                  months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

bool safe_header_text(std::string_view s) noexcept {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool wants_keep_alive(const http_request& req) {
    bool close = false, keep = false;
    for (const auto& [k, v] : req.headers) {
        if (!iequals(k, "connection")) continue;
        close = close || list_has_token(v, "close");
        keep = keep || list_has_token(v, "keep-alive");
    }
    if (close) return false;
    return req.minor_version >= 1 || keep;  // HTTP/1.0 closes unless asked (RFC 9112 9.3)
}

// Serialises `resp` into the connection's output. `head`: HEAD request, no body.
void queue_response(connection& c, http_response resp, bool head, bool keep_alive, int minor_version) {
    if (resp.status < 200 || resp.status > 599) {
        resp = http_response::error(500, "handler returned status " + std::to_string(resp.status));
    }
    uint64_t length = resp.body.size();
    if (!resp.file_path.empty()) {
        int fd = ::open(resp.file_path.c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st {};
        if (fd < 0) {
            int err = errno;
            resp = err == ENOENT   ? http_response::error(404, "no such file")
                   : err == EACCES ? http_response::error(403, "file not readable")
                                   : http_response::error(500, std::string("cannot open file: ") + std::strerror(err));
            length = resp.body.size();
        } else if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            resp = http_response::error(404, "not a regular file");
            length = resp.body.size();
        } else {
            c.file_fd = fd;
            c.file_off = 0;
            length = static_cast<uint64_t>(st.st_size);
            resp.body.clear();
        }
    }
    // 204 and 304 never carry a body (RFC 9110 6.4.1); 204 has no Content-Length (8.6).
    const bool no_body = resp.status == 204 || resp.status == 304;

    std::string& o = c.out;
    o.clear();
    c.out_off = 0;
    o += "HTTP/1.1 ";
    o += std::to_string(resp.status);
    o += ' ';
    o += http_reason(resp.status);
    o += "\r\nDate: ";
    o += http_date();
    o += "\r\n";
    if (!no_body) {
        if (safe_header_text(resp.content_type) && !resp.content_type.empty()) {
            o += "Content-Type: ";
            o += resp.content_type;
            o += "\r\n";
        }
        o += "Content-Length: ";
        o += std::to_string(length);
        o += "\r\n";
    }
    for (const auto& [k, v] : resp.headers) {
        if (k.empty() ||
            !std::all_of(k.begin(), k.end(), [](char ch) { return is_tchar(static_cast<unsigned char>(ch)); }))
            continue;
        if (!safe_header_text(v)) continue;
        if (iequals(k, "content-length") || iequals(k, "transfer-encoding") || iequals(k, "connection") ||
            iequals(k, "date") || (iequals(k, "content-type") && !no_body))
            continue;
        o += k;
        o += ": ";
        o += v;
        o += "\r\n";
    }
    if (!keep_alive) {
        o += "Connection: close\r\n";
    } else if (minor_version == 0) {
        o += "Connection: keep-alive\r\n";
    }
    o += "\r\n";
    c.close_after = !keep_alive;
    if (head || no_body) {
        if (c.file_fd >= 0) ::close(c.file_fd);
        c.file_fd = -1;
        c.file_left = 0;
        return;
    }
    if (c.file_fd >= 0) {
        c.file_left = length;
        if (length == 0) {
            ::close(c.file_fd);
            c.file_fd = -1;
        }
    } else {
        o += resp.body;
    }
}

class server_loop {
public:
    server_loop(int listen_fd, int wake_fd, const std::atomic<bool>& stopping, const handler_fn& handler,
                const http_limits& limits)
        : listen_fd_(listen_fd), wake_fd_(wake_fd), stopping_(stopping), handler_(handler), limits_(limits) {}

    void run() noexcept {
        std::vector<pollfd> pfds;
        clock_type::time_point accept_paused_until{};
        while (!stopping_.load(std::memory_order_acquire)) {
            auto now = clock_type::now();
            pfds.clear();
            pfds.push_back({wake_fd_, POLLIN, 0});
            bool can_accept = conns_.size() < http_server::max_connections && now >= accept_paused_until;
            pfds.push_back({can_accept ? listen_fd_ : -1, POLLIN, 0});
            for (const auto& c : conns_) {
                short ev = c.lingering ? POLLIN : c.writing() ? POLLOUT : (c.read_eof ? 0 : POLLIN);
                pfds.push_back({c.fd, ev, 0});
            }
            int n = ::poll(pfds.data(), pfds.size(), 500);
            if (n < 0) {
                if (errno == EINTR) continue;
                log_limited("telemetry.http.poll", 1, 60, level::error, "telemetry.http.poll_failed",
                            std::strerror(errno));
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                continue;
            }
            if (pfds[0].revents != 0) {
                uint64_t v;
                [[maybe_unused]] ssize_t r = ::read(wake_fd_, &v, sizeof v);
                if (stopping_.load(std::memory_order_acquire)) break;
            }
            for (size_t i = 0; i < conns_.size(); ++i) {
                short re = pfds[i + 2].revents;
                if (re == 0) continue;
                connection& c = conns_[i];
                if (re & (POLLERR | POLLNVAL)) {
                    close_connection(c);
                    continue;
                }
                if (re & POLLOUT) process(c);
                if (c.fd >= 0 && (re & (POLLIN | POLLHUP))) on_readable(c);
            }
            if (pfds[1].revents & POLLIN) accept_all(accept_paused_until);
            expire(clock_type::now());
            std::erase_if(conns_, [](const connection& c) { return c.fd < 0; });
        }
        for (auto& c : conns_) close_connection(c);
        conns_.clear();
    }

private:
    void accept_all(clock_type::time_point& paused_until) {
        while (conns_.size() < http_server::max_connections) {
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                    // EMFILE and friends: the listener stays readable, so back off instead of spinning.
                    log_limited("telemetry.http.accept", 1, 60, level::warning, "telemetry.http.accept_failed",
                                std::strerror(errno));
                    paused_until = clock_type::now() + std::chrono::milliseconds(200);
                }
                return;
            }
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            connection c;
            c.fd = fd;
            c.last_active = clock_type::now();
            conns_.push_back(std::move(c));
        }
    }

    void expire(clock_type::time_point now) {
        for (auto& c : conns_) {
            if (c.fd < 0) continue;
            const auto idle = std::chrono::milliseconds(limits_.idle_timeout_ms);
            bool expired = c.lingering ? now - c.linger_since > linger_time
                                       : now - c.last_active > idle ||
                                             // a request trickled in byte by byte must still end
                                             (c.request_since != clock_type::time_point{} &&
                                              now - c.request_since > request_deadline_factor * idle);
            if (expired) close_connection(c);
        }
    }

    void on_readable(connection& c) {
        char buf[read_chunk];
        if (c.lingering) {
            // After an error response: read and drop what the client still sends, so closing does
            // not reset the connection before it has read the response.
            for (;;) {
                ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
                if (n > 0) {
                    c.lingered += static_cast<size_t>(n);
                    if (c.lingered > max_linger_bytes) break;
                    continue;
                }
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
                break;
            }
            close_connection(c);
            return;
        }
        // Enough for any request the parser can accept; past this it decides (complete or error).
        const size_t cap = limits_.max_header_bytes + limits_.max_body_bytes + 2;
        while (c.in.size() < cap) {
            size_t want = std::min(sizeof buf, cap - c.in.size());
            ssize_t n = ::recv(c.fd, buf, want, 0);
            if (n > 0) {
                c.in.append(buf, static_cast<size_t>(n));
                c.last_active = clock_type::now();
                continue;
            }
            if (n == 0) {
                c.read_eof = true;
                break;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            close_connection(c);
            return;
        }
        process(c);
    }

    // Writes what is pending. True when all of it is out; false when the socket is full (poll for
    // POLLOUT) or the connection was closed. A finished `close_after` response starts the linger.
    bool flush(connection& c) {
        while (c.out_off < c.out.size()) {
            ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
            if (n > 0) {
                c.out_off += static_cast<size_t>(n);
                c.last_active = clock_type::now();
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
            close_connection(c);
            return false;
        }
        c.out.clear();
        c.out_off = 0;
        uint64_t this_wake = 0;
        while (c.file_left > 0) {
            if (this_wake >= max_file_bytes_per_wake) return false;  // poll again; others get a turn
            ssize_t n = ::sendfile(c.fd, c.file_fd, &c.file_off, std::min(c.file_left, sendfile_chunk));
            if (n > 0) {
                c.file_left -= static_cast<uint64_t>(n);
                this_wake += static_cast<uint64_t>(n);
                c.last_active = clock_type::now();
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
            // n == 0: the file shrank under us; the promised Content-Length cannot be kept.
            close_connection(c);
            return false;
        }
        if (c.file_fd >= 0) {
            ::close(c.file_fd);
            c.file_fd = -1;
        }
        if (c.close_after) {
            start_linger(c);
            return false;
        }
        return true;
    }

    void start_linger(connection& c) {
        if (c.read_eof) {
            close_connection(c);
            return;
        }
        ::shutdown(c.fd, SHUT_WR);
        c.lingering = true;
        c.in.clear();
        c.linger_since = clock_type::now();
    }

    // Writes what is pending, then answers the complete requests in `c.in` one at a time until the
    // socket is full or more input is needed. A loop, not recursion: a client may pipeline
    // thousands of small requests in one buffer.
    void process(connection& c) {
        while (c.fd >= 0 && !c.lingering) {
            if (c.writing()) {
                if (!flush(c)) return;
                continue;
            }
            if (c.in.empty()) {
                if (c.read_eof) close_connection(c);
                return;
            }
            http_request req;
            parse_result r = parse_http_request(c.in, req, limits_);
            if (r.status == parse_status::incomplete) {
                if (c.read_eof) {
                    close_connection(c);  // the client went away mid-request
                    return;
                }
                if (c.request_since == clock_type::time_point{}) c.request_since = clock_type::now();
                if (!r.expect_continue || c.sent_continue) return;
                c.sent_continue = true;
                c.out = "HTTP/1.1 100 Continue\r\n\r\n";
                c.out_off = 0;
                continue;
            }
            if (r.status == parse_status::error) {
                c.in.clear();
                queue_response(c, http_response::error(r.http_status, r.message), false, false, 1);
                continue;
            }
            c.in.erase(0, r.consumed);
            c.sent_continue = false;
            c.request_since = {};
            bool keep_alive = wants_keep_alive(req) && !c.read_eof;
            // RFC 9110 9.3.2: HEAD is GET without the body, so handlers only know GET.
            if (req.method == "HEAD") {
                req.method = "GET";
                req.is_head = true;
            }
            http_response resp;
            try {
                resp = handler_(req);
            } catch (const std::exception& e) {
                log_limited("telemetry.http.handler", 5, 60, level::error, "telemetry.http.handler_failed", e.what(),
                            {{"path", req.path}});
                resp = http_response::error(500, "internal error");
            } catch (...) {
                resp = http_response::error(500, "internal error");
            }
            queue_response(c, std::move(resp), req.is_head, keep_alive, req.minor_version);
        }
    }

    int listen_fd_;
    int wake_fd_;
    const std::atomic<bool>& stopping_;
    const handler_fn& handler_;
    const http_limits& limits_;
    std::vector<connection> conns_;
};

std::string endpoint_text(const std::string& address, uint16_t port) {
    if (address.find(':') != std::string::npos && !address.starts_with("["))
        return "[" + address + "]:" + std::to_string(port);
    return address + ":" + std::to_string(port);
}

}  // namespace

result<uint16_t> http_server::start(const std::string& address, uint16_t port, handler_fn handler,
                                    const http_limits& limits) {
    const std::string where = endpoint_text(address, port);
    if (thread_.joinable()) return error{"telemetry http: cannot listen on " + where + ": server already started"};
    if (!handler) return error{"telemetry http: cannot listen on " + where + ": no handler"};

    std::string literal = address;
    if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']')
        literal = literal.substr(1, literal.size() - 2);
    sockaddr_storage ss{};
    socklen_t ss_len = 0;
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, literal.c_str(), &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        ss_len = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, literal.c_str(), &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        ss_len = sizeof(sockaddr_in6);
    } else {
        return error{"telemetry http: cannot listen on " + where + ": not an IPv4 or IPv6 address literal"};
    }

    auto fail_with = [&](const char* what, int err, int fd) -> error {
        if (fd >= 0) ::close(fd);
        return error{"telemetry http: cannot listen on " + where + ": " + what + ": " + std::strerror(err)};
    };
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail_with("socket", errno, -1);
    int one = 1;
    // A restarted data plane must rebind at once, not after TIME_WAIT.
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return fail_with("SO_REUSEADDR", errno, fd);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), ss_len) != 0) return fail_with("bind", errno, fd);
    if (::listen(fd, 64) != 0) return fail_with("listen", errno, fd);
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof bound;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0)
        return fail_with("getsockname", errno, fd);
    uint16_t bound_port = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                                        : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake < 0) return fail_with("eventfd", errno, fd);

    listen_fd_ = fd;
    wake_fd_ = wake;
    handler_ = std::move(handler);
    limits_ = limits;
    stopping_.store(false, std::memory_order_release);
    port_.store(bound_port, std::memory_order_relaxed);
    try {
        thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
        ::close(listen_fd_);
        ::close(wake_fd_);
        listen_fd_ = wake_fd_ = -1;
        port_.store(0, std::memory_order_relaxed);
        return error{"telemetry http: cannot listen on " + where + ": thread: " + e.what()};
    }
    return bound_port;
}

void http_server::run() noexcept {
    server_loop loop(listen_fd_, wake_fd_, stopping_, handler_, limits_);
    loop.run();
}

void http_server::stop() {
    if (thread_.joinable()) {
        stopping_.store(true, std::memory_order_release);
        uint64_t one = 1;
        [[maybe_unused]] ssize_t r = ::write(wake_fd_, &one, sizeof one);
        thread_.join();
    }
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    listen_fd_ = wake_fd_ = -1;
    port_.store(0, std::memory_order_relaxed);
    handler_ = nullptr;
}

}  // namespace meshgate::telemetry
