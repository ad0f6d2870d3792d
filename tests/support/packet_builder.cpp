#include "tests/support/packet_builder.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <stdexcept>

namespace meshgate::test {

mac mac_of(const std::string& s) {
    mac m{};
    unsigned v[6];
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        throw std::invalid_argument("bad mac " + s);
    for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(v[i]);
    return m;
}

std::array<uint8_t, 4> v4(const std::string& s) {
    std::array<uint8_t, 4> a{};
    if (inet_pton(AF_INET, s.c_str(), a.data()) != 1) throw std::invalid_argument("bad ipv4 " + s);
    return a;
}

std::array<uint8_t, 16> v6(const std::string& s) {
    std::array<uint8_t, 16> a{};
    if (inet_pton(AF_INET6, s.c_str(), a.data()) != 1) throw std::invalid_argument("bad ipv6 " + s);
    return a;
}

uint16_t inet_checksum(const uint8_t* p, size_t n, uint32_t sum) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2 != 0) sum += static_cast<uint32_t>(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

namespace {
void put16(bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
void set16(bytes& b, size_t at, uint16_t v) {
    b[at] = static_cast<uint8_t>(v >> 8);
    b[at + 1] = static_cast<uint8_t>(v);
}
uint32_t pseudo6(const std::string& src, const std::string& dst, uint32_t len, uint8_t nh) {
    auto s = v6(src), d = v6(dst);
    uint32_t sum = 0;
    for (int i = 0; i < 16; i += 2)
        sum += static_cast<uint32_t>(s[i] << 8 | s[i + 1]) + static_cast<uint32_t>(d[i] << 8 | d[i + 1]);
    sum += len >> 16;
    sum += len & 0xffff;
    sum += nh;
    return sum;
}
}  // namespace

bytes ipv4_packet(const std::string& src, const std::string& dst, const bytes& payload, ipv4_opts o) {
    bytes b;
    b.push_back(0x45);
    b.push_back(o.tos);
    put16(b, static_cast<uint16_t>(20 + payload.size()));
    put16(b, o.id);
    put16(b, static_cast<uint16_t>((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | o.frag_offset));
    b.push_back(o.ttl);
    b.push_back(o.proto);
    put16(b, 0);
    auto s = v4(src), d = v4(dst);
    b.insert(b.end(), s.begin(), s.end());
    b.insert(b.end(), d.begin(), d.end());
    set16(b, 10, inet_checksum(b.data(), 20));
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

bytes ipv6_packet(const std::string& src, const std::string& dst, const bytes& payload, ipv6_opts o) {
    bytes b = {0x60, 0, 0, 0};
    put16(b, static_cast<uint16_t>(payload.size()));
    b.push_back(o.next_header);
    b.push_back(o.hop_limit);
    auto s = v6(src), d = v6(dst);
    b.insert(b.end(), s.begin(), s.end());
    b.insert(b.end(), d.begin(), d.end());
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

bytes udp4(uint16_t sport, uint16_t dport, const bytes& data) {
    bytes b;
    put16(b, sport);
    put16(b, dport);
    put16(b, static_cast<uint16_t>(8 + data.size()));
    put16(b, 0);
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

bytes udp6(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport, const bytes& data) {
    bytes b = udp4(sport, dport, data);
    uint16_t ck = inet_checksum(b.data(), b.size(), pseudo6(src, dst, static_cast<uint32_t>(b.size()), 17));
    set16(b, 6, ck == 0 ? 0xffff : ck);
    return b;
}

bytes tcp_segment(uint16_t sport, uint16_t dport, uint8_t flags, const bytes& data) {
    bytes b;
    put16(b, sport);
    put16(b, dport);
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(i + 1));  // seq, ack
    b.push_back(0x50);
    b.push_back(flags);
    put16(b, 65535);
    put16(b, 0);  // checksum: not checked by a router
    put16(b, 0);
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

bytes icmp4_echo(uint8_t type, uint16_t id, uint16_t seq, const bytes& data) {
    bytes b = {type, 0, 0, 0};
    put16(b, id);
    put16(b, seq);
    b.insert(b.end(), data.begin(), data.end());
    set16(b, 2, inet_checksum(b.data(), b.size()));
    return b;
}

bytes icmp6_message(const std::string& src, const std::string& dst, uint8_t type, uint8_t code, const bytes& body) {
    bytes b = {type, code, 0, 0};
    b.insert(b.end(), body.begin(), body.end());
    set16(b, 2, inet_checksum(b.data(), b.size(), pseudo6(src, dst, static_cast<uint32_t>(b.size()), 58)));
    return b;
}

bytes icmp4_error(uint8_t type, uint8_t code, uint32_t rest, const bytes& quoted) {
    bytes b = {type, code, 0, 0};
    put16(b, static_cast<uint16_t>(rest >> 16));
    put16(b, static_cast<uint16_t>(rest));
    b.insert(b.end(), quoted.begin(), quoted.end());
    set16(b, 2, inet_checksum(b.data(), b.size()));
    return b;
}

bytes icmp6_error(const std::string& src, const std::string& dst, uint8_t type, uint8_t code, uint32_t param,
                  const bytes& quoted) {
    bytes body;
    put16(body, static_cast<uint16_t>(param >> 16));
    put16(body, static_cast<uint16_t>(param));
    body.insert(body.end(), quoted.begin(), quoted.end());
    return icmp6_message(src, dst, type, code, body);
}

bytes ether(const mac& dst, const mac& src, uint16_t type, const bytes& payload, uint16_t vlan) {
    bytes b(dst.begin(), dst.end());
    b.insert(b.end(), src.begin(), src.end());
    if (vlan != 0) {
        put16(b, 0x8100);
        put16(b, vlan);
    }
    put16(b, type);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

bytes arp_packet(uint16_t op, const mac& sha, const std::string& spa, const mac& tha, const std::string& tpa) {
    bytes b = {0, 1, 8, 0, 6, 4};
    put16(b, op);
    b.insert(b.end(), sha.begin(), sha.end());
    auto s = v4(spa);
    b.insert(b.end(), s.begin(), s.end());
    b.insert(b.end(), tha.begin(), tha.end());
    auto t = v4(tpa);
    b.insert(b.end(), t.begin(), t.end());
    return b;
}

bytes on_wire(bytes frame) {
    size_t min = frame.size() >= 14 && frame[12] == 0x81 && frame[13] == 0x00 ? 64 : 60;
    if (frame.size() < min) frame.resize(min, 0);
    return frame;
}

bytes pattern(size_t n) {
    bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
    return b;
}

std::string hex(const bytes& b) {
    std::string s;
    char buf[4];
    for (size_t i = 0; i < b.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%02x", b[i]);
        s += buf;
        if (i % 2 == 1) s += ' ';
    }
    return s;
}

std::string diff(const bytes& expected, const bytes& actual) {
    if (expected == actual) return "";
    size_t n = std::min(expected.size(), actual.size());
    size_t i = 0;
    while (i < n && expected[i] == actual[i]) ++i;
    char buf[160];
    std::snprintf(buf, sizeof buf, "frames differ at byte %zu (expected %zu bytes, got %zu)", i, expected.size(),
                  actual.size());
    return std::string(buf) + "\n  expected: " + hex(expected) + "\n  actual:   " + hex(actual);
}

}  // namespace meshgate::test
