#include "dataplane/l4/nat_rewrite.hpp"

#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstring>
#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

#include "dataplane/icmp.hpp"
#include "dataplane/packet_parse.hpp"
#include "dataplane/wire.hpp"

namespace meshgate::dataplane::l4 {
namespace {

using namespace wire;

constexpr uint32_t ipv6_min_mtu = 1280;             // RFC 8200 5; also the ICMPv6 error size limit (RFC 4443 2.4)
constexpr uint32_t df_threshold = 1260;             // RFC 7915 5.1: larger translated IPv4 packets get DF
constexpr uint32_t xlate_error_head = 40 + 8 + 40;  // IPv6 + ICMPv6 + embedded IPv6 headers

// ---- One's-complement arithmetic ----------------------------------------------------------------

// The running difference of RFC 1624 eqn. 3 for several 16-bit words at once:
// HC' = ~(~HC + sum(~m) + sum(m')). Words are big-endian, as rd16 reads the checksum fields, so the
// result goes back with wr16. At most a few hundred words are ever summed: 32 bits cannot overflow.
struct csum_delta {
    uint32_t acc = 0;
    void remove(uint16_t w) noexcept { acc += static_cast<uint16_t>(~w); }
    void add(uint16_t w) noexcept { acc += w; }
    void remove(const uint8_t* p, unsigned n) noexcept {
        for (unsigned i = 0; i < n; i += 2) remove(rd16(p + i));
    }
    void add(const uint8_t* p, unsigned n) noexcept {
        for (unsigned i = 0; i < n; i += 2) add(rd16(p + i));
    }
    // The 32-bit length and the next header of an IPv6 pseudo-header (RFC 8200 8.1).
    void add_pseudo_tail(uint32_t len, uint8_t next) noexcept {
        add(static_cast<uint16_t>(len >> 16));
        add(static_cast<uint16_t>(len));
        add(next);
    }
    void remove_pseudo_tail(uint32_t len, uint8_t next) noexcept {
        remove(static_cast<uint16_t>(len >> 16));
        remove(static_cast<uint16_t>(len));
        remove(next);
    }
};

uint16_t apply(uint16_t cksum, const csum_delta& d) noexcept {
    uint32_t s = static_cast<uint16_t>(~cksum) + (d.acc & 0xffff) + (d.acc >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

// Writes a 16-bit field, recording the change in every checksum that covers it.
template <typename... D>
void set16(uint8_t* p, uint16_t v, D&... ds) noexcept {
    uint16_t old = rd16(p);
    (ds.remove(old), ...);
    (ds.add(v), ...);
    wr16(p, v);
}

// The same for n bytes (n even, p at an even offset of every checksummed range it is in).
template <typename... D>
void set_bytes(uint8_t* p, const uint8_t* v, unsigned n, D&... ds) noexcept {
    for (unsigned i = 0; i < n; i += 2) {
        uint16_t old = rd16(p + i), nw = rd16(v + i);
        (ds.remove(old), ...);
        (ds.add(nw), ...);
    }
    std::memcpy(p, v, n);
}

// UDP over IPv6 (RFC 8200 8.1) over n bytes whose checksum field is 0; stored as is (memcpy).
uint16_t udp6_checksum(const uint8_t* src, const uint8_t* dst, const uint8_t* udp, uint32_t n) noexcept {
    uint32_t sum = __rte_raw_cksum(src, 16, 0);
    sum = __rte_raw_cksum(dst, 16, sum);
    const uint8_t tail[8] = {static_cast<uint8_t>(n >> 24),
                             static_cast<uint8_t>(n >> 16),
                             static_cast<uint8_t>(n >> 8),
                             static_cast<uint8_t>(n),
                             0,
                             0,
                             0,
                             ip_proto::udp};
    sum = __rte_raw_cksum(tail, 8, sum);
    sum = __rte_raw_cksum(udp, n, sum);
    auto ck = static_cast<uint16_t>(~__rte_raw_cksum_reduce(sum));
    return ck == 0 ? 0xffff : ck;  // RFC 8200 8.1: a computed 0 is sent as all ones
}

// ---- SCTP CRC32c (RFC 9260 appendix A) -----------------------------------------------------------

#if defined(__SSE4_2__)
uint32_t crc32c(const uint8_t* p, uint32_t n, uint32_t crc) noexcept {
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);  // the instruction takes the bytes in memory order on little-endian x86
        crc = static_cast<uint32_t>(_mm_crc32_u64(crc, w));
    }
    for (; n > 0; --n, ++p) crc = _mm_crc32_u8(crc, *p);
    return crc;
}
#else
struct crc_table {
    uint32_t v[256];
};
constexpr crc_table make_crc32c_table() {
    crc_table t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ 0x82f63b78U : c >> 1;  // Castagnoli, reflected
        t.v[i] = c;
    }
    return t;
}
constexpr crc_table crc32c_table = make_crc32c_table();
uint32_t crc32c(const uint8_t* p, uint32_t n, uint32_t crc) noexcept {
    for (; n > 0; --n, ++p) crc = crc32c_table.v[(crc ^ *p) & 0xff] ^ (crc >> 8);
    return crc;
}
#endif

// The checksum covers the whole SCTP packet with its own field zeroed; the reflected CRC goes out
// least significant byte first.
void sctp_checksum(uint8_t* sctp, uint32_t len) noexcept {
    std::memset(sctp + 8, 0, 4);
    uint32_t c = ~crc32c(sctp, len, 0xffffffffU);
    sctp[8] = static_cast<uint8_t>(c);
    sctp[9] = static_cast<uint8_t>(c >> 8);
    sctp[10] = static_cast<uint8_t>(c >> 16);
    sctp[11] = static_cast<uint8_t>(c >> 24);
}

// ---- Same-family transport rewrite -----------------------------------------------------------------

bool is_echo4(uint8_t type) noexcept {
    return type == icmp4::echo_request || type == icmp4::echo_reply;
}
bool is_echo6(uint8_t type) noexcept {
    return type == icmp6::echo_request || type == icmp6::echo_reply;
}

// Eqn. 3 gives 0x0000 where the data sums to +0; a receiver (sum == 0xffff) then needs 0xffff.
// Only ICMPv4 (no pseudo-header) can have all-zero data: an echo reply with identifier, sequence
// and data 0. Checking that costs a pass over the message, so only when the result is 0. (A full
// recompute instead would turn a corrupt message valid.)
uint16_t icmp4_zero_fix(const uint8_t* msg, uint32_t len, uint16_t ck) noexcept {
    if (ck != 0 || msg[0] != 0 || msg[1] != 0) return ck;
    for (uint32_t i = 4; i < len; ++i)
        if (msg[i] != 0) return ck;
    return 0xffff;
}

// Ports (or echo identifier) and checksum of a whole transport header of len bytes; `addr` holds
// the address change, which is in the TCP, UDP and ICMPv6 pseudo-headers.
void rewrite_l4(uint8_t* l4, uint32_t len, uint8_t proto, bool v6, const csum_delta& addr,
                const endpoints& to) noexcept {
    switch (proto) {
        case ip_proto::tcp: {
            if (len < 4) return;
            csum_delta d = addr;
            set16(l4, to.sport, d);
            set16(l4 + 2, to.dport, d);
            if (len >= 18) wr16(l4 + 16, apply(rd16(l4 + 16), d));
            return;
        }
        case ip_proto::udp: {
            if (len < 4) return;
            csum_delta d = addr;
            set16(l4, to.sport, d);
            set16(l4 + 2, to.dport, d);
            if (len < 8) return;
            uint16_t ck = rd16(l4 + 6);
            if (ck == 0 && !v6) return;  // RFC 768: no checksum, and none is made up
            ck = apply(ck, d);
            wr16(l4 + 6, ck == 0 ? 0xffff : ck);  // 0 would read as "no checksum"
            return;
        }
        case ip_proto::sctp:
            if (len < 12) return;
            wr16(l4, to.sport);
            wr16(l4 + 2, to.dport);
            sctp_checksum(l4, len);
            return;
        case ip_proto::icmp: {
            if (v6 || len < 8 || !is_echo4(l4[0])) return;
            csum_delta d;  // ICMPv4 has no pseudo-header
            set16(l4 + 4, to.sport, d);
            wr16(l4 + 2, icmp4_zero_fix(l4, len, apply(rd16(l4 + 2), d)));
            return;
        }
        case ip_proto::icmpv6: {
            if (!v6 || len < 4) return;
            csum_delta d = addr;  // every ICMPv6 message sums the pseudo-header
            if (len >= 8 && is_echo6(l4[0])) set16(l4 + 4, to.sport, d);
            wr16(l4 + 2, apply(rd16(l4 + 2), d));
            return;
        }
        default:
            return;
    }
}

// ---- Locating the packet embedded in an ICMP error -------------------------------------------------

// Walks the IPv6 extension headers within `avail` bytes the way parse_packet() does (so that the
// transport header found is the one the session was made from): hop-by-hop, destination options,
// mobility, HIP, shim6, AH, and a first-fragment header when `fragment_ok`. A routing header stops
// it: the transport pseudo-header would hold its final destination, not the header's.
bool walk_ipv6(const uint8_t* ip, uint32_t avail, bool fragment_ok, uint8_t& proto, uint32_t& off) noexcept {
    uint8_t next = ip[6];
    off = 40;
    for (unsigned n = 0; n <= 8; ++n) {  // at most 8 extension headers, as the parser allows
        uint32_t hlen;
        if (next == ip_proto::hop_by_hop || next == ip_proto::ipv6_dest_opts || next == 135 /* mobility */ ||
            next == 139 /* HIP */ || next == 140 /* shim6 */) {
            if (off + 8 > avail) return false;
            hlen = (ip[off + 1] + 1U) * 8U;
        } else if (next == ip_proto::ah) {
            if (off + 8 > avail) return false;
            hlen = (ip[off + 1] + 2U) * 4U;  // RFC 4302 2.2
        } else if (next == ip_proto::ipv6_fragment) {
            if (!fragment_ok || off + 8 > avail) return false;
            if ((rd16(ip + off + 2) & 0xfff8) != 0) return false;  // a later fragment: no transport header
            hlen = 8;
        } else if (next == ip_proto::ipv6_routing) {
            return false;
        } else {
            proto = next;
            return true;
        }
        if (off + hlen > avail) return false;
        next = ip[off];
        off += hlen;
    }
    return false;
}

// Whether the quoted transport header shows what the session is keyed on: TCP/UDP/SCTP ports, an
// ICMP echo identifier. Protocols without ports pass unless `ports_required`.
bool embedded_l4_ok(const uint8_t* l4, uint32_t avail, uint8_t proto, bool v6, bool ports_required) noexcept {
    switch (proto) {
        case ip_proto::tcp:
        case ip_proto::udp:
        case ip_proto::sctp:
            return avail >= 4;
        case ip_proto::icmp:
            if (v6) return !ports_required;  // ICMPv4 inside IPv6 is just some protocol
            return avail >= 6 && is_echo4(l4[0]);
        case ip_proto::icmpv6:
            if (!v6) return !ports_required;
            return avail >= 6 && is_echo6(l4[0]);
        default:
            return !ports_required;
    }
}

// The ICMP of the embedded packet's own family, whose echo identifier stands for a port.
bool family_icmp(uint8_t proto, bool v6) noexcept {
    return proto == (v6 ? ip_proto::icmpv6 : ip_proto::icmp);
}

// Offsets from the outer IP header of an ICMP error about some flow.
struct located_error {
    uint32_t icmp_off;     // the ICMP header
    uint32_t icmp_len;     // the ICMP message, to the end of the outer IP packet
    uint32_t in_off;       // the embedded IP header
    uint32_t in_l4_off;    // the embedded transport header
    uint32_t in_l4_avail;  // quoted bytes from there on
    uint8_t in_proto;
};

bool locate_error4(const uint8_t* ip, uint32_t len, located_error& e) noexcept {
    if (len < 20 || (ip[0] >> 4) != 4) return false;
    uint32_t ihl = (ip[0] & 0x0fU) * 4U;
    uint32_t total = rd16(ip + 2);
    if (ihl < 20 || total < ihl || total > len) return false;
    if ((rd16(ip + 6) & 0x3fff) != 0 || ip[9] != ip_proto::icmp) return false;
    const uint8_t* icmp = ip + ihl;
    uint32_t icmp_len = total - ihl;
    if (icmp_len < 8 + 20) return false;
    if (icmp[0] != icmp4::dest_unreachable && icmp[0] != icmp4::time_exceeded && icmp[0] != 12 /* param problem */)
        return false;
    const uint8_t* in = icmp + 8;
    uint32_t quote = icmp_len - 8;
    if ((in[0] >> 4) != 4) return false;
    uint32_t iihl = (in[0] & 0x0fU) * 4U;
    if (iihl < 20 || iihl > quote) return false;
    if ((rd16(in + 6) & 0x1fff) != 0) return false;  // a later fragment: no transport header
    e = located_error{ihl, icmp_len, ihl + 8, ihl + 8 + iihl, quote - iihl, in[9]};
    return embedded_l4_ok(ip + e.in_l4_off, e.in_l4_avail, e.in_proto, false, false);
}

bool locate_error6(const uint8_t* ip, uint32_t len, located_error& e) noexcept {
    if (len < 40 || (ip[0] >> 4) != 6) return false;
    uint32_t total = 40U + rd16(ip + 4);
    if (total > len) return false;
    uint8_t proto = 0;
    uint32_t off = 0;
    if (!walk_ipv6(ip, total, false, proto, off) || proto != ip_proto::icmpv6) return false;
    const uint8_t* icmp = ip + off;
    uint32_t icmp_len = total - off;
    if (icmp_len < 8 + 40) return false;
    if (icmp[0] < icmp6::dest_unreachable || icmp[0] > 4 /* parameter problem */) return false;
    const uint8_t* in = icmp + 8;
    uint32_t quote = icmp_len - 8;
    if ((in[0] >> 4) != 6) return false;
    uint8_t iproto = 0;
    uint32_t ioff = 0;
    if (!walk_ipv6(in, quote, true, iproto, ioff)) return false;
    e = located_error{off, icmp_len, off + 8, off + 8 + ioff, quote - ioff, iproto};
    return embedded_l4_ok(ip + e.in_l4_off, e.in_l4_avail, e.in_proto, true, false);
}

// Rewrites the embedded packet's addresses and ports in place, fixing its IPv4 header checksum and
// its transport checksum as far as quoted; every changed word is recorded in `msg`, the delta of
// the enclosing ICMP message.
void rewrite_embedded(uint8_t* ip, const located_error& e, bool v6, const endpoints& to, csum_delta& msg) noexcept {
    uint8_t* in = ip + e.in_off;
    uint8_t* l4 = ip + e.in_l4_off;
    uint32_t avail = e.in_l4_avail;
    csum_delta addr;  // embedded IPv4 header and transport pseudo-header alike
    unsigned alen = v6 ? 16 : 4;
    set_bytes(in + (v6 ? 8 : 12), to.src, alen, addr, msg);
    set_bytes(in + (v6 ? 24 : 16), to.dst, alen, addr, msg);
    if (!v6) set16(in + 10, apply(rd16(in + 10), addr), msg);
    switch (e.in_proto) {
        case ip_proto::tcp: {
            csum_delta d = addr;
            set16(l4, to.sport, d, msg);
            set16(l4 + 2, to.dport, d, msg);
            if (avail >= 18) set16(l4 + 16, apply(rd16(l4 + 16), d), msg);
            return;
        }
        case ip_proto::udp: {
            csum_delta d = addr;
            set16(l4, to.sport, d, msg);
            set16(l4 + 2, to.dport, d, msg);
            if (avail < 8) return;
            uint16_t ck = rd16(l4 + 6);
            if (ck == 0 && !v6) return;
            ck = apply(ck, d);
            set16(l4 + 6, ck == 0 ? 0xffff : ck, msg);
            return;
        }
        case ip_proto::sctp:  // the CRC covers the whole packet, which the quote is not
            set16(l4, to.sport, msg);
            set16(l4 + 2, to.dport, msg);
            return;
        case ip_proto::icmp:
        case ip_proto::icmpv6: {
            if (!family_icmp(e.in_proto, v6)) return;
            csum_delta d;
            if (v6) d = addr;  // only ICMPv6 sums the pseudo-header
            set16(l4 + 4, to.sport, d, msg);
            uint16_t ck = apply(rd16(l4 + 2), d);
            set16(l4 + 2, v6 ? ck : icmp4_zero_fix(l4, avail, ck), msg);
            return;
        }
        default:
            return;
    }
}

void extract_embedded(const uint8_t* ip, const located_error& e, bool v6, embedded_flow& out) noexcept {
    const uint8_t* in = ip + e.in_off;
    const uint8_t* l4 = ip + e.in_l4_off;
    std::memset(&out, 0, sizeof out);
    out.proto = e.in_proto;
    unsigned alen = v6 ? 16 : 4;
    std::memcpy(out.src, in + (v6 ? 8 : 12), alen);
    std::memcpy(out.dst, in + (v6 ? 24 : 16), alen);
    switch (e.in_proto) {
        case ip_proto::tcp:
        case ip_proto::udp:
        case ip_proto::sctp:
            out.sport = rd16(l4);
            out.dport = rd16(l4 + 2);
            return;
        case ip_proto::icmp:
        case ip_proto::icmpv6:
            if (family_icmp(e.in_proto, v6)) out.sport = rd16(l4 + 4);
            return;
        default:
            return;
    }
}

// ---- Translation helpers (RFC 7915) ----------------------------------------------------------------

thread_local uint16_t ipv4_id_counter = 0;

void put_ipv6_header(uint8_t* h, uint8_t tclass, uint32_t payload, uint8_t next, uint8_t hops, const uint8_t* src,
                     const uint8_t* dst) noexcept {
    wr32(h, 0x60000000U | static_cast<uint32_t>(tclass) << 20);  // flow label 0 (RFC 7915 4.1)
    wr16(h + 4, static_cast<uint16_t>(payload));
    h[6] = next;
    h[7] = hops;
    std::memcpy(h + 8, src, 16);
    std::memcpy(h + 24, dst, 16);
}

// RFC 7915 5.1. `fresh_id`: a packet that may be fragmented on the IPv4 side needs an identification;
// the header rebuilt inside an ICMP error only reconstructs what the IPv4 host sent and gets 0.
void put_ipv4_header(uint8_t* h, uint8_t tos, uint32_t total, uint8_t proto, uint8_t ttl, const uint8_t* src,
                     const uint8_t* dst, bool fresh_id) noexcept {
    bool df = total > df_threshold;
    h[0] = 0x45;
    h[1] = tos;
    wr16(h + 2, static_cast<uint16_t>(total));
    wr16(h + 4, df || !fresh_id ? uint16_t{0} : ++ipv4_id_counter);  // DF set: atomic, the ID means nothing (RFC 6864)
    wr16(h + 6, df ? 0x4000 : 0);
    h[8] = ttl;
    h[9] = proto;
    wr16(h + 10, 0);
    std::memcpy(h + 12, src, 4);
    std::memcpy(h + 16, dst, 4);
    uint16_t ck = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(h));  // packed struct: any alignment
    std::memcpy(h + 10, &ck, 2);
}

