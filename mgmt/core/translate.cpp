#include "mgmt/core/translate.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <libyang/libyang.h>

#include <cstdlib>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/config.hpp"
#include "snapshot.pb.h"

namespace meshgate::mgmt {
namespace {

namespace gp = google::protobuf;

// YANG node names whose Snapshot field is not the name with '-' as '_' (lists are plural there).
const std::map<std::pair<std::string_view, std::string_view>, std::string_view>& renames() {
    static const std::map<std::pair<std::string_view, std::string_view>, std::string_view> m = {
        {{"Snapshot", "interface"}, "interfaces"},
        {{"Snapshot", "route"}, "routes"},
        {{"Snapshot", "service"}, "services"},
        {{"Snapshot", "snat-pool"}, "snat_pools"},
        {{"Snapshot", "source-limit"}, "source_limits"},
        {{"Snapshot", "tap"}, "taps"},
        {{"Workers", "lcore"}, "lcores"},
        {{"Interface", "ipv4-address"}, "ipv4_addresses"},
        {{"Interface", "ipv6-address"}, "ipv6_addresses"},
        {{"Interface", "static-neighbor"}, "static_neighbors"},
        {{"Service", "source-address"}, "source_addresses"},
        {{"Service", "backend"}, "backends"},
        {{"Firewall", "rule"}, "rules"},
        {{"AclRule", "source-port"}, "source_ports"},
        {{"AclRule", "destination-port"}, "destination_ports"},
        {{"SnatPool", "source"}, "sources"},
        {{"SnatPool", "address"}, "addresses"},
        {{"Tap", "interface"}, "interfaces"},
    };
    return m;
}

std::string yang_path(const lyd_node* n) {
    char* p = lyd_path(n, LYD_PATH_STD, nullptr, 0);
    std::string out = p != nullptr ? p : "";
    std::free(p);
    return out;
}

const lyd_node* child_named(const lyd_node* n, std::string_view name) {
    for (const lyd_node* c = lyd_child(n); c != nullptr; c = c->next)
        if (c->schema != nullptr && name == c->schema->name && (c->flags & LYD_DEFAULT) == 0) return c;
    return nullptr;
}

struct walker {
    // (proto3 JSON path of a list entry, its YANG path), for naming errors in YANG terms.
    std::vector<std::pair<std::string, std::string>> entries;
    std::string err_path, err_msg;

    bool fail(const lyd_node* n, const std::string& msg) {
        if (err_msg.empty()) {
            err_path = yang_path(n);
            err_msg = err_path + ": " + msg;
        }
        return false;
    }

    // "ip" + "prefix-length" list entries as "ip/len".
    static std::string prefix_of(const lyd_node* n) {
        const lyd_node* ip = child_named(n, "ip");
        const lyd_node* len = child_named(n, "prefix-length");
        std::string s = ip != nullptr ? lyd_get_value(ip) : "";
        if (len != nullptr) s += std::string("/") + lyd_get_value(len);
        return s;
    }

    // "lower-port" / "upper-port" containers as "80" or "1024-65535".
    static std::string range_of(const lyd_node* n) {
        const lyd_node* lo = child_named(n, "lower-port");
        const lyd_node* hi = child_named(n, "upper-port");
        if (lo == nullptr && hi == nullptr) return "";
        std::string l = lo != nullptr ? lyd_get_value(lo) : "0";
        std::string h = hi != nullptr ? lyd_get_value(hi) : l;
        return l == h ? l : l + "-" + h;
    }

    bool set_scalar(gp::Message& m, const gp::FieldDescriptor* f, const lyd_node* n, const std::string& v) {
        const gp::Reflection* r = m.GetReflection();
        char* end = nullptr;
        switch (f->cpp_type()) {
            case gp::FieldDescriptor::CPPTYPE_STRING:
                if (f->is_repeated())
                    r->AddString(&m, f, v);
                else
                    r->SetString(&m, f, v);
                return true;
            case gp::FieldDescriptor::CPPTYPE_BOOL: {
                bool b = v == "true";
                if (f->is_repeated())
                    r->AddBool(&m, f, b);
                else
                    r->SetBool(&m, f, b);
                return true;
            }
            case gp::FieldDescriptor::CPPTYPE_UINT32: {
                unsigned long long x = std::strtoull(v.c_str(), &end, 10);
                if (v.empty() || *end != 0 || x > UINT32_MAX) return fail(n, "\"" + v + "\" is not a uint32");
                if (f->is_repeated())
                    r->AddUInt32(&m, f, static_cast<uint32_t>(x));
                else
                    r->SetUInt32(&m, f, static_cast<uint32_t>(x));
                return true;
            }
            case gp::FieldDescriptor::CPPTYPE_UINT64: {
                unsigned long long x = std::strtoull(v.c_str(), &end, 10);
                if (v.empty() || *end != 0) return fail(n, "\"" + v + "\" is not a uint64");
                if (f->is_repeated())
                    r->AddUInt64(&m, f, x);
                else
                    r->SetUInt64(&m, f, x);
                return true;
            }
            default:
                return fail(n, "mgmtd: unsupported Snapshot field type for " + std::string(f->name()));
        }
    }

