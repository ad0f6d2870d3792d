#pragma once
// TCP sequence number comparisons modulo 2^32 (RFC 9293 3.4; RFC 1982 serial arithmetic): valid for
// two numbers less than 2^31 apart, which the window sizes guarantee.
#include <cstdint>

namespace meshgate::dataplane::tcp {

constexpr bool seq_lt(uint32_t a, uint32_t b) noexcept {
    return static_cast<int32_t>(a - b) < 0;
}
constexpr bool seq_leq(uint32_t a, uint32_t b) noexcept {
    return static_cast<int32_t>(a - b) <= 0;
}
constexpr bool seq_gt(uint32_t a, uint32_t b) noexcept {
    return static_cast<int32_t>(a - b) > 0;
}
constexpr bool seq_geq(uint32_t a, uint32_t b) noexcept {
    return static_cast<int32_t>(a - b) >= 0;
}
constexpr uint32_t seq_max(uint32_t a, uint32_t b) noexcept {
    return seq_gt(a, b) ? a : b;
}
constexpr uint32_t seq_min(uint32_t a, uint32_t b) noexcept {
    return seq_lt(a, b) ? a : b;
}
// a <= x < b on the sequence circle.
constexpr bool seq_in(uint32_t x, uint32_t a, uint32_t b) noexcept {
    return x - a < b - a;
}

}  // namespace meshgate::dataplane::tcp
