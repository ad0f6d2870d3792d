// The datastores on real libyang trees and the real meshgate-config module; the data plane link
// is a recorder that acks or nacks as told (the real link is covered by the lab tests).
#include "mgmt/core/datastore.hpp"

#include <gtest/gtest.h>
#include <libyang/libyang.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "push.pb.h"

namespace meshgate::mgmt {
namespace {

namespace fs = std::filesystem;

struct recorder final : dataplane_link {
    std::vector<meshgate::config::v1::Snapshot> prepared;
    std::vector<uint64_t> activated;
    std::optional<std::string> nack;
    std::optional<std::string> prepare(const std::string& bytes, uint64_t generation) override {
        if (nack) return nack;
        meshgate::config::v1::Snapshot s;
        EXPECT_TRUE(s.ParseFromString(bytes));
        EXPECT_EQ(s.generation(), generation);
        prepared.push_back(s);
        return std::nullopt;
    }
    std::optional<std::string> activate(uint64_t generation) override {
        activated.push_back(generation);
        return std::nullopt;
    }
    void abort(uint64_t) override {}
    std::string state;
    result<std::string> state_json() override {
        if (state.empty()) return error{"no data plane in this test"};
        return state;
    }
};

std::string read_file(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

class datastore_test : public ::testing::Test {
protected:
    void SetUp() override {
        dir = fs::temp_directory_path() / ("mg-ds-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        datastore_options o;
        o.yang_dir = std::string(MESHGATE_SOURCE_DIR) + "/mgmt/yang";
        o.state_dir = dir.string();
        o.initial_config = std::string(MESHGATE_SOURCE_DIR) + "/mgmt/yang/examples/lab-l4.json";
        auto r = datastore::open(o, &link);
        ASSERT_TRUE(r) << r.error_message();
        ds = std::move(r).value();
    }
    void TearDown() override {
        ds.reset();
        fs::remove_all(dir);
    }

    // An edit tree from RFC 7951 JSON; the caller frees it.
    lyd_node* parse_edit(const std::string& json) {
        lyd_node* t = nullptr;
        LY_ERR rc = lyd_parse_data_mem(ds->context(), json.c_str(), LYD_JSON,
                                       LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, &t);
        EXPECT_EQ(rc, LY_SUCCESS) << json;
        return t;
    }
    status edit(ds target, const std::string& json, edit_op op = edit_op::merge, const session_info* s = nullptr) {
        lyd_node* t = parse_edit(json);
        auto r = ds->edit(target, s != nullptr ? *s : admin, t, op);
        lyd_free_all(t);
        return r;
    }
    std::string running_json() {
        lyd_node* t = nullptr;
        EXPECT_FALSE(ds->get_config(ds::running, "", &t));
        char* s = nullptr;
        lyd_print_mem(&s, t, LYD_JSON, LYD_PRINT_WITHSIBLINGS);
        std::string out = s != nullptr ? s : "";
        free(s);
        lyd_free_all(t);
        return out;
    }

    fs::path dir;
    recorder link;
    std::unique_ptr<datastore> ds;
    session_info admin{1, "admin", "netconf", false};
    session_info other{2, "ops", "netconf", false};
    session_info viewer{3, "viewer", "restconf", true};
};

const char* add_service = R"({"meshgate-config:meshgate":{"service":[{"name":"dns","vip":"198.18.50.53",
  "protocol":"udp","port":53,"backend":[{"address":"198.18.2.2","port":5353}]}]}})";

TEST_F(datastore_test, initial_config_is_generation_1_in_the_history) {
    EXPECT_EQ(ds->running_generation(), 1u);
    ASSERT_EQ(ds->history().size(), 1u);
    EXPECT_EQ(ds->history()[0].operation, "initial");
    EXPECT_TRUE(fs::exists(dir / "running.json"));
    EXPECT_FALSE(ds->candidate_dirty());
}

