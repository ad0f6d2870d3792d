// GCC 12 at -O3 reports the scoreboard of the randomized test as maybe-uninitialized after
// inlining (its members all have initializers): a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "dataplane/tcp/sack_scoreboard.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

using namespace meshgate::dataplane::tcp;

namespace {

std::vector<std::pair<uint32_t, uint32_t>> dump(const sack_scoreboard& sb) {
    std::vector<std::pair<uint32_t, uint32_t>> v;
    for (int i = 0; i < sb.size(); ++i) v.emplace_back(sb.ranges()[i].start, sb.ranges()[i].end);
    return v;
}
using rv = std::vector<std::pair<uint32_t, uint32_t>>;

uint32_t upd(sack_scoreboard& sb, uint32_t una, uint32_t nxt, std::initializer_list<seq_range> b) {
    return sb.update(una, nxt, b.begin(), static_cast<int>(b.size()));
}

TEST(SeqArith, SerialComparisons) {
    EXPECT_TRUE(seq_lt(1, 2));
    EXPECT_TRUE(seq_lt(0xFFFFFFF0u, 0x10u));  // across the wrap
    EXPECT_TRUE(seq_gt(0x10u, 0xFFFFFFF0u));
    EXPECT_TRUE(seq_leq(5, 5));
    EXPECT_TRUE(seq_geq(5, 5));
    EXPECT_FALSE(seq_lt(5, 5));
    EXPECT_EQ(seq_max(0xFFFFFFF0u, 0x10u), 0x10u);
    EXPECT_EQ(seq_min(0xFFFFFFF0u, 0x10u), 0xFFFFFFF0u);
    EXPECT_TRUE(seq_in(0, 0xFFFFFFF0u, 0x10u));
    EXPECT_FALSE(seq_in(0x10u, 0xFFFFFFF0u, 0x10u));
}

TEST(SackScoreboard, StartsEmpty) {
    sack_scoreboard sb;
    EXPECT_TRUE(sb.empty());
    EXPECT_EQ(sb.size(), 0);
    EXPECT_EQ(sb.sacked_bytes(), 0u);
    EXPECT_FALSE(sb.sacked(0));
    EXPECT_FALSE(sb.is_lost(0, 1000));
    uint32_t s, e;
    EXPECT_FALSE(sb.next_lost_hole(0, 1000, s, e));
}

TEST(SackScoreboard, SingleBlock) {
    sack_scoreboard sb;
    EXPECT_EQ(upd(sb, 1000, 10000, {{2000, 3000}}), 1000u);
    EXPECT_EQ(dump(sb), (rv{{2000, 3000}}));
    EXPECT_TRUE(sb.sacked(2000));
    EXPECT_TRUE(sb.sacked(2999));
    EXPECT_FALSE(sb.sacked(3000));
    EXPECT_FALSE(sb.sacked(1999));
    EXPECT_EQ(sb.highest_sacked(), 3000u);
    // The same block again adds nothing.
    EXPECT_EQ(upd(sb, 1000, 10000, {{2000, 3000}}), 0u);
    EXPECT_EQ(sb.sacked_bytes(), 1000u);
}

TEST(SackScoreboard, MergesOverlappingAndAdjacent) {
    sack_scoreboard sb;
    upd(sb, 0, 100000, {{2000, 3000}});
    EXPECT_EQ(upd(sb, 0, 100000, {{2500, 3500}}), 500u);   // overlap
    EXPECT_EQ(upd(sb, 0, 100000, {{3500, 4000}}), 500u);   // adjacent above
    EXPECT_EQ(upd(sb, 0, 100000, {{1000, 2000}}), 1000u);  // adjacent below
    EXPECT_EQ(dump(sb), (rv{{1000, 4000}}));
    EXPECT_EQ(sb.sacked_bytes(), 3000u);
}

TEST(SackScoreboard, BlockBridgesSeveralRanges) {
    sack_scoreboard sb;
    upd(sb, 0, 100000, {{1000, 2000}, {3000, 4000}, {5000, 6000}, {8000, 9000}});
    EXPECT_EQ(sb.size(), 4);
    EXPECT_EQ(upd(sb, 0, 100000, {{1500, 5500}}), 2000u);
    EXPECT_EQ(dump(sb), (rv{{1000, 6000}, {8000, 9000}}));
    EXPECT_EQ(sb.sacked_bytes(), 6000u);
}

TEST(SackScoreboard, UnorderedBlocksEndSorted) {
    sack_scoreboard sb;
    EXPECT_EQ(upd(sb, 0, 100000, {{7000, 8000}, {3000, 4000}, {5000, 6000}}), 3000u);
    EXPECT_EQ(dump(sb), (rv{{3000, 4000}, {5000, 6000}, {7000, 8000}}));
}

TEST(SackScoreboard, IgnoresEmptyInvertedAndUnsent) {
    sack_scoreboard sb;
    EXPECT_EQ(upd(sb, 1000, 10000, {{2000, 2000}, {3000, 2500}, {9000, 10001}, {20000, 30000}}), 0u);
    EXPECT_TRUE(sb.empty());
    EXPECT_EQ(upd(sb, 1000, 10000, {{9000, 10000}}), 1000u);  // up to snd_nxt is fine
}

TEST(SackScoreboard, DsackBelowSndUnaIgnored) {
    sack_scoreboard sb;
    // RFC 2883 4.1.1: a duplicate of acknowledged data reported first, then a regular block.
    EXPECT_EQ(upd(sb, 5000, 20000, {{4000, 5000}, {6000, 7000}}), 1000u);
    EXPECT_EQ(dump(sb), (rv{{6000, 7000}}));
    // Straddling snd_una counts as D-SACK too (RFC 3708 2).
    EXPECT_EQ(upd(sb, 5000, 20000, {{4500, 5500}}), 0u);
    EXPECT_EQ(dump(sb), (rv{{6000, 7000}}));
}

TEST(SackScoreboard, DsackInsideSecondBlockIgnored) {
    sack_scoreboard sb;
    // RFC 2883 4.1.2: the first block duplicates part of the second; only the second counts.
    EXPECT_EQ(upd(sb, 1000, 20000, {{3000, 3500}, {3000, 5000}}), 2000u);
    EXPECT_EQ(dump(sb), (rv{{3000, 5000}}));
    // A first block not inside the second is a normal block.
    sb.clear();
    EXPECT_EQ(upd(sb, 1000, 20000, {{6000, 7000}, {3000, 5000}}), 3000u);
}

TEST(SackScoreboard, AdvanceDropsAndTrims) {
    sack_scoreboard sb;
    upd(sb, 0, 100000, {{1000, 2000}, {3000, 4000}, {5000, 6000}});
    sb.advance(2000);
    EXPECT_EQ(dump(sb), (rv{{3000, 4000}, {5000, 6000}}));
    sb.advance(3500);  // inside a range: trimmed
    EXPECT_EQ(dump(sb), (rv{{3500, 4000}, {5000, 6000}}));
    EXPECT_EQ(sb.sacked_bytes(), 1500u);
    sb.advance(7000);
    EXPECT_TRUE(sb.empty());
    EXPECT_EQ(sb.sacked_bytes(), 0u);
}

TEST(SackScoreboard, UpdateAppliesSndUnaFirst) {
    sack_scoreboard sb;
    upd(sb, 0, 100000, {{1000, 2000}, {3000, 4000}});
    EXPECT_EQ(upd(sb, 3000, 100000, {{6000, 7000}}), 1000u);
    EXPECT_EQ(dump(sb), (rv{{3000, 4000}, {6000, 7000}}));
    EXPECT_EQ(sb.sacked_bytes(), 2000u);
}

TEST(SackScoreboard, WrapAround) {
    sack_scoreboard sb;
    const uint32_t una = 0xFFFFF000u;
    const uint32_t nxt = 0x00010000u;
    EXPECT_EQ(upd(sb, una, nxt, {{0x00000800u, 0x00001000u}, {0xFFFFF800u, 0x00000400u}}), 0x800u + 0xC00u);
    EXPECT_EQ(dump(sb), (rv{{0xFFFFF800u, 0x00000400u}, {0x00000800u, 0x00001000u}}));
    EXPECT_TRUE(sb.sacked(0xFFFFFFFFu));
    EXPECT_TRUE(sb.sacked(0));
    EXPECT_FALSE(sb.sacked(0x500u));
    EXPECT_EQ(sb.highest_sacked(), 0x1000u);
    EXPECT_EQ(upd(sb, una, nxt, {{0x400u, 0x800u}}), 0x400u);  // bridges the wrap-spanning range
    EXPECT_EQ(dump(sb), (rv{{0xFFFFF800u, 0x00001000u}}));
    sb.advance(0x10u);
    EXPECT_EQ(dump(sb), (rv{{0x10u, 0x1000u}}));
    EXPECT_EQ(sb.sacked_bytes(), 0x1000u - 0x10u);
}

TEST(SackScoreboard, BoundedKeepsTheLowest) {
    sack_scoreboard sb;
    for (uint32_t i = 0; i < 20; ++i) {
        seq_range b{1000 + i * 200, 1100 + i * 200};
        uint32_t added = sb.update(0, 100000, &b, 1);
        EXPECT_EQ(added, i < 16 ? 100u : 0u) << i;
    }
    EXPECT_EQ(sb.size(), sack_scoreboard::max_ranges);
    EXPECT_EQ(sb.sacked_bytes(), 1600u);
    EXPECT_EQ(sb.highest_sacked(), 1100u + 15 * 200);
    // A lower range when full evicts the highest.
    EXPECT_EQ(upd(sb, 0, 100000, {{100, 200}}), 100u);
    EXPECT_EQ(sb.size(), sack_scoreboard::max_ranges);
    EXPECT_EQ(sb.ranges()[0].start, 100u);
    EXPECT_EQ(sb.highest_sacked(), 1100u + 14 * 200);
    EXPECT_EQ(sb.sacked_bytes(), 1600u);
    // Merging when full still works (count goes down).
    EXPECT_EQ(upd(sb, 0, 100000, {{1000, 1300}}), 100u);
    EXPECT_EQ(sb.size(), sack_scoreboard::max_ranges - 1);
}

TEST(SackScoreboard, IsLostByBytes) {
    sack_scoreboard sb;
    const uint32_t smss = 1000;
    upd(sb, 0, 100000, {{1000, 3000}});  // 2*SMSS above 0: not more than (3-1)*SMSS
    EXPECT_FALSE(sb.is_lost(0, smss));
    upd(sb, 0, 100000, {{3000, 3001}});
    EXPECT_TRUE(sb.is_lost(0, smss));
    EXPECT_TRUE(sb.is_lost(999, smss));
    // Bytes strictly above seq count: at 1000, bytes 1001..3000 are 2000.
    EXPECT_FALSE(sb.is_lost(1000, smss));
    EXPECT_FALSE(sb.is_lost(5000, smss));
}

TEST(SackScoreboard, IsLostByDiscontiguousRanges) {
    sack_scoreboard sb;
    upd(sb, 0, 100000, {{1000, 1100}, {2000, 2100}});
    EXPECT_FALSE(sb.is_lost(500, 1460));
    upd(sb, 0, 100000, {{3000, 3100}});  // DupThresh discontiguous SACKed sequences
    EXPECT_TRUE(sb.is_lost(500, 1460));
    EXPECT_FALSE(sb.is_lost(1500, 1460));
}

TEST(SackScoreboard, NextLostHole) {
    sack_scoreboard sb;
    const uint32_t smss = 1000;
    // Holes: [0,1000) [2000,3000) [4000,5000) [6000,7000); SACKed 1000 each above.
    upd(sb, 0, 100000, {{1000, 2000}, {3000, 4000}, {5000, 6000}, {7000, 8000}});
    uint32_t s, e;
    ASSERT_TRUE(sb.next_lost_hole(0, smss, s, e));
    EXPECT_EQ(s, 0u);
    EXPECT_EQ(e, 1000u);
    ASSERT_TRUE(sb.next_lost_hole(500, smss, s, e));  // clamped start
    EXPECT_EQ(s, 500u);
    EXPECT_EQ(e, 1000u);
    ASSERT_TRUE(sb.next_lost_hole(1000, smss, s, e));  // from inside a SACKed range: next hole
    EXPECT_EQ(s, 2000u);
    EXPECT_EQ(e, 3000u);
    ASSERT_TRUE(sb.next_lost_hole(2500, smss, s, e));
    EXPECT_EQ(s, 2500u);
    // Hole [4000,5000): 2 ranges and 2000 bytes above: not lost, and nothing above it is.
    EXPECT_FALSE(sb.next_lost_hole(3000, smss, s, e));
    EXPECT_FALSE(sb.next_lost_hole(9000, smss, s, e));
}

TEST(SackScoreboard, NextLostHoleByBytesOnly) {
    sack_scoreboard sb;
    upd(sb, 0, 100000, {{2000, 5000}});  // one range, 3 SMSS
    uint32_t s, e;
    ASSERT_TRUE(sb.next_lost_hole(0, 1000, s, e));
    EXPECT_EQ(s, 0u);
    EXPECT_EQ(e, 2000u);
    EXPECT_FALSE(sb.next_lost_hole(0, 1500, s, e));  // 3000 is not more than 2*1500
}

TEST(SackScoreboard, NextLostHoleAcrossWrap) {
    sack_scoreboard sb;
    const uint32_t una = 0xFFFFFC00u;
    upd(sb, una, 0x10000u, {{0xFFFFFE00u, 0x200u}, {0x400u, 0x800u}, {0xA00u, 0xC00u}});
    uint32_t s, e;
    ASSERT_TRUE(sb.next_lost_hole(una, 100, s, e));
    EXPECT_EQ(s, una);
    EXPECT_EQ(e, 0xFFFFFE00u);
    ASSERT_TRUE(sb.next_lost_hole(0xFFFFFF00u, 100, s, e));
    EXPECT_EQ(s, 0x200u);
    EXPECT_EQ(e, 0x400u);
}

TEST(SackScoreboard, ClearResets) {
    sack_scoreboard sb;
    upd(sb, 0, 100000, {{1000, 2000}});
    sb.clear();
    EXPECT_TRUE(sb.empty());
    EXPECT_EQ(sb.sacked_bytes(), 0u);
    EXPECT_EQ(upd(sb, 0, 100000, {{1000, 2000}}), 1000u);
}

// A byte-map model of the scoreboard (window of 8 KiB above a random base near the wrap), with the
// same bounded-ranges rule: after each block, the highest ranges beyond max_ranges go.
struct model {
    uint32_t base;
    std::vector<bool> b = std::vector<bool>(8192);
    rv ranges() const {
        rv v;
        for (uint32_t i = 0; i < b.size(); ++i) {
            if (!b[i]) continue;
            uint32_t j = i;
            while (j < b.size() && b[j]) ++j;
            v.emplace_back(base + i, base + j);
            i = j;
        }
        return v;
    }
    uint32_t bytes() const {
        uint32_t n = 0;
        for (bool x : b) n += x;
        return n;
    }
};

TEST(SackScoreboard, RandomizedAgainstByteModel) {
    std::mt19937 rng(99);
    for (int round = 0; round < 300; ++round) {
        model m;
        m.base = 0xFFFFFFFFu - static_cast<uint32_t>(rng() % 16384);
        sack_scoreboard sb;
        uint32_t una_off = 0;
        for (int ack = 0; ack < 40; ++ack) {
            if (rng() % 4 == 0) una_off = std::min<uint32_t>(una_off + rng() % 600, 8192);
            for (uint32_t i = 0; i < una_off; ++i) m.b[i] = false;
            int n = 1 + static_cast<int>(rng() % 4);
            std::vector<seq_range> blocks;
            for (int k = 0; k < n; ++k) {
                uint32_t s = rng() % 8192, len = 1 + rng() % 300;
                blocks.push_back({m.base + s, m.base + std::min<uint32_t>(s + len, 8192)});
            }
            uint32_t want = 0;
            for (int k = 0; k < n; ++k) {
                uint32_t s = blocks[k].start - m.base, e = blocks[k].end - m.base;
                if (s < una_off || s >= e) continue;
                if (k == 0 && n > 1 && s >= blocks[1].start - m.base && e <= blocks[1].end - m.base) continue;
                uint32_t added = 0;
                for (uint32_t i = s; i < e; ++i) added += !m.b[i], m.b[i] = true;
                rv r = m.ranges();
                if (r.size() > static_cast<size_t>(sack_scoreboard::max_ranges)) {
                    uint32_t hs = r.back().first - m.base, he = r.back().second - m.base;
                    for (uint32_t i = hs; i < he; ++i) m.b[i] = false;
                    if (hs == s && he == e) added = 0;  // the new block itself was dropped
                }
                want += added;
            }
            ASSERT_EQ(sb.update(m.base + una_off, m.base + 8192, blocks.data(), n), want) << round << " " << ack;
            ASSERT_EQ(dump(sb), m.ranges()) << round << " " << ack;
            ASSERT_EQ(sb.sacked_bytes(), m.bytes());
            // IsLost and NextSeg rule (1) against their definitions.
            const uint32_t smss = 1 + rng() % 400;
            for (int q = 0; q < 8; ++q) {
                uint32_t off = rng() % 8192;
                uint32_t above = 0, ranges = 0;
                for (auto [s, e] : m.ranges()) {
                    uint32_t so = s - m.base, eo = e - m.base;
                    if (eo > off + 1) above += eo - std::max(so, off + 1), ++ranges;
                }
                ASSERT_EQ(sb.is_lost(m.base + off, smss), ranges >= 3 || above > 2 * smss);
                uint32_t hs = 0, he = 0;
                bool found = false;
                uint32_t hi = sb.empty() ? 0 : sb.highest_sacked() - m.base;
                for (uint32_t i = off; i < hi; ++i) {
                    if (m.b[i]) continue;
                    if (!sb.is_lost(m.base + i, smss)) break;
                    found = true;
                    hs = i;
                    he = i;
                    while (!m.b[he]) ++he;
                    break;
                }
                uint32_t s = 0, e = 0;
                ASSERT_EQ(sb.next_lost_hole(m.base + off, smss, s, e), found);
                if (found) {
                    ASSERT_EQ(s, m.base + hs);
                    ASSERT_EQ(e, m.base + he);
                }
            }
        }
    }
}

}  // namespace
