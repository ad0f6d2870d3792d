// RESTCONF request -> XPath / edit tree mapping (mgmt/restconf/restconf_map.hpp), against the real
// meshgate-config module; no datastore, no sockets.
#include "mgmt/restconf/restconf_map.hpp"

#include <gtest/gtest.h>
#include <libyang/libyang.h>

#include <cstdlib>
#include <string>

#include "mgmt/restconf/json.hpp"

namespace meshgate::mgmt::restconf {
namespace {

class RestconfMap : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const char* dir = std::getenv("MESHGATE_YANG_DIR");
        ASSERT_NE(dir, nullptr) << "MESHGATE_YANG_DIR not set";
        ly_log_options(LY_LOSTORE_LAST);
        ASSERT_EQ(ly_ctx_new(dir, 0, &ctx_), LY_SUCCESS);
        ly_ctx_set_searchdir(ctx_, "/usr/share/yuma/modules/ietf");
        ASSERT_NE(ly_ctx_load_module(ctx_, "meshgate-config", nullptr, nullptr), nullptr);
        ASSERT_NE(ly_ctx_load_module(ctx_, "ietf-netconf", nullptr, nullptr), nullptr);
    }
    static void TearDownTestSuite() { ly_ctx_destroy(ctx_); }

    static std::string print(const lyd_node* t) {
        char* mem = nullptr;
        lyd_print_mem(&mem, t, LYD_JSON, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK);
        std::string s = mem ? mem : "";
        std::free(mem);
        return s;
    }

    static lyd_node* parse(const std::string& json) {
        lyd_node* t = nullptr;
        EXPECT_EQ(lyd_parse_data_mem(ctx_, json.c_str(), LYD_JSON, LYD_PARSE_ONLY, 0, &t), LY_SUCCESS);
        return t;
    }

    static ly_ctx* ctx_;
};
ly_ctx* RestconfMap::ctx_ = nullptr;

TEST_F(RestconfMap, DatastoreRoot) {
    api_path p;
    EXPECT_FALSE(parse_api_path(ctx_, "", p));
    EXPECT_EQ(p.schema, nullptr);
    EXPECT_FALSE(parse_api_path(ctx_, "/", p));
    EXPECT_EQ(p.xpath, "");
}

TEST_F(RestconfMap, ListKeysBecomePredicates) {
    api_path p;
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=web4/backend=198.18.2.2,8080", p));
    EXPECT_EQ(p.xpath, "/meshgate-config:meshgate/service[name='web4']/backend[address='198.18.2.2'][port='8080']");
    EXPECT_EQ(p.parent_xpath, "/meshgate-config:meshgate/service[name='web4']");
    ASSERT_NE(p.schema, nullptr);
    EXPECT_STREQ(p.schema->name, "backend");
    EXPECT_EQ(p.keys, (std::vector<std::string>{"198.18.2.2", "8080"}));
}

TEST_F(RestconfMap, PercentEncodedKeys) {
    api_path p;
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/route=10.0.0.0%2F8/interface", p));
    EXPECT_EQ(p.xpath, "/meshgate-config:meshgate/route[prefix='10.0.0.0/8']/interface");
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/firewall/rule=it%27s", p));
    EXPECT_EQ(p.xpath, "/meshgate-config:meshgate/firewall/rule[name=\"it's\"]");
    EXPECT_EQ(encode_key("10.0.0.0/8"), "10.0.0.0%2F8");
    EXPECT_EQ(encode_key("a,b c"), "a%2Cb%20c");
}

TEST_F(RestconfMap, LeafListInstance) {
    api_path p;
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=s/source-address=198.18.2.1", p));
    EXPECT_EQ(p.xpath, "/meshgate-config:meshgate/service[name='s']/source-address[.='198.18.2.1']");
}

TEST_F(RestconfMap, Errors) {
    api_path p;
    auto e = parse_api_path(ctx_, "/meshgate-config:meshgate/nosuch", p);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 404);
    e = parse_api_path(ctx_, "/nosuch-module:x", p);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 404);
    e = parse_api_path(ctx_, "/meshgate/service", p);  // no module on the first segment
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400);
    e = parse_api_path(ctx_, "/meshgate-config:meshgate/service=a,b", p);  // one key
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400);
    e = parse_api_path(ctx_, "/meshgate-config:meshgate/service/port", p);  // keys missing mid-path
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400);
    e = parse_api_path(ctx_, "/meshgate-config:meshgate/service=a%2", p);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400);
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service", p));
    EXPECT_TRUE(p.keyless_list);
}

