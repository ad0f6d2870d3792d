#pragma once
// Plain address types shared by policy and the data plane; parsing is control-path only.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meshgate {

struct mac_addr {
    std::array<uint8_t, 6> bytes{};
    bool is_multicast() const noexcept { return (bytes[0] & 1U) != 0; }
    bool is_zero() const noexcept;
    auto operator<=>(const mac_addr&) const = default;
};

// IPv4 in host byte order.
struct ipv4_addr {
    uint32_t value = 0;
    auto operator<=>(const ipv4_addr&) const = default;
};

// IPv6 in network byte order.
struct ipv6_addr {
    std::array<uint8_t, 16> bytes{};
    auto operator<=>(const ipv6_addr&) const = default;  // NOLINT(modernize-use-nullptr): clang-tidy 14 misreads it
    bool is_unspecified() const noexcept;
    bool is_multicast() const noexcept { return bytes[0] == 0xff; }
    bool is_link_local() const noexcept { return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }
};

struct ipv4_prefix {
    ipv4_addr addr;
    uint8_t len = 0;
    bool contains(ipv4_addr a) const noexcept;
    ipv4_addr network() const noexcept;
    auto operator<=>(const ipv4_prefix&) const = default;
};

struct ipv6_prefix {
    ipv6_addr addr;
    uint8_t len = 0;
    bool contains(const ipv6_addr& a) const noexcept;
    ipv6_addr network() const noexcept;
    auto operator<=>(const ipv6_prefix&) const = default;
};

std::optional<mac_addr> parse_mac(std::string_view s);
std::optional<ipv4_addr> parse_ipv4(std::string_view s);
std::optional<ipv6_addr> parse_ipv6(std::string_view s);
// "a.b.c.d/len"; the address keeps its host bits (an interface address), see network().
std::optional<ipv4_prefix> parse_ipv4_prefix(std::string_view s);
std::optional<ipv6_prefix> parse_ipv6_prefix(std::string_view s);

std::string to_string(const mac_addr& m);
std::string to_string(ipv4_addr a);
std::string to_string(const ipv6_addr& a);
std::string to_string(const ipv4_prefix& p);
std::string to_string(const ipv6_prefix& p);

}  // namespace meshgate
