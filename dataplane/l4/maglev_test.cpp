// Maglev table properties from the paper (NSDI 2016, section 3.4 and 5.3): balance, weights,
// minimal disruption on backend changes, determinism across instances, and the lookup mapping.
#include "dataplane/l4/maglev.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace meshgate::dataplane::l4 {
namespace {

constexpr uint32_t table_size = 65537;

std::string key_of(uint32_t i) {
    return "198.18." + std::to_string(2 + i / 200) + "." + std::to_string(10 + i % 200) + ":80";
}

std::vector<maglev_backend> equal_backends(uint32_t n) {
    std::vector<maglev_backend> v;
    for (uint32_t i = 0; i < n; ++i) v.push_back({key_of(i), 1});
    return v;
}

maglev must_build(const std::vector<maglev_backend>& backends, uint32_t size = table_size) {
    auto r = maglev::build(backends, size);
    EXPECT_TRUE(r.ok()) << r.error_message();
    return std::move(r).value();
}

std::vector<uint32_t> counts(const maglev& m, size_t n) {
    std::vector<uint32_t> c(n, 0);
    for (const int32_t e : m.entries()) {
        EXPECT_GE(e, 0);
        EXPECT_LT(e, static_cast<int32_t>(n));
        if (e >= 0 && e < static_cast<int32_t>(n)) ++c[e];
    }
    return c;
}

// The table as keys, so tables built from differently ordered or filtered inputs compare.
std::vector<std::string> by_key(const maglev& m, const std::vector<maglev_backend>& backends) {
    std::vector<std::string> out;
    out.reserve(m.size());
    for (const int32_t e : m.entries()) out.push_back(e < 0 ? std::string() : backends[e].key);
    return out;
}

// Entries that pointed to a backend present in both tables and now point to another such backend:
// the flows Maglev disturbs beyond those that had to move (off a removed backend, onto an added one).
uint32_t moved_between_survivors(const std::vector<std::string>& before, const std::vector<std::string>& after,
                                 const std::vector<maglev_backend>& before_set,
                                 const std::vector<maglev_backend>& after_set) {
    auto has = [](const std::vector<maglev_backend>& set, const std::string& k) {
        return std::any_of(set.begin(), set.end(), [&](const maglev_backend& b) { return b.key == k && b.weight > 0; });
    };
    std::map<std::string, bool> survives;
    for (const auto& b : before_set) survives[b.key] = b.weight > 0 && has(after_set, b.key);
    uint32_t moved = 0;
    for (size_t i = 0; i < before.size(); ++i) {
        if (survives[before[i]] && after[i] != before[i] && has(before_set, after[i])) ++moved;
    }
    return moved;
}

TEST(MaglevTest, IsPrime) {
    for (const uint32_t p : {2u, 3u, 5u, 7u, 13u, 7919u, 65521u, 65537u, 655373u, 16777259u, 4294967291u}) {
        EXPECT_TRUE(is_prime(p)) << p;
    }
    for (const uint32_t n : {0u, 1u, 4u, 9u, 25u, 49u, 561u, 65535u, 65536u, 4294836225u /* 65535^2 */, 4294967295u}) {
        EXPECT_FALSE(is_prime(n)) << n;
    }
}

TEST(MaglevTest, RejectsNonPrimeSize) {
    auto r = maglev::build(equal_backends(3), 65536);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error_message().find("not a prime"), std::string::npos) << r.error_message();
    EXPECT_FALSE(maglev::build(equal_backends(3), 0).ok());
    EXPECT_FALSE(maglev::build(equal_backends(3), 1).ok());
}

TEST(MaglevTest, RejectsSizeBelowActiveBackends) {
    auto backends = equal_backends(8);
    auto r = maglev::build(backends, 7);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error_message().find("smaller than the number of backends"), std::string::npos) << r.error_message();

    // Only backends with weight > 0 need an entry.
    backends[5].weight = 0;
    EXPECT_TRUE(maglev::build(backends, 7).ok());
}

