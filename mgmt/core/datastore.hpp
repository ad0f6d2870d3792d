#pragma once
// mgmtd's configuration datastores (RFC 6241 semantics) over libyang data trees, shared by the
// NETCONF and RESTCONF front ends. Thread-safe: every public method takes one internal mutex,
// so a commit is atomic with respect to every other operation.
//
// - running: what the data plane runs. Persisted as RFC 7951 JSON (temp + fsync + rename), with
//   a numbered history of every commit for rollback, and an audit log (who, when, session, diff).
// - candidate: a scratch copy edited by NETCONF edit-config (and RESTCONF's /restconf/ds/
//   ietf-datastores:candidate). commit makes it running; discard-changes resets it.
// - A commit is two-phase: validate (YANG + the data plane's own rules, in process), then the
//   data plane prepares (compiles) the snapshot and acks or nacks, then activates. Only after the
//   ack does the config become running and get persisted. A nack changes nothing.
// - confirmed-commit (RFC 6241 8.4): a confirmed commit rolls itself back when not confirmed in
//   time, when cancelled, or when its session ends (unless it has a persist id).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/result.hpp"

struct ly_ctx;
struct lyd_node;

namespace meshgate::mgmt {

// An RFC 6241 <rpc-error>. RESTCONF maps the tag to its status code (RFC 8040 section 7).
struct rpc_error {
    std::string type = "application";      // "transport", "rpc", "protocol" or "application"
    std::string tag = "operation-failed";  // RFC 6241 appendix A: invalid-value, data-exists,
                                           // data-missing, lock-denied, in-use, access-denied,
                                           // malformed-message, operation-failed, ...
    std::string path;                      // error-path: the instance identifier of the offending node, if any
    std::string message;                   // error-message, human readable, names the field
    std::string app_tag;                   // error-app-tag, if any
    uint32_t lock_owner = 0;               // lock-denied: the session holding the lock (error-info session-id)
};
using status = std::optional<rpc_error>;  // nullopt: ok

enum class ds { running, candidate };

// RFC 6241 7.2 operations. `none` exists only as a default-operation.
enum class edit_op { merge, replace, create, del, remove, none };

struct session_info {
    uint32_t id = 0;  // unique across NETCONF and RESTCONF (see datastore::new_session_id)
    std::string user;
    std::string transport;   // "netconf", "restconf", "mgmtd"
    bool read_only = false;  // the user's role; writes are refused with access-denied
};

struct commit_options {
    bool confirmed = false;
    uint32_t confirm_timeout_s = 600;  // RFC 6241 default
    std::string persist;               // confirmed commit that survives its session; later confirmed by id
    std::string persist_id;            // confirms (or, for cancel, names) a persisted confirmed commit
    std::string comment;               // recorded in the history and audit log
};

struct history_entry {
    uint64_t id = 0;   // also the generation pushed to the data plane
    std::string time;  // RFC 3339 UTC
    std::string user;
    uint32_t session = 0;
    std::string transport;
    std::string operation;  // "commit", "confirmed-commit", "rollback", "confirm-timeout", ...
    std::string comment;
};

// The data plane link as seen by the datastore (implemented by push_client; a test can pass its
// own). prepare/activate return nullopt on ack, or the reason on nack / no data plane.
class dataplane_link {
public:
    virtual ~dataplane_link() = default;
    virtual std::optional<std::string> prepare(const std::string& snapshot_bytes, uint64_t generation) = 0;
    virtual std::optional<std::string> activate(uint64_t generation) = 0;
    virtual void abort(uint64_t generation) = 0;
    // RFC 7951 JSON of meshgate-config:operational; an error when no data plane answers.
    virtual result<std::string> state_json() = 0;
};

struct datastore_options {
    std::string yang_dir;         // meshgate-config.yang; ietf-netconf* come from /usr/share/yuma/modules/ietf
    std::string state_dir;        // running.json, history/, audit.log (created if missing)
    std::string initial_config;   // RFC 7951 JSON used when state_dir has no running.json ("": empty)
    uint32_t history_keep = 100;  // numbered history entries kept for rollback
};

class datastore {
public:
    // Loads the modules (meshgate-config, ietf-netconf, ietf-netconf-with-defaults,
    // ietf-netconf-monitoring) and running from state_dir (or initial_config).
    static result<std::unique_ptr<datastore>> open(const datastore_options& opt, dataplane_link* link);
    ~datastore();
    datastore(const datastore&) = delete;
    datastore& operator=(const datastore&) = delete;

    // The libyang context; the front ends parse and build trees in it. Read-only after open().
    ly_ctx* context() const noexcept;
    uint32_t new_session_id();  // for the front ends; never 0

    // --- reading. *out is a new tree (the caller frees it with lyd_free_all), may be null (empty).
    // xpath "" or "/": everything; otherwise an XPath 1.0 filter on the tree
    // (e.g. "/meshgate-config:meshgate/service[name='web4']"); the result keeps the ancestors.
    status get_config(ds which, const std::string& xpath, lyd_node** out);
    // running config plus meshgate-config:operational from the data plane (the NETCONF <get>).
    status get_all(const std::string& xpath, lyd_node** out);

    // --- editing. `edit` is a data tree (the caller keeps ownership) whose nodes may carry the
    // metadata ietf-netconf:operation; nodes without it inherit their parent's, top-level ones
    // use default_op. error_option "rollback-on-error" (the only one supported besides
    // "stop-on-error", which behaves the same here: an edit is applied whole or not at all).
    // test_only: validate the result against the model, change nothing.
    // Target running: the edited running is committed at once (RESTCONF's /restconf/data,
    // NETCONF copy-config to running), going through the data plane like any commit.
    status edit(ds target, const session_info& s, const lyd_node* edit, edit_op default_op, bool test_only = false);
    // Replaces the whole target with `config` (copy-config). config may be null (empty).
    status replace_all(ds target, const session_info& s, const lyd_node* config);
    status copy_running_to_candidate(const session_info& s);  // copy-config source running

    // --- locks (RFC 6241 7.5/7.6). Locking the candidate fails while it has uncommitted changes.
    status lock(ds which, const session_info& s);
    status unlock(ds which, const session_info& s);
    // A session ended (close-session, kill-session, transport closed): its locks go, and its
    // unconfirmed, non-persisted confirmed commit rolls back.
    void session_ended(uint32_t session_id);

    // --- validate / commit.
    status validate(ds which);
    status validate_tree(const lyd_node* config);  // a whole config (NETCONF <validate> with <config>)
    status commit(const session_info& s, const commit_options& o);
    status cancel_commit(const session_info& s, const std::string& persist_id);
    status discard_changes(const session_info& s);
    // Makes history entry `id` running again (as a new commit).
    status rollback(const session_info& s, uint64_t id, const std::string& comment = "");

    // --- inspection.
    std::vector<history_entry> history();
    bool candidate_dirty();
    // Unified-style text diff between running and candidate (RFC 7951 JSON, one line per leaf).
    std::string diff_text();
    uint64_t running_generation();
    bool confirmed_commit_pending();

    // Confirmed-commit timeouts; the daemon calls this about once a second.
    void tick(std::chrono::steady_clock::time_point now);
    // The data plane (re)connected: push running to it again (prepare + activate).
    status repush_running();

private:
    struct impl;
    explicit datastore(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

// RFC 8040 section 7: the HTTP status of an rpc-error tag.
int http_status_of(const rpc_error& e);

}  // namespace meshgate::mgmt
