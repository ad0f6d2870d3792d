#pragma once
// Big-endian field access on packet bytes (no alignment assumed) and the IPv4 header checksum.
// Thread contract: pure functions, any thread.
#include <cstdint>
#include <cstring>

namespace meshgate::dataplane::wire {

// EtherTypes (IEEE 802, RFC 7042).
inline constexpr uint16_t ether_ipv4 = 0x0800;
inline constexpr uint16_t ether_ipv6 = 0x86dd;
inline constexpr uint16_t ether_arp = 0x0806;
inline constexpr uint16_t ether_vlan = 0x8100;
inline constexpr uint16_t ether_qinq = 0x88a8;

inline uint16_t rd16(const uint8_t* p) noexcept {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return __builtin_bswap16(v);
}

inline uint32_t rd32(const uint8_t* p) noexcept {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}

inline void wr16(uint8_t* p, uint16_t v) noexcept {
    v = __builtin_bswap16(v);
    std::memcpy(p, &v, 2);
}

inline void wr32(uint8_t* p, uint32_t v) noexcept {
    v = __builtin_bswap32(v);
    std::memcpy(p, &v, 4);
}

// RFC 1071 sum over an IPv4 header of `len` bytes (a multiple of 4): true when it is valid.
// Summed as 32-bit words into 64 bits; the folding makes byte order irrelevant.
inline bool ipv4_header_checksum_ok(const uint8_t* h, unsigned len) noexcept {
    uint64_t sum = 0;
    for (unsigned i = 0; i < len; i += 4) {
        uint32_t w;
        std::memcpy(&w, h + i, 4);
        sum += w;
    }
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

}  // namespace meshgate::dataplane::wire
