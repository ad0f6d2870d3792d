#include "mgmt/core/datastore.hpp"

#include <fcntl.h>
#include <libyang/libyang.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "mgmt/core/translate.hpp"
#include "telemetry/log.hpp"

namespace meshgate::mgmt {
namespace fs = std::filesystem;
namespace tl = meshgate::telemetry;
using level = tl::level;

namespace {

constexpr const char* yuma_ietf_dir = "/usr/share/yuma/modules/ietf";

// A tree (top-level siblings) owned by the holder.
struct tree {
    lyd_node* first = nullptr;
    tree() = default;
    explicit tree(lyd_node* f) : first(f) {}
    tree(const tree&) = delete;
    tree& operator=(const tree&) = delete;
    tree(tree&& o) noexcept : first(std::exchange(o.first, nullptr)) {}
    tree& operator=(tree&& o) noexcept {
        if (this != &o) {
            lyd_free_all(first);
            first = std::exchange(o.first, nullptr);
        }
        return *this;
    }
    ~tree() { lyd_free_all(first); }
    lyd_node* release() { return std::exchange(first, nullptr); }
};

tree dup_tree(const lyd_node* first) {
    lyd_node* out = nullptr;
    if (first != nullptr) lyd_dup_siblings(first, nullptr, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &out);
    return tree(out);
}

std::string node_path(const lyd_node* n) {
    char* p = lyd_path(n, LYD_PATH_STD, nullptr, 0);
    std::string out = p != nullptr ? p : "";
    std::free(p);
    return out;
}

rpc_error err(std::string tag, std::string path, std::string message, std::string type = "application") {
    rpc_error e;
    e.type = std::move(type);
    e.tag = std::move(tag);
    e.path = std::move(path);
    e.message = std::move(message);
    return e;
}

// The last libyang error of this thread as an rpc-error.
rpc_error ly_error(const ly_ctx* ctx, const std::string& what, const std::string& tag = "invalid-value") {
    const ly_err_item* e = ly_err_last(ctx);
    std::string path = e != nullptr && e->path != nullptr ? e->path : "";
    // libyang 2.1 words it as `Schema location "/a/b", data location "/a/b[k='v']", line number 1.`:
    // keep the most precise instance path only.
    for (const char* what : {"ata location \"", "chema location \""}) {
        auto at = path.find(what);
        if (at == std::string::npos) continue;
        at += std::strlen(what);
        auto end = path.find('"', at);
        if (end != std::string::npos) {
            path = path.substr(at, end - at);
            break;
        }
    }
    std::string msg = e != nullptr && e->msg != nullptr ? e->msg : "invalid data";
    rpc_error r = err(tag, path, what + (path.empty() ? "" : path + ": ") + msg);
    if (e != nullptr && e->apptag != nullptr) r.app_tag = e->apptag;
    if (e != nullptr && e->vecode == LYVE_DATA && msg.find("Mandatory") != std::string::npos) r.tag = "data-missing";
    if (msg.find("Invalid leafref value") != std::string::npos) {  // RFC 7950 15.5
        r.tag = "data-missing";
        r.app_tag = "instance-required";
    }
    ly_err_clean(const_cast<ly_ctx*>(ctx), nullptr);
    return r;
}

std::string now_rfc3339() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    gmtime_r(&ts.tv_sec, &t);
    char b[80];
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                  t.tm_hour, t.tm_min, t.tm_sec, static_cast<int>(ts.tv_nsec / 1000000) % 1000);
    return b;
}

std::string json_str(std::string_view s) {
    std::string out = "\"";
    tl::json_escape(out, s);
    out += '"';
    return out;
}

// temp + fsync + rename + fsync(dir): the file is either the old or the new one after a crash.
bool write_atomic(const fs::path& path, const std::string& content, std::string& why) {
    fs::path tmp = path;
    tmp += ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        why = tmp.string() + ": " + std::strerror(errno);
        return false;
    }
    const char* p = content.data();
    size_t n = content.size();
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            why = tmp.string() + ": " + std::strerror(errno);
            ::close(fd);
            return false;
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        why = tmp.string() + ": fsync: " + std::strerror(errno);
        return false;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        why = path.string() + ": rename: " + std::strerror(errno);
        return false;
    }
    int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return true;
}

std::string print_json(const lyd_node* first) {
    if (first == nullptr) return "{}\n";
    char* s = nullptr;
    lyd_print_mem(&s, first, LYD_JSON, LYD_PRINT_WITHSIBLINGS);
    std::string out = s != nullptr ? s : "{}\n";
    std::free(s);
    return out;
}

const char* op_meta(const lyd_node* n) {
    const lyd_meta* m = lyd_find_meta(n->meta, nullptr, "ietf-netconf:operation");
    return m != nullptr ? lyd_get_meta_value(m) : nullptr;
}