uint8_t ipv6_tclass(const uint8_t* ip) noexcept {
    return static_cast<uint8_t>(rd16(ip) >> 4);
}

// RFC 7915 4.1: an unexpired source route must not be translated; malformed options are refused too.
bool source_route_pending(const uint8_t* ip, uint32_t ihl) noexcept {
    for (uint32_t i = 20; i < ihl;) {
        uint8_t type = ip[i];
        if (type == 0) return false;  // end of option list
        if (type == 1) {              // no operation
            ++i;
            continue;
        }
        if (i + 2 > ihl) return true;
        uint32_t olen = ip[i + 1];
        if (olen < 2 || i + olen > ihl) return true;
        if ((type == 131 || type == 137) && olen >= 3 && ip[i + 2] <= olen) return true;  // LSRR/SSRR, pointer inside
        i += olen;
    }
    return false;
}

// Ports (or echo type and identifier) and checksum of a transport header crossing families, avail
// bytes of it present. The pseudo-header addresses change from old_src/old_dst to `to`'s; `ulen` is
// the upper-layer length the ICMPv6 pseudo-header holds. `quoted`: inside an ICMP error, where the
// checksum is only adjusted as far as present and a UDP checksum of 0 cannot be computed.
void xlate_l4(uint8_t* l4, uint32_t avail, uint8_t proto, bool to_v6, const uint8_t* old_src, const uint8_t* old_dst,
              const endpoints& to, uint32_t ulen, bool quoted) noexcept {
    unsigned old_alen = to_v6 ? 4 : 16, new_alen = to_v6 ? 16 : 4;
    csum_delta d;
    switch (proto) {
        case ip_proto::tcp:
        case ip_proto::udp: {
            d.remove(old_src, old_alen);
            d.remove(old_dst, old_alen);
            d.add(to.src, new_alen);
            d.add(to.dst, new_alen);
            set16(l4, to.sport, d);
            set16(l4 + 2, to.dport, d);
            if (proto == ip_proto::tcp) {
                if (avail >= 18) wr16(l4 + 16, apply(rd16(l4 + 16), d));
                return;
            }
            if (avail < 8) return;
            uint16_t ck = rd16(l4 + 6);
            if (ck != 0) {
                ck = apply(ck, d);
                wr16(l4 + 6, ck == 0 ? 0xffff : ck);
            } else if (to_v6 && !quoted) {
                // RFC 7915 4.5: IPv6 requires the checksum the IPv4 sender left out.
                uint16_t full = udp6_checksum(to.src, to.dst, l4, rd16(l4 + 4));
                std::memcpy(l4 + 6, &full, 2);
            }
            return;
        }
        case ip_proto::sctp:  // no pseudo-header; a quoted packet is not whole, so its CRC is left
            wr16(l4, to.sport);
            wr16(l4 + 2, to.dport);
            if (!quoted) sctp_checksum(l4, avail);
            return;
        case ip_proto::icmp:
        case ip_proto::icmpv6: {  // echo only (checked by the caller)
            uint8_t type;
            if (to_v6)
                type = l4[0] == icmp4::echo_request ? icmp6::echo_request : icmp6::echo_reply;
            else
                type = l4[0] == icmp6::echo_request ? icmp4::echo_request : icmp4::echo_reply;
            set16(l4, static_cast<uint16_t>(type << 8 | l4[1]), d);
            set16(l4 + 4, to.sport, d);
            // ICMPv6 sums a pseudo-header, ICMPv4 none: add it going to IPv6, take it out coming back.
            if (to_v6) {
                d.add(to.src, 16);
                d.add(to.dst, 16);
                d.add_pseudo_tail(ulen, ip_proto::icmpv6);
            } else {
                d.remove(old_src, 16);
                d.remove(old_dst, 16);
                d.remove_pseudo_tail(ulen, ip_proto::icmpv6);
            }
            uint16_t ck = apply(rd16(l4 + 2), d);
            wr16(l4 + 2, to_v6 ? ck : icmp4_zero_fix(l4, avail, ck));
            return;
        }
        default:
            return;
    }
}