TEST(MaglevTest, RejectsDuplicateKeysAndHugeSize) {
    auto backends = equal_backends(4);
    backends[3].key = backends[1].key;
    backends[3].weight = 0;
    auto r = maglev::build(backends, 13);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error_message().find("more than once"), std::string::npos) << r.error_message();

    auto big = maglev::build(equal_backends(4), 16777259);  // the first prime above max_size
    ASSERT_FALSE(big.ok());
    EXPECT_NE(big.error_message().find("exceeds"), std::string::npos) << big.error_message();
}

TEST(MaglevTest, OneEntryEachWhenSizeEqualsBackends) {
    const auto backends = equal_backends(13);
    const maglev m = must_build(backends, 13);
    for (const uint32_t c : counts(m, backends.size())) EXPECT_EQ(c, 1u);
}

void check_balance(uint32_t n) {
    const auto backends = equal_backends(n);
    const maglev m = must_build(backends);
    const auto c = counts(m, n);
    const double ideal = double(table_size) / n;
    const auto [lo, hi] = std::minmax_element(c.begin(), c.end());
    std::printf("[ balance  ] N=%u M=%u: entries per backend min %u max %u (ideal %.2f, worst %.3f%%)\n", n, table_size,
                *lo, *hi, ideal, 100.0 * std::max(ideal - *lo, *hi - ideal) / ideal);
    for (uint32_t i = 0; i < n; ++i) EXPECT_NEAR(c[i], ideal, 0.01 * ideal) << "backend " << i;
}

TEST(MaglevTest, BalanceTenBackends) {
    check_balance(10);
}
TEST(MaglevTest, BalanceHundredBackends) {
    check_balance(100);
}

TEST(MaglevTest, BalanceOfFlowsThroughPick) {
    // Flows, not entries: 10^6 pseudo-random flow hashes (fixed seed: mt19937 is fully specified).
    const auto backends = equal_backends(10);
    const maglev m = must_build(backends);
    std::mt19937 rng(12345);
    std::vector<uint32_t> flows(backends.size(), 0);
    constexpr uint32_t n_flows = 1000000;
    for (uint32_t i = 0; i < n_flows; ++i) ++flows[m.pick(static_cast<uint32_t>(rng()))];
    const double ideal = double(n_flows) / backends.size();
    const auto [lo, hi] = std::minmax_element(flows.begin(), flows.end());
    std::printf("[ balance  ] 10^6 flows over N=10: min %u max %u (ideal %.0f)\n", *lo, *hi, ideal);
    for (const uint32_t f : flows) EXPECT_NEAR(f, ideal, 0.02 * ideal);
}

TEST(MaglevTest, WeightsAreProportional) {
    auto backends = equal_backends(4);
    for (uint32_t i = 0; i < 4; ++i) backends[i].weight = i + 1;
    const maglev m = must_build(backends);
    const auto c = counts(m, backends.size());
    for (uint32_t i = 0; i < 4; ++i) {
        const double ideal = table_size * (i + 1) / 10.0;
        std::printf("[ weights  ] weight %u: %u entries, ideal %.1f (%+.3f%%)\n", i + 1, c[i], ideal,
                    100.0 * (c[i] - ideal) / ideal);
        EXPECT_NEAR(c[i], ideal, 0.02 * ideal) << "weight " << i + 1;
    }
}

TEST(MaglevTest, ManyMixedWeights) {
    std::mt19937 rng(7);
    auto backends = equal_backends(100);
    uint64_t total = 0;
    for (auto& b : backends) total += b.weight = 1 + rng() % 10;
    const maglev m = must_build(backends);
    const auto c = counts(m, backends.size());
    double worst = 0;
    for (size_t i = 0; i < backends.size(); ++i) {
        const double ideal = double(table_size) * backends[i].weight / total;
        worst = std::max(worst, std::abs(c[i] - ideal) / ideal);
        EXPECT_NEAR(c[i], ideal, 0.02 * ideal) << "backend " << i << " weight " << backends[i].weight;
    }
    std::printf("[ weights  ] N=100, weights 1..10: worst relative deviation %.3f%%\n", 100 * worst);
}

