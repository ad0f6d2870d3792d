// RESTCONF (RFC 8040) over HTTPS for meshgate-mgmtd, JSON only (RFC 7951).
//
// Resources:
//   GET  /.well-known/host-meta                       XRD naming /restconf (no authentication)
//   GET  /restconf, /restconf/yang-library-version
//   *    /restconf/data[/api-path]                     running + state; writes commit at once (RFC 8040 1.4)
//   *    /restconf/ds/ietf-datastores:running[/...]    running (config only), same writes
//   *    /restconf/ds/ietf-datastores:candidate[/...]  the candidate (RFC 8527 style); writes do not commit
//   GET  /restconf/ds/ietf-datastores:operational[/...]
//   GET  /restconf/operations; POST /restconf/operations/meshgate-config:<op>
//        commit, validate, discard-changes, cancel-commit, rollback, history, diff
//
// Every request is its own datastore session (a fresh id, the authenticated user, transport
// "restconf"), ended when the request is answered. A confirmed commit over RESTCONF therefore
// always carries a persist id, or it would roll back as soon as its request ends: when the client
// gives none, one is generated and returned as output "persist-id"; the commit is then confirmed
// with commit {"persist-id": ...} or cancelled with cancel-commit {"persist-id": ...}, from any
// later request, before confirm-timeout.
#include "mgmt/restconf/restconf_server.hpp"

#include <libyang/libyang.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <string_view>

#include "mgmt/restconf/json.hpp"
#include "mgmt/restconf/restconf_map.hpp"
#include "mgmt/restconf/tls_server.hpp"

namespace meshgate::mgmt {

namespace tl = meshgate::telemetry;
using namespace meshgate::mgmt::restconf;

namespace {

constexpr const char* yang_json = "application/yang-data+json";
constexpr const char* module_name = "meshgate-config";
constexpr const char* yang_library_version = "2019-01-04";

tl::http_response json_response(int status, std::string body) {
    tl::http_response r;
    r.status = status;
    r.content_type = yang_json;
    r.body = std::move(body);
    return r;
}

tl::http_response error_response(const http_error& e) {
    return json_response(e.status, errors_json(e.err));
}

tl::http_response status_response(rpc_error e) {
    int st = http_status_of(e);
    e.path = clean_error_path(e.path);
    return json_response(st, errors_json(e));
}

tl::http_response no_content() {
    tl::http_response r;
    r.status = 204;
    r.content_type.clear();
    return r;
}

tl::http_response method_not_allowed(const char* allow) {
    auto r = error_response(make_error(405, "operation-not-supported", "method not allowed here"));
    r.headers.emplace_back("Allow", allow);
    return r;
}

bool base64_decode(std::string_view in, std::string& out) {
    if (in.empty() || in.size() % 4 != 0 || in.size() > 4096) return false;
    std::string buf(in.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                            reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    if (n < 0) return false;
    size_t pad = 0;
    if (in.back() == '=') ++pad;
    if (in.size() >= 2 && in[in.size() - 2] == '=') ++pad;
    buf.resize(static_cast<size_t>(n) - pad);
    out = std::move(buf);
    return true;
}

std::string random_id() {
    unsigned char b[12];
    if (RAND_bytes(b, sizeof b) != 1) return "restconf-" + std::to_string(std::rand());
    static constexpr char hex[] = "0123456789abcdef";
    std::string s = "restconf-";
    for (unsigned char c : b) {
        s += hex[c >> 4];
        s += hex[c & 15];
    }
    return s;
}

// Splits the raw request-target into path and query (absolute-form allowed).
void split_target(const std::string& target, std::string& path, std::string& query) {
    std::string_view t = target;
    if (!t.starts_with("/")) {
        size_t scheme = t.find("://");
        if (scheme != std::string_view::npos) {
            t.remove_prefix(scheme + 3);
            size_t slash = t.find_first_of("/?");
            t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
        }
    }
    size_t q = t.find('?');
    path = std::string(t.substr(0, q));
    query = q == std::string_view::npos ? "" : std::string(t.substr(q + 1));
    if (path.empty()) path = "/";
}

// "name=value&..." -> pairs, values percent-decoded.
bool parse_query(const std::string& q, std::vector<std::pair<std::string, std::string>>& out) {
    size_t i = 0;
    while (i < q.size()) {
        size_t amp = q.find('&', i);
        std::string_view kv = std::string_view(q).substr(i, amp == std::string::npos ? std::string::npos : amp - i);
        i = amp == std::string::npos ? q.size() : amp + 1;
        if (kv.empty()) continue;
        size_t eq = kv.find('=');
        std::string k, v;
        if (!tl::percent_decode(kv.substr(0, eq), k, true)) return false;
        if (eq != std::string_view::npos && !tl::percent_decode(kv.substr(eq + 1), v, true)) return false;
        out.emplace_back(std::move(k), std::move(v));
    }
    return true;
}

struct tree_ptr {
    lyd_node* t = nullptr;
    ~tree_ptr() {
        if (t) lyd_free_all(t);
    }
};

enum class target_ds { data, running, candidate, operational };

}  // namespace

struct restconf_server::impl {
    datastore& store;
    settings cfg;
    tls_server server;

