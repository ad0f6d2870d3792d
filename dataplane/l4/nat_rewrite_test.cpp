// NAT packet rewriting: same-family rewrites, ICMP errors about NATed flows and RFC 7915
// translation. Expected packets come from the test packet builder with checksums computed from
// scratch here (independent of the data plane's incremental arithmetic); every result is compared
// byte for byte and its checksums verified by a full recomputation.
#include "dataplane/l4/nat_rewrite.hpp"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/packet_builder.hpp"

namespace meshgate::dataplane::l4 {
namespace {

using namespace meshgate::test;

// ---- Independent checksums ------------------------------------------------------------------------

uint16_t get16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

// Bit by bit, the slowest and plainest CRC32c there is (RFC 9260 appendix A).
uint32_t crc32c_bitwise(const uint8_t* p, size_t n) {
    uint32_t crc = 0xffffffff;
    for (size_t i = 0; i < n; ++i) {
        crc ^= p[i];
        for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
    }
    return ~crc;
}

uint32_t sctp_crc_of(const uint8_t* sctp, size_t n) {
    bytes copy(sctp, sctp + n);
    std::memset(copy.data() + 8, 0, 4);
    return crc32c_bitwise(copy.data(), copy.size());
}

void put_sctp_crc(uint8_t* sctp, size_t n) {
    uint32_t c = sctp_crc_of(sctp, n);
    for (int i = 0; i < 4; ++i) sctp[8 + i] = static_cast<uint8_t>(c >> (8 * i));  // least significant first
}

// Sum of the pseudo-header (RFC 768/793 for IPv4, RFC 8200 8.1 for IPv6) of the IP packet at ip.
uint32_t pseudo(const uint8_t* ip, uint8_t proto, uint32_t len) {
    bool v6 = (ip[0] >> 4) == 6;
    const uint8_t* a = ip + (v6 ? 8 : 12);
    uint32_t sum = 0;
    for (int i = 0; i < (v6 ? 32 : 8); i += 2) sum += get16(a + i);
    return sum + (len >> 16) + (len & 0xffff) + proto;
}

struct ip_view {
    bool v6;
    size_t hlen;
    size_t total;
    uint8_t proto;
    bool later_fragment;
};

ip_view view(const uint8_t* ip) {
    if ((ip[0] >> 4) == 6) return {true, 40, 40U + get16(ip + 4), ip[6], false};
    return {false, (ip[0] & 15U) * 4U, get16(ip + 2), ip[9], (get16(ip + 6) & 0x1fff) != 0};
}

// Fills the TCP/UDP/ICMPv6/SCTP checksum of a whole IP packet (ICMPv4 comes filled from the builder).
void fill(bytes& p) {
    ip_view v = view(p.data());
    uint8_t* l4 = p.data() + v.hlen;
    auto n = static_cast<uint32_t>(v.total - v.hlen);
    switch (v.proto) {
        case 6:
            put16(l4 + 16, 0);
            put16(l4 + 16, inet_checksum(l4, n, pseudo(p.data(), 6, n)));
            break;
        case 17: {
            put16(l4 + 6, 0);
            uint16_t ck = inet_checksum(l4, get16(l4 + 4), pseudo(p.data(), 17, get16(l4 + 4)));
            put16(l4 + 6, ck == 0 ? 0xffff : ck);
            break;
        }
        case 58:
            put16(l4 + 2, 0);
            put16(l4 + 2, inet_checksum(l4, n, pseudo(p.data(), 58, n)));
            break;
        case 132:
            put_sctp_crc(l4, n);
            break;
        default:
            break;
    }
}

// "" when every checksum of the IP packet verifies, else which one does not. An ICMP error's
// embedded IPv4 header is checked too when it is all there.
std::string verify(const bytes& p) {
    if (p.size() < 20) return "runt";
    ip_view v = view(p.data());
    if (v.total != p.size()) return "IP length " + std::to_string(v.total) + " for " + std::to_string(p.size());
    if (!v.v6 && inet_checksum(p.data(), v.hlen) != 0) return "IPv4 header checksum";
    if (v.later_fragment) return "";
    const uint8_t* l4 = p.data() + v.hlen;
    auto n = static_cast<uint32_t>(v.total - v.hlen);
    switch (v.proto) {
        case 6:
            return inet_checksum(l4, n, pseudo(p.data(), 6, n)) == 0 ? "" : "TCP checksum";
        case 17: {
            uint16_t ulen = get16(l4 + 4);
            if (get16(l4 + 6) == 0) return v.v6 ? "UDP/IPv6 checksum 0" : "";
            return inet_checksum(l4, ulen, pseudo(p.data(), 17, ulen)) == 0 ? "" : "UDP checksum";
        }
        case 1:
            if (inet_checksum(l4, n) != 0) return "ICMP checksum";
            if ((l4[0] == 3 || l4[0] == 11 || l4[0] == 12) && n >= 28 && (l4[8] & 15U) * 4U <= n - 8 &&
                inet_checksum(l4 + 8, (l4[8] & 15U) * 4U) != 0)
                return "embedded IPv4 header checksum";
            return "";
        case 58:
            return inet_checksum(l4, n, pseudo(p.data(), 58, n)) == 0 ? "" : "ICMPv6 checksum";
        case 132: {
            uint32_t want = sctp_crc_of(l4, n);
            uint32_t have = l4[8] | l4[9] << 8 | l4[10] << 16 | static_cast<uint32_t>(l4[11]) << 24;
            return want == have ? "" : "SCTP CRC32c";
        }
        default:
            return "";
    }
}

// ---- Packets ---------------------------------------------------------------------------------------

ipv4_opts opts4(uint8_t proto, uint8_t ttl = 64, uint16_t id = 0x1234, bool df = false) {
    ipv4_opts o;
    o.proto = proto;
    o.ttl = ttl;
    o.id = id;
    o.df = df;
    return o;
}

ipv6_opts opts6(uint8_t next, uint8_t hops = 64) {
    ipv6_opts o;
    o.next_header = next;
    o.hop_limit = hops;
    return o;
}

bytes with_checksums(bytes p) {
    fill(p);
    return p;
}

bytes tcp4(const std::string& s, uint16_t sp, const std::string& d, uint16_t dp, const bytes& data,
           ipv4_opts o = opts4(6)) {
    o.proto = 6;
    return with_checksums(ipv4_packet(s, d, tcp_segment(sp, dp, 0x18, data), o));
}

bytes udp4_sum(const std::string& s, uint16_t sp, const std::string& d, uint16_t dp, const bytes& data,
               ipv4_opts o = opts4(17)) {
    o.proto = 17;
    return with_checksums(ipv4_packet(s, d, udp4(sp, dp, data), o));
}

bytes tcp6(const std::string& s, uint16_t sp, const std::string& d, uint16_t dp, const bytes& data,
           ipv6_opts o = opts6(6)) {
    o.next_header = 6;
    return with_checksums(ipv6_packet(s, d, tcp_segment(sp, dp, 0x18, data), o));
}

bytes udp6_pkt(const std::string& s, uint16_t sp, const std::string& d, uint16_t dp, const bytes& data,
               ipv6_opts o = opts6(17)) {
    o.next_header = 17;
    return ipv6_packet(s, d, udp6(s, d, sp, dp, data), o);
}

bytes echo4(const std::string& s, const std::string& d, uint8_t type, uint16_t id, const bytes& data,
            ipv4_opts o = opts4(1)) {
    o.proto = 1;
    return ipv4_packet(s, d, icmp4_echo(type, id, 7, data), o);
}

bytes echo6(const std::string& s, const std::string& d, uint8_t type, uint16_t id, const bytes& data,
            ipv6_opts o = opts6(58)) {
    o.next_header = 58;
    bytes body = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0, 7};
    body.insert(body.end(), data.begin(), data.end());
    return ipv6_packet(s, d, icmp6_message(s, d, type, 0, body), o);
}

// SCTP common header and one DATA chunk (RFC 9260 3).
bytes sctp_payload(uint16_t sp, uint16_t dp, const bytes& data) {
    bytes b = {static_cast<uint8_t>(sp >> 8),
               static_cast<uint8_t>(sp),
               static_cast<uint8_t>(dp >> 8),
               static_cast<uint8_t>(dp),
               0xde,
               0xad,
               0xbe,
               0xef,
               0,
               0,
               0,
               0};
    auto clen = static_cast<uint16_t>(16 + data.size());
    bytes chunk = {0, 3, static_cast<uint8_t>(clen >> 8), static_cast<uint8_t>(clen), 0, 0, 0, 1, 0, 1, 0, 0, 0, 0,
                   0, 46};
    b.insert(b.end(), chunk.begin(), chunk.end());
    b.insert(b.end(), data.begin(), data.end());
    while (b.size() % 4 != 0) b.push_back(0);
    return b;
}

endpoints ep4(const std::string& s, uint16_t sp, const std::string& d, uint16_t dp) {
    endpoints e{};
    auto a = v4(s), b = v4(d);
    std::memcpy(e.src, a.data(), 4);
    std::memcpy(e.dst, b.data(), 4);
    e.sport = sp;
    e.dport = dp;
    return e;
}

endpoints ep6(const std::string& s, uint16_t sp, const std::string& d, uint16_t dp) {
    endpoints e{};
    auto a = v6(s), b = v6(d);
    std::memcpy(e.src, a.data(), 16);
    std::memcpy(e.dst, b.data(), 16);
    e.sport = sp;
    e.dport = dp;
    return e;
}

// Runs rewrite4/6 the way the data plane does: offsets from the IP header, whole transport header.
bytes rewritten(bytes p, const endpoints& to, bool has_l4 = true) {
    ip_view v = view(p.data());
    auto off = static_cast<uint16_t>(v.hlen);
    auto len = static_cast<uint16_t>(v.total - v.hlen);
    if (v.v6)
        rewrite6(p.data(), off, len, v.proto, has_l4, to);
    else
        rewrite4(p.data(), off, len, v.proto, has_l4, to);
    return p;
}

// ---- Same-family rewrites --------------------------------------------------------------------------

TEST(NatRewrite, Crc32cReferenceVector) {
    const char* s = "123456789";
    EXPECT_EQ(crc32c_bitwise(reinterpret_cast<const uint8_t*>(s), 9), 0xe3069283U);  // RFC 3720 B.4
}

TEST(NatRewrite, Ipv4TcpSourceNat) {
    auto in = tcp4("10.0.0.2", 5000, "198.51.100.7", 80, pattern(33));
    auto want = tcp4("203.0.113.1", 40000, "198.51.100.7", 80, pattern(33));
    auto out = rewritten(in, ep4("203.0.113.1", 40000, "198.51.100.7", 80));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatRewrite, Ipv4TcpBothEnds) {
    auto in = tcp4("198.51.100.9", 33000, "192.0.2.10", 443, pattern(200), opts4(6, 57, 0xbeef, true));
    auto want = tcp4("10.1.0.1", 61000, "10.2.0.20", 8443, pattern(200), opts4(6, 57, 0xbeef, true));
    auto out = rewritten(in, ep4("10.1.0.1", 61000, "10.2.0.20", 8443));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatRewrite, Ipv4Udp) {
    auto in = udp4_sum("10.0.0.2", 5353, "198.51.100.7", 53, pattern(41));
    auto want = udp4_sum("203.0.113.1", 1024, "198.51.100.7", 53, pattern(41));
    auto out = rewritten(in, ep4("203.0.113.1", 1024, "198.51.100.7", 53));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatRewrite, Ipv4UdpZeroChecksumStaysZero) {
    auto in = ipv4_packet("10.0.0.2", "198.51.100.7", udp4(5353, 53, pattern(12)));
    auto want = ipv4_packet("203.0.113.1", "198.51.100.7", udp4(2000, 53, pattern(12)));
    auto out = rewritten(in, ep4("203.0.113.1", 2000, "198.51.100.7", 53));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(get16(out.data() + 26), 0);
    EXPECT_EQ(verify(out), "");
}

TEST(NatRewrite, Ipv4IcmpEchoIdentifier) {
    auto in = echo4("10.0.0.2", "198.51.100.7", 8, 0x0101, pattern(56));
    auto want = echo4("203.0.113.1", "198.51.100.7", 8, 0x9a9b, pattern(56));
    auto out = rewritten(in, ep4("203.0.113.1", 0x9a9b, "198.51.100.7", 0));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatRewrite, Ipv4EchoReplyOfZerosGetsAllOnesChecksum) {
    // Identifier, sequence and data all zero after the rewrite: the data sums to +0 and only 0xffff
    // verifies, where RFC 1624 eqn. 3 alone would give 0x0000.
    bytes zero_reply = {0, 0, 0xff, 0xff, 0, 0, 0, 0};
    auto in = ipv4_packet("10.0.0.2", "198.51.100.7", icmp4_echo(0, 0x1234, 0, {}), opts4(1));
    ASSERT_EQ(verify(in), "");
    auto want = ipv4_packet("203.0.113.1", "198.51.100.7", zero_reply, opts4(1));
    auto out = rewritten(in, ep4("203.0.113.1", 0, "198.51.100.7", 0));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatRewrite, Ipv4LaterFragmentChangesOnlyTheIpHeader) {
    ipv4_opts o = opts4(6);
    o.frag_offset = 185;
    auto payload = pattern(64);  // the middle of some TCP segment: must stay as it is
    auto in = ipv4_packet("10.0.0.2", "198.51.100.7", payload, o);
    auto want = ipv4_packet("203.0.113.1", "198.51.100.7", payload, o);
    auto out = rewritten(in, ep4("203.0.113.1", 40000, "198.51.100.7", 80), false);
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatRewrite, Ipv6Tcp) {
    auto in = tcp6("fd00::2", 5000, "2001:db8:1::7", 80, pattern(100));
    auto want = tcp6("2001:db8::1", 40000, "2001:db8:1::7", 80, pattern(100));
    auto out = rewritten(in, ep6("2001:db8::1", 40000, "2001:db8:1::7", 80));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatRewrite, Ipv6Udp) {
    auto in = udp6_pkt("2001:db8:c::5", 33000, "2001:db8:f::80", 53, pattern(31));
    auto want = udp6_pkt("2001:db8:c::5", 33000, "fd00:b::10", 5353, pattern(31));
    auto out = rewritten(in, ep6("2001:db8:c::5", 33000, "fd00:b::10", 5353));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatRewrite, Ipv6UdpResultZeroIsSentAsOnes) {
    // Choose the new destination port so that the checksum comes out as zero: with port 0 the
    // checksum is ~S, so port ~S makes the sum all ones (RFC 8200 8.1: sent as 0xffff).
    auto probe = udp6_pkt("2001:db8::1", 40000, "2001:db8:1::7", 0, pattern(9));
    uint16_t port = get16(probe.data() + 46);
    ASSERT_NE(port, 0xffff);
    auto want = udp6_pkt("2001:db8::1", 40000, "2001:db8:1::7", port, pattern(9));
    ASSERT_EQ(get16(want.data() + 46), 0xffff);
    auto in = udp6_pkt("fd00::2", 5000, "2001:db8:1::7", 53, pattern(9));
    auto out = rewritten(in, ep6("2001:db8::1", 40000, "2001:db8:1::7", port));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatRewrite, Ipv6IcmpEcho) {
    auto in = echo6("fd00::2", "2001:db8:1::7", 128, 0x0101, pattern(56));
    auto want = echo6("2001:db8::1", "2001:db8:1::7", 128, 0x4242, pattern(56));
    auto out = rewritten(in, ep6("2001:db8::1", 0x4242, "2001:db8:1::7", 0));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatRewrite, Ipv6OtherIcmpv6FollowsThePseudoHeader) {
    auto in = ipv6_packet("fd00::2", "2001:db8:1::7", icmp6_message("fd00::2", "2001:db8:1::7", 200, 3, pattern(12)),
                          opts6(58));
    auto want = ipv6_packet("2001:db8::1", "2001:db8:1::7",
                            icmp6_message("2001:db8::1", "2001:db8:1::7", 200, 3, pattern(12)), opts6(58));
    auto out = rewritten(in, ep6("2001:db8::1", 1, "2001:db8:1::7", 2));
    EXPECT_EQ(diff(want, out), "");
}

TEST(NatRewrite, SctpCrcRecomputedIpv4AndIpv6) {
    auto in4 =
        with_checksums(ipv4_packet("10.0.0.2", "198.51.100.7", sctp_payload(2905, 3868, pattern(37)), opts4(132)));
    ASSERT_EQ(verify(in4), "");
    auto want4 =
        with_checksums(ipv4_packet("203.0.113.1", "198.51.100.7", sctp_payload(4000, 3868, pattern(37)), opts4(132)));
    auto out4 = rewritten(in4, ep4("203.0.113.1", 4000, "198.51.100.7", 3868));
    EXPECT_EQ(diff(want4, out4), "");
    EXPECT_EQ(verify(out4), "");

    auto in6 =
        with_checksums(ipv6_packet("fd00::2", "2001:db8:1::7", sctp_payload(2905, 3868, pattern(64)), opts6(132)));
    auto want6 = with_checksums(ipv6_packet("fd00::2", "fd00:b::9", sctp_payload(2905, 3869, pattern(64)), opts6(132)));
    auto out6 = rewritten(in6, ep6("fd00::2", 2905, "fd00:b::9", 3869));
    EXPECT_EQ(diff(want6, out6), "");
    EXPECT_EQ(verify(out6), "");
}

// ---- ICMP errors about a NATed flow (RFC 5508 4) --------------------------------------------------

TEST(NatIcmpError, Ipv4PortUnreachableAboutUdp) {
    // The client's datagram after SNAT, and as the client sent it.
    auto natted = udp4_sum("203.0.113.1", 40000, "198.51.100.7", 53, pattern(30), opts4(17, 63));
    auto original = udp4_sum("10.0.0.2", 5000, "198.51.100.7", 53, pattern(30), opts4(17, 63));
    auto in = ipv4_packet("198.51.100.7", "203.0.113.1", icmp4_error(3, 3, 0, natted), opts4(1, 50));
    ASSERT_EQ(verify(in), "");

    embedded_flow f{};
    ASSERT_TRUE(icmp_error_embedded4(in.data(), static_cast<uint32_t>(in.size()), f));
    EXPECT_EQ(f.proto, 17);
    EXPECT_EQ(bytes(f.src, f.src + 4), bytes({203, 0, 113, 1}));
    EXPECT_EQ(bytes(f.dst, f.dst + 4), bytes({198, 51, 100, 7}));
    EXPECT_EQ(f.sport, 40000);
    EXPECT_EQ(f.dport, 53);

    auto client = v4("10.0.0.2");
    auto out = in;
    ASSERT_TRUE(rewrite_icmp_error4(out.data(), static_cast<uint32_t>(out.size()), nullptr, client.data(),
                                    ep4("10.0.0.2", 5000, "198.51.100.7", 53)));
    auto want = ipv4_packet("198.51.100.7", "10.0.0.2", icmp4_error(3, 3, 0, original), opts4(1, 50));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
    // The embedded datagram is whole, so its own checksum must verify too.
    EXPECT_EQ(verify(bytes(out.begin() + 28, out.end())), "");
}

TEST(NatIcmpError, Ipv4OuterSourceRewrittenWhenGiven) {
    // Load balancer: a router behind the VIP reports about the DNATed packet; the client must see
    // the VIP everywhere.
    auto natted = tcp4("198.51.100.9", 33000, "10.2.0.20", 8443, pattern(12));
    auto original = tcp4("198.51.100.9", 33000, "192.0.2.10", 443, pattern(12));
    auto in = ipv4_packet("10.2.0.1", "198.51.100.9", icmp4_error(11, 0, 0, natted), opts4(1));
    auto vip = v4("192.0.2.10"), client = v4("198.51.100.9");
    auto out = in;
    ASSERT_TRUE(rewrite_icmp_error4(out.data(), static_cast<uint32_t>(out.size()), vip.data(), client.data(),
                                    ep4("198.51.100.9", 33000, "192.0.2.10", 443)));
    auto want = ipv4_packet("192.0.2.10", "198.51.100.9", icmp4_error(11, 0, 0, original), opts4(1));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatIcmpError, Ipv6TimeExceededAboutTcp) {
    auto natted = tcp6("2001:db8:c::5", 33000, "fd00:b::10", 8443, pattern(48), opts6(6, 1));
    auto original = tcp6("2001:db8:c::5", 33000, "2001:db8:f::80", 443, pattern(48), opts6(6, 1));
    auto in = ipv6_packet("fd00:b::1", "2001:db8:c::5", icmp6_error("fd00:b::1", "2001:db8:c::5", 3, 0, 0, natted),
                          opts6(58));
    ASSERT_EQ(verify(in), "");
    embedded_flow f{};
    ASSERT_TRUE(icmp_error_embedded6(in.data(), static_cast<uint32_t>(in.size()), f));
    EXPECT_EQ(f.proto, 6);
    auto backend = v6("fd00:b::10");
    EXPECT_EQ(bytes(f.dst, f.dst + 16), bytes(backend.begin(), backend.end()));
    EXPECT_EQ(f.sport, 33000);
    EXPECT_EQ(f.dport, 8443);

    auto vip = v6("2001:db8:f::80"), client = v6("2001:db8:c::5");
    auto out = in;
    ASSERT_TRUE(rewrite_icmp_error6(out.data(), static_cast<uint32_t>(out.size()), vip.data(), client.data(),
                                    ep6("2001:db8:c::5", 33000, "2001:db8:f::80", 443)));
    auto want = ipv6_packet("2001:db8:f::80", "2001:db8:c::5",
                            icmp6_error("2001:db8:f::80", "2001:db8:c::5", 3, 0, 0, original), opts6(58));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
    EXPECT_EQ(verify(bytes(out.begin() + 48, out.end())), "");
}

TEST(NatIcmpError, Ipv6EmbeddedUdpBehindAh) {
    // The parser, and so the session, sees through AH to the UDP ports; so must the rewrite.
    auto quoted = [](const std::string& s, uint16_t sp, const std::string& d, uint16_t dp) {
        bytes payload = {17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 5};  // AH: next UDP, 12 bytes, SPI 256
        auto u = udp6(s, d, sp, dp, pattern(16));
        payload.insert(payload.end(), u.begin(), u.end());
        return ipv6_packet(s, d, payload, opts6(51));
    };
    auto natted = quoted("2001:db8::1", 40000, "2001:db8:1::7", 53);
    auto in = ipv6_packet("2001:db8:1::7", "2001:db8::1", icmp6_error("2001:db8:1::7", "2001:db8::1", 1, 4, 0, natted),
                          opts6(58));
    embedded_flow f{};
    ASSERT_TRUE(icmp_error_embedded6(in.data(), static_cast<uint32_t>(in.size()), f));
    EXPECT_EQ(f.proto, 17);
    EXPECT_EQ(f.sport, 40000);
    auto client = v6("fd00::2");
    auto out = in;
    ASSERT_TRUE(rewrite_icmp_error6(out.data(), static_cast<uint32_t>(out.size()), nullptr, client.data(),
                                    ep6("fd00::2", 5000, "2001:db8:1::7", 53)));
    auto want = ipv6_packet(
        "2001:db8:1::7", "fd00::2",
        icmp6_error("2001:db8:1::7", "fd00::2", 1, 4, 0, quoted("fd00::2", 5000, "2001:db8:1::7", 53)), opts6(58));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatIcmpError, EmbeddedTcpTruncatedToEightBytes) {
    // RFC 792 promises only the IP header and 8 bytes: the ports, not the TCP checksum.
    auto natted = tcp4("203.0.113.1", 40000, "198.51.100.7", 443, pattern(100));
    auto original = tcp4("10.0.0.2", 5000, "198.51.100.7", 443, pattern(100));
    bytes quote(natted.begin(), natted.begin() + 28), want_quote(original.begin(), original.begin() + 28);
    auto in = ipv4_packet("198.51.100.7", "203.0.113.1", icmp4_error(3, 1, 0, quote), opts4(1));
    auto client = v4("10.0.0.2");
    auto out = in;
    ASSERT_TRUE(rewrite_icmp_error4(out.data(), static_cast<uint32_t>(out.size()), nullptr, client.data(),
                                    ep4("10.0.0.2", 5000, "198.51.100.7", 443)));
    auto want = ipv4_packet("198.51.100.7", "10.0.0.2", icmp4_error(3, 1, 0, want_quote), opts4(1));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatIcmpError, EmbeddedEchoIdentifier) {
    auto natted = echo4("203.0.113.1", "198.51.100.7", 8, 0x7777, pattern(20), opts4(1, 1));
    auto original = echo4("10.0.0.2", "198.51.100.7", 8, 0x0101, pattern(20), opts4(1, 1));
    auto in = ipv4_packet("192.0.2.254", "203.0.113.1", icmp4_error(11, 0, 0, natted), opts4(1));
    embedded_flow f{};
    ASSERT_TRUE(icmp_error_embedded4(in.data(), static_cast<uint32_t>(in.size()), f));
    EXPECT_EQ(f.proto, 1);
    EXPECT_EQ(f.sport, 0x7777);
    EXPECT_EQ(f.dport, 0);
    auto client = v4("10.0.0.2");
    auto out = in;
    ASSERT_TRUE(rewrite_icmp_error4(out.data(), static_cast<uint32_t>(out.size()), nullptr, client.data(),
                                    ep4("10.0.0.2", 0x0101, "198.51.100.7", 0)));
    auto want = ipv4_packet("192.0.2.254", "10.0.0.2", icmp4_error(11, 0, 0, original), opts4(1));
    EXPECT_EQ(diff(want, out), "");
    EXPECT_EQ(verify(out), "");
}

TEST(NatIcmpError, RefusedWhenPortsAreMissingOrNotAnError) {
    auto natted = udp4_sum("203.0.113.1", 40000, "198.51.100.7", 53, pattern(30));
    auto client = v4("10.0.0.2");
    auto to = ep4("10.0.0.2", 5000, "198.51.100.7", 53);
    embedded_flow f{};
    // Quote: the IP header and 2 bytes of UDP header.
    auto short_quote = ipv4_packet("198.51.100.7", "203.0.113.1",
                                   icmp4_error(3, 3, 0, bytes(natted.begin(), natted.begin() + 22)), opts4(1));
    auto out = short_quote;
    EXPECT_FALSE(icmp_error_embedded4(out.data(), static_cast<uint32_t>(out.size()), f));
    EXPECT_FALSE(rewrite_icmp_error4(out.data(), static_cast<uint32_t>(out.size()), nullptr, client.data(), to));
    EXPECT_EQ(diff(short_quote, out), "");
    // Not an error at all.
    auto echo = echo4("198.51.100.7", "203.0.113.1", 0, 1, pattern(40));
    out = echo;
    EXPECT_FALSE(icmp_error_embedded4(out.data(), static_cast<uint32_t>(out.size()), f));
    EXPECT_FALSE(rewrite_icmp_error4(out.data(), static_cast<uint32_t>(out.size()), nullptr, client.data(), to));
    EXPECT_EQ(diff(echo, out), "");
    // Shorter than its own header says.
    auto full = ipv4_packet("198.51.100.7", "203.0.113.1", icmp4_error(3, 3, 0, natted), opts4(1));
    EXPECT_FALSE(icmp_error_embedded4(full.data(), static_cast<uint32_t>(full.size() - 1), f));
    // IPv6: quote of the IPv6 header and 3 bytes.
    auto n6 = udp6_pkt("2001:db8::1", 40000, "2001:db8:1::7", 53, pattern(8));
    auto e6 = ipv6_packet("2001:db8:1::7", "2001:db8::1",
                          icmp6_error("2001:db8:1::7", "2001:db8::1", 1, 4, 0, bytes(n6.begin(), n6.begin() + 43)),
                          opts6(58));
    auto c6 = v6("fd00::2");
    out = e6;
    EXPECT_FALSE(icmp_error_embedded6(out.data(), static_cast<uint32_t>(out.size()), f));
    EXPECT_FALSE(rewrite_icmp_error6(out.data(), static_cast<uint32_t>(out.size()), nullptr, c6.data(),
                                     ep6("fd00::2", 5000, "2001:db8:1::7", 53)));
    EXPECT_EQ(diff(e6, out), "");
}

// ---- RFC 7915 translation ---------------------------------------------------------------------------

class NatXlate : public ::testing::Test {
protected:
    struct mbuf_free {
        void operator()(rte_mbuf* m) const { rte_pktmbuf_free(m); }
    };
    using mbuf_ptr = std::unique_ptr<rte_mbuf, mbuf_free>;

