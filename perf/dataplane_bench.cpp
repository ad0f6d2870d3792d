// Microbenchmarks of the data plane's per-packet stages, each beside a DPDK baseline measured in
// the same run: our parser vs rte_net_get_ptype (DPDK's software packet-type parser, which also
// walks Ethernet/VLAN/IP/L4), our route lookup vs a bare rte_lpm/rte_lpm6 lookup of the same
// addresses, and the whole forwarding path per burst. perf/micro.sh prints the ratios.
#include <benchmark/benchmark.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_mbuf.h>
#include <rte_net.h>

#include <random>
#include <set>

#include "dataplane/packet_parse.hpp"
#include "tests/support/eal_env.hpp"
#include "tests/support/packet_builder.hpp"
#include "tests/support/pipeline.hpp"

using namespace meshgate;
using namespace meshgate::test;

namespace {

const mac gw = mac_of("02:00:00:00:00:01");
const mac host = mac_of("02:00:00:00:01:02");

std::vector<bytes> mixed_frames() {
    std::vector<bytes> v;
    for (int i = 0; i < 64; ++i) {
        std::string d4 = "198.18.2." + std::to_string(2 + i);
        std::string d6 = "fd00:2::" + std::to_string(2 + i);
        v.push_back(ether(gw, host, 0x0800, ipv4_packet("198.18.1.2", d4, udp4(1000 + i, 53, pattern(18)))));
        v.push_back(
            ether(gw, host, 0x86dd, ipv6_packet("fd00:1::2", d6, udp6("fd00:1::2", d6, 1000 + i, 53, pattern(2)))));
    }
    return v;
}

struct mbuf_set {
    rte_mempool* pool;
    std::vector<rte_mbuf*> mbufs;
    explicit mbuf_set(const std::vector<bytes>& frames) {
        init_eal();
        static int n = 0;
        pool = rte_pktmbuf_pool_create(("bench" + std::to_string(n++)).c_str(), 1023, 0, 64,
                                       2048 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
        for (const auto& f : frames) {
            rte_mbuf* m = rte_pktmbuf_alloc(pool);
            std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())), f.data(), f.size());
            mbufs.push_back(m);
        }
    }
};

void parse_meshgate(benchmark::State& st) {
    mbuf_set s(mixed_frames());
    size_t i = 0;
    dataplane::packet_info info;
    for (auto _ : st) {
        rte_mbuf* m = s.mbufs[i++ & 127];
        auto r = dataplane::parse_packet(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, info);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(info);
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(parse_meshgate);

void parse_dpdk_ptype(benchmark::State& st) {
    mbuf_set s(mixed_frames());
    size_t i = 0;
    rte_net_hdr_lens lens;
    for (auto _ : st) {
        rte_mbuf* m = s.mbufs[i++ & 127];
        uint32_t t = rte_net_get_ptype(m, &lens, RTE_PTYPE_ALL_MASK);
        benchmark::DoNotOptimize(t);
        benchmark::DoNotOptimize(lens);
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(parse_dpdk_ptype);

// 1000 routes of mixed lengths; lookups of random addresses inside them.
struct route_set {
    std::vector<uint32_t> dst4;
    std::vector<std::array<uint8_t, 16>> dst6;
    std::vector<std::pair<uint32_t, uint8_t>> prefixes4;
    std::vector<ipv6_prefix> prefixes6;
};

std::string route_config(route_set& rs) {
    auto& dst4 = rs.dst4;
    auto& dst6 = rs.dst6;
    std::mt19937 rng(7);
    std::string routes;
    std::set<std::pair<uint32_t, unsigned>> seen4;
    std::set<std::pair<ipv6_addr, unsigned>> seen6;
    while (seen4.size() < 500) {
        unsigned len = 16 + rng() % 13;  // /16 .. /28
        uint32_t net = (0x0a000000U | (rng() & 0x00ffffffU)) & (~0U << (32 - len));
        if (!seen4.insert({net, len}).second) continue;
        if (!routes.empty()) routes += ",";
        routes += R"({"prefix":")" + to_string(ipv4_addr{net}) + "/" + std::to_string(len) +
                  R"(","nextHop":"198.18.2.9","interface":"b"})";
        dst4.push_back(net | (rng() & ~(~0U << (32 - len))));
        rs.prefixes4.emplace_back(net, static_cast<uint8_t>(len));
        unsigned len6 = 32 + rng() % 33;  // /32 .. /64
        ipv6_addr a;
        a.bytes[0] = 0x20;
        a.bytes[1] = 0x01;
        for (int b = 2; b < 16; ++b) a.bytes[b] = static_cast<uint8_t>(rng());
        ipv6_prefix p{a, static_cast<uint8_t>(len6)};
        if (!seen6.insert({p.network(), len6}).second) a.bytes[2] ^= 0x80, p = {a, static_cast<uint8_t>(len6)};
        routes += R"(,{"prefix":")" + to_string(p.network()) + "/" + std::to_string(len6) +
                  R"(","nextHop":"fd00:2::9","interface":"b"})";
        dst6.push_back(a.bytes);
        rs.prefixes6.push_back({p.network(), p.len});
    }
    return R"({"interfaces":[{"name":"a","device":"x","ipv4Addresses":["198.18.1.1/24"],"ipv6Addresses":["fd00:1::1/64"]},)"
           R"({"name":"b","device":"y","ipv4Addresses":["198.18.2.1/24"],"ipv6Addresses":["fd00:2::1/64"]}],"routes":[)" +
           routes + "]}";
}

