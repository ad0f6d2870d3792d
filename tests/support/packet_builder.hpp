#pragma once
// Builds test frames byte by byte, with its own RFC 1071 checksum (independent of the data
// plane's code), so tests compare the pipeline against an independent rendering.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace meshgate::test {

using bytes = std::vector<uint8_t>;
using mac = std::array<uint8_t, 6>;

mac mac_of(const std::string& s);                 // "02:00:00:00:00:01"
std::array<uint8_t, 4> v4(const std::string& s);  // "198.18.1.2"
std::array<uint8_t, 16> v6(const std::string& s);

uint16_t inet_checksum(const uint8_t* p, size_t n, uint32_t initial = 0);

struct ipv4_opts {
    uint8_t ttl = 64;
    uint8_t proto = 17;
    bool df = false;
    bool mf = false;
    uint16_t frag_offset = 0;  // in 8-byte units
    uint16_t id = 0x1234;
    uint8_t tos = 0;
};

struct ipv6_opts {
    uint8_t hop_limit = 64;
    uint8_t next_header = 17;
};

// Each returns the whole IP packet (header + payload), checksums filled.
bytes ipv4_packet(const std::string& src, const std::string& dst, const bytes& payload, ipv4_opts o = {});
bytes ipv6_packet(const std::string& src, const std::string& dst, const bytes& payload, ipv6_opts o = {});
// Transport payloads. IPv4 UDP checksum left 0 (allowed); IPv6 UDP and ICMPv6 need the addresses.
bytes udp4(uint16_t sport, uint16_t dport, const bytes& data);
bytes udp6(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport, const bytes& data);
bytes tcp_segment(uint16_t sport, uint16_t dport, uint8_t flags, const bytes& data = {});
bytes icmp4_echo(uint8_t type, uint16_t id, uint16_t seq, const bytes& data);
bytes icmp6_message(const std::string& src, const std::string& dst, uint8_t type, uint8_t code, const bytes& body);
// ICMP error messages quoting `quoted` (the caller trims it to what the RFC allows).
bytes icmp4_error(uint8_t type, uint8_t code, uint32_t rest, const bytes& quoted);
bytes icmp6_error(const std::string& src, const std::string& dst, uint8_t type, uint8_t code, uint32_t param,
                  const bytes& quoted);
// Ethernet framing; vlan 0: untagged.
bytes ether(const mac& dst, const mac& src, uint16_t type, const bytes& payload, uint16_t vlan = 0);
bytes arp_packet(uint16_t op, const mac& sha, const std::string& spa, const mac& tha, const std::string& tpa);

// A frame as a port sends it: zero-padded to the 60-byte Ethernet minimum (64 when tagged).
bytes on_wire(bytes frame);
bytes pattern(size_t n);  // n bytes of a recognizable pattern

std::string hex(const bytes& b);
// A readable first difference between two frames, or "" if equal.
std::string diff(const bytes& expected, const bytes& actual);
// The same, the expected frame padded as a port sends it (on_wire).
inline std::string diff_wire(const bytes& expected, const bytes& actual) {
    return diff(on_wire(expected), actual);
}

}  // namespace meshgate::test