TEST_F(datastore_test, candidate_edit_then_commit_pushes_and_persists) {
    ASSERT_FALSE(edit(ds::candidate, add_service));
    EXPECT_TRUE(ds->candidate_dirty());
    EXPECT_TRUE(link.prepared.empty());  // nothing reaches the data plane before commit
    EXPECT_NE(ds->diff_text().find("+ /meshgate-config:meshgate/service[name='dns']/port = 53"), std::string::npos)
        << ds->diff_text();
    ASSERT_FALSE(ds->commit(admin, {}));
    ASSERT_EQ(link.prepared.size(), 1u);
    ASSERT_EQ(link.activated, std::vector<uint64_t>{2});
    const auto& snap = link.prepared[0];
    EXPECT_EQ(snap.generation(), 2u);
    ASSERT_EQ(snap.services_size(), 4);
    EXPECT_EQ(snap.services(3).name(), "dns");
    EXPECT_EQ(snap.services(3).protocol(), "udp");
    EXPECT_EQ(snap.services(3).backends(0).port(), 5353u);
    EXPECT_EQ(snap.interfaces(0).ipv4_addresses(0), "198.18.1.1/24");
    EXPECT_NE(read_file(dir / "running.json").find("\"dns\""), std::string::npos);
    EXPECT_TRUE(fs::exists(dir / "history" / "2.json"));
    EXPECT_NE(read_file(dir / "audit.log").find("\"user\":\"admin\""), std::string::npos);
    EXPECT_FALSE(ds->candidate_dirty());
}

TEST_F(datastore_test, a_data_plane_nack_changes_nothing) {
    const std::string before = running_json();
    const std::string file_before = read_file(dir / "running.json");
    link.nack = "services[3].port: the data plane says no";
    ASSERT_FALSE(edit(ds::candidate, add_service));
    auto e = ds->commit(admin, {});
    ASSERT_TRUE(e);
    EXPECT_EQ(e->tag, "operation-failed");
    EXPECT_NE(e->message.find("the data plane says no"), std::string::npos);
    EXPECT_EQ(running_json(), before);
    EXPECT_EQ(read_file(dir / "running.json"), file_before);
    EXPECT_EQ(ds->running_generation(), 1u);
}

TEST_F(datastore_test, schema_and_leafref_errors_name_the_path) {
    // 70000 does not even parse as a port: the front ends refuse such an edit tree up front.
    lyd_node* t = nullptr;
    EXPECT_NE(
        lyd_parse_data_mem(ds->context(), R"({"meshgate-config:meshgate":{"service":[{"name":"x","port":70000}]}})",
                           LYD_JSON, LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0, &t),
        LY_SUCCESS);
    auto e = edit(
        ds::candidate,
        R"({"meshgate-config:meshgate":{"route":[{"prefix":"10.9.0.0/16","next-hop":"198.18.2.9","interface":"nope"}]}})");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->tag, "data-missing");
    EXPECT_EQ(e->app_tag, "instance-required");
    EXPECT_EQ(http_status_of(*e), 409);
    EXPECT_EQ(e->path, "/meshgate-config:meshgate/route[prefix='10.9.0.0/16']/interface") << e->path;
    EXPECT_EQ(e->message.find("location"), std::string::npos) << e->message;
    EXPECT_FALSE(ds->candidate_dirty());  // a failed edit leaves the candidate as it was
}

TEST_F(datastore_test, data_plane_rules_are_reported_on_the_yang_entry) {
    // YANG accepts a non-prime Maglev table size; the data plane's rules (policy/) do not.
    ASSERT_FALSE(
        edit(ds::candidate, R"({"meshgate-config:meshgate":{"service":[{"name":"web4","maglev-table-size":1000}]}})"));
    auto e = ds->validate(ds::candidate);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->path, "/meshgate-config:meshgate/service[name='web4']") << e->message;
    EXPECT_NE(e->message.find("maglevTableSize"), std::string::npos) << e->message;
    EXPECT_TRUE(ds->commit(admin, {}));
    EXPECT_TRUE(link.prepared.empty());
}

