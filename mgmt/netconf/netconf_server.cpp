// NETCONF over SSH (RFC 6241, RFC 6242) on libnetconf2 2.0, serving mgmtd's datastores.
//
// libnetconf2 does the transport (SSH, framing, <hello>), parses every <rpc> against the YANG
// context (ietf-netconf and friends: an RPC that does not fit the schema never reaches us, the
// client gets libnetconf2's own rpc-error: operation-failed with libyang's message, e.g. for
// malformed XML or an unknown element; a message in which it finds no <rpc> at all, e.g. one
// starting with a DOCTYPE, is dropped without a reply) and handles <close-session>. Every other
// RPC, and <get-schema> (libnetconf2 2.0's own reads freed memory with libyang 2.1), comes to
// rpc_callback(), which maps it onto the datastore API.
//
// XML entities: libyang's XML parser refuses a DOCTYPE ("Document Type Declaration not
// supported") and any entity reference but the five predefined ones, so nothing is expanded.
//
// Capabilities: libnetconf2 derives them from the context: base 1.0/1.1, one per ietf-netconf
// feature enabled (:candidate, :confirmed-commit:1.1, :rollback-on-error, :validate:1.1, :xpath;
// :writable-running, :startup, :url only when the datastore enables those features),
// :with-defaults (basic-mode explicit) when ietf-netconf-with-defaults is loaded, one per YANG 1.0
// module, and yang-library (YANG 1.1 modules such as meshgate-config are listed only there;
// <get> includes the ietf-yang-library state). start() refuses a context without the features
// this server implements.
//
// Session ids: the NETCONF session-id is libnetconf2's own (a counter from 1), and it is also
// the datastore's session_info.id. datastore::new_session_id() (used by RESTCONF) hands out ids
// from 1,000,000 up, so the two never collide as long as fewer than a million NETCONF sessions
// were opened in one run of mgmtd.
//
// Message size: libnetconf2 2.0 has no limit on the size of a message (it grows its buffer
// chunk by chunk) and no hook to add one, so none is enforced (known gap).
//
// libnetconf2 2.0.24 crashes (a NULL dereference in nc_ps_poll) on broken base:1.1 chunk framing
// and on a message without any element; two guards at the end of this file turn those into the
// end of the session and an unparsable message. libnetconf2's messages go to our log
// (print_callback), not to stderr.
//
// netconf_rpc_host (netconf_rpc.hpp) is the same RPC handling without SSH and threads, for
// sessions accepted over plain descriptors (the NETCONF fuzz harness).
//
// Threads: one accepts (nc_accept, 200 ms timeout; an SSH handshake in progress can hold it up
// to the 20 s authentication timeout), two poll the sessions (nc_ps_poll). The destructor stops
// and joins them, then ends every session (datastore::session_ended: its locks go).
#include "mgmt/netconf/netconf_server.hpp"

#include <dlfcn.h>
#include <libyang/libyang.h>
#include <nc_server.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "mgmt/netconf/netconf_rpc.hpp"
#include "telemetry/log.hpp"

namespace meshgate::mgmt {

namespace tl = meshgate::telemetry;

namespace {

constexpr const char* kEndpoint = "meshgate";
constexpr const char* kHostKeyName = "hostkey";
constexpr int kWorkers = 2;

// Per NETCONF session (nc_session_set_data).
struct session_data {
    session_info info;
    bool ended = false;  // datastore::session_ended() was called
};

void free_session_data(void* p) {
    delete static_cast<session_data*>(p);
}

session_data* data_of(const nc_session* s) {
    return static_cast<session_data*>(nc_session_get_data(s));
}

}  // namespace

struct netconf_server::impl {
    datastore& store;
    settings cfg;
    ly_ctx* ctx = nullptr;
    nc_pollsession* ps = nullptr;
    std::string hostkey_path;
    int hostkey_fd = -1;
    std::vector<std::pair<std::string, ssh_key>> authorized;  // user, key

    std::atomic<bool> stop{false};
    std::thread acceptor;
    std::vector<std::thread> workers;

    std::mutex mu;  // sessions
    std::map<uint32_t, nc_session*> sessions;

    impl(datastore& d, const settings& s) : store(d), cfg(s) {}

    void accept_loop();
    void poll_loop();
    void add_session(nc_session* s);
    void end_session(nc_session* s);
    // The session's state (session_info from its user) and its place in `sessions`: what
    // add_session/end_session do besides the pollsession, the log and the free.
    void register_session(nc_session* s, const std::string* username = nullptr);
    bool unregister_session(nc_session* s);  // false: not registered (another thread ended it)

