// NETCONF subtree filters (RFC 6241 section 6) as the XPath the datastore evaluates: the filter
// comes from a real <get-config> parsed the way libnetconf2 parses it (lyd_parse_op, NETCONF RPC).
// The protocol as a whole is covered by tests/integration/mgmt/netconf_test.py (ncclient).
#include <gtest/gtest.h>
#include <libyang/libyang.h>

#include <cstring>
#include <string>

namespace meshgate::mgmt {
std::string netconf_subtree_to_xpath(const ly_ctx* ctx, const lyd_node* filter);

namespace {

class subtree_filter_test : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(ly_ctx_new(MESHGATE_SOURCE_DIR "/mgmt/yang", LY_CTX_DISABLE_SEARCHDIR_CWD, &ctx), LY_SUCCESS);
        ly_ctx_set_searchdir(ctx, "/usr/share/yuma/modules/ietf");
        const char* features[] = {"candidate", "confirmed-commit", "rollback-on-error", "validate", "xpath", nullptr};
        ASSERT_NE(ly_ctx_load_module(ctx, "ietf-netconf", "2011-06-01", features), nullptr);
        ASSERT_NE(ly_ctx_load_module(ctx, "meshgate-config", nullptr, nullptr), nullptr);
    }
    void TearDown() override {
        lyd_free_all(envelope);
        lyd_free_all(op);
        ly_ctx_destroy(ctx);
    }

    // The XPath of <filter type="subtree">content</filter> in a <get-config>.
    std::string xpath(const std::string& content) {
        lyd_free_all(envelope);
        lyd_free_all(op);
        envelope = op = nullptr;
        const std::string rpc =
            "<rpc xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\" message-id=\"1\"><get-config><source><running/>"
            "</source><filter type=\"subtree\">" +
            content + "</filter></get-config></rpc>";
        ly_in* in = nullptr;
        EXPECT_EQ(ly_in_new_memory(rpc.c_str(), &in), LY_SUCCESS);
        LY_ERR rc = lyd_parse_op(ctx, nullptr, in, LYD_XML, LYD_TYPE_RPC_NETCONF, &envelope, &op);
        ly_in_free(in, 0);
        EXPECT_EQ(rc, LY_SUCCESS) << content;
        if (rc != LY_SUCCESS) return "(parse error)";
        for (const lyd_node* c = lyd_child(op); c; c = c->next) {
            if (!std::strcmp(c->schema->name, "filter")) return netconf_subtree_to_xpath(ctx, c);
        }
        return "(no filter)";
    }

    ly_ctx* ctx = nullptr;
    lyd_node* envelope = nullptr;
    lyd_node* op = nullptr;
};

const std::string mg = "xmlns=\"urn:meshgate:config\"";

TEST_F(subtree_filter_test, selection_nodes) {
    EXPECT_EQ(xpath("<meshgate " + mg + "/>"), "/meshgate-config:meshgate");
    EXPECT_EQ(xpath("<meshgate " + mg + "><flows/></meshgate>"), "/meshgate-config:meshgate/flows");
    EXPECT_EQ(xpath("<meshgate " + mg + "><service/></meshgate>"), "/meshgate-config:meshgate/service");
    EXPECT_EQ(xpath("<meshgate " + mg + "><flows><udp-timeout/></flows></meshgate>"),
              "/meshgate-config:meshgate/flows/udp-timeout");
}

TEST_F(subtree_filter_test, content_match_on_a_key_selects_the_whole_entry) {
    EXPECT_EQ(xpath("<meshgate " + mg + "><service><name>web4</name></service></meshgate>"),
              "/meshgate-config:meshgate/service[name='web4']");
    EXPECT_EQ(xpath("<meshgate " + mg +
                    "><service><name>web4</name></service><service><name>web6</name></service>"
                    "</meshgate>"),
              "/meshgate-config:meshgate/service[name='web4'] | /meshgate-config:meshgate/service[name='web6']");
}

TEST_F(subtree_filter_test, content_match_with_selection_nodes) {
    EXPECT_EQ(
        xpath("<meshgate " + mg + "><service><name>web4</name><vip/></service></meshgate>"),
        "/meshgate-config:meshgate/service[name='web4']/vip | /meshgate-config:meshgate/service[name='web4']/name");
    EXPECT_EQ(xpath("<meshgate " + mg + "><service><protocol>tcp</protocol><port>80</port></service></meshgate>"),
              "/meshgate-config:meshgate/service[protocol='tcp'][port='80']");
}

TEST_F(subtree_filter_test, unknown_elements_select_nothing) {
    EXPECT_EQ(xpath("<meshgate " + mg + "><bogus/></meshgate>"), "");
    EXPECT_EQ(xpath("<other xmlns=\"urn:example:other\"/>"), "");
    EXPECT_EQ(xpath(""), "");
}

TEST_F(subtree_filter_test, quotes_in_values) {
    EXPECT_EQ(xpath("<meshgate " + mg + "><service><name>a\"b</name></service></meshgate>"),
              "/meshgate-config:meshgate/service[name='a\"b']");
    EXPECT_EQ(xpath("<meshgate " + mg + "><service><name>it's \"q\"</name></service></meshgate>"),
              "/meshgate-config:meshgate/service[name=concat('it', \"'\", 's \"q\"')]");
}

}  // namespace
}  // namespace meshgate::mgmt
