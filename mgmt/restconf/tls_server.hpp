#pragma once
// A compact HTTPS/1.1 server for RESTCONF: TLS 1.2+ (OpenSSL 3), one thread per connection (at
// most max_connections), requests parsed by telemetry's strict parse_http_request. Limits: 16 KiB
// header block, 4 MiB body (413), an idle timeout per read and a whole-request deadline.
#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "policy/result.hpp"
#include "telemetry/http_server.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace meshgate::mgmt::restconf {

// The handler gets the parsed request and the request-target exactly as the client sent it
// (http_request::target may differ: see tls_server.cpp on %2F).
using https_handler =
    std::function<telemetry::http_response(const telemetry::http_request&, const std::string& raw_target)>;

struct tls_limits {
    size_t max_header_bytes = 16 * 1024;
    size_t max_body_bytes = 4 * 1024 * 1024;
    unsigned idle_timeout_ms = 30'000;     // per read / write, and the TLS handshake
    unsigned request_timeout_ms = 90'000;  // a request must arrive whole within this
    unsigned max_connections = 64;
};

class tls_server {
public:
    tls_server() = default;
    ~tls_server() { stop(); }
    tls_server(const tls_server&) = delete;
    tls_server& operator=(const tls_server&) = delete;

    // Loads the certificate chain and key (PEM), binds address:port (IPv4/IPv6 literal; port 0:
    // ephemeral) and serves on a new thread. Returns the bound port.
    result<uint16_t> start(const std::string& address, uint16_t port, const std::string& cert_file,
                           const std::string& key_file, https_handler h, const tls_limits& lim = {});
    // Closes the listener and every connection; joins all threads. Idempotent.
    void stop();

private:
    struct conn {
        int fd = -1;
        std::thread th;
        std::atomic<bool> done{false};
    };
    void accept_loop() noexcept;
    void serve(conn* c) noexcept;
    void reap(bool all);

    SSL_CTX* ctx_ = nullptr;
    int listen_fd_ = -1;
    int wake_fd_ = -1;
    std::atomic<bool> stopping_{false};
    https_handler handler_;
    tls_limits lim_;
    std::thread acceptor_;
    std::mutex mu_;
    std::list<std::unique_ptr<conn>> conns_;
};

}  // namespace meshgate::mgmt::restconf
