#pragma once
// SYN cookies (RFC 4987 3.6): the initial sequence number of a SYN-ACK carries what the gateway
// would otherwise keep per half-open connection, authenticated with a keyed hash, so that a SYN
// flood creates no state. Layout of the 32-bit cookie:
//   bits 31..8  MAC: SipHash-2-4 (secret key) of the 4-tuple, the client's ISN and the counter
//   bits  7..3  counter: (seconds since start / 64) mod 32; a cookie is good for 64-128 s
//   bits  2..0  index into the MSS table
// Thread contract: the secret is set once before workers start; make/check are pure.
#include <cstdint>
#include <cstring>

namespace meshgate::dataplane::l4 {

inline constexpr uint16_t cookie_mss_table[8] = {536, 1200, 1220, 1360, 1400, 1440, 1452, 1460};

struct cookie_secret {
    uint64_t k0 = 0, k1 = 0;
};

namespace detail {
inline uint64_t rotl(uint64_t x, int b) noexcept {
    return (x << b) | (x >> (64 - b));
}
// SipHash-2-4 of `len` bytes (len a multiple of 8; callers pad).
inline uint64_t siphash(const cookie_secret& k, const uint8_t* msg, size_t len) noexcept {
    uint64_t v0 = 0x736f6d6570736575ULL ^ k.k0, v1 = 0x646f72616e646f6dULL ^ k.k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k.k0, v3 = 0x7465646279746573ULL ^ k.k1;
    auto round = [&] {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    };
    for (size_t i = 0; i < len; i += 8) {
        uint64_t m;
        std::memcpy(&m, msg + i, 8);
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
    uint64_t last = static_cast<uint64_t>(len & 0xff) << 56;
    v3 ^= last;
    round();
    round();
    v0 ^= last;
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
}

inline uint32_t cookie_mac(const cookie_secret& k, const uint8_t* src, const uint8_t* dst, uint16_t sport,
                           uint16_t dport, uint32_t client_isn, uint32_t counter) noexcept {
    uint8_t msg[48] = {};
    std::memcpy(msg, src, 16);
    std::memcpy(msg + 16, dst, 16);
    std::memcpy(msg + 32, &sport, 2);
    std::memcpy(msg + 34, &dport, 2);
    std::memcpy(msg + 36, &client_isn, 4);
    std::memcpy(msg + 40, &counter, 4);
    return static_cast<uint32_t>(siphash(k, msg, sizeof(msg)) >> 40);  // 24 bits
}
}  // namespace detail

// The MSS table index for a client's MSS: the largest entry not above it.
inline uint8_t cookie_mss_index(uint16_t mss) noexcept {
    uint8_t i = 0;
    while (i < 7 && cookie_mss_table[i + 1] <= mss) ++i;
    return i;
}

// src/dst: 16 bytes (IPv4 in the first 4, rest zero). `seconds`: a monotonic clock in seconds.
inline uint32_t make_cookie(const cookie_secret& k, const uint8_t* src, const uint8_t* dst, uint16_t sport,
                            uint16_t dport, uint32_t client_isn, uint64_t seconds, uint8_t mss_index) noexcept {
    uint32_t counter = static_cast<uint32_t>(seconds / 64);
    uint32_t mac = detail::cookie_mac(k, src, dst, sport, dport, client_isn, counter);
    return (mac << 8) | ((counter & 31) << 3) | (mss_index & 7);
}

// Checks a cookie (the ACK's acknowledgment number minus one) against the tuple and the client's
// ISN (the ACK's sequence number minus one). Returns the MSS index, or -1.
inline int check_cookie(const cookie_secret& k, uint32_t cookie, const uint8_t* src, const uint8_t* dst, uint16_t sport,
                        uint16_t dport, uint32_t client_isn, uint64_t seconds) noexcept {
    uint32_t now = static_cast<uint32_t>(seconds / 64);
    uint32_t c = (cookie >> 3) & 31;
    // The counter of the cookie is now or one period back.
    for (uint32_t back = 0; back < 2; ++back) {
        uint32_t counter = now - back;
        if ((counter & 31) != c) continue;
        if (detail::cookie_mac(k, src, dst, sport, dport, client_isn, counter) == (cookie >> 8))
            return static_cast<int>(cookie & 7);
    }
    return -1;
}

}  // namespace meshgate::dataplane::l4
