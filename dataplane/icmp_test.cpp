// ICMP construction: fields, checksums (verified with an independent RFC 1071 sum), quoting
// limits, and the rules on when no error may be sent.
#include "dataplane/icmp.hpp"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "dataplane/forwarder.hpp"
#include "tests/support/packet_builder.hpp"

namespace meshgate::dataplane {
namespace {

using namespace meshgate::test;

class Icmp : public ::testing::Test {
protected:
    void SetUp() override {
        static int n = 0;
        pool_ = rte_pktmbuf_pool_create(("icmp" + std::to_string(n++)).c_str(), 63, 0, mbuf_priv_size,
                                        2048 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
        ASSERT_NE(pool_, nullptr);
    }
    void TearDown() override { rte_mempool_free(pool_); }
    static bytes data(rte_mbuf* m) {
        auto* p = rte_pktmbuf_mtod(m, uint8_t*);
        return bytes(p, p + m->data_len);
    }
    rte_mempool* pool_ = nullptr;
};

TEST_F(Icmp, Ipv4ErrorQuotesUpTo576Bytes) {
    auto orig = ipv4_packet("198.18.1.2", "198.18.3.2", udp4(1, 2, pattern(1400)));
    rte_mbuf* m = make_icmp4_error(pool_, orig.data(), static_cast<uint32_t>(orig.size()), 0xc6120101, 3, 4, 1280);
    ASSERT_NE(m, nullptr);
    auto b = data(m);
    ASSERT_EQ(b.size(), 576U);
    EXPECT_EQ(inet_checksum(b.data(), 20), 0) << "IP header checksum";
    EXPECT_EQ(inet_checksum(b.data() + 20, b.size() - 20), 0) << "ICMP checksum";
    EXPECT_EQ(b[9], 1);
    EXPECT_EQ(b[20], 3);
    EXPECT_EQ(b[21], 4);
    EXPECT_EQ(b[26] << 8 | b[27], 1280) << "next-hop MTU (RFC 1191)";
    EXPECT_TRUE(std::equal(b.begin() + 28, b.end(), orig.begin()));
    EXPECT_EQ(bytes(b.begin() + 16, b.begin() + 20), bytes({198, 18, 1, 2})) << "back to the source";
    EXPECT_GE(rte_pktmbuf_headroom(m), l2_room);
    rte_pktmbuf_free(m);
}

TEST_F(Icmp, Ipv4ErrorShortOriginalQuotedWhole) {
    auto orig = ipv4_packet("198.18.1.2", "198.18.3.2", udp4(1, 2, pattern(4)));
    rte_mbuf* m = make_icmp4_error(pool_, orig.data(), static_cast<uint32_t>(orig.size()), 0xc6120101, 11, 0, 0);
    auto b = data(m);
    EXPECT_EQ(b.size(), 28 + orig.size());
    EXPECT_EQ(inet_checksum(b.data() + 20, b.size() - 20), 0);
    rte_pktmbuf_free(m);
}

TEST_F(Icmp, Ipv6ErrorQuotesUpTo1280Bytes) {
    auto orig = ipv6_packet("fd00:1::2", "fd00:3::2", udp6("fd00:1::2", "fd00:3::2", 1, 2, pattern(1400)));
    ipv6_addr src = *parse_ipv6("fd00:1::1");
    rte_mbuf* m = make_icmp6_error(pool_, orig.data(), static_cast<uint32_t>(orig.size()), src, 2, 0, 1280);
    ASSERT_NE(m, nullptr);
    auto b = data(m);
    ASSERT_EQ(b.size(), 1280U);
    EXPECT_EQ(b[6], 58);
    EXPECT_EQ(icmp6_checksum(b.data() + 8, b.data() + 24, b.data() + 40, static_cast<uint32_t>(b.size() - 40)), 0);
    // Independent check: the builder's checksum of the same message equals what we stored.
    auto again = icmp6_error("fd00:1::1", "fd00:1::2", 2, 0, 1280, bytes(orig.begin(), orig.begin() + 1232));
    EXPECT_EQ(bytes(b.begin() + 40, b.end()), again);
    rte_pktmbuf_free(m);
}

TEST_F(Icmp, EmptyPoolGivesNull) {
    std::vector<rte_mbuf*> all;
    while (rte_mbuf* m = rte_pktmbuf_alloc(pool_)) all.push_back(m);
    auto orig = ipv4_packet("198.18.1.2", "198.18.3.2", udp4(1, 2, {}));
    EXPECT_EQ(make_icmp4_error(pool_, orig.data(), static_cast<uint32_t>(orig.size()), 1, 11, 0, 0), nullptr);
    for (auto* m : all) rte_pktmbuf_free(m);
}

TEST(IcmpRules, NoErrorsAboutErrorsBroadcastsOrLaterFragments) {
    packet_info info;
    auto check4 = [&](const bytes& ip) {
        bytes f = ether(mac_of("02:00:00:00:00:01"), mac_of("02:00:00:00:00:02"), 0x0800, ip);
        EXPECT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), info), drop_reason::none);
        info.l3_offset = 0;
        return icmp4_error_permitted(ip.data(), info);
    };
    EXPECT_TRUE(check4(ipv4_packet("198.18.1.2", "198.18.3.2", udp4(1, 2, {}))));
    ipv4_opts icmp;
    icmp.proto = 1;
    EXPECT_TRUE(check4(ipv4_packet("198.18.1.2", "198.18.3.2", icmp4_echo(8, 1, 1, {}), icmp))) << "echo may";
    EXPECT_FALSE(check4(ipv4_packet("198.18.1.2", "198.18.3.2", icmp4_error(3, 1, 0, pattern(28)), icmp)));
    EXPECT_FALSE(check4(ipv4_packet("198.18.1.2", "198.18.3.2", icmp4_error(11, 0, 0, pattern(28)), icmp)));
    EXPECT_FALSE(check4(ipv4_packet("198.18.1.2", "224.0.0.9", udp4(1, 2, {}))));
    EXPECT_FALSE(check4(ipv4_packet("198.18.1.2", "255.255.255.255", udp4(1, 2, {}))));
    EXPECT_FALSE(check4(ipv4_packet("0.0.0.0", "198.18.3.2", udp4(1, 2, {}))));
    ipv4_opts later;
    later.frag_offset = 8;
    EXPECT_FALSE(check4(ipv4_packet("198.18.1.2", "198.18.3.2", pattern(8), later)));

