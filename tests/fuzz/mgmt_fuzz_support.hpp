#pragma once
// Shared by the mgmtd fuzz targets: one datastore per process, opened on a temporary state dir
// with the lab's initial config, and a data plane link that acks every push.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "mgmt/core/datastore.hpp"

namespace meshgate::mgmt::fuzz {

struct ack_link final : dataplane_link {
    std::optional<std::string> prepare(const std::string&, uint64_t) override { return std::nullopt; }
    std::optional<std::string> activate(uint64_t) override { return std::nullopt; }
    void abort(uint64_t) override {}
    result<std::string> state_json() override { return error{"no data plane in the fuzzer"}; }
};

inline std::filesystem::path state_dir(const char* target) {
    return std::filesystem::temp_directory_path() /
           (std::string("mg-fuzz-") + target + "-" + std::to_string(::getpid()));
}

// The process's datastore for `target` (its name names the temporary state dir).
inline datastore& store(const char* target) {
    static ack_link link;
    static const char* name = target;
    static std::unique_ptr<datastore> ds = [] {
        auto dir = state_dir(name);
        std::filesystem::remove_all(dir);
        datastore_options o;
        o.yang_dir = std::string(MESHGATE_SOURCE_DIR) + "/mgmt/yang";
        o.state_dir = dir.string();
        o.initial_config = std::string(MESHGATE_SOURCE_DIR) + "/mgmt/yang/examples/lab-l4.json";
        o.history_keep = 4;
        auto r = datastore::open(o, &link);
        if (!r) {
            std::fprintf(stderr, "%s fuzzer: %s\n", name, r.error_message().c_str());
            std::abort();
        }
        std::atexit([] { std::filesystem::remove_all(state_dir(name)); });
        return std::move(r).value();
    }();
    return *ds;
}

}  // namespace meshgate::mgmt::fuzz