TEST_F(datastore_test, tcp_proxy_service_and_its_settings_reach_the_snapshot) {
    // An IPv4 VIP proxied to an IPv6 backend (its own connection), settings partly set.
    ASSERT_FALSE(edit(ds::candidate, R"({"meshgate-config:meshgate":{"service":[{"name":"proxy4",
      "vip":"198.18.50.20","protocol":"tcp","port":80,"mode":"tcp-proxy","source-address":["fd00:2::1"],
      "backend":[{"address":"fd00:2::2","port":8080}],
      "tcp-proxy":{"min-mss":1200,"congestion-control":"newreno","buffer-bytes":1048576}},
      {"name":"proxy6","vip":"fd00:50::20","protocol":"tcp","port":80,"mode":"tcp-proxy",
      "backend":[{"address":"fd00:2::2","port":8080}]}]}})"));
    ASSERT_FALSE(ds->validate(ds::candidate));
    ASSERT_FALSE(ds->commit(admin, {}));
    const auto& snap = link.prepared.back();
    ASSERT_EQ(snap.services_size(), 5);
    const auto& p4 = snap.services(3);
    EXPECT_EQ(p4.name(), "proxy4");
    EXPECT_EQ(p4.mode(), "tcp-proxy");
    ASSERT_TRUE(p4.has_tcp_proxy());
    EXPECT_EQ(p4.tcp_proxy().min_mss(), 1200u);
    EXPECT_EQ(p4.tcp_proxy().congestion_control(), "newreno");
    EXPECT_EQ(p4.tcp_proxy().buffer_bytes(), 1048576u);
    EXPECT_EQ(p4.tcp_proxy().connect_timeout_ms(), 0u);  // YANG defaults are left to the data plane
    EXPECT_EQ(p4.source_addresses(0), "fd00:2::1");
    EXPECT_EQ(snap.services(4).mode(), "tcp-proxy");
    EXPECT_FALSE(snap.services(4).has_tcp_proxy());  // only defaults: no settings sent

    // Settings on a service that is not a proxy, and tcp-proxy over UDP, are refused by the model.
    auto e = edit(ds::candidate,
                  R"({"meshgate-config:meshgate":{"service":[{"name":"web4","tcp-proxy":{"min-mss":1200}}]}})");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->path, "/meshgate-config:meshgate/service[name='web4']/tcp-proxy") << e->message;
    EXPECT_NE(e->message.find("When condition"), std::string::npos) << e->message;
    e = edit(ds::candidate, R"({"meshgate-config:meshgate":{"service":[{"name":"dns","vip":"198.18.50.53",
      "protocol":"udp","port":53,"mode":"tcp-proxy","backend":[{"address":"198.18.2.2","port":53}]}]}})");
    ASSERT_TRUE(e);
    EXPECT_NE(e->message.find("mode tcp-proxy needs protocol tcp"), std::string::npos) << e->message;
    EXPECT_FALSE(ds->candidate_dirty());
}

TEST_F(datastore_test, create_delete_remove_replace_semantics) {
    auto e =
        edit(ds::candidate,
             R"({"meshgate-config:meshgate":{"service":[{"name":"web4","@":{"ietf-netconf:operation":"create"}}]}})");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->tag, "data-exists");
    e = edit(ds::candidate,
             R"({"meshgate-config:meshgate":{"service":[{"name":"zzz","@":{"ietf-netconf:operation":"delete"}}]}})");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->tag, "data-missing");
    EXPECT_FALSE(
        edit(ds::candidate,
             R"({"meshgate-config:meshgate":{"service":[{"name":"zzz","@":{"ietf-netconf:operation":"remove"}}]}})"));
    EXPECT_FALSE(ds->candidate_dirty());
    ASSERT_FALSE(
        edit(ds::candidate,
             R"({"meshgate-config:meshgate":{"service":[{"name":"nat46","@":{"ietf-netconf:operation":"delete"}}]}})"));
    ASSERT_FALSE(edit(ds::candidate, R"({"meshgate-config:meshgate":{"service":[{"name":"web4","port":8080}]}})"));
    ASSERT_FALSE(ds->commit(admin, {}));
    const auto& snap = link.prepared.back();
    ASSERT_EQ(snap.services_size(), 2);
    EXPECT_EQ(snap.services(0).port(), 8080u);
    EXPECT_EQ(snap.services(0).backends_size(), 2);  // merge kept the rest
}

