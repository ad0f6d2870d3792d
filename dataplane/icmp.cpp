#include "dataplane/icmp.hpp"
#include "dataplane/wire.hpp"

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

namespace meshgate::dataplane {
namespace {

using namespace wire;

constexpr uint32_t icmp4_max_total = 576;   // RFC 1812 4.3.2.3
constexpr uint32_t icmp6_max_total = 1280;  // RFC 4443 2.4 (c)
constexpr uint8_t default_ttl = 64;

// Allocates an mbuf and reserves `len` bytes after l2_room of headroom.
uint8_t* alloc_ip(rte_mempool* mp, uint32_t len, rte_mbuf*& m) noexcept {
    m = rte_pktmbuf_alloc(mp);
    if (m == nullptr) return nullptr;
    if (rte_pktmbuf_tailroom(m) < len + l2_room) {
        rte_pktmbuf_free(m);
        m = nullptr;
        return nullptr;
    }
    // Keep the default headroom; L2 is prepended later.
    return reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(len)));
}

}  // namespace

uint16_t icmp4_checksum(const uint8_t* msg, uint32_t len) noexcept {
    uint16_t s = rte_raw_cksum(msg, len);
    return static_cast<uint16_t>(~s);  // summed as stored: store as is
}

uint16_t icmp6_checksum(const uint8_t* src, const uint8_t* dst, const uint8_t* msg, uint32_t len) noexcept {
    uint32_t sum = __rte_raw_cksum(src, 16, 0);
    sum = __rte_raw_cksum(dst, 16, sum);
    // Upper-layer length and next header, in network order as the other words are summed.
    uint8_t tail[8] = {static_cast<uint8_t>(len >> 24),
                       static_cast<uint8_t>(len >> 16),
                       static_cast<uint8_t>(len >> 8),
                       static_cast<uint8_t>(len),
                       0,
                       0,
                       0,
                       ip_proto::icmpv6};
    sum = __rte_raw_cksum(tail, 8, sum);
    sum = __rte_raw_cksum(msg, len, sum);
    uint16_t s = __rte_raw_cksum_reduce(sum);
    return static_cast<uint16_t>(~s);  // summed as stored: store as is
}

bool icmp4_error_permitted(const uint8_t* ip, const packet_info& info) noexcept {
    uint16_t frag = rd16(ip + 6);
    if ((frag & 0x1fff) != 0) return false;  // not the first fragment
    uint32_t src = static_cast<uint32_t>(rd16(ip + 12)) << 16 | rd16(ip + 14);
    uint32_t dst = static_cast<uint32_t>(rd16(ip + 16)) << 16 | rd16(ip + 18);
    if (src == 0 || src == 0xffffffff || (src >> 28) == 0xe || (src >> 24) == 127) return false;
    if (dst == 0xffffffff || (dst >> 28) == 0xe) return false;
    if (info.l4_proto == ip_proto::icmp && info.has_l4) {
        uint8_t type = ip[info.l3_len];
        // Only queries (echo, timestamp, info, address mask) may draw an error.
        if (type != 8 && type != 0 && type != 13 && type != 14 && type != 15 && type != 16 && type != 17 && type != 18)
            return false;
    }
    return true;
}

bool icmp6_error_permitted(const uint8_t* ip, const packet_info& info, bool packet_too_big) noexcept {
    const uint8_t* src = ip + 8;
    const uint8_t* dst = ip + 24;
    if (src[0] == 0xff) return false;
    static constexpr uint8_t zero[16] = {};
    if (std::memcmp(src, zero, 16) == 0) return false;
    if (dst[0] == 0xff && !packet_too_big) return false;
    if (info.l4_proto == ip_proto::icmpv6 && info.has_l4) {
        uint8_t type = ip[info.l3_len];
        if (type < 128 || type == 137) return false;  // errors and redirects
    }
    return true;
}

rte_mbuf* make_icmp4_error(rte_mempool* mp, const uint8_t* orig, uint32_t orig_len, uint32_t src, uint8_t type,
                           uint8_t code, uint32_t rest) noexcept {
    uint32_t quote = std::min(orig_len, icmp4_max_total - 28);
    uint32_t total = 28 + quote;
    rte_mbuf* m = nullptr;
    uint8_t* p = alloc_ip(mp, total, m);
    if (p == nullptr) return nullptr;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p);
    ip->version_ihl = 0x45;
    ip->type_of_service = 0xc0;  // internetwork control (RFC 1812 4.3.2.5)
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(total));
    ip->packet_id = 0;
    ip->fragment_offset = 0;
    ip->time_to_live = default_ttl;
    ip->next_proto_id = ip_proto::icmp;
    ip->src_addr = rte_cpu_to_be_32(src);
    std::memcpy(&ip->dst_addr, orig + 12, 4);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    uint8_t* icmp = p + 20;
    icmp[0] = type;
    icmp[1] = code;
    wr16(icmp + 2, 0);
    wr32(icmp + 4, rest);
    std::memcpy(icmp + 8, orig, quote);
    uint16_t ck = icmp4_checksum(icmp, 8 + quote);
    std::memcpy(icmp + 2, &ck, 2);
    m->packet_type = RTE_PTYPE_L3_IPV4;
    return m;
}

rte_mbuf* make_icmp6_error(rte_mempool* mp, const uint8_t* orig, uint32_t orig_len, const ipv6_addr& src, uint8_t type,
                           uint8_t code, uint32_t param) noexcept {
    uint32_t quote = std::min(orig_len, icmp6_max_total - 48);
    uint32_t total = 48 + quote;
    rte_mbuf* m = nullptr;
    uint8_t* p = alloc_ip(mp, total, m);
    if (p == nullptr) return nullptr;
    wr32(p, 0x60000000);
    wr16(p + 4, static_cast<uint16_t>(8 + quote));
    p[6] = ip_proto::icmpv6;
    p[7] = default_ttl;
    std::memcpy(p + 8, src.bytes.data(), 16);
    std::memcpy(p + 24, orig + 8, 16);
    uint8_t* icmp = p + 40;
    icmp[0] = type;
    icmp[1] = code;
    wr16(icmp + 2, 0);
    wr32(icmp + 4, param);
    std::memcpy(icmp + 8, orig, quote);
    uint16_t ck = icmp6_checksum(p + 8, p + 24, icmp, 8 + quote);
    std::memcpy(icmp + 2, &ck, 2);
    m->packet_type = RTE_PTYPE_L3_IPV6;
    return m;
}

}  // namespace meshgate::dataplane