    auto check6 = [&](const bytes& ip, bool ptb) {
        bytes f = ether(mac_of("02:00:00:00:00:01"), mac_of("02:00:00:00:00:02"), 0x86dd, ip);
        EXPECT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), info), drop_reason::none);
        return icmp6_error_permitted(ip.data(), info, ptb);
    };
    ipv6_opts i6;
    i6.next_header = 58;
    EXPECT_TRUE(check6(ipv6_packet("fd00:1::2", "fd00:3::2", udp6("fd00:1::2", "fd00:3::2", 1, 2, {})), false));
    EXPECT_FALSE(check6(
        ipv6_packet("fd00:1::2", "fd00:3::2", icmp6_error("fd00:1::2", "fd00:3::2", 1, 0, 0, pattern(40)), i6), false));
    EXPECT_FALSE(check6(ipv6_packet("fd00:1::2", "ff0e::1", udp6("fd00:1::2", "ff0e::1", 1, 2, {})), false));
    EXPECT_TRUE(check6(ipv6_packet("fd00:1::2", "ff0e::1", udp6("fd00:1::2", "ff0e::1", 1, 2, {})), true))
        << "packet too big may answer multicast (RFC 4443 2.4 e.2)";
    EXPECT_FALSE(check6(ipv6_packet("::", "fd00:3::2", udp6("::", "fd00:3::2", 1, 2, {})), false));
}

TEST(Checksum, IncrementalUpdateMatchesRecompute) {
    auto ip = ipv4_packet("198.18.1.2", "198.18.3.2", udp4(1, 2, {}));
    uint16_t old_word = static_cast<uint16_t>(ip[8] << 8 | ip[9]);
    uint16_t ck = static_cast<uint16_t>(ip[10] << 8 | ip[11]);
    ip[8] -= 1;
    uint16_t new_word = static_cast<uint16_t>(ip[8] << 8 | ip[9]);
    uint16_t inc = checksum_adjust(ck, old_word, new_word);
    ip[10] = ip[11] = 0;
    EXPECT_EQ(inc, inet_checksum(ip.data(), 20));
}

}  // namespace
}  // namespace meshgate::dataplane