bool parse_op(const char* s, edit_op& op) {
    std::string_view v = s;
    if (v == "merge")
        op = edit_op::merge;
    else if (v == "replace")
        op = edit_op::replace;
    else if (v == "create")
        op = edit_op::create;
    else if (v == "delete")
        op = edit_op::del;
    else if (v == "remove")
        op = edit_op::remove;
    else
        return false;
    return true;
}

bool is_inner(const lyd_node* n) {
    return n->schema != nullptr && (n->schema->nodetype & (LYS_CONTAINER | LYS_LIST)) != 0;
}

bool is_key(const lyd_node* n) {
    return n->schema != nullptr && lysc_is_key(n->schema);
}

// RFC 6241 7.2 on libyang trees: applies `edit` (siblings) under `parent` (nullptr: top level,
// whose first sibling is *first).
struct editor {
    rpc_error e;
    bool failed = false;

    bool fail(std::string tag, const lyd_node* n, std::string msg) {
        if (!failed) {
            failed = true;
            std::string p = node_path(n);
            e = err(std::move(tag), p, p + ": " + msg);
        }
        return false;
    }

    // The instance `like` edits: a list entry by its keys, a leaf-list entry by its value, any
    // other node by its schema alone. (lyd_find_sibling_first compares a leaf's value too when
    // the parent has too few children for a hash table, so a merge that changes the value of
    // e.g. icmp/errors-burst would add a second instance instead.)
    static lyd_node* find(lyd_node* parent, lyd_node* first, const lyd_node* like) {
        lyd_node* siblings = parent != nullptr ? lyd_child(parent) : first;
        if (siblings == nullptr) return nullptr;
        lyd_node* match = nullptr;
        LY_ERR rc = (like->schema->nodetype & (LYS_LIST | LYS_LEAFLIST))
                        ? lyd_find_sibling_first(siblings, like, &match)
                        : lyd_find_sibling_val(siblings, like->schema, nullptr, 0, &match);
        if (rc != LY_SUCCESS) return nullptr;
        return match;
    }

    static void remove_node(lyd_node** first, lyd_node* t) {
        if (first != nullptr && *first == t) *first = t->next;
        lyd_free_tree(t);
    }

    bool insert_copy(lyd_node* parent, lyd_node** first, const lyd_node* src, bool recursive, lyd_node** out) {
        lyd_node* dup = nullptr;
        uint32_t opts = LYD_DUP_NO_META | (recursive ? LYD_DUP_RECURSIVE : 0);
        if (lyd_dup_single(src, nullptr, opts, &dup) != LY_SUCCESS)
            return fail("operation-failed", src, "cannot copy the node");
        LY_ERR rc = parent != nullptr ? lyd_insert_child(parent, dup) : lyd_insert_sibling(*first, dup, first);
        if (rc != LY_SUCCESS) {
            lyd_free_tree(dup);
            return fail("invalid-value", src, "cannot insert the node here");
        }
        if (out != nullptr) *out = dup;
        return true;
    }

    bool apply_siblings(lyd_node* parent, lyd_node** first, const lyd_node* edit, edit_op inherited) {
        for (const lyd_node* n = edit; n != nullptr; n = n->next)
            if (!apply(parent, first, n, inherited)) return false;
        return true;
    }

    bool apply(lyd_node* parent, lyd_node** first, const lyd_node* n, edit_op inherited) {
        if (n->schema == nullptr) return fail("unknown-element", n, "unknown element");
        if (n->schema->flags & LYS_CONFIG_R) return fail("invalid-value", n, "state data cannot be edited");
        edit_op op = inherited;
        if (const char* s = op_meta(n)) {
            if (!parse_op(s, op)) return fail("bad-attribute", n, std::string("\"") + s + "\" is not an operation");
        }
        if (is_key(n) && parent != nullptr) return true;  // keys come with their list entry
        lyd_node* t = find(parent, first != nullptr ? *first : nullptr, n);
        if (t != nullptr && (t->flags & LYD_DEFAULT) != 0 && !is_inner(t)) {
            // An implicit default: for edits it does not exist yet.
            if (op == edit_op::del) return fail("data-missing", n, "there is no such node to delete");
            if (op == edit_op::remove) return true;
            if (op == edit_op::none) return true;
            if (lyd_change_term(t, lyd_get_value(n)) == LY_EINVAL) return fail("invalid-value", n, "invalid value");
            t->flags &= ~LYD_DEFAULT;
            return true;
        }
        switch (op) {
            case edit_op::create:
                if (t != nullptr && !(is_inner(t) && (t->flags & LYD_DEFAULT)))
                    return fail("data-exists", n, "already exists (operation create)");
                [[fallthrough]];
            case edit_op::merge:
            case edit_op::none:
                if (t == nullptr) {
                    if (!is_inner(n)) {
                        if (op == edit_op::none) return true;
                        return insert_copy(parent, first, n, false, nullptr);
                    }
                    lyd_node* shell = nullptr;
                    if (!insert_copy(parent, first, n, false, &shell)) return false;
                    if (!apply_siblings(shell, nullptr, lyd_child(n), op == edit_op::create ? edit_op::merge : op))
                        return false;
                    if (op == edit_op::none) {
                        bool only_keys = true;
                        for (lyd_node* c = lyd_child(shell); c != nullptr; c = c->next)
                            if (!is_key(c)) only_keys = false;
                        if (only_keys) remove_node(first, shell);
                    }
                    return true;
                }
                if (!is_inner(t)) {
                    if (op == edit_op::none) return true;
                    if (t->schema->nodetype == LYS_LEAFLIST) return true;  // found: same value
                    LY_ERR rc = lyd_change_term(t, lyd_get_value(n));
                    if (rc != LY_SUCCESS && rc != LY_EEXIST && rc != LY_ENOT)
                        return fail("invalid-value", n, "invalid value");
                    return true;
                }
                t->flags &= ~LYD_DEFAULT;
                return apply_siblings(t, nullptr, lyd_child(n), op == edit_op::create ? edit_op::merge : op);
            case edit_op::replace:
                if (t != nullptr) remove_node(first, t);
                return insert_copy(parent, first, n, true, nullptr);
            case edit_op::del:
                if (t == nullptr) return fail("data-missing", n, "there is no such node to delete");
                remove_node(first, t);
                return true;
            case edit_op::remove:
                if (t != nullptr) remove_node(first, t);
                return true;
        }
        return true;
    }
};

