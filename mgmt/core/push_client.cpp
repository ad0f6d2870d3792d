#include "mgmt/core/push_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "policy/framing.hpp"
#include "push.pb.h"

namespace meshgate::mgmt {
namespace pb = meshgate::config::v1;

push_client::~push_client() {
    std::lock_guard g(m_);
    close_locked();
}

void push_client::close_locked() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool push_client::connect_locked() {
    if (fd_ >= 0) return true;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path_.size() >= sizeof a.sun_path) {
        ::close(fd);
        return false;
    }
    std::memcpy(a.sun_path, path_.c_str(), path_.size() + 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return false;
    }
    fd_ = fd;
    connects_.fetch_add(1);
    return true;
}

result<push_client::reply> push_client::call(std::string request_bytes, int timeout_s) {
    std::lock_guard g(m_);
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!connect_locked()) return error{"the data plane is not reachable on " + path_};
        timeval tv{timeout_s, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        pb::Request req;
        if (!req.ParseFromString(request_bytes)) return error{"mgmtd: bad request"};
        const uint64_t id = next_id_++;
        req.set_id(id);
        if (!policy::write_frame(fd_, req.SerializeAsString())) {
            close_locked();  // the data plane restarted: try a fresh connection once
            continue;
        }
        auto in = policy::read_frame(fd_, policy::max_frame_bytes, timeout_s * 1000);
        if (!in) {
            close_locked();
            const std::string& why = in.error_message();
            return error{why.find("unavailable") != std::string::npos
                             ? "the data plane did not answer within " + std::to_string(timeout_s) + " s"
                             : "data plane link: " + why};
        }
        pb::Response resp;
        if (!resp.ParseFromString(in.value()) || resp.id() != id) {
            close_locked();
            return error{"the data plane sent an answer that does not parse or does not match"};
        }
        reply r;
        r.ok = resp.ok();
        r.reason = resp.reason();
        r.generation = resp.generation();
        r.source = resp.config_source();
        r.prepare_us = resp.prepare_us();
        r.activate_us = resp.activate_us();
        r.state_json = resp.state_json();
        return r;
    }
    return error{"the data plane is not reachable on " + path_};
}

std::optional<std::string> push_client::prepare(const std::string& snapshot_bytes, uint64_t generation) {
    pb::Request req;
    if (!req.mutable_prepare()->mutable_snapshot()->ParseFromString(snapshot_bytes))
        return "mgmtd: the snapshot does not parse";
    req.mutable_prepare()->mutable_snapshot()->set_generation(generation);
    auto r = call(req.SerializeAsString(), 120);
    if (!r) return r.error_message();
    last_prepare_us_ = r.value().prepare_us;
    if (!r.value().ok) return r.value().reason;
    return std::nullopt;
}

std::optional<std::string> push_client::activate(uint64_t generation) {
    pb::Request req;
    req.mutable_activate()->set_generation(generation);
    auto r = call(req.SerializeAsString(), 60);
    if (!r) return r.error_message();
    last_activate_us_ = r.value().activate_us;
    if (!r.value().ok) return r.value().reason;
    return std::nullopt;
}

void push_client::abort(uint64_t generation) {
    pb::Request req;
    req.mutable_abort()->set_generation(generation);
    (void)call(req.SerializeAsString(), 10);
}

result<std::string> push_client::state_json() {
    pb::Request req;
    req.mutable_state();
    auto r = call(req.SerializeAsString(), 10);
    if (!r) return error{r.error_message()};
    if (!r.value().ok) return error{r.value().reason};
    return std::move(r.value().state_json);
}

result<dataplane_status> push_client::status() {
    pb::Request req;
    req.mutable_status();
    auto r = call(req.SerializeAsString(), 5);
    if (!r) return error{r.error_message()};
    return dataplane_status{r.value().generation, r.value().source};
}

}  // namespace meshgate::mgmt