    void SetUp() override {
        static int n = 0;
        pool_ = rte_pktmbuf_pool_create(("nat" + std::to_string(n++)).c_str(), 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                        SOCKET_ID_ANY);
        ASSERT_NE(pool_, nullptr);
    }
    void TearDown() override { rte_mempool_free(pool_); }

    mbuf_ptr mbuf_of(const bytes& b) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool_);
        EXPECT_NE(m, nullptr);
        auto* p = rte_pktmbuf_append(m, static_cast<uint16_t>(b.size()));
        EXPECT_NE(p, nullptr);
        if (!b.empty()) std::memcpy(p, b.data(), b.size());
        return mbuf_ptr(m);
    }
    static bytes data(const rte_mbuf* m) {
        const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
        return bytes(p, p + m->data_len);
    }

    // Translates `in`; on success returns the result (checked for consistent lengths), on failure
    // checks the mbuf was left exactly as it was and returns nothing.
    std::optional<bytes> xlate(const bytes& in, bool to_v6, const endpoints& outer, const endpoints* inner = nullptr) {
        auto m = mbuf_of(in);
        uint16_t off = m->data_off;
        bool ok = to_v6 ? xlate_4to6(m.get(), outer, inner) : xlate_6to4(m.get(), outer, inner);
        if (!ok) {
            EXPECT_EQ(m->data_off, off);
            EXPECT_EQ(diff(in, data(m.get())), "") << "refused, yet changed";
            return std::nullopt;
        }
        EXPECT_EQ(m->pkt_len, m->data_len);
        return data(m.get());
    }

    // The IPv4 identification the translator chose, written into the expected packet's options.
    static ipv4_opts with_id_of(const bytes& out, ipv4_opts o) {
        o.id = get16(out.data() + 4);
        return o;
    }

    rte_mempool* pool_ = nullptr;
};

