#include "mgmt/restconf/restconf_map.hpp"

#include <libyang/libyang.h>

#include <cstdlib>
#include <memory>

#include "mgmt/restconf/json.hpp"

namespace meshgate::mgmt::restconf {

namespace {

constexpr uint32_t parse_opts = LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE;

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool pct_decode(std::string_view in, std::string& out) {
    out.clear();
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size()) return false;
        int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
        if (h < 0 || l < 0) return false;
        out += static_cast<char>(h * 16 + l);
        i += 2;
    }
    return true;
}

// An XPath string literal of `v`; false when it holds both quote characters.
bool xpath_literal(const std::string& v, std::string& out) {
    if (v.find('\'') == std::string::npos) {
        out = "'" + v + "'";
        return true;
    }
    if (v.find('"') == std::string::npos) {
        out = "\"" + v + "\"";
        return true;
    }
    return false;
}

std::string node_name(const lysc_node* s) {
    return std::string(s->module->name) + ":" + s->name;
}

std::vector<const lysc_node*> list_keys(const lysc_node* list) {
    std::vector<const lysc_node*> keys;
    for (const lysc_node* c = lysc_node_child(list); c; c = c->next)
        if (lysc_is_key(c)) keys.push_back(c);
    return keys;
}

// How RFC 7951 encodes a value of this leaf's type.
json::value json_scalar(const lysc_node* leaf, const std::string& text) {
    const lysc_type* t = nullptr;
    if (leaf->nodetype == LYS_LEAF) t = reinterpret_cast<const lysc_node_leaf*>(leaf)->type;
    if (leaf->nodetype == LYS_LEAFLIST) t = reinterpret_cast<const lysc_node_leaflist*>(leaf)->type;
    if (t) {
        switch (t->basetype) {
            case LY_TYPE_INT8:
            case LY_TYPE_INT16:
            case LY_TYPE_INT32:
            case LY_TYPE_UINT8:
            case LY_TYPE_UINT16:
            case LY_TYPE_UINT32:
                if (!text.empty() && text.find_first_not_of("-0123456789") == std::string::npos)
                    return json::value::number(text);
                break;
            case LY_TYPE_BOOL:
                if (text == "true" || text == "false") return json::value::boolean(text == "true");
                break;
            default:
                break;
        }
    }
    return json::value::string(text);
}

struct tree_guard {
    lyd_node* t = nullptr;
    ~tree_guard() {
        if (t) lyd_free_all(t);
    }
    lyd_node* release() {
        lyd_node* r = t;
        t = nullptr;
        return r;
    }
};

// The body's one member, checked against `schema` (module-qualified or plain name).
outcome single_member(const json::value& body, std::string& name, const json::value*& v) {
    if (!body.is_object() || body.members().size() != 1)
        return make_error(400, "malformed-message", "the body must be a JSON object with exactly one member", "",
                          "protocol");
    name = body.members()[0].first;
    v = &body.members()[0].second;
    return std::nullopt;
}

bool name_matches(const std::string& member, const lysc_node* s, bool require_module) {
    size_t colon = member.find(':');
    if (colon == std::string::npos) return !require_module && member == s->name;
    return member.substr(0, colon) == s->module->name && member.substr(colon + 1) == s->name;
}

// Normalises the value of a list or leaf-list member to an array of exactly one entry.
outcome one_instance(const lysc_node* s, json::value& v) {
    if (s->nodetype & (LYS_LIST | LYS_LEAFLIST)) {
        if (v.is_array()) {
            if (v.items().size() != 1)
                return make_error(400, "invalid-value",
                                  std::string("the body must hold exactly one instance of ") + s->name, "");
        } else {
            json::value a = json::value::array();
            a.push(std::move(v));
            v = std::move(a);
        }
        if ((s->nodetype & LYS_LIST) && !v.items()[0].is_object())
            return make_error(400, "invalid-value", std::string("a list entry of ") + s->name + " must be an object");
    }
    return std::nullopt;
}

outcome parse_json_body(std::string_view body, json::value& out) {
    std::string why;
    auto v = json::parse(body, &why);
    if (!v) return make_error(400, "malformed-message", "malformed JSON body: " + why);
    out = std::move(*v);
    return std::nullopt;
}

