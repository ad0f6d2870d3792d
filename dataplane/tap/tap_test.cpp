// Packet taps: filter compilation and matching, the worker's copy path (rate limits, ring and pool
// exhaustion counted), pcapng files (rotation, block contents), ERSPAN encapsulation byte by byte
// and through the control lcore's forwarder, start/stop/reload, file resolution, call().
#include "dataplane/tap/tap.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_ring.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <thread>

#include "dataplane/control.hpp"
#include "dataplane/forwarder.hpp"
#include "dataplane/neighbor.hpp"
#include "dataplane/runtime.hpp"
#include "dataplane/tap/erspan.hpp"
#include "dataplane/tap/filter.hpp"
#include "dataplane/tap/pcapng_file.hpp"
#include "tests/support/packet_builder.hpp"

namespace meshgate::dataplane::tap {
namespace {

using namespace meshgate::test;

constexpr const char* config_json = R"({
  "interfaces": [
    { "name": "client", "device": "c", "mac": "02:00:00:00:00:01",
      "ipv4Addresses": ["198.18.1.1/24"], "ipv6Addresses": ["fd00:1::1/64"] },
    { "name": "srv1", "device": "s1", "mac": "02:00:00:00:00:02",
      "ipv4Addresses": ["198.18.2.1/24"], "ipv6Addresses": ["fd00:2::1/64"],
      "staticNeighbors": [ { "ip": "198.18.2.9", "mac": "02:00:00:00:02:09" },
                           { "ip": "fd00:2::9", "mac": "02:00:00:00:02:09" } ] }
  ]
})";

const mac host_mac = mac_of("02:00:00:00:01:02");
const mac gw_mac = mac_of("02:00:00:00:00:01");

