#pragma once
// The TCP checksum (RFC 9293 3.1, RFC 1071) over an mbuf chain. DPDK 22.11's
// rte_raw_cksum_mbuf() is wrong for chains with a segment of odd length: it truncates the
// 32-bit partial sum to 16 bits before the byte swap, losing carries (fixed in later DPDK), and
// the stack's zero-copy segments are chains of arbitrary pieces.
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>

namespace meshgate::dataplane::tcp {

inline uint16_t fold16(uint32_t s) noexcept {
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(s);
}

// Ones'-complement sum (not complemented, in the raw byte order rte_raw_cksum uses) of `len`
// bytes of the chain starting `off` bytes into it.
inline uint16_t chain_sum(const rte_mbuf* m, uint32_t off, uint32_t len) noexcept {
    while (m != nullptr && off >= m->data_len) {
        off -= m->data_len;
        m = m->next;
    }
    uint32_t sum = 0;
    uint32_t done = 0;
    while (m != nullptr && done < len) {
        uint32_t n = m->data_len - off;
        if (n > len - done) n = len - done;
        uint16_t part = fold16(__rte_raw_cksum(rte_pktmbuf_mtod_offset(m, const void*, off), n, 0));
        // A piece starting at an odd offset of the stream has its bytes in the other halves.
        if (done & 1) part = rte_bswap16(part);
        sum += part;
        done += n;
        off = 0;
        m = m->next;
    }
    return fold16(sum);
}

// The TCP checksum to store (network order as rte_ipv4_udptcp_cksum returns it) for the
// segment at `l4_off` of an IPv4 or IPv6 packet held in the chain `m` (IP header in the first
// segment). The checksum field must be zero.
inline uint16_t tcp_checksum(const rte_mbuf* m, const void* ip, uint32_t l4_off, bool v6) noexcept {
    uint32_t l4_len;
    uint32_t sum;
    if (v6) {
        const auto* h = static_cast<const rte_ipv6_hdr*>(ip);
        l4_len = rte_be_to_cpu_16(h->payload_len);
        sum = rte_ipv6_phdr_cksum(h, 0);
    } else {
        const auto* h = static_cast<const rte_ipv4_hdr*>(ip);
        l4_len = rte_be_to_cpu_16(h->total_length) - l4_off;
        sum = rte_ipv4_phdr_cksum(h, 0);
    }
    sum += chain_sum(m, l4_off, l4_len);
    return static_cast<uint16_t>(~fold16(sum));
}

}  // namespace meshgate::dataplane::tcp