// Parses `doc` (RFC 7951) under `parent` (null: top level).
outcome ly_parse(const ly_ctx* ctx, lyd_node* parent, const std::string& doc, lyd_node** top) {
    ly_in* in = nullptr;
    if (ly_in_new_memory(doc.c_str(), &in) != LY_SUCCESS) return make_error(500, "operation-failed", "out of memory");
    lyd_node* tree = nullptr;
    ly_err_clean(const_cast<ly_ctx*>(ctx), nullptr);
    LY_ERR r = lyd_parse_data(ctx, parent, in, LYD_JSON, parse_opts, 0, &tree);
    ly_in_free(in, 0);
    if (r != LY_SUCCESS) {
        if (tree && !parent) lyd_free_all(tree);
        http_error e;
        e.err = libyang_error(ctx, "invalid body");
        e.status = 400;
        return e;
    }
    // With a parent, libyang 2.1 still points `tree` into the parent's tree: never free it then.
    if (top)
        *top = parent ? nullptr : tree;
    else if (tree && !parent)
        lyd_free_all(tree);
    return std::nullopt;
}

outcome set_operation(const ly_ctx* ctx, lyd_node* node, const char* op) {
    if (lyd_new_meta(ctx, node, nullptr, "ietf-netconf:operation", op, 0, nullptr) != LY_SUCCESS)
        return make_error(500, "operation-failed",
                          std::string("cannot set the operation ") + op + " (is ietf-netconf loaded?)", "",
                          "application");
    return std::nullopt;
}

// Creates the nodes of `xpath` (with their list keys); *top: the first created top node, *last:
// the node of xpath itself.
outcome new_path(const ly_ctx* ctx, const std::string& xpath, const char* value, lyd_node** top, lyd_node** last) {
    ly_err_clean(const_cast<ly_ctx*>(ctx), nullptr);
    LY_ERR r = lyd_new_path2(nullptr, ctx, xpath.c_str(), value, 0, LYD_ANYDATA_STRING, 0, top, last);
    if (r != LY_SUCCESS) {
        http_error e;
        e.err = libyang_error(ctx, "invalid path");
        e.status = 400;
        return e;
    }
    return std::nullopt;
}

// The one node at `xpath` in the tree of `any`, or null.
lyd_node* find_one(lyd_node* any, const std::string& xpath) {
    if (!any) return nullptr;
    ly_set* set = nullptr;
    lyd_node* r = nullptr;
    if (lyd_find_xpath(any, xpath.c_str(), &set) == LY_SUCCESS && set && set->count == 1) r = set->dnodes[0];
    ly_set_free(set, nullptr);
    return r;
}

lyd_node* root_of(lyd_node* n) {
    while (n && n->parent) n = lyd_parent(n);
    return n ? lyd_first_sibling(n) : nullptr;
}

std::string segment_of(const lyd_node* n, bool qualify) {
    std::string seg = qualify ? node_name(n->schema) : std::string(n->schema->name);
    if (n->schema->nodetype == LYS_LIST) {
        bool first = true;
        seg += '=';
        for (const lyd_node* c = lyd_child(n); c; c = c->next) {
            if (!c->schema || !lysc_is_key(c->schema)) continue;
            if (!first) seg += ',';
            first = false;
            seg += encode_key(lyd_get_value(c));
        }
    } else if (n->schema->nodetype == LYS_LEAFLIST) {
        seg += '=' + encode_key(lyd_get_value(n));
    }
    return seg;
}

// Content filter (RFC 8040 4.8.1) on a detached subtree: false when `n` itself goes.
bool filter_content(lyd_node* n, content_filter f) {
    if (f == content_filter::all || !n->schema) return true;
    const bool is_config = (n->schema->flags & LYS_CONFIG_W) != 0;
    if (n->schema->nodetype & (LYS_LEAF | LYS_LEAFLIST | LYS_ANYDATA)) {
        if (lysc_is_key(n->schema)) return true;  // decided by the parent
        return f == content_filter::config ? is_config : !is_config;
    }
    if (f == content_filter::config && !is_config) return false;
    bool kept_non_key = false;
    lyd_node* c = lyd_child(n);
    while (c) {
        lyd_node* next = c->next;
        if (!filter_content(c, f)) {
            lyd_free_tree(c);
        } else if (!c->schema || !lysc_is_key(c->schema)) {
            kept_non_key = true;
        }
        c = next;
    }
    if (f == content_filter::nonconfig && is_config && !kept_non_key) return false;
    return true;
}

