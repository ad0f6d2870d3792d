// mgmtd's config input path, as NETCONF edit-config and RESTCONF bodies reach it: bytes parsed
// by libyang as XML or JSON (RFC 7951) edit data in the meshgate-config model, applied to the
// candidate with the RFC 6241 operations, validated, translated into the data plane's Snapshot
// and checked by its rules. The first byte picks the format, the default operation and whether
// the edit is only tested or kept (then committed, with a link that acks).
#include <libyang/libyang.h>

#include <cstdint>
#include <string>

#include "tests/fuzz/mgmt_fuzz_support.hpp"

using namespace meshgate::mgmt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > 256 * 1024) return 0;
    datastore& ds = fuzz::store("mgmt_edit");
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
