#pragma once
// The packet-rewriting half of NAT, for the L4 load balancer and egress SNAT:
//   - same-family address/port rewrite with incremental checksum updates (RFC 1624);
//   - ICMP errors about a NATed flow, with the embedded packet rewritten too (RFC 5508 4);
//   - IPv4 <-> IPv6 header translation for stateful NAT46/NAT64 (RFC 7915, SIIT), including
//     ICMPv4 <-> ICMPv6 and the packet embedded in ICMP errors.
// Session lookup and the choice of new addresses are the caller's: these functions only apply
// what they are given.
//
// Thread contract: pure functions on the bytes they are handed, any lcore. No allocation, no
// exceptions, no locks. The translators keep one thread-local counter for IPv4 identification.
#include <cstdint>

struct rte_mbuf;

namespace meshgate::dataplane::l4 {

// New values for a packet's addresses and ports. Addresses are network order, 4 or 16 bytes by
// family (an IPv4 address in the first 4 bytes). Ports host order; for ICMP echo request/reply
// `sport` is the identifier (dport unused).
struct endpoints {
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
};

// In-place same-family rewrite. `ip` points at the IPv4/IPv6 header; l4_off is the offset of the
// transport header from ip and l4_len its length to the end of the IP packet (ip_total - l4_off);
// has_l4 false for non-first fragments: then only the IP header changes (IPv6: only the
// addresses, nothing in its header has a checksum).
// TCP, UDP and ICMP(v6) checksums are updated incrementally, so a corrupt packet stays corrupt.
// UDP over IPv4 with checksum 0 (none) keeps 0; a UDP result of 0 is sent as 0xffff. ICMP: the
// echo identifier is rewritten; ICMPv6 checksums follow the address change (pseudo-header).
// SCTP: ports rewritten and the CRC32c recomputed over l4_len bytes, which therefore must be the
// whole SCTP packet: an SCTP first fragment must be reassembled first.
// Fields the given l4_len is too short to hold are left alone.
void rewrite4(uint8_t* ip, uint16_t l4_off, uint16_t l4_len, uint8_t proto, bool has_l4, const endpoints& to) noexcept;
void rewrite6(uint8_t* ip, uint16_t l4_off, uint16_t l4_len, uint8_t proto, bool has_l4, const endpoints& to) noexcept;

// ICMP error (v4: destination unreachable, time exceeded, parameter problem; v6: types 1-4) about
// a NATed flow, `len` bytes from `ip`: rewrites the outer destination to `outer_dst` (and the
// outer source to `outer_src` when not null), and the embedded packet's addresses and ports to
// `inner` (as they must appear embedded: the embedded packet travelled the other way, so its
// source is usually the error's destination). Fixes the embedded IPv4 header checksum, the
// embedded transport checksum when the quote holds it (TCP: 18 bytes, UDP: 8, ICMP: 4; UDP/IPv4
// 0 stays 0), and the ICMP checksum (ICMPv6: with the new outer addresses), all incrementally.
// An embedded SCTP packet's CRC is left alone (the quote is not the whole packet).
// Returns false, changing nothing, when it is not such an error, is a fragment, carries an IPv6
// routing header, or the embedded packet is a non-first fragment or too short to contain its
// ports (embedded ICMP: its echo identifier). Embedded protocols without ports (not TCP, UDP,
// SCTP, ICMP echo) get their addresses rewritten only. The caller drops and counts on false.
bool rewrite_icmp_error4(uint8_t* ip, uint32_t len, const uint8_t* outer_src, const uint8_t* outer_dst,
                         const endpoints& inner) noexcept;
bool rewrite_icmp_error6(uint8_t* ip, uint32_t len, const uint8_t* outer_src, const uint8_t* outer_dst,
                         const endpoints& inner) noexcept;

// The flow embedded in an ICMP error, for the caller's session lookup: protocol, addresses (4 or
// 16 bytes by family), ports; for an embedded ICMP echo the identifier is in sport, dport 0; for
// protocols without ports both 0. False exactly when rewrite_icmp_error4/6 would refuse the
// packet (not an error, too short, ...).
struct embedded_flow {
    uint8_t proto;
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport, dport;
};
bool icmp_error_embedded4(const uint8_t* ip, uint32_t len, embedded_flow& out) noexcept;
bool icmp_error_embedded6(const uint8_t* ip, uint32_t len, embedded_flow& out) noexcept;

// Cross-family translation (RFC 7915) of a single-segment mbuf whose data starts at the IP header
// (no L2). On success the mbuf starts at the new IP header, with data_len/pkt_len updated (bytes
// past the IP packet are trimmed); the new header is prepended into the headroom when it grows.
// The result's addresses (16 bytes for 4to6, 4 for 6to4) and ports come from `outer`; for ICMP
// errors the embedded packet is translated too, with `inner` for its addresses and ports (inner
// may be null for anything but errors). TTL/hop limit is copied (the caller decrements). The
// IPv4 TOS and the IPv6 traffic class are copied into each other; the flow label is 0.
// 4to6 TCP/UDP checksums follow the new pseudo-header and ports incrementally; a UDP/IPv4
// checksum of 0 is computed for IPv6. 6to4: IPv4 identification from a per-thread counter, DF
// set when the IPv4 packet exceeds 1260 bytes (RFC 7915 5.1); a UDP/IPv6 checksum of 0 (invalid)
// is refused. SCTP: ports rewritten, CRC32c recomputed.
// ICMP: echo request/reply <-> ICMPv6 echo; destination unreachable, time exceeded, parameter
// problem and packet too big mapped per RFC 7915 4.2/5.2 (MTU adjusted by 20, IPv4 MTU 0 ->
// RFC 1191 plateau); the mapping's "silently drop" cases and all other types return false.
// An ICMP error's own checksum is verified before translation (false when bad; the message is
// rebuilt, so a bad one would otherwise come out valid) and computed afresh; ICMP extensions
// (RFC 4884) are dropped; a translated ICMPv6 error is cut to 1280 bytes (RFC 4443 2.4).
// Returns false, leaving the mbuf untouched, for: multi-segment mbufs, fragments (IPv4 MF or
// offset, IPv6 fragment header; also as the embedded packet), any IPv6 extension header, IPv4
// with an unexpired source route option (RFC 7915 4.1), protocols other than TCP/UDP/SCTP/ICMP,
// truncated headers, a missing `inner` for an error, too little headroom. IPv4 options are
// dropped, not translated. No IPv6 fragment header is added for IPv4 packets without DF: the
// caller's MTU handling deals with size.
bool xlate_4to6(rte_mbuf* m, const endpoints& outer, const endpoints* inner) noexcept;
bool xlate_6to4(rte_mbuf* m, const endpoints& outer, const endpoints* inner) noexcept;

}  // namespace meshgate::dataplane::l4