// Transport headers the translators take, with the fields they touch present.
bool l4_translatable(const uint8_t* l4, uint32_t len, uint8_t proto) noexcept {
    switch (proto) {
        case ip_proto::tcp:
            return len >= 20;
        case ip_proto::udp:
            return len >= 8 && rd16(l4 + 4) >= 8 && rd16(l4 + 4) <= len;
        case ip_proto::sctp:
            return len >= 12;
        default:
            return false;
    }
}

// RFC 1191 7.1 plateaus, for routers that send frag-needed without an MTU.
constexpr uint16_t mtu_plateaus[] = {65535, 32000, 17914, 8166, 4352, 2002, 1492};

// RFC 7915 4.2: the next-hop MTU of a frag-needed, as an IPv6 MTU. Without one, the greatest
// plateau below the quoted packet's length, not below the IPv6 minimum.
uint32_t ptb_mtu_4to6(uint16_t mtu, uint32_t quoted_total) noexcept {
    if (mtu != 0) return mtu + 20U;
    for (uint16_t p : mtu_plateaus)
        if (p < quoted_total) return p + 20U;
    return ipv6_min_mtu;
}

// RFC 7915 figure 3: ICMPv4 parameter problem pointer to the ICMPv6 one; -1: none ("n/a").
int pointer_4to6(uint8_t p) noexcept {
    if (p <= 1) return p;  // version/IHL -> version/traffic class, TOS -> traffic class/flow label
    if (p <= 3) return 4;  // total length -> payload length
    if (p == 8) return 7;  // TTL -> hop limit
    if (p == 9) return 6;  // protocol -> next header
    if (p >= 12 && p <= 15) return 8;
    if (p >= 16 && p <= 19) return 24;
    return -1;  // identification, flags, fragment offset, header checksum, options
}