    bool fill(gp::Message& m, const lyd_node* first, const std::string& json_base) {
        const gp::Descriptor* d = m.GetDescriptor();
        const gp::Reflection* r = m.GetReflection();
        for (const lyd_node* n = first; n != nullptr; n = n->next) {
            if (n->schema == nullptr) return fail(n, "unknown node");
            if ((n->flags & LYD_DEFAULT) != 0) continue;  // the data plane applies its own defaults
            std::string_view yname = n->schema->name;
            std::string fname;
            auto it = renames().find({d->name(), yname});
            if (it != renames().end()) {
                fname = it->second;
            } else {
                fname = yname;
                for (char& c : fname)
                    if (c == '-') c = '_';
            }
            const gp::FieldDescriptor* f = d->FindFieldByName(fname);
            if (f == nullptr) return fail(n, "mgmtd: the Snapshot has no field for this node (" + fname + ")");
            const bool is_list_entry = n->schema->nodetype == LYS_LIST;
            std::string jpath = json_base.empty() ? f->json_name() : json_base + "." + f->json_name();
            if (f->is_repeated()) jpath += "[" + std::to_string(r->FieldSize(m, f)) + "]";
            if (is_list_entry && f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE)
                entries.emplace_back(jpath, yang_path(n));
            if (fname == "ipv4_addresses" || fname == "ipv6_addresses") {
                if (!set_scalar(m, f, n, prefix_of(n))) return false;
            } else if (fname == "source_ports" || fname == "destination_ports") {
                if (!set_scalar(m, f, n, range_of(n))) return false;
            } else if (f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE) {
                gp::Message* sub = f->is_repeated() ? r->AddMessage(&m, f) : r->MutableMessage(&m, f);
                if (!fill(*sub, lyd_child(n), jpath)) return false;
            } else {
                if (!(n->schema->nodetype & (LYS_LEAF | LYS_LEAFLIST)))
                    return fail(n, "mgmtd: a container where the Snapshot has a value");
                if (!set_scalar(m, f, n, lyd_get_value(n))) return false;
            }
        }
        return true;
    }

    // policy's message starts with a proto3 JSON field path; name the YANG entry instead.
    void map_policy_error(const std::string& msg) {
        size_t best = 0;
        const std::pair<std::string, std::string>* hit = nullptr;
        for (const auto& e : entries) {
            const std::string& j = e.first;
            if (j.size() > best && msg.compare(0, j.size(), j) == 0 &&
                (msg.size() == j.size() || msg[j.size()] == '.' || msg[j.size()] == ':')) {
                best = j.size();
                hit = &e;
            }
        }
        if (hit == nullptr) {
            err_path = "/meshgate-config:meshgate";
            err_msg = msg;
            return;
        }
        err_path = hit->second;
        err_msg = hit->second + msg.substr(best);
    }
};

}  // namespace

status yang_to_snapshot(const lyd_node* config, uint64_t generation, snapshot_out& out) {
    meshgate::config::v1::Snapshot s;
    walker w;
    for (const lyd_node* top = config; top != nullptr; top = top->next) {
        if (top->schema == nullptr || std::string_view(top->schema->name) != "meshgate") continue;
        if (!w.fill(s, lyd_child(top), ""))
            return rpc_error{"application", "invalid-value", w.err_path, w.err_msg, "", 0};
    }
    s.set_generation(generation);
    std::string json;
    gp::util::JsonPrintOptions po;
    po.preserve_proto_field_names = false;
    auto st = gp::util::MessageToJsonString(s, &json, po);
    if (!st.ok()) return rpc_error{"application", "operation-failed", "", "mgmtd: " + std::string(st.message()), "", 0};
    auto checked = policy::parse_config_json(json);
    if (!checked) {
        w.map_policy_error(checked.error_message());
        return rpc_error{"application", "invalid-value", w.err_path, w.err_msg, "", 0};
    }
    out.json = std::move(json);
    if (!s.SerializeToString(&out.bytes))
        return rpc_error{"application", "operation-failed", "", "mgmtd: cannot serialize the snapshot", "", 0};
    return std::nullopt;
}

}  // namespace meshgate::mgmt
