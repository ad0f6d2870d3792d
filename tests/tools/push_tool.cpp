// push_tool: the mgmtd side of the data plane link (policy/proto/meshgate/config/v1/push.proto),
// for tests, perf and debugging.
//
//   push_tool SOCKET prepare-activate SNAPSHOT.json [GEN]   prepare, then activate on ack
//   push_tool SOCKET prepare SNAPSHOT.json GEN
//   push_tool SOCKET activate GEN
//   push_tool SOCKET abort GEN
//   push_tool SOCKET status
//   push_tool SOCKET state                                  the state JSON on stdout
//
// SNAPSHOT.json is a Snapshot in proto3 JSON (like deploy/lab/meshgate-lab-l4.json); GEN, when
// given, replaces its generation. Prints one line per response with the data plane's timings and
// the round trip. Exit status: 0 all acked, 1 a nack, 2 usage or connection errors.
#include <google/protobuf/util/json_util.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "policy/framing.hpp"
#include "push.pb.h"

namespace {

namespace pb = meshgate::config::v1;

[[noreturn]] void fail(const std::string& msg) {
    std::fprintf(stderr, "push_tool: %s\n", msg.c_str());
    std::exit(2);
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: push_tool SOCKET prepare-activate SNAPSHOT.json [GEN]\n"
                 "       push_tool SOCKET prepare SNAPSHOT.json GEN\n"
                 "       push_tool SOCKET activate GEN | abort GEN | status | state\n");
    std::exit(2);
}

uint64_t parse_gen(const char* s) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0) fail(std::string("\"") + s + "\" is not a generation");
    return v;
}

pb::Snapshot read_snapshot(const std::string& path, std::optional<uint64_t> gen) {
    std::ifstream in(path);
    if (!in) fail(path + ": cannot be read");
    std::stringstream ss;
    ss << in.rdbuf();
    pb::Snapshot s;
    auto st = google::protobuf::util::JsonStringToMessage(ss.str(), &s);
    if (!st.ok()) fail(path + ": not a Snapshot in proto3 JSON: " + std::string(st.message()));
    if (gen) s.set_generation(*gen);
    return s;
}

class push_link {
public:
    explicit push_link(const std::string& path) {
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if (path.size() >= sizeof sa.sun_path) fail(path + ": path too long");
        std::memcpy(sa.sun_path, path.data(), path.size());
        fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0 || connect(fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0)
            fail(path + ": cannot connect: " + std::strerror(errno));
    }
    ~push_link() { close(fd_); }
    push_link(const push_link&) = delete;
    push_link& operator=(const push_link&) = delete;

    // Sends the request, prints the response line; returns it.
    pb::Response call(pb::Request& req, const char* what) {
        req.set_id(++next_id_);
        auto t0 = std::chrono::steady_clock::now();
        if (!meshgate::policy::write_frame(fd_, req.SerializeAsString()))
            fail(std::string("cannot send: ") + std::strerror(errno));
        auto frame = meshgate::policy::read_frame(fd_);
        if (!frame) fail("no response: " + frame.error_message());
        auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
        pb::Response resp;
        if (!resp.ParseFromString(frame.value())) fail("the response is not a Response message");
        if (resp.id() != req.id())
            fail("response id " + std::to_string(resp.id()) + " for request " + std::to_string(req.id()));
        std::string line = std::string(what) + (resp.ok() ? ": ack" : ": nack") +
                           " generation=" + std::to_string(resp.generation()) + " source=" + resp.config_source();
        if (req.has_prepare()) line += " prepare_us=" + std::to_string(resp.prepare_us());
        if (req.has_activate()) line += " activate_us=" + std::to_string(resp.activate_us());
        line += " rtt_us=" + std::to_string(rtt);
        if (!resp.ok()) line += " reason=\"" + resp.reason() + "\"";
        // state: the JSON goes to stdout alone; the line to stderr.
        std::fprintf(req.has_state() && resp.ok() ? stderr : stdout, "%s\n", line.c_str());
        return resp;
    }

private:
    int fd_ = -1;
    uint64_t next_id_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) usage();
    const std::string sock = argv[1], cmd = argv[2];
    push_link l(sock);
    pb::Request req;
    if (cmd == "prepare-activate" && (argc == 4 || argc == 5)) {
        std::optional<uint64_t> gen;
        if (argc == 5) gen = parse_gen(argv[4]);
        *req.mutable_prepare()->mutable_snapshot() = read_snapshot(argv[3], gen);
        uint64_t g = req.prepare().snapshot().generation();
        if (!l.call(req, "prepare").ok()) return 1;
        pb::Request act;
        act.mutable_activate()->set_generation(g);
        return l.call(act, "activate").ok() ? 0 : 1;
    }
    if (cmd == "prepare" && argc == 5) {
        *req.mutable_prepare()->mutable_snapshot() = read_snapshot(argv[3], parse_gen(argv[4]));
        return l.call(req, "prepare").ok() ? 0 : 1;
    }
    if (cmd == "activate" && argc == 4) {
        req.mutable_activate()->set_generation(parse_gen(argv[3]));
        return l.call(req, "activate").ok() ? 0 : 1;
    }
    if (cmd == "abort" && argc == 4) {
        req.mutable_abort()->set_generation(parse_gen(argv[3]));
        return l.call(req, "abort").ok() ? 0 : 1;
    }
    if (cmd == "status" && argc == 3) {
        req.mutable_status();
        return l.call(req, "status").ok() ? 0 : 1;
    }
    if (cmd == "state" && argc == 3) {
        req.mutable_state();
        auto r = l.call(req, "state");
        if (!r.ok()) return 1;
        std::printf("%s\n", r.state_json().c_str());
        return 0;
    }
    usage();
}
