#include "telemetry/prometheus.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace meshgate::telemetry;

TEST(prom_writer, families_samples_and_escaping) {
    prom_writer w;
    w.family("meshgate_build_info", "Build version.", "gauge");
    w.sample("meshgate_build_info", {{"version", "0.1.0"}}, 1);
    w.family("meshgate_interface_rx_packets_total", "Frames received\\per port\nsecond line", "counter");
    w.sample("meshgate_interface_rx_packets_total", {{"interface", "wan\"0\""}, {"port", "0"}}, uint64_t{1000000});
    w.sample("meshgate_interface_rx_packets_total", {{"interface", "a\\b\nc"}, {"port", "1"}},
             uint64_t{18446744073709551615ULL});
    w.family("meshgate_uptime_seconds", "", "gauge");
    w.sample("meshgate_uptime_seconds", {}, 12.5);
    EXPECT_EQ(std::move(w).str(),
              "# HELP meshgate_build_info Build version.\n"
              "# TYPE meshgate_build_info gauge\n"
              "meshgate_build_info{version=\"0.1.0\"} 1\n"
              "# HELP meshgate_interface_rx_packets_total Frames received\\\\per port\\nsecond line\n"
              "# TYPE meshgate_interface_rx_packets_total counter\n"
              "meshgate_interface_rx_packets_total{interface=\"wan\\\"0\\\"\",port=\"0\"} 1000000\n"
              "meshgate_interface_rx_packets_total{interface=\"a\\\\b\\nc\",port=\"1\"} 18446744073709551615\n"
              "# TYPE meshgate_uptime_seconds gauge\n"
              "meshgate_uptime_seconds 12.5\n");
}

TEST(prom_writer, interleaved_families_are_grouped_and_written_once) {
    prom_writer w;
    for (int port = 0; port < 2; ++port) {
        std::string p = std::to_string(port);
        w.family("rx_total", "Received.", "counter");
        w.sample("rx_total", {{"port", p}}, port * 10);
        w.family("tx_total", "Sent.", "counter");
        w.sample("tx_total", {{"port", p}}, port * 20);
    }
    EXPECT_EQ(std::move(w).str(),
              "# HELP rx_total Received.\n"
              "# TYPE rx_total counter\n"
              "rx_total{port=\"0\"} 0\n"
              "rx_total{port=\"1\"} 10\n"
              "# HELP tx_total Sent.\n"
              "# TYPE tx_total counter\n"
              "tx_total{port=\"0\"} 0\n"
              "tx_total{port=\"1\"} 20\n");
}

TEST(prom_writer, histogram_is_cumulative_with_inf_sum_and_count) {
    prom_writer w;
    w.family("meshgate_health_check_duration_seconds", "Probe round trip.", "histogram");
    w.histogram("meshgate_health_check_duration_seconds", {{"service", "web"}, {"backend", "b1"}},
                {0.001, 0.01, 0.1, 1}, {2, 3, 0, 1, 4}, 12.25);
    w.histogram("meshgate_health_check_duration_seconds", {}, {0.5}, {1, 0}, 0.25);
    EXPECT_EQ(std::move(w).str(),
              "# HELP meshgate_health_check_duration_seconds Probe round trip.\n"
              "# TYPE meshgate_health_check_duration_seconds histogram\n"
              "meshgate_health_check_duration_seconds_bucket{service=\"web\",backend=\"b1\",le=\"0.001\"} 2\n"
              "meshgate_health_check_duration_seconds_bucket{service=\"web\",backend=\"b1\",le=\"0.01\"} 5\n"
              "meshgate_health_check_duration_seconds_bucket{service=\"web\",backend=\"b1\",le=\"0.1\"} 5\n"
              "meshgate_health_check_duration_seconds_bucket{service=\"web\",backend=\"b1\",le=\"1\"} 6\n"
              "meshgate_health_check_duration_seconds_bucket{service=\"web\",backend=\"b1\",le=\"+Inf\"} 10\n"
              "meshgate_health_check_duration_seconds_sum{service=\"web\",backend=\"b1\"} 12.25\n"
              "meshgate_health_check_duration_seconds_count{service=\"web\",backend=\"b1\"} 10\n"
              "meshgate_health_check_duration_seconds_bucket{le=\"0.5\"} 1\n"
              "meshgate_health_check_duration_seconds_bucket{le=\"+Inf\"} 1\n"
              "meshgate_health_check_duration_seconds_sum 0.25\n"
              "meshgate_health_check_duration_seconds_count 1\n");
}

TEST(prom_writer, histogram_samples_follow_their_family_when_interleaved) {
    prom_writer w;
    w.family("h", "", "histogram");
    w.family("g", "", "gauge");
    w.sample("g", {}, 1);
    w.histogram("h", {}, {1}, {1, 1}, 3);
    w.sample("h_count", {{"x", "y"}}, 7);  // a hand-written series still lands under h
    EXPECT_EQ(std::move(w).str(),
              "# TYPE h histogram\n"
              "h_bucket{le=\"1\"} 1\n"
              "h_bucket{le=\"+Inf\"} 2\n"
              "h_sum 3\n"
              "h_count 2\n"
              "h_count{x=\"y\"} 7\n"
              "# TYPE g gauge\n"
              "g 1\n");
}

TEST(prom_writer, undeclared_family_and_name_sanitising) {
    prom_writer w;
    w.sample("bad-name.total", {{"bad label", "v"}}, 3);
    w.family("bad-name.total", "Now declared.", "counter");  // declared after its first sample
    EXPECT_EQ(std::move(w).str(),
              "# HELP bad_name_total Now declared.\n"
              "# TYPE bad_name_total counter\n"
              "bad_name_total{bad_label=\"v\"} 3\n");
}

TEST(prom_writer, value_formatting) {
    EXPECT_EQ(prom_format_value(1e6), "1000000");
    EXPECT_EQ(prom_format_value(0), "0");
    EXPECT_EQ(prom_format_value(-42), "-42");
    EXPECT_EQ(prom_format_value(9007199254740993.0), "9007199254740992");
    EXPECT_EQ(prom_format_value(0.1), "0.1");
    EXPECT_EQ(prom_format_value(1.5e-7), "1.5e-07");
    EXPECT_EQ(prom_format_value(1e300), "1e+300");
    EXPECT_EQ(prom_format_value(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(prom_format_value(-std::numeric_limits<double>::infinity()), "-Inf");
    EXPECT_EQ(prom_format_value(std::nan("")), "NaN");

    prom_writer w;
    w.sample("i", {}, int64_t{-5});
    w.sample("u", {}, uint64_t{1} << 63);
    w.sample("d", {}, 2.0);
    EXPECT_EQ(std::move(w).str(), "i -5\nu 9223372036854775808\nd 2\n");
}

TEST(prom_writer, content_type) {
    EXPECT_EQ(prom_content_type, "text/plain; version=0.0.4; charset=utf-8");
}