// The nodes of `src` an XPath selects, with their ancestors, as a new tree in *out.
status select(const ly_ctx* ctx, const lyd_node* src, const std::string& xpath, lyd_node** out) {
    ly_set* set = nullptr;
    if (lyd_find_xpath(src, xpath.c_str(), &set) != LY_SUCCESS) return ly_error(ctx, "xpath: ");
    tree result;
    for (uint32_t i = 0; i < set->count; ++i) {
        lyd_node* d = nullptr;
        if (lyd_dup_single(set->dnodes[i], nullptr, LYD_DUP_RECURSIVE | LYD_DUP_WITH_PARENTS | LYD_DUP_WITH_FLAGS,
                           &d) != LY_SUCCESS)
            continue;
        while (d->parent != nullptr) d = lyd_parent(d);
        lyd_merge_siblings(&result.first, d, LYD_MERGE_DESTRUCT);
    }
    ly_set_free(set, nullptr);
    *out = result.release();
    return std::nullopt;
}

// One line per changed leaf between two trees: "+ path = value", "- path", "~ path: a -> b".
void diff_lines(const lyd_node* diff, std::string& out) {
    for (const lyd_node* top = diff; top != nullptr; top = top->next) {
        const lyd_node* n = nullptr;
        LYD_TREE_DFS_BEGIN(top, n) {
            const lyd_meta* m = lyd_find_meta(n->meta, nullptr, "yang:operation");
            std::string op = m != nullptr ? lyd_get_meta_value(m) : "";
            if (n->schema != nullptr && (n->schema->nodetype & (LYS_LEAF | LYS_LEAFLIST))) {
                const lyd_node* p = n;
                while (op.empty() && p->parent != nullptr) {
                    p = lyd_parent(p);
                    const lyd_meta* pm = lyd_find_meta(p->meta, nullptr, "yang:operation");
                    if (pm != nullptr) op = lyd_get_meta_value(pm);
                }
                std::string path = node_path(n);
                std::string val = lyd_get_value(n) != nullptr ? lyd_get_value(n) : "";
                if (op == "create") {
                    out += "+ " + path + " = " + val + "\n";
                } else if (op == "delete") {
                    out += "- " + path + " = " + val + "\n";
                } else if (op == "replace") {
                    const lyd_meta* ov = lyd_find_meta(n->meta, nullptr, "yang:orig-value");
                    out += "~ " + path + ": " + (ov != nullptr ? lyd_get_meta_value(ov) : "?") + " -> " + val + "\n";
                }
            }
            LYD_TREE_DFS_END(top, n);
        }
    }
}

}  // namespace

int http_status_of(const rpc_error& e) {
    const std::string& t = e.tag;
    if (t == "in-use" || t == "lock-denied" || t == "resource-denied" || t == "data-exists") return 409;
    if (t == "invalid-value" || t == "too-big" || t == "missing-attribute" || t == "bad-attribute" ||
        t == "unknown-attribute" || t == "bad-element" || t == "unknown-element" || t == "unknown-namespace" ||
        t == "malformed-message" || t == "missing-element")
        return t == "too-big" ? 413 : 400;
    if (t == "access-denied") return 403;
    // The edit's target is missing: 404. A reference the data needs is missing (leafref, RFC 7950
    // 15.5: app-tag instance-required; mandatory nodes): RFC 8040's 409.
    if (t == "data-missing") return e.app_tag.empty() && e.message.find("Mandatory") == std::string::npos ? 404 : 409;
    if (t == "operation-not-supported") return 501;
    return 500;  // operation-failed, partial-operation, rollback-failed
}

