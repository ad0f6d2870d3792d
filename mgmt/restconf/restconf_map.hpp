#pragma once
// RESTCONF (RFC 8040) requests mapped onto libyang: the api-path of a data resource (section
// 3.5.3) to an XPath, a write's body (RFC 7951 JSON) to an edit tree carrying the
// ietf-netconf:operation metadata, and a GET's result back to JSON. Pure functions over a
// libyang context, so they are unit-tested without the datastore or sockets.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mgmt/core/datastore.hpp"

struct lysc_node;

namespace meshgate::mgmt::restconf {

// An error with the HTTP status to answer (usually http_status_of(err); RFC 8040 uses 404 for an
// unknown resource whose tag is invalid-value).
struct http_error {
    int status = 500;
    rpc_error err;
};
using outcome = std::optional<http_error>;  // nullopt: ok

http_error make_error(int status, std::string tag, std::string message, std::string path = "",
                      std::string type = "protocol");

// A parsed api-path. Empty `xpath`: the datastore itself.
struct api_path {
    std::string xpath;                  // "/meshgate-config:meshgate/service[name='web4']", usable by lyd_new_path
    std::string parent_xpath;           // the parent's ("" for a top-level node)
    const lysc_node* schema = nullptr;  // the target's schema node; null for the datastore
    bool keyless_list = false;          // the last segment names a list (or leaf-list) without keys (GET only)
    std::vector<std::string> keys;      // the last segment's key values (list) or value (leaf-list), decoded
    std::string uri;                    // the api-path as received (for Location)
};

// Parses `raw` (the request path after "/restconf/data" or the datastore prefix, still
// percent-encoded: "/meshgate-config:meshgate/service=web4/backend=198.18.2.2,8080"). Unknown
// nodes give 404; malformed encodings 400.
outcome parse_api_path(const ly_ctx* ctx, std::string_view raw, api_path& out);

enum class write_method { put, post, patch, del };

struct edit_result {
    lyd_node* tree = nullptr;      // the edit tree (first top-level sibling); the caller frees it
    std::string location;          // POST: the api-path of the created child ("/meshgate-config:...")
    bool whole_datastore = false;  // PUT on the datastore: `tree` is the whole new config
};

// Builds the edit for a write on target `p`. `body` is the request body (RFC 7951 JSON; ignored
// for DELETE). `current_value`: DELETE of a leaf needs its current value (lyd_new_path needs a
// valid one). The target node carries ietf-netconf:operation replace (PUT), create (POST's new
// child), merge (PATCH) or delete (DELETE); its ancestors carry none, so edit() is called with
// default_op none. An RFC 8040 body names exactly the target (PUT, PATCH) or one child (POST);
// the key leaves of a list entry may be left out of a PUT/PATCH body (they come from the URI).
outcome build_edit(const ly_ctx* ctx, const api_path& p, write_method m, std::string_view body,
                   const std::string& current_value, edit_result& out);

enum class content_filter { all, config, nonconfig };

struct print_options {
    content_filter content = content_filter::all;
    uint32_t depth = 0;     // 0: unbounded (RFC 8040 4.8.2)
    uint32_t wd_flags = 0;  // LYD_PRINT_WD_* (with-defaults, RFC 8040 4.8.9)
};

// The GET answer for `p` from `tree` (the datastore's answer for p.xpath, ancestors included):
// the datastore as {"ietf-restconf:data":{...}}, or the target resource as RFC 7951 JSON with a
// module-qualified member. 404 (data-missing) when the target is not there.
outcome render_get(const ly_ctx* ctx, const api_path& p, const lyd_node* tree, const print_options& o,
                   std::string& json_out);

// The RFC 8040 errors document of `e` ({"ietf-restconf:errors":{"error":[...]}}).
std::string errors_json(const rpc_error& e);

// Maps the last libyang error of this thread to an rpc-error (invalid-value with the path), or
// malformed-message for JSON syntax errors.
rpc_error libyang_error(const ly_ctx* ctx, std::string_view what);

// The instance path out of a libyang error location ('Schema location "/a/b", data location
// "/a[k='v']/b", line number 1.' -> "/a[k='v']/b"); other text unchanged.
std::string clean_error_path(std::string_view p);

// Encodes one key value for a URI segment (RFC 8040 3.5.3: reserved characters and ',').
std::string encode_key(std::string_view v);

}  // namespace meshgate::mgmt::restconf