    impl(datastore& d, settings s) : store(d), cfg(std::move(s)) {}

    tl::http_response handle(const tl::http_request& req, const std::string& raw_target);
    tl::http_response data(const tl::http_request& req, target_ds which, const std::string& sub,
                           const std::string& query, const std::string& base_uri, const session_info& s);
    tl::http_response get(target_ds which, const api_path& p, const std::string& query);
    tl::http_response operation(const tl::http_request& req, const std::string& name, const session_info& s);
    // The node at p in the datastore (config) exists; *value: a leaf's value.
    bool exists(ds which, const api_path& p, std::string* value);
};

bool restconf_server::impl::exists(ds which, const api_path& p, std::string* value) {
    tree_ptr t;
    if (store.get_config(which, p.xpath, &t.t) || !t.t) return false;
    ly_set* set = nullptr;
    bool found = false;
    if (lyd_find_xpath(t.t, p.xpath.c_str(), &set) == LY_SUCCESS && set && set->count > 0) {
        found = true;
        if (value) *value = lyd_get_value(set->dnodes[0]) ? lyd_get_value(set->dnodes[0]) : "";
    }
    ly_set_free(set, nullptr);
    return found;
}

tl::http_response restconf_server::impl::handle(const tl::http_request& req, const std::string& raw_target) {
    std::string path, query;
    split_target(raw_target, path, query);

    if (path == "/.well-known/host-meta") {
        if (req.method != "GET") return method_not_allowed("GET, HEAD");
        tl::http_response r;
        r.content_type = "application/xrd+xml";
        r.body =
            "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n"
            "  <Link rel='restconf' href='/restconf'/>\n"
            "</XRD>\n";
        return r;
    }
    if (path != "/restconf" && !path.starts_with("/restconf/"))
        return error_response(make_error(404, "invalid-value", "no such resource"));

    // HTTP Basic authentication (RFC 7617) against the configured users.
    const user* u = nullptr;
    std::string auth = req.header("authorization");
    if (auth.size() > 6 && (auth.compare(0, 6, "Basic ") == 0 || auth.compare(0, 6, "basic ") == 0)) {
        std::string cred;
        std::string_view b64 = std::string_view(auth).substr(6);
        while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
        if (base64_decode(b64, cred)) {
            size_t colon = cred.find(':');
            if (colon != std::string::npos) u = check_password(cfg, cred.substr(0, colon), cred.substr(colon + 1));
        }
    }
    if (!u) {
        auto r = error_response(make_error(401, "access-denied", "authentication required", "", "protocol"));
        r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"meshgate-mgmtd\", charset=\"UTF-8\"");
        return r;
    }

