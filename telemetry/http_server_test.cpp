#include "telemetry/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace meshgate::telemetry;

namespace {

parse_result parse(std::string_view s, http_request& req, const http_limits& lim = {}) {
    return parse_http_request(s, req, lim);
}

parse_result parse(std::string_view s, const http_limits& lim = {}) {
    http_request req;
    return parse_http_request(s, req, lim);
}

}  // namespace

// ---- parser ----

TEST(http_parse, simple_get) {
    http_request req;
    std::string s =
        "GET /metrics?name=a%20b&x=1+2&flag HTTP/1.1\r\nHost: localhost:9100\r\nAccept:  text/plain \r\n"
        "X-Empty:\r\n\r\n";
    auto r = parse(s, req);
    ASSERT_EQ(r.status, parse_status::complete) << r.message;
    EXPECT_EQ(r.consumed, s.size());
    EXPECT_EQ(req.method, "GET");
    EXPECT_EQ(req.target, "/metrics?name=a%20b&x=1+2&flag");
    EXPECT_EQ(req.path, "/metrics");
    EXPECT_EQ(req.query, "name=a%20b&x=1+2&flag");
    EXPECT_EQ(req.minor_version, 1);
    ASSERT_EQ(req.headers.size(), 3u);
    EXPECT_EQ(req.headers[1].first, "Accept");
    EXPECT_EQ(req.headers[1].second, "text/plain");
    EXPECT_EQ(req.header("accept"), "text/plain");
    EXPECT_EQ(req.header("HOST"), "localhost:9100");
    EXPECT_EQ(req.header("x-empty"), "");
    EXPECT_EQ(req.header("missing"), "");
    EXPECT_EQ(req.query_param("name"), "a b");
    EXPECT_EQ(req.query_param("x"), "1 2");
    EXPECT_EQ(req.query_param("flag"), "");
    EXPECT_EQ(req.query_param("nope"), "");
    EXPECT_TRUE(req.body.empty());
}

TEST(http_parse, post_with_body_and_pipelining) {
    std::string a = "POST /taps/t1/start HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    std::string b = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    std::string c = "HEAD /c HTTP/1.0\r\n\r\n";
    std::string all = a + b + c;
    http_request req;
    auto r = parse(all, req);
    ASSERT_EQ(r.status, parse_status::complete) << r.message;
    EXPECT_EQ(r.consumed, a.size());
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.body, "hello");
    std::string_view rest = std::string_view(all).substr(r.consumed);
    r = parse(rest, req);
    ASSERT_EQ(r.status, parse_status::complete);
    EXPECT_EQ(r.consumed, b.size());
    EXPECT_EQ(req.path, "/b");
    EXPECT_TRUE(req.body.empty());
    rest.remove_prefix(r.consumed);
    r = parse(rest, req);
    ASSERT_EQ(r.status, parse_status::complete);
    EXPECT_EQ(r.consumed, c.size());
    EXPECT_EQ(req.method, "HEAD");
    EXPECT_EQ(req.minor_version, 0);  // HTTP/1.0 needs no Host
}

TEST(http_parse, every_prefix_is_incomplete) {
    std::string s = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    for (size_t n = 0; n < s.size(); ++n) {
        auto r = parse(std::string_view(s).substr(0, n));
        EXPECT_EQ(r.status, parse_status::incomplete) << "prefix " << n << ": " << r.message;
        EXPECT_EQ(r.consumed, 0u);
    }
    EXPECT_EQ(parse(s).status, parse_status::complete);
}