uint32_t rd32le(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
uint16_t rd16be(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t rd32be(const uint8_t* p) {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

bytes tcp6_frame(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport, size_t payload = 20) {
    ipv6_opts o;
    o.next_header = 6;
    return ether(gw_mac, host_mac, 0x86dd, ipv6_packet(src, dst, tcp_segment(sport, dport, 0x18, pattern(payload)), o));
}

bytes icmp4_frame(const std::string& src, const std::string& dst, uint16_t seq, size_t payload = 56) {
    ipv4_opts o;
    o.proto = 1;
    return ether(gw_mac, host_mac, 0x0800, ipv4_packet(src, dst, icmp4_echo(8, 1, seq, pattern(payload)), o));
}

std::string temp_dir() {
    char tmpl[] = "/tmp/mg-tap-test.XXXXXX";
    const char* d = mkdtemp(tmpl);
    return d != nullptr ? d : "";
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != "..") out.push_back(n);
        }
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

bytes read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// A minimal pcapng reader (little-endian sections): the blocks by type.
struct pcapng_block {
    uint32_t type;
    bytes body;  // after type and length, before the trailing length
};
std::vector<pcapng_block> parse_pcapng(const bytes& f, std::string& err) {
    std::vector<pcapng_block> out;
    size_t off = 0;
    while (off + 12 <= f.size()) {
        uint32_t type = rd32le(&f[off]), len = rd32le(&f[off + 4]);
        if (len < 12 || len % 4 != 0 || off + len > f.size()) {
            err = "bad block length " + std::to_string(len) + " at " + std::to_string(off);
            return out;
        }
        if (rd32le(&f[off + len - 4]) != len) {
            err = "trailing length differs at " + std::to_string(off);
            return out;
        }
        out.push_back(
            {type, bytes(f.begin() + static_cast<long>(off) + 8, f.begin() + static_cast<long>(off + len) - 4)});
        off += len;
    }
    if (off != f.size()) err = "trailing bytes";
    return out;
}

class Tap : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // Two ports so that rte_pcapng writes interface descriptions the packets refer to.
        for (const char* name : {"net_null_tapt0", "net_null_tapt1"}) {
            uint16_t p = 0;
            if (rte_eth_dev_get_port_by_name(name, &p) != 0) {
                ASSERT_EQ(rte_dev_probe(name), 0) << name;
                ASSERT_EQ(rte_eth_dev_get_port_by_name(name, &p), 0);
            }
            ports_.push_back(p);
        }
    }

    void SetUp() override {
        static int n = 0;
        tag_ = "tt" + std::to_string(n++);
        auto parsed = policy::parse_config_json(config_json);
        ASSERT_TRUE(parsed) << parsed.error_message();
        cfg_ = std::move(parsed).value();
        pool_ = rte_pktmbuf_pool_create((tag_ + "p").c_str(), 1023, 0, mbuf_priv_size, 4096 + RTE_PKTMBUF_HEADROOM,
                                        SOCKET_ID_ANY);
        ASSERT_NE(pool_, nullptr);
        auto nt = neighbor_table::create(tag_ + "n", 1024, nullptr);
        ASSERT_TRUE(nt);
        nt_ = nt.value();
        std::vector<uint16_t> port_of = {ports_[0], ports_[1]};
        std::vector<rte_ether_addr> macs(2);
        auto built = build_runtime(cfg_, port_of, macs, *nt_, tag_ + "r");
        ASSERT_TRUE(built) << built.error_message();
        rt_ = std::move(built).value();
        counters_ = static_cast<core_counters*>(rte_zmalloc(nullptr, sizeof(core_counters), 64));
        batch_ = static_cast<tx_batch*>(rte_zmalloc(nullptr, sizeof(tx_batch), 64));
        punt_ = rte_ring_create((tag_ + "u").c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        ASSERT_TRUE(counters_ && batch_ && punt_);
        control_ = std::make_unique<control_plane>(rt_.get(), nt_, pool_, counters_, rte_get_tsc_hz(),
                                                   control_plane::default_timers(rte_get_tsc_hz()));
        ASSERT_TRUE(control_->install_static_neighbors(cfg_));
        fwd_ = std::make_unique<forwarder>(rt_.get(), pool_, counters_, punt_, rte_get_tsc_hz());
    }

    void TearDown() override {
        mgr_.reset();
        for (uint16_t i = 0; i < batch_->n_used; ++i) {
            uint16_t p = batch_->used[i];
            for (uint16_t k = 0; k < batch_->count[p]; ++k) rte_pktmbuf_free(batch_->pkts[p][k]);
        }
        batch_->clear();
        fwd_.reset();
        control_.reset();
        rt_.reset();
        rte_ring_free(punt_);
        rte_free(batch_);
        rte_free(counters_);
        delete nt_;
        rte_mempool_free(pool_);
        if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
    }

    void make_manager(unsigned copies = 511, unsigned ring = 1024, unsigned workers = 1) {
        manager_params p;
        p.n_workers = workers;
        p.tsc_hz = rte_get_tsc_hz();
        p.rt = rt_.get();
        p.copies = copies;
        p.ring_size = ring;
        p.mirror_buffers = 255;
        p.name = tag_ + "m";
        auto m = manager::create(p);
        ASSERT_TRUE(m) << m.error_message();
        mgr_ = std::move(m).value();
        mgr_->set_logger([this](const std::string& l) { log_.push_back(l); });
    }

    policy::tap_settings tap(const std::string& name, const std::string& filter = "") {
        policy::tap_settings t;
        t.name = name;
        t.filter = filter;
        t.start = true;
        return t;
    }

    void apply(std::vector<policy::tap_settings> taps) {
        cfg_.taps = std::move(taps);
        auto b = build(cfg_, *rt_);
        ASSERT_TRUE(b) << b.error_message();
        mgr_->apply(std::move(b).value());
    }

    rte_mbuf* mbuf(const bytes& frame) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool_);
        EXPECT_NE(m, nullptr);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(), frame.size());
        return m;
    }

    // Feeds `frames` to worker 0's capture as received on (port index, queue 0).
    void capture(const std::vector<bytes>& frames, unsigned port_index = 0, uint8_t dir = dir_rx, unsigned worker = 0) {
        std::vector<rte_mbuf*> pkts;
        for (const auto& f : frames) pkts.push_back(mbuf(f));
        tap_worker* w = mgr_->worker(worker);
        if (const tap_set* s = w->active())
            w->capture(*s, ports_[port_index], 0, pkts.data(), static_cast<uint16_t>(pkts.size()), dir);
        for (rte_mbuf* m : pkts) rte_pktmbuf_free(m);
    }

    tap_stats stats(const std::string& name) {
        for (auto& s : mgr_->stats()) {
            if (s.name == name) return s;
        }
        ADD_FAILURE() << "no tap " << name;
        return {};
    }

    static std::vector<uint16_t> ports_;
    std::string tag_;
    std::string dir_;
    policy::config cfg_;
    rte_mempool* pool_ = nullptr;
    neighbor_table* nt_ = nullptr;
    std::unique_ptr<runtime> rt_;
    core_counters* counters_ = nullptr;
    tx_batch* batch_ = nullptr;
    rte_ring* punt_ = nullptr;
    std::unique_ptr<control_plane> control_;
    std::unique_ptr<forwarder> fwd_;
    std::unique_ptr<manager> mgr_;
    std::vector<std::string> log_;
};

std::vector<uint16_t> Tap::ports_;

// ---- filters --------------------------------------------------------------------------------

TEST_F(Tap, FilterThatDoesNotCompileIsAnErrorWithLibpcapsMessage) {
    auto c = check_filter("tcp prot 80");
    ASSERT_FALSE(c);
    EXPECT_NE(c.error_message().find("syntax error"), std::string::npos) << c.error_message();
    auto f = compile_filter("tcp prot 80");
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error_message(), c.error_message());
    EXPECT_FALSE(check_filter("host 300.1.1.1"));
    EXPECT_TRUE(check_filter("tcp port 80 and host fd00:2::10"));
    EXPECT_TRUE(check_filter(""));

    cfg_.taps = {tap("ok", "icmp"), tap("bad", "udp port 99999")};
    auto b = build(cfg_, *rt_);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error_message().rfind("taps[1].filter: \"udp port 99999\": ", 0), 0U) << b.error_message();
}

