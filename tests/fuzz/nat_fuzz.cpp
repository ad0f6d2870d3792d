// libFuzzer target: NAT rewriting and RFC 7915 translation (dataplane/l4/nat_rewrite) on arbitrary
// IP packets. Byte 0 picks the family (bit 0), the function (bits 1-2: rewrite, ICMP error rewrite,
// translation, translation there and back) and the new endpoints (bits 3-5); bit 6 recomputes the
// packet's checksums first (else mutations would hardly ever get past the ICMP error checksum the
// translators verify), bit 7 leaves only 16 bytes of headroom. The rest is the packet, used only
// when parse_ip() accepts it, as the data plane would. Checks: no access outside the packet (ASan: the packet sits in
// an exact-size heap buffer, the translators' mbuf is a hand-made one over such a buffer), the result re-parses,
// carries the requested addresses and ports, and every checksum that verified still verifies; the
// incremental updates must not make a bad checksum good either.
#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dataplane/l4/nat_rewrite.hpp"
#include "dataplane/packet_parse.hpp"

using namespace meshgate::dataplane;
using namespace meshgate::dataplane::l4;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

uint16_t get16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// Folded one's-complement sum, byte by byte (independent of the code under test).
uint32_t sum_bytes(const uint8_t* p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2 != 0) sum += static_cast<uint32_t>(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

uint32_t pseudo(const uint8_t* ip, bool v6, uint8_t proto, uint32_t len) {
    uint32_t sum = sum_bytes(ip + (v6 ? 8 : 12), v6 ? 32 : 8);
    return sum + (len >> 16) + (len & 0xffff) + proto;
}

uint32_t crc32c(const uint8_t* p, size_t n) {
    uint32_t crc = 0xffffffff;
    for (size_t i = 0; i < n; ++i) {
        crc ^= (i >= 8 && i < 12) ? 0 : p[i];  // the checksum field counts as zero
        for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
    }
    return ~crc;
}

// What a receiver sees of a transport checksum: valid (sum all ones), or invalid but congruent to
// valid (+0: all-zero data with checksum 0), or plainly wrong. The incremental updates keep the
// congruence class; a receiver accepts only the first.
enum class ck { valid, zero_class, wrong, none };

ck classify(uint32_t folded) {
    if (folded == 0xffff) return ck::valid;
    return folded == 0 ? ck::zero_class : ck::wrong;
}

// The transport checksum of a whole (unfragmented) packet the parser accepted.
ck l4_checksum(const uint8_t* ip, const packet_info& info) {
    if (!info.has_l4 || info.is_fragment) return ck::none;
    bool v6 = info.l3 == l3_kind::ipv6;
    const uint8_t* l4 = ip + info.l4_offset;
    uint32_t n = info.ip_total - info.l4_offset;
    switch (info.l4_proto) {
        case ip_proto::tcp:
            return classify(sum_bytes(l4, n, pseudo(ip, v6, ip_proto::tcp, n)));
        case ip_proto::udp: {
            uint16_t ulen = get16(l4 + 4);
            if (!v6 && get16(l4 + 6) == 0) return ck::none;
            return classify(sum_bytes(l4, ulen, pseudo(ip, v6, ip_proto::udp, ulen)));
        }
        case ip_proto::icmp:
            return v6 ? ck::none : classify(sum_bytes(l4, n));
        case ip_proto::icmpv6:
            return v6 ? classify(sum_bytes(l4, n, pseudo(ip, true, ip_proto::icmpv6, n))) : ck::none;
        case ip_proto::sctp: {
            uint32_t c = crc32c(l4, n);
            bool ok = l4[8] == static_cast<uint8_t>(c) && l4[9] == static_cast<uint8_t>(c >> 8) &&
                      l4[10] == static_cast<uint8_t>(c >> 16) && l4[11] == static_cast<uint8_t>(c >> 24);
            return ok ? ck::valid : ck::wrong;
        }
        default:
            return ck::none;
    }
}

// Incrementally updated checksums keep their class exactly; at least valid stays valid.
void check_kept(ck before, ck after) {
    if (before == ck::none) return;
    if (before == ck::valid) check(after == ck::valid);
    if (before == ck::wrong) check(after == ck::wrong);
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

// Makes the transport checksum of n bytes at l4 right (for the fuzzer's fix-up bit).
void fix_l4(const uint8_t* ip, bool v6, uint8_t proto, uint8_t* l4, uint32_t n) {
    switch (proto) {
        case ip_proto::tcp:
            if (n < 18) return;
            put16(l4 + 16, 0);
            put16(l4 + 16, static_cast<uint16_t>(~sum_bytes(l4, n, pseudo(ip, v6, proto, n))));
            return;
        case ip_proto::udp: {
            uint32_t ulen = n >= 8 ? get16(l4 + 4) : 0;
            if (ulen < 8 || ulen > n) return;
            put16(l4 + 6, 0);
            auto c = static_cast<uint16_t>(~sum_bytes(l4, ulen, pseudo(ip, v6, proto, ulen)));
            put16(l4 + 6, c == 0 ? 0xffff : c);
            return;
        }
        case ip_proto::icmp:
        case ip_proto::icmpv6:
            if (n < 4) return;
            put16(l4 + 2, 0);
            put16(l4 + 2, static_cast<uint16_t>(~sum_bytes(l4, n, v6 ? pseudo(ip, true, ip_proto::icmpv6, n) : 0)));
            return;
        case ip_proto::sctp: {
            if (n < 12) return;
            uint32_t c = crc32c(l4, n);
            for (int i = 0; i < 4; ++i) l4[8 + i] = static_cast<uint8_t>(c >> (8 * i));
            return;
        }
        default:
            return;
    }
}

void fix_ipv4_header(uint8_t* ip, uint32_t ihl) {
    put16(ip + 10, 0);
    put16(ip + 10, static_cast<uint16_t>(~sum_bytes(ip, ihl)));
}

// Recomputes what checksums it can find: the IPv4 header, an ICMP error's embedded IPv4 header
// (before the ICMP checksum that covers it), the transport checksum. No extension-header walk.
void fix_checksums(std::vector<uint8_t>& p, bool v6) {
    uint8_t* ip = p.data();
    auto size = static_cast<uint32_t>(p.size());
    if (v6) {
        if (size < 40 || (ip[0] >> 4) != 6 || 40u + get16(ip + 4) > size) return;
        fix_l4(ip, true, ip[6], ip + 40, get16(ip + 4));
        return;
    }
    if (size < 20 || (ip[0] >> 4) != 4) return;
    uint32_t ihl = (ip[0] & 15u) * 4u, total = get16(ip + 2);
    if (ihl < 20 || ihl > size || total < ihl || total > size) return;
    fix_ipv4_header(ip, ihl);
    if ((get16(ip + 6) & 0x3fff) != 0) return;
    uint8_t* l4 = ip + ihl;
    uint32_t n = total - ihl;
    if (ip[9] == ip_proto::icmp && n >= 28 && (l4[8] >> 4) == 4) {
        uint32_t ihl2 = (l4[8] & 15u) * 4u;
        if (ihl2 >= 20 && ihl2 <= n - 8) fix_ipv4_header(l4 + 8, ihl2);
    }
    fix_l4(ip, false, ip[9], l4, n);
}

bool has_ports(uint8_t proto) {
    return proto == ip_proto::tcp || proto == ip_proto::udp || proto == ip_proto::sctp;
}

// Endpoints of a family, varied by v; v 0 keeps the ports at zero for the edge cases there.
endpoints make_endpoints(bool v6, unsigned v) {
    endpoints e{};
    if (v6) {
        const uint8_t s[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(v + 1)};
        const uint8_t d[16] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, static_cast<uint8_t>(v * 17)};
        std::memcpy(e.src, s, 16);
        std::memcpy(e.dst, d, 16);
    } else {
        const uint8_t s[4] = {203, 0, 113, static_cast<uint8_t>(v)};
        const uint8_t d[4] = {198, 18, static_cast<uint8_t>(v * 13), 2};
        std::memcpy(e.src, s, 4);
        std::memcpy(e.dst, d, 4);
    }
    e.sport = static_cast<uint16_t>(v * 0x1111);
    e.dport = static_cast<uint16_t>(0xffff - v * 4099);
    return e;
}

void fuzz_rewrite(std::vector<uint8_t>& p, bool v6, unsigned v) {
    packet_info info;
    auto len = static_cast<uint32_t>(p.size());
    if (parse_ip(p.data(), len, v6, info) != drop_reason::none) return;
    ck before = l4_checksum(p.data(), info);
    bool udp4_zero = !v6 && info.has_l4 && info.l4_proto == ip_proto::udp && get16(p.data() + info.l4_offset + 6) == 0;
    endpoints to = make_endpoints(v6, v);
    uint16_t l4_off = info.has_l4 ? info.l4_offset : info.l3_len;
    auto l4_len = static_cast<uint16_t>(info.ip_total - l4_off);
    if (v6)
        rewrite6(p.data(), l4_off, l4_len, info.l4_proto, info.has_l4, to);
    else
        rewrite4(p.data(), l4_off, l4_len, info.l4_proto, info.has_l4, to);

    packet_info after;
    check(parse_ip(p.data(), len, v6, after) == drop_reason::none);  // IPv4: the header checksum holds
    unsigned alen = v6 ? 16 : 4;
    check(std::memcmp(p.data() + (v6 ? 8 : 12), to.src, alen) == 0);
    check(std::memcmp(p.data() + (v6 ? 24 : 16), to.dst, alen) == 0);
    if (!info.has_l4) return;
    const uint8_t* l4 = p.data() + info.l4_offset;
    if (has_ports(info.l4_proto)) check(get16(l4) == to.sport && get16(l4 + 2) == to.dport);
    bool echo = v6 ? info.l4_proto == ip_proto::icmpv6 && (l4[0] == 128 || l4[0] == 129)
                   : info.l4_proto == ip_proto::icmp && (l4[0] == 8 || l4[0] == 0);
    if (echo && l4_len >= 8) check(get16(l4 + 4) == to.sport);
    if (udp4_zero) check(get16(l4 + 6) == 0);
    ck now = l4_checksum(p.data(), after);
    if (info.l4_proto == ip_proto::sctp && before != ck::none)
        check(now == ck::valid);  // recomputed
    else
        check_kept(before, now);
}

// The ICMP checksum of an error (IPv6: with the pseudo-header), and its embedded IPv4 header's.
ck icmp_error_checksum(const uint8_t* ip, const packet_info& info) {
    bool v6 = info.l3 == l3_kind::ipv6;
    const uint8_t* icmp = ip + info.l4_offset;
    uint32_t n = info.ip_total - info.l4_offset;
    return classify(sum_bytes(icmp, n, v6 ? pseudo(ip, true, ip_proto::icmpv6, n) : 0));
}

void check_embedded(const uint8_t* ip, uint32_t len, bool v6, const endpoints& want, uint8_t proto) {
    embedded_flow f;
    check(v6 ? icmp_error_embedded6(ip, len, f) : icmp_error_embedded4(ip, len, f));
    check(f.proto == proto);
    unsigned alen = v6 ? 16 : 4;
    check(std::memcmp(f.src, want.src, alen) == 0 && std::memcmp(f.dst, want.dst, alen) == 0);
    if (has_ports(proto)) check(f.sport == want.sport && f.dport == want.dport);
    if (proto == (v6 ? ip_proto::icmpv6 : ip_proto::icmp)) check(f.sport == want.sport && f.dport == 0);
}

void fuzz_icmp_error(std::vector<uint8_t>& p, bool v6, unsigned v) {
    packet_info info;
    auto len = static_cast<uint32_t>(p.size());
    if (parse_ip(p.data(), len, v6, info) != drop_reason::none) return;
    embedded_flow before{};
    bool found = v6 ? icmp_error_embedded6(p.data(), len, before) : icmp_error_embedded4(p.data(), len, before);
    endpoints outer = make_endpoints(v6, v);
    endpoints inner = make_endpoints(v6, v ^ 5);
    const uint8_t* outer_src = (v & 1) != 0 ? outer.src : nullptr;
    std::vector<uint8_t> orig = p;
    bool ok = v6 ? rewrite_icmp_error6(p.data(), len, outer_src, outer.dst, inner)
                 : rewrite_icmp_error4(p.data(), len, outer_src, outer.dst, inner);
    check(ok == found);
    if (!ok) {
        check(p == orig);
        return;
    }
    check(info.has_l4);
    packet_info after;
    check(parse_ip(p.data(), len, v6, after) == drop_reason::none);
    unsigned alen = v6 ? 16 : 4;
    check(std::memcmp(p.data() + (v6 ? 24 : 16), outer.dst, alen) == 0);
    if (outer_src != nullptr) check(std::memcmp(p.data() + (v6 ? 8 : 12), outer_src, alen) == 0);
    check_kept(icmp_error_checksum(orig.data(), info), icmp_error_checksum(p.data(), after));
    check_embedded(p.data(), len, v6, inner, before.proto);

    // The embedded packet: its IPv4 header checksum, and its transport checksum when it is whole.
    uint32_t in_off = info.l4_offset + 8u;
    uint32_t quote = info.ip_total - in_off;
    if (!v6) {
        uint32_t ihl = (orig[in_off] & 15u) * 4u;
        check_kept(classify(sum_bytes(orig.data() + in_off, ihl)), classify(sum_bytes(p.data() + in_off, ihl)));
    }
    packet_info in_before, in_after;
    if (parse_ip(orig.data() + in_off, quote, v6, in_before) == drop_reason::none && in_before.ip_total == quote &&
        in_before.l4_proto != ip_proto::sctp) {
        check(parse_ip(p.data() + in_off, quote, v6, in_after) == drop_reason::none);
        check_kept(l4_checksum(orig.data() + in_off, in_before), l4_checksum(p.data() + in_off, in_after));
    }
}

// An mbuf over an exact-size heap buffer, so that ASan sees any access past the packet or the
// headroom; rte_pktmbuf_prepend/adj/trim only touch these fields.
struct fake_mbuf {
    std::vector<uint8_t> storage;
    rte_mbuf m{};
    fake_mbuf(const std::vector<uint8_t>& pkt, uint16_t headroom) : storage(headroom + pkt.size()) {
        std::memcpy(storage.data() + headroom, pkt.data(), pkt.size());
        m.buf_addr = storage.data();
        m.buf_len = static_cast<uint16_t>(storage.size());
        m.data_off = headroom;
        m.data_len = static_cast<uint16_t>(pkt.size());
        m.pkt_len = static_cast<uint32_t>(pkt.size());
        m.nb_segs = 1;
        m.next = nullptr;
    }
    std::vector<uint8_t> data() const {
        const auto* p = rte_pktmbuf_mtod(&m, const uint8_t*);
        return std::vector<uint8_t>(p, p + m.data_len);
    }
};

uint8_t other_icmp(uint8_t proto) {
    if (proto == ip_proto::icmp) return ip_proto::icmpv6;
    if (proto == ip_proto::icmpv6) return ip_proto::icmp;
    return proto;
}

// Translates p (family v6) with the given endpoints; on success checks the result and returns it.
bool fuzz_xlate(const std::vector<uint8_t>& p, bool v6, const endpoints& outer, const endpoints& inner,
                uint16_t headroom, std::vector<uint8_t>& out) {
    packet_info info;
    auto len = static_cast<uint32_t>(p.size());
    if (parse_ip(p.data(), len, v6, info) != drop_reason::none) return false;
    fake_mbuf fm(p, headroom);
    bool ok = v6 ? xlate_6to4(&fm.m, outer, &inner) : xlate_4to6(&fm.m, outer, &inner);
    if (!ok) {
        check(fm.m.data_off == headroom && fm.data() == p);
        return false;
    }
    out = fm.data();
    check(fm.m.pkt_len == fm.m.data_len);
    check(!info.is_fragment && info.has_l4);
    bool to_v6 = !v6;
    packet_info after;
    auto out_len = static_cast<uint32_t>(out.size());
    check(parse_ip(out.data(), out_len, to_v6, after) == drop_reason::none);
    check(after.ip_total == out_len && after.l3_len == (to_v6 ? 40 : 20));
    check(after.l4_proto == other_icmp(info.l4_proto));
    check(out[to_v6 ? 7 : 8] == p[v6 ? 7 : 8]);  // hop limit / TTL copied
    unsigned alen = to_v6 ? 16 : 4;
    check(std::memcmp(out.data() + (to_v6 ? 8 : 12), outer.src, alen) == 0);
    check(std::memcmp(out.data() + (to_v6 ? 24 : 16), outer.dst, alen) == 0);
    const uint8_t* l4 = out.data() + after.l4_offset;
    ck before = l4_checksum(p.data(), info), now = l4_checksum(out.data(), after);
    bool udp4_zero = !v6 && info.l4_proto == ip_proto::udp && get16(p.data() + info.l4_offset + 6) == 0;
    if (has_ports(info.l4_proto)) {
        check(get16(l4) == outer.sport && get16(l4 + 2) == outer.dport);
        if (info.l4_proto == ip_proto::sctp || udp4_zero)
            check(now == ck::valid);  // recomputed / computed for IPv6
        else
            check_kept(before, now);
        return true;
    }
    uint8_t type = p[info.l4_offset];
    bool echo = v6 ? (type == 128 || type == 129) : (type == 8 || type == 0);
    if (echo) {
        uint8_t want = v6 ? (type == 128 ? 8 : 0) : (type == 8 ? 128 : 129);
        check(l4[0] == want && get16(l4 + 4) == outer.sport);
        check_kept(before, now);
        return true;
    }
    // An error: verified before, rebuilt, so valid now; the embedded packet carries `inner`.
    check(now == ck::valid);
    if (to_v6) check(out_len <= 1280);
    embedded_flow f;
    check(to_v6 ? icmp_error_embedded6(out.data(), out_len, f) : icmp_error_embedded4(out.data(), out_len, f));
    check_embedded(out.data(), out_len, to_v6, inner, f.proto);
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2 || size > 9000) return 0;
    uint8_t sel = data[0];
    bool v6 = (sel & 1) != 0;
    unsigned fn = (sel >> 1) & 3;
    unsigned v = (sel >> 3) & 7;
    uint16_t headroom = (sel & 0x80) != 0 ? 16 : 128;
    std::vector<uint8_t> p(data + 1, data + size);
    if ((sel & 0x40) != 0) fix_checksums(p, v6);
    switch (fn) {
        case 0:
            fuzz_rewrite(p, v6, v);
            break;
        case 1:
            fuzz_icmp_error(p, v6, v);
            break;
        case 2: {
            std::vector<uint8_t> out;
            fuzz_xlate(p, v6, make_endpoints(!v6, v), make_endpoints(!v6, v ^ 3), headroom, out);
            break;
        }
        default: {
            // There and back with the packet's own addresses and ports: the transport header must come
            // back as it was, but for its checksum field (0 and 0xffff are the same sum) and a UDP/IPv4
            // checksum of 0, which the IPv6 leg had to fill in.
            packet_info info;
            if (parse_ip(p.data(), static_cast<uint32_t>(p.size()), v6, info) != drop_reason::none) return 0;
            if (!info.has_l4 || info.l4_offset + 8u > info.ip_total) return 0;
            endpoints mid = make_endpoints(!v6, v);
            endpoints home{};
            std::memcpy(home.src, p.data() + (v6 ? 8 : 12), v6 ? 16 : 4);
            std::memcpy(home.dst, p.data() + (v6 ? 24 : 16), v6 ? 16 : 4);
            const uint8_t* l4 = p.data() + info.l4_offset;
            bool echo = v6 ? info.l4_proto == ip_proto::icmpv6 && (l4[0] == 128 || l4[0] == 129)
                           : info.l4_proto == ip_proto::icmp && (l4[0] == 8 || l4[0] == 0);
            if (!has_ports(info.l4_proto) && !echo) return 0;  // errors: inner endpoints unknown here
            home.sport = has_ports(info.l4_proto) ? get16(l4) : get16(l4 + 4);
            home.dport = has_ports(info.l4_proto) ? get16(l4 + 2) : 0;
            mid.sport = static_cast<uint16_t>(home.sport ^ 0x5a5a);
            mid.dport = home.dport;
            std::vector<uint8_t> there, back;
            if (!fuzz_xlate(p, v6, mid, mid, headroom, there)) return 0;
            check(fuzz_xlate(there, !v6, home, home, 128, back));
            packet_info bi;
            check(parse_ip(back.data(), static_cast<uint32_t>(back.size()), v6, bi) == drop_reason::none);
            size_t n = info.ip_total - info.l4_offset;
            check(static_cast<size_t>(bi.ip_total - bi.l4_offset) == n);
            size_t ck_at = info.l4_proto == ip_proto::tcp    ? 16
                           : info.l4_proto == ip_proto::udp  ? 6
                           : info.l4_proto == ip_proto::sctp ? 8
                                                             : 2;
            size_t ck_len = info.l4_proto == ip_proto::sctp ? 4 : 2;
            for (size_t i = 0; i < n; ++i)
                if (i < ck_at || i >= ck_at + ck_len) check(back[bi.l4_offset + i] == p[info.l4_offset + i]);
            if (info.l4_proto != ip_proto::sctp) check_kept(l4_checksum(p.data(), info), l4_checksum(back.data(), bi));
            break;
        }
    }
    return 0;
}