void prune_depth(lyd_node* n, uint32_t level, uint32_t depth) {
    lyd_node* c = lyd_child(n);
    while (c) {
        lyd_node* next = c->next;
        if (level + 1 > depth && !(c->schema && lysc_is_key(c->schema))) {
            lyd_free_tree(c);
        } else {
            prune_depth(c, level + 1, depth);
        }
        c = next;
    }
}

// Prints one detached subtree (or a sibling list with `siblings`) as RFC 7951 JSON.
outcome print_json(lyd_node* n, uint32_t flags, std::string& out) {
    char* mem = nullptr;
    if (lyd_print_mem(&mem, n, LYD_JSON, flags | LYD_PRINT_SHRINK) != LY_SUCCESS) {
        std::free(mem);
        return make_error(500, "operation-failed", "cannot print the data", "", "application");
    }
    out = mem ? mem : "";
    std::free(mem);
    if (out.empty()) out = "{}";
    return std::nullopt;
}

}  // namespace

http_error make_error(int status, std::string tag, std::string message, std::string path, std::string type) {
    http_error e;
    e.status = status;
    e.err.type = std::move(type);
    e.err.tag = std::move(tag);
    e.err.message = std::move(message);
    e.err.path = std::move(path);
    return e;
}

std::string encode_key(std::string_view v) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string o;
    for (char ch : v) {
        auto c = static_cast<unsigned char>(ch);
        bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                          c == '.' || c == '_' || c == '~' || c == ':';
        if (unreserved) {
            o += ch;
        } else {
            o += '%';
            o += hex[c >> 4];
            o += hex[c & 15];
        }
    }
    return o;
}

outcome parse_api_path(const ly_ctx* ctx, std::string_view raw, api_path& out) {
    out = {};
    out.uri = std::string(raw);
    if (raw.empty() || raw == "/") return std::nullopt;
    if (raw.front() != '/') return make_error(400, "invalid-value", "the api-path must start with '/'");
    raw.remove_prefix(1);
    if (!raw.empty() && raw.back() == '/') raw.remove_suffix(1);

    const lysc_node* parent = nullptr;
    const lys_module* cur_mod = nullptr;
    std::string xpath, parent_xpath;
    bool last_keyless = false;
    std::vector<std::string> last_keys;
    while (!raw.empty()) {
        size_t slash = raw.find('/');
        std::string_view seg = raw.substr(0, slash);
        raw = slash == std::string_view::npos ? std::string_view{} : raw.substr(slash + 1);
        if (slash != std::string_view::npos && raw.empty())
            return make_error(400, "invalid-value", "empty path segment");
        if (seg.empty()) return make_error(400, "invalid-value", "empty path segment");
        if (last_keyless) return make_error(400, "invalid-value", "a list in the path needs its keys");

        size_t eq = seg.find('=');
        std::string name;
        if (!pct_decode(seg.substr(0, eq), name))
            return make_error(400, "invalid-value", "malformed percent-encoding in the path");
        std::vector<std::string> keys;
        if (eq != std::string_view::npos) {
            std::string_view kv = seg.substr(eq + 1);
            while (true) {
                size_t comma = kv.find(',');
                std::string k;
                if (!pct_decode(kv.substr(0, comma), k))
                    return make_error(400, "invalid-value", "malformed percent-encoding in the path");
                keys.push_back(std::move(k));
                if (comma == std::string_view::npos) break;
                kv.remove_prefix(comma + 1);
            }
        }
        std::string modname, local = name;
        if (size_t colon = name.find(':'); colon != std::string::npos) {
            modname = name.substr(0, colon);
            local = name.substr(colon + 1);
        }
        const lys_module* mod = cur_mod;
        if (!modname.empty()) {
            mod = ly_ctx_get_module_implemented(ctx, modname.c_str());
            if (!mod) return make_error(404, "invalid-value", "unknown module " + modname, "", "protocol");
        } else if (!parent) {
            return make_error(400, "invalid-value", "the first path segment needs its module name (" + name + ")");
        }
        const lysc_node* s = lys_find_child(parent, mod, local.c_str(), 0, 0, 0);
        if (!s || !(s->nodetype & (LYS_CONTAINER | LYS_LIST | LYS_LEAF | LYS_LEAFLIST | LYS_ANYDATA)))
            return make_error(404, "invalid-value",
                              "no such resource: " + name + (parent ? std::string(" in ") + parent->name : ""), "",
                              "protocol");
        parent_xpath = xpath;
        xpath += '/';
        if (mod != cur_mod) xpath += std::string(mod->name) + ":";
        xpath += s->name;
        last_keyless = false;
        if (s->nodetype == LYS_LIST) {
            auto kn = list_keys(s);
            if (keys.empty()) {
                last_keyless = true;
            } else {
                if (keys.size() != kn.size())
                    return make_error(400, "invalid-value",
                                      std::string("list ") + s->name + " has " + std::to_string(kn.size()) +
                                          " key(s), the path gives " + std::to_string(keys.size()));
                for (size_t i = 0; i < kn.size(); ++i) {
                    std::string lit;
                    if (!xpath_literal(keys[i], lit))
                        return make_error(400, "invalid-value", "a key value holds both quote characters");
                    xpath += std::string("[") + kn[i]->name + "=" + lit + "]";
                }
            }
        } else if (s->nodetype == LYS_LEAFLIST) {
            if (keys.empty()) {
                last_keyless = true;
            } else {
                if (keys.size() != 1) return make_error(400, "invalid-value", "a leaf-list instance takes one value");
                std::string lit;
                if (!xpath_literal(keys[0], lit))
                    return make_error(400, "invalid-value", "a value holds both quote characters");
                xpath += "[.=" + lit + "]";
            }
        } else if (eq != std::string_view::npos) {
            return make_error(400, "invalid-value", std::string(s->name) + " is not a list; it takes no keys");
        }
        if ((s->nodetype & (LYS_LEAF | LYS_ANYDATA)) && !raw.empty())
            return make_error(404, "invalid-value", std::string(s->name) + " has no children");
        parent = s;
        cur_mod = mod;
        last_keys = std::move(keys);
    }
    out.xpath = std::move(xpath);
    out.parent_xpath = std::move(parent_xpath);
    out.schema = parent;
    out.keyless_list = last_keyless;
    out.keys = std::move(last_keys);
    return std::nullopt;
}