struct route_fixture : route_set {
    std::unique_ptr<pipeline> p;
    route_fixture() {
        init_eal();
        p = std::make_unique<pipeline>(route_config(*this));
    }
};

route_fixture& routes() {
    static route_fixture f;
    return f;
}

void route_lookup4_meshgate(benchmark::State& st) {
    auto& f = routes();
    const auto& rt = *f.p->runtime().routes;
    size_t i = 0;
    for (auto _ : st) benchmark::DoNotOptimize(rt.lookup4(f.dst4[i++ % f.dst4.size()]));
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(route_lookup4_meshgate);

void route_lookup4_rte_lpm(benchmark::State& st) {
    auto& f = routes();
    rte_lpm_config c{1024, 1024, 0};
    rte_lpm* lpm = rte_lpm_create("bench_lpm4", SOCKET_ID_ANY, &c);
    for (size_t k = 0; k < f.prefixes4.size(); ++k)
        rte_lpm_add(lpm, f.prefixes4[k].first, f.prefixes4[k].second, static_cast<uint32_t>(k));
    size_t i = 0;
    uint32_t hop;
    for (auto _ : st) benchmark::DoNotOptimize(rte_lpm_lookup(lpm, f.dst4[i++ % f.dst4.size()], &hop));
    st.SetItemsProcessed(st.iterations());
    rte_lpm_free(lpm);
}
BENCHMARK(route_lookup4_rte_lpm);

void route_lookup6_meshgate(benchmark::State& st) {
    auto& f = routes();
    const auto& rt = *f.p->runtime().routes;
    size_t i = 0;
    for (auto _ : st) benchmark::DoNotOptimize(rt.lookup6(f.dst6[i++ % f.dst6.size()].data()));
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(route_lookup6_meshgate);

void route_lookup6_rte_lpm6(benchmark::State& st) {
    auto& f = routes();
    rte_lpm6_config c{1024, 1 << 14, 0};
    rte_lpm6* lpm = rte_lpm6_create("bench_lpm6", SOCKET_ID_ANY, &c);
    for (size_t k = 0; k < f.prefixes6.size(); ++k)
        rte_lpm6_add(lpm, f.prefixes6[k].addr.bytes.data(), f.prefixes6[k].len, static_cast<uint32_t>(k));
    size_t i = 0;
    uint32_t hop;
    for (auto _ : st) benchmark::DoNotOptimize(rte_lpm6_lookup(lpm, f.dst6[i++ % f.dst6.size()].data(), &hop));
    st.SetItemsProcessed(st.iterations());
    rte_lpm6_free(lpm);
}
BENCHMARK(route_lookup6_rte_lpm6);

// The worker path on a burst of 32 routed packets (half IPv4, half IPv6, static next hops), as
// perf/forwarding.sh sends them; the baseline is the same burst's allocation and copy alone.
constexpr const char* forward_config = R"({
  "interfaces": [
    { "name": "in", "device": "x", "mac": "02:00:00:00:00:01",
      "ipv4Addresses": ["198.18.0.1/24"], "ipv6Addresses": ["fd00:0::1/64"] },
    { "name": "out", "device": "y", "mac": "02:00:00:00:00:02",
      "ipv4Addresses": ["198.19.0.1/24"], "ipv6Addresses": ["fd00:ff::1/64"],
      "staticNeighbors": [ { "ip": "198.19.0.2", "mac": "02:00:00:00:00:99" },
                           { "ip": "fd00:ff::2", "mac": "02:00:00:00:00:99" } ] } ],
  "routes": [
    { "prefix": "198.19.128.0/17", "nextHop": "198.19.0.2", "interface": "out" },
    { "prefix": "fd00:1000::/36", "nextHop": "fd00:ff::2", "interface": "out" } ] })";

