#pragma once
// Packet parsing: Ethernet, 802.1Q/802.1ad tags, ARP, IPv4, IPv6 with extension headers, and the
// TCP/UDP/SCTP/ICMP/ICMPv6 headers. Works on a byte span so that the fuzzer and the hot path
// share one implementation. Thread contract: pure function, any thread.
#include <cstddef>
#include <cstdint>

#include "dataplane/drop_reason.hpp"

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