TEST_F(RestconfMap, PutListEntryFillsKeysAndSetsReplace) {
    api_path p;
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=web9", p));
    edit_result r;
    auto e = build_edit(ctx_, p, write_method::put,
                        R"({"meshgate-config:service":[{"vip":"198.18.50.20","protocol":"tcp","port":80,
                            "backend":[{"address":"198.18.2.2","port":8080}]}]})",
                        "", r);
    ASSERT_FALSE(e) << e->err.message;
    ASSERT_NE(r.tree, nullptr);
    std::string s = print(r.tree);
    EXPECT_NE(s.find(R"({"@":{"ietf-netconf:operation":"replace"},"name":"web9")"), std::string::npos) << s;
    EXPECT_NE(s.find(R"("ietf-netconf:operation":"replace")"), std::string::npos) << s;
    EXPECT_NE(s.find(R"("name":"web9")"), std::string::npos) << s;
    lyd_free_all(r.tree);
}

TEST_F(RestconfMap, PutLeaf) {
    api_path p;
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=web4/backend=198.18.2.2,8080/weight", p));
    edit_result r;
    auto e = build_edit(ctx_, p, write_method::put, R"({"meshgate-config:weight":5})", "", r);
    ASSERT_FALSE(e) << e->err.message;
    std::string s = print(r.tree);
    EXPECT_NE(s.find(R"("weight":5)"), std::string::npos) << s;
    EXPECT_NE(s.find(R"("@weight":{"ietf-netconf:operation":"replace"})"), std::string::npos) << s;
    lyd_free_all(r.tree);
}

TEST_F(RestconfMap, PutMismatchedBody) {
    api_path p;
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=web4", p));
    edit_result r;
    auto e = build_edit(ctx_, p, write_method::put, R"({"meshgate-config:route":[{"prefix":"1.0.0.0/8"}]})", "", r);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400);
    e = build_edit(ctx_, p, write_method::put, R"({"meshgate-config:service":[{"name":"other"}]})", "", r);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->err.tag, "invalid-value");
}

TEST_F(RestconfMap, MalformedAndInvalidBodies) {
    api_path p;
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=web4/port", p));
    edit_result r;
    auto e = build_edit(ctx_, p, write_method::put, R"({"meshgate-config:port": )", "", r);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->err.tag, "malformed-message");
    e = build_edit(ctx_, p, write_method::put, R"({"meshgate-config:port": 70000})", "", r);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->err.tag, "invalid-value");
    EXPECT_NE(e->err.message.find("70000"), std::string::npos) << e->err.message;
}

TEST_F(RestconfMap, PostCreatesChildWithLocation) {
    api_path p;
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=web4", p));
    edit_result r;
    auto e = build_edit(ctx_, p, write_method::post,
                        R"({"meshgate-config:backend":[{"address":"198.18.3.9","port":81}]})", "", r);
    ASSERT_FALSE(e) << e->err.message;
    EXPECT_EQ(r.location, "/meshgate-config:meshgate/service=web4/backend=198.18.3.9,81");
    std::string s = print(r.tree);
    EXPECT_NE(s.find(R"("ietf-netconf:operation":"create")"), std::string::npos) << s;
    lyd_free_all(r.tree);

    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate", p));
    e = build_edit(ctx_, p, write_method::post,
                   R"({"meshgate-config:route":[{"prefix":"10.0.0.0/8","interface":"x"}]})", "", r);
    ASSERT_FALSE(e) << e->err.message;
    EXPECT_EQ(r.location, "/meshgate-config:meshgate/route=10.0.0.0%2F8");
    lyd_free_all(r.tree);
}

TEST_F(RestconfMap, DeleteLeafAndEntry) {
    api_path p;
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=web4/backend=198.18.2.2,8080", p));
    edit_result r;
    ASSERT_FALSE(build_edit(ctx_, p, write_method::del, "", "", r));
    std::string s = print(r.tree);
    EXPECT_NE(s.find(R"("ietf-netconf:operation":"delete")"), std::string::npos) << s;
    lyd_free_all(r.tree);
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=web4/port", p));
    ASSERT_FALSE(build_edit(ctx_, p, write_method::del, "", "80", r));
    lyd_free_all(r.tree);
}