TEST_F(datastore_test, merge_and_replace_change_leaves_of_small_containers) {
    // icmp and an interface have too few children for libyang's hash lookup of a leaf by schema
    ASSERT_FALSE(edit(ds::candidate, R"({"meshgate-config:meshgate":{"icmp":{"errors-burst":50},
      "interface":[{"name":"srv2","mtu":1400}]}})"));
    ASSERT_FALSE(edit(ds::candidate, R"({"meshgate-config:meshgate":{"icmp":{"errors-per-second":10,
      "@errors-per-second":{"ietf-netconf:operation":"replace"}}}})"));
    ASSERT_FALSE(ds->validate(ds::candidate));
    ASSERT_FALSE(ds->commit(admin, {}));
    const std::string r = running_json();
    EXPECT_NE(r.find("\"errors-burst\": 50"), std::string::npos) << r;
    EXPECT_NE(r.find("\"errors-per-second\": 10"), std::string::npos) << r;
    EXPECT_NE(r.find("\"mtu\": 1400"), std::string::npos) << r;
}

TEST_F(datastore_test, confirmed_commit_rolls_back_when_not_confirmed) {
    const std::string before = running_json();
    ASSERT_FALSE(edit(ds::candidate, add_service));
    commit_options o;
    o.confirmed = true;
    o.confirm_timeout_s = 1;
    ASSERT_FALSE(ds->commit(admin, o));
    EXPECT_TRUE(ds->confirmed_commit_pending());
    EXPECT_NE(running_json(), before);
    ds->tick(std::chrono::steady_clock::now());  // not yet
    EXPECT_TRUE(ds->confirmed_commit_pending());
    ds->tick(std::chrono::steady_clock::now() + std::chrono::seconds(2));
    EXPECT_FALSE(ds->confirmed_commit_pending());
    EXPECT_EQ(running_json(), before);
    EXPECT_EQ(link.activated.size(), 2u);  // the commit, then the rollback
    EXPECT_EQ(link.prepared.back().services_size(), 3);
    EXPECT_EQ(ds->history().back().operation, "confirm-timeout");
}

TEST_F(datastore_test, confirmed_commit_confirmed_stays) {
    ASSERT_FALSE(edit(ds::candidate, add_service));
    commit_options o;
    o.confirmed = true;
    o.confirm_timeout_s = 1;
    o.persist = "p1";
    ASSERT_FALSE(ds->commit(admin, o));
    ds->session_ended(admin.id);  // persisted: survives its session
    EXPECT_TRUE(ds->confirmed_commit_pending());
    commit_options confirm;
    EXPECT_TRUE(ds->commit(other, confirm));  // no persist-id
    confirm.persist_id = "p1";
    ASSERT_FALSE(ds->commit(other, confirm));
    EXPECT_FALSE(ds->confirmed_commit_pending());
    ds->tick(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    EXPECT_NE(running_json().find("\"dns\""), std::string::npos);
}

TEST_F(datastore_test, session_end_rolls_back_an_unpersisted_confirmed_commit) {
    ASSERT_FALSE(edit(ds::candidate, add_service));
    commit_options o;
    o.confirmed = true;
    ASSERT_FALSE(ds->commit(admin, o));
    ds->session_ended(admin.id);
    EXPECT_FALSE(ds->confirmed_commit_pending());
    EXPECT_EQ(running_json().find("\"dns\""), std::string::npos);
}

TEST_F(datastore_test, locks_block_other_sessions_until_released) {
    ASSERT_FALSE(ds->lock(ds::candidate, admin));
    auto e = ds->lock(ds::candidate, other);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->tag, "lock-denied");
    EXPECT_EQ(e->lock_owner, admin.id);
    e = edit(ds::candidate, add_service, edit_op::merge, &other);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->tag, "in-use");
    e = ds->commit(other, {});
    ASSERT_TRUE(e);
    EXPECT_EQ(e->lock_owner, admin.id);
    ds->session_ended(admin.id);  // kill-session
    ASSERT_FALSE(edit(ds::candidate, add_service, edit_op::merge, &other));
    EXPECT_TRUE(ds->lock(ds::candidate, admin));  // dirty candidate: no lock (RFC 6241 7.5)
    ASSERT_FALSE(ds->commit(other, {}));
}

