#pragma once
// Packet parsing: Ethernet, 802.1Q/802.1ad tags, ARP, IPv4, IPv6 with extension headers, and the
// TCP/UDP/SCTP/ICMP/ICMPv6 headers. Works on a byte span so that the fuzzer and the hot path
// share one implementation. Thread contract: pure function, any thread.
#include <cstddef>
#include <cstdint>

#include "dataplane/drop_reason.hpp"
#include "dataplane/wire.hpp"

namespace meshgate::dataplane {

enum class l3_kind : uint8_t { ipv4, ipv6, arp };

// What the parser learned. Offsets are from the start of the frame.
struct packet_info {
    uint16_t l3_offset = 0;  // bytes of Ethernet header and VLAN tags
    uint16_t vlan = 0;       // VLAN id of the single 802.1Q tag; 0 untagged
    uint16_t l3_len = 0;     // IPv4 header or IPv6 header plus extension headers
    uint16_t ip_total = 0;   // IP packet length from its header (IPv4 total length, IPv6 40 + payload)
    uint16_t l4_offset = 0;  // start of the transport header when has_l4
    l3_kind l3 = l3_kind::ipv4;
    uint8_t l4_proto = 0;                   // IP protocol / final IPv6 next header
    bool is_fragment = false;               // any fragment (IPv4 MF or offset, IPv6 fragment header)
    bool has_l4 = false;                    // transport header present and checked (first fragment or whole)
    bool ipv6_ext_fragment_header = false;  // IPv6 packet carries a fragment header
};

// ipv4_checksum_verified: the NIC already checked the IPv4 header checksum (RX offload flag).
drop_reason parse_packet(const uint8_t* frame, uint32_t len, packet_info& info,
                         bool ipv4_checksum_verified = false) noexcept;

// The common case inline: an untagged IPv4 packet with a 20-byte header, or an IPv6 packet
// without extension headers, carrying a whole UDP or TCP header. Anything else, or anything
// wrong, goes to parse_packet(), so both always agree (the parse fuzzer checks that).
inline drop_reason parse_packet_fast(const uint8_t* f, uint32_t len, packet_info& info,
                                     bool ipv4_checksum_verified = false) noexcept {
    if (len >= 14 + 40) {
        uint16_t type = wire::rd16(f + 12);
        const uint8_t* ip = f + 14;
        uint32_t avail = len - 14;
        if (type == wire::ether_ipv4 && ip[0] == 0x45) {
            uint32_t total = wire::rd16(ip + 2);
            uint8_t proto = ip[9];
            uint32_t l4_len = total - 20;
            bool whole = (wire::rd16(ip + 6) & 0x3fff) == 0;
            if (whole && total <= avail && total >= 20 + 8 &&
                (ipv4_checksum_verified || wire::ipv4_header_checksum_ok(ip, 20))) {
                const uint8_t* l4 = ip + 20;
                bool l4_ok = (proto == 17 && wire::rd16(l4 + 4) >= 8 && wire::rd16(l4 + 4) <= l4_len) ||
                             (proto == 6 && l4_len >= 20 && (l4[12] >> 4) >= 5 && (l4[12] >> 4) * 4U <= l4_len);
                if (l4_ok) {
                    info = packet_info{14,    0,    20,   static_cast<uint16_t>(total), 34, l3_kind::ipv4, proto,
                                       false, true, false};
                    return drop_reason::none;
                }
            }
        } else if (type == wire::ether_ipv6 && (ip[0] >> 4) == 6) {
            uint32_t total = 40U + wire::rd16(ip + 4);
            uint8_t next = ip[6];
            uint32_t l4_len = total - 40;
            if (total <= avail) {
                const uint8_t* l4 = ip + 40;
                bool l4_ok = (next == 17 && l4_len >= 8 && wire::rd16(l4 + 4) >= 8 && wire::rd16(l4 + 4) <= l4_len) ||
                             (next == 6 && l4_len >= 20 && (l4[12] >> 4) >= 5 && (l4[12] >> 4) * 4U <= l4_len);
                if (l4_ok) {
                    info = packet_info{14,    0,    40,   static_cast<uint16_t>(total), 54, l3_kind::ipv6, next,
                                       false, true, false};
                    return drop_reason::none;
                }
            }
        }
    }
    return parse_packet(f, len, info, ipv4_checksum_verified);
}

// The same for a packet that starts at its IP header (l3_offset 0): what the control lcore
// holds while it resolves a next hop.
drop_reason parse_ip(const uint8_t* ip, uint32_t len, bool is_v6, packet_info& info) noexcept;

namespace ip_proto {
inline constexpr uint8_t hop_by_hop = 0;
inline constexpr uint8_t icmp = 1;
inline constexpr uint8_t tcp = 6;
inline constexpr uint8_t udp = 17;
inline constexpr uint8_t ipv6_routing = 43;
inline constexpr uint8_t ipv6_fragment = 44;
inline constexpr uint8_t esp = 50;
inline constexpr uint8_t ah = 51;
inline constexpr uint8_t icmpv6 = 58;
inline constexpr uint8_t ipv6_none = 59;
inline constexpr uint8_t ipv6_dest_opts = 60;
inline constexpr uint8_t sctp = 132;
}  // namespace ip_proto

}  // namespace meshgate::dataplane
