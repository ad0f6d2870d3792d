#include "dataplane/packet_parse.hpp"
#include "dataplane/wire.hpp"

#include <cstring>

namespace meshgate::dataplane {
namespace {

using namespace wire;

constexpr unsigned max_ipv6_ext_headers = 8;

// Checks the transport header at l4 (len bytes of IP payload from there).
drop_reason parse_l4(const uint8_t* l4, uint32_t len, uint8_t proto) noexcept {
    switch (proto) {
        case ip_proto::tcp: {
            if (len < 20) return drop_reason::l4_truncated;
            unsigned off = (l4[12] >> 4) * 4U;
            if (off < 20 || off > len) return drop_reason::tcp_bad_offset;
            return drop_reason::none;
        }
        case ip_proto::udp: {
            if (len < 8) return drop_reason::l4_truncated;
            unsigned ulen = rd16(l4 + 4);
            // RFC 768: the length covers header and data. Jumbograms (0) are not supported here.
            if (ulen < 8 || ulen > len) return drop_reason::udp_bad_length;
            return drop_reason::none;
        }
        case ip_proto::sctp:
            return len < 12 ? drop_reason::l4_truncated : drop_reason::none;  // RFC 9260 3.1
        case ip_proto::icmp:
        case ip_proto::icmpv6:
            return len < 4 ? drop_reason::l4_truncated : drop_reason::none;
        default:
            return drop_reason::none;
    }
}

drop_reason parse_ipv4(const uint8_t* frame, uint32_t len, packet_info& info, bool checksum_verified) noexcept {
    const uint8_t* ip = frame + info.l3_offset;
    uint32_t avail = len - info.l3_offset;
    if (avail < 20) return drop_reason::ipv4_truncated;
    if ((ip[0] >> 4) != 4) return drop_reason::ipv4_bad_version;
    unsigned ihl = (ip[0] & 0x0fU) * 4U;
    if (ihl < 20) return drop_reason::ipv4_bad_ihl;
    unsigned total = rd16(ip + 2);
    if (ihl > avail || total > avail) return drop_reason::ipv4_truncated;
    if (total < ihl) return drop_reason::ipv4_bad_ihl;
    if (!checksum_verified && !ipv4_header_checksum_ok(ip, ihl)) return drop_reason::ipv4_bad_checksum;
    info.l3 = l3_kind::ipv4;
    info.l3_len = static_cast<uint16_t>(ihl);
    info.ip_total = static_cast<uint16_t>(total);
    info.l4_proto = ip[9];
    uint16_t frag = rd16(ip + 6);
    uint16_t offset = frag & 0x1fff;
    info.is_fragment = (frag & 0x2000) != 0 || offset != 0;
    if (offset != 0) return drop_reason::none;  // no transport header in later fragments
    info.l4_offset = static_cast<uint16_t>(info.l3_offset + ihl);
    auto r = parse_l4(ip + ihl, total - ihl, info.l4_proto);
    // A first fragment may legitimately cut a long TCP header or UDP datagram short.
    if (r != drop_reason::none && info.is_fragment && r != drop_reason::l4_truncated) r = drop_reason::none;
    if (r != drop_reason::none) return r;
    info.has_l4 = true;
    return drop_reason::none;
}

drop_reason parse_ipv6(const uint8_t* frame, uint32_t len, packet_info& info) noexcept {
    const uint8_t* ip = frame + info.l3_offset;
    uint32_t avail = len - info.l3_offset;
    if (avail < 40) return drop_reason::ipv6_truncated;
    if ((ip[0] >> 4) != 6) return drop_reason::ipv6_bad_version;
    uint32_t total = 40U + rd16(ip + 4);
    if (total > avail) return drop_reason::ipv6_truncated;
    info.l3 = l3_kind::ipv6;
    info.ip_total = static_cast<uint16_t>(total);
    uint8_t next = ip[6];
    uint32_t off = 40;
    // RFC 8200 4: walk the extension headers; hop-by-hop only directly after the fixed header.
    for (unsigned n = 0;; ++n) {
        if (n > max_ipv6_ext_headers) return drop_reason::ipv6_bad_ext_header;
        if (next == ip_proto::hop_by_hop && n != 0) return drop_reason::ipv6_bad_ext_header;
        uint32_t hlen;
        if (next == ip_proto::hop_by_hop || next == ip_proto::ipv6_routing || next == ip_proto::ipv6_dest_opts ||
            next == 135 /* mobility */ || next == 139 /* HIP */ || next == 140 /* shim6 */) {
            if (off + 8 > total) return drop_reason::ipv6_bad_ext_header;
            hlen = (ip[off + 1] + 1U) * 8U;
        } else if (next == ip_proto::ah) {
            if (off + 8 > total) return drop_reason::ipv6_bad_ext_header;
            hlen = (ip[off + 1] + 2U) * 4U;  // RFC 4302 2.2
        } else if (next == ip_proto::ipv6_fragment) {
            if (off + 8 > total) return drop_reason::ipv6_bad_ext_header;
            hlen = 8;
            info.is_fragment = true;
            info.ipv6_ext_fragment_header = true;
            uint16_t frag_off = rd16(ip + off + 2) & 0xfff8;
            if (frag_off != 0) {  // later fragment: the rest is payload of another packet's L4
                info.l4_proto = ip[off];
                info.l3_len = static_cast<uint16_t>(off + 8);
                return drop_reason::none;
            }
        } else {
            break;
        }
        if (off + hlen > total) return drop_reason::ipv6_bad_ext_header;
        next = ip[off];
        off += hlen;
    }
    info.l3_len = static_cast<uint16_t>(off);
    info.l4_proto = next;
    if (next == ip_proto::esp || next == ip_proto::ipv6_none) return drop_reason::none;
    info.l4_offset = static_cast<uint16_t>(info.l3_offset + off);
    auto r = parse_l4(ip + off, total - off, next);
    if (r != drop_reason::none && info.is_fragment && r != drop_reason::l4_truncated) r = drop_reason::none;
    if (r != drop_reason::none) return r;
    info.has_l4 = true;
    return drop_reason::none;
}

}  // namespace

drop_reason parse_packet(const uint8_t* frame, uint32_t len, packet_info& info, bool ipv4_checksum_verified) noexcept {
    info = packet_info{};
    if (len < 14) return drop_reason::runt_frame;
    uint16_t type = rd16(frame + 12);
    uint32_t off = 14;
    if (type == ether_vlan || type == ether_qinq) {
        if (len < off + 4) return drop_reason::runt_frame;
        info.vlan = rd16(frame + off) & 0x0fff;
        type = rd16(frame + off + 2);
        off += 4;
        // A second tag (QinQ) is not terminated here.
        if (type == ether_vlan || type == ether_qinq) return drop_reason::vlan_unknown;
    }
    info.l3_offset = static_cast<uint16_t>(off);
    switch (type) {
        case ether_ipv4:
            return parse_ipv4(frame, len, info, ipv4_checksum_verified);
        case ether_ipv6:
            return parse_ipv6(frame, len, info);
        case ether_arp: {
            info.l3 = l3_kind::arp;
            // RFC 826 for Ethernet/IPv4: htype 1, ptype 0x0800, hlen 6, plen 4, 28 bytes.
            if (len < off + 28) return drop_reason::arp_malformed;
            const uint8_t* a = frame + off;
            if (rd16(a) != 1 || rd16(a + 2) != ether_ipv4 || a[4] != 6 || a[5] != 4) return drop_reason::arp_malformed;
            info.l3_len = 28;
            info.ip_total = 28;
            return drop_reason::none;
        }
        default:
            return drop_reason::ethertype_unsupported;
    }
}

drop_reason parse_ip(const uint8_t* ip, uint32_t len, bool is_v6, packet_info& info) noexcept {
    info = packet_info{};
    return is_v6 ? parse_ipv6(ip, len, info) : parse_ipv4(ip, len, info, false);
}

}  // namespace meshgate::dataplane