TEST_F(datastore_test, read_only_users_cannot_write) {
    auto e = edit(ds::candidate, add_service, edit_op::merge, &viewer);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->tag, "access-denied");
    EXPECT_EQ(http_status_of(*e), 403);
    EXPECT_TRUE(ds->commit(viewer, {}));
    EXPECT_TRUE(ds->lock(ds::running, viewer));
}

TEST_F(datastore_test, running_edits_commit_at_once_and_rollback_restores) {
    ASSERT_FALSE(edit(ds::running, add_service));
    EXPECT_EQ(ds->running_generation(), 2u);
    EXPECT_FALSE(ds->candidate_dirty());  // the clean candidate follows running
    ASSERT_FALSE(ds->rollback(admin, 1));
    EXPECT_EQ(ds->running_generation(), 3u);
    EXPECT_EQ(running_json().find("\"dns\""), std::string::npos);
    EXPECT_TRUE(ds->rollback(admin, 99));
}

TEST_F(datastore_test, reopen_keeps_running_and_history) {
    ASSERT_FALSE(edit(ds::running, add_service));
    ds.reset();
    datastore_options o;
    o.yang_dir = std::string(MESHGATE_SOURCE_DIR) + "/mgmt/yang";
    o.state_dir = dir.string();
    o.initial_config = std::string(MESHGATE_SOURCE_DIR) + "/mgmt/yang/examples/lab-l4.json";
    auto r = datastore::open(o, &link);
    ASSERT_TRUE(r) << r.error_message();
    ds = std::move(r).value();
    EXPECT_EQ(ds->running_generation(), 2u);
    EXPECT_EQ(ds->history().size(), 2u);
    EXPECT_NE(running_json().find("\"dns\""), std::string::npos);
}

TEST_F(datastore_test, xpath_filters_keep_ancestors) {
    lyd_node* t = nullptr;
    ASSERT_FALSE(ds->get_config(ds::running, "/meshgate-config:meshgate/service[name='web6']", &t));
    ASSERT_NE(t, nullptr);
    char* s = nullptr;
    lyd_print_mem(&s, t, LYD_JSON, LYD_PRINT_WITHSIBLINGS);
    std::string out = s;
    free(s);
    lyd_free_all(t);
    EXPECT_NE(out.find("web6"), std::string::npos);
    EXPECT_EQ(out.find("web4"), std::string::npos);
    EXPECT_TRUE(ds->get_config(ds::running, "/meshgate-config:meshgate/[[", &t));
}

TEST_F(datastore_test, get_all_adds_the_data_plane_state) {
    link.state = read_file(std::string(MESHGATE_SOURCE_DIR) + "/mgmt/yang/examples/operational.json");
    lyd_node* t = nullptr;
    ASSERT_FALSE(ds->get_all("/meshgate-config:operational/config-generation", &t));
    ASSERT_NE(t, nullptr);
    char* s = nullptr;
    lyd_print_mem(&s, t, LYD_JSON, LYD_PRINT_WITHSIBLINGS);
    std::string out = s != nullptr ? s : "";
    free(s);
    lyd_free_all(t);
    EXPECT_NE(out.find("config-generation"), std::string::npos) << out;
    ASSERT_FALSE(ds->get_all("", &t));
    lyd_print_mem(&s, t, LYD_JSON, LYD_PRINT_WITHSIBLINGS);
    out = s != nullptr ? s : "";
    free(s);
    lyd_free_all(t);
    EXPECT_NE(out.find("\"meshgate-config:operational\""), std::string::npos);
    EXPECT_NE(out.find("\"meshgate-config:meshgate\""), std::string::npos);
}

}  // namespace
}  // namespace meshgate::mgmt
