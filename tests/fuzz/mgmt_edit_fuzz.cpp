// mgmtd's config input path, as NETCONF edit-config and RESTCONF bodies reach it: bytes parsed
// by libyang as XML or JSON (RFC 7951) edit data in the meshgate-config model, applied to the
// candidate with the RFC 6241 operations, validated, translated into the data plane's Snapshot
// and checked by its rules. The first byte picks the format, the default operation and whether
// the edit is only tested or kept (then committed, with a link that acks).
#include <libyang/libyang.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "mgmt/core/datastore.hpp"

namespace {

using namespace meshgate::mgmt;

struct ack_link final : dataplane_link {
    std::optional<std::string> prepare(const std::string&, uint64_t) override { return std::nullopt; }
    std::optional<std::string> activate(uint64_t) override { return std::nullopt; }
    void abort(uint64_t) override {}
    meshgate::result<std::string> state_json() override { return meshgate::error{"none"}; }
};

datastore& store() {
    static ack_link link;
    static std::unique_ptr<datastore> ds = [] {
        auto dir = std::filesystem::temp_directory_path() / ("mg-fuzz-mgmt-" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir);
        datastore_options o;
        o.yang_dir = std::string(MESHGATE_SOURCE_DIR) + "/mgmt/yang";
        o.state_dir = dir.string();
        o.initial_config = std::string(MESHGATE_SOURCE_DIR) + "/mgmt/yang/examples/lab-l4.json";
        o.history_keep = 4;
        auto r = datastore::open(o, &link);
        if (!r) {
            std::fprintf(stderr, "mgmt_edit_fuzz: %s\n", r.error_message().c_str());
            std::abort();
        }
        std::atexit([] {
            std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                                        ("mg-fuzz-mgmt-" + std::to_string(::getpid())));
        });
        return std::move(r).value();
    }();
    return *ds;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > 256 * 1024) return 0;
    datastore& ds = store();
    const uint8_t mode = data[0];
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    const LYD_FORMAT fmt = (mode & 1) ? LYD_XML : LYD_JSON;
    static const edit_op ops[] = {edit_op::merge, edit_op::replace, edit_op::none, edit_op::merge};
    const edit_op op = ops[(mode >> 1) & 3];
    const bool keep = (mode & 8) != 0;
    lyd_node* edit = nullptr;
    if (lyd_parse_data_mem(ds.context(), text.c_str(), fmt, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0,
                           &edit) != LY_SUCCESS) {
        lyd_free_all(edit);
        return 0;
    }
    session_info s{7, "fuzz", "netconf", false};
    auto e = ds.edit(ds::candidate, s, edit, op, !keep);
    if (keep && !e) {
        (void)ds.validate(ds::candidate);
        (void)ds.diff_text();
        if (mode & 16) (void)ds.commit(s, {});
        (void)ds.discard_changes(s);
    }
    lyd_free_all(edit);
    return 0;
}
