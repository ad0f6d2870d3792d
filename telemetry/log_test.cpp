#include "telemetry/log.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using namespace meshgate::telemetry;
using namespace std::chrono_literals;

namespace {

// 2026-11-27T16:20:00.123Z
const std::chrono::system_clock::time_point fixed_wall{std::chrono::milliseconds(1795796400123LL)};

class log_test : public ::testing::Test {
protected:
    void SetUp() override {
        file_ = std::tmpfile();
        ASSERT_NE(file_, nullptr);
        log_set_clocks_for_test([] { return fixed_wall; }, [this] { return mono_; });
        log_reset_for_test();
        log_configure(format::json, level::debug, file_);
    }
    void TearDown() override {
        log_configure(format::text, level::info, stdout);
        log_set_clocks_for_test({}, {});
        log_reset_for_test();
        std::fclose(file_);
    }
    // Everything written since the last call, split into lines.
    std::vector<std::string> lines() {
        std::fflush(file_);
        long end = std::ftell(file_);
        std::string all(static_cast<size_t>(end - read_), '\0');
        std::fseek(file_, read_, SEEK_SET);
        size_t n = std::fread(all.data(), 1, all.size(), file_);
        all.resize(n);
        std::fseek(file_, 0, SEEK_END);
        read_ = end;
        std::vector<std::string> out;
        size_t pos = 0;
        while (pos < all.size()) {
            size_t nl = all.find('\n', pos);
            EXPECT_NE(nl, std::string::npos) << "every line ends with a newline";
            if (nl == std::string::npos) break;
            out.push_back(all.substr(pos, nl - pos));
            pos = nl + 1;
        }
        return out;
    }

    FILE* file_ = nullptr;
    long read_ = 0;
    std::chrono::steady_clock::time_point mono_{std::chrono::seconds(1000)};
};

}  // namespace

TEST_F(log_test, timestamp_format) {
    EXPECT_EQ(format_timestamp(fixed_wall), "2026-11-27T16:20:00.123Z");
    EXPECT_EQ(format_timestamp(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
}

TEST_F(log_test, json_line_with_every_field_type) {
    log(level::info, "config.reload", "applied generation 7",
        {{"generation", 7},
         {"port", uint16_t{9100}},
         {"big", std::numeric_limits<uint64_t>::max()},
         {"neg", -3},
         {"ratio", 0.25},
         {"whole", 1e6},
         {"ok", true},
         {"name", "wan0"},
         {"owned", std::string("x")},
         {"nan", std::numeric_limits<double>::quiet_NaN()}});
    auto l = lines();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0],
              R"({"ts":"2026-11-27T16:20:00.123Z","level":"info","event":"config.reload","msg":"applied generation 7",)"
              R"("generation":7,"port":9100,"big":18446744073709551615,"neg":-3,"ratio":0.25,"whole":1000000,)"
              R"("ok":true,"name":"wan0","owned":"x","nan":"NaN"})");
}

TEST_F(log_test, json_escaping) {
    std::string ctl = "a\"b\\c\nd\te";
    ctl.push_back('\x01');
    ctl.push_back('\x1f');
    ctl.push_back('\0');
    log(level::warning, "ev\"ent", ctl,
        {{"k\n", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"}, {"bad", "\xff\xc3(x\xed\xa0\x80"}});
    auto l = lines();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0], R"({"ts":"2026-11-27T16:20:00.123Z","level":"warning","event":"ev\"ent",)"
                    R"("msg":"a\"b\\c\u000ad\u0009e\u0001\u001f\u0000","k\u000a":"café € 😀",)"
                    R"("bad":"\ufffd\ufffd(x\ufffd\ufffd\ufffd"})");
}

TEST_F(log_test, text_line_keeps_message_and_quotes_values) {
    log_configure(format::text, level::info, file_);
    log(level::error, "tap.write", "cannot write /var/lib/meshgate/t1.pcapng: No space left on device",
        {{"tap", "t1"},
         {"bytes", uint64_t{4096}},
         {"reason", "disk full"},
         {"empty", ""},
         {"q", "a\"b=c"},
         {"f", 1.5}});
    log(level::info, "multi", "line one\nline two");
    auto l = lines();
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0],
              "2026-11-27T16:20:00.123Z error tap.write: cannot write /var/lib/meshgate/t1.pcapng: No space left on "
              "device tap=t1 bytes=4096 reason=\"disk full\" empty=\"\" q=\"a\\\"b=c\" f=1.5");
    EXPECT_EQ(l[1], "2026-11-27T16:20:00.123Z info multi: line one\\nline two");
}