outcome build_edit(const ly_ctx* ctx, const api_path& p, write_method m, std::string_view body,
                   const std::string& current_value, edit_result& out) {
    out = {};
    if (p.keyless_list) return make_error(400, "invalid-value", "a write needs the list entry's keys in the path");
    if (p.schema && (p.schema->flags & LYS_CONFIG_R))
        return make_error(405, "operation-not-supported", "state data cannot be written", p.xpath);
    tree_guard g;

    if (m == write_method::del) {
        if (!p.schema) return make_error(405, "operation-not-supported", "the datastore itself cannot be deleted");
        lyd_node* last = nullptr;
        const char* value = p.schema->nodetype == LYS_LEAF ? current_value.c_str() : nullptr;
        if (auto e = new_path(ctx, p.xpath, value, &g.t, &last)) return e;
        if (!last) return make_error(500, "operation-failed", "no node for " + p.xpath, "", "application");
        if (auto e = set_operation(ctx, last, "delete")) return e;
        out.tree = g.release();
        return std::nullopt;
    }

    json::value doc;
    if (auto e = parse_json_body(body, doc)) return e;

    if (!p.schema) {
        // The datastore: PUT replaces it, PATCH merges into it, POST creates one top-level node.
        if (!doc.is_object()) return make_error(400, "malformed-message", "the body must be a JSON object");
        if (m == write_method::post && doc.members().size() != 1)
            return make_error(400, "invalid-value", "POST creates exactly one resource");
        if (auto e = ly_parse(ctx, nullptr, doc.dump(), &g.t)) return e;
        if (m == write_method::put) {
            out.whole_datastore = true;
        } else {
            for (lyd_node* n = g.t; n; n = n->next)
                if (auto e = set_operation(ctx, n, m == write_method::post ? "create" : "merge")) return e;
            if (m == write_method::post && g.t) out.location = "/" + segment_of(g.t, true);
        }
        out.tree = g.release();
        return std::nullopt;
    }

    std::string member;
    const json::value* v0 = nullptr;
    if (auto e = single_member(doc, member, v0)) return e;
    json::value v = *v0;

    if (m == write_method::post) {
        // Creates one child of the target.
        if (p.schema->nodetype & (LYS_LEAF | LYS_LEAFLIST | LYS_ANYDATA))
            return make_error(400, "invalid-value", std::string(p.schema->name) + " has no children");
        std::string modname, local = member;
        if (size_t colon = member.find(':'); colon != std::string::npos) {
            modname = member.substr(0, colon);
            local = member.substr(colon + 1);
        }
        const lys_module* mod =
            modname.empty() ? p.schema->module : ly_ctx_get_module_implemented(ctx, modname.c_str());
        const lysc_node* child = mod ? lys_find_child(p.schema, mod, local.c_str(), 0, 0, 0) : nullptr;
        if (!child)
            return make_error(400, "invalid-value", "unknown child " + member + " of " + p.schema->name, p.xpath);
        if (lysc_is_key(child)) return make_error(400, "invalid-value", "a list key cannot be created alone");
        if (auto e = one_instance(child, v)) return e;
        lyd_node* parent = nullptr;
        if (auto e = new_path(ctx, p.xpath, nullptr, &g.t, &parent)) return e;
        json::value wrapped = json::value::object();
        wrapped.set(node_name(child), std::move(v));
        if (auto e = ly_parse(ctx, parent, wrapped.dump(), nullptr)) return e;
        lyd_node* created = nullptr;
        for (lyd_node* c = lyd_child(parent); c; c = c->next)
            if (c->schema == child) created = c;
        if (!created) return make_error(400, "invalid-value", "the body creates nothing");
        if (auto e = set_operation(ctx, created, "create")) return e;
        std::string base = p.uri;
        while (!base.empty() && base.back() == '/') base.pop_back();
        out.location = base + "/" + segment_of(created, created->schema->module != p.schema->module);
        out.tree = g.release();
        return std::nullopt;
    }

    // PUT / PATCH: the body is the target itself.
    if (!name_matches(member, p.schema, p.parent_xpath.empty()))
        return make_error(400, "invalid-value",
                          "the body's member " + member + " is not the target " + node_name(p.schema), p.xpath);
    if (lysc_is_key(p.schema)) return make_error(400, "invalid-value", "a list key cannot be changed", p.xpath);
    if (auto e = one_instance(p.schema, v)) return e;
    if (p.schema->nodetype == LYS_LIST) {
        // Key leaves absent from the entry come from the URI.
        json::value& entry = v.items()[0];
        auto kn = list_keys(p.schema);
        for (size_t i = 0; i < kn.size() && i < p.keys.size(); ++i)
            if (!entry.find(kn[i]->name)) {
                json::value copy = json::value::object();
                copy.set(kn[i]->name, json_scalar(kn[i], p.keys[i]));
                for (auto& mbr : entry.members()) copy.members().push_back(std::move(mbr));
                // keep the keys first (libyang wants them before other members only for XML; harmless)
                entry = std::move(copy);
            }
    } else if (p.schema->nodetype == LYS_LEAFLIST && !p.keys.empty()) {
        // nothing to fill: the value itself is the key, checked below
    }
    json::value wrapped = json::value::object();
    wrapped.set(node_name(p.schema), std::move(v));
    lyd_node* parent = nullptr;
    if (!p.parent_xpath.empty()) {
        if (auto e = new_path(ctx, p.parent_xpath, nullptr, &g.t, &parent)) return e;
        if (auto e = ly_parse(ctx, parent, wrapped.dump(), nullptr)) return e;
    } else {
        if (auto e = ly_parse(ctx, nullptr, wrapped.dump(), &g.t)) return e;
    }
    lyd_node* target = find_one(g.t, p.xpath);
    if (!target) return make_error(400, "invalid-value", "the body's key values differ from the URI's", p.xpath);
    if (auto e = set_operation(ctx, target, m == write_method::put ? "replace" : "merge")) return e;
    out.tree = root_of(g.release());
    return std::nullopt;
}