struct datastore::impl {
    datastore_options opt;
    dataplane_link* link = nullptr;
    ly_ctx* ctx = nullptr;
    std::mutex m;
    tree running, candidate;
    uint64_t generation = 0;  // of running; also the last history id
    uint32_t next_session = 1000000;
    uint32_t lock_running = 0, lock_candidate = 0;  // session ids; 0: free
    std::vector<history_entry> hist;

    struct pending_confirm {
        bool active = false;
        uint32_t session = 0;
        std::string persist;
        tree rollback_to;
        std::chrono::steady_clock::time_point deadline;
    } confirm;

    ~impl() {
        running = tree();
        candidate = tree();
        confirm.rollback_to = tree();
        if (ctx != nullptr) ly_ctx_destroy(ctx);
    }

    fs::path dir() const { return fs::path(opt.state_dir); }
    fs::path history_dir() const { return dir() / "history"; }

    status check_lock(ds which, const session_info& s) const {
        uint32_t owner = which == ds::running ? lock_running : lock_candidate;
        if (owner != 0 && owner != s.id) {
            rpc_error e = err("in-use", "",
                              std::string(which == ds::running ? "running" : "candidate") + " is locked by session " +
                                  std::to_string(owner));
            e.lock_owner = owner;
            return e;
        }
        return std::nullopt;
    }

    status validate_locked(tree& t, snapshot_out* snap, uint64_t gen) {
        if (t.first != nullptr && lyd_validate_all(&t.first, ctx, LYD_VALIDATE_NO_STATE, nullptr) != LY_SUCCESS)
            return ly_error(ctx, "");
        snapshot_out local;
        return yang_to_snapshot(t.first, gen, snap != nullptr ? *snap : local);
    }

    bool candidate_dirty_locked() const {
        if (running.first == nullptr || candidate.first == nullptr) return running.first != candidate.first;
        return lyd_compare_siblings(running.first, candidate.first, LYD_COMPARE_FULL_RECURSION) != LY_SUCCESS;
    }

    std::string diff_locked(const lyd_node* a, const lyd_node* b) const {
        lyd_node* d = nullptr;
        if (lyd_diff_siblings(a, b, 0, &d) != LY_SUCCESS) return "";
        std::string out;
        diff_lines(d, out);
        lyd_free_all(d);
        return out;
    }

    void audit(const session_info& s, const std::string& op, uint64_t id, const status& result, const std::string& diff,
               const std::string& comment) {
        std::string line = "{\"ts\":" + json_str(now_rfc3339()) + ",\"user\":" + json_str(s.user) +
                           ",\"session\":" + std::to_string(s.id) + ",\"transport\":" + json_str(s.transport) +
                           ",\"operation\":" + json_str(op) + ",\"id\":" + std::to_string(id) +
                           ",\"result\":" + json_str(result ? "rejected" : "applied");
        if (result) line += ",\"error\":" + json_str(result->message);
        if (!comment.empty()) line += ",\"comment\":" + json_str(comment);
        line += ",\"diff\":" + json_str(diff) + "}\n";
        std::ofstream f(dir() / "audit.log", std::ios::app);
        f << line;
        f.flush();
    }

    void save_history_index() {
        std::string out;
        for (const auto& h : hist)
            out += "{\"id\":" + std::to_string(h.id) + ",\"time\":" + json_str(h.time) +
                   ",\"user\":" + json_str(h.user) + ",\"session\":" + std::to_string(h.session) +
                   ",\"transport\":" + json_str(h.transport) + ",\"operation\":" + json_str(h.operation) +
                   ",\"comment\":" + json_str(h.comment) + "}\n";
        std::string why;
        if (!write_atomic(dir() / "history.jsonl", out, why))
            tl::log(level::error, "mgmtd.persist_failed", "history index not written: " + why);
    }