// RFC 7915 figure 6, the other way.
int pointer_6to4(uint32_t p) noexcept {
    if (p <= 1) return static_cast<int>(p);
    if (p == 4 || p == 5) return 2;
    if (p == 6) return 9;
    if (p == 7) return 8;
    if (p >= 8 && p <= 23) return 12;
    if (p >= 24 && p <= 39) return 16;
    return -1;  // flow label
}

// RFC 7915 4.2: the ICMPv6 header (type, code, checksum 0, 4 bytes) for an ICMPv4 error; false
// where the RFC says to drop silently.
bool map_error_4to6(const uint8_t* icmp, uint32_t quoted_total, uint8_t* out) noexcept {
    uint8_t type, code = 0;
    uint32_t rest = 0;
    switch (icmp[0]) {
        case icmp4::dest_unreachable:
            type = icmp6::dest_unreachable;
            switch (icmp[1]) {
                case 0:   // net
                case 1:   // host
                case 5:   // source route failed
                case 6:   // destination network unknown
                case 7:   // destination host unknown
                case 8:   // source host isolated
                case 11:  // network unreachable for TOS
                case 12:  // host unreachable for TOS
                    code = icmp6::code_no_route;
                    break;
                case 9:        // network administratively prohibited
                case 10:       // host administratively prohibited
                case 13:       // communication administratively prohibited
                case 15:       // precedence cutoff
                    code = 1;  // administratively prohibited
                    break;
                case icmp4::code_port_unreachable:
                    code = icmp6::code_port_unreachable;
                    break;
                case 2:  // protocol unreachable: parameter problem pointing at the next header
                    type = 4;
                    code = 1;
                    rest = 6;
                    break;
                case icmp4::code_frag_needed:
                    type = icmp6::packet_too_big;
                    rest = ptb_mtu_4to6(rd16(icmp + 6), quoted_total);
                    break;
                default:  // 14 (host precedence violation) and unassigned codes
                    return false;
            }
            break;
        case icmp4::time_exceeded:
            type = icmp6::time_exceeded;
            code = icmp[1];
            break;
        case 12: {  // parameter problem: pointer (0) and bad length (2) carry a pointer
            if (icmp[1] != 0 && icmp[1] != 2) return false;
            int p = pointer_4to6(icmp[4]);
            if (p < 0) return false;
            type = 4;
            rest = static_cast<uint32_t>(p);
            break;
        }
        default:
            return false;
    }
    out[0] = type;
    out[1] = code;
    wr16(out + 2, 0);
    wr32(out + 4, rest);
    return true;
}