TEST_F(NatXlate, Tcp4to6) {
    auto in = tcp4("198.51.100.9", 5555, "192.0.2.10", 80, pattern(77), opts4(6, 61, 0x4321, true));
    auto out = xlate(in, true, ep6("64:ff9b::c633:6409", 5555, "2001:db8::10", 8080));
    ASSERT_TRUE(out);
    auto want = tcp6("64:ff9b::c633:6409", 5555, "2001:db8::10", 8080, pattern(77), opts6(6, 61));
    EXPECT_EQ(diff(want, *out), "");
    EXPECT_EQ(verify(*out), "");
}

TEST_F(NatXlate, Udp4to6) {
    auto in = udp4_sum("198.51.100.9", 5555, "192.0.2.10", 53, pattern(19), opts4(17, 30));
    auto out = xlate(in, true, ep6("2001:db8:46::1", 40001, "2001:db8::10", 53));
    ASSERT_TRUE(out);
    auto want = udp6_pkt("2001:db8:46::1", 40001, "2001:db8::10", 53, pattern(19), opts6(17, 30));
    EXPECT_EQ(diff(want, *out), "");
    EXPECT_EQ(verify(*out), "");
}

TEST_F(NatXlate, Udp4to6ZeroChecksumIsComputed) {
    auto in = ipv4_packet("198.51.100.9", "192.0.2.10", udp4(5555, 53, pattern(19)));
    auto out = xlate(in, true, ep6("2001:db8:46::1", 40001, "2001:db8::10", 53));
    ASSERT_TRUE(out);
    auto want = udp6_pkt("2001:db8:46::1", 40001, "2001:db8::10", 53, pattern(19));
    EXPECT_EQ(diff(want, *out), "");
    EXPECT_EQ(verify(*out), "");
}