    if (req.method == "OPTIONS") {
        tl::http_response r = no_content();
        r.status = 200;
        r.content_type = yang_json;
        r.headers.emplace_back("Allow", path.starts_with("/restconf/operations/")
                                            ? "OPTIONS, POST"
                                            : "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT");
        r.headers.emplace_back("Accept-Patch", "application/yang-data+json");
        return r;
    }
    std::string ct = req.header("content-type");
    if (!req.body.empty() && !ct.empty() && ct.find("json") == std::string::npos)
        return error_response(make_error(415, "invalid-value", "only application/yang-data+json bodies are supported"));

    if (path == "/restconf" || path == "/restconf/") {
        if (req.method != "GET") return method_not_allowed("GET, HEAD, OPTIONS");
        return json_response(200, std::string("{\"ietf-restconf:restconf\":{\"data\":{},\"operations\":{},"
                                              "\"yang-library-version\":\"") +
                                      yang_library_version + "\"}}");
    }
    if (path == "/restconf/yang-library-version") {
        if (req.method != "GET") return method_not_allowed("GET, HEAD, OPTIONS");
        return json_response(200,
                             std::string("{\"ietf-restconf:yang-library-version\":\"") + yang_library_version + "\"}");
    }

    session_info s;
    s.id = store.new_session_id();
    s.user = u->name;
    s.transport = "restconf";
    s.read_only = u->read_only;
    struct end_session {
        datastore& d;
        uint32_t id;
        ~end_session() { d.session_ended(id); }
    } ender{store, s.id};