TEST_F(Tap, FilterMatchesBuiltPackets) {
    auto f = compile_filter("tcp port 80 and host fd00:2::10");
    ASSERT_TRUE(f) << f.error_message();
    ASSERT_NE(f.value(), nullptr);
    EXPECT_GT(f.value()->instructions(), 0U);
    std::vector<bytes> frames = {
        tcp6_frame("fd00:1::2", "fd00:2::10", 40000, 80),  // match (dst)
        tcp6_frame("fd00:2::10", "fd00:1::2", 80, 40000),  // match (src, reply)
        tcp6_frame("fd00:1::2", "fd00:2::10", 40000, 81),  // other port
        tcp6_frame("fd00:1::2", "fd00:2::11", 40000, 80),  // other host
        icmp4_frame("198.18.1.2", "198.18.2.2", 1),        // other family and protocol
        ether(gw_mac, host_mac, 0x8100,                    // tagged: "vlan and ..." needed
              bytes{0, 7, 0x86, 0xdd}),
    };
    std::vector<rte_mbuf*> pkts;
    for (const auto& b : frames) pkts.push_back(mbuf(b));
    uint64_t rc[8] = {};
    f.value()->run(pkts.data(), static_cast<uint16_t>(pkts.size()), rc);
    EXPECT_NE(rc[0], 0U);
    EXPECT_NE(rc[1], 0U);
    EXPECT_EQ(rc[2], 0U);
    EXPECT_EQ(rc[3], 0U);
    EXPECT_EQ(rc[4], 0U);
    EXPECT_EQ(rc[5], 0U);

    auto icmp = compile_filter("icmp and dst host 198.18.2.2");
    ASSERT_TRUE(icmp);
    icmp.value()->run(pkts.data(), static_cast<uint16_t>(pkts.size()), rc);
    EXPECT_EQ(std::count_if(rc, rc + 6, [](uint64_t v) { return v != 0; }), 1);
    EXPECT_NE(rc[4], 0U);
    for (rte_mbuf* m : pkts) rte_pktmbuf_free(m);

    auto all = compile_filter("");
    ASSERT_TRUE(all);
    EXPECT_EQ(all.value(), nullptr) << "no program for an empty expression";
}

TEST_F(Tap, PrefilterSkipsTheProgramOnlyForPacketsThatCannotMatch) {
    auto frame_of = [](bool v6, uint8_t proto) {
        bytes frame = v6 ? ether(gw_mac, host_mac, 0x86dd,
                                 ipv6_packet("fd00:1::2", "fd00:2::2", pattern(40), ipv6_opts{64, proto}))
                         : ether(gw_mac, host_mac, 0x0800,
                                 ipv4_packet("198.18.1.2", "198.18.2.2", pattern(40), ipv4_opts{64, proto}));
        return frame;
    };
    auto f = compile_filter("tcp port 9");
    ASSERT_TRUE(f) << f.error_message();
    EXPECT_TRUE(f.value()->prefiltered());
    // Which classes the analysis keeps, read back through may_match on real frames.
    struct expect_row {
        const char* expr;
        bool v6;
        uint8_t proto;
        bool may;
    };
    const expect_row rows[] = {
        {"tcp port 9", false, 6, true},
        {"tcp port 9", false, 17, false},
        {"tcp port 9", true, 6, true},
        {"tcp port 9", true, 17, false},
        {"tcp port 9", true, 44, false},  // libpcap does not look behind an IPv6 fragment header
        {"icmp", false, 1, true},
        {"icmp", false, 6, false},
        {"icmp", true, 58, false},
        {"arp", false, 17, false},
        {"host 198.18.2.2", false, 17, true},
        {"host 198.18.2.2", true, 17, false},
        {"udp or icmp6", true, 58, true},
        {"udp or icmp6", false, 1, false},
        {"not tcp", false, 17, true},
        {"not tcp", false, 6, false},
        {"len > 1000", false, 6, true},
        {"ip[9] == 17", false, 17, true},
        {"ip[9] == 17", false, 6, false},
    };
    for (const auto& r : rows) {
        auto g = compile_filter(r.expr);
        ASSERT_TRUE(g) << r.expr;
        rte_mbuf* m = mbuf(frame_of(r.v6, r.proto));
        EXPECT_EQ(g.value()->may_match(m), r.may) << r.expr << " IPv" << (r.v6 ? 6 : 4) << " proto " << int{r.proto};
        rte_pktmbuf_free(m);
    }
    auto any = compile_filter("len > 0");
    ASSERT_TRUE(any);
    EXPECT_FALSE(any.value()->prefiltered()) << "every class may match: no pre-check";

    // Soundness: whatever a program accepts, may_match lets through (many filters, many frames).
    const char* exprs[] = {"tcp port 80 and host fd00:2::10",
                           "udp",
                           "icmp or icmp6",
                           "tcp[13] & 2 != 0",
                           "ip6 and not tcp",
                           "portrange 1000-2000",
                           "ip proto 132 or ip6 proto 132",
                           "vlan and udp",
                           "arp or (ip and udp port 53)",
                           "tcp[0:4] = 1",
                           "udp[0:2] = 53",
                           "tcp[13] = 2",
                           "icmp[0] = 8",
                           "ip[0] & 0xf > 5",
                           "ip6[6] = 17"};
    std::vector<bytes> frames;
    for (uint8_t proto : {1, 6, 17, 58, 132, 44, 0}) {
        for (bool v6 : {false, true}) {
            bytes l4 = proto == 6    ? tcp_segment(1500, 80, 0x02, pattern(10))
                       : proto == 17 ? udp4(53, 1500, pattern(10))
                                     : pattern(30);
            frames.push_back(
                v6 ? ether(gw_mac, host_mac, 0x86dd, ipv6_packet("fd00:1::2", "fd00:2::10", l4, ipv6_opts{64, proto}))
                   : ether(gw_mac, host_mac, 0x0800,
                           ipv4_packet("198.18.1.2", "198.18.2.2", l4, ipv4_opts{64, proto})));
        }
    }
    frames.push_back(ether(gw_mac, host_mac, 0x8100, bytes{0, 7, 0x08, 0x00}));
    unsigned accepted = 0;
    for (const char* e : exprs) {
        auto g = compile_filter(e);
        ASSERT_TRUE(g) << e;
        for (const auto& fr : frames) {
            rte_mbuf* m = mbuf(fr);
            uint64_t rc = 0;
            g.value()->run(&m, 1, &rc);
            if (rc != 0) {
                ++accepted;
                EXPECT_TRUE(g.value()->may_match(m)) << e << ": accepted by the program, refused by the pre-check";
            }
            rte_pktmbuf_free(m);
        }
    }
    EXPECT_GT(accepted, 10U);
    // DPDK 22.11's JIT crashes on byte-sized indirect loads: those filters are interpreted.
    auto byte_ind = compile_filter("tcp[13] & 2 != 0");
    ASSERT_TRUE(byte_ind);
    EXPECT_FALSE(byte_ind.value()->jitted());
}