TEST_F(NatXlate, EchoRequestAndReply4to6) {
    for (uint8_t type : {8, 0}) {
        auto in = echo4("198.51.100.9", "192.0.2.10", type, 0x1111, pattern(56), opts4(1, 20));
        auto out = xlate(in, true, ep6("2001:db8:46::1", 0x2222, "2001:db8::10", 0));
        ASSERT_TRUE(out);
        auto want = echo6("2001:db8:46::1", "2001:db8::10", type == 8 ? 128 : 129, 0x2222, pattern(56), opts6(58, 20));
        EXPECT_EQ(diff(want, *out), "") << int(type);
        EXPECT_EQ(verify(*out), "");
    }
}

TEST_F(NatXlate, TosAndOptions4to6) {
    // Traffic class from TOS; IPv4 options (here: two no-ops and an end of list) are not carried.
    auto plain = tcp4("198.51.100.9", 5555, "192.0.2.10", 80, pattern(10));
    bytes in(plain.begin(), plain.begin() + 20);
    in.insert(in.end(), {1, 1, 0, 0});
    in.insert(in.end(), plain.begin() + 20, plain.end());
    in[0] = 0x46;
    in[1] = 0xb8;  // EF
    put16(in.data() + 2, static_cast<uint16_t>(in.size()));
    put16(in.data() + 10, 0);
    put16(in.data() + 10, inet_checksum(in.data(), 24));
    auto out = xlate(in, true, ep6("2001:db8:46::1", 5555, "2001:db8::10", 80));
    ASSERT_TRUE(out);
    auto want = tcp6("2001:db8:46::1", 5555, "2001:db8::10", 80, pattern(10));
    want[0] = 0x6b;  // version 6, traffic class 0xb8
    want[1] = 0x80;
    EXPECT_EQ(diff(want, *out), "");
    EXPECT_EQ(verify(*out), "");
}

