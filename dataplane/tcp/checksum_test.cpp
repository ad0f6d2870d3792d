// The chain checksum against the one-buffer checksum, for every way of cutting a segment in
// two or three pieces, odd lengths included (DPDK 22.11's rte_raw_cksum_mbuf gets those wrong).
#include "dataplane/tcp/checksum.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace {

using namespace meshgate::dataplane::tcp;

// A hand-made chain over caller-owned buffers (no pool: only the fields the sum reads).
struct fake_chain {
    std::vector<rte_mbuf> segs;
    std::vector<std::vector<uint8_t>> bufs;
    fake_chain(const uint8_t* data, const std::vector<uint32_t>& cuts, uint32_t total) {
        std::vector<uint32_t> edges{0};
        for (uint32_t c : cuts) edges.push_back(c);
        edges.push_back(total);
        segs.resize(edges.size() - 1);
        bufs.resize(edges.size() - 1);
        for (size_t i = 0; i + 1 < edges.size(); ++i) {
            uint32_t n = edges[i + 1] - edges[i];
            bufs[i].assign(16 + n, 0);
            std::memset(&segs[i], 0, sizeof(rte_mbuf));
            segs[i].buf_addr = bufs[i].data();
            segs[i].data_off = static_cast<uint16_t>(i % 2 == 0 ? 16 : 15);  // odd addresses too
            std::memcpy(static_cast<uint8_t*>(segs[i].buf_addr) + segs[i].data_off, data + edges[i], n);
            segs[i].data_len = static_cast<uint16_t>(n);
            segs[i].next = i + 1 < segs.size() ? &segs[i + 1] : nullptr;
        }
    }
};

TEST(ChainChecksum, MatchesOneBufferForEveryCut) {
    std::mt19937 rng(7);
    for (uint32_t len : {1u, 2u, 3u, 20u, 21u, 255u, 1228u, 1429u}) {
        std::vector<uint8_t> data(len);
        for (auto& b : data) b = static_cast<uint8_t>(rng());
        uint16_t want = fold16(__rte_raw_cksum(data.data(), len, 0));
        for (uint32_t a = 1; a < len; a += (len > 64 ? 37 : 1)) {
            fake_chain two(data.data(), {a}, len);
            EXPECT_EQ(chain_sum(&two.segs[0], 0, len), want) << "len " << len << " cut " << a;
            for (uint32_t b = a + 1; b < len; b += (len > 64 ? 53 : 1)) {
                fake_chain three(data.data(), {a, b}, len);
                EXPECT_EQ(chain_sum(&three.segs[0], 0, len), want) << "len " << len << " cuts " << a << "," << b;
            }
        }
    }
}

TEST(ChainChecksum, AllOnesDataCarriesAcrossPieces) {
    // 0xff bytes make every partial sum carry: the case the truncation in DPDK 22.11 loses.
    std::vector<uint8_t> data(1229, 0xff);
    uint16_t want = fold16(__rte_raw_cksum(data.data(), data.size(), 0));
    fake_chain c(data.data(), {121, 700}, static_cast<uint32_t>(data.size()));
    EXPECT_EQ(chain_sum(&c.segs[0], 0, static_cast<uint32_t>(data.size())), want);
}

TEST(ChainChecksum, OffsetSkipsHeaders) {
    std::vector<uint8_t> data(300);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
    fake_chain c(data.data(), {40, 171}, 300);
    uint16_t want = fold16(__rte_raw_cksum(data.data() + 52, 300 - 52, 0));
    EXPECT_EQ(chain_sum(&c.segs[0], 52, 300 - 52), want);
}

}  // namespace
