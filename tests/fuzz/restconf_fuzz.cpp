// RESTCONF's request input (mgmt/restconf/restconf_map.hpp, json.hpp): an api-path as received
// (RFC 8040 3.5.3 encoding) and a JSON body, turned into an edit tree for PUT, POST, PATCH or
// DELETE and tried on the candidate (test only), or rendered as a GET answer; the body also goes
// through the small JSON parser the operations use. Input: one byte for the method, the path up
// to the first newline, then the body.
#include <libyang/libyang.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "mgmt/restconf/json.hpp"
#include "mgmt/restconf/restconf_map.hpp"
#include "tests/fuzz/mgmt_fuzz_support.hpp"

using namespace meshgate::mgmt;
using namespace meshgate::mgmt::restconf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > 256 * 1024) return 0;
    datastore& ds = fuzz::store("restconf");
    const uint8_t method = data[0] % 5;
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    const size_t nl = rest.find('\n');
    const std::string_view path = rest.substr(0, nl);
    const std::string_view body = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    (void)json::parse(body);
    api_path p;
    if (parse_api_path(ds.context(), path, p)) return 0;
    if (method == 4) {  // GET
        lyd_node* t = nullptr;
        if (!ds.get_config(ds::candidate, p.xpath, &t)) {
            std::string out;
            (void)render_get(ds.context(), p, t, print_options{}, out);
        }
        lyd_free_all(t);
        return 0;
    }
    static const write_method methods[] = {write_method::put, write_method::post, write_method::patch,
                                           write_method::del};
    edit_result er;
    if (!build_edit(ds.context(), p, methods[method], body, "", er) && er.tree != nullptr) {
        session_info s{9, "fuzz", "restconf", false};
        if (er.whole_datastore)
            (void)ds.validate_tree(er.tree);
        else
            (void)ds.edit(ds::candidate, s, er.tree, edit_op::none, true);
    }
    lyd_free_all(er.tree);
    return 0;
}
