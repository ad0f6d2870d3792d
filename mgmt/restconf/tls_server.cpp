#include "mgmt/restconf/tls_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "mgmt/restconf/restconf_map.hpp"

namespace meshgate::mgmt::restconf {

namespace tl = meshgate::telemetry;

namespace {

std::string ssl_errors() {
    std::string s;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!s.empty()) s += "; ";
        s += buf;
    }
    return s.empty() ? "unknown TLS error" : s;
}

std::string http_date() {
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                  months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

bool safe_text(const std::string& s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
}

std::string format_response(const tl::http_response& r, bool head, bool close) {
    const bool no_body = r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
    std::string o = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(tl::http_reason(r.status)) + "\r\n";
    o += "Date: " + http_date() + "\r\n";
    o += "Server: meshgate-mgmtd\r\n";
    if (!no_body) {
        if (!r.content_type.empty() && safe_text(r.content_type)) o += "Content-Type: " + r.content_type + "\r\n";
        o += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    }
    for (const auto& [k, v] : r.headers) {
        if (k.empty() || !safe_text(k) || !safe_text(v) || k.find(':') != std::string::npos) continue;
        o += k + ": " + v + "\r\n";
    }
    if (close) o += "Connection: close\r\n";
    o += "\r\n";
    if (!no_body && !head) o += r.body;
    return o;
}

bool wants_close(const tl::http_request& req) {
    std::string c = req.header("connection");
    for (auto& ch : c) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (c.find("close") != std::string::npos) return true;
    if (req.minor_version == 0) return c.find("keep-alive") == std::string::npos;
    return false;
}

// telemetry's parser refuses an encoded '/' in the path (it guards file-serving handlers), but
// RFC 8040 3.5.3 needs "%2F" inside key values (route=10.0.0.0%2F8). The path part of the
// request line is rewritten in place with same-length "_2F" before parsing; the handler gets the
// original target. Returns false while the request line is incomplete.
bool shield_request_line(std::string& buf, std::string& original_target) {
    size_t start = buf.starts_with("\r\n") ? 2 : 0;
    size_t eol = buf.find("\r\n", start);
    if (eol == std::string::npos) return false;
    size_t sp1 = buf.find(' ', start);
    size_t sp2 = buf.rfind(' ', eol);
    if (sp1 == std::string::npos || sp1 >= eol || sp2 <= sp1) return true;  // the parser answers 400
    original_target = buf.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t end = buf.find('?', sp1 + 1);
    if (end == std::string::npos || end > sp2) end = sp2;
    for (size_t i = sp1 + 1; i + 2 < end; ++i)
        if (buf[i] == '%' && buf[i + 1] == '2' && (buf[i + 2] == 'F' || buf[i + 2] == 'f')) buf[i] = '_';
    return true;
}

bool ssl_write_all(SSL* s, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        size_t n = 0;
        if (SSL_write_ex(s, data.data() + off, data.size() - off, &n) <= 0) return false;
        off += n;
    }
    return true;
}

tl::http_response error_response(int status, const std::string& tag, const std::string& message) {
    tl::http_response r;
    r.status = status;
    r.content_type = "application/yang-data+json";
    rpc_error e;
    e.type = "transport";
    e.tag = tag;
    e.message = message;
    r.body = errors_json(e);
    return r;
}

}  // namespace

result<uint16_t> tls_server::start(const std::string& address, uint16_t port, const std::string& cert_file,
                                   const std::string& key_file, https_handler h, const tls_limits& lim) {
    if (listen_fd_ >= 0) return error{"the RESTCONF server is already started"};
    std::string where = address + " port " + std::to_string(port);
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (!ctx_) return error{"TLS: " + ssl_errors()};
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx_, SSL_MODE_AUTO_RETRY);
    auto fail = [&](std::string msg) -> result<uint16_t> {
        stop();
        return error{std::move(msg)};
    };
    if (SSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str()) != 1)
        return fail("restconf tls_certificate " + cert_file + ": " + ssl_errors());
    if (SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        return fail("restconf tls_private_key " + key_file + ": " + ssl_errors());
    if (SSL_CTX_check_private_key(ctx_) != 1)
        return fail("restconf: the private key does not match the certificate: " + ssl_errors());

    std::string addr = address;
    if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, addr.c_str(), &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        len = sizeof *a4;
    } else if (inet_pton(AF_INET6, addr.c_str(), &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        len = sizeof *a6;
    } else {
        return fail("restconf: address " + address + " is not an IPv4 or IPv6 literal");
    }
    listen_fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) return fail("restconf: socket: " + std::string(std::strerror(errno)));
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0)
        return fail("restconf: cannot bind " + where + ": " + std::strerror(errno));
    if (::listen(listen_fd_, 64) != 0) return fail("restconf: listen on " + where + ": " + std::strerror(errno));
    socklen_t sl = sizeof ss;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &sl);
    uint16_t bound = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return fail("restconf: eventfd: " + std::string(std::strerror(errno)));
    handler_ = std::move(h);
    lim_ = lim;
    stopping_ = false;
    acceptor_ = std::thread([this] { accept_loop(); });
    return bound;
}