// ---- worker copy path -----------------------------------------------------------------------

TEST_F(Tap, CopiesMatchesOnWatchedPortAndDirectionOnly) {
    make_manager();
    auto t = tap("web", "tcp port 80");
    t.interfaces = {0};  // client
    t.direction = policy::tap_settings::dir::rx;
    t.snap_length = 64;
    apply({t});
    auto frame = tcp6_frame("fd00:1::2", "fd00:2::10", 40000, 80, 200);
    capture({frame, tcp6_frame("fd00:1::2", "fd00:2::10", 40000, 22), frame});
    capture({frame}, 1);          // srv1: not watched
    capture({frame}, 0, dir_tx);  // client TX: not watched
    rte_ring* r = mgr_->worker(0)->ring();
    ASSERT_EQ(rte_ring_count(r), 2U);
    rte_mbuf* c = nullptr;
    ASSERT_EQ(rte_ring_sc_dequeue(r, reinterpret_cast<void**>(&c)), 0);
    EXPECT_EQ(rte_pktmbuf_pkt_len(c), 64U) << "truncated to the snap length";
    EXPECT_EQ(rte_pktmbuf_data_len(c), 64U);
    EXPECT_EQ(bytes(rte_pktmbuf_mtod(c, uint8_t*), rte_pktmbuf_mtod(c, uint8_t*) + 64),
              bytes(frame.begin(), frame.begin() + 64));
    const auto* meta = static_cast<const copy_meta*>(rte_mbuf_to_priv(c));
    EXPECT_EQ(meta->orig_len, frame.size());
    EXPECT_EQ(meta->port, ports_[0]);
    EXPECT_EQ(meta->dir, dir_rx);
    EXPECT_GT(meta->tsc, 0U);
    rte_pktmbuf_free(c);
    auto s = stats("web");
    EXPECT_TRUE(s.running);
    EXPECT_EQ(s.matched, 2U);
    EXPECT_EQ(s.captured, 2U);
    EXPECT_EQ(s.dropped_rate_limit + s.dropped_ring_full + s.dropped_no_buffer, 0U);
}

TEST_F(Tap, PacketRateLimitDropsBeyondTheBurst) {
    make_manager();
    auto t = tap("lim", "icmp");
    t.packets = {1000, 10};
    apply({t});
    std::vector<bytes> frames(100, icmp4_frame("198.18.1.2", "198.18.2.2", 1));
    capture(frames);  // one burst, one TSC reading: only the bucket's 10 tokens
    auto s = stats("lim");
    EXPECT_EQ(s.matched, 100U);
    EXPECT_EQ(s.captured, 10U);
    EXPECT_EQ(s.dropped_rate_limit, 90U);
    // 1000/s refills one token per millisecond.
    rte_delay_us_block(20000);
    capture(std::vector<bytes>(100, frames[0]));
    s = stats("lim");
    EXPECT_EQ(s.captured, 20U) << "refilled up to the burst (10) after 20 ms";
    EXPECT_EQ(s.dropped_rate_limit, 180U);
}

TEST_F(Tap, ByteRateLimitCountsCopiedBytes) {
    make_manager();
    auto t = tap("bytes");
    t.bytes = {1000000, 500};
    t.snap_length = 200;
    apply({t});
    // 200-byte copies against 500 bytes: 500, 300, 100 admit (the last overdraws), then none.
    capture(std::vector<bytes>(10, icmp4_frame("198.18.1.2", "198.18.2.2", 1, 400)));
    auto s = stats("bytes");
    EXPECT_EQ(s.captured, 3U);
    EXPECT_EQ(s.dropped_rate_limit, 7U);
}