// RFC 7915 5.2: the ICMPv4 header for an ICMPv6 error.
bool map_error_6to4(const uint8_t* icmp, uint8_t* out) noexcept {
    uint8_t type, code;
    uint32_t rest = 0;
    switch (icmp[0]) {
        case icmp6::dest_unreachable:
            type = icmp4::dest_unreachable;
            switch (icmp[1]) {
                case icmp6::code_no_route:
                case icmp6::code_beyond_scope:
                case icmp6::code_addr_unreachable:
                    code = icmp4::code_host_unreachable;
                    break;
                case 1:  // administratively prohibited
                    code = 10;
                    break;
                case icmp6::code_port_unreachable:
                    code = icmp4::code_port_unreachable;
                    break;
                default:
                    return false;
            }
            break;
        case icmp6::packet_too_big: {
            type = icmp4::dest_unreachable;
            code = icmp4::code_frag_needed;
            uint32_t mtu = rd32(icmp + 4);
            mtu = mtu > 20 ? mtu - 20 : 0;
            rest = mtu > 0xffff ? 0xffff : mtu;  // RFC 1191: the low 16 bits
            break;
        }
        case icmp6::time_exceeded:
            type = icmp4::time_exceeded;
            code = icmp[1];
            break;
        case 4:  // parameter problem
            if (icmp[1] == 0) {
                int p = pointer_6to4(rd32(icmp + 4));
                if (p < 0) return false;
                type = 12;
                code = 0;
                rest = static_cast<uint32_t>(p) << 24;
            } else if (icmp[1] == 1) {  // unrecognized next header: protocol unreachable
                type = icmp4::dest_unreachable;
                code = 2;
            } else {
                return false;
            }
            break;
        default:
            return false;
    }
    out[0] = type;
    out[1] = code;
    wr16(out + 2, 0);
    wr32(out + 4, rest);
    return true;
}

