#pragma once
// ICMP (RFC 792, RFC 1812 4.3) and ICMPv6 (RFC 4443) messages the gateway originates, and the
// checksum helpers they need. Thread contract: any lcore; allocates only from the given mempool.
#include <cstdint>

#include "dataplane/packet_parse.hpp"
#include "policy/net_types.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace meshgate::dataplane {

namespace icmp4 {
inline constexpr uint8_t echo_reply = 0;
inline constexpr uint8_t dest_unreachable = 3;
inline constexpr uint8_t echo_request = 8;
inline constexpr uint8_t time_exceeded = 11;
inline constexpr uint8_t code_net_unreachable = 0;
inline constexpr uint8_t code_host_unreachable = 1;
inline constexpr uint8_t code_port_unreachable = 3;
inline constexpr uint8_t code_frag_needed = 4;
}  // namespace icmp4

namespace icmp6 {
inline constexpr uint8_t dest_unreachable = 1;
inline constexpr uint8_t packet_too_big = 2;
inline constexpr uint8_t time_exceeded = 3;
inline constexpr uint8_t echo_request = 128;
inline constexpr uint8_t echo_reply = 129;
inline constexpr uint8_t neighbor_solicit = 135;
inline constexpr uint8_t neighbor_advert = 136;
inline constexpr uint8_t code_no_route = 0;
inline constexpr uint8_t code_beyond_scope = 2;
inline constexpr uint8_t code_addr_unreachable = 3;
inline constexpr uint8_t code_port_unreachable = 4;
}  // namespace icmp6

// Room left in front of a built IP packet for the Ethernet header and a VLAN tag.
inline constexpr uint16_t l2_room = 18;

// RFC 1624 incremental update of a one's-complement checksum when a 16-bit word changes.
inline uint16_t checksum_adjust(uint16_t cksum, uint16_t old_word, uint16_t new_word) noexcept {
    uint32_t sum = static_cast<uint16_t>(~cksum) + static_cast<uint32_t>(static_cast<uint16_t>(~old_word)) + new_word;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// One's-complement checksum of an ICMPv6 message with its pseudo-header (RFC 8200 8.1).
// Addresses and the message in network order; the result is stored as is (memcpy).
uint16_t icmp6_checksum(const uint8_t* src, const uint8_t* dst, const uint8_t* msg, uint32_t len) noexcept;
// ICMPv4 checksum over the message; stored as is (memcpy).
uint16_t icmp4_checksum(const uint8_t* msg, uint32_t len) noexcept;

// RFC 1812 4.3.2.7: no error about an ICMP error, a non-first fragment, a packet to a
// broadcast or multicast destination, or one whose source is not a unique host.
bool icmp4_error_permitted(const uint8_t* ip, const packet_info& info) noexcept;
// RFC 4443 2.4 (e): no error about an ICMPv6 error or redirect, or a packet to multicast
// (packet too big excepted), or from an unspecified or multicast source.
bool icmp6_error_permitted(const uint8_t* ip, const packet_info& info, bool packet_too_big) noexcept;

// Builds an ICMPv4 error about the IPv4 packet `orig` (orig_len bytes of it) from `src` (host
// order) back to the packet's source, quoting as much as fits in 576 bytes (RFC 1812 4.3.2.3).
// `rest` is the second 32-bit word (next-hop MTU for frag-needed). The mbuf holds the IP packet
// with l2_room of headroom reserved; nullptr when the pool is empty.
rte_mbuf* make_icmp4_error(rte_mempool* mp, const uint8_t* orig, uint32_t orig_len, uint32_t src, uint8_t type,
                           uint8_t code, uint32_t rest) noexcept;
// The same for ICMPv6, quoting as much as fits in 1280 bytes (RFC 4443 2.4 (c)).
rte_mbuf* make_icmp6_error(rte_mempool* mp, const uint8_t* orig, uint32_t orig_len, const ipv6_addr& src, uint8_t type,
                           uint8_t code, uint32_t param) noexcept;

}  // namespace meshgate::dataplane
