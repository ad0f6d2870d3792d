#include "policy/net_types.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>

namespace meshgate {

bool mac_addr::is_zero() const noexcept {
    for (auto b : bytes) {
        if (b != 0) return false;
    }
    return true;
}

bool ipv6_addr::is_unspecified() const noexcept {
    for (auto b : bytes) {
        if (b != 0) return false;
    }
    return true;
}

namespace {
uint32_t v4_mask(uint8_t len) {
    return len == 0 ? 0 : ~uint32_t{0} << (32 - len);
}

template <class Prefix, class Parse>
std::optional<Prefix> parse_prefix(std::string_view s, uint8_t max_len, Parse parse) {
    auto slash = s.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto addr = parse(s.substr(0, slash));
    if (!addr) return std::nullopt;
    auto len_text = s.substr(slash + 1);
    unsigned len = 0;
    auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (ec != std::errc{} || ptr != len_text.data() + len_text.size() || len_text.empty() || len > max_len) {
        return std::nullopt;
    }
    return Prefix{*addr, static_cast<uint8_t>(len)};
}
}  // namespace

bool ipv4_prefix::contains(ipv4_addr a) const noexcept {
    return (a.value & v4_mask(len)) == (addr.value & v4_mask(len));
}

ipv4_addr ipv4_prefix::network() const noexcept {
    return ipv4_addr{addr.value & v4_mask(len)};
}

ipv6_addr ipv6_prefix::network() const noexcept {
    ipv6_addr n = addr;
    for (unsigned i = 0; i < 16; ++i) {
        unsigned bits_here = len > i * 8 ? len - i * 8 : 0;
        if (bits_here >= 8) continue;
        n.bytes[i] &= static_cast<uint8_t>(0xff00U >> bits_here);
    }
    return n;
}

bool ipv6_prefix::contains(const ipv6_addr& a) const noexcept {
    return ipv6_prefix{a, len}.network() == network();
}

std::optional<mac_addr> parse_mac(std::string_view s) {
    if (s.size() != 17) return std::nullopt;
    mac_addr m;
    for (unsigned i = 0; i < 6; ++i) {
        if (i > 0 && s[i * 3 - 1] != ':') return std::nullopt;
        auto part = s.substr(i * 3, 2);
        unsigned v = 0;
        auto [ptr, ec] = std::from_chars(part.data(), part.data() + 2, v, 16);
        if (ec != std::errc{} || ptr != part.data() + 2) return std::nullopt;
        m.bytes[i] = static_cast<uint8_t>(v);
    }
    return m;
}

std::optional<ipv4_addr> parse_ipv4(std::string_view s) {
    std::string z(s);
    in_addr a{};
    if (inet_pton(AF_INET, z.c_str(), &a) != 1) return std::nullopt;
    return ipv4_addr{ntohl(a.s_addr)};
}

std::optional<ipv6_addr> parse_ipv6(std::string_view s) {
    std::string z(s);
    ipv6_addr a;
    if (inet_pton(AF_INET6, z.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
}

std::optional<ipv4_prefix> parse_ipv4_prefix(std::string_view s) {
    return parse_prefix<ipv4_prefix>(s, 32, parse_ipv4);
}

std::optional<ipv6_prefix> parse_ipv6_prefix(std::string_view s) {
    return parse_prefix<ipv6_prefix>(s, 128, parse_ipv6);
}

std::string to_string(const mac_addr& m) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m.bytes[0], m.bytes[1], m.bytes[2], m.bytes[3],
                  m.bytes[4], m.bytes[5]);
    return buf;
}

std::string to_string(ipv4_addr a) {
    in_addr n{htonl(a.value)};
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &n, buf, sizeof buf);
    return buf;
}

std::string to_string(const ipv6_addr& a) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
    return buf;
}

std::string to_string(const ipv4_prefix& p) {
    return to_string(p.addr) + "/" + std::to_string(p.len);
}
std::string to_string(const ipv6_prefix& p) {
    return to_string(p.addr) + "/" + std::to_string(p.len);
}

}  // namespace meshgate