TEST_F(NatXlate, Tcp6to4) {
    auto in = tcp6("2001:db8:6::2", 1234, "64:ff9b::c633:6407", 443, pattern(90), opts6(6, 40));
    auto out = xlate(in, false, ep4("203.0.113.1", 40000, "198.51.100.7", 443));
    ASSERT_TRUE(out);
    auto want = tcp4("203.0.113.1", 40000, "198.51.100.7", 443, pattern(90), with_id_of(*out, opts4(6, 40)));
    EXPECT_EQ(diff(want, *out), "");
    EXPECT_EQ(verify(*out), "");
}

TEST_F(NatXlate, Udp6to4) {
    auto in = udp6_pkt("2001:db8:6::2", 1234, "64:ff9b::c633:6407", 53, pattern(33), opts6(17, 9));
    auto out = xlate(in, false, ep4("203.0.113.1", 40000, "198.51.100.7", 53));
    ASSERT_TRUE(out);
    auto want = udp4_sum("203.0.113.1", 40000, "198.51.100.7", 53, pattern(33), with_id_of(*out, opts4(17, 9)));
    EXPECT_EQ(diff(want, *out), "");
    EXPECT_EQ(verify(*out), "");
}

TEST_F(NatXlate, LargePacket6to4GetsDontFragment) {
    auto in = tcp6("2001:db8:6::2", 1234, "64:ff9b::c633:6407", 443, pattern(1300));
    auto out = xlate(in, false, ep4("203.0.113.1", 40000, "198.51.100.7", 443));
    ASSERT_TRUE(out);
    ASSERT_EQ(out->size(), 1340U);
    auto want = tcp4("203.0.113.1", 40000, "198.51.100.7", 443, pattern(1300), opts4(6, 64, 0, true));
    EXPECT_EQ(diff(want, *out), "");
    EXPECT_EQ(verify(*out), "");
}