outcome render_get(const ly_ctx* ctx, const api_path& p, const lyd_node* tree, const print_options& o,
                   std::string& json_out) {
    (void)ctx;
    const uint32_t flags = LYD_PRINT_WITHSIBLINGS | o.wd_flags;
    if (!p.schema) {
        lyd_node* dup = nullptr;
        if (tree && lyd_dup_siblings(tree, nullptr, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &dup) != LY_SUCCESS)
            return make_error(500, "operation-failed", "out of memory", "", "application");
        lyd_node* first = dup;
        lyd_node* n = dup;
        while (n) {
            lyd_node* next = n->next;
            bool keep = filter_content(n, o.content);
            if (keep && o.depth) prune_depth(n, 1, o.depth);
            if (!keep) {
                if (n == first) first = next;
                lyd_free_tree(n);
            }
            n = next;
        }
        std::string body = "{}";
        if (first) {
            auto e = print_json(first, flags, body);
            lyd_free_all(first);
            if (e) return e;
        }
        json_out = "{\"ietf-restconf:data\":" + body + "}";
        return std::nullopt;
    }

    ly_set* set = nullptr;
    if (!tree || lyd_find_xpath(tree, p.xpath.c_str(), &set) != LY_SUCCESS || !set || set->count == 0) {
        ly_set_free(set, nullptr);
        return make_error(404, "invalid-value", "no data at " + p.xpath, p.xpath, "protocol");
    }
    json::value merged = json::value::object();
    size_t kept = 0;
    for (uint32_t i = 0; i < set->count; ++i) {
        lyd_node* d = nullptr;
        if (lyd_dup_single(set->dnodes[i], nullptr, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &d) != LY_SUCCESS) continue;
        std::unique_ptr<lyd_node, void (*)(lyd_node*)> guard(d, [](lyd_node* x) { lyd_free_tree(x); });
        if (!filter_content(d, o.content)) continue;
        if (o.depth) prune_depth(d, 1, o.depth);
        std::string one;
        if (auto e = print_json(d, o.wd_flags, one)) {
            ly_set_free(set, nullptr);
            return e;
        }
        auto v = json::parse(one);
        if (!v || !v->is_object()) continue;
        for (auto& [k, val] : v->members()) {
            if (json::value* have = merged.find(k); have && have->is_array() && val.is_array()) {
                for (auto& item : val.items()) have->push(std::move(item));
            } else if (!have) {
                merged.set(k, std::move(val));
            }
        }
        ++kept;
    }
    ly_set_free(set, nullptr);
    if (kept == 0 || merged.members().empty())
        return make_error(404, "invalid-value", "no data at " + p.xpath, p.xpath, "protocol");
    json_out = merged.dump();
    return std::nullopt;
}