    nc_server_reply* handle(lyd_node* rpc, nc_session* s);
    nc_server_reply* get_schema(const lyd_node* rpc);
};

namespace {

netconf_server::impl* g_server = nullptr;  // libnetconf2's callbacks are global
std::mutex g_server_mu;

// ---------------------------------------------------------------------------------------------
// rpc-error construction

NC_ERR tag_of(const std::string& tag) {
    static const std::pair<const char*, NC_ERR> tags[] = {
        {"in-use", NC_ERR_IN_USE},
        {"invalid-value", NC_ERR_INVALID_VALUE},
        {"too-big", NC_ERR_TOO_BIG},
        {"missing-attribute", NC_ERR_MISSING_ATTR},
        {"bad-attribute", NC_ERR_BAD_ATTR},
        {"unknown-attribute", NC_ERR_UNKNOWN_ATTR},
        {"missing-element", NC_ERR_MISSING_ELEM},
        {"bad-element", NC_ERR_BAD_ELEM},
        {"unknown-element", NC_ERR_UNKNOWN_ELEM},
        {"unknown-namespace", NC_ERR_UNKNOWN_NS},
        {"access-denied", NC_ERR_ACCESS_DENIED},
        {"lock-denied", NC_ERR_LOCK_DENIED},
        {"resource-denied", NC_ERR_RES_DENIED},
        {"rollback-failed", NC_ERR_ROLLBACK_FAILED},
        {"data-exists", NC_ERR_DATA_EXISTS},
        {"data-missing", NC_ERR_DATA_MISSING},
        {"operation-not-supported", NC_ERR_OP_NOT_SUPPORTED},
        {"operation-failed", NC_ERR_OP_FAILED},
        {"malformed-message", NC_ERR_MALFORMED_MSG},
    };
    for (const auto& [name, value] : tags) {
        if (tag == name) return value;
    }
    return NC_ERR_OP_FAILED;
}

NC_ERR_TYPE type_of(const std::string& type) {
    if (type == "transport") return NC_ERR_TYPE_TRAN;
    if (type == "rpc") return NC_ERR_TYPE_RPC;
    if (type == "protocol") return NC_ERR_TYPE_PROT;
    return NC_ERR_TYPE_APP;
}

// The last node name of an instance identifier ("/m:a/b[k='v']/c" -> "c"), for <bad-element>.
std::string last_element(const std::string& path) {
    std::string_view p = path;
    // strip trailing predicates
    while (!p.empty() && p.back() == ']') {
        int depth = 0;
        size_t i = p.size();
        while (i > 0) {
            --i;
            if (p[i] == ']') ++depth;
            if (p[i] == '[' && --depth == 0) break;
        }
        p = p.substr(0, i);
    }
    size_t slash = p.rfind('/');
    if (slash != std::string_view::npos) p = p.substr(slash + 1);
    size_t colon = p.find(':');
    if (colon != std::string_view::npos) p = p.substr(colon + 1);
    return std::string(p);
}

// libyang's error location ("Data location \"/m:a/b\", line number 3.") as an instance
// identifier, or "" when there is none.
std::string ly_error_path(const char* path) {
    if (!path) return {};
    std::string_view p = path;
    for (const char* head : {"Data location \"", "Schema location \""}) {
        size_t at = p.find(head);
        if (at == std::string_view::npos) continue;
        p = p.substr(at + std::strlen(head));
        size_t end = p.find('"');
        return std::string(p.substr(0, end));
    }
    if (!p.empty() && p.front() == '/') return std::string(p);
    return {};
}

lyd_node* make_error(const ly_ctx* ctx, const rpc_error& e) {
    const NC_ERR tag = tag_of(e.tag);
    const NC_ERR_TYPE type = type_of(e.type);
    const std::string elem = e.path.empty() ? std::string() : last_element(e.path);
    lyd_node* err = nullptr;
    switch (tag) {
        case NC_ERR_MISSING_ATTR:
        case NC_ERR_BAD_ATTR:
        case NC_ERR_UNKNOWN_ATTR:
            err = nc_err(ctx, tag, type, "", elem.c_str());
            break;
        case NC_ERR_MISSING_ELEM:
        case NC_ERR_BAD_ELEM:
        case NC_ERR_UNKNOWN_ELEM:
            err = nc_err(ctx, tag, type, elem.c_str());
            break;
        case NC_ERR_UNKNOWN_NS:
            err = nc_err(ctx, tag, type, elem.c_str(), "");
            break;
        case NC_ERR_LOCK_DENIED:
            err = nc_err(ctx, tag, e.lock_owner);
            break;
        case NC_ERR_DATA_EXISTS:
        case NC_ERR_DATA_MISSING:
        case NC_ERR_MALFORMED_MSG:
            err = nc_err(ctx, tag);
            break;
        default:
            err = nc_err(ctx, tag, type);
            break;
    }
    if (!err) return nullptr;
    if (!e.message.empty()) nc_err_set_msg(err, e.message.c_str(), "en");
    if (!e.path.empty()) {
        // a libyang location ("Data location \"/m:a/b\", line number 1.") becomes the path alone
        std::string p = e.path.front() == '/' ? e.path : ly_error_path(e.path.c_str());
        nc_err_set_path(err, (p.empty() ? e.path : p).c_str());
    }
    if (!e.app_tag.empty()) nc_err_set_app_tag(err, e.app_tag.c_str());
    return err;
}

nc_server_reply* reply_error(const ly_ctx* ctx, const rpc_error& e) {
    lyd_node* err = make_error(ctx, e);
    if (!err) return nullptr;  // libnetconf2 sends operation-failed
    return nc_server_reply_err(err);
}

rpc_error rpc_err(std::string type, std::string tag, std::string message, std::string path = "") {
    rpc_error e;
    e.type = std::move(type);
    e.tag = std::move(tag);
    e.message = std::move(message);
    e.path = std::move(path);
    return e;
}

nc_server_reply* reply_status(const ly_ctx* ctx, const status& st) {
    if (st) return reply_error(ctx, *st);
    return nc_server_reply_ok();
}

// The last libyang error on this thread as an rpc-error (a <config> that did not parse).
rpc_error from_libyang(const ly_ctx* ctx, const char* what) {
    const ly_err_item* e = ly_err_last(ctx);
    rpc_error r = rpc_err("application", "invalid-value", std::string(what) + ": invalid data");
    if (!e) return r;
    std::string msg = e->msg ? e->msg : "invalid data";
    r.message = std::string(what) + ": " + msg;
    r.path = ly_error_path(e->path);
    if (e->apptag) r.app_tag = e->apptag;
    if (msg.find("not found as a child of") != std::string::npos || msg.find("not found in the") != std::string::npos) {
        r.tag = "unknown-element";
        // error-path: the unknown node is not in the schema, so point at it by name under the
        // parent libyang reports.
        size_t q1 = msg.find('"');
        size_t q2 = q1 == std::string::npos ? q1 : msg.find('"', q1 + 1);
        if (q2 != std::string::npos) r.path += "/" + msg.substr(q1 + 1, q2 - q1 - 1);
    } else if (msg.find("No module with namespace") != std::string::npos) {
        r.tag = "unknown-namespace";
    } else if (e->vecode == LYVE_SYNTAX_XML || e->vecode == LYVE_SYNTAX) {
        r.type = "rpc";
        r.tag = "malformed-message";
    }  // anything else (bad values, duplicates, state data): invalid-value
    return r;
}

// ---------------------------------------------------------------------------------------------
// RPC parameter helpers

const lyd_node* child(const lyd_node* parent, const char* name) {
    if (!parent) return nullptr;
    for (const lyd_node* c = lyd_child(parent); c; c = c->next) {
        if (c->schema && !std::strcmp(c->schema->name, name)) return c;
    }
    return nullptr;
}

std::string value_of(const lyd_node* n) {
    if (!n || !(n->schema && (n->schema->nodetype & LYD_NODE_TERM))) return {};
    const char* v = lyd_get_value(n);
    return v ? v : "";
}

// <target>/<source> choice: the name of the one child ("running", "candidate", "config", ...).
std::string datastore_choice(const lyd_node* container) {
    if (!container) return {};
    const lyd_node* c = lyd_child(container);
    return (c && c->schema) ? c->schema->name : "";
}

// An anyxml <config> (edit-config, copy-config, validate) as a data tree in ctx: printed back to
// XML and parsed strictly (unknown elements and state data are errors), not validated.
// ietf-netconf:operation attributes become metadata.
status parse_config(const ly_ctx* ctx, const lyd_node* any, lyd_node** out) {
    *out = nullptr;
    char* xml = nullptr;
    if (lyd_any_value_str(any, &xml) != LY_SUCCESS) {
        return rpc_err("rpc", "malformed-message", "the <config> content could not be read");
    }
    if (!xml) return std::nullopt;  // empty <config/>
    ly_err_clean(const_cast<ly_ctx*>(ctx), nullptr);
    lyd_node* tree = nullptr;
    LY_ERR r = lyd_parse_data_mem(ctx, xml, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, &tree);
    std::free(xml);
    if (r != LY_SUCCESS) {
        lyd_free_all(tree);
        return from_libyang(ctx, "config");
    }
    *out = tree;
    return std::nullopt;
}

struct tree_guard {
    lyd_node* t = nullptr;
    ~tree_guard() { lyd_free_all(t); }
};

// ---------------------------------------------------------------------------------------------
// Subtree filters (RFC 6241 section 6) -> XPath

std::string xpath_literal(const std::string& v) {
    if (v.find('\'') == std::string::npos) return "'" + v + "'";
    if (v.find('"') == std::string::npos) return "\"" + v + "\"";
    // both quote kinds: concat('a', "'", 'b')
    std::string out = "concat(";
    size_t start = 0;
    bool first = true;
    while (true) {
        size_t q = v.find('\'', start);
        std::string part = v.substr(start, q == std::string::npos ? std::string::npos : q - start);
        if (!part.empty()) {
            out += (first ? "" : ", ") + std::string("'") + part + "'";
            first = false;
        }
        if (q == std::string::npos) break;
        out += (first ? "" : ", ") + std::string("\"'\"");
        first = false;
        start = q + 1;
    }
    return out + ")";
}

std::string trim(const char* s) {
    if (!s) return {};
    std::string_view v = s;
    size_t b = v.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    size_t e = v.find_last_not_of(" \t\r\n");
    return std::string(v.substr(b, e - b + 1));
}

// A filter element. libyang parses anyxml content against the schema where it can (a known
// container, a list entry with its keys, a leaf with a valid value become data nodes) and keeps
// the rest opaque (a list without keys, an empty leaf, unknown elements), so both kinds occur.
struct filter_node {
    const lyd_node* node;
    const lysc_node* schema;  // resolved; never null
    std::string value;        // trimmed text of a leaf element, "" otherwise
    bool has_children;
};

// The schema node an opaque filter element names under `parent` (nullptr: top level), or nullptr.
const lysc_node* opaque_schema(const ly_ctx* ctx, const lysc_node* parent, const lyd_node_opaq* o) {
    const lys_module* mod = nullptr;
    if (o->format == LY_VALUE_XML && o->name.module_ns) {
        mod = ly_ctx_get_module_implemented_ns(ctx, o->name.module_ns);
    } else if (o->format == LY_VALUE_JSON && o->name.module_name) {
        mod = ly_ctx_get_module_implemented(ctx, o->name.module_name);
    } else if (parent) {
        mod = parent->module;
    }
    if (!mod) return nullptr;
    return lys_find_child(parent, mod, o->name.name, 0, 0, 0);
}

// nullopt: the element names nothing in the schema (it selects nothing).
std::optional<filter_node> resolve(const ly_ctx* ctx, const lysc_node* parent, const lyd_node* n) {
    filter_node f{n, nullptr, {}, lyd_child(n) != nullptr};
    if (n->schema) {
        f.schema = n->schema;
        if (n->schema->nodetype & LYD_NODE_TERM) f.value = trim(lyd_get_value(n));
    } else {
        const auto* o = reinterpret_cast<const lyd_node_opaq*>(n);
        f.schema = opaque_schema(ctx, parent, o);
        if (!f.schema) return std::nullopt;
        if (f.schema->nodetype & LYD_NODE_TERM) f.value = trim(o->value);
    }
    if (parent && f.schema->parent != parent) {
        // lys_find_child sees through choice/case; a data node's schema parent may be one
        const lysc_node* up = f.schema->parent;
        while (up && (up->nodetype & (LYS_CHOICE | LYS_CASE))) up = up->parent;
        if (up != parent) return std::nullopt;
    }
    return f;
}

std::string step(const lysc_node* parent, const lysc_node* n) {
    if (!parent || parent->module != n->module) return std::string("/") + n->module->name + ":" + n->name;
    return std::string("/") + n->name;
}

bool is_content_match(const filter_node& f) {
    return (f.schema->nodetype & LYD_NODE_TERM) && !f.has_children && !f.value.empty();
}

// One filter element under the instance `base` of `parent`; appends the XPaths it selects.
void subtree_element(const ly_ctx* ctx, const filter_node& f, const lysc_node* parent, const std::string& base,
                     std::vector<std::string>& out) {
    const std::string here = base + step(parent, f.schema);
    if (!f.has_children) {
        out.push_back(here);  // selection node (content-match nodes are handled by the parent)
        return;
    }
    // containment node: split the children into content-match nodes and the rest
    std::vector<filter_node> matches, others;
    bool unknown_child = false;
    for (const lyd_node* c = lyd_child(f.node); c; c = c->next) {
        auto cf = resolve(ctx, f.schema, c);
        if (!cf) {
            unknown_child = true;
            continue;
        }
        (is_content_match(*cf) ? matches : others).push_back(*cf);
    }
    std::string pred;
    for (const auto& m : matches) {
        std::string name = (m.schema->module == f.schema->module)
                               ? std::string(m.schema->name)
                               : std::string(m.schema->module->name) + ":" + m.schema->name;
        pred += "[" + name + "=" + xpath_literal(m.value) + "]";
    }
    if (others.empty()) {
        // only content-match nodes: the whole subtree of the matching instances; only unknown
        // elements: nothing
        if (unknown_child && matches.empty()) return;
        out.push_back(here + pred);
        return;
    }
    const std::string inst = here + pred;
    for (const auto& o : others) subtree_element(ctx, o, f.schema, inst, out);
    for (const auto& m : matches) out.push_back(inst + step(f.schema, m.schema));
}

}  // namespace

// Exposed for tests (declared in no header): the XPath a subtree filter selects, "" when it
// selects nothing. `filter` is the anyxml <filter> node.
std::string netconf_subtree_to_xpath(const ly_ctx* ctx, const lyd_node* filter);

std::string netconf_subtree_to_xpath(const ly_ctx* ctx, const lyd_node* filter) {
    const auto* any = reinterpret_cast<const lyd_node_any*>(filter);
    std::vector<std::string> paths;
    lyd_node* parsed = nullptr;
    const lyd_node* first = nullptr;
    if (any->value_type == LYD_ANYDATA_DATATREE) {
        first = any->value.tree;
    } else if ((any->value_type == LYD_ANYDATA_XML || any->value_type == LYD_ANYDATA_STRING) && any->value.str &&
               *any->value.str) {
        // an anyxml held as text (not how libyang parses a request, but handle it anyway)
        if (lyd_parse_data_mem(ctx, any->value.str, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_OPAQ, 0, &parsed) ==
            LY_SUCCESS) {
            first = parsed;
        }
    }
    for (const lyd_node* n = first; n; n = n->next) {
        auto f = resolve(ctx, nullptr, n);
        if (!f) continue;  // unknown: selects nothing
        if (is_content_match(*f)) {
            paths.push_back(step(nullptr, f->schema));  // a top-level leaf: as a selection node
            continue;
        }
        subtree_element(ctx, *f, nullptr, "", paths);
    }
    lyd_free_all(parsed);
    std::string x;
    for (const auto& p : paths) {
        if (!x.empty()) x += " | ";
        x += p;
    }
    return x;
}

namespace {

// The filter of a get/get-config as an XPath for the datastore: *all = true (no filter), or
// xpath (may be "" meaning "selects nothing").
status filter_xpath(const ly_ctx* ctx, const lyd_node* rpc, bool* all, std::string* xpath) {
    *all = true;
    xpath->clear();
    const lyd_node* f = child(rpc, "filter");
    if (!f) return std::nullopt;
    *all = false;
    const lys_module* nc = ly_ctx_get_module_implemented(ctx, "ietf-netconf");
    std::string type = "subtree";
    if (const lyd_meta* m = lyd_find_meta(f->meta, nc, "type")) type = lyd_get_meta_value(m);
    if (type == "xpath") {
        const lyd_meta* sel = lyd_find_meta(f->meta, nc, "select");
        if (!sel) {
            rpc_error e = rpc_err("protocol", "missing-attribute", "an xpath filter needs the select attribute");
            e.path = "/ietf-netconf:filter";
            return e;
        }
        *xpath = lyd_get_meta_value(sel);
        if (xpath->empty()) return rpc_err("protocol", "bad-attribute", "the select attribute is empty");
        return std::nullopt;
    }
    if (type != "subtree") {
        return rpc_err("protocol", "bad-attribute", "filter type '" + type + "' (supported: subtree, xpath)");
    }
    *xpath = netconf_subtree_to_xpath(ctx, f);
    return std::nullopt;
}

NC_WD_MODE with_defaults(const lyd_node* rpc) {
    for (const lyd_node* c = lyd_child(rpc); c; c = c->next) {
        if (!c->schema || std::strcmp(c->schema->name, "with-defaults") ||
            std::strcmp(c->schema->module->name, "ietf-netconf-with-defaults")) {
            continue;
        }
        std::string v = value_of(c);
        if (v == "report-all") return NC_WD_ALL;
        if (v == "report-all-tagged") return NC_WD_ALL_TAG;
        if (v == "trim") return NC_WD_TRIM;
        return NC_WD_EXPLICIT;
    }
    return NC_WD_EXPLICIT;
}

// ietf-yang-library state (RFC 8525; also the deprecated modules-state) for <get>: YANG 1.1
// modules such as meshgate-config are announced only there, not in the <hello>. `xpath` "" is
// everything; the selected nodes are merged into *tree with their ancestors.
void add_yang_library(const ly_ctx* ctx, const std::string& xpath, lyd_node** tree) {
    lyd_node* yl = nullptr;
    if (ly_ctx_get_yanglib_data(ctx, &yl, "%u", ly_ctx_get_change_count(ctx)) != LY_SUCCESS) return;
    if (xpath.empty()) {
        lyd_merge_siblings(tree, yl, LYD_MERGE_DESTRUCT);
        return;
    }
    ly_set* set = nullptr;
    LY_ERR r = lyd_find_xpath(yl, xpath.c_str(), &set);
    if (r == LY_SUCCESS) {
        for (uint32_t i = 0; i < set->count; ++i) {
            lyd_node* dup = nullptr;
            if (lyd_dup_single(set->dnodes[i], nullptr, LYD_DUP_RECURSIVE | LYD_DUP_WITH_PARENTS, &dup) != LY_SUCCESS) {
                continue;
            }
            while (dup->parent) dup = reinterpret_cast<lyd_node*>(dup->parent);
            lyd_merge_siblings(tree, dup, LYD_MERGE_DESTRUCT);
        }
    }
    ly_set_free(set, nullptr);
    lyd_free_all(yl);
}

// An rpc-reply with <data>: `tree` (owned, may be null) under the output anyxml "data".
nc_server_reply* reply_data(const ly_ctx* ctx, const lyd_node* rpc, lyd_node* tree, NC_WD_MODE wd) {
    lyd_node* op = nullptr;
    if (lyd_dup_single(rpc, nullptr, 0, &op) != LY_SUCCESS) {
        lyd_free_all(tree);
        return reply_error(ctx, rpc_err("application", "operation-failed", "out of memory"));
    }
    if (lyd_new_any(op, nullptr, "data", tree, 1, LYD_ANYDATA_DATATREE, 1, nullptr) != LY_SUCCESS) {
        lyd_free_all(tree);
        lyd_free_all(op);
        return reply_error(ctx, rpc_err("application", "operation-failed", "could not build the reply"));
    }
    return nc_server_reply_data(op, wd, NC_PARAMTYPE_FREE);
}

// ---------------------------------------------------------------------------------------------
// libnetconf2 callbacks

// Set when libnetconf2 reports broken chunked framing on this thread; see the guard at the end of
// this file.
thread_local bool t_bad_framing = false;

// libnetconf2's messages (errors only, at the default verbosity) into our log; it otherwise prints
// them to stderr.
void print_callback(const nc_session* s, NC_VERB_LEVEL level, const char* msg) {
    if (!msg) return;
    if (std::strstr(msg, "Invalid frame chunk")) {
        // "Invalid frame chunk delimiters." / "Invalid frame chunk size detected, fatal error.":
        // the stream is out of step, so the session ends (nc_ps_poll reports it terminated).
        t_bad_framing = true;
        if (s) {
            auto* ms = const_cast<nc_session*>(s);
            nc_session_set_term_reason(ms, NC_SESSION_TERM_OTHER);
            nc_session_set_status(ms, NC_STATUS_INVALID);
        }
    }
    const uint32_t id = s ? nc_session_get_id(s) : 0;
    tl::log(level == NC_VERB_ERROR ? tl::level::warning : tl::level::debug, "netconf.libnetconf2", msg,
            {{"session", id}});
}

nc_server_reply* rpc_callback(lyd_node* rpc, nc_session* s) {
    netconf_server::impl* srv = g_server;
    if (!srv) return nullptr;
    return srv->handle(rpc, s);
}

int passwd_callback(const nc_session* s, const char* password, void*) {
    netconf_server::impl* srv = g_server;
    const char* name = nc_session_get_username(s);
    if (!srv || !name || !password) return 1;
    return check_password(srv->cfg, name, password) ? 0 : 1;
}

int pubkey_callback(const nc_session* s, ssh_key key, void*) {
    netconf_server::impl* srv = g_server;
    const char* name = nc_session_get_username(s);
    if (!srv || !name || !key) return 1;
    for (const auto& [user, k] : srv->authorized) {
        if (user == name && ssh_key_cmp(k, key, SSH_KEY_CMP_PUBLIC) == 0) return 0;
    }
    return 1;
}

int hostkey_callback(const char* name, void*, char** privkey_path, char** privkey_data, NC_SSH_KEY_TYPE* type) {
    netconf_server::impl* srv = g_server;
    if (!srv || std::strcmp(name, kHostKeyName) != 0) return 1;
    *privkey_path = strdup(srv->hostkey_path.c_str());
    *privkey_data = nullptr;
    *type = NC_SSH_KEY_UNKNOWN;
    return *privkey_path ? 0 : 1;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RPC dispatch

nc_server_reply* netconf_server::impl::handle(lyd_node* rpc, nc_session* s) {
    session_data* sd = data_of(s);
    if (!sd) return reply_error(ctx, rpc_err("application", "operation-failed", "session without state"));
    const session_info& who = sd->info;
    if (!rpc->schema) return nullptr;
    const std::string module = rpc->schema->module->name;
    const std::string op = rpc->schema->name;
    if (module == "ietf-netconf-monitoring" && op == "get-schema") return get_schema(rpc);
    if (module != "ietf-netconf") {
        return reply_error(
            ctx, rpc_err("protocol", "operation-not-supported", "the RPC " + module + ":" + op + " is not supported"));
    }

    static const char* const writes[] = {"edit-config", "copy-config",   "delete-config",   "lock",        "unlock",
                                         "commit",      "cancel-commit", "discard-changes", "kill-session"};
    if (who.read_only && std::find_if(std::begin(writes), std::end(writes), [&](const char* w) { return op == w; }) !=
                             std::end(writes)) {
        return reply_error(ctx, rpc_err("protocol", "access-denied",
                                        "user '" + who.user + "' is read-only: " + op + " is not allowed"));
    }

    auto which_ds = [](const std::string& name, ds* out) {
        if (name == "running") {
            *out = ds::running;
            return true;
        }
        if (name == "candidate") {
            *out = ds::candidate;
            return true;
        }
        return false;
    };
    auto bad_ds = [&](const std::string& name, const char* role) {
        return reply_error(
            ctx, rpc_err("protocol", "invalid-value", std::string(role) + " '" + name + "' is not supported by " + op,
                         "/ietf-netconf:" + op + "/" + role));
    };

    if (op == "get" || op == "get-config") {
        bool all = true;
        std::string xpath;
        if (status st = filter_xpath(ctx, rpc, &all, &xpath)) return reply_error(ctx, *st);
        NC_WD_MODE wd = with_defaults(rpc);
        lyd_node* tree = nullptr;
        if (!all && xpath.empty()) return reply_data(ctx, rpc, nullptr, wd);  // filter selects nothing
        status st;
        if (op == "get") {
            st = store.get_all(all ? "" : xpath, &tree);
            if (!st) add_yang_library(ctx, all ? "" : xpath, &tree);
        } else {
            ds which;
            std::string src = datastore_choice(child(rpc, "source"));
            if (!which_ds(src, &which)) return bad_ds(src, "source");
            st = store.get_config(which, all ? "" : xpath, &tree);
        }
        if (st) {
            lyd_free_all(tree);
            return reply_error(ctx, *st);
        }
        return reply_data(ctx, rpc, tree, wd);
    }

    if (op == "edit-config") {
        std::string tgt = datastore_choice(child(rpc, "target"));
        ds target;
        if (!which_ds(tgt, &target)) return bad_ds(tgt, "target");
        edit_op dop = edit_op::merge;
        if (const lyd_node* d = child(rpc, "default-operation")) {
            std::string v = value_of(d);
            dop = v == "replace" ? edit_op::replace : v == "none" ? edit_op::none : edit_op::merge;
        }
        if (value_of(child(rpc, "error-option")) == "continue-on-error") {
            return reply_error(ctx, rpc_err("protocol", "operation-not-supported",
                                            "error-option continue-on-error is not supported (edits are atomic: "
                                            "use stop-on-error or rollback-on-error)",
                                            "/ietf-netconf:edit-config/error-option"));
        }
        bool test_only = value_of(child(rpc, "test-option")) == "test-only";
        const lyd_node* cfg_node = child(rpc, "config");
        if (!cfg_node) {
            return reply_error(ctx, rpc_err("protocol", "operation-not-supported",
                                            "only an inline <config> is supported", "/ietf-netconf:edit-config"));
        }
        tree_guard edit;
        if (status st = parse_config(ctx, cfg_node, &edit.t)) return reply_error(ctx, *st);
        return reply_status(ctx, store.edit(target, who, edit.t, dop, test_only));
    }

    if (op == "copy-config") {
        std::string tgt = datastore_choice(child(rpc, "target"));
        std::string src = datastore_choice(child(rpc, "source"));
        ds target;
        if (!which_ds(tgt, &target)) return bad_ds(tgt, "target");
        if (src == tgt) {
            return reply_error(ctx, rpc_err("protocol", "invalid-value", "source and target are the same datastore",
                                            "/ietf-netconf:copy-config/source"));
        }
        if (src == "running") {
            if (target == ds::candidate) return reply_status(ctx, store.copy_running_to_candidate(who));
        }
        tree_guard config;
        if (src == "candidate") {
            if (status st = store.get_config(ds::candidate, "", &config.t)) return reply_error(ctx, *st);
        } else if (src == "config") {
            if (status st = parse_config(ctx, child(child(rpc, "source"), "config"), &config.t))
                return reply_error(ctx, *st);
        } else {
            return bad_ds(src, "source");
        }
        return reply_status(ctx, store.replace_all(target, who, config.t));
    }

    if (op == "delete-config") {
        // Only <startup> and <url> are deletable (RFC 6241 7.4); mgmtd has neither.
        return reply_error(ctx, rpc_err("protocol", "operation-not-supported",
                                        "delete-config: neither :startup nor :url is supported (running cannot be "
                                        "deleted)"));
    }

    if (op == "lock" || op == "unlock") {
        std::string tgt = datastore_choice(child(rpc, "target"));
        ds target;
        if (!which_ds(tgt, &target)) return bad_ds(tgt, "target");
        return reply_status(ctx, op == "lock" ? store.lock(target, who) : store.unlock(target, who));
    }

    if (op == "validate") {
        std::string src = datastore_choice(child(rpc, "source"));
        ds which;
        if (which_ds(src, &which)) return reply_status(ctx, store.validate(which));
        if (src == "config") {
            tree_guard config;
            if (status st = parse_config(ctx, child(child(rpc, "source"), "config"), &config.t))
                return reply_error(ctx, *st);
            return reply_status(ctx, store.validate_tree(config.t));
        }
        return bad_ds(src, "source");
    }

    if (op == "commit") {
        commit_options o;
        o.confirmed = child(rpc, "confirmed") != nullptr;
        if (const lyd_node* t = child(rpc, "confirm-timeout")) {
            o.confirm_timeout_s = static_cast<uint32_t>(std::strtoul(value_of(t).c_str(), nullptr, 10));
        }
        o.persist = value_of(child(rpc, "persist"));
        o.persist_id = value_of(child(rpc, "persist-id"));
        return reply_status(ctx, store.commit(who, o));
    }

    if (op == "cancel-commit") return reply_status(ctx, store.cancel_commit(who, value_of(child(rpc, "persist-id"))));

    if (op == "discard-changes") return reply_status(ctx, store.discard_changes(who));

    if (op == "kill-session") {
        const uint32_t victim =
            static_cast<uint32_t>(std::strtoul(value_of(child(rpc, "session-id")).c_str(), nullptr, 10));
        if (victim == who.id) {
            return reply_error(ctx,
                               rpc_err("protocol", "invalid-value", "a session cannot kill itself (use close-session)",
                                       "/ietf-netconf:kill-session/session-id"));
        }
        std::lock_guard<std::mutex> lk(mu);
        auto it = sessions.find(victim);
        if (it == sessions.end()) {
            return reply_error(ctx, rpc_err("protocol", "invalid-value", "no NETCONF session " + std::to_string(victim),
                                            "/ietf-netconf:kill-session/session-id"));
        }
        nc_session* v = it->second;
        session_data* vd = data_of(v);
        // Its locks go (and its pending confirmed commit rolls back) before the reply.
        if (vd && !vd->ended) {
            vd->ended = true;
            store.session_ended(victim);
        }
        nc_session_set_term_reason(v, NC_SESSION_TERM_KILLED);
        nc_session_set_killed_by(v, who.id);
        nc_session_set_status(v, NC_STATUS_INVALID);
        return nc_server_reply_ok();
    }

    return reply_error(ctx,
                       rpc_err("protocol", "operation-not-supported", "the operation " + op + " is not supported"));
}

// <get-schema> (RFC 6022), in place of libnetconf2 2.0's own, which reads freed memory when it
// prints the reply with libyang 2.1.
nc_server_reply* netconf_server::impl::get_schema(const lyd_node* rpc) {
    const std::string id = value_of(child(rpc, "identifier"));
    const std::string version = value_of(child(rpc, "version"));
    const std::string format = value_of(child(rpc, "format"));
    const lys_module* mod = version.empty() ? ly_ctx_get_module_latest(ctx, id.c_str())
                                            : ly_ctx_get_module(ctx, id.c_str(), version.c_str());
    if (!mod) {
        return reply_error(
            ctx, rpc_err("application", "invalid-value", "no schema " + id + (version.empty() ? "" : "@" + version),
                         "/ietf-netconf-monitoring:get-schema/identifier"));
    }
    LYS_OUTFORMAT out = LYS_OUT_YANG;
    if (!format.empty()) {
        std::string f = format.substr(format.find(':') == std::string::npos ? 0 : format.find(':') + 1);
        if (f == "yin") {
            out = LYS_OUT_YIN;
        } else if (f != "yang") {
            return reply_error(
                ctx, rpc_err("application", "invalid-value", "schema format " + format + " (supported: yang, yin)",
                             "/ietf-netconf-monitoring:get-schema/format"));
        }
    }
    char* text = nullptr;
    if (lys_print_mem(&text, mod, out, 0) != LY_SUCCESS || !text) {
        std::free(text);
        return reply_error(ctx, rpc_err("application", "operation-failed", "cannot print the schema " + id));
    }
    lyd_node* reply = nullptr;
    if (lyd_dup_single(rpc, nullptr, 0, &reply) != LY_SUCCESS) {
        std::free(text);
        return nullptr;
    }
    if (lyd_new_any(reply, nullptr, "data", text, 1, LYD_ANYDATA_STRING, 1, nullptr) != LY_SUCCESS) {
        std::free(text);
        lyd_free_all(reply);
        return nullptr;
    }
    return nc_server_reply_data(reply, NC_WD_EXPLICIT, NC_PARAMTYPE_FREE);
}

// ---------------------------------------------------------------------------------------------
// Sessions and threads

void netconf_server::impl::register_session(nc_session* s, const std::string* username) {
    auto* sd = new session_data;
    sd->info.id = nc_session_get_id(s);
    const char* name = nc_session_get_username(s);
    sd->info.user = username ? *username : name ? name : "";
    sd->info.transport = "netconf";
    const user* u = find_user(cfg, sd->info.user);
    sd->info.read_only = !u || u->read_only;
    nc_session_set_data(s, sd);
    std::lock_guard<std::mutex> lk(mu);
    sessions[sd->info.id] = s;
}

bool netconf_server::impl::unregister_session(nc_session* s) {
    const uint32_t id = nc_session_get_id(s);
    std::lock_guard<std::mutex> lk(mu);
    auto it = sessions.find(id);
    if (it == sessions.end() || it->second != s) return false;
    sessions.erase(it);
    session_data* sd = data_of(s);
    if (sd && !sd->ended) {
        sd->ended = true;
        store.session_ended(id);
    }
    return true;
}

void netconf_server::impl::add_session(nc_session* s) {
    register_session(s);
    const session_data* sd = data_of(s);
    if (nc_ps_add_session(ps, s) != 0) {
        end_session(s);
        return;
    }
    const char* host = nc_session_get_host(s);
    tl::log(tl::level::info, "netconf.session_open",
            "NETCONF session " + std::to_string(sd->info.id) + " opened by " + sd->info.user,
            {{"session", sd->info.id},
             {"user", sd->info.user},
             {"host", host ? host : ""},
             {"read_only", sd->info.read_only}});
}

void netconf_server::impl::end_session(nc_session* s) {
    const uint32_t id = nc_session_get_id(s);
    if (!unregister_session(s)) return;  // another thread has it
    nc_ps_del_session(ps, s);
    static const char* const reasons[] = {"none", "closed", "killed", "dropped", "timeout", "bad-hello", "other"};
    const int r = static_cast<int>(nc_session_get_term_reason(s));
    tl::log(tl::level::info, "netconf.session_end", "NETCONF session " + std::to_string(id) + " ended",
            {{"session", id}, {"reason", r >= 0 && r <= 6 ? reasons[r] : "error"}});
    nc_session_free(s, free_session_data);
}

void netconf_server::impl::accept_loop() {
    while (!stop.load()) {
        nc_session* s = nullptr;
        NC_MSG_TYPE r = nc_accept(200, &s);
        if (r == NC_MSG_HELLO && s) {
            add_session(s);
        } else if (r == NC_MSG_ERROR || r == NC_MSG_BAD_HELLO) {
            // a client failed to authenticate or sent a bad <hello>; libnetconf2 logged it
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    nc_thread_destroy();
}

void netconf_server::impl::poll_loop() {
    while (!stop.load()) {
        nc_session* s = nullptr;
        int r = nc_ps_poll(ps, 200, &s);
        if (r & NC_PSPOLL_NOSESSIONS) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        if ((r & NC_PSPOLL_SESSION_TERM) && s) {
            end_session(s);
        } else if ((r & NC_PSPOLL_SSH_CHANNEL) && s) {
            nc_session* ns = nullptr;
            if (nc_session_accept_ssh_channel(s, &ns) == NC_MSG_HELLO && ns) add_session(ns);
        }
    }
    nc_thread_destroy();
}

// ---------------------------------------------------------------------------------------------

namespace {

// A host key given inline (PEM/OpenSSH text) goes to a memfd that libssh reads by path.
result<std::pair<std::string, int>> host_key_path(const std::string& key) {
    if (key.empty()) return error{"netconf: settings have no SSH host key (netconf.host_key)"};
    if (key.find("-----BEGIN") == std::string::npos) {
        if (access(key.c_str(), R_OK) != 0) {
            return error{"netconf: SSH host key " + key + ": " + std::strerror(errno)};
        }
        return std::make_pair(key, -1);
    }
    int fd = memfd_create("meshgate-netconf-hostkey", MFD_CLOEXEC);
    if (fd < 0) return error{std::string("netconf: memfd_create: ") + std::strerror(errno)};
    size_t off = 0;
    while (off < key.size()) {
        ssize_t n = write(fd, key.data() + off, key.size() - off);
        if (n <= 0) {
            close(fd);
            return error{std::string("netconf: writing the host key: ") + std::strerror(errno)};
        }
        off += static_cast<size_t>(n);
    }
    return std::make_pair("/proc/self/fd/" + std::to_string(fd), fd);
}

// "ssh-ed25519 AAAA... comment" -> key (nullptr on error, with *why set).
ssh_key parse_authorized_key(const std::string& line, std::string* why) {
    std::istringstream in(line);
    std::string type, b64;
    in >> type >> b64;
    if (type.empty() || b64.empty()) {
        *why = "not 'type base64 [comment]'";
        return nullptr;
    }
    enum ssh_keytypes_e kt = ssh_key_type_from_name(type.c_str());
    if (kt == SSH_KEYTYPE_UNKNOWN) {
        *why = "unknown key type " + type;
        return nullptr;
    }
    ssh_key key = nullptr;
    if (ssh_pki_import_pubkey_base64(b64.c_str(), kt, &key) != SSH_OK) {
        *why = "the key does not decode";
        return nullptr;
    }
    return key;
}

}  // namespace

namespace {

// The capabilities this server implements come from ietf-netconf's features in the context.
std::optional<std::string> check_context(const ly_ctx* ctx) {
    const lys_module* nc = ly_ctx_get_module_implemented(ctx, "ietf-netconf");
    if (!nc) return "netconf: the YANG context has no implemented ietf-netconf";
    std::string missing;
    for (const char* f : {"candidate", "confirmed-commit", "rollback-on-error", "validate", "xpath"}) {
        if (lys_feature_value(nc, f) != LY_SUCCESS) missing += std::string(missing.empty() ? "" : ", ") + f;
    }
    if (!missing.empty()) {
        return "netconf: ietf-netconf in the YANG context lacks the features " + missing +
               " (load it with them enabled)";
    }
    return std::nullopt;
}

// libnetconf2's server side on p's context with our RPC callbacks, no endpoint yet (what
// netconf_server and netconf_rpc_host share). The caller holds g_server_mu; g_server is null.
std::optional<std::string> install_rpc(netconf_server::impl* p) {
    // <get-schema> goes to our callback (nc_server_init installs its own only where none is set).
    if (const lysc_node* gs = lys_find_path(p->ctx, nullptr, "/ietf-netconf-monitoring:get-schema", 0)) {
        const_cast<lysc_node*>(gs)->priv = reinterpret_cast<void*>(&rpc_callback);
    }
    if (nc_server_init(p->ctx) != 0) return "netconf: nc_server_init failed";
    g_server = p;
    nc_set_global_rpc_clb(rpc_callback);
    nc_server_set_capab_withdefaults(NC_WD_EXPLICIT, NC_WD_ALL | NC_WD_ALL_TAG | NC_WD_TRIM);
    nc_server_set_hello_timeout(30);
    nc_server_set_idle_timeout(0);
    nc_set_print_clb_session(print_callback);
    return std::nullopt;
}

void uninstall_rpc() {
    nc_set_global_rpc_clb(nullptr);
    nc_server_destroy();
    g_server = nullptr;
}

}  // namespace

result<std::unique_ptr<netconf_server>> netconf_server::start(datastore& d, const settings& s) {
    std::lock_guard<std::mutex> glk(g_server_mu);
    if (g_server) return error{"netconf: a server is already running in this process"};

    auto p = std::make_unique<impl>(d, s);
    p->ctx = d.context();
    if (auto why = check_context(p->ctx)) return error{*why};

    auto hk = host_key_path(s.ssh_host_key);
    if (!hk) return error{hk.error_message()};
    p->hostkey_path = hk.value().first;
    p->hostkey_fd = hk.value().second;

    if (auto why = install_rpc(p.get())) {
        if (p->hostkey_fd >= 0) close(p->hostkey_fd);
        return error{*why};
    }
    auto fail = [&](std::string why) -> result<std::unique_ptr<netconf_server>> {
        for (auto& [u, k] : p->authorized) ssh_key_free(k);
        p->authorized.clear();
        uninstall_rpc();
        if (p->hostkey_fd >= 0) close(p->hostkey_fd);
        return error{std::move(why)};
    };

    for (const user& u : s.users) {
        for (size_t i = 0; i < u.ssh_authorized_keys.size(); ++i) {
            std::string why;
            ssh_key k = parse_authorized_key(u.ssh_authorized_keys[i], &why);
            if (!k) {
                return fail("netconf: users[" + u.name + "].ssh_authorized_keys[" + std::to_string(i) + "]: " + why);
            }
            p->authorized.emplace_back(u.name, k);
        }
    }

    nc_server_ssh_set_hostkey_clb(hostkey_callback, nullptr, nullptr);
    nc_server_ssh_set_passwd_auth_clb(passwd_callback, nullptr, nullptr);
    nc_server_ssh_set_pubkey_auth_clb(pubkey_callback, nullptr, nullptr);

    if (nc_server_add_endpt(kEndpoint, NC_TI_LIBSSH) != 0) return fail("netconf: cannot add the SSH endpoint");
    if (nc_server_ssh_endpt_add_hostkey(kEndpoint, kHostKeyName, -1) != 0) {
        return fail("netconf: cannot set the SSH host key");
    }
    nc_server_ssh_endpt_set_auth_methods(kEndpoint, NC_SSH_AUTH_PUBLICKEY | NC_SSH_AUTH_PASSWORD);
    nc_server_ssh_endpt_set_auth_attempts(kEndpoint, 3);
    nc_server_ssh_endpt_set_auth_timeout(kEndpoint, 20);
    if (nc_server_endpt_set_port(kEndpoint, s.netconf_port) != 0 ||
        nc_server_endpt_set_address(kEndpoint, s.netconf_address.c_str()) != 0) {
        return fail("netconf: cannot listen on " + s.netconf_address + " port " + std::to_string(s.netconf_port));
    }

    p->ps = nc_ps_new();
    if (!p->ps) return fail("netconf: nc_ps_new failed");

    impl* raw = p.get();
    p->acceptor = std::thread([raw] { raw->accept_loop(); });
    for (int i = 0; i < kWorkers; ++i) p->workers.emplace_back([raw] { raw->poll_loop(); });
    tl::log(tl::level::info, "netconf.listening",
            "NETCONF over SSH on " + s.netconf_address + " port " + std::to_string(s.netconf_port),
            {{"address", s.netconf_address}, {"port", s.netconf_port}});
    return std::unique_ptr<netconf_server>(new netconf_server(std::move(p)));
}

netconf_server::netconf_server(std::unique_ptr<impl> p) : p_(std::move(p)) {}

netconf_server::~netconf_server() {
    if (!p_) return;
    p_->stop.store(true);
    if (p_->acceptor.joinable()) p_->acceptor.join();
    for (auto& t : p_->workers) {
        if (t.joinable()) t.join();
    }
    {
        std::lock_guard<std::mutex> lk(p_->mu);
        for (auto& [id, s] : p_->sessions) {
            session_data* sd = data_of(s);
            if (sd && !sd->ended) {
                sd->ended = true;
                p_->store.session_ended(id);
            }
        }
        p_->sessions.clear();
    }
    nc_ps_clear(p_->ps, 1, free_session_data);
    nc_ps_free(p_->ps);
    std::lock_guard<std::mutex> glk(g_server_mu);
    uninstall_rpc();
    for (auto& [u, k] : p_->authorized) ssh_key_free(k);
    if (p_->hostkey_fd >= 0) close(p_->hostkey_fd);
}

// ---------------------------------------------------------------------------------------------
// netconf_rpc_host (netconf_rpc.hpp): the same RPC handling for sessions the caller accepts

result<std::unique_ptr<netconf_rpc_host>> netconf_rpc_host::start(datastore& d, const settings& s) {
    std::lock_guard<std::mutex> glk(g_server_mu);
    if (g_server) return error{"netconf: a server is already running in this process"};
    auto p = std::make_unique<netconf_server::impl>(d, s);
    p->ctx = d.context();
    if (auto why = check_context(p->ctx)) return error{*why};
    if (auto why = install_rpc(p.get())) return error{*why};
    return std::unique_ptr<netconf_rpc_host>(new netconf_rpc_host(std::move(p)));
}

netconf_rpc_host::netconf_rpc_host(std::unique_ptr<netconf_server::impl> p) : p_(std::move(p)) {}

netconf_rpc_host::~netconf_rpc_host() {
    if (!p_) return;
    std::vector<nc_session*> left;
    {
        std::lock_guard<std::mutex> lk(p_->mu);
        for (auto& [id, s] : p_->sessions) left.push_back(s);
    }
    for (nc_session* s : left) end_session(s);
    std::lock_guard<std::mutex> glk(g_server_mu);
    uninstall_rpc();
}

void netconf_rpc_host::add_session(nc_session* s, const std::string& username) {
    p_->register_session(s, &username);
}

void netconf_rpc_host::end_session(nc_session* s) {
    p_->unregister_session(s);
    nc_session_free(s, free_session_data);
}

}  // namespace meshgate::mgmt

// ---------------------------------------------------------------------------------------------
// Guard for a libnetconf2 2.0 crash on broken chunked framing
//
// On a base:1.1 session, a message whose chunk framing is broken (a header that is not
// "\n#<size>\n", a size of 0, data where "\n#" belongs) makes libnetconf2 2.0.24's
// nc_server_recv_rpc_io build a malformed-message <rpc-error> and then, to send it, read the
// envelope of the RPC it never parsed: a NULL dereference (compiled to a trap) in nc_ps_poll. Any
// logged-in user, read-only ones too, could stop mgmtd with the 4 bytes "\n#0\n" (found by
// tests/fuzz/netconf_fuzz.cpp; later libnetconf2 releases send the reply without an envelope).
//
// The guard: libnetconf2 reports the framing error (print_callback above, same thread) just
// before it builds that reply, and it calls nc_server_reply_err through its PLT, so this
// definition in the executable takes the call. For that one malformed-message reply it returns
// NULL, which libnetconf2 2.0 handles: no reply, NC_PSPOLL_ERROR, and the session, which
// print_callback marked invalid, ends. Every other call goes to libnetconf2's own function.
extern "C" nc_server_reply* nc_server_reply_err(lyd_node* err) {
    using reply_err_fn = nc_server_reply* (*)(lyd_node*);
    static const auto real = reinterpret_cast<reply_err_fn>(dlsym(RTLD_NEXT, "nc_server_reply_err"));
    if (meshgate::mgmt::t_bad_framing) {
        meshgate::mgmt::t_bad_framing = false;
        bool malformed = false;
        for (const lyd_node* c = err ? lyd_child(err) : nullptr; c; c = c->next) {
            const char* v = lyd_get_value(c);
            if (!std::strcmp(LYD_NAME(c), "error-tag") && v && !std::strcmp(v, "malformed-message")) malformed = true;
        }
        if (malformed) {
            lyd_free_all(err);
            return nullptr;
        }
    }
    if (!real) {
        lyd_free_all(err);
        return nullptr;
    }
    return real(err);
}

// ---------------------------------------------------------------------------------------------
// Guard for a libnetconf2 2.0 crash on a message without any element
//
// A message that holds no element at all (empty, whitespace, only an XML declaration, a comment
// or a processing instruction) parses "successfully" with libyang 2.1.30 as an RPC without
// envelope or operation; libnetconf2 2.0.24 takes it for a valid RPC and dereferences its NULL
// operation in nc_ps_poll (nc_server_send_reply_io). Any logged-in user could stop mgmtd with the
// message " ]]>]]>" (found by tests/fuzz/netconf_fuzz.cpp). libnetconf2 calls lyd_parse_op through
// its PLT, so this definition takes the call and reports such a parse as failed with nothing
// parsed: libnetconf2 then treats the message like any unparsable one (base:1.1: a
// malformed-message <rpc-error>; base:1.0: dropped without a reply). Nothing else changes.
extern "C" LY_ERR lyd_parse_op(const ly_ctx* ctx, lyd_node* parent, ly_in* in, LYD_FORMAT format,
                               enum lyd_type data_type, lyd_node** tree, lyd_node** op) {
    using parse_op_fn = LY_ERR (*)(const ly_ctx*, lyd_node*, ly_in*, LYD_FORMAT, enum lyd_type, lyd_node**, lyd_node**);
    static const auto real = reinterpret_cast<parse_op_fn>(dlsym(RTLD_NEXT, "lyd_parse_op"));
    if (!real) return LY_EINT;
    const LY_ERR r = real(ctx, parent, in, format, data_type, tree, op);
    if (r == LY_SUCCESS && data_type == LYD_TYPE_RPC_NETCONF && !parent && tree && !*tree && op && !*op) {
        return LY_EVALID;
    }
    return r;
}