bool single_segment(const rte_mbuf* m) noexcept {
    return m != nullptr && m->nb_segs == 1 && m->next == nullptr && m->pkt_len == m->data_len;
}

// Replaces the first old_head bytes of the mbuf's data with new_head bytes from `head` and drops
// everything past `end` (counted from the current start). The bytes between stay where they are.
void replace_head(rte_mbuf* m, uint32_t end, uint32_t old_head, const uint8_t* head, uint32_t new_head) noexcept {
    if (m->data_len > end) rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - end));
    if (new_head > old_head)
        rte_pktmbuf_prepend(m, static_cast<uint16_t>(new_head - old_head));
    else if (old_head > new_head)
        rte_pktmbuf_adj(m, static_cast<uint16_t>(old_head - new_head));
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), head, new_head);
}

// An ICMPv4 error (3, 11, 12) at ip + ihl, rebuilt as ICMPv6 with its embedded packet translated.
bool xlate_error_4to6(rte_mbuf* m, uint8_t* ip, uint32_t ihl, uint32_t total, const endpoints& outer,
                      const endpoints* inner) noexcept {
    uint8_t* icmp = ip + ihl;
    uint32_t icmp_len = total - ihl;
    if (icmp[0] != icmp4::dest_unreachable && icmp[0] != icmp4::time_exceeded && icmp[0] != 12) return false;
    if (inner == nullptr) return false;
    if (icmp4_checksum(icmp, icmp_len) != 0) return false;
    uint32_t quote = icmp_len - 8;
    // RFC 4884: a length attribute means extensions follow the quoted datagram; they are dropped.
    if (icmp[5] != 0 && icmp[5] * 4U <= quote) quote = icmp[5] * 4U;
    uint8_t* in = icmp + 8;
    if (quote < 20 || (in[0] >> 4) != 4) return false;
    uint32_t iihl = (in[0] & 0x0fU) * 4U;
    uint32_t itotal = rd16(in + 2);
    if (iihl < 20 || iihl > quote || itotal < iihl) return false;
    if ((rd16(in + 6) & 0x3fff) != 0) return false;  // a fragment would need a fragment header
    uint8_t iproto = in[9];
    uint8_t* il4 = in + iihl;
    uint32_t iavail = quote - iihl;
    if (!embedded_l4_ok(il4, iavail, iproto, false, true)) return false;
    uint8_t head[xlate_error_head];
    if (!map_error_4to6(icmp, itotal, head + 40)) return false;
    uint32_t keep = iavail < ipv6_min_mtu - xlate_error_head ? iavail : ipv6_min_mtu - xlate_error_head;
    uint32_t old_head = ihl + 8 + iihl;
    if (xlate_error_head > old_head && rte_pktmbuf_headroom(m) < xlate_error_head - old_head) return false;

    // Nothing fails from here on.
    put_ipv6_header(head, ip[1], 8 + 40 + keep, ip_proto::icmpv6, ip[8], outer.src, outer.dst);
    uint8_t inext = iproto == ip_proto::icmp ? ip_proto::icmpv6 : iproto;
    put_ipv6_header(head + 48, in[1], itotal - iihl, inext, in[8], inner->src, inner->dst);
    xlate_l4(il4, iavail, iproto, true, in + 12, in + 16, *inner, itotal - iihl, true);
    replace_head(m, old_head + keep, old_head, head, xlate_error_head);
    uint8_t* p = rte_pktmbuf_mtod(m, uint8_t*);
    uint16_t ck = icmp6_checksum(p + 8, p + 24, p + 40, 48 + keep);
    std::memcpy(p + 42, &ck, 2);
    return true;
}