// family 4 or 6: 32 of that family; 0: alternating.
std::vector<bytes> routed_frames(int family) {
    std::vector<bytes> v;
    for (int i = 0; i < 32; ++i) {
        std::string d4 = "198.19.128." + std::to_string(2 + i);
        std::string d6 = "fd00:1000::" + std::to_string(2 + i);
        bool v6 = family == 6 || (family == 0 && i % 2 == 1);
        if (v6) {
            v.push_back(ether(gw, host, 0x86dd, ipv6_packet("fd00::2", d6, udp6("fd00::2", d6, 1000 + i, 53, {}))));
        } else {
            v.push_back(ether(gw, host, 0x0800, ipv4_packet("198.18.0.2", d4, udp4(1000 + i, 53, pattern(18)))));
        }
    }
    return v;
}

// Built once and shared by both variants: its tables are not what is measured.
pipeline& forward_pipeline() {
    init_eal();
    static pipeline p(forward_config);
    return p;
}

template <bool Process, int Family = 0>
void forward_burst(benchmark::State& st) {
    pipeline& p = forward_pipeline();
    static const auto frames = routed_frames(Family);
    rte_mbuf* burst[32];
    for (auto _ : st) {
        for (int i = 0; i < 32; ++i) burst[i] = p.make_mbuf(frames[static_cast<size_t>(i)]);
        if constexpr (Process) {
            if (p.run_burst(0, burst, 32) != 32) st.SkipWithError("not all forwarded");
        } else {
            rte_pktmbuf_free_bulk(burst, 32);
        }
    }
    st.SetItemsProcessed(st.iterations() * 32);
}
void forward_burst_meshgate(benchmark::State& st) {
    forward_burst<true>(st);
}
void forward_burst_copy_only(benchmark::State& st) {
    forward_burst<false>(st);
}
void forward_burst_meshgate_v4(benchmark::State& st) {
    forward_burst<true, 4>(st);
}
void forward_burst_meshgate_v6(benchmark::State& st) {
    forward_burst<true, 6>(st);
}
BENCHMARK(forward_burst_meshgate);
BENCHMARK(forward_burst_meshgate_v4);
BENCHMARK(forward_burst_meshgate_v6);
BENCHMARK(forward_burst_copy_only);

}  // namespace

int main(int argc, char** argv) {
    init_eal();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