TEST_F(NatXlate, EchoRequestAndReply6to4) {
    for (uint8_t type : {128, 129}) {
        auto in = echo6("2001:db8:6::2", "64:ff9b::c633:6407", type, 0x3333, pattern(48), opts6(58, 33));
        auto out = xlate(in, false, ep4("203.0.113.1", 0x4444, "198.51.100.7", 0));
        ASSERT_TRUE(out);
        auto want = echo4("203.0.113.1", "198.51.100.7", type == 128 ? 8 : 0, 0x4444, pattern(48),
                          with_id_of(*out, opts4(1, 33)));
        EXPECT_EQ(diff(want, *out), "") << int(type);
        EXPECT_EQ(verify(*out), "");
    }
}

TEST_F(NatXlate, DestUnreachablePort6to4) {
    // NAT46 load balancer: the IPv4 client's datagram went to the IPv6 backend, which answers port
    // unreachable; the client must get an ICMPv4 port unreachable quoting what it sent.
    auto natted = udp6_pkt("2001:db8:46::1", 40001, "2001:db8::10", 53, pattern(24), opts6(17, 60));
    auto in = ipv6_packet("2001:db8::10", "2001:db8:46::1",
                          icmp6_error("2001:db8::10", "2001:db8:46::1", 1, 4, 0, natted), opts6(58, 64));
    auto inner = ep4("198.51.100.9", 5555, "192.0.2.10", 53);
    auto out = xlate(in, false, ep4("192.0.2.10", 0, "198.51.100.9", 0), &inner);
    ASSERT_TRUE(out);
    auto original = udp4_sum("198.51.100.9", 5555, "192.0.2.10", 53, pattern(24), opts4(17, 60, 0));
    auto want = ipv4_packet("192.0.2.10", "198.51.100.9", icmp4_error(3, 3, 0, original), with_id_of(*out, opts4(1)));
    EXPECT_EQ(diff(want, *out), "");
    EXPECT_EQ(verify(*out), "");
    embedded_flow f{};
    ASSERT_TRUE(icmp_error_embedded4(out->data(), static_cast<uint32_t>(out->size()), f));
    EXPECT_EQ(f.sport, 5555);
    EXPECT_EQ(f.dport, 53);
}

TEST_F(NatXlate, FragNeededToPacketTooBig4to6) {
    // NAT64: the IPv6 host's segment left as a 1400-byte IPv4 packet with DF; a router with a
    // 1300-byte link quotes 548 bytes of it. The host must learn an IPv6 MTU of 1320.
    auto natted = tcp4("203.0.113.1", 40000, "198.51.100.7", 443, pattern(1360), opts4(6, 63, 0x1234, true));
    ASSERT_EQ(natted.size(), 1400U);
    auto in = ipv4_packet("192.0.2.254", "203.0.113.1",
                          icmp4_error(3, 4, 1300, bytes(natted.begin(), natted.begin() + 548)), opts4(1, 250));
    auto inner = ep6("2001:db8:6::2", 1234, "64:ff9b::c633:6407", 443);
    auto out = xlate(in, true, ep6("64:ff9b::c000:2fe", 0, "2001:db8:6::2", 0), &inner);
    ASSERT_TRUE(out);
    auto original = tcp6("2001:db8:6::2", 1234, "64:ff9b::c633:6407", 443, pattern(1360), opts6(6, 63));
    bytes quote(original.begin(), original.begin() + 40 + 528);
    auto want = ipv6_packet("64:ff9b::c000:2fe", "2001:db8:6::2",
                            icmp6_error("64:ff9b::c000:2fe", "2001:db8:6::2", 2, 0, 1320, quote), opts6(58, 250));
    EXPECT_EQ(diff(want, *out), "");
    EXPECT_EQ(verify(*out), "");
    embedded_flow f{};
    ASSERT_TRUE(icmp_error_embedded6(out->data(), static_cast<uint32_t>(out->size()), f));
    EXPECT_EQ(f.proto, 6);
    EXPECT_EQ(f.sport, 1234);
    EXPECT_EQ(f.dport, 443);
}

TEST_F(NatXlate, Error4to6CutTo1280) {
    auto natted = udp4_sum("203.0.113.1", 40000, "198.51.100.7", 9, pattern(1272));
    auto in = ipv4_packet("192.0.2.254", "203.0.113.1", icmp4_error(11, 0, 0, natted), opts4(1));
    auto inner = ep6("2001:db8:6::2", 1234, "64:ff9b::c633:6407", 9);
    auto out = xlate(in, true, ep6("64:ff9b::c000:2fe", 0, "2001:db8:6::2", 0), &inner);
    ASSERT_TRUE(out);
    ASSERT_EQ(out->size(), 1280U);
    auto original = udp6_pkt("2001:db8:6::2", 1234, "64:ff9b::c633:6407", 9, pattern(1272));
    bytes quote(original.begin(), original.begin() + 1280 - 48);
    auto want = ipv6_packet("64:ff9b::c000:2fe", "2001:db8:6::2",
                            icmp6_error("64:ff9b::c000:2fe", "2001:db8:6::2", 3, 0, 0, quote), opts6(58));
    EXPECT_EQ(diff(want, *out), "");
    EXPECT_EQ(verify(*out), "");
}

// Type/code/rest of the translation of an error about a small UDP packet (0xff: refused).
struct mapping {
    uint8_t type, code;
    uint32_t rest;
    uint8_t want_type, want_code;
    uint32_t want_rest;
};