void tls_server::stop() {
    stopping_ = true;
    if (wake_fd_ >= 0) {
        uint64_t one = 1;
        ssize_t w = ::write(wake_fd_, &one, sizeof one);
        (void)w;
    }
    if (acceptor_.joinable()) acceptor_.join();
    {
        std::lock_guard g(mu_);
        for (auto& c : conns_)
            if (!c->done) ::shutdown(c->fd, SHUT_RDWR);  // wakes a blocked SSL_read
    }
    reap(true);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    listen_fd_ = wake_fd_ = -1;
    if (ctx_) SSL_CTX_free(ctx_);
    ctx_ = nullptr;
}

void tls_server::reap(bool all) {
    std::list<std::unique_ptr<conn>> gone;
    {
        std::lock_guard g(mu_);
        for (auto it = conns_.begin(); it != conns_.end();) {
            if (all || (*it)->done) {
                gone.push_back(std::move(*it));
                it = conns_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& c : gone) {
        if (c->th.joinable()) c->th.join();
        if (c->fd >= 0) ::close(c->fd);
    }
}

void tls_server::accept_loop() noexcept {
    while (!stopping_) {
        pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        int r = ::poll(p, 2, 1000);
        reap(false);
        if (r < 0 && errno != EINTR) break;
        if (stopping_) break;
        if (r <= 0 || !(p[0].revents & POLLIN)) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard g(mu_);
        if (conns_.size() >= lim_.max_connections) {
            ::close(fd);  // over the limit: refused before the handshake
            continue;
        }
        timeval tv{};
        tv.tv_sec = lim_.idle_timeout_ms / 1000;
        tv.tv_usec = static_cast<suseconds_t>((lim_.idle_timeout_ms % 1000) * 1000);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_unique<conn>();
        c->fd = fd;
        conn* raw = c.get();
        conns_.push_back(std::move(c));
        raw->th = std::thread([this, raw] { serve(raw); });
    }
}

void tls_server::serve(conn* c) noexcept {
    SSL* s = SSL_new(ctx_);
    if (s && SSL_set_fd(s, c->fd) == 1 && SSL_accept(s) == 1) {
        tl::http_limits hl;
        hl.max_header_bytes = lim_.max_header_bytes;
        hl.max_body_bytes = lim_.max_body_bytes;
        std::string buf;
        std::string target;
        bool sent_continue = false;
        auto started = std::chrono::steady_clock::now();
        char chunk[64 * 1024];
        while (!stopping_) {
            tl::http_request req;
            tl::parse_result pr;
            if (!buf.empty()) {
                shield_request_line(buf, target);
                pr = tl::parse_http_request(buf, req, hl);
            }
            if (pr.status == tl::parse_status::error) {
                auto resp =
                    error_response(pr.http_status, pr.http_status == 413 ? "too-big" : "malformed-message", pr.message);
                if (ssl_write_all(s, format_response(resp, false, true))) {
                    // Lingering close: read (and drop) what the client is still sending, so the
                    // response is not lost to a TCP reset.
                    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
                    size_t drained = 0;
                    size_t n = 0;
                    while (std::chrono::steady_clock::now() < until && drained < 64u * 1024 * 1024 &&
                           SSL_read_ex(s, chunk, sizeof chunk, &n) == 1)
                        drained += n;
                }
                break;
            }
            if (pr.status == tl::parse_status::complete) {
                buf.erase(0, pr.consumed);
                bool head = req.method == "HEAD";
                if (head) {
                    req.method = "GET";
                    req.is_head = true;
                }
                tl::http_response resp;
                try {
                    resp = handler_(req, target.empty() ? req.target : target);
                } catch (const std::exception& e) {
                    resp = error_response(500, "operation-failed", e.what());
                }
                bool close = wants_close(req) || stopping_;
                if (!ssl_write_all(s, format_response(resp, head, close)) || close) break;
                target.clear();
                sent_continue = false;
                started = std::chrono::steady_clock::now();
                continue;
            }
            // Incomplete.
            if (pr.expect_continue && !sent_continue) {
                sent_continue = true;
                if (!ssl_write_all(s, "HTTP/1.1 100 Continue\r\n\r\n")) break;
            }
            if (!buf.empty() &&
                std::chrono::steady_clock::now() - started > std::chrono::milliseconds(lim_.request_timeout_ms))
                break;
            size_t n = 0;
            if (SSL_read_ex(s, chunk, sizeof chunk, &n) != 1) break;  // EOF, idle timeout or error
            if (buf.empty()) started = std::chrono::steady_clock::now();
            buf.append(chunk, n);
        }
        SSL_shutdown(s);
    }
    ERR_clear_error();
    if (s) SSL_free(s);
    ::shutdown(c->fd, SHUT_RDWR);
    c->done = true;
}

}  // namespace meshgate::mgmt::restconf
