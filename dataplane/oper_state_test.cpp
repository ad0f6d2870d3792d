#include "dataplane/oper_state.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace meshgate::dataplane {
namespace {

oper_state sample() {
    oper_state s;
    s.config_generation = 12;
    s.uptime_seconds = 3600;
    s.workers = 2;
    s.has_reloads = true;
    s.reloads_applied = 3;
    s.reloads_rejected = 1;
    s.reloads_last_ok = false;
    s.reloads_last_unix = 1795796400.25;
    s.interfaces.push_back({"client", 0, 10, 1000, 20, 2000, {{"no_route", 4}, {"acl_denied", 0}}});
    s.interfaces.push_back({"srv1,srv1v", 1, 1, 2, 3, 4, {{"no_route", 0}}});
    s.icmp_errors_sent = 5;
    s.icmp_echo_replies = 6;
    s.neighbors = {{"incomplete", 0}, {"reachable", 2}, {"permanent", 1}};
    s.sessions_active = 18446744073709551615ULL;  // beyond a double's exact range: a string
    s.sessions_created = 40;
    oper_state::service web{"web", 2, 1, {}};
    web.backends.push_back({"198.18.2.10", 8080, true, 7, 70, 60, 7000, 6000});
    web.backends.push_back({"fd00:2::10", 8080, false, 0, 0, 0, 0, 0});
    web.backends.push_back({"198.18.2.10", 8080, true, 1, 1, 1, 1, 1});  // duplicate key: merged
    s.services.push_back(web);
    s.services.push_back({"empty", 0, 0, {}});
    s.acl_rules = {{"ssh", "deny", 3}, {"other", "mixed", 1}, {"default", "allow", 9}, {"ssh", "log", 1}};
    s.snat_pools = {{"out", 12, 64512}};
    tap_metrics_row t;
    t.name = "cap";
    t.running = true;
    t.matched = 5;
    t.files = 2;
    s.taps.push_back(t);
    return s;
}

TEST(OperState, SplitsBackendKeys) {
    std::string a;
    uint16_t p = 0;
    ASSERT_TRUE(split_backend_key("198.18.2.2:80", a, p));
    EXPECT_EQ(a, "198.18.2.2");
    EXPECT_EQ(p, 80);
    ASSERT_TRUE(split_backend_key("[fd00:2::2]:8080", a, p));
    EXPECT_EQ(a, "fd00:2::2");
    EXPECT_EQ(p, 8080);
    EXPECT_FALSE(split_backend_key("fd00:2::2:80", a, p));
    EXPECT_FALSE(split_backend_key("198.18.2.2:", a, p));
    EXPECT_FALSE(split_backend_key("198.18.2.2:70000", a, p));
    EXPECT_FALSE(split_backend_key("[]:80", a, p));
}

TEST(OperState, Rfc7951Encoding) {
    auto j = to_json(sample());
    EXPECT_EQ(
        j.rfind("{\"meshgate-config:operational\":{\"config-generation\":\"12\",\"uptime\":\"3600\",\"workers\":2,", 0),
        0U)
        << j;
    EXPECT_NE(j.find("\"last-attempt\":\"2026-11-27T"), std::string::npos) << j;
    EXPECT_NE(j.find("\"active\":\"18446744073709551615\""), std::string::npos);
    EXPECT_NE(j.find("{\"address\":\"198.18.2.10\",\"port\":8080,\"up\":true,\"connections\":\"8\""), std::string::npos)
        << j;
    EXPECT_EQ(j.find("\"198.18.2.10\"", j.find("fd00:2::10")), std::string::npos) << "merged duplicate";
    EXPECT_NE(j.find("{\"rule\":\"other\",\"hits\":\"1\"}"), std::string::npos) << "no YANG action for mixed";
    EXPECT_NE(j.find("{\"rule\":\"ssh\",\"hits\":\"4\"}"), std::string::npos) << j;
    EXPECT_NE(j.find("\"files\":2"), std::string::npos);
}

// The rendered sample validates against the YANG model (yanglint, when installed).
TEST(OperState, ValidatesAgainstTheYangModel) {
    const char* dir = std::getenv("MESHGATE_YANG_DIR");
    if (dir == nullptr) GTEST_SKIP() << "MESHGATE_YANG_DIR not set";
    // State data validates beside a config (the model's config has mandatory nodes).
    std::string yang = std::string(dir) + "/meshgate-config.yang";
    std::string config = std::string(dir) + "/examples/lab-l4.json";
    if (access(yang.c_str(), R_OK) != 0 || access(config.c_str(), R_OK) != 0)
        GTEST_SKIP() << "no " << yang << " or " << config;
    if (std::system("command -v yanglint >/dev/null 2>&1") != 0) GTEST_SKIP() << "no yanglint";
    char path[] = "/tmp/oper_state_test.XXXXXX.json";
    int fd = mkstemps(path, 5);
    ASSERT_GE(fd, 0);
    close(fd);
    for (const auto& s : {sample(), oper_state{}}) {
        {
            std::ofstream out(path);
            out << to_json(s);
        }
        std::string cmd = "yanglint -t data -m -p '" + std::string(dir) + "' '" + yang + "' '" + config + "' '" + path +
                          "' >/dev/null 2>/tmp/oper_state_test.err";
        int rc = std::system(cmd.c_str());
        std::ifstream err("/tmp/oper_state_test.err");
        std::string msg((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
        EXPECT_EQ(rc, 0) << to_json(s) << "\n" << msg;
    }
    std::remove(path);
}

}  // namespace
}  // namespace meshgate::dataplane