TEST_F(NatXlate, ErrorMapping4to6) {
    const mapping table[] = {
        {3, 0, 0, 1, 0, 0},
        {3, 1, 0, 1, 0, 0},
        {3, 2, 0, 4, 1, 6},
        {3, 3, 0, 1, 4, 0},
        {3, 4, 1400, 2, 0, 1420},
        {3, 4, 0, 2, 0, 1280},
        {3, 5, 0, 1, 0, 0},
        {3, 9, 0, 1, 1, 0},
        {3, 10, 0, 1, 1, 0},
        {3, 13, 0, 1, 1, 0},
        {3, 15, 0, 1, 1, 0},
        {11, 0, 0, 3, 0, 0},
        {11, 1, 0, 3, 1, 0},
        {12, 0, 9U << 24, 4, 0, 6},
        {12, 0, 16U << 24, 4, 0, 24},
        {12, 2, 2U << 24, 4, 0, 4},
        {12, 0, 8U << 24, 4, 0, 7},
        {3, 14, 0, 0xff, 0, 0},
        {3, 16, 0, 0xff, 0, 0},
        {12, 0, 4U << 24, 0xff, 0, 0},
        {12, 0, 10U << 24, 0xff, 0, 0},
        {12, 1, 0, 0xff, 0, 0},
        {4, 0, 0, 0xff, 0, 0},
        {5, 0, 0, 0xff, 0, 0},
        {13, 0, 0, 0xff, 0, 0},
        {9, 0, 0, 0xff, 0, 0},
        {40, 0, 0, 0xff, 0, 0},
    };
    auto natted = udp4_sum("203.0.113.1", 40000, "198.51.100.7", 9, pattern(20));
    auto inner = ep6("2001:db8:6::2", 1234, "64:ff9b::c633:6407", 9);
    for (const auto& t : table) {
        auto in = ipv4_packet("192.0.2.254", "203.0.113.1", icmp4_error(t.type, t.code, t.rest, natted), opts4(1));
        auto out = xlate(in, true, ep6("64:ff9b::c000:2fe", 0, "2001:db8:6::2", 0), &inner);
        SCOPED_TRACE(std::to_string(t.type) + "/" + std::to_string(t.code));
        if (t.want_type == 0xff) {
            EXPECT_FALSE(out);
            continue;
        }
        ASSERT_TRUE(out);
        const uint8_t* icmp = out->data() + 40;
        EXPECT_EQ(icmp[0], t.want_type);
        EXPECT_EQ(icmp[1], t.want_code);
        EXPECT_EQ(static_cast<uint32_t>(get16(icmp + 4)) << 16 | get16(icmp + 6), t.want_rest);
        EXPECT_EQ(verify(*out), "");
        embedded_flow f{};
        ASSERT_TRUE(icmp_error_embedded6(out->data(), static_cast<uint32_t>(out->size()), f));
        EXPECT_EQ(bytes(f.src, f.src + 16), bytes(inner.src, inner.src + 16));
        EXPECT_EQ(f.sport, 1234);
    }
}

TEST_F(NatXlate, FragNeededWithoutMtuUsesPlateau) {
    // RFC 1191 router (MTU 0) about a 2100-byte packet: plateau 2002, +20 for IPv6.
    auto natted = udp4_sum("203.0.113.1", 40000, "198.51.100.7", 9, pattern(2072), opts4(17, 64, 1, true));
    auto in = ipv4_packet("192.0.2.254", "203.0.113.1",
                          icmp4_error(3, 4, 0, bytes(natted.begin(), natted.begin() + 548)), opts4(1));
    auto inner = ep6("2001:db8:6::2", 1234, "64:ff9b::c633:6407", 9);
    auto out = xlate(in, true, ep6("64:ff9b::c000:2fe", 0, "2001:db8:6::2", 0), &inner);
    ASSERT_TRUE(out);
    EXPECT_EQ(get16(out->data() + 46), 2022);
    EXPECT_EQ(verify(*out), "");
}

TEST_F(NatXlate, ErrorMapping6to4) {
    const mapping table[] = {
        {1, 0, 0, 3, 1, 0},      {1, 1, 0, 3, 10, 0},        {1, 2, 0, 3, 1, 0},           {1, 3, 0, 3, 1, 0},
        {1, 4, 0, 3, 3, 0},      {2, 0, 1500, 3, 4, 1480},   {2, 0, 70000, 3, 4, 65535},   {3, 0, 0, 11, 0, 0},
        {3, 1, 0, 11, 1, 0},     {4, 0, 7, 12, 0, 8U << 24}, {4, 0, 24, 12, 0, 16U << 24}, {4, 0, 4, 12, 0, 2U << 24},
        {4, 1, 40, 3, 2, 0},     {1, 5, 0, 0xff, 0, 0},      {1, 6, 0, 0xff, 0, 0},        {4, 0, 2, 0xff, 0, 0},
        {4, 0, 40, 0xff, 0, 0},  {4, 2, 0, 0xff, 0, 0},      {0, 0, 0, 0xff, 0, 0},        {5, 0, 0, 0xff, 0, 0},
        {100, 0, 0, 0xff, 0, 0},
    };
    auto natted = udp6_pkt("2001:db8:46::1", 40001, "2001:db8::10", 53, pattern(20));
    auto inner = ep4("198.51.100.9", 5555, "192.0.2.10", 53);
    for (const auto& t : table) {
        auto in = ipv6_packet("2001:db8::10", "2001:db8:46::1",
                              icmp6_error("2001:db8::10", "2001:db8:46::1", t.type, t.code, t.rest, natted), opts6(58));
        auto out = xlate(in, false, ep4("192.0.2.10", 0, "198.51.100.9", 0), &inner);
        SCOPED_TRACE(std::to_string(t.type) + "/" + std::to_string(t.code));
        if (t.want_type == 0xff) {
            EXPECT_FALSE(out);
            continue;
        }
        ASSERT_TRUE(out);
        const uint8_t* icmp = out->data() + 20;
        EXPECT_EQ(icmp[0], t.want_type);
        EXPECT_EQ(icmp[1], t.want_code);
        EXPECT_EQ(static_cast<uint32_t>(get16(icmp + 4)) << 16 | get16(icmp + 6), t.want_rest);
        EXPECT_EQ(verify(*out), "");
        embedded_flow f{};
        ASSERT_TRUE(icmp_error_embedded4(out->data(), static_cast<uint32_t>(out->size()), f));
        EXPECT_EQ(bytes(f.dst, f.dst + 4), bytes({192, 0, 2, 10}));
        EXPECT_EQ(f.dport, 53);
    }
}

TEST_F(NatXlate, EchoErrorsTranslateTheEmbeddedEcho) {
    // Traceroute with ping through NAT64: time exceeded about the translated echo request.
    auto natted = echo4("203.0.113.1", "198.51.100.7", 8, 0x2222, pattern(32), opts4(1, 1));
    auto in = ipv4_packet("192.0.2.254", "203.0.113.1", icmp4_error(11, 0, 0, natted), opts4(1));
    auto inner = ep6("2001:db8:6::2", 0x1111, "64:ff9b::c633:6407", 0);
    auto out = xlate(in, true, ep6("64:ff9b::c000:2fe", 0, "2001:db8:6::2", 0), &inner);
    ASSERT_TRUE(out);
    auto original = echo6("2001:db8:6::2", "64:ff9b::c633:6407", 128, 0x1111, pattern(32), opts6(58, 1));
    auto want = ipv6_packet("64:ff9b::c000:2fe", "2001:db8:6::2",
                            icmp6_error("64:ff9b::c000:2fe", "2001:db8:6::2", 3, 0, 0, original), opts6(58));
    EXPECT_EQ(diff(want, *out), "");
    EXPECT_EQ(verify(*out), "");

    // And back: the IPv6 error about it becomes the IPv4 one again (inner header ID 0).
    auto back_inner = ep4("203.0.113.1", 0x2222, "198.51.100.7", 0);
    auto back = xlate(want, false, ep4("192.0.2.254", 0, "203.0.113.1", 0), &back_inner);
    ASSERT_TRUE(back);
    auto natted0 = echo4("203.0.113.1", "198.51.100.7", 8, 0x2222, pattern(32), opts4(1, 1, 0));
    auto want4 = ipv4_packet("192.0.2.254", "203.0.113.1", icmp4_error(11, 0, 0, natted0), with_id_of(*back, opts4(1)));
    EXPECT_EQ(diff(want4, *back), "");
    EXPECT_EQ(verify(*back), "");
}