TEST_F(log_test, level_filtering) {
    log_configure(format::json, level::warning, file_);
    EXPECT_FALSE(log_enabled(level::info));
    EXPECT_TRUE(log_enabled(level::error));
    log(level::debug, "a", "no");
    log(level::info, "b", "no");
    log(level::warning, "c", "yes");
    log(level::error, "d", "yes");
    auto l = lines();
    ASSERT_EQ(l.size(), 2u);
    EXPECT_NE(l[0].find(R"("event":"c")"), std::string::npos);
    EXPECT_NE(l[1].find(R"("event":"d")"), std::string::npos);
    // Filtered lines are not rate-limited lines: nothing is counted as suppressed.
    EXPECT_FALSE(log_limited("k", 1, 1.0, level::info, "e", "m"));
    EXPECT_FALSE(log_limited("k", 1, 1.0, level::info, "e", "m"));
    EXPECT_EQ(log_suppressed_total(), 0u);
}

TEST_F(log_test, rate_limit_counts_and_reports_suppressed_lines) {
    int emitted = 0;
    for (int i = 0; i < 10; ++i)
        emitted += log_limited("arp.flood", 3, 1.0, level::warning, "arp.flood", "too many", {{"i", i}}) ? 1 : 0;
    EXPECT_EQ(emitted, 3);
    EXPECT_EQ(log_suppressed_total(), 7u);
    // Another key has its own budget.
    EXPECT_TRUE(log_limited("other", 1, 1.0, level::info, "other", "x"));
    EXPECT_FALSE(log_limited("other", 1, 1.0, level::info, "other", "x"));
    EXPECT_EQ(log_suppressed_total(), 8u);

    mono_ += 999ms;
    EXPECT_FALSE(log_limited("arp.flood", 3, 1.0, level::warning, "arp.flood", "too many", {{"i", 10}}));
    mono_ += 1ms;  // the window has passed
    EXPECT_TRUE(log_limited("arp.flood", 3, 1.0, level::warning, "arp.flood", "too many", {{"i", 11}}));
    EXPECT_TRUE(log_limited("arp.flood", 3, 1.0, level::warning, "arp.flood", "too many", {{"i", 12}}));

    auto l = lines();
    ASSERT_EQ(l.size(), 6u);
    const std::string head =
        R"({"ts":"2026-11-27T16:20:00.123Z","level":"warning","event":"arp.flood","msg":"too many",)";
    EXPECT_EQ(l[0], head + R"("i":0})");
    EXPECT_EQ(l[2], head + R"("i":2})");
    EXPECT_EQ(l[4], head + R"("i":11,"suppressed":8})");  // 7 + the one at 999 ms
    EXPECT_EQ(l[5], head + R"("i":12})");                 // reported once only
    EXPECT_EQ(log_suppressed_total(), 9u);

    log_configure(format::text, level::info, file_);
    EXPECT_TRUE(log_limited("t", 1, 60, level::info, "t", "m"));
    EXPECT_FALSE(log_limited("t", 1, 60, level::info, "t", "m"));
    mono_ += 60s;
    EXPECT_TRUE(log_limited("t", 1, 60, level::info, "t", "m", {{"k", "v"}}));
    l = lines();
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[1], "2026-11-27T16:20:00.123Z info t: m k=v suppressed=1");
}

TEST_F(log_test, concurrent_lines_do_not_interleave) {
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([t] {
            for (int i = 0; i < 200; ++i)
                log(level::info, "thread", std::string(100, static_cast<char>('a' + t)), {{"i", i}});
        });
    for (auto& th : threads) th.join();
    auto l = lines();
    ASSERT_EQ(l.size(), 800u);
    for (const auto& line : l) {
        ASSERT_TRUE(line.starts_with("{\"ts\":")) << line;
        ASSERT_TRUE(line.ends_with("}")) << line;
    }
}