TEST_F(RestconfMap, StateIsNotWritable) {
    api_path p;
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:operational/uptime", p));
    edit_result r;
    auto e = build_edit(ctx_, p, write_method::put, R"({"meshgate-config:uptime":"1"})", "", r);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 405);
}

TEST_F(RestconfMap, RenderGet) {
    lyd_node* t = parse(R"({"meshgate-config:meshgate":{"service":[
        {"name":"a","vip":"198.18.50.1","protocol":"tcp","port":80,"backend":[{"address":"198.18.2.2","port":1}]},
        {"name":"b","vip":"198.18.50.2","protocol":"udp","port":53,"backend":[{"address":"198.18.2.2","port":2}]}]},
        "meshgate-config:operational":{"uptime":"5"}})");
    ASSERT_NE(t, nullptr);
    api_path p;
    std::string out;
    print_options o;
    ASSERT_FALSE(parse_api_path(ctx_, "", p));
    ASSERT_FALSE(render_get(ctx_, p, t, o, out));
    auto v = json::parse(out);
    ASSERT_TRUE(v);
    ASSERT_TRUE(v->find("ietf-restconf:data"));
    EXPECT_TRUE(v->find("ietf-restconf:data")->find("meshgate-config:operational"));

    o.content = content_filter::config;
    ASSERT_FALSE(render_get(ctx_, p, t, o, out));
    EXPECT_EQ(out.find("operational"), std::string::npos) << out;
    o.content = content_filter::nonconfig;
    ASSERT_FALSE(render_get(ctx_, p, t, o, out));
    EXPECT_EQ(out.find("service"), std::string::npos) << out;
    o.content = content_filter::all;

    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=b", p));
    ASSERT_FALSE(render_get(ctx_, p, t, o, out));
    EXPECT_EQ(out.substr(0, 28), R"({"meshgate-config:service":[)") << out;
    EXPECT_EQ(out.find("\"a\""), std::string::npos) << out;

    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service", p));  // every entry
    ASSERT_FALSE(render_get(ctx_, p, t, o, out));
    v = json::parse(out);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->find("meshgate-config:service")->items().size(), 2u) << out;

    o.depth = 1;
    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=a", p));
    ASSERT_FALSE(render_get(ctx_, p, t, o, out));
    EXPECT_EQ(out.find("backend"), std::string::npos) << out;
    o.depth = 0;

    ASSERT_FALSE(parse_api_path(ctx_, "/meshgate-config:meshgate/service=zz", p));
    auto e = render_get(ctx_, p, t, o, out);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 404);
    lyd_free_all(t);
}

TEST(RestconfErrors, CleanLibyangPath) {
    EXPECT_EQ(clean_error_path("Schema location \"/m:a/b\", line number 1."), "/m:a/b");
    EXPECT_EQ(clean_error_path("Schema location \"/m:a/b\", data location \"/m:a[k='v']/b\"."), "/m:a[k='v']/b");
    EXPECT_EQ(clean_error_path("/m:a[k='v']"), "/m:a[k='v']");
}

TEST(RestconfErrors, Document) {
    rpc_error e;
    e.type = "application";
    e.tag = "data-exists";
    e.path = "/meshgate-config:meshgate/service[name='a']";
    e.message = "exists \"x\"";
    auto v = json::parse(errors_json(e));
    ASSERT_TRUE(v);
    const json::value& err = v->find("ietf-restconf:errors")->find("error")->items().at(0);
    EXPECT_EQ(err.find("error-tag")->text(), "data-exists");
    EXPECT_EQ(err.find("error-message")->text(), "exists \"x\"");
}

TEST(Json, RoundTrip) {
    auto v = json::parse(R"( {"a":[1,-2.5e3,"x\u00e9\ud83d\ude00",true,null],"b":{}} )");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->dump(), "{\"a\":[1,-2.5e3,\"x\xc3\xa9\xf0\x9f\x98\x80\",true,null],\"b\":{}}");
    std::string why;
    EXPECT_FALSE(json::parse("{\"a\":1,}", &why));
    EXPECT_FALSE(json::parse("{\"a\":1,\"a\":2}", &why));
    EXPECT_FALSE(json::parse("[01]", &why));
    EXPECT_FALSE(json::parse("\"\x01\"", &why));
}

}  // namespace
}  // namespace meshgate::mgmt::restconf