    // The two-phase push and, after the ack, running := t (persisted, recorded).
    status commit_tree(tree t, const session_info& s, const std::string& op, const std::string& comment) {
        const uint64_t gen = generation + 1;
        snapshot_out snap;
        if (auto e = validate_locked(t, &snap, gen)) {
            audit(s, op, gen, e, "", comment);
            return e;
        }
        if (link == nullptr) return err("operation-failed", "", "no data plane link");
        if (auto why = link->prepare(snap.bytes, gen)) {
            status e =
                err("operation-failed", "/meshgate-config:meshgate", "the data plane rejected the config: " + *why);
            audit(s, op, gen, e, "", comment);
            tl::log(level::warning, "commit.rejected", e->message, {{"user", s.user}, {"generation", gen}});
            return e;
        }
        if (auto why = link->activate(gen)) {
            status e = err("operation-failed", "", "the data plane did not activate the config: " + *why);
            audit(s, op, gen, e, "", comment);
            return e;
        }
        const bool was_dirty = candidate_dirty_locked();
        std::string diff = diff_locked(running.first, t.first);
        running = std::move(t);
        generation = gen;
        if (!was_dirty || op == "commit" || op == "confirmed-commit" || op == "confirm-timeout" ||
            op == "cancel-commit" || op == "session-ended-rollback")
            candidate = dup_tree(running.first);
        std::string why;
        std::string json = print_json(running.first);
        if (!write_atomic(dir() / "running.json", json, why) ||
            !write_atomic(history_dir() / (std::to_string(gen) + ".json"), json, why))
            tl::log(level::error, "mgmtd.persist_failed", "running config not persisted: " + why);
        hist.push_back(history_entry{gen, now_rfc3339(), s.user, s.id, s.transport, op, comment});
        while (hist.size() > opt.history_keep) {
            std::error_code ec;
            fs::remove(history_dir() / (std::to_string(hist.front().id) + ".json"), ec);
            hist.erase(hist.begin());
        }
        save_history_index();
        audit(s, op, gen, std::nullopt, diff, comment);
        tl::log(level::info, "commit.applied", op + ": generation " + std::to_string(gen) + " is running",
                {{"user", s.user},
                 {"session", uint64_t{s.id}},
                 {"transport", s.transport},
                 {"generation", gen},
                 {"operation", op}});
        return std::nullopt;
    }

    status rollback_confirmed_locked(const std::string& why_op) {
        session_info sys{0, "mgmtd", "mgmtd", false};
        tree back = dup_tree(confirm.rollback_to.first);
        auto e = commit_tree(std::move(back), sys, why_op, "confirmed commit not confirmed");
        if (e) return e;
        confirm = pending_confirm{};
        tl::log(level::warning, "commit.rolled_back", "confirmed commit rolled back (" + why_op + ")",
                {{"generation", generation}});
        return std::nullopt;
    }
};

datastore::datastore(std::unique_ptr<impl> p) : p_(std::move(p)) {}
datastore::~datastore() = default;

result<std::unique_ptr<datastore>> datastore::open(const datastore_options& opt, dataplane_link* link) {
    auto p = std::make_unique<impl>();
    p->opt = opt;
    p->link = link;
    ly_log_options(LY_LOSTORE_LAST);  // errors are reported as rpc-errors, not printed
    if (ly_ctx_new(opt.yang_dir.empty() ? nullptr : opt.yang_dir.c_str(), LY_CTX_DISABLE_SEARCHDIR_CWD, &p->ctx) !=
        LY_SUCCESS)
        return error{"libyang: cannot create a context"};
    ly_ctx_set_searchdir(p->ctx, yuma_ietf_dir);
    const char* nc_features[] = {
        "writable-running", "candidate", "confirmed-commit", "rollback-on-error", "validate", "xpath", nullptr};
    if (ly_ctx_load_module(p->ctx, "ietf-netconf", "2011-06-01", nc_features) == nullptr)
        return error{"ietf-netconf@2011-06-01 not found (install libyuma-base: " + std::string(yuma_ietf_dir) + ")"};
    if (ly_ctx_load_module(p->ctx, "ietf-netconf-with-defaults", nullptr, nullptr) == nullptr)
        return error{"ietf-netconf-with-defaults not found in " + std::string(yuma_ietf_dir)};
    if (ly_ctx_load_module(p->ctx, "ietf-netconf-monitoring", nullptr, nullptr) == nullptr)
        return error{"ietf-netconf-monitoring not found in " + std::string(yuma_ietf_dir)};
    if (ly_ctx_load_module(p->ctx, "meshgate-config", nullptr, nullptr) == nullptr)
        return error{"meshgate-config.yang not found or invalid in \"" + opt.yang_dir + "\""};

    std::error_code ec;
    fs::create_directories(p->history_dir(), ec);
    if (ec) return error{"stateDir: cannot create " + p->history_dir().string() + ": " + ec.message()};

    // History index and the generation.
    {
        std::ifstream f(p->dir() / "history.jsonl");
        std::string line;
        while (std::getline(f, line)) {
            // Written by save_history_index: a flat JSON object per line; parse the fields we need.
            auto field = [&](const std::string& k) -> std::string {
                auto at = line.find("\"" + k + "\":");
                if (at == std::string::npos) return "";
                at += k.size() + 3;
                if (line[at] == '"') {
                    std::string v;
                    for (size_t i = at + 1; i < line.size() && line[i] != '"'; ++i) {
                        if (line[i] == '\\' && i + 1 < line.size()) ++i;
                        v += line[i];
                    }
                    return v;
                }
                return line.substr(at, line.find_first_of(",}", at) - at);
            };
            history_entry h;
            h.id = std::strtoull(field("id").c_str(), nullptr, 10);
            if (h.id == 0) continue;
            h.time = field("time");
            h.user = field("user");
            h.session = static_cast<uint32_t>(std::strtoul(field("session").c_str(), nullptr, 10));
            h.transport = field("transport");
            h.operation = field("operation");
            h.comment = field("comment");
            p->hist.push_back(h);
            p->generation = std::max(p->generation, h.id);
        }
    }

    fs::path running_file = p->dir() / "running.json";
    std::string source;
    if (fs::exists(running_file)) {
        source = running_file.string();
    } else if (!opt.initial_config.empty()) {
        source = opt.initial_config;
    }
    if (!source.empty()) {
        lyd_node* t = nullptr;
        if (lyd_parse_data_path(p->ctx, source.c_str(), LYD_JSON, LYD_PARSE_STRICT | LYD_PARSE_NO_STATE,
                                LYD_VALIDATE_NO_STATE, &t) != LY_SUCCESS) {
            auto e = ly_error(p->ctx, source + ": ");
            return error{e.message};
        }
        p->running = tree(t);
        snapshot_out snap;
        if (auto e = yang_to_snapshot(p->running.first, 1, snap)) return error{source + ": " + e->message};
        if (source != running_file.string()) {
            // First start: the initial config becomes commit generation+1 of the history.
            std::string why, json = print_json(p->running.first);
            const uint64_t gen = ++p->generation;
            if (!write_atomic(running_file, json, why) ||
                !write_atomic(p->history_dir() / (std::to_string(gen) + ".json"), json, why))
                return error{why};
            p->hist.push_back(history_entry{gen, now_rfc3339(), "mgmtd", 0, "mgmtd", "initial", source});
            p->save_history_index();
        }
    }
    p->candidate = dup_tree(p->running.first);
    return std::unique_ptr<datastore>(new datastore(std::move(p)));
}

