#include "policy/framing.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace meshgate::policy {
namespace {

// Writes all of `data`; sockets without SIGPIPE, anything else with write().
bool write_all(int fd, const char* data, size_t n) {
    bool is_socket = true;
    while (n > 0) {
        ssize_t w = is_socket ? ::send(fd, data, n, MSG_NOSIGNAL) : ::write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOTSOCK && is_socket) {
                is_socket = false;
                continue;
            }
            return false;
        }
        data += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// Waits until `fd` is readable, at most `timeout_ms` (< 0: forever). 1 ready, 0 timed out, -1 error.
int wait_readable(int fd, int timeout_ms) {
    if (timeout_ms < 0) return 1;
    pollfd p{fd, POLLIN, 0};
    for (;;) {
        int rc = ::poll(&p, 1, timeout_ms);
        if (rc < 0 && errno == EINTR) continue;
        return rc < 0 ? -1 : (rc == 0 ? 0 : 1);
    }
}

enum class read_status { ok, eof, stalled, failed };

// Reads exactly `n` bytes; `got` reports how many arrived.
read_status read_all(int fd, char* out, size_t n, int stall_timeout_ms, size_t& got) {
    got = 0;
    while (got < n) {
        int ready = wait_readable(fd, stall_timeout_ms);
        if (ready == 0) return read_status::stalled;
        if (ready < 0) return read_status::failed;
        ssize_t r = ::read(fd, out + got, n - got);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return read_status::failed;
        }
        if (r == 0) return read_status::eof;
        got += static_cast<size_t>(r);
    }
    return read_status::ok;
}

}  // namespace

bool write_frame(int fd, std::string_view payload) {
    if (payload.size() > max_frame_bytes) {
        errno = EMSGSIZE;
        return false;
    }
    auto n = static_cast<uint32_t>(payload.size());
    const char head[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                          static_cast<char>(n)};
    // One buffer for small frames: one write, one segment.
    if (payload.size() <= 4096) {
        std::string buf(head, 4);
        buf.append(payload);
        return write_all(fd, buf.data(), buf.size());
    }
    return write_all(fd, head, 4) && write_all(fd, payload.data(), payload.size());
}

result<std::string> read_frame(int fd, uint32_t max_bytes, int stall_timeout_ms) {
    unsigned char head[4];
    size_t got = 0;
    // The first byte may take as long as the peer likes (an idle connection); once a frame began,
    // the rest must keep coming.
    auto st = read_all(fd, reinterpret_cast<char*>(head), 1, -1, got);
    if (st == read_status::eof) return error{std::string(frame_closed)};
    if (st == read_status::failed) return error{std::string("read: ") + std::strerror(errno)};
    st = read_all(fd, reinterpret_cast<char*>(head) + 1, 3, stall_timeout_ms, got);
    if (st != read_status::ok) {
        if (st == read_status::failed) return error{std::string("read: ") + std::strerror(errno)};
        return error{"truncated frame: " + std::to_string(1 + got) + " of 4 length bytes" +
                     (st == read_status::stalled ? " (stalled)" : " before the connection closed")};
    }
    uint32_t n = (uint32_t{head[0]} << 24) | (uint32_t{head[1]} << 16) | (uint32_t{head[2]} << 8) | head[3];
    if (n > max_bytes)
        return error{"frame of " + std::to_string(n) + " bytes is above the limit of " + std::to_string(max_bytes) +
                     " bytes"};
    std::string body(n, '\0');
    st = read_all(fd, body.data(), n, stall_timeout_ms, got);
    if (st != read_status::ok) {
        if (st == read_status::failed) return error{std::string("read: ") + std::strerror(errno)};
        return error{"truncated frame: " + std::to_string(got) + " of " + std::to_string(n) + " bytes" +
                     (st == read_status::stalled ? " (stalled)" : " before the connection closed")};
    }
    return body;
}

}  // namespace meshgate::policy