TEST_F(NatXlate, Refusals) {
    auto to6 = ep6("2001:db8:46::1", 1, "2001:db8::10", 2);
    auto to4 = ep4("203.0.113.1", 1, "198.51.100.7", 2);
    // IPv4 fragments: first (MF) and later (offset).
    ipv4_opts mf = opts4(17);
    mf.mf = true;
    EXPECT_FALSE(xlate(udp4_sum("198.51.100.9", 1, "192.0.2.10", 2, pattern(16), mf), true, to6));
    ipv4_opts later = opts4(17);
    later.frag_offset = 3;
    EXPECT_FALSE(xlate(ipv4_packet("198.51.100.9", "192.0.2.10", pattern(16), later), true, to6));
    // IPv6 fragment header, hop-by-hop options.
    bytes frag = {17, 0, 0, 0, 0, 0, 0, 9};
    auto u = udp6("2001:db8:6::2", "64:ff9b::c633:6407", 1, 2, pattern(8));
    frag.insert(frag.end(), u.begin(), u.end());
    EXPECT_FALSE(xlate(ipv6_packet("2001:db8:6::2", "64:ff9b::c633:6407", frag, opts6(44)), false, to4));
    bytes hbh = {17, 0, 1, 4, 0, 0, 0, 0};
    hbh.insert(hbh.end(), u.begin(), u.end());
    EXPECT_FALSE(xlate(ipv6_packet("2001:db8:6::2", "64:ff9b::c633:6407", hbh, opts6(0)), false, to4));
    // ICMP types without a translation.
    EXPECT_FALSE(xlate(echo4("198.51.100.9", "192.0.2.10", 13, 1, pattern(12)), true, to6));             // timestamp
    EXPECT_FALSE(xlate(echo6("2001:db8:6::2", "64:ff9b::c633:6407", 135, 1, pattern(20)), false, to4));  // NS
    EXPECT_FALSE(xlate(echo6("2001:db8:6::2", "64:ff9b::c633:6407", 130, 1, pattern(20)), false, to4));  // MLD
    // Protocols other than TCP, UDP, SCTP, ICMP.
    EXPECT_FALSE(xlate(ipv4_packet("198.51.100.9", "192.0.2.10", pattern(24), opts4(47)), true, to6));
    // Too short: a TCP header cut to 12 bytes, an echo of 4 bytes, a bare IPv4 header fragment.
    EXPECT_FALSE(xlate(ipv4_packet("198.51.100.9", "192.0.2.10", pattern(12), opts4(6)), true, to6));
    EXPECT_FALSE(xlate(ipv4_packet("198.51.100.9", "192.0.2.10", {8, 0, 0, 0}, opts4(1)), true, to6));
    auto whole = tcp4("198.51.100.9", 1, "192.0.2.10", 2, {});
    EXPECT_FALSE(xlate(bytes(whole.begin(), whole.begin() + 12), true, to6));
    // UDP/IPv6 without checksum.
    auto z = udp6_pkt("2001:db8:6::2", 1, "64:ff9b::c633:6407", 2, pattern(8));
    put16(z.data() + 46, 0);
    EXPECT_FALSE(xlate(z, false, to4));
    // An unexpired loose source route (pointer 4 of length 7).
    auto plain = tcp4("198.51.100.9", 5555, "192.0.2.10", 80, {});
    bytes lsrr(plain.begin(), plain.begin() + 20);
    lsrr.insert(lsrr.end(), {131, 7, 4, 192, 0, 2, 99, 0});
    lsrr.insert(lsrr.end(), plain.begin() + 20, plain.end());
    lsrr[0] = 0x47;
    put16(lsrr.data() + 2, static_cast<uint16_t>(lsrr.size()));
    put16(lsrr.data() + 10, 0);
    put16(lsrr.data() + 10, inet_checksum(lsrr.data(), 28));
    EXPECT_FALSE(xlate(lsrr, true, to6));
    // Errors: no inner endpoints, a bad ICMP checksum, an embedded fragment, ports cut off.
    auto natted = udp4_sum("203.0.113.1", 40000, "198.51.100.7", 9, pattern(20));
    auto err = ipv4_packet("192.0.2.254", "203.0.113.1", icmp4_error(3, 3, 0, natted), opts4(1));
    EXPECT_FALSE(xlate(err, true, to6, nullptr));
    auto bad = err;
    bad[40] ^= 1;
    EXPECT_FALSE(xlate(bad, true, to6, &to6));
    ipv4_opts first = opts4(17);
    first.mf = true;
    auto frag_err =
        ipv4_packet("192.0.2.254", "203.0.113.1",
                    icmp4_error(3, 3, 0, udp4_sum("203.0.113.1", 1, "198.51.100.7", 9, {}, first)), opts4(1));
    EXPECT_FALSE(xlate(frag_err, true, to6, &to6));
    auto cut = ipv4_packet("192.0.2.254", "203.0.113.1",
                           icmp4_error(3, 3, 0, bytes(natted.begin(), natted.begin() + 23)), opts4(1));
    EXPECT_FALSE(xlate(cut, true, to6, &to6));
}

TEST_F(NatXlate, RefusesMultiSegmentAndMissingHeadroom) {
    auto in = tcp4("198.51.100.9", 5555, "192.0.2.10", 80, pattern(40));
    auto to6 = ep6("2001:db8:46::1", 5555, "2001:db8::10", 80);
    auto m = mbuf_of(in);
    rte_mbuf* tail = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(tail, nullptr);
    rte_pktmbuf_append(tail, 10);
    ASSERT_EQ(rte_pktmbuf_chain(m.get(), tail), 0);
    EXPECT_FALSE(xlate_4to6(m.get(), to6, nullptr));
    EXPECT_EQ(diff(in, data(m.get())), "");

    auto h = mbuf_of({});
    h->data_off = 10;  // 20 bytes more are needed in front
    std::memcpy(rte_pktmbuf_append(h.get(), static_cast<uint16_t>(in.size())), in.data(), in.size());
    EXPECT_FALSE(xlate_4to6(h.get(), to6, nullptr));
    EXPECT_EQ(h->data_off, 10);
    EXPECT_EQ(diff(in, data(h.get())), "");
}

TEST_F(NatXlate, TrailingBytesAreTrimmed) {
    auto in = udp4_sum("198.51.100.9", 5555, "192.0.2.10", 53, pattern(2));
    in.insert(in.end(), 16, 0);  // Ethernet minimum-size padding after the packet
    auto out = xlate(in, true, ep6("2001:db8:46::1", 40001, "2001:db8::10", 53));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->size(), 40U + 8 + 2);
    EXPECT_EQ(verify(*out), "");
}

}  // namespace
}  // namespace meshgate::dataplane::l4