ly_ctx* datastore::context() const noexcept {
    return p_->ctx;
}

uint32_t datastore::new_session_id() {
    std::lock_guard g(p_->m);
    return ++p_->next_session;
}

status datastore::get_config(ds which, const std::string& xpath, lyd_node** out) {
    std::lock_guard g(p_->m);
    *out = nullptr;
    const lyd_node* src = which == ds::running ? p_->running.first : p_->candidate.first;
    if (xpath.empty() || xpath == "/") {
        *out = dup_tree(src).release();
        return std::nullopt;
    }
    if (src == nullptr) return std::nullopt;
    return select(p_->ctx, src, xpath, out);
}

status datastore::get_all(const std::string& xpath, lyd_node** out) {
    *out = nullptr;
    std::string state;
    if (p_->link != nullptr) {
        auto s = p_->link->state_json();
        if (s) state = std::move(s.value());
    }
    std::lock_guard g(p_->m);
    tree all = dup_tree(p_->running.first);
    if (!state.empty()) {
        lyd_node* st = nullptr;
        if (lyd_parse_data_mem(p_->ctx, state.c_str(), LYD_JSON, LYD_PARSE_ONLY, 0, &st) == LY_SUCCESS) {
            lyd_merge_siblings(&all.first, st, LYD_MERGE_DESTRUCT);
        } else {
            tl::log(level::warning, "mgmtd.state_invalid", ly_error(p_->ctx, "data plane state: ").message);
        }
    }
    if (xpath.empty() || xpath == "/") {
        *out = all.release();
        return std::nullopt;
    }
    if (all.first == nullptr) return std::nullopt;
    return select(p_->ctx, all.first, xpath, out);
}

status datastore::edit(ds target, const session_info& s, const lyd_node* edit, edit_op default_op, bool test_only) {
    std::lock_guard g(p_->m);
    if (s.read_only && !test_only) return err("access-denied", "", "user " + s.user + " has the read-only role");
    if (auto e = p_->check_lock(target, s)) return e;
    if (target == ds::running)
        if (auto e = p_->check_lock(ds::candidate, s)) return e;
    tree work = dup_tree(target == ds::running ? p_->running.first : p_->candidate.first);
    editor ed;
    if (!ed.apply_siblings(nullptr, &work.first, edit, default_op)) return ed.e;
    if (work.first != nullptr && lyd_validate_all(&work.first, p_->ctx, LYD_VALIDATE_NO_STATE, nullptr) != LY_SUCCESS)
        return ly_error(p_->ctx, "");
    if (test_only) {
        snapshot_out snap;
        return yang_to_snapshot(work.first, p_->generation + 1, snap);
    }
    if (target == ds::candidate) {
        p_->candidate = std::move(work);
        return std::nullopt;
    }
    return p_->commit_tree(std::move(work), s, "edit-running", "");
}