// An ICMPv6 error (1-4) at ip + 40, rebuilt as ICMPv4 with its embedded packet translated.
bool xlate_error_6to4(rte_mbuf* m, uint8_t* ip, uint32_t total, const endpoints& outer,
                      const endpoints* inner) noexcept {
    if (inner == nullptr) return false;
    uint8_t* icmp = ip + 40;
    uint32_t icmp_len = total - 40;
    if (icmp6_checksum(ip + 8, ip + 24, icmp, icmp_len) != 0) return false;
    uint32_t quote = icmp_len - 8;
    // RFC 4884 length attribute (64-bit words) of destination unreachable and time exceeded.
    if ((icmp[0] == icmp6::dest_unreachable || icmp[0] == icmp6::time_exceeded) && icmp[4] != 0 &&
        icmp[4] * 8U <= quote)
        quote = icmp[4] * 8U;
    uint8_t* in = icmp + 8;
    if (quote < 40 || (in[0] >> 4) != 6) return false;
    uint32_t iplen = rd16(in + 4);
    if (20 + iplen > 0xffff) return false;
    uint8_t iproto = in[6];  // an extension header is refused here like any unknown protocol
    uint8_t* il4 = in + 40;
    uint32_t iavail = quote - 40;
    if (!embedded_l4_ok(il4, iavail, iproto, true, true)) return false;
    alignas(4) uint8_t head[20 + 8 + 20];
    if (!map_error_6to4(icmp, head + 20)) return false;

    // Nothing fails from here on.
    uint8_t iprot4 = iproto == ip_proto::icmpv6 ? ip_proto::icmp : iproto;
    put_ipv4_header(head + 28, ipv6_tclass(in), 20 + iplen, iprot4, in[7], inner->src, inner->dst, false);
    xlate_l4(il4, iavail, iproto, false, in + 8, in + 24, *inner, iplen, true);
    put_ipv4_header(head, ipv6_tclass(ip), 48 + iavail, ip_proto::icmp, ip[7], outer.src, outer.dst, true);
    replace_head(m, xlate_error_head + iavail, xlate_error_head, head, 48);
    uint8_t* msg = rte_pktmbuf_mtod(m, uint8_t*) + 20;
    uint16_t ck = icmp4_checksum(msg, 28 + iavail);
    std::memcpy(msg + 2, &ck, 2);
    return true;
}

}  // namespace

void rewrite4(uint8_t* ip, uint16_t l4_off, uint16_t l4_len, uint8_t proto, bool has_l4, const endpoints& to) noexcept {
    csum_delta addr;  // the address words: IPv4 header and pseudo-header alike
    set_bytes(ip + 12, to.src, 4, addr);
    set_bytes(ip + 16, to.dst, 4, addr);
    wr16(ip + 10, apply(rd16(ip + 10), addr));
    if (has_l4) rewrite_l4(ip + l4_off, l4_len, proto, false, addr, to);
}

void rewrite6(uint8_t* ip, uint16_t l4_off, uint16_t l4_len, uint8_t proto, bool has_l4, const endpoints& to) noexcept {
    csum_delta addr;
    set_bytes(ip + 8, to.src, 16, addr);
    set_bytes(ip + 24, to.dst, 16, addr);
    if (has_l4) rewrite_l4(ip + l4_off, l4_len, proto, true, addr, to);
}

