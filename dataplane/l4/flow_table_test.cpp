// The worker's session table: both tuples of a session found with their direction, removal, a
// full table, idle expiry on the timer wheel (per protocol and TCP state, lazy re-link of
// refreshed sessions, timeouts beyond the wheel's 256 s span, the per-call budget), a randomized
// run against a plain model, and the memory a table of 1M sessions takes.
#include "dataplane/l4/flow_table.hpp"

#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "dataplane/l4/l4_worker.hpp"

namespace meshgate::dataplane::l4 {
namespace {

constexpr uint64_t hz = 1'000'000'000;  // TSC cycles per second, as the test pipeline's clock
constexpr uint64_t tick = hz / 16;      // one wheel slot

uint64_t at_s(double s) {
    return static_cast<uint64_t>(s * static_cast<double>(hz));
}

flow_key key4(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint8_t proto = 17) {
    flow_key k;
    for (int i = 0; i < 4; ++i) {
        k.src[i] = static_cast<uint8_t>(src >> (24 - 8 * i));
        k.dst[i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
    }
    k.sport = sport;
    k.dport = dport;
    k.proto = proto;
    k.family = 4;
    return k;
}

flow_key key6(uint8_t src_last, uint8_t dst_last, uint16_t sport, uint16_t dport, uint8_t proto = 6) {
    flow_key k;
    k.src[0] = 0xfd;
    k.src[15] = src_last;
    k.dst[0] = 0xfd;
    k.dst[1] = 0x01;
    k.dst[15] = dst_last;
    k.sport = sport;
    k.dport = dport;
    k.proto = proto;
    k.family = 6;
    return k;
}

// Session i: client 10.x.y.z:port -> VIP 203.0.113.10:80, reply backend 198.18.2.2:8080 ->
// NAT source 198.18.2.100:(1024 + i % 60000) / the client's address by i.
struct pair_keys {
    flow_key t0, t1;
};
pair_keys session_keys(uint32_t i, uint8_t proto = 17) {
    uint32_t client = 0x0a000000U | (i / 50000U) << 8 | 1U;
    auto port = static_cast<uint16_t>(1024 + i % 50000U);
    flow_key t0 = key4(client, 0xcb00710aU, port, 80, proto);
    flow_key t1 = key4(0xc6120202U, 0xc6120264U | (i / 50000U) << 24, 8080, port, proto);
    return {t0, t1};
}

std::string unique_name(const char* base) {
    static unsigned n = 0;
    return std::string(base) + std::to_string(n++);
}

std::unique_ptr<flow_table> make_table(uint32_t capacity, const char* base = "ft") {
    auto r = flow_table::create(unique_name(base), capacity, static_cast<int>(rte_socket_id()), hz);
    EXPECT_TRUE(r.ok()) << r.error_message();
    if (!r.ok()) return nullptr;
    return std::unique_ptr<flow_table>(r.value());
}

policy::flow_settings short_timeouts() {
    policy::flow_settings s;
    s.tcp_syn_timeout = 2;
    s.tcp_established_timeout = 20;
    s.tcp_closing_timeout = 1;
    s.udp_timeout = 5;
    s.icmp_timeout = 3;
    s.sctp_timeout = 7;
    return s;
}

uint32_t insert(flow_table& t, const flow_key& t0, const flow_key& t1, uint64_t now,
                session_kind kind = session_kind::service) {
    return t.insert(t0, t.hash(t0), t1, kind, now);
}

uint32_t find(const flow_table& t, const flow_key& k, uint8_t& dir) {
    dir = 0xff;
    return t.lookup(k, t.hash(k), dir);
}

// Runs expiry to `now` with an unlimited budget, returning the expired indices in order.
std::vector<uint32_t> expire_to(flow_table& t, uint64_t now) {
    std::vector<uint32_t> out;
    t.expire(now, UINT32_MAX, [&](uint32_t idx) { out.push_back(idx); });
    return out;
}

// ---- Insert, lookup, remove ----------------------------------------------------------------------

TEST(FlowTable, BothTuplesFoundWithTheirDirection) {
    auto t = make_table(1024);
    ASSERT_NE(t, nullptr);
    auto [t0, t1] = session_keys(7);
    uint64_t now = at_s(1);
    uint32_t idx = insert(*t, t0, t1, now);
    ASSERT_NE(idx, no_session);
    EXPECT_EQ(t->active(), 1U);

    uint8_t dir = 0xff;
    EXPECT_EQ(find(*t, t0, dir), idx);
    EXPECT_EQ(dir, 0);
    EXPECT_EQ(find(*t, t1, dir), idx);
    EXPECT_EQ(dir, 1);
    EXPECT_TRUE(t->contains(t0));
    EXPECT_TRUE(t->contains(t1));

    const session& s = t->at(idx);
    EXPECT_TRUE(s.t[0] == t0);
    EXPECT_TRUE(s.t[1] == t1);
    EXPECT_EQ(s.kind, session_kind::service);
    EXPECT_EQ(s.last_seen, now);
    EXPECT_EQ(s.in_use, 1);
    EXPECT_EQ(s.state, tcp_state::none);
    EXPECT_EQ(s.flags, 0);
    EXPECT_EQ(s.mapping, no_session);

    // The packets as they leave are not keys: neither the mirrors nor a neighbouring port.
    EXPECT_EQ(find(*t, t0.mirrored(), dir), no_session);
    EXPECT_EQ(find(*t, t1.mirrored(), dir), no_session);
    flow_key other = t0;
    other.sport++;
    EXPECT_EQ(find(*t, other, dir), no_session);
    other = t0;
    other.proto = 6;
    EXPECT_EQ(find(*t, other, dir), no_session);
}

TEST(FlowTable, FamiliesAndProtocolsAreDistinctKeys) {
    auto t = make_table(1024);
    ASSERT_NE(t, nullptr);
    // An IPv6 key whose first 4 bytes equal an IPv4 key's address, rest zero: only the family differs.
    flow_key a4 = key4(0xfd000000U, 0xfd010000U, 1000, 2000, 6);
    flow_key a6 = a4;
    a6.family = 6;
    flow_key b6 = key6(2, 3, 1000, 2000, 6);
    flow_key icmp = key4(0x0a000001U, 0x0a000002U, 77, 0, 1);  // echo request: identifier in sport
    uint32_t i4 = insert(*t, a4, a4.mirrored(), 1, session_kind::firewall);
    uint32_t i6 = insert(*t, a6, a6.mirrored(), 1, session_kind::firewall);
    uint32_t j6 = insert(*t, b6, b6.mirrored(), 1, session_kind::firewall);
    uint32_t ic = insert(*t, icmp, icmp.mirrored(), 1, session_kind::snat);
    ASSERT_NE(i4, no_session);
    ASSERT_NE(i6, no_session);
    ASSERT_NE(j6, no_session);
    ASSERT_NE(ic, no_session);
    EXPECT_EQ(std::set<uint32_t>({i4, i6, j6, ic}).size(), 4U);
    uint8_t dir = 0;
    EXPECT_EQ(find(*t, a4.mirrored(), dir), i4);
    EXPECT_EQ(dir, 1);
    EXPECT_EQ(find(*t, a6.mirrored(), dir), i6);
    EXPECT_EQ(dir, 1);
    EXPECT_EQ(find(*t, b6, dir), j6);
    EXPECT_EQ(dir, 0);
    EXPECT_EQ(find(*t, icmp.mirrored(), dir), ic);  // the echo reply's key: identifier in dport
    EXPECT_EQ(dir, 1);
    EXPECT_EQ(t->active(), 4U);
}

TEST(FlowTable, RemoveForgetsBothTuplesAndIsIdempotent) {
    auto t = make_table(1024);
    ASSERT_NE(t, nullptr);
    auto a = session_keys(1);
    auto b = session_keys(2);
    uint32_t ia = insert(*t, a.t0, a.t1, at_s(1));
    uint32_t ib = insert(*t, b.t0, b.t1, at_s(1));
    ASSERT_NE(ia, no_session);
    ASSERT_NE(ib, no_session);
    t->remove(ia);
    uint8_t dir = 0;
    EXPECT_EQ(find(*t, a.t0, dir), no_session);
    EXPECT_EQ(find(*t, a.t1, dir), no_session);
    EXPECT_FALSE(t->contains(a.t0));
    EXPECT_FALSE(t->contains(a.t1));
    EXPECT_EQ(t->at(ia).in_use, 0);
    EXPECT_EQ(t->active(), 1U);
    EXPECT_EQ(find(*t, b.t1, dir), ib);  // the other session is untouched
    EXPECT_EQ(dir, 1);

    // A second remove changes nothing (the index is not freed twice).
    t->remove(ia);
    EXPECT_EQ(t->active(), 1U);
    // The freed index is handed out again, and only once.
    std::set<uint32_t> seen = {ib};
    for (uint32_t i = 10; i < 10 + t->capacity() - 1; ++i) {
        auto k = session_keys(i);
        uint32_t idx = insert(*t, k.t0, k.t1, at_s(1));
        ASSERT_NE(idx, no_session) << "session " << i;
        EXPECT_TRUE(seen.insert(idx).second) << "index " << idx << " handed out twice";
    }
    EXPECT_TRUE(seen.count(ia));
    EXPECT_EQ(t->active(), t->capacity());
    // Removed sessions leave the wheel too: nothing expires twice, nothing stale is visited.
    EXPECT_EQ(expire_to(*t, at_s(1000)).size(), t->capacity());
    EXPECT_EQ(t->active(), 0U);
}

TEST(FlowTable, SymmetricTupleHoldsOneKey) {
    // t1 == t0 (a flow from an endpoint to itself): one key, found as direction 0; removal works.
    auto t = make_table(1024);
    ASSERT_NE(t, nullptr);
    flow_key k = key4(0x0a000001U, 0x0a000001U, 5000, 5000);
    ASSERT_TRUE(k == k.mirrored());
    uint32_t idx = insert(*t, k, k, at_s(1), session_kind::firewall);
    ASSERT_NE(idx, no_session);
    uint8_t dir = 0xff;
    EXPECT_EQ(find(*t, k, dir), idx);
    EXPECT_EQ(dir, 0);
    t->remove(idx);
    EXPECT_FALSE(t->contains(k));
    EXPECT_EQ(t->active(), 0U);
    EXPECT_NE(insert(*t, k, k, at_s(1), session_kind::firewall), no_session);
}

TEST(FlowTable, FullTableRefusesWithoutSideEffects) {
    constexpr uint32_t cap = 1024;  // flows.sessionsPerWorker minimum
    auto t = make_table(cap);
    ASSERT_NE(t, nullptr);
    std::vector<uint32_t> idx;
    std::set<uint32_t> distinct;
    for (uint32_t i = 0; i < cap; ++i) {
        auto k = session_keys(i);
        uint32_t x = insert(*t, k.t0, k.t1, at_s(1));
        ASSERT_NE(x, no_session) << "session " << i << " of " << cap;
        ASSERT_LT(x, cap);
        idx.push_back(x);
        distinct.insert(x);
    }
    EXPECT_EQ(distinct.size(), cap);
    EXPECT_EQ(t->active(), cap);

    auto extra = session_keys(cap);
    EXPECT_EQ(insert(*t, extra.t0, extra.t1, at_s(1)), no_session);
    EXPECT_EQ(t->active(), cap);
    EXPECT_FALSE(t->contains(extra.t0)) << "a refused insert left its first key behind";
    EXPECT_FALSE(t->contains(extra.t1));
    // Every session is still intact, both ways.
    for (uint32_t i = 0; i < cap; ++i) {
        auto k = session_keys(i);
        uint8_t dir = 0;
        ASSERT_EQ(find(*t, k.t0, dir), idx[i]);
        ASSERT_EQ(dir, 0);
        ASSERT_EQ(find(*t, k.t1, dir), idx[i]);
        ASSERT_EQ(dir, 1);
    }
    // One freed: exactly one more fits, in that index.
    t->remove(idx[100]);
    EXPECT_EQ(insert(*t, extra.t0, extra.t1, at_s(1)), idx[100]);
    auto extra2 = session_keys(cap + 1);
    EXPECT_EQ(insert(*t, extra2.t0, extra2.t1, at_s(1)), no_session);
    EXPECT_EQ(t->active(), cap);
}

// ---- Expiry --------------------------------------------------------------------------------------

struct proto_case {
    const char* name;
    uint8_t proto;
    tcp_state state;
    uint32_t timeout_s;  // from short_timeouts()
};

TEST(FlowTable, ExpiryByProtocolAndTcpState) {
    const proto_case cases[] = {
        {"udp", 17, tcp_state::none, 5},
        {"icmp", 1, tcp_state::none, 3},
        {"icmpv6", 58, tcp_state::none, 3},
        {"sctp", 132, tcp_state::none, 7},
        {"gre (other: the UDP timeout)", 47, tcp_state::none, 5},
        {"tcp syn_sent", 6, tcp_state::syn_sent, 2},
        {"tcp syn_received", 6, tcp_state::syn_received, 2},
        {"tcp established", 6, tcp_state::established, 20},
        {"tcp closing", 6, tcp_state::closing, 1},
        {"tcp closed (RST)", 6, tcp_state::closed, 1},
    };
    auto t = make_table(1024);
    ASSERT_NE(t, nullptr);
    t->set_timeouts(short_timeouts());
    const uint64_t start = at_s(10);  // on a tick boundary
    std::map<uint32_t, const proto_case*> by_idx;
    uint32_t n = 0;
    for (const auto& c : cases) {
        auto k = session_keys(n++, c.proto);
        uint32_t idx = insert(*t, k.t0, k.t1, start);
        ASSERT_NE(idx, no_session);
        t->at(idx).state = c.state;
        t->reschedule(idx);  // as the worker does after setting the state of a new session
        EXPECT_EQ(t->timeout_of(t->at(idx)), c.timeout_s * hz) << c.name;
        by_idx[idx] = &c;
    }
    // Step the clock by 1/32 s: each session goes exactly at start + its timeout, not a tick
    // earlier or later.
    std::map<uint32_t, uint64_t> expired_at;
    for (uint64_t now = start; now <= start + at_s(25); now += tick / 2) {
        for (uint32_t idx : expire_to(*t, now)) {
            EXPECT_TRUE(expired_at.emplace(idx, now).second) << "expired twice: " << by_idx[idx]->name;
        }
    }
    ASSERT_EQ(expired_at.size(), std::size(cases));
    for (const auto& [idx, when] : expired_at) {
        const auto* c = by_idx[idx];
        EXPECT_EQ(when, start + c->timeout_s * hz) << c->name;
    }
    EXPECT_EQ(t->active(), 0U);
}

TEST(FlowTable, RefreshedSessionIsRelinkedNotExpired) {
    auto t = make_table(1024);
    ASSERT_NE(t, nullptr);
    t->set_timeouts(short_timeouts());  // UDP 5 s
    auto k = session_keys(1);
    auto quiet = session_keys(2);
    uint32_t idx = insert(*t, k.t0, k.t1, at_s(1));
    uint32_t qidx = insert(*t, quiet.t0, quiet.t1, at_s(1));
    ASSERT_NE(idx, no_session);
    EXPECT_TRUE(expire_to(*t, at_s(4)).empty());
    // A packet at t=4 s: the worker only moves last_seen; the wheel entry stays where it was.
    t->at(idx).last_seen = at_s(4);
    auto gone = expire_to(*t, at_s(6));
    ASSERT_EQ(gone.size(), 1U);
    EXPECT_EQ(gone[0], qidx);  // the quiet one goes on time
    uint8_t dir = 0;
    EXPECT_EQ(find(*t, k.t1, dir), idx) << "the refreshed session expired at its old deadline";
    EXPECT_TRUE(expire_to(*t, at_s(9) - tick / 2).empty());
    // Refreshed again on the way: relinked again.
    t->at(idx).last_seen = at_s(8.5);
    EXPECT_TRUE(expire_to(*t, at_s(13) - tick / 2).empty());
    gone = expire_to(*t, at_s(13.5));
    ASSERT_EQ(gone.size(), 1U);
    EXPECT_EQ(gone[0], idx);
    EXPECT_FALSE(t->contains(k.t0));
}

TEST(FlowTable, OnExpireRunsBeforeRemoval) {
    auto t = make_table(1024);
    ASSERT_NE(t, nullptr);
    t->set_timeouts(short_timeouts());
    auto k = session_keys(3);
    uint32_t idx = insert(*t, k.t0, k.t1, at_s(1));
    bool seen = false;
    uint32_t n = t->expire(at_s(7), UINT32_MAX, [&](uint32_t i) {
        EXPECT_EQ(i, idx);
        EXPECT_EQ(t->at(i).in_use, 1);
        EXPECT_TRUE(t->contains(k.t0)) << "on_expire must see the session whole (release() reads its keys)";
        EXPECT_TRUE(t->at(i).t[0] == k.t0);
        seen = true;
    });
    EXPECT_EQ(n, 1U);
    EXPECT_TRUE(seen);
    EXPECT_FALSE(t->contains(k.t0));
    EXPECT_FALSE(t->contains(k.t1));
}

TEST(FlowTable, ShorterTimeoutAfterRescheduleLongerLazily) {
    auto t = make_table(1024);
    ASSERT_NE(t, nullptr);
    t->set_timeouts(short_timeouts());
    // Established (20 s), then a RST at t=3 s: closed, 1 s from then.
    auto a = session_keys(1, 6);
    uint32_t ia = insert(*t, a.t0, a.t1, at_s(1));
    t->at(ia).state = tcp_state::established;
    t->reschedule(ia);
    // SYN (2 s), established at t=2 s without a reschedule (the worker does not reschedule a
    // longer timeout): the wheel finds it at 3 s, re-links it, it goes at 2 + 20 s.
    auto b = session_keys(2, 6);
    uint32_t ib = insert(*t, b.t0, b.t1, at_s(1));
    t->at(ib).state = tcp_state::syn_sent;
    EXPECT_TRUE(expire_to(*t, at_s(2)).empty());
    t->at(ib).state = tcp_state::established;
    t->at(ib).last_seen = at_s(2);
    EXPECT_TRUE(expire_to(*t, at_s(3)).empty());
    t->at(ia).state = tcp_state::closed;
    t->at(ia).last_seen = at_s(3);
    t->reschedule(ia);
    EXPECT_TRUE(expire_to(*t, at_s(4) - tick / 2).empty());
    auto gone = expire_to(*t, at_s(4));
    ASSERT_EQ(gone.size(), 1U);
    EXPECT_EQ(gone[0], ia);
    EXPECT_TRUE(expire_to(*t, at_s(22) - tick / 2).empty());
    gone = expire_to(*t, at_s(22));
    ASSERT_EQ(gone.size(), 1U);
    EXPECT_EQ(gone[0], ib);
}

TEST(FlowTable, TimeoutsBeyondTheWheelSpan) {
    // 4096 slots of 1/16 s span 256 s; 600 s and the 7200 s default go round lazily.
    auto t = make_table(1024);
    ASSERT_NE(t, nullptr);
    policy::flow_settings s = short_timeouts();
    s.tcp_established_timeout = 7200;
    s.udp_timeout = 600;
    t->set_timeouts(s);
    auto u = session_keys(1, 17);
    auto e = session_keys(2, 6);
    uint32_t iu = insert(*t, u.t0, u.t1, at_s(1));
    uint32_t ie = insert(*t, e.t0, e.t1, at_s(1));
    t->at(ie).state = tcp_state::established;
    t->reschedule(ie);
    // Polled every second, as a worker does (many times a second, in fact).
    std::map<uint32_t, uint64_t> expired_at;
    for (uint64_t now = at_s(1); now <= at_s(7300); now += hz / 4) {
        for (uint32_t idx : expire_to(*t, now)) expired_at[idx] = now;
    }
    ASSERT_EQ(expired_at.size(), 2U);
    EXPECT_EQ(expired_at[iu], at_s(601));
    EXPECT_EQ(expired_at[ie], at_s(7201));
}

TEST(FlowTable, LongIdleGapBetweenPolls) {
    // No poll for longer than the wheel span: a single expire() catches up.
    auto t = make_table(1024);
    ASSERT_NE(t, nullptr);
    policy::flow_settings s = short_timeouts();
    s.udp_timeout = 600;
    t->set_timeouts(s);
    auto a = session_keys(1, 17);   // UDP 600 s
    auto b = session_keys(2, 1);    // ICMP 3 s
    auto c = session_keys(3, 132);  // SCTP 7 s, inserted late
    uint32_t ia = insert(*t, a.t0, a.t1, at_s(1));
    uint32_t ib = insert(*t, b.t0, b.t1, at_s(1));
    EXPECT_TRUE(expire_to(*t, at_s(1)).empty());
    // Inserted at t=300 s while the wheel's cursor still stands at 1 s.
    uint32_t ic = insert(*t, c.t0, c.t1, at_s(300));
    auto gone = expire_to(*t, at_s(305));
    ASSERT_EQ(gone.size(), 1U);
    EXPECT_EQ(gone[0], ib);
    EXPECT_TRUE(t->contains(c.t0)) << "a session inserted with a stale cursor expired early";
    gone = expire_to(*t, at_s(307));
    ASSERT_EQ(gone.size(), 1U);
    EXPECT_EQ(gone[0], ic);
    EXPECT_TRUE(expire_to(*t, at_s(600)).empty());
    gone = expire_to(*t, at_s(5000));
    ASSERT_EQ(gone.size(), 1U);
    EXPECT_EQ(gone[0], ia);
    EXPECT_EQ(t->active(), 0U);
}

TEST(FlowTable, ExpiryBudgetResumesWhereItStopped) {
    auto t = make_table(2048);
    ASSERT_NE(t, nullptr);
    t->set_timeouts(short_timeouts());
    constexpr uint32_t n = 1000;
    for (uint32_t i = 0; i < n; ++i) {
        auto k = session_keys(i);
        ASSERT_NE(insert(*t, k.t0, k.t1, at_s(1)), no_session);
    }
    std::set<uint32_t> seen;
    uint32_t calls = 0;
    uint32_t total = 0;
    while (total < n && calls < 100) {
        uint32_t got = t->expire(at_s(6), 256, [&](uint32_t idx) { EXPECT_TRUE(seen.insert(idx).second); });
        EXPECT_LE(got, 256U);
        total += got;
        ++calls;
    }
    EXPECT_EQ(total, n);
    EXPECT_EQ(seen.size(), n);
    EXPECT_EQ(calls, 4U);  // 256 + 256 + 256 + 232
    EXPECT_EQ(t->active(), 0U);
}

// Random inserts, refreshes, state changes, removals and clock steps against a model: after each
// expire(now), exactly the sessions whose deadline tick has come are gone.
TEST(FlowTable, RandomizedAgainstModel) {
    constexpr uint32_t cap = 4096;
    auto t = make_table(cap);
    ASSERT_NE(t, nullptr);
    policy::flow_settings s = short_timeouts();
    s.udp_timeout = 300;  // beyond the wheel span
    t->set_timeouts(s);
    std::mt19937 rng(12345);
    struct live {
        pair_keys k;
    };
    std::map<uint32_t, live> model;
    uint64_t now = at_s(1);
    uint32_t next_key = 0;
    uint64_t expired_total = 0;
    const uint8_t protos[] = {17, 6, 1, 132};
    for (int step = 0; step < 4000; ++step) {
        now += rng() % (hz / 2);
        for (int op = 0; op < 8; ++op) {
            unsigned r = rng() % 10;
            if (r < 4 && model.size() < cap) {
                auto k = session_keys(next_key++, protos[rng() % 4]);
                uint32_t idx = insert(*t, k.t0, k.t1, now);
                ASSERT_NE(idx, no_session);
                ASSERT_EQ(model.count(idx), 0U);
                model[idx] = {k};
            } else if (!model.empty()) {
                auto it = model.begin();
                std::advance(it, rng() % model.size());
                uint32_t idx = it->first;
                session& ss = t->at(idx);
                if (r < 7) {
                    ss.last_seen = now;  // a packet
                    if (ss.t[0].proto == 6 && ss.state == tcp_state::none) ss.state = tcp_state::established;
                } else if (r < 9) {
                    ss.last_seen = now;
                    if (ss.t[0].proto == 6) {
                        ss.state = tcp_state::closed;
                        t->reschedule(idx);
                    }
                } else {
                    t->remove(idx);
                    model.erase(it);
                }
            }
        }
        auto gone = expire_to(*t, now);
        for (uint32_t idx : gone) {
            auto it = model.find(idx);
            ASSERT_NE(it, model.end()) << "expired a session that was not live";
            const session& ss = t->at(idx);
            EXPECT_LE((ss.last_seen + t->timeout_of(ss)) / tick, now / tick) << "expired early";
            model.erase(it);
        }
        expired_total += gone.size();
        for (const auto& [idx, l] : model) {
            const session& ss = t->at(idx);
            ASSERT_EQ(ss.in_use, 1);
            ASSERT_GT((ss.last_seen + t->timeout_of(ss)) / tick, now / tick)
                << "session " << idx << " overdue at step " << step;
            uint8_t dir = 0;
            ASSERT_EQ(find(*t, l.k.t1, dir), idx);
            ASSERT_EQ(dir, 1);
        }
        ASSERT_EQ(t->active(), model.size());
    }
    EXPECT_GT(expired_total, 1000U);
}

// ---- Capacity ------------------------------------------------------------------------------------

size_t heap_in_use() {
    size_t total = 0;
    for (unsigned s = 0; s < rte_socket_count(); ++s) {
        rte_malloc_socket_stats st{};
        if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(s), &st) == 0) total += st.heap_allocsz_bytes;
    }
    return total;
}

// The largest flows.sessionsPerWorker the schema allows is 4M; 1M per worker is the sizing the
// gateway is planned for. The test EAL has 512 MB without hugepages (tests/support/eal_env.cpp);
// when that is not enough the test says how much it needed and skips.
TEST(FlowTable, OneMillionSessions) {
    constexpr uint32_t cap = 1U << 20;
    size_t before = heap_in_use();
    auto r = flow_table::create(unique_name("ftm"), cap, static_cast<int>(rte_socket_id()), hz);
    if (!r.ok()) GTEST_SKIP() << "cannot allocate a 1M-session table in this EAL: " << r.error_message();
    std::unique_ptr<flow_table> t(r.value());
    size_t table_bytes = heap_in_use() - before;
    std::printf("[ memory ] flow_table of %u sessions: %.1f MiB of DPDK heap\n", cap,
                static_cast<double>(table_bytes) / (1 << 20));
    t->set_timeouts(short_timeouts());
    for (uint32_t i = 0; i < cap; ++i) {
        auto k = session_keys(i);
        uint32_t idx = insert(*t, k.t0, k.t1, at_s(1));
        ASSERT_NE(idx, no_session) << "session " << i << " of " << cap << " did not fit";
    }
    EXPECT_EQ(t->active(), cap);
    auto extra = session_keys(cap);
    EXPECT_EQ(insert(*t, extra.t0, extra.t1, at_s(1)), no_session);
    for (uint32_t i = 0; i < cap; i += 997) {
        auto k = session_keys(i);
        uint8_t dir = 0;
        ASSERT_NE(find(*t, k.t0, dir), no_session);
        ASSERT_EQ(dir, 0);
        ASSERT_NE(find(*t, k.t1, dir), no_session);
        ASSERT_EQ(dir, 1);
    }
    // All expire in bounded steps (256 per poll in the worker).
    uint64_t expired = 0;
    uint32_t polls = 0;
    while (expired < cap && polls < 2 * cap / 256) {
        expired += t->expire(at_s(7), 256, [](uint32_t) {});
        ++polls;
    }
    EXPECT_EQ(expired, cap);
    EXPECT_EQ(polls, cap / 256);
    EXPECT_EQ(t->active(), 0U);
}

// A worker's whole L4 state for 1M sessions: the session table plus the per-source counts and the
// endpoint-independent NAT mappings l4_worker::create() allocates beside it.
TEST(FlowTable, OneMillionSessionWorker) {
    constexpr uint32_t cap = 1U << 20;
    size_t before = heap_in_use();
    core_counters* ctr = static_cast<core_counters*>(rte_zmalloc(nullptr, sizeof(core_counters), 64));
    ASSERT_NE(ctr, nullptr);
    auto r = l4_worker::create(0, 1, cap, hz, cookie_secret{1, 2}, ctr, unique_name("wm"));
    if (!r.ok()) {
        rte_free(ctr);
        GTEST_SKIP() << "cannot allocate a 1M-session worker in this EAL: " << r.error_message();
    }
    std::unique_ptr<l4_worker> w(r.value());
    size_t bytes = heap_in_use() - before;
    std::printf("[ memory ] l4_worker of %u sessions: %.1f MiB of DPDK heap\n", cap,
                static_cast<double>(bytes) / (1 << 20));
    EXPECT_EQ(w->flows().capacity(), cap);
    w.reset();
    rte_free(ctr);
}

}  // namespace
}  // namespace meshgate::dataplane::l4
