#include "dataplane/mgmt_link.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "policy/framing.hpp"
#include "telemetry/log.hpp"

namespace meshgate::dataplane {

namespace {

namespace tl = telemetry;
using tl::level;

std::string errno_text() {
    return std::strerror(errno);
}

bool fill_address(const std::string& path, sockaddr_un& sa) {
    std::memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof sa.sun_path) return false;
    std::memcpy(sa.sun_path, path.data(), path.size());
    return true;
}

}  // namespace

result<std::unique_ptr<mgmt_link>> mgmt_link::start(const std::string& path, main_mailbox* mailbox, handler h) {
    const std::string what = "--mgmt-socket " + path;
    sockaddr_un sa{};
    if (!fill_address(path, sa))
        return error{what + ": the path must be 1-" + std::to_string(sizeof sa.sun_path - 1) + " bytes"};
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
        std::filesystem::create_directories(parent, ec);
        if (ec) return error{what + ": cannot create " + parent.string() + ": " + ec.message()};
    }
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) return error{what + ": exists and is not a socket"};
        // A live socket belongs to another data plane; a dead one is left from an earlier run.
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0) {
            bool live = connect(probe, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
            close(probe);
            if (live) return error{what + ": another process listens on it"};
        }
        if (unlink(path.c_str()) != 0 && errno != ENOENT)
            return error{what + ": cannot remove the stale socket: " + errno_text()};
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return error{what + ": socket: " + errno_text()};
    // 0660 from the start: no window in which others could connect.
    mode_t old_mask = umask(0117);
    int rc = bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    umask(old_mask);
    if (rc != 0) {
        auto e = errno_text();
        close(fd);
        return error{what + ": bind: " + e};
    }
    if (chmod(path.c_str(), 0660) != 0 || listen(fd, 4) != 0) {
        auto e = errno_text();
        close(fd);
        unlink(path.c_str());
        return error{what + ": " + e};
    }
    std::unique_ptr<mgmt_link> link(new mgmt_link());
    link->path_ = path;
    link->mailbox_ = mailbox;
    link->handler_ = std::move(h);
    link->listen_fd_ = fd;
    link->thread_ = std::thread([l = link.get()] { l->run(); });
    tl::log(level::info, "mgmt.listening", "mgmtd link listening on " + path, {{"path", path}});
    return link;
}

void mgmt_link::run() {
    int client = -1;
    while (!stop_.load(std::memory_order_relaxed)) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {client, POLLIN, 0}};
        int n = poll(fds, client >= 0 ? 2 : 1, 200);
        if (n < 0) {
            if (errno == EINTR) continue;
            tl::log(level::error, "mgmt.poll_failed", "mgmtd link: poll: " + errno_text());
            break;
        }
        if (n == 0) continue;
        if ((fds[0].revents & POLLIN) != 0) {
            int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c >= 0) {
                if (client >= 0) {
                    tl::log(level::warning, "mgmt.refused",
                            "mgmtd link: refused a second client (one at a time; the first is still connected)");
                    close(c);
                } else {
                    client = c;
                    tl::log(level::info, "mgmt.connected", "mgmtd link: client connected");
                }
            }
        }
        if (client >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            if (!serve_one(client)) {
                close(client);
                client = -1;
            }
        }
    }
    if (client >= 0) close(client);
    exited_.store(true);
}

bool mgmt_link::serve_one(int fd) {
    auto frame = policy::read_frame(fd, policy::max_frame_bytes, frame_stall_ms);
    if (!frame) {
        if (frame.error_message() == policy::frame_closed) {
            tl::log(level::info, "mgmt.disconnected", "mgmtd link: client disconnected");
        } else {
            tl::log(level::warning, "mgmt.bad_frame", "mgmtd link: closing the connection: " + frame.error_message(),
                    {{"reason", frame.error_message()}});
        }
        return false;
    }
    auto req = policy::decode_request(frame.value());
    if (!req) {
        tl::log(level::warning, "mgmt.bad_request", "mgmtd link: closing the connection: " + req.error_message(),
                {{"reason", req.error_message()}});
        return false;
    }
    auto& r = req.value();
    policy::push_response resp;
    bool ran = false;
    if (!stop_.load()) ran = mailbox_->run([&] { resp = handler_(r); }, main_lcore_timeout);
    if (!ran) {
        resp = {};
        resp.ok = false;
        resp.reason = stop_.load() ? "the data plane is stopping"
                                   : "the main lcore did not take the request within " +
                                         std::to_string(main_lcore_timeout.count()) + " s";
    }
    resp.id = r.id;
    if (!policy::write_frame(fd, policy::encode_response(resp))) {
        tl::log(level::warning, "mgmt.write_failed",
                std::string("mgmtd link: cannot send the response to ") + policy::to_string(r.kind) + " request " +
                    std::to_string(r.id) + ": " + errno_text() + "; closing the connection",
                {{"request", r.id}});
        return false;
    }
    return true;
}

void mgmt_link::stop() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    while (!exited_.load()) {
        mailbox_->poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    thread_.join();
    close(listen_fd_);
    listen_fd_ = -1;
    unlink(path_.c_str());
}

mgmt_link::~mgmt_link() {
    stop();
}

}  // namespace meshgate::dataplane