status datastore::replace_all(ds target, const session_info& s, const lyd_node* config) {
    std::lock_guard g(p_->m);
    if (s.read_only) return err("access-denied", "", "user " + s.user + " has the read-only role");
    if (auto e = p_->check_lock(target, s)) return e;
    tree work = dup_tree(config);
    if (work.first != nullptr && lyd_validate_all(&work.first, p_->ctx, LYD_VALIDATE_NO_STATE, nullptr) != LY_SUCCESS)
        return ly_error(p_->ctx, "");
    if (target == ds::candidate) {
        p_->candidate = std::move(work);
        return std::nullopt;
    }
    if (auto e = p_->check_lock(ds::candidate, s)) return e;
    return p_->commit_tree(std::move(work), s, "copy-config", "");
}

status datastore::copy_running_to_candidate(const session_info& s) {
    std::lock_guard g(p_->m);
    if (s.read_only) return err("access-denied", "", "user " + s.user + " has the read-only role");
    if (auto e = p_->check_lock(ds::candidate, s)) return e;
    p_->candidate = dup_tree(p_->running.first);
    return std::nullopt;
}

status datastore::lock(ds which, const session_info& s) {
    std::lock_guard g(p_->m);
    if (s.read_only) return err("access-denied", "", "user " + s.user + " has the read-only role");
    uint32_t& owner = which == ds::running ? p_->lock_running : p_->lock_candidate;
    const char* name = which == ds::running ? "running" : "candidate";
    if (owner != 0) {
        rpc_error e = err("lock-denied", "",
                          std::string(name) + " is already locked by session " + std::to_string(owner), "protocol");
        e.lock_owner = owner;
        return e;
    }
    if (which == ds::candidate && p_->candidate_dirty_locked()) {
        rpc_error e = err("lock-denied", "",
                          "candidate has uncommitted changes: commit or discard them before locking it", "protocol");
        return e;
    }
    owner = s.id;
    return std::nullopt;
}

status datastore::unlock(ds which, const session_info& s) {
    std::lock_guard g(p_->m);
    uint32_t& owner = which == ds::running ? p_->lock_running : p_->lock_candidate;
    const char* name = which == ds::running ? "running" : "candidate";
    if (owner != s.id)
        return err("operation-failed", "",
                   std::string(name) + " is not locked by this session" +
                       (owner != 0 ? " (session " + std::to_string(owner) + " holds it)" : ""),
                   "protocol");
    owner = 0;
    if (which == ds::candidate) p_->candidate = dup_tree(p_->running.first);  // RFC 6241 8.3.5.2: discard
    return std::nullopt;
}

void datastore::session_ended(uint32_t session_id) {
    std::lock_guard g(p_->m);
    if (p_->lock_running == session_id) p_->lock_running = 0;
    if (p_->lock_candidate == session_id) {
        p_->lock_candidate = 0;
        p_->candidate = dup_tree(p_->running.first);
    }
    if (p_->confirm.active && p_->confirm.session == session_id && p_->confirm.persist.empty()) {
        if (auto e = p_->rollback_confirmed_locked("session-ended-rollback"))
            tl::log(level::error, "commit.rollback_failed", "confirmed commit rollback failed: " + e->message);
    }
}

status datastore::validate(ds which) {
    std::lock_guard g(p_->m);
    tree t = dup_tree(which == ds::running ? p_->running.first : p_->candidate.first);
    return p_->validate_locked(t, nullptr, p_->generation + 1);
}

status datastore::validate_tree(const lyd_node* config) {
    std::lock_guard g(p_->m);
    tree t = dup_tree(config);
    return p_->validate_locked(t, nullptr, p_->generation + 1);
}

status datastore::commit(const session_info& s, const commit_options& o) {
    std::lock_guard g(p_->m);
    if (s.read_only) return err("access-denied", "", "user " + s.user + " has the read-only role");
    if (auto e = p_->check_lock(ds::running, s)) return e;
    if (auto e = p_->check_lock(ds::candidate, s)) return e;
    auto& c = p_->confirm;
    if (c.active) {
        // A follow-up commit: it must come from the same session, or name the persist id.
        if (!c.persist.empty()) {
            if (o.persist_id != c.persist)
                return err("invalid-value", "",
                           "a confirmed commit with a persist id is pending: give its persist-id to confirm it");
        } else if (c.session != s.id) {
            return err("in-use", "",
                       "a confirmed commit of session " + std::to_string(c.session) +
                           " is pending; only that session can confirm it");
        }
    } else if (!o.persist_id.empty()) {
        return err("invalid-value", "", "no confirmed commit with persist-id \"" + o.persist_id + "\" is pending");
    }
    const bool pending_before = c.active;
    tree rollback_point = pending_before ? tree() : dup_tree(p_->running.first);
    const bool changed = p_->candidate_dirty_locked();
    std::string op = o.confirmed ? "confirmed-commit" : (pending_before ? "confirm" : "commit");
    if (changed) {
        if (auto e = p_->commit_tree(dup_tree(p_->candidate.first), s, op, o.comment)) return e;
    } else if (pending_before && !o.confirmed) {
        session_info who = s;
        p_->audit(who, "confirm", p_->generation, std::nullopt, "", o.comment);
    }
    if (o.confirmed) {
        if (!pending_before) {
            c.rollback_to = std::move(rollback_point);
            c.session = s.id;
        }
        c.active = true;
        c.persist = o.persist;
        c.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.confirm_timeout_s);
        tl::log(level::info, "commit.confirm_pending",
                "confirmed commit: rolls back in " + std::to_string(o.confirm_timeout_s) + " s unless confirmed",
                {{"generation", p_->generation}, {"session", uint64_t{s.id}}});
    } else if (pending_before) {
        c = impl::pending_confirm{};
        tl::log(level::info, "commit.confirmed", "confirmed commit confirmed", {{"generation", p_->generation}});
    }
    return std::nullopt;
}

