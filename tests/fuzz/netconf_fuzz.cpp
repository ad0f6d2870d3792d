// mgmtd's NETCONF input path after the SSH layer: bytes arriving on an established session go
// through libnetconf2's framing (RFC 6242: end-of-message "]]>]]>" for base:1.0, chunks
// "\n#<len>\n...\n##\n" for base:1.1), libyang's XML/RPC parsing, our RPC dispatch
// (mgmt/netconf/netconf_server.cpp, through netconf_rpc_host) and the datastore (lab-l4 config,
// a data plane link that acks).
//
// Each input is one session, accepted with nc_accept_inout over a socketpair (no SSH). The
// harness writes a valid client <hello>, then the input, then shuts its side down, so every read
// the server makes finds data or end-of-file: nothing waits. Replies go to /dev/null. The server
// polls (nc_ps_poll) until the session ends, at the latest at end-of-file. The first byte:
//   bit 0     1: the client <hello> offers base:1.1 as well (chunked framing); 0: base:1.0 only
//   bit 1     1: the rest is sent raw (its own framing, or garbage); 0: the rest is split at NUL
//             bytes into messages, each framed correctly for the session's version
//   bits 2-4  chunk size of that framing for base:1.1: 1, 2, 3, 5, 8, 13, 64, whole message
//   bit 5     the session's user has the read-only role
// After each input the datastore is put back as it was (locks gone, confirmed commit rolled
// back, candidate discarded, running reset to the lab config), so inputs do not depend on each
// other. NETCONF_FUZZ_ECHO=1 sends the server's output to stderr instead of /dev/null;
// NETCONF_FUZZ_LOG=1 prints mgmtd's log, libnetconf2's errors included.
#include <fcntl.h>
#include <libyang/libyang.h>
#include <nc_server.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "mgmt/core/datastore.hpp"
#include "mgmt/netconf/netconf_rpc.hpp"
#include "telemetry/log.hpp"

namespace {

using namespace meshgate::mgmt;

struct ack_link final : dataplane_link {
    std::optional<std::string> prepare(const std::string&, uint64_t) override { return std::nullopt; }
    std::optional<std::string> activate(uint64_t) override { return std::nullopt; }
    void abort(uint64_t) override {}
    meshgate::result<std::string> state_json() override {
        return std::string(
            R"({"meshgate-config:operational":{"config-generation":"1","uptime":"5","workers":2,)"
            R"("interface":[{"name":"eth0","port":0,"rx-packets":"10","drop":[{"reason":"no_route","packets":"1"}]}]}})");
    }
};

std::filesystem::path state_dir() {
    return std::filesystem::temp_directory_path() / ("mg-fuzz-netconf-" + std::to_string(::getpid()));
}

[[noreturn]] void die(const std::string& why) {
    std::fprintf(stderr, "netconf_fuzz: %s\n", why.c_str());
    std::abort();
}

bool env_on(const char* name) {
    const char* v = std::getenv(name);
    return v && *v == '1';
}

// Everything that lives for the whole process: libnetconf2 may be initialized once.
struct harness {
    ack_link link;
    std::unique_ptr<datastore> store;
    std::unique_ptr<netconf_rpc_host> host;
    nc_pollsession* ps = nullptr;
    int out_fd = -1;
    lyd_node* initial = nullptr;  // running as opened, to reset to
    uint64_t generation = 0;      // running's generation after the last reset
    session_info admin{0, "fuzz-reset", "mgmtd", false};

    harness() {
        // libnetconf2's errors reach the log at warning (mgmt/netconf's print callback)
        namespace tl = meshgate::telemetry;
        tl::log_configure(tl::format::text, env_on("NETCONF_FUZZ_LOG") ? tl::level::debug : tl::level::error, stderr);
        ly_log_options(LY_LOSTORE_LAST);

        std::filesystem::remove_all(state_dir());
        datastore_options o;
        o.yang_dir = std::string(MESHGATE_SOURCE_DIR) + "/mgmt/yang";
        o.state_dir = state_dir().string();
        o.initial_config = std::string(MESHGATE_SOURCE_DIR) + "/mgmt/yang/examples/lab-l4.json";
        o.history_keep = 4;
        auto r = datastore::open(o, &link);
        if (!r) die(r.error_message());
        store = std::move(r).value();
        admin.id = store->new_session_id();
        std::atexit([] { std::filesystem::remove_all(state_dir()); });

        settings s;
        s.users.push_back(user{"admin", "", {}, false});
        s.users.push_back(user{"viewer", "", {}, true});
        auto h = netconf_rpc_host::start(*store, s);
        if (!h) die(h.error_message());
        host = std::move(h).value();
        ps = nc_ps_new();
        if (!ps) die("nc_ps_new failed");

        out_fd = env_on("NETCONF_FUZZ_ECHO") ? ::dup(2) : ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (out_fd < 0) die("cannot open the output");

        if (store->get_config(ds::running, "", &initial)) die("cannot read running");
        generation = store->running_generation();
    }

