#pragma once
// mgmtd's end of the data plane link (policy/proto/.../push.proto over a unix socket): two-phase
// pushes, state reads, and a watcher that notices the data plane (re)starting.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "mgmt/core/datastore.hpp"

namespace meshgate::mgmt {

struct dataplane_status {
    uint64_t generation = 0;
    std::string config_source;  // "file" or "mgmtd"
};

class push_client final : public dataplane_link {
public:
    explicit push_client(std::string socket_path) : path_(std::move(socket_path)) {}
    ~push_client() override;

    std::optional<std::string> prepare(const std::string& snapshot_bytes, uint64_t generation) override;
    std::optional<std::string> activate(uint64_t generation) override;
    void abort(uint64_t generation) override;
    result<std::string> state_json() override;
    result<dataplane_status> status();

    // Microseconds the data plane reported for the last prepare / activate.
    uint64_t last_prepare_us() const noexcept { return last_prepare_us_; }
    uint64_t last_activate_us() const noexcept { return last_activate_us_; }

    // Connection count: grows each time a new connection to the data plane is made. The daemon
    // compares it between polls to notice reconnects.
    uint64_t connects() const noexcept { return connects_.load(); }

private:
    struct reply {
        bool ok = false;
        std::string reason;
        uint64_t generation = 0;
        std::string source;
        uint64_t prepare_us = 0, activate_us = 0;
        std::string state_json;
    };
    // Sends one request (serialized push.proto Request without id; the id is set here) and reads
    // the answer; reconnects once if the connection was lost. Error: no data plane.
    result<reply> call(std::string request_bytes, int timeout_s);
    bool connect_locked();
    void close_locked();

    std::string path_;
    std::mutex m_;
    int fd_ = -1;
    uint64_t next_id_ = 1;
    std::atomic<uint64_t> connects_{0};
    uint64_t last_prepare_us_ = 0, last_activate_us_ = 0;
};

}  // namespace meshgate::mgmt
