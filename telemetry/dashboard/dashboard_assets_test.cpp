// The embedded dashboard: every URL the page loads resolves, with the right type and content.
#include "telemetry/dashboard/dashboard_assets.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

using meshgate::telemetry::dashboard_assets;
using meshgate::telemetry::find_dashboard_asset;

TEST(DashboardAssets, PageAtRootAndDashboard) {
    const auto* root = find_dashboard_asset("/");
    ASSERT_NE(root, nullptr);
    EXPECT_EQ(root->content_type, "text/html; charset=utf-8");
    EXPECT_NE(root->body.find("<!doctype html>"), std::string_view::npos);
    for (const char* p : {"/dashboard", "/dashboard/", "/index.html", "/?refresh=1"}) {
        const auto* a = find_dashboard_asset(p);
        ASSERT_NE(a, nullptr) << p;
        EXPECT_EQ(a->body, root->body) << p;
    }
}

TEST(DashboardAssets, EveryScriptAndStylesheetThePageNamesIsEmbedded) {
    const std::string_view page = find_dashboard_asset("/")->body;
    for (const char* p : {"/assets/app.js", "/assets/style.css", "/assets/chart.umd.min.js"}) {
        EXPECT_NE(page.find(std::string("\"") + p + "\""), std::string_view::npos) << p;
        const auto* a = find_dashboard_asset(p);
        ASSERT_NE(a, nullptr) << p;
        EXPECT_GT(a->body.size(), 100u) << p;
    }
    EXPECT_EQ(find_dashboard_asset("/assets/app.js")->content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(find_dashboard_asset("/assets/style.css")->content_type, "text/css; charset=utf-8");
}

TEST(DashboardAssets, ChartJsIsTheRealLibraryWithoutSourceMap) {
    const auto* c = find_dashboard_asset("/assets/chart.umd.min.js");
    ASSERT_NE(c, nullptr);
    EXPECT_NE(c->body.find("Chart.js v4."), std::string_view::npos);
    EXPECT_NE(c->body.find("MIT License"), std::string_view::npos);
    EXPECT_EQ(c->body.find("sourceMappingURL"), std::string_view::npos);
    EXPECT_GT(c->body.size(), 100000u);
}

TEST(DashboardAssets, UnknownPathsAreNotFound) {
    for (const char* p : {"", "/metrics", "/assets/", "/assets/app.js.map", "/assets/../index.html", "/DASHBOARD"})
        EXPECT_EQ(find_dashboard_asset(p), nullptr) << p;
}

TEST(DashboardAssets, PathsAreUniqueAndVersionIsStable) {
    std::set<std::string_view> paths;
    for (const auto& a : dashboard_assets()) EXPECT_TRUE(paths.insert(a.path).second) << a.path;
    EXPECT_EQ(meshgate::telemetry::dashboard_assets_version().size(), 16u);
}

}  // namespace