    // Back to the state after open (the session is gone already: its locks too).
    void reset() {
        if (store->confirmed_commit_pending()) store->tick(std::chrono::steady_clock::time_point::max());
        if (store->running_generation() != generation) {
            if (auto e = store->replace_all(ds::running, admin, initial)) die("reset running: " + e->message);
            generation = store->running_generation();
        }
        if (store->candidate_dirty()) {
            if (auto e = store->discard_changes(admin)) die("reset candidate: " + e->message);
        }
    }
};

harness& h() {
    static harness* one = new harness;  // never destroyed: nc_server_init/destroy once
    return *one;
}

constexpr std::string_view kHello10 =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities>"
    "<capability>urn:ietf:params:netconf:base:1.0</capability>"
    "</capabilities></hello>]]>]]>";
constexpr std::string_view kHello11 =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities>"
    "<capability>urn:ietf:params:netconf:base:1.0</capability>"
    "<capability>urn:ietf:params:netconf:base:1.1</capability>"
    "</capabilities></hello>]]>]]>";

void frame(std::string& out, std::string_view msg, bool v11, size_t chunk) {
    if (!v11) {
        out.append(msg);
        out.append("]]>]]>");
        return;
    }
    if (chunk == 0) chunk = msg.size();
    for (size_t off = 0; off < msg.size(); off += chunk) {
        std::string_view part = msg.substr(off, chunk);
        out.append("\n#" + std::to_string(part.size()) + "\n");
        out.append(part);
    }
    out.append("\n##\n");
}

// Whether a base:1.1 stream declares a chunk over 16 MiB anywhere ("\n#" and what strtoul, as
// libnetconf2 uses it, makes of the rest of the line). libnetconf2 2.0 mallocs a chunk's declared
// size before reading it. The process only reserves address space, but meson's test runner sets
// MALLOC_PERTURB_ (glibc then fills the block: seconds per GiB, and the RSS), ASan is slow with
// it, and libFuzzer reports a malloc over -malloc_limit_mb as a crash: such inputs are skipped.
// 2^64-1 (what strtoul makes of any overflow) stays: libnetconf2 mallocs 0 bytes for it and
// read() refuses the size.
bool declares_huge_chunk(std::string_view stream) {
    for (size_t at = stream.find("\n#"); at != std::string_view::npos; at = stream.find("\n#", at + 1)) {
        std::string_view rest = stream.substr(at + 2, 64);
        std::string line(rest.substr(0, rest.find('\n')));
        const unsigned long n = std::strtoul(line.c_str(), nullptr, 10);
        if (n > (16ul << 20) && n != ULONG_MAX) return true;
    }
    return false;
}

// Writes it all; false when the socket buffer cannot take it (the input is skipped).
bool write_all(int fd, const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > 64 * 1024) return 0;
    harness& H = h();
    const uint8_t mode = data[0];
    const bool v11 = (mode & 1) != 0;
    const bool raw = (mode & 2) != 0;
    static const size_t chunks[] = {1, 2, 3, 5, 8, 13, 64, 0};
    const size_t chunk = chunks[(mode >> 2) & 7];
    const char* username = (mode & 32) ? "viewer" : "admin";
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

    std::string stream(v11 ? kHello11 : kHello10);
    if (raw) {
        stream.append(body);
    } else {
        size_t start = 0;
        while (start <= body.size()) {
            size_t nul = body.find('\0', start);
            if (nul == std::string_view::npos) nul = body.size();
            if (nul > start) frame(stream, body.substr(start, nul - start), v11, chunk);
            start = nul + 1;
        }
    }

    if (v11 && declares_huge_chunk(stream)) return 0;

    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair failed");
    const int sndbuf = 4 << 20;
    ::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    ::fcntl(sv[1], F_SETFL, O_NONBLOCK);
    if (!write_all(sv[1], stream)) {
        ::close(sv[0]);
        ::close(sv[1]);
        return 0;
    }
    ::shutdown(sv[1], SHUT_WR);  // the server reads end-of-file after the input

    nc_session* s = nullptr;
    if (nc_accept_inout(sv[0], H.out_fd, username, &s) == NC_MSG_HELLO && s) {
        H.host->add_session(s, username);
        if (nc_ps_add_session(H.ps, s) == 0) {
            // Every message takes at least one poll and a few bytes; end-of-file ends the session.
            for (size_t i = 0; i < 16 + stream.size(); ++i) {
                nc_session* polled = nullptr;
                const int r = nc_ps_poll(H.ps, 10, &polled);
                if (r & (NC_PSPOLL_SESSION_TERM | NC_PSPOLL_NOSESSIONS | NC_PSPOLL_TIMEOUT | NC_PSPOLL_ERROR)) break;
            }
            nc_ps_del_session(H.ps, s);
        }
        H.host->end_session(s);
    } else if (s) {
        nc_session_free(s, nullptr);
    }
    ::close(sv[0]);
    ::close(sv[1]);
    H.reset();
    return 0;
}