    auto under = [&](std::string_view prefix, std::string& rest) {
        if (path == prefix) {
            rest.clear();
            return true;
        }
        if (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 && path[prefix.size()] == '/') {
            rest = path.substr(prefix.size());
            return true;
        }
        return false;
    };
    std::string rest;
    if (under("/restconf/data", rest)) return data(req, target_ds::data, rest, query, "/restconf/data", s);
    if (under("/restconf/ds/ietf-datastores:running", rest))
        return data(req, target_ds::running, rest, query, "/restconf/ds/ietf-datastores:running", s);
    if (under("/restconf/ds/ietf-datastores:candidate", rest))
        return data(req, target_ds::candidate, rest, query, "/restconf/ds/ietf-datastores:candidate", s);
    if (under("/restconf/ds/ietf-datastores:operational", rest))
        return data(req, target_ds::operational, rest, query, "/restconf/ds/ietf-datastores:operational", s);
    if (path == "/restconf/operations" || path == "/restconf/operations/") {
        if (req.method != "GET") return method_not_allowed("GET, HEAD, OPTIONS");
        std::string b = "{\"ietf-restconf:operations\":{";
        bool first = true;
        for (const char* op :
             {"commit", "validate", "discard-changes", "cancel-commit", "rollback", "history", "diff"}) {
            if (!first) b += ',';
            first = false;
            b += std::string("\"") + module_name + ":" + op + "\":[null]";
        }
        b += "}}";
        return json_response(200, b);
    }
    if (under("/restconf/operations", rest)) {
        if (!query.empty())
            return error_response(make_error(400, "invalid-value", "operations take no query parameters"));
        return operation(req, rest.substr(1), s);
    }
    return error_response(make_error(404, "invalid-value", "no such resource"));
}

tl::http_response restconf_server::impl::get(target_ds which, const api_path& p, const std::string& query) {
    std::vector<std::pair<std::string, std::string>> params;
    if (!parse_query(query, params)) return error_response(make_error(400, "invalid-value", "malformed query"));
    print_options o;
    o.content = which == target_ds::data          ? content_filter::all
                : which == target_ds::operational ? content_filter::all
                                                  : content_filter::config;
    for (const auto& [k, v] : params) {
        if (k == "content") {
            if (v == "config") {
                o.content = content_filter::config;
            } else if (v == "nonconfig") {
                o.content = content_filter::nonconfig;
            } else if (v == "all") {
                o.content = content_filter::all;
            } else {
                return error_response(make_error(400, "invalid-value", "content must be config, nonconfig or all"));
            }
            if (which == target_ds::running || which == target_ds::candidate)
                if (o.content != content_filter::config)
                    return error_response(make_error(400, "invalid-value", "this datastore holds configuration only"));
        } else if (k == "depth") {
            if (v == "unbounded") {
                o.depth = 0;
            } else {
                char* end = nullptr;
                unsigned long d = std::strtoul(v.c_str(), &end, 10);
                if (v.empty() || *end || d < 1 || d > 65535)
                    return error_response(make_error(400, "invalid-value", "depth must be 1..65535 or unbounded"));
                o.depth = static_cast<uint32_t>(d);
            }
        } else if (k == "with-defaults") {
            if (v == "report-all") {
                o.wd_flags = LYD_PRINT_WD_ALL;
            } else if (v == "trim") {
                o.wd_flags = LYD_PRINT_WD_TRIM;
            } else if (v == "explicit") {
                o.wd_flags = LYD_PRINT_WD_EXPLICIT;
            } else if (v == "report-all-tagged") {
                o.wd_flags = LYD_PRINT_WD_ALL_TAG;
            } else {
                return error_response(make_error(400, "invalid-value", "unknown with-defaults mode " + v));
            }
        } else {
            return error_response(make_error(400, "invalid-value", "unsupported query parameter " + k));
        }
    }
    tree_ptr t;
    status st;
    if (which == target_ds::candidate) {
        st = store.get_config(ds::candidate, p.xpath, &t.t);
    } else if (o.content == content_filter::config) {
        st = store.get_config(ds::running, p.xpath, &t.t);
    } else {
        st = store.get_all(p.xpath, &t.t);
    }
    if (st) return status_response(*st);
    std::string body;
    if (auto e = render_get(store.context(), p, t.t, o, body)) return error_response(*e);
    return json_response(200, std::move(body));
}

tl::http_response restconf_server::impl::data(const tl::http_request& req, target_ds which, const std::string& sub,
                                              const std::string& query, const std::string& base_uri,
                                              const session_info& s) {
    api_path p;
    if (auto e = parse_api_path(store.context(), sub, p)) return error_response(*e);
    if (req.method == "GET") return get(which, p, query);

    write_method m;
    if (req.method == "PUT") {
        m = write_method::put;
    } else if (req.method == "POST") {
        m = write_method::post;
    } else if (req.method == "PATCH") {
        m = write_method::patch;
    } else if (req.method == "DELETE") {
        m = write_method::del;
    } else {
        return method_not_allowed("DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT");
    }
    if (which == target_ds::operational) return method_not_allowed("GET, HEAD, OPTIONS");
    if (!query.empty())
        return error_response(make_error(400, "invalid-value", "query parameters are not supported on writes"));
    if (s.read_only)
        return error_response(
            make_error(403, "access-denied", "user " + s.user + " has the read-only role", p.xpath, "application"));
    const ds target = which == target_ds::candidate ? ds::candidate : ds::running;

    std::string current;
    bool existed = !p.schema || (!p.keyless_list && exists(target, p, &current));
    if ((m == write_method::del || m == write_method::patch) && p.schema && !existed)
        return error_response(make_error(404, "data-missing", "no data at " + p.xpath, p.xpath, "application"));
    if (m != write_method::del && req.body.empty())
        return error_response(make_error(400, "malformed-message", "the request needs a JSON body"));

    edit_result er;
    if (auto e = build_edit(store.context(), p, m, req.body, current, er)) return error_response(*e);
    tree_ptr edit{er.tree};
    status st =
        er.whole_datastore ? store.replace_all(target, s, er.tree) : store.edit(target, s, er.tree, edit_op::none);
    if (st) return status_response(*st);
    if (m == write_method::post) {
        tl::http_response r = no_content();
        r.status = 201;
        r.headers.emplace_back("Location", base_uri + er.location);
        return r;
    }
    if (m == write_method::put && !existed) {
        tl::http_response r = no_content();
        r.status = 201;
        r.headers.emplace_back("Location", base_uri + p.uri);
        return r;
    }
    return no_content();
}

tl::http_response restconf_server::impl::operation(const tl::http_request& req, const std::string& name,
                                                   const session_info& s) {
    std::string op = name;
    if (op.starts_with(std::string(module_name) + ":")) {
        op = op.substr(std::string(module_name).size() + 1);
    } else {
        return error_response(make_error(404, "invalid-value", "no such operation " + name, "", "protocol"));
    }
    static const char* known[] = {"commit",  "validate", "discard-changes", "cancel-commit", "rollback",
                                  "history", "diff"};
    bool ok = false;
    for (const char* k : known) ok = ok || op == k;
    if (!ok) return error_response(make_error(404, "invalid-value", "no such operation " + name, "", "protocol"));
    if (req.method != "POST") return method_not_allowed("OPTIONS, POST");

    // Input: {"meshgate-config:input": {...}} (or "input"), optional.
    json::value in = json::value::object();
    if (!req.body.empty()) {
        std::string why;
        auto doc = json::parse(req.body, &why);
        if (!doc) return error_response(make_error(400, "malformed-message", "malformed JSON body: " + why));
        if (!doc->is_object() || doc->members().size() > 1)
            return error_response(make_error(400, "malformed-message",
                                             "the body must be {\"" + std::string(module_name) + ":input\": {...}}"));
        if (!doc->members().empty()) {
            const auto& [k, v] = doc->members()[0];
            if (k != std::string(module_name) + ":input" && k != "input")
                return error_response(make_error(400, "invalid-value", "unknown member " + k + " (expected input)"));
            if (!v.is_object()) return error_response(make_error(400, "invalid-value", "input must be an object"));
            in = v;
        }
    }
    const std::string path_of = "/" + std::string(module_name) + ":" + op + "/input/";
    auto bad = [&](const std::string& field, const std::string& why) {
        return error_response(make_error(400, "invalid-value", field + ": " + why, path_of + field, "protocol"));
    };
    std::vector<std::string> allowed;
    if (op == "commit") allowed = {"confirmed", "confirm-timeout", "persist", "persist-id", "comment"};
    if (op == "cancel-commit") allowed = {"persist-id"};
    if (op == "rollback") allowed = {"id", "comment"};
    for (const auto& [k, v] : in.members()) {
        bool known_field = false;
        for (const auto& a : allowed) known_field = known_field || a == k;
        if (!known_field) return bad(k, "unknown input field");
    }
    auto str_field = [&](const char* f, std::string& out) -> bool {
        const json::value* v = in.find(f);
        if (!v) return true;
        if (!v->is_string()) return false;
        out = v->text();
        return true;
    };
    const bool writes = op == "commit" || op == "discard-changes" || op == "cancel-commit" || op == "rollback";
    if (writes && s.read_only)
        return error_response(
            make_error(403, "access-denied", "user " + s.user + " has the read-only role", "", "application"));

    if (op == "commit") {
        commit_options o;
        if (const json::value* v = in.find("confirmed")) {
            if (v->is_bool()) {
                o.confirmed = v->as_bool();
            } else if (v->is_array() && v->items().size() == 1 && v->items()[0].is_null()) {
                o.confirmed = true;  // RFC 7951 encoding of a leaf of type empty
            } else {
                return bad("confirmed", "must be true or false");
            }
        }
        if (const json::value* v = in.find("confirm-timeout")) {
            auto n = v->as_uint();
            if (!n || *n == 0 || *n > UINT32_MAX) return bad("confirm-timeout", "must be 1..4294967295 seconds");
            o.confirm_timeout_s = static_cast<uint32_t>(*n);
        }
        if (!str_field("persist", o.persist)) return bad("persist", "must be a string");
        if (!str_field("persist-id", o.persist_id)) return bad("persist-id", "must be a string");
        if (!str_field("comment", o.comment)) return bad("comment", "must be a string");
        // The request's session ends with the request: a confirmed commit needs a persist id.
        if (o.confirmed && o.persist.empty()) o.persist = o.persist_id.empty() ? random_id() : o.persist_id;
        if (auto e = store.commit(s, o)) return status_response(*e);
        if (o.confirmed) {
            json::value out = json::value::object();
            out.set("persist-id", json::value::string(o.persist));
            out.set("confirm-timeout", json::value::number(std::to_string(o.confirm_timeout_s)));
            json::value doc = json::value::object();
            doc.set(std::string(module_name) + ":output", std::move(out));
            return json_response(200, doc.dump());
        }
        return no_content();
    }
    if (op == "validate") {
        if (auto e = store.validate(ds::candidate)) return status_response(*e);
        return no_content();
    }
    if (op == "discard-changes") {
        if (auto e = store.discard_changes(s)) return status_response(*e);
        return no_content();
    }
    if (op == "cancel-commit") {
        std::string id;
        if (!str_field("persist-id", id)) return bad("persist-id", "must be a string");
        if (auto e = store.cancel_commit(s, id)) return status_response(*e);
        return no_content();
    }
    if (op == "rollback") {
        const json::value* v = in.find("id");
        if (!v) return bad("id", "missing (the history entry to restore)");
        auto id = v->as_uint();
        if (!id) return bad("id", "must be an unsigned integer");
        std::string comment;
        if (!str_field("comment", comment)) return bad("comment", "must be a string");
        if (auto e = store.rollback(s, *id, comment)) return status_response(*e);
        return no_content();
    }
    json::value out = json::value::object();
    if (op == "history") {
        json::value entries = json::value::array();
        for (const auto& h : store.history()) {
            json::value e = json::value::object();
            e.set("id", json::value::string(std::to_string(h.id)));  // uint64: a string (RFC 7951 6.1)
            e.set("time", json::value::string(h.time));
            e.set("user", json::value::string(h.user));
            e.set("session", json::value::number(std::to_string(h.session)));
            e.set("transport", json::value::string(h.transport));
            e.set("operation", json::value::string(h.operation));
            if (!h.comment.empty()) e.set("comment", json::value::string(h.comment));
            entries.push(std::move(e));
        }
        out.set("entry", std::move(entries));
        out.set("running-generation", json::value::string(std::to_string(store.running_generation())));
        out.set("confirmed-commit-pending", json::value::boolean(store.confirmed_commit_pending()));
    } else {  // diff
        out.set("candidate-dirty", json::value::boolean(store.candidate_dirty()));
        out.set("diff", json::value::string(store.diff_text()));
    }
    json::value doc = json::value::object();
    doc.set(std::string(module_name) + ":output", std::move(out));
    return json_response(200, doc.dump());
}

restconf_server::restconf_server(std::unique_ptr<impl> p) : p_(std::move(p)) {}

restconf_server::~restconf_server() {
    if (p_) p_->server.stop();
}

result<std::unique_ptr<restconf_server>> restconf_server::start(datastore& ds, const settings& s) {
    if (s.tls_certificate.empty() || s.tls_private_key.empty())
        return error{"restconf needs tls_certificate and tls_private_key"};
    auto p = std::make_unique<impl>(ds, s);
    impl* raw = p.get();
    auto bound = raw->server.start(
        s.restconf_address, s.restconf_port, s.tls_certificate, s.tls_private_key,
        [raw](const tl::http_request& req, const std::string& target) { return raw->handle(req, target); });
    if (!bound) return error{bound.error_message()};
    return std::unique_ptr<restconf_server>(new restconf_server(std::move(p)));
}

}  // namespace meshgate::mgmt
