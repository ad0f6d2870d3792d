// meshgate-mgmtd: owns the configuration (YANG datastores), serves NETCONF over SSH and RESTCONF
// over HTTPS, and pushes every commit to the data plane (two-phase, over a unix socket).
//
//   meshgate-mgmtd --settings FILE
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "mgmt/core/datastore.hpp"
#include "mgmt/core/push_client.hpp"
#include "mgmt/core/settings.hpp"
#include "mgmt/netconf/netconf_server.hpp"
#include "mgmt/restconf/restconf_server.hpp"
#include "telemetry/log.hpp"

namespace {

using namespace meshgate;
using namespace meshgate::mgmt;
namespace tl = meshgate::telemetry;
using level = tl::level;

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) {
    g_stop = 1;
}

[[noreturn]] void die(const std::string& msg) {
    tl::log(level::error, "mgmtd.failed", msg);
    std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    tl::log_configure(tl::format::json, level::info);
    std::string settings_path;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--settings" && i + 1 < argc) {
            settings_path = argv[++i];
        } else if (a == "--help" || a == "-h") {
            std::puts("usage: meshgate-mgmtd --settings FILE");
            return 0;
        } else {
            std::fprintf(stderr, "meshgate-mgmtd: unknown argument \"%s\" (usage: --settings FILE)\n", a.c_str());
            return 2;
        }
    }
    if (settings_path.empty()) {
        std::fprintf(stderr, "meshgate-mgmtd: --settings FILE is required\n");
        return 2;
    }
    auto st = load_settings_file(settings_path);
    if (!st) die(st.error_message());
    const settings& s = st.value();

    push_client link(s.dataplane_socket);
    datastore_options o;
    o.yang_dir = s.yang_dir;
    o.state_dir = s.state_dir;
    o.initial_config = s.initial_config;
    o.history_keep = s.history_keep;
    auto opened = datastore::open(o, &link);
    if (!opened) die(opened.error_message());
    datastore& ds = *opened.value();

    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGPIPE, SIG_IGN);

    auto nc = netconf_server::start(ds, s);
    if (!nc) die("netconf: " + nc.error_message());
    auto rc = restconf_server::start(ds, s);
    if (!rc) die("restconf: " + rc.error_message());
    tl::log(level::info, "mgmtd.running",
            "meshgate-mgmtd: NETCONF on " + s.netconf_address + ":" + std::to_string(s.netconf_port) +
                ", RESTCONF on " + s.restconf_address + ":" + std::to_string(s.restconf_port) + ", generation " +
                std::to_string(ds.running_generation()),
            {{"netconf_port", uint64_t{s.netconf_port}},
             {"restconf_port", uint64_t{s.restconf_port}},
             {"generation", ds.running_generation()}});

    // The data plane link: whenever the data plane runs something other than our running config
    // (it restarted from its file, or never had ours), push running again. A data plane that
    // already runs our generation (mgmtd restarted) is left alone.
    bool dp_up = false;
    auto last_check = std::chrono::steady_clock::now() - std::chrono::seconds(10);
    while (g_stop == 0) {
        auto now = std::chrono::steady_clock::now();
        ds.tick(now);
        if (now - last_check >= std::chrono::seconds(1)) {
            last_check = now;
            auto dst = link.status();
            if (!dst) {
                if (dp_up) tl::log(level::warning, "dataplane.down", "data plane link lost: " + dst.error_message());
                dp_up = false;
            } else {
                if (!dp_up)
                    tl::log(level::info, "dataplane.up", "data plane reachable",
                            {{"generation", dst.value().generation}, {"config_source", dst.value().config_source}});
                dp_up = true;
                if (dst.value().config_source != "mgmtd" || dst.value().generation != ds.running_generation()) {
                    if (auto e = ds.repush_running())
                        tl::log(level::error, "commit.repush_failed", "push of running failed: " + e->message);
                }
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    tl::log(level::info, "mgmtd.stopping", "meshgate-mgmtd stopping");
    rc.value().reset();
    nc.value().reset();
    return 0;
}