TEST(http_parse, leading_empty_line_is_skipped_once) {
    http_request req;
    auto r = parse("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", req);
    ASSERT_EQ(r.status, parse_status::complete);
    EXPECT_EQ(r.consumed, 29u);
    EXPECT_EQ(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n").http_status, 400);
}

TEST(http_parse, targets) {
    http_request req;
    auto ok = [&](std::string_view method, std::string_view target) {
        std::string s = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: h\r\n\r\n";
        auto r = parse(s, req);
        EXPECT_EQ(r.status, parse_status::complete) << target << ": " << r.message;
        return r.status == parse_status::complete;
    };
    ASSERT_TRUE(ok("GET", "/a%20b/c%C3%A9"));
    EXPECT_EQ(req.path, "/a b/c\xc3\xa9");
    ASSERT_TRUE(ok("GET", "http://example.com:9100/metrics?x=1"));
    EXPECT_EQ(req.path, "/metrics");
    EXPECT_EQ(req.query, "x=1");
    ASSERT_TRUE(ok("GET", "HTTP://example.com"));
    EXPECT_EQ(req.path, "/");
    ASSERT_TRUE(ok("OPTIONS", "*"));
    EXPECT_EQ(req.path, "*");
    ASSERT_TRUE(ok("GET", "/a/.../b..c/..d/"));
    ASSERT_TRUE(ok("PURGE", "/"));  // methods are the server's business, not the parser's
    EXPECT_EQ(req.method, "PURGE");
}

TEST(http_parse, errors) {
    struct error_case {
        const char* what;
        std::string input;
        int status;
    };
    const std::string host = "Host: x\r\n";
    const std::vector<error_case> cases = {
        {"bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400},
        {"bare CR", "GET / HTTP/1.1\rHost: x\r\n\r\n", 400},
        {"lowercase version", "GET / http/1.1\r\n" + host + "\r\n", 400},
        {"version too long", "GET / HTTP/1.10\r\n" + host + "\r\n", 400},
        {"HTTP/0.9 style", "GET /\r\n" + host + "\r\n", 400},
        {"two spaces", "GET  / HTTP/1.1\r\n" + host + "\r\n", 400},
        {"trailing space", "GET / HTTP/1.1 \r\n" + host + "\r\n", 400},
        {"bad method char", "G(T / HTTP/1.1\r\n" + host + "\r\n", 400},
        {"control in target", "GET /a\x01 HTTP/1.1\r\n" + host + "\r\n", 400},
        {"HTTP/2.0", "GET / HTTP/2.0\r\n" + host + "\r\n", 505},
        {"HTTP/0.9", "GET / HTTP/0.9\r\n" + host + "\r\n", 505},
        {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        {"tab before colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400},
        {"no colon", "GET / HTTP/1.1\r\n" + host + "Bogus\r\n\r\n", 400},
        {"empty name", "GET / HTTP/1.1\r\n" + host + ": v\r\n\r\n", 400},
        {"obs-fold", "GET / HTTP/1.1\r\n" + host + "X: a\r\n b\r\n\r\n", 400},
        {"NUL in value", std::string("GET / HTTP/1.1\r\n") + host + "X: a" + std::string(1, '\0') + "\r\n\r\n", 400},
        {"missing Host", "GET / HTTP/1.1\r\n\r\n", 400},
        {"two Hosts", "GET / HTTP/1.1\r\n" + host + host + "\r\n", 400},
        {"duplicate Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx",
         400},
        {"list Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1, 1\r\n\r\nx", 400},
        {"negative Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400},
        {"hex Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: 0x10\r\n\r\n", 400},
        {"empty Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length:\r\n\r\n", 400},
        {"huge Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999999\r\n\r\n", 413},
        {"body over limit", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1048577\r\n\r\n", 413},
        {"chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501},
        {"chunked and length", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
         501},
        {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST body without length", "POST / HTTP/1.1\r\n" + host + "Content-Type: text/plain\r\n\r\nabc", 411},
        {"encoded slash", "GET /a%2Fb HTTP/1.1\r\n" + host + "\r\n", 400},
        {"encoded slash lower", "GET /a%2fb HTTP/1.1\r\n" + host + "\r\n", 400},
        {"encoded NUL", "GET /a%00 HTTP/1.1\r\n" + host + "\r\n", 400},
        {"encoded newline", "GET /a%0a HTTP/1.1\r\n" + host + "\r\n", 400},
        {"bad escape", "GET /a%zz HTTP/1.1\r\n" + host + "\r\n", 400},
        {"short escape", "GET /a%2 HTTP/1.1\r\n" + host + "\r\n", 400},
        {"dot-dot", "GET /taps/../etc/passwd HTTP/1.1\r\n" + host + "\r\n", 400},
        {"trailing dot-dot", "GET /a/.. HTTP/1.1\r\n" + host + "\r\n", 400},
        {"encoded dot-dot", "GET /a/%2e%2E/b HTTP/1.1\r\n" + host + "\r\n", 400},
        {"fragment", "GET /a#b HTTP/1.1\r\n" + host + "\r\n", 400},
        {"relative target", "GET a/b HTTP/1.1\r\n" + host + "\r\n", 400},
        {"asterisk outside OPTIONS", "GET * HTTP/1.1\r\n" + host + "\r\n", 400},
        {"absolute without host", "GET http:///x HTTP/1.1\r\n" + host + "\r\n", 400},
        {"empty request line", "\r\n\r\n", 400},
    };
    for (const auto& c : cases) {
        auto r = parse(c.input);
        EXPECT_EQ(r.status, parse_status::error) << c.what;
        EXPECT_EQ(r.http_status, c.status) << c.what << ": " << r.message;
        EXPECT_FALSE(r.message.empty()) << c.what;
    }
}

TEST(http_parse, bad_request_line_is_refused_before_the_headers_end) {
    EXPECT_EQ(parse("GET / HTTP/2.0\r\n").http_status, 505);
    EXPECT_EQ(parse("SSH-2.0-OpenSSH_9.2\r\n").http_status, 400);
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\n").status, parse_status::incomplete);
}

TEST(http_parse, post_without_length_has_no_body) {
    // RFC 9112 6.3: no Content-Length and no Transfer-Encoding means an empty body.
    http_request req;
    auto r = parse("POST /taps/t1/stop HTTP/1.1\r\nHost: x\r\n\r\n", req);
    ASSERT_EQ(r.status, parse_status::complete) << r.message;
    EXPECT_TRUE(req.body.empty());
}

TEST(http_parse, limits) {
    http_limits lim;
    lim.max_header_bytes = 200;
    lim.max_headers = 3;
    lim.max_body_bytes = 10;
    const std::string line = "GET / HTTP/1.1\r\n";
    // Exactly at the header limit is fine; one byte more is 431.
    std::string fits = line + "Host: x\r\nX: ";
    fits += std::string(200 - fits.size() - 4, 'a') + "\r\n\r\n";
    ASSERT_EQ(fits.size(), 200u);
    EXPECT_EQ(parse(fits, lim).status, parse_status::complete);
    std::string too_big = line + "Host: x\r\nX: " + std::string(200, 'a') + "\r\n\r\n";
    EXPECT_EQ(parse(too_big, lim).http_status, 431);
    // Without the end of the block in sight, the limit decides as soon as it is reached.
    EXPECT_EQ(parse(std::string_view(too_big).substr(0, 199), lim).status, parse_status::incomplete);
    EXPECT_EQ(parse(std::string_view(too_big).substr(0, 200), lim).http_status, 431);
    EXPECT_EQ(parse("GET /" + std::string(300, 'a'), lim).http_status, 414);
    // Header count.
    EXPECT_EQ(parse(line + "Host: x\r\nA: 1\r\nB: 2\r\n\r\n", lim).status, parse_status::complete);
    EXPECT_EQ(parse(line + "Host: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", lim).http_status, 431);
    // Body: refused from the header alone, before any of it arrives.
    EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", lim).status,
              parse_status::complete);
    EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", lim).http_status, 413);
    EXPECT_EQ(
        parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0000000000000000000000010\r\n\r\n0123456789", lim).status,
        parse_status::complete);
    // Defaults: 16 KiB, 100 headers, 1 MiB.
    http_limits d;
    EXPECT_EQ(d.max_header_bytes, 16384u);
    EXPECT_EQ(d.max_headers, 100u);
    EXPECT_EQ(d.max_body_bytes, 1048576u);
    std::string many = line + "Host: x\r\n";
    for (int i = 0; i < 100; ++i) {
        many += 'H';
        many += std::to_string(i);
        many += ": v\r\n";
    }
    EXPECT_EQ(parse(many + "\r\n").http_status, 431);
}

TEST(http_parse, expect_continue) {
    auto r = parse("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    EXPECT_EQ(r.status, parse_status::incomplete);
    EXPECT_TRUE(r.expect_continue);
    r = parse("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nabcd");
    EXPECT_EQ(r.status, parse_status::complete);
    r = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n");
    EXPECT_FALSE(r.expect_continue);
}

TEST(http_response, error_body) {
    auto r = http_response::error(404, "no tap named t9");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, "404 Not Found: no tap named t9\n");
    EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
    EXPECT_EQ(http_reason(431), "Request Header Fields Too Large");
}

// ---- the server over real sockets ----

namespace {

struct reply {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string header(std::string_view name) const {
        for (const auto& [k, v] : headers) {
            if (k.size() != name.size()) continue;
            bool eq = true;
            for (size_t i = 0; i < k.size(); ++i) eq = eq && std::tolower(k[i]) == std::tolower(name[i]);
            if (eq) return v;
        }
        return {};
    }
};

class client {
public:
    explicit client(uint16_t port, const char* addr = "127.0.0.1") {
        bool v6 = std::string_view(addr).find(':') != std::string_view::npos;
        fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        int rc;
        if (v6) {
            sockaddr_in6 sa{};
            sa.sin6_family = AF_INET6;
            sa.sin6_port = htons(port);
            ::inet_pton(AF_INET6, addr, &sa.sin6_addr);
            rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        } else {
            sockaddr_in sa{};
            sa.sin_family = AF_INET;
            sa.sin_port = htons(port);
            ::inet_pton(AF_INET, addr, &sa.sin_addr);
            rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        }
        if (rc != 0) throw std::runtime_error("connect failed");
    }
    ~client() { ::close(fd_); }
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    int fd() const noexcept { return fd_; }

    void send(std::string_view s) {
        while (!s.empty()) {
            ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
            if (n <= 0) throw std::runtime_error("send failed");
            s.remove_prefix(static_cast<size_t>(n));
        }
    }
    // Reads one response; `head`: the request was HEAD (no body follows).
    reply read(bool head = false) {
        reply r;
        size_t end;
        while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
            if (!fill()) throw std::runtime_error("connection closed before the header");
        std::string_view h = std::string_view(buf_).substr(0, end);
        size_t eol = h.find("\r\n");
        std::string_view status_line = h.substr(0, eol);
        if (!status_line.starts_with("HTTP/1.1 ")) throw std::runtime_error("bad status line");
        r.status = std::stoi(std::string(status_line.substr(9, 3)));
        while (eol != std::string_view::npos) {
            h.remove_prefix(eol + 2);
            eol = h.find("\r\n");
            std::string_view line = h.substr(0, eol);
            size_t colon = line.find(':');
            r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
        }
        buf_.erase(0, end + 4);
        std::string cl = r.header("content-length");
        size_t len = (head || cl.empty()) ? 0 : std::stoul(cl);
        while (buf_.size() < len)
            if (!fill()) throw std::runtime_error("connection closed in the body");
        r.body = buf_.substr(0, len);
        buf_.erase(0, len);
        return r;
    }
    reply request(const std::string& raw, bool head = false) {
        send(raw);
        return read(head);
    }
    // True when the server has closed the connection (EOF with nothing more to read).
    bool closed_by_peer() {
        if (!buf_.empty()) return false;
        return !fill();
    }

private:
    bool fill() {
        char tmp[65536];
        ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0) return false;
        buf_.append(tmp, static_cast<size_t>(n));
        return true;
    }

    int fd_ = -1;
    std::string buf_;
};

std::string get(const std::string& path, const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

class http_server_test : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("meshgate_http_test_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        file_ = (dir_ / "capture.pcapng").string();
        std::mt19937 rng(42);
        file_data_.resize(2 * 1024 * 1024);
        for (auto& c : file_data_) c = static_cast<char>(rng());
        std::ofstream(file_, std::ios::binary)
            .write(file_data_.data(), static_cast<std::streamsize>(file_data_.size()));

        auto r = server_.start("127.0.0.1", 0, [this](const http_request& req) { return handle(req); });
        ASSERT_TRUE(r.ok()) << r.error_message();
        port_ = r.value();
        ASSERT_NE(port_, 0);
        ASSERT_EQ(server_.port(), port_);
    }
    void TearDown() override {
        server_.stop();
        std::filesystem::remove_all(dir_);
    }

    http_response handle(const http_request& req) {
        ++handled_;
        if (req.path == "/hello" && req.method == "GET") {
            http_response r;
            r.body = "hello\n";
            r.headers.emplace_back("X-Head", req.is_head ? "1" : "0");
            r.headers.emplace_back("Content-Length", "999");  // ignored: the server frames
            r.headers.emplace_back("X-Evil", "a\r\nSet: b");  // dropped: would split the header
            return r;
        }
        if (req.path == "/echo") {
            if (req.method != "POST") return http_response::error(405, "POST only");
            http_response r;
            r.content_type = "application/octet-stream";
            r.body = req.method + ":" + req.body;
            return r;
        }
        if (req.path == "/query") {
            http_response r;
            r.body = req.query_param("name");
            return r;
        }
        if (req.path == "/file") {
            http_response r;
            r.content_type = "application/vnd.tcpdump.pcap";
            r.file_path = file_;
            r.headers.emplace_back("Content-Disposition", "attachment; filename=\"capture.pcapng\"");
            return r;
        }
        if (req.path == "/gone-file") {
            http_response r;
            r.file_path = (dir_ / "nope").string();
            return r;
        }
        if (req.path == "/throw") throw std::runtime_error("boom");
        if (req.path == "/empty") {
            http_response r;
            r.status = 204;
            return r;
        }
        return http_response::error(404, "no route for " + req.path);
    }

    http_server server_;
    uint16_t port_ = 0;
    std::atomic<int> handled_{0};
    std::filesystem::path dir_;
    std::string file_;
    std::string file_data_;
};

}  // namespace

TEST_F(http_server_test, get_head_post) {
    client c(port_);
    auto r = c.request(get("/hello"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello\n");
    EXPECT_EQ(r.header("content-length"), "6");
    EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
    EXPECT_EQ(r.header("x-head"), "0");
    EXPECT_EQ(r.header("x-evil"), "");
    EXPECT_FALSE(r.header("date").empty());
    EXPECT_EQ(r.header("connection"), "");

    r = c.request("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", true);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-length"), "6");  // what GET would send (RFC 9110 9.3.2)
    EXPECT_EQ(r.header("x-head"), "1");
    EXPECT_TRUE(r.body.empty());

    r = c.request("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "POST:hello world");
    EXPECT_EQ(r.header("content-type"), "application/octet-stream");

    r = c.request(get("/echo"));
    EXPECT_EQ(r.status, 405);

    r = c.request(get("/query?name=t%201"));
    EXPECT_EQ(r.body, "t 1");

    r = c.request(get("/empty"));
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.header("content-length"), "");
    EXPECT_EQ(r.body, "");

    r = c.request(get("/hello"));  // still the same connection
    EXPECT_EQ(r.status, 200);
}

TEST_F(http_server_test, keep_alive_and_pipelining) {
    client c(port_);
    auto r1 = c.request(get("/hello"));
    auto r2 = c.request(get("/query?name=second"));
    EXPECT_EQ(r1.body, "hello\n");
    EXPECT_EQ(r2.body, "second");
    // Three requests in one write come back in order.
    c.send(get("/query?name=a") + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nb" +
           get("/query?name=c"));
    EXPECT_EQ(c.read().body, "a");
    EXPECT_EQ(c.read().body, "POST:b");
    EXPECT_EQ(c.read().body, "c");
    // A request split across writes.
    c.send("GET /query?na");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    c.send("me=split HTTP/1.1\r\nHo");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    c.send("st: x\r\n\r\n");
    EXPECT_EQ(c.read().body, "split");
    EXPECT_EQ(handled_.load(), 6);
}

TEST_F(http_server_test, connection_close_is_honoured) {
    {
        client c(port_);
        auto r = c.request(get("/hello", "Connection: close\r\n"));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.header("connection"), "close");
        EXPECT_TRUE(c.closed_by_peer());
    }
    {
        client c(port_);  // HTTP/1.0 closes unless asked to keep alive
        auto r = c.request("GET /hello HTTP/1.0\r\n\r\n");
        EXPECT_EQ(r.header("connection"), "close");
        EXPECT_TRUE(c.closed_by_peer());
    }
    {
        client c(port_);
        auto r = c.request("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        EXPECT_EQ(r.header("connection"), "keep-alive");
        EXPECT_EQ(c.request("GET /hello HTTP/1.0\r\n\r\n").status, 200);
        EXPECT_TRUE(c.closed_by_peer());
    }
}

TEST_F(http_server_test, file_download_byte_for_byte) {
    client c(port_);
    auto r = c.request(get("/file"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-length"), std::to_string(2 * 1024 * 1024));
    EXPECT_EQ(r.header("content-type"), "application/vnd.tcpdump.pcap");
    EXPECT_EQ(r.header("content-disposition"), "attachment; filename=\"capture.pcapng\"");
    ASSERT_EQ(r.body.size(), file_data_.size());
    EXPECT_TRUE(r.body == file_data_);
    // HEAD: the length, no body; the connection still works afterwards.
    r = c.request("HEAD /file HTTP/1.1\r\nHost: x\r\n\r\n", true);
    EXPECT_EQ(r.header("content-length"), std::to_string(2 * 1024 * 1024));
    EXPECT_EQ(c.request(get("/hello")).body, "hello\n");
    // Two downloads at once: the loop serves both.
    client d(port_);
    c.send(get("/file"));
    d.send(get("/file"));
    EXPECT_TRUE(d.read().body == file_data_);
    EXPECT_TRUE(c.read().body == file_data_);
    EXPECT_EQ(c.request(get("/gone-file")).status, 404);
}

TEST_F(http_server_test, handler_404_and_500) {
    client c(port_);
    auto r = c.request(get("/nothing/here"));
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, "404 Not Found: no route for /nothing/here\n");
    r = c.request(get("/throw"));
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(c.request(get("/hello")).status, 200);
}

TEST_F(http_server_test, malformed_request_gets_400_and_server_keeps_serving) {
    {
        client c(port_);
        auto r = c.request("GET / HTTP/1.1\r\nHost : x\r\n\r\n");
        EXPECT_EQ(r.status, 400);
        EXPECT_EQ(r.header("connection"), "close");
        EXPECT_NE(r.body.find("whitespace before colon"), std::string::npos) << r.body;
        EXPECT_TRUE(c.closed_by_peer());
    }
    {
        client c(port_);
        auto r =
            c.request("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        EXPECT_EQ(r.status, 501);
        EXPECT_TRUE(c.closed_by_peer());
    }
    {
        client c(port_);
        auto r =
            c.request("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + std::string(100000, 'x'));
        EXPECT_EQ(r.status, 413);
    }
    {
        client c(port_);
        auto r = c.request("GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
        EXPECT_EQ(r.status, 414);
    }
    client c(port_);
    EXPECT_EQ(c.request(get("/hello")).status, 200);
    EXPECT_EQ(handled_.load(), 1);
}

TEST_F(http_server_test, expect_100_continue) {
    client c(port_);
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    auto interim = c.read(true);
    EXPECT_EQ(interim.status, 100);
    c.send("data");
    auto r = c.read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "POST:data");
}

TEST_F(http_server_test, half_closed_client_gets_its_answer) {
    client c(port_);
    c.send(get("/hello"));
    // shutdown(SHUT_WR) through a second handle on the same socket is not available here; a
    // fresh raw socket does it.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port_);
    ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    std::string req = get("/hello");
    ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
    ::shutdown(fd, SHUT_WR);
    std::string got;
    char buf[4096];
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
    ::close(fd);
    EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got;
    EXPECT_TRUE(got.ends_with("\r\n\r\nhello\n")) << got;
    EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(c.read().status, 200);
}

TEST_F(http_server_test, stop_with_open_connections) {
    client idle(port_);
    client busy(port_);
    EXPECT_EQ(busy.request(get("/hello")).status, 200);
    auto t0 = std::chrono::steady_clock::now();
    server_.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    EXPECT_EQ(server_.port(), 0);
    EXPECT_TRUE(idle.closed_by_peer());
    EXPECT_TRUE(busy.closed_by_peer());
    server_.stop();  // idempotent
}

TEST(http_server, bind_errors_name_the_address) {
    http_server a;
    auto ra = a.start("127.0.0.1", 0, [](const http_request&) { return http_response{}; });
    ASSERT_TRUE(ra.ok()) << ra.error_message();
    http_server b;
    auto rb = b.start("127.0.0.1", ra.value(), [](const http_request&) { return http_response{}; });
    ASSERT_FALSE(rb.ok());
    EXPECT_NE(rb.error_message().find("127.0.0.1:" + std::to_string(ra.value())), std::string::npos)
        << rb.error_message();
    EXPECT_NE(rb.error_message().find("Address already in use"), std::string::npos) << rb.error_message();

    auto again = a.start("127.0.0.1", 0, [](const http_request&) { return http_response{}; });
    EXPECT_FALSE(again.ok());

    http_server c;
    auto rc = c.start("localhost", 9100, [](const http_request&) { return http_response{}; });
    ASSERT_FALSE(rc.ok());
    EXPECT_NE(rc.error_message().find("localhost:9100"), std::string::npos) << rc.error_message();
    auto rd = c.start("192.0.2.1", 9100, [](const http_request&) { return http_response{}; });
    ASSERT_FALSE(rd.ok());  // not a local address
    EXPECT_NE(rd.error_message().find("192.0.2.1:9100"), std::string::npos) << rd.error_message();

    // After stop() the same port binds again at once (SO_REUSEADDR).
    uint16_t p = ra.value();
    a.stop();
    http_server e;
    auto re = e.start("127.0.0.1", p, [](const http_request&) { return http_response{}; });
    EXPECT_TRUE(re.ok()) << re.error_message();
}

TEST(http_server, ipv6_loopback) {
    http_server s;
    auto r = s.start("::1", 0, [](const http_request& req) {
        http_response resp;
        resp.body = req.path;
        return resp;
    });
    if (!r.ok()) GTEST_SKIP() << "no IPv6 loopback: " << r.error_message();
    client c(r.value(), "::1");
    EXPECT_EQ(c.request("GET /v6 HTTP/1.1\r\nHost: [::1]\r\n\r\n").body, "/v6");
    auto bracketed = http_server{}.start("[::1]", 0, [](const http_request&) { return http_response{}; });
    EXPECT_TRUE(bracketed.ok()) << bracketed.error_message();
}

// A real client: curl's own HTTP/1.1 implementation against the server.
TEST_F(http_server_test, curl) {
    if (!std::filesystem::exists("/usr/bin/curl")) GTEST_SKIP() << "no /usr/bin/curl";
    auto run = [](const std::string& cmd) {
        std::string out;
        FILE* p = ::popen(cmd.c_str(), "r");
        if (p == nullptr) return out;
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        ::pclose(p);
        return out;
    };
    const std::string base = "http://127.0.0.1:" + std::to_string(port_);
    EXPECT_EQ(run("/usr/bin/curl -sS --max-time 10 " + base + "/hello"), "hello\n");
    EXPECT_EQ(run("/usr/bin/curl -sS --max-time 10 -o /dev/null -w '%{http_code}' " + base + "/missing"), "404");
    std::string head = run("/usr/bin/curl -sS --max-time 10 -I " + base + "/hello");
    EXPECT_NE(head.find("HTTP/1.1 200 OK"), std::string::npos) << head;
    EXPECT_NE(head.find("Content-Length: 6"), std::string::npos) << head;
    EXPECT_EQ(run("/usr/bin/curl -sS --max-time 10 --data-binary 'a=b c' " + base + "/echo"), "POST:a=b c");
    // A body above curl's Expect: 100-continue threshold.
    std::string big_path = (dir_ / "big_body").string();
    std::ofstream(big_path) << std::string(200000, 'z');
    std::string echoed = run("/usr/bin/curl -sS --max-time 10 -H 'Expect: 100-continue' --data-binary @" + big_path +
                             " " + base + "/echo");
    EXPECT_EQ(echoed, "POST:" + std::string(200000, 'z'));
    // Chunked uploads are refused with 501.
    EXPECT_EQ(run("/usr/bin/curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' "
                  "--data-binary x " +
                  base + "/echo"),
              "501");
    // The 2 MiB download, then a second URL over the same connection (curl reports reuse).
    std::string out_path = (dir_ / "downloaded").string();
    std::string verbose = run("/usr/bin/curl -sS -v --max-time 10 -o " + out_path + " " + base + "/file -o /dev/null " +
                              base + "/hello 2>&1");
    EXPECT_NE(verbose.find("Re-using existing connection"), std::string::npos) << verbose;
    std::ifstream in(out_path, std::ios::binary);
    std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(got == file_data_) << "downloaded " << got.size() << " bytes";
}

TEST(http_server, idle_and_trickling_connections_are_closed) {
    http_server s;
    http_limits lim;
    lim.idle_timeout_ms = 300;
    auto r = s.start(
        "127.0.0.1", 0, [](const http_request&) { return http_response{}; }, lim);
    ASSERT_TRUE(r.ok()) << r.error_message();
    client idle(r.value());
    EXPECT_EQ(idle.request(get("/")).status, 200);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(idle.closed_by_peer());
    auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(waited, std::chrono::milliseconds(250));
    EXPECT_LT(waited, std::chrono::seconds(3));

    // One byte every 100 ms is never idle, but the request as a whole has 3 x 300 ms.
    client slow(r.value());
    std::string req = "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(1000, 'a');
    t0 = std::chrono::steady_clock::now();
    bool closed = false;
    for (char ch : req) {
        if (::send(slow.fd(), &ch, 1, MSG_NOSIGNAL) != 1) {
            closed = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(3)) break;
    }
    EXPECT_TRUE(closed || slow.closed_by_peer());
}
