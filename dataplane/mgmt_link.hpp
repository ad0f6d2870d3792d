#pragma once
// The data plane's end of the mgmtd link (policy/proto/meshgate/config/v1/push.proto): a unix
// stream socket (--mgmt-socket PATH) served by its own thread. One client at a time (a second is
// refused and closed); each frame is decoded on this thread (policy/push.hpp: parse and validate
// the snapshot, off the main lcore), the request runs on the main lcore through the mailbox, and
// the response goes back. Anything malformed (garbage, an oversized length, a truncated or
// stalled frame, a request naming no operation) closes that connection with a log line; nothing
// a client sends can stop the data plane or its workers.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "dataplane/mailbox.hpp"
#include "policy/push.hpp"
#include "policy/result.hpp"

namespace meshgate::dataplane {

class mgmt_link {
public:
    // Runs on the main lcore; must fill ok, reason, generation, config_source (the id is set).
    using handler = std::function<policy::push_response(policy::push_request&)>;

    // How long a request may wait for the main lcore to take it (prepare compiles the snapshot
    // there), and how long a started frame may stall before the connection is dropped.
    static constexpr auto main_lcore_timeout = std::chrono::seconds(60);
    static constexpr int frame_stall_ms = 10000;

    // Creates the socket (parent directory if missing, a stale socket file replaced, mode 0660;
    // refused when another process listens on it) and starts the thread.
    static result<std::unique_ptr<mgmt_link>> start(const std::string& path, main_mailbox* mailbox, handler h);

    // Main lcore: stops the thread (the mailbox is polled meanwhile, so a request being handed
    // over finishes), closes the socket and removes its file.
    void stop();
    ~mgmt_link();

    mgmt_link(const mgmt_link&) = delete;
    mgmt_link& operator=(const mgmt_link&) = delete;

private:
    mgmt_link() = default;
    void run();
    bool serve_one(int fd);  // false: close the connection

    std::string path_;
    main_mailbox* mailbox_ = nullptr;
    handler handler_;
    int listen_fd_ = -1;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> exited_{false};
};

}  // namespace meshgate::dataplane