TEST(MaglevTest, ExtremeWeightsStillGiveEveryBackendAnEntry) {
    auto backends = equal_backends(100);
    backends[42].weight = UINT32_MAX;
    const maglev m = must_build(backends);
    const auto c = counts(m, backends.size());
    for (size_t i = 0; i < backends.size(); ++i) EXPECT_GE(c[i], 1u) << "backend " << i;
    EXPECT_EQ(c[42], table_size - 99);
}

void check_removal(std::vector<maglev_backend> before_set, size_t removed) {
    const maglev before = must_build(before_set);
    auto after_set = before_set;
    after_set.erase(after_set.begin() + static_cast<std::ptrdiff_t>(removed));
    const maglev after = must_build(after_set);

    const auto kb = by_key(before, before_set);
    const auto ka = by_key(after, after_set);
    const std::string& gone = before_set[removed].key;
    uint32_t owned = 0;
    for (size_t i = 0; i < kb.size(); ++i) {
        ASSERT_FALSE(ka[i].empty()) << "entry " << i << " left unassigned";
        ASSERT_NE(ka[i], gone) << "entry " << i << " still points to the removed backend";
        if (kb[i] == gone) ++owned;
    }
    const uint32_t moved = moved_between_survivors(kb, ka, before_set, after_set);
    std::printf(
        "[ disrupt  ] remove 1 of %zu: %u entries of the removed backend reassigned, %u entries (%.3f%% of M) "
        "moved between survivors\n",
        before_set.size(), owned, moved, 100.0 * moved / table_size);
    EXPECT_LT(moved, 0.02 * table_size);
}

TEST(MaglevTest, RemovingOneBackendDisruptsLittle) {
    check_removal(equal_backends(10), 3);
    check_removal(equal_backends(10), 0);
    check_removal(equal_backends(10), 9);
    check_removal(equal_backends(100), 57);
}

TEST(MaglevTest, RemovingOneWeightedBackendDisruptsLittle) {
    auto backends = equal_backends(10);
    for (uint32_t i = 0; i < 10; ++i) backends[i].weight = 1 + i % 4;
    check_removal(backends, 2);
    check_removal(backends, 3);
}

TEST(MaglevTest, AddingOneBackendDisruptsLittle) {
    for (const uint32_t n : {10u, 100u}) {
        const auto before_set = equal_backends(n);
        const auto after_set = equal_backends(n + 1);
        const maglev before = must_build(before_set);
        const maglev after = must_build(after_set);
        const auto kb = by_key(before, before_set);
        const auto ka = by_key(after, after_set);
        const std::string& added = after_set.back().key;
        const auto gained = static_cast<uint32_t>(std::count(ka.begin(), ka.end(), added));
        const uint32_t moved = moved_between_survivors(kb, ka, before_set, after_set);
        std::printf(
            "[ disrupt  ] add 1 to %u: new backend took %u entries (ideal %.1f), %u entries (%.3f%% of M) "
            "moved between the others\n",
            n, gained, double(table_size) / (n + 1), moved, 100.0 * moved / table_size);
        EXPECT_NEAR(gained, double(table_size) / (n + 1), 0.01 * table_size / (n + 1));
        EXPECT_LT(moved, 0.02 * table_size);
    }
}

TEST(MaglevTest, WeightZeroEqualsAbsent) {
    auto with_zero = equal_backends(10);
    with_zero[4].weight = 0;
    auto without = equal_backends(10);
    without.erase(without.begin() + 4);
    EXPECT_EQ(by_key(must_build(with_zero), with_zero), by_key(must_build(without), without));
}

TEST(MaglevTest, DeterministicAndIndependentOfInputOrder) {
    auto backends = equal_backends(20);
    for (uint32_t i = 0; i < 20; ++i) backends[i].weight = 1 + i % 3;
    const maglev a = must_build(backends);
    const maglev b = must_build(backends);
    EXPECT_EQ(a.entries(), b.entries());

    auto shuffled = backends;
    std::mt19937 rng(99);
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    ASSERT_NE(shuffled[0].key, backends[0].key);  // the seed does reorder
    const maglev c = must_build(shuffled);
    EXPECT_NE(a.entries(), c.entries());                  // indices follow the input...
    EXPECT_EQ(by_key(a, backends), by_key(c, shuffled));  // ...the mapping does not
}