status datastore::cancel_commit(const session_info& s, const std::string& persist_id) {
    std::lock_guard g(p_->m);
    if (s.read_only) return err("access-denied", "", "user " + s.user + " has the read-only role");
    auto& c = p_->confirm;
    if (!c.active) return err("invalid-value", "", "no confirmed commit is pending");
    if (!c.persist.empty()) {
        if (persist_id != c.persist) return err("invalid-value", "", "persist-id does not match the pending commit");
    } else if (c.session != s.id) {
        return err("in-use", "", "the pending confirmed commit belongs to session " + std::to_string(c.session));
    }
    return p_->rollback_confirmed_locked("cancel-commit");
}

status datastore::discard_changes(const session_info& s) {
    std::lock_guard g(p_->m);
    if (s.read_only) return err("access-denied", "", "user " + s.user + " has the read-only role");
    if (auto e = p_->check_lock(ds::candidate, s)) return e;
    p_->candidate = dup_tree(p_->running.first);
    return std::nullopt;
}

status datastore::rollback(const session_info& s, uint64_t id, const std::string& comment) {
    std::lock_guard g(p_->m);
    if (s.read_only) return err("access-denied", "", "user " + s.user + " has the read-only role");
    if (auto e = p_->check_lock(ds::running, s)) return e;
    if (auto e = p_->check_lock(ds::candidate, s)) return e;
    if (p_->confirm.active) return err("in-use", "", "a confirmed commit is pending: confirm or cancel it first");
    fs::path f = p_->history_dir() / (std::to_string(id) + ".json");
    if (!fs::exists(f)) return err("data-missing", "", "no commit " + std::to_string(id) + " in the history");
    lyd_node* t = nullptr;
    if (lyd_parse_data_path(p_->ctx, f.c_str(), LYD_JSON, LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, LYD_VALIDATE_NO_STATE,
                            &t) != LY_SUCCESS)
        return ly_error(p_->ctx, f.string() + ": ");
    return p_->commit_tree(tree(t), s, "rollback", comment.empty() ? "rollback to " + std::to_string(id) : comment);
}

std::vector<history_entry> datastore::history() {
    std::lock_guard g(p_->m);
    return p_->hist;
}

bool datastore::candidate_dirty() {
    std::lock_guard g(p_->m);
    return p_->candidate_dirty_locked();
}

std::string datastore::diff_text() {
    std::lock_guard g(p_->m);
    return p_->diff_locked(p_->running.first, p_->candidate.first);
}

uint64_t datastore::running_generation() {
    std::lock_guard g(p_->m);
    return p_->generation;
}

bool datastore::confirmed_commit_pending() {
    std::lock_guard g(p_->m);
    return p_->confirm.active;
}

void datastore::tick(std::chrono::steady_clock::time_point now) {
    std::lock_guard g(p_->m);
    if (p_->confirm.active && now >= p_->confirm.deadline) {
        if (auto e = p_->rollback_confirmed_locked("confirm-timeout"))
            tl::log(level::error, "commit.rollback_failed",
                    "confirmed commit timed out; rollback failed (retrying): " + e->message);
    }
}

status datastore::repush_running() {
    std::lock_guard g(p_->m);
    if (p_->running.first == nullptr) return err("operation-failed", "", "running is empty: nothing to push");
    const uint64_t gen = std::max<uint64_t>(p_->generation, 1);
    snapshot_out snap;
    if (auto e = yang_to_snapshot(p_->running.first, gen, snap)) return e;
    if (p_->link == nullptr) return err("operation-failed", "", "no data plane link");
    if (auto why = p_->link->prepare(snap.bytes, gen)) return err("operation-failed", "", *why);
    if (auto why = p_->link->activate(gen)) return err("operation-failed", "", *why);
    tl::log(level::info, "commit.repushed", "running config pushed to the data plane", {{"generation", gen}});
    return std::nullopt;
}

}  // namespace meshgate::mgmt