std::string clean_error_path(std::string_view p) {
    // libyang 2.1 reports 'Schema location "/a/b", data location "/a[k='v']/b", line number 1.'
    for (std::string_view label :
         {"Data location \"", "data location \"", "Schema location \"", "schema location \""}) {
        size_t at = p.find(label);
        if (at == std::string_view::npos) continue;
        size_t start = at + label.size();
        size_t end = p.find('"', start);
        if (end != std::string_view::npos) return std::string(p.substr(start, end - start));
    }
    return std::string(p);
}

std::string errors_json(const rpc_error& e) {
    json::value err = json::value::object();
    err.set("error-type", json::value::string(e.type.empty() ? "application" : e.type));
    err.set("error-tag", json::value::string(e.tag));
    if (!e.app_tag.empty()) err.set("error-app-tag", json::value::string(e.app_tag));
    if (!e.path.empty()) err.set("error-path", json::value::string(e.path));
    if (!e.message.empty()) err.set("error-message", json::value::string(e.message));
    if (e.lock_owner) {
        json::value info = json::value::object();
        info.set("session-id", json::value::number(std::to_string(e.lock_owner)));
        err.set("error-info", std::move(info));
    }
    json::value list = json::value::array();
    list.push(std::move(err));
    json::value errors = json::value::object();
    errors.set("error", std::move(list));
    json::value doc = json::value::object();
    doc.set("ietf-restconf:errors", std::move(errors));
    return doc.dump();
}

rpc_error libyang_error(const ly_ctx* ctx, std::string_view what) {
    rpc_error e;
    e.type = "application";
    e.tag = "invalid-value";
    const ly_err_item* i = ly_err_last(ctx);
    if (!i) {
        e.message = std::string(what);
        return e;
    }
    if (i->vecode == LYVE_SYNTAX_JSON || i->vecode == LYVE_SYNTAX) {
        e.type = "protocol";
        e.tag = "malformed-message";
    }
    e.message = i->msg ? i->msg : std::string(what);
    if (i->path) e.path = clean_error_path(i->path);
    if (i->apptag) e.app_tag = i->apptag;
    return e;
}

}  // namespace meshgate::mgmt::restconf