TEST_F(Tap, RateIsSharedByTheWorkers) {
    make_manager(511, 1024, 2);
    auto t = tap("shared");
    t.packets = {1000, 20};
    apply({t});
    auto f = icmp4_frame("198.18.1.2", "198.18.2.2", 1);
    capture(std::vector<bytes>(50, f), 0, dir_rx, 0);
    capture(std::vector<bytes>(50, f), 0, dir_rx, 1);
    auto s = stats("shared");
    EXPECT_EQ(s.captured, 20U) << "each worker's bucket holds burst/workers";
    EXPECT_EQ(s.dropped_rate_limit, 80U);
}

TEST_F(Tap, RingOverflowIsCountedNeverWaitedFor) {
    make_manager(1023, 64);
    apply({tap("all")});
    capture(std::vector<bytes>(100, icmp4_frame("198.18.1.2", "198.18.2.2", 1)));
    auto s = stats("all");
    EXPECT_EQ(s.matched, 100U);
    EXPECT_EQ(s.captured, 63U) << "an rte_ring of 64 holds 63";
    EXPECT_EQ(s.dropped_ring_full, 37U);
    EXPECT_EQ(mgr_->poll(), 63U);
    capture(std::vector<bytes>(10, icmp4_frame("198.18.1.2", "198.18.2.2", 1)));
    EXPECT_EQ(stats("all").captured, 73U) << "room again once the main lcore drained";
}

TEST_F(Tap, EmptyPoolIsCounted) {
    make_manager(40, 1024);
    apply({tap("all")});
    capture(std::vector<bytes>(100, icmp4_frame("198.18.1.2", "198.18.2.2", 1)));
    auto s = stats("all");
    EXPECT_EQ(s.matched, 100U);
    EXPECT_LE(s.captured, 40U);
    EXPECT_GT(s.captured, 0U);
    EXPECT_EQ(s.captured + s.dropped_no_buffer, 100U);
    mgr_->poll();
}

TEST_F(Tap, NothingPublishedWhenNoTapRuns) {
    make_manager();
    EXPECT_EQ(mgr_->worker(0)->active(), nullptr);
    auto t = tap("idle");
    t.start = false;
    apply({t});
    EXPECT_EQ(mgr_->worker(0)->active(), nullptr) << "a stopped tap costs the workers nothing";
    ASSERT_TRUE(mgr_->start("idle"));
    EXPECT_NE(mgr_->worker(0)->active(), nullptr);
    EXPECT_FALSE(mgr_->start("idle")) << "already running";
    EXPECT_FALSE(mgr_->start("nope"));
    capture({icmp4_frame("198.18.1.2", "198.18.2.2", 1)});
    ASSERT_TRUE(mgr_->stop("idle"));
    EXPECT_EQ(mgr_->worker(0)->active(), nullptr);
    capture({icmp4_frame("198.18.1.2", "198.18.2.2", 1)});
    auto s = stats("idle");
    EXPECT_FALSE(s.running);
    EXPECT_EQ(s.captured, 1U);
}

TEST_F(Tap, ReloadKeepsCountersOfTapsThatStayAndStartsNewOnesAtZero) {
    make_manager();
    apply({tap("a"), tap("b")});
    capture({icmp4_frame("198.18.1.2", "198.18.2.2", 1)});
    mgr_->poll();
    EXPECT_EQ(stats("a").captured, 1U);
    EXPECT_EQ(stats("b").captured, 1U);
    ASSERT_TRUE(mgr_->stop("a"));
    // b goes (its slot is free again), c comes (and may take b's slot), a stays stopped.
    apply({tap("a"), tap("c", "udp")});
    auto rows = mgr_->stats();
    ASSERT_EQ(rows.size(), 2U);
    EXPECT_EQ(rows[0].name, "a");
    EXPECT_FALSE(rows[0].running) << "stopped by hand, `start` unchanged";
    EXPECT_EQ(rows[0].captured, 1U);
    EXPECT_EQ(rows[1].name, "c");
    EXPECT_EQ(rows[1].captured, 0U);
    EXPECT_EQ(rows[1].matched, 0U);
    capture({icmp4_frame("198.18.1.2", "198.18.2.2", 1)});
    EXPECT_EQ(stats("c").matched, 0U) << "c's filter is udp";
}

// ---- pcapng files ---------------------------------------------------------------------------

