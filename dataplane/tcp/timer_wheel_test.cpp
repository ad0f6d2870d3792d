#include "dataplane/tcp/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

using namespace meshgate::dataplane::tcp;

namespace {

constexpr uint64_t l1 = 256;
constexpr uint64_t l2 = 256 * 256;
constexpr uint64_t l3 = 256 * 256 * 256;
constexpr uint64_t l4 = uint64_t{1} << 32;

// A timer node with the tick it fired at.
struct probe {
    timer_node node;
    int id = 0;
    int fired = 0;
    uint64_t fired_at = 0;
};

probe* of(timer_node* n) {
    return reinterpret_cast<probe*>(n);
}  // node is the first member

// Advances and records each firing.
uint32_t run(timer_wheel& w, uint64_t to) {
    return w.advance(to, [&](timer_node* n) {
        of(n)->fired++;
        of(n)->fired_at = w.now();
    });
}

TEST(TimerWheel, EmptyWheel) {
    timer_wheel w;
    EXPECT_EQ(w.now(), 0u);
    EXPECT_EQ(w.armed_count(), 0u);
    EXPECT_EQ(w.next_expiry(), UINT64_MAX);
    EXPECT_EQ(run(w, 1000000), 0u);
    EXPECT_EQ(w.now(), 1000000u);
}

TEST(TimerWheel, FiresExactlyOnTimeNotEarly) {
    timer_wheel w;
    probe p;
    w.arm(&p.node, 10);
    EXPECT_TRUE(p.node.armed);
    EXPECT_EQ(w.armed_count(), 1u);
    EXPECT_EQ(w.next_expiry(), 10u);
    EXPECT_EQ(run(w, 9), 0u);
    EXPECT_EQ(p.fired, 0);
    EXPECT_EQ(run(w, 10), 1u);
    EXPECT_EQ(p.fired, 1);
    EXPECT_EQ(p.fired_at, 10u);
    EXPECT_FALSE(p.node.armed);
    EXPECT_EQ(w.armed_count(), 0u);
    EXPECT_EQ(run(w, 100), 0u);  // once
}

TEST(TimerWheel, LateAdvanceFiresAtItsTickInOrder) {
    timer_wheel w;
    probe p[5];
    const uint64_t at[5] = {3, 700, 70000, 300, 5000000};
    for (int i = 0; i < 5; ++i) w.arm(&p[i].node, at[i]);
    std::vector<uint64_t> order;
    EXPECT_EQ(w.advance(10000000,
                        [&](timer_node* n) {
                            order.push_back(w.now());
                            of(n)->fired_at = w.now();
                        }),
              5u);
    EXPECT_EQ(order, (std::vector<uint64_t>{3, 300, 700, 70000, 5000000}));
    for (int i = 0; i < 5; ++i) EXPECT_EQ(p[i].fired_at, at[i]);
    EXPECT_EQ(w.now(), 10000000u);
}

TEST(TimerWheel, ExpiredWhenArmedFiresAtNextAdvance) {
    timer_wheel w(1000);
    probe a, b;
    w.arm(&a.node, 1000);  // == now
    w.arm(&b.node, 5);     // in the past
    EXPECT_LE(w.next_expiry(), 5u);
    EXPECT_EQ(run(w, 1000), 2u);  // same now: still fires
    EXPECT_EQ(a.fired + b.fired, 2);
    EXPECT_EQ(w.armed_count(), 0u);
}

TEST(TimerWheel, DisarmPreventsFiringAndIsIdempotent) {
    timer_wheel w;
    probe p, q;
    w.disarm(&p.node);  // never armed: no-op
    w.arm(&p.node, 50);
    w.arm(&q.node, 50);
    w.disarm(&p.node);
    w.disarm(&p.node);
    EXPECT_FALSE(p.node.armed);
    EXPECT_EQ(w.armed_count(), 1u);
    EXPECT_EQ(run(w, 100), 1u);
    EXPECT_EQ(p.fired, 0);
    EXPECT_EQ(q.fired, 1);
}

TEST(TimerWheel, DisarmLastInSlotKeepsNextExpiryExact) {
    timer_wheel w;
    probe a, b;
    w.arm(&a.node, 20);
    w.arm(&b.node, 90);
    w.disarm(&a.node);
    EXPECT_EQ(w.next_expiry(), 90u);
    w.disarm(&b.node);
    EXPECT_EQ(w.next_expiry(), UINT64_MAX);
}

TEST(TimerWheel, RearmMovesEarlierAndLater) {
    timer_wheel w;
    probe p;
    w.arm(&p.node, 100000);
    w.arm(&p.node, 40);
    EXPECT_EQ(w.armed_count(), 1u);
    EXPECT_EQ(run(w, 40), 1u);
    EXPECT_EQ(p.fired_at, 40u);
    w.arm(&p.node, 60);
    w.arm(&p.node, 3000000);
    EXPECT_EQ(run(w, 2999999), 0u);
    EXPECT_EQ(run(w, 3000000), 1u);
    EXPECT_EQ(p.fired_at, 3000000u);
}

TEST(TimerWheel, CascadeBoundaries) {
    // Expiries on the exact ticks where a higher level is cascaded, and one tick either side.
    for (uint64_t b : {l1, l2, l3, l4}) {
        timer_wheel w;
        probe p[3];
        w.arm(&p[0].node, b - 1);
        w.arm(&p[1].node, b);
        w.arm(&p[2].node, b + 1);
        EXPECT_EQ(run(w, b - 2), 0u) << b;
        EXPECT_EQ(run(w, b - 1), 1u) << b;
        EXPECT_EQ(run(w, b), 1u) << b;
        EXPECT_EQ(run(w, b + 1), 1u) << b;
        for (int i = 0; i < 3; ++i) EXPECT_EQ(p[i].fired_at, b - 1 + static_cast<uint64_t>(i)) << b;
    }
}

TEST(TimerWheel, FarFutureBeyondThreeLevels) {
    timer_wheel w(12345);
    probe p;
    const uint64_t at = 12345 + 3 * l3 + 54321;  // level 3
    w.arm(&p.node, at);
    EXPECT_LE(w.next_expiry(), at);
    EXPECT_GT(w.next_expiry(), 12345u);
    // Coarse steps, then tick by tick around the expiry.
    for (uint64_t t = 12345; t + l2 < at; t += l2) ASSERT_EQ(run(w, t), 0u);
    for (uint64_t t = at - 300; t < at; ++t) ASSERT_EQ(run(w, t), 0u) << t;
    EXPECT_EQ(run(w, at), 1u);
    EXPECT_EQ(p.fired_at, at);
}

TEST(TimerWheel, BeyondTheWheelOverflowList) {
    timer_wheel w(7);
    probe p, q;
    const uint64_t at = 3 * l4 + 999;      // 2^32 ticks and more away
    const uint64_t at2 = 9 * l4 + l3 + 5;  // and another, in a later overflow round
    w.arm(&p.node, at);
    w.arm(&q.node, at2);
    EXPECT_LE(w.next_expiry(), at);
    EXPECT_EQ(run(w, at - 1), 0u);
    EXPECT_EQ(w.next_expiry(), at);  // now within 256 ticks: exact
    EXPECT_EQ(run(w, at), 1u);
    EXPECT_EQ(p.fired_at, at);
    EXPECT_EQ(run(w, at2 - 1), 0u);
    EXPECT_EQ(run(w, at2 + 1000), 1u);
    EXPECT_EQ(q.fired_at, at2);
}

TEST(TimerWheel, BigJumpIsCheapAndCorrect) {
    // An hour of 1 ms ticks in one call with 1000 timers spread over it.
    timer_wheel w;
    std::vector<probe> p(1000);
    for (size_t i = 0; i < p.size(); ++i) w.arm(&p[i].node, 1 + i * 3600);
    EXPECT_EQ(run(w, 3600000), 1000u);
    for (size_t i = 0; i < p.size(); ++i) EXPECT_EQ(p[i].fired_at, 1 + i * 3600);
}

TEST(TimerWheel, NearTheEndOfTime) {
    timer_wheel w(UINT64_MAX - 70000);
    probe p, q;
    w.arm(&p.node, UINT64_MAX - 1);
    w.arm(&q.node, UINT64_MAX);
    EXPECT_EQ(run(w, UINT64_MAX - 2), 0u);
    EXPECT_EQ(run(w, UINT64_MAX), 2u);
    EXPECT_EQ(p.fired_at, UINT64_MAX - 1);
    EXPECT_EQ(q.fired_at, UINT64_MAX);
}

TEST(TimerWheel, NonZeroStartTick) {
    const uint64_t start = (uint64_t{1} << 40) + 77;
    timer_wheel w(start);
    probe p;
    w.arm(&p.node, start + 1000);
    EXPECT_EQ(run(w, start + 999), 0u);
    EXPECT_EQ(run(w, start + 1000), 1u);
    EXPECT_EQ(p.fired_at, start + 1000);
}

TEST(TimerWheel, TimeDoesNotGoBack) {
    timer_wheel w(500);
    probe p;
    w.arm(&p.node, 510);
    EXPECT_EQ(run(w, 100), 0u);
    EXPECT_EQ(w.now(), 500u);
    EXPECT_EQ(run(w, 510), 1u);
}

TEST(TimerWheel, RearmSelfInsideFirePeriodic) {
    timer_wheel w;
    probe p;
    w.arm(&p.node, 10);
    std::vector<uint64_t> at;
    uint32_t n = w.advance(1000, [&](timer_node* x) {
        at.push_back(w.now());
        w.arm(x, w.now() + 10);
    });
    EXPECT_EQ(n, 100u);
    ASSERT_EQ(at.size(), 100u);
    for (size_t i = 0; i < at.size(); ++i) EXPECT_EQ(at[i], 10 * (i + 1));
    EXPECT_TRUE(p.node.armed);
    EXPECT_EQ(p.node.expires, 1010u);
}

TEST(TimerWheel, CancelInsideFireOfAnotherDueSameTick) {
    timer_wheel w;
    probe a, b, c;
    w.arm(&a.node, 77);
    w.arm(&b.node, 77);
    w.arm(&c.node, 77);
    int calls = 0;
    uint32_t n = w.advance(1000, [&](timer_node* x) {
        ++calls;
        of(x)->fired++;
        // Whichever fires first cancels the two others.
        for (probe* o : {&a, &b, &c})
            if (&o->node != x) w.disarm(&o->node);
    });
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(a.fired + b.fired + c.fired, 1);
    EXPECT_EQ(w.armed_count(), 0u);
}

TEST(TimerWheel, RearmAnotherDueSameTickToLater) {
    timer_wheel w;
    probe a, b;
    w.arm(&a.node, 50);
    w.arm(&b.node, 50);
    timer_node* first = nullptr;
    uint32_t n = w.advance(60, [&](timer_node* x) {
        of(x)->fired++;
        of(x)->fired_at = w.now();
        if (!first) {
            first = x;
            w.arm(x == &a.node ? &b.node : &a.node, 55);  // the other one moves to 55, still in this call
        }
    });
    EXPECT_EQ(n, 2u);
    probe* other = first == &a.node ? &b : &a;
    EXPECT_EQ(other->fired, 1);
    EXPECT_EQ(other->fired_at, 55u);
}

TEST(TimerWheel, ArmExpiredInsideFireWaitsForNextAdvance) {
    timer_wheel w;
    probe a;
    w.arm(&a.node, 5);
    uint32_t n = w.advance(100, [&](timer_node* x) {
        if (x == &a.node) w.arm(&a.node, w.now());  // would loop forever if fired in the same call
        of(x)->fired++;
    });
    EXPECT_EQ(n, 1u);
    EXPECT_TRUE(a.node.armed);
    EXPECT_EQ(w.next_expiry(), 5u);
    EXPECT_EQ(run(w, 100), 1u);
    EXPECT_EQ(a.fired, 2);
}

TEST(TimerWheel, ArmFutureInsideFireFiresInSameAdvance) {
    timer_wheel w;
    probe a, b;
    w.arm(&a.node, 100);
    w.advance(100000, [&](timer_node* x) {
        of(x)->fired++;
        of(x)->fired_at = w.now();
        if (x == &a.node) w.arm(&b.node, w.now() + 70000);  // crosses levels
    });
    EXPECT_EQ(a.fired_at, 100u);
    EXPECT_EQ(b.fired, 1);
    EXPECT_EQ(b.fired_at, 70100u);
}

TEST(TimerWheel, NextExpiryInsideFireSeesSameTickNodes) {
    timer_wheel w;
    probe a, b, c;
    w.arm(&a.node, 30);
    w.arm(&b.node, 30);
    w.arm(&c.node, 200);
    std::vector<uint64_t> seen;
    w.advance(1000, [&](timer_node*) { seen.push_back(w.next_expiry()); });
    EXPECT_EQ(seen, (std::vector<uint64_t>{30, 200, UINT64_MAX}));
}

TEST(TimerWheel, ManyInOneTick) {
    timer_wheel w;
    std::vector<probe> p(10000);
    for (auto& x : p) w.arm(&x.node, 4242);
    EXPECT_EQ(w.armed_count(), 10000u);
    EXPECT_EQ(run(w, 4241), 0u);
    EXPECT_EQ(run(w, 5000), 10000u);
    for (auto& x : p) EXPECT_EQ(x.fired_at, 4242u);
}

TEST(TimerWheel, NextExpiryNeverLaterThanEarliest) {
    std::mt19937_64 rng(7);
    timer_wheel w(rng() >> 20);
    std::vector<probe> p(200);
    for (int round = 0; round < 200; ++round) {
        for (auto& x : p)
            if (rng() % 4 == 0) w.arm(&x.node, w.now() + (rng() >> (20 + rng() % 44)));
        uint64_t real = UINT64_MAX;
        for (auto& x : p)
            if (x.node.armed) real = std::min(real, x.node.expires);
        uint64_t ne = w.next_expiry();
        ASSERT_LE(ne, real);
        if (real != UINT64_MAX && real - w.now() < 256 - (w.now() & 255)) {
            ASSERT_EQ(ne, real);
        }
        run(w, w.now() + (rng() >> (30 + rng() % 34)));
    }
}

// Differential test against a reference model: random arms (expiries from 0 to beyond 2^32 ticks
// away), disarms and advances of every size, with callbacks that re-arm and cancel.
TEST(TimerWheel, RandomizedAgainstModel) {
    std::mt19937_64 rng(12345);
    constexpr int n = 500;
    std::vector<probe> p(n);
    for (int i = 0; i < n; ++i) p[i].id = i;
    timer_wheel w((uint64_t{1} << 33) - 1000);
    std::vector<uint64_t> model(n, UINT64_MAX);  // expiry of armed nodes
    auto spread = [&]() -> uint64_t {
        switch (rng() % 6) {
            case 0:
                return rng() % 4;
            case 1:
                return rng() % 300;
            case 2:
                return rng() % 70000;
            case 3:
                return rng() % 20000000;
            case 4:
                return rng() % (uint64_t{1} << 33);
            default:
                return rng() % (uint64_t{1} << 36);
        }
    };
    uint64_t total = 0;
    for (int step = 0; step < 20000; ++step) {
        int op = static_cast<int>(rng() % 10);
        if (op < 5) {
            int i = static_cast<int>(rng() % n);
            uint64_t e = w.now() + spread();
            if (rng() % 20 == 0) e = w.now() - std::min<uint64_t>(w.now(), rng() % 10);
            w.arm(&p[i].node, e);
            model[i] = e;
        } else if (op < 7) {
            int i = static_cast<int>(rng() % n);
            w.disarm(&p[i].node);
            model[i] = UINT64_MAX;
        } else {
            uint64_t to = w.now() + spread();
            uint64_t start = w.now();
            uint64_t last = 0;
            w.advance(to, [&](timer_node* x) {
                int i = of(x)->id;
                ASSERT_NE(model[i], UINT64_MAX) << "fired a disarmed timer";
                ASSERT_LE(model[i], to);
                // Expired-when-armed timers fire at the start tick; others exactly on time.
                ASSERT_EQ(w.now(), std::max(model[i], start));
                ASSERT_GE(w.now(), last);
                last = w.now();
                model[i] = UINT64_MAX;
                ++total;
                int r = static_cast<int>(rng() % 8);
                int j = static_cast<int>(rng() % n);
                if (r == 0) {  // re-arm self in the future
                    uint64_t e = w.now() + 1 + spread();
                    w.arm(x, e);
                    model[i] = e;
                } else if (r == 1) {  // cancel another
                    w.disarm(&p[j].node);
                    model[j] = UINT64_MAX;
                } else if (r == 2) {  // arm another in the future
                    uint64_t e = w.now() + 1 + spread();
                    w.arm(&p[j].node, e);
                    model[j] = e;
                }
            });
            ASSERT_EQ(w.now(), std::max(to, start));
            for (int i = 0; i < n; ++i) ASSERT_TRUE(model[i] == UINT64_MAX || model[i] > to) << i;
        }
        uint32_t armed = 0;
        for (int i = 0; i < n; ++i) {
            ASSERT_EQ(p[i].node.armed, model[i] != UINT64_MAX) << i;
            armed += model[i] != UINT64_MAX;
        }
        ASSERT_EQ(w.armed_count(), armed);
    }
    EXPECT_GT(total, 5000u);
}

}  // namespace