bool rewrite_icmp_error4(uint8_t* ip, uint32_t len, const uint8_t* outer_src, const uint8_t* outer_dst,
                         const endpoints& inner) noexcept {
    located_error e;
    if (!locate_error4(ip, len, e)) return false;
    csum_delta hdr;
    if (outer_src != nullptr) set_bytes(ip + 12, outer_src, 4, hdr);
    set_bytes(ip + 16, outer_dst, 4, hdr);
    wr16(ip + 10, apply(rd16(ip + 10), hdr));
    csum_delta msg;  // ICMPv4: the message only, no pseudo-header
    rewrite_embedded(ip, e, false, inner, msg);
    uint8_t* icmp = ip + e.icmp_off;
    wr16(icmp + 2, apply(rd16(icmp + 2), msg));
    return true;
}

bool rewrite_icmp_error6(uint8_t* ip, uint32_t len, const uint8_t* outer_src, const uint8_t* outer_dst,
                         const endpoints& inner) noexcept {
    located_error e;
    if (!locate_error6(ip, len, e)) return false;
    csum_delta msg;  // ICMPv6: the message and the pseudo-header's addresses
    if (outer_src != nullptr) set_bytes(ip + 8, outer_src, 16, msg);
    set_bytes(ip + 24, outer_dst, 16, msg);
    rewrite_embedded(ip, e, true, inner, msg);
    uint8_t* icmp = ip + e.icmp_off;
    wr16(icmp + 2, apply(rd16(icmp + 2), msg));
    return true;
}

bool icmp_error_embedded4(const uint8_t* ip, uint32_t len, embedded_flow& out) noexcept {
    located_error e;
    if (!locate_error4(ip, len, e)) return false;
    extract_embedded(ip, e, false, out);
    return true;
}

bool icmp_error_embedded6(const uint8_t* ip, uint32_t len, embedded_flow& out) noexcept {
    located_error e;
    if (!locate_error6(ip, len, e)) return false;
    extract_embedded(ip, e, true, out);
    return true;
}

bool xlate_4to6(rte_mbuf* m, const endpoints& outer, const endpoints* inner) noexcept {
    if (!single_segment(m)) return false;
    uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*);
    uint32_t len = m->data_len;
    if (len < 20 || (ip[0] >> 4) != 4) return false;
    uint32_t ihl = (ip[0] & 0x0fU) * 4U;
    uint32_t total = rd16(ip + 2);
    if (ihl < 20 || total < ihl || total > len) return false;
    if ((rd16(ip + 6) & 0x3fff) != 0) return false;  // fragments are not translated (documented limit)
    if (source_route_pending(ip, ihl)) return false;
    uint8_t proto = ip[9];
    uint8_t* l4 = ip + ihl;
    uint32_t l4_len = total - ihl;
    if (proto == ip_proto::icmp) {
        if (l4_len < 8) return false;
        if (!is_echo4(l4[0])) return xlate_error_4to6(m, ip, ihl, total, outer, inner);
    } else if (!l4_translatable(l4, l4_len, proto)) {
        return false;
    }
    if (ihl < 40 && rte_pktmbuf_headroom(m) < 40 - ihl) return false;

    // Nothing fails from here on.
    uint8_t head[40];
    put_ipv6_header(head, ip[1], l4_len, proto == ip_proto::icmp ? ip_proto::icmpv6 : proto, ip[8], outer.src,
                    outer.dst);
    xlate_l4(l4, l4_len, proto, true, ip + 12, ip + 16, outer, l4_len, false);
    replace_head(m, total, ihl, head, 40);
    return true;
}

bool xlate_6to4(rte_mbuf* m, const endpoints& outer, const endpoints* inner) noexcept {
    if (!single_segment(m)) return false;
    uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*);
    uint32_t len = m->data_len;
    if (len < 40 || (ip[0] >> 4) != 6) return false;
    uint32_t plen = rd16(ip + 4);
    uint32_t total = 40 + plen;
    if (total > len || 20 + plen > 0xffff) return false;
    uint8_t proto = ip[6];  // any extension header lands in the default case: refused
    uint8_t* l4 = ip + 40;
    if (proto == ip_proto::icmpv6) {
        if (plen < 8) return false;
        if (!is_echo6(l4[0])) {
            if (l4[0] < icmp6::dest_unreachable || l4[0] > 4) return false;  // informational other than echo
            return xlate_error_6to4(m, ip, total, outer, inner);
        }
    } else if (!l4_translatable(l4, plen, proto)) {
        return false;
    } else if (proto == ip_proto::udp && rd16(l4 + 6) == 0) {
        return false;  // RFC 8200 8.1: an IPv6 host discards it; no checksum is made up for it
    }

    // Nothing fails from here on.
    alignas(4) uint8_t head[20];
    put_ipv4_header(head, ipv6_tclass(ip), 20 + plen, proto == ip_proto::icmpv6 ? ip_proto::icmp : proto, ip[7],
                    outer.src, outer.dst, true);
    xlate_l4(l4, plen, proto, false, ip + 8, ip + 24, outer, plen, false);
    replace_head(m, total, 40, head, 20);
    return true;
}

}  // namespace meshgate::dataplane::l4