TEST_F(Tap, PcapngFilesRotateAndKeepMaxFiles) {
    make_manager();
    dir_ = temp_dir();
    auto t = tap("rot", "icmp");
    t.directory = dir_ + "/sub";
    t.max_file_bytes = 4096;
    t.max_files = 3;
    apply({t});
    // 30 frames of 1042 bytes: a 1088-byte block each; a file of 4096 holds the headers and 3.
    std::vector<bytes> frames;
    for (uint16_t i = 0; i < 30; ++i) frames.push_back(icmp4_frame("198.18.1.2", "198.18.2.2", i, 1000));
    capture(std::vector<bytes>(frames.begin(), frames.begin() + 20));
    mgr_->poll();
    capture(std::vector<bytes>(frames.begin() + 20, frames.end()));
    mgr_->poll();
    ASSERT_TRUE(mgr_->stop("rot"));  // closes the current file

    auto names = list_dir(dir_ + "/sub");
    ASSERT_EQ(names, (std::vector<std::string>{"rot-000008.pcapng", "rot-000009.pcapng", "rot-000010.pcapng"}));
    auto files = mgr_->files("rot");
    ASSERT_TRUE(files);
    ASSERT_EQ(files.value().size(), 3U);
    auto s = stats("rot");
    EXPECT_EQ(s.files, 3U);
    EXPECT_EQ(s.captured, 30U);

    uint64_t header = 0;
    uint64_t total_epb = 0;
    int seq = 22;  // files 8..10 of ten with three packets each: packets 22..30
    for (const auto& n : names) {
        bytes f = read_file(dir_ + "/sub/" + n);
        EXPECT_LE(f.size(), 4096U) << n;
        EXPECT_EQ(f.size(), files.value()[static_cast<size_t>(&n - &names[0])].bytes);
        std::string err;
        auto blocks = parse_pcapng(f, err);
        ASSERT_EQ(err, "") << n;
        ASSERT_GE(blocks.size(), 3U + 2U);
        EXPECT_EQ(blocks[0].type, 0x0a0d0d0aU) << "section header";
        EXPECT_EQ(rd32le(blocks[0].body.data()), 0x1a2b3c4dU) << "byte-order magic";
        unsigned idbs = 0, epbs = 0;
        for (const auto& b : blocks) {
            if (b.type == 1) ++idbs;
            if (b.type != 6) continue;
            ++epbs;
            const uint8_t* e = b.body.data();
            EXPECT_EQ(rd32le(e + 12), 1042U) << "captured length";
            EXPECT_EQ(rd32le(e + 16), 1042U) << "original length";
            const bytes& fr = frames[static_cast<size_t>(seq - 1)];
            EXPECT_TRUE(std::equal(fr.begin(), fr.end(), b.body.begin() + 20)) << "frame " << seq;
            // Interface: index of port ports_[0] among the ports rte_pcapng listed.
            uint64_t ts = uint64_t{rd32le(e + 4)} << 32 | rd32le(e + 8);
            timespec now{};
            clock_gettime(CLOCK_REALTIME, &now);
            const auto now_ns = static_cast<uint64_t>(now.tv_sec) * 1000000000ULL + static_cast<uint64_t>(now.tv_nsec);
            EXPECT_LT(now_ns - ts, 5000000000ULL) << "nanoseconds since the epoch, taken at capture";
            // Options after the padded data: flags (code 2) = inbound.
            size_t opt = 20 + ((1042 + 3) & ~3U);
            EXPECT_EQ(e[opt] | e[opt + 1] << 8, 2);
            EXPECT_EQ(rd32le(e + opt + 4) & 3U, 1U) << "direction inbound";
            ++seq;
        }
        EXPECT_EQ(idbs, rte_eth_dev_count_avail()) << "one interface description per port";
        EXPECT_EQ(epbs, 3U) << n;
        header = f.size() - epbs * 1088;
        total_epb += epbs * 1088;
    }
    EXPECT_EQ(seq, 31);
    EXPECT_EQ(s.written_bytes, 10 * header + 30 * 1088) << "all ten files, deleted ones included";

    // Downloads resolve only the tap's own current files.
    auto p = mgr_->resolve_file("rot", "rot-000009.pcapng");
    ASSERT_TRUE(p);
    EXPECT_EQ(p.value(), dir_ + "/sub/rot-000009.pcapng");
    EXPECT_FALSE(mgr_->resolve_file("rot", "rot-000001.pcapng")) << "rotated away";
    EXPECT_FALSE(mgr_->resolve_file("rot", "../sub/rot-000009.pcapng"));
    EXPECT_FALSE(mgr_->resolve_file("rot", "/etc/passwd"));
    EXPECT_FALSE(mgr_->resolve_file("other", "rot-000009.pcapng"));

    // A new run adopts them: numbering goes on, and they count toward max_files.
    mgr_.reset();
    make_manager();
    apply({t});
    capture({frames[0]});
    mgr_->poll();
    ASSERT_TRUE(mgr_->stop("rot"));
    EXPECT_EQ(list_dir(dir_ + "/sub"),
              (std::vector<std::string>{"rot-000009.pcapng", "rot-000010.pcapng", "rot-000011.pcapng"}));
}

TEST_F(Tap, PcapngRecordsOriginalLengthAndDirection) {
    make_manager();
    dir_ = temp_dir();
    auto t = tap("snap");
    t.directory = dir_;
    t.snap_length = 100;
    apply({t});
    auto frame = tcp6_frame("fd00:1::2", "fd00:2::10", 40000, 80, 500);
    capture({frame}, 1, dir_tx);
    mgr_->shutdown();
    auto names = list_dir(dir_);
    ASSERT_EQ(names.size(), 1U);
    std::string err;
    auto blocks = parse_pcapng(read_file(dir_ + "/" + names[0]), err);
    ASSERT_EQ(err, "");
    const pcapng_block* epb = nullptr;
    for (const auto& b : blocks) {
        if (b.type == 6) epb = &b;
    }
    ASSERT_NE(epb, nullptr);
    const uint8_t* e = epb->body.data();
    EXPECT_EQ(rd32le(e + 12), 100U);
    EXPECT_EQ(rd32le(e + 16), frame.size());
    EXPECT_EQ(rd32le(e + 20 + 100 + 4) & 3U, 2U) << "outbound";
}