// Pinned outputs, cross-checked against an independent reimplementation: a change here sends flows
// to other backends across an upgrade, and gateways of different versions behind one VIP would
// disagree during a rolling update. Change only on purpose.
TEST(MaglevTest, StableAcrossBuildsAndMachines) {
    EXPECT_EQ(maglev_offset_hash("198.18.2.10:80"), 0xfafbdeca1b2d8deaULL);
    EXPECT_EQ(maglev_skip_hash("198.18.2.10:80"), 0x2e878d0d922a4b88ULL);
    EXPECT_EQ(maglev_offset_hash("[fd00:2::10]:80"), 0xa55c7dfb45f0e501ULL);
    EXPECT_EQ(maglev_skip_hash("[fd00:2::10]:80"), 0xcc63ed77fd6bcc16ULL);

    const std::vector<maglev_backend> small = {{"198.18.2.10:80", 1}, {"198.18.2.11:80", 2}, {"[fd00:2::10]:80", 1}};
    EXPECT_EQ(must_build(small, 17).entries(),
              (std::vector<int32_t>{1, 0, 1, 1, 0, 0, 2, 1, 1, 1, 1, 2, 0, 0, 2, 1, 2}));

    auto backends = equal_backends(10);
    for (uint32_t i = 0; i < 10; ++i) backends[i].weight = 1 + i % 4;
    const maglev m = must_build(backends);
    uint64_t fingerprint = 0;
    for (const int32_t e : m.entries()) fingerprint = fingerprint * 31 + static_cast<uint32_t>(e + 1);
    EXPECT_EQ(fingerprint, 0x7c576ec894522420ULL);
}

TEST(MaglevTest, NoActiveBackendPicksNothing) {
    const maglev empty = must_build({});
    EXPECT_EQ(empty.size(), table_size);
    auto zero = equal_backends(5);
    for (auto& b : zero) b.weight = 0;
    const maglev drained = must_build(zero);
    for (const maglev* m : {&empty, &drained}) {
        EXPECT_TRUE(std::all_of(m->entries().begin(), m->entries().end(), [](int32_t e) { return e == -1; }));
        for (const uint32_t h : {0u, 1u, 0x80000000u, UINT32_MAX}) EXPECT_EQ(m->pick(h), -1);
    }
}

TEST(MaglevTest, PickCoversEveryEntry) {
    const auto backends = equal_backends(10);
    const maglev m = must_build(backends);
    EXPECT_EQ(m.slot(0), 0u);
    EXPECT_EQ(m.slot(UINT32_MAX), table_size - 1);
    EXPECT_EQ(m.pick(0), m.entries().front());
    EXPECT_EQ(m.pick(UINT32_MAX), m.entries().back());
    // Each entry s owns the hashes [ceil(s * 2^32 / M), ceil((s + 1) * 2^32 / M)): all reachable, in order.
    for (uint32_t s = 0; s < table_size; ++s) {
        const auto first = static_cast<uint32_t>(((uint64_t(s) << 32) + table_size - 1) / table_size);
        ASSERT_EQ(m.slot(first), s);
        if (s > 0) {
            ASSERT_EQ(m.slot(first - 1), s - 1);
        }
        ASSERT_EQ(m.pick(first), m.entries()[s]);
    }
}

void time_build(const std::vector<maglev_backend>& backends, const char* label) {
    const auto start = std::chrono::steady_clock::now();
    const maglev m = must_build(backends);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ build    ] M=%u N=%zu (%s): %.2f ms\n", m.size(), backends.size(), label, ms);
    EXPECT_LT(ms, 100.0);
}

TEST(MaglevTest, BuildIsFast) {
    time_build(equal_backends(100), "equal weights");
    auto weighted = equal_backends(100);
    for (uint32_t i = 0; i < 100; ++i) weighted[i].weight = 1 + i % 7;
    time_build(weighted, "weights 1..7");
    weighted[0].weight = 1000000;
    time_build(weighted, "one weight 10^6");
}

}  // namespace
}  // namespace meshgate::dataplane::l4