TEST_F(Tap, PcapngFilesFreeEveryPacketExactlyOnce) {
    dir_ = temp_dir();
    rte_mempool* fmt =
        rte_pktmbuf_pool_create((tag_ + "f").c_str(), 63, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
    ASSERT_NE(fmt, nullptr);
    const unsigned avail = rte_mempool_avail_count(fmt);
    {
        pcapng_files out(dir_, "free", 1 << 20, 2, "");
        std::vector<rte_mbuf*> pkts;
        for (int i = 0; i < 10; ++i) {
            rte_mbuf* m = mbuf(icmp4_frame("198.18.1.2", "198.18.2.2", static_cast<uint16_t>(i)));
            m->port = ports_[0];
            pkts.push_back(rte_pcapng_copy(ports_[0], 0, m, fmt, UINT32_MAX, rte_rdtsc(), RTE_PCAPNG_DIRECTION_IN));
            ASSERT_NE(pkts.back(), nullptr);
            rte_pktmbuf_free(m);
        }
        EXPECT_EQ(rte_mempool_avail_count(fmt), avail - 10);
        auto r = out.write(pkts.data(), 10);
        ASSERT_TRUE(r) << r.error_message();
        EXPECT_GT(r.value(), 10U * 98);
        EXPECT_EQ(rte_mempool_avail_count(fmt), avail) << "rte_pcapng_write_packets left them to us; freed once";
    }
    rte_mempool_free(fmt);
}

// ---- ERSPAN ---------------------------------------------------------------------------------

TEST_F(Tap, ErspanIpv4HeadersFieldByField) {
    bytes frame = icmp4_frame("198.18.1.2", "198.18.3.2", 5);
    erspan_params p;
    std::memcpy(p.src, v4("198.18.2.1").data(), 4);
    std::memcpy(p.dst, v4("198.18.2.9").data(), 4);
    p.ip_id = 0x1234;
    p.sequence = 0xdeadbeef;
    p.session = 7;
    p.index = 3;
    bytes out(erspan_overhead(false) + frame.size());
    std::memcpy(out.data() + 36, frame.data(), frame.size());
    write_erspan(out.data(), p, out.data() + 36, static_cast<uint32_t>(frame.size()));
    const uint8_t* ip = out.data();
    EXPECT_EQ(ip[0], 0x45);
    EXPECT_EQ(rd16be(ip + 2), 20 + 8 + 8 + frame.size()) << "total length";
    EXPECT_EQ(rd16be(ip + 4), 0x1234);
    EXPECT_EQ(rd16be(ip + 6), 0) << "fragmentation allowed";
    EXPECT_EQ(ip[8], 64);
    EXPECT_EQ(ip[9], 47) << "GRE";
    EXPECT_EQ(inet_checksum(ip, 20), 0) << "header checksum";
    EXPECT_EQ(bytes(ip + 12, ip + 16), bytes({198, 18, 2, 1}));
    EXPECT_EQ(bytes(ip + 16, ip + 20), bytes({198, 18, 2, 9}));
    const uint8_t* gre = ip + 20;
    EXPECT_EQ(rd16be(gre), 0x1000) << "S bit only, version 0";
    EXPECT_EQ(rd16be(gre + 2), 0x88be);
    EXPECT_EQ(rd32be(gre + 4), 0xdeadbeefU) << "sequence number";
    const uint8_t* e = gre + 8;
    EXPECT_EQ(e[0] >> 4, 1) << "ERSPAN version 1 = type II";
    EXPECT_EQ(rd16be(e) & 0xfff, 0) << "VLAN";
    EXPECT_EQ(e[2] >> 5, 0) << "COS";
    EXPECT_EQ((e[2] >> 3) & 3, 0) << "En: untagged";
    EXPECT_EQ((e[2] >> 2) & 1, 0) << "T";
    EXPECT_EQ(rd16be(e + 2) & 0x3ff, 7) << "session id";
    EXPECT_EQ(rd32be(e + 4) >> 20, 0U) << "reserved";
    EXPECT_EQ(rd32be(e + 4) & 0xfffff, 3U) << "index";
    EXPECT_TRUE(std::equal(frame.begin(), frame.end(), out.begin() + 36));
}

TEST_F(Tap, ErspanIpv6AndTaggedFrame) {
    bytes inner = ether(gw_mac, host_mac, 0x0800, ipv4_packet("198.18.7.2", "198.18.1.2", udp4(1, 2, pattern(10))),
                        0x6000 | 42);  // PCP 3, VID 42
    erspan_params p;
    p.v6 = true;
    std::memcpy(p.src, v6("fd00:2::1").data(), 16);
    std::memcpy(p.dst, v6("fd00:2::9").data(), 16);
    p.sequence = 1;
    p.session = 1023;
    p.index = 0xfffff;
    bytes out(erspan_overhead(true) + inner.size());
    std::memcpy(out.data() + 56, inner.data(), inner.size());
    write_erspan(out.data(), p, out.data() + 56, static_cast<uint32_t>(inner.size()));
    EXPECT_EQ(out[0], 0x60);
    EXPECT_EQ(rd16be(&out[4]), 16 + inner.size()) << "payload length";
    EXPECT_EQ(out[6], 47);
    EXPECT_EQ(out[7], 64);
    const auto src = v6("fd00:2::1"), dst = v6("fd00:2::9");
    EXPECT_EQ(bytes(out.begin() + 8, out.begin() + 24), bytes(src.begin(), src.end()));
    EXPECT_EQ(bytes(out.begin() + 24, out.begin() + 40), bytes(dst.begin(), dst.end()));
    const uint8_t* e = &out[48];
    EXPECT_EQ(rd16be(e), 0x1000 | 42) << "version 1, VLAN 42";
    EXPECT_EQ(e[2] >> 5, 3) << "COS from the tag's PCP";
    EXPECT_EQ((e[2] >> 3) & 3, 3) << "En: tag preserved in the frame";
    EXPECT_EQ(rd16be(e + 2) & 0x3ff, 1023);
    EXPECT_EQ(rd32be(e + 4), 0xfffffU);
}

TEST_F(Tap, MirrorCopiesLeaveThroughTheForwarderAndAreNeverTappedAgain) {
    make_manager();
    mgr_->set_output(fwd_.get(), batch_, nullptr, nullptr);
    auto t = tap("m", "icmp");
    t.interfaces = {0};
    t.direction = policy::tap_settings::dir::rx;
    t.mirror_collector = policy::ip_addr{false, {0xc6120209}, {}};  // 198.18.2.9, on srv1
    t.mirror_session = 7;
    auto all_tx = tap("alltx");
    all_tx.direction = policy::tap_settings::dir::tx;
    all_tx.directory = "";
    all_tx.mirror_collector = policy::ip_addr{true, {}, {}};
    all_tx.mirror_collector->v6.bytes = v6("fd00:2::9");
    apply({t, all_tx});
    std::vector<bytes> frames;
    for (uint16_t i = 0; i < 3; ++i) frames.push_back(icmp4_frame("198.18.1.2", "198.18.3.2", i));
    capture(frames);
    EXPECT_EQ(mgr_->poll(), 3U);
    auto s = stats("m");
    EXPECT_EQ(s.mirrored, 3U);
    const uint16_t out_port = ports_[1];
    ASSERT_EQ(batch_->count[out_port], 3U);
    for (uint16_t i = 0; i < 3; ++i) {
        rte_mbuf* m = batch_->pkts[out_port][i];
        const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
        ASSERT_EQ(rte_pktmbuf_pkt_len(m), 14 + 36 + frames[i].size());
        EXPECT_EQ(bytes(p, p + 6), bytes({2, 0, 0, 0, 2, 9})) << "the collector's MAC";
        EXPECT_EQ(rd16be(p + 12), 0x0800);
        const uint8_t* ip = p + 14;
        EXPECT_EQ(bytes(ip + 12, ip + 16), bytes({198, 18, 2, 1})) << "srv1's address: the route's interface";
        EXPECT_EQ(bytes(ip + 16, ip + 20), bytes({198, 18, 2, 9}));
        EXPECT_EQ(rd32be(ip + 24), i) << "GRE sequence";
        EXPECT_EQ(rd16be(ip + 30) & 0x3ff, 7);
        EXPECT_EQ(rd32be(ip + 32) & 0xfffff, ports_[0]) << "index: the port it was seen on";
        EXPECT_TRUE(std::equal(frames[i].begin(), frames[i].end(), ip + 36));
    }
    // The mirror copies as a worker would send them: the TX tap skips them.
    tap_worker* w = mgr_->worker(0);
    w->capture(*w->active(), out_port, 0, batch_->pkts[out_port], 3, dir_tx);
    EXPECT_EQ(stats("alltx").matched, 0U);
    capture(frames, 1, dir_tx);  // ordinary packets on the same port are
    EXPECT_EQ(stats("alltx").matched, 3U);
    mgr_->poll();
    EXPECT_EQ(stats("alltx").mirrored, 3U);
    EXPECT_EQ(batch_->count[out_port], 6U);
    rte_mbuf* m6 = batch_->pkts[out_port][3];
    EXPECT_EQ(rd16be(rte_pktmbuf_mtod(m6, uint8_t*) + 12), 0x86dd) << "IPv6 collector";
}

TEST_F(Tap, MirrorToUnroutedCollectorIsAConfigError) {
    auto t = tap("m");
    t.mirror_collector = policy::ip_addr{false, {0x0a000001}, {}};  // 10.0.0.1: no route
    cfg_.taps = {t};
    auto b = build(cfg_, *rt_);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error_message(), "taps[0].mirror.collector: 10.0.0.1 has no route");
}

// ---- other threads --------------------------------------------------------------------------

TEST_F(Tap, CallRunsJobsOnThePollingThread) {
    make_manager();
    apply({tap("x")});
    std::atomic<bool> stop{false};
    std::thread::id ran_on;
    std::vector<tap_stats> rows;
    std::thread other([&] {
        bool ok = mgr_->call([&] {
            ran_on = std::this_thread::get_id();
            rows = mgr_->stats();
        });
        EXPECT_TRUE(ok);
        stop = true;
    });
    while (!stop) mgr_->poll();
    other.join();
    EXPECT_EQ(ran_on, std::this_thread::get_id());
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows[0].name, "x");
    // Nobody polls: it times out and never runs.
    bool ran = false;
    std::thread late([&] { EXPECT_FALSE(mgr_->call([&] { ran = true; }, std::chrono::milliseconds(50))); });
    late.join();
    mgr_->poll();
    EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace meshgate::dataplane::tap
