#pragma once
// Wire format of the TCP scenario harness: builds the IPv4/IPv6 + TCP packets a script injects and
// parses (and checks) the packets the stack emits, with its own RFC 1071 checksum so the stack is
// compared against an independent rendering.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace meshgate::test::tcp {

struct addr {
    uint8_t family = 4;  // 4 or 6
    uint8_t b[16] = {};
    bool operator==(const addr& o) const;
};
// "192.0.2.1" or "2001:db8::1" (optionally in brackets). nullopt when malformed.
std::optional<addr> parse_addr(const std::string& s);
std::string render_addr(const addr& a);
// "ADDR:PORT", "[V6]:PORT" or ":PORT" (address from `dflt`).
bool parse_endpoint(const std::string& s, const addr& dflt, addr& a, uint16_t& port);

// A TCP option as parsed from the wire.
struct wire_opts {
    bool has_mss = false;
    uint16_t mss = 0;
    bool has_ws = false;
    uint8_t ws = 0;
    bool sack_ok = false;
    bool has_ts = false;
    uint32_t ts_val = 0, ts_ecr = 0;
    std::vector<std::pair<uint32_t, uint32_t>> sack;
    bool has_sack = false;
};

struct wire_seg {
    addr src, dst;
    uint16_t sport = 0, dport = 0;
    uint32_t seq = 0, ack = 0;
    uint8_t flags = 0;
    uint16_t win = 0, urp = 0;
    wire_opts opts;
    std::vector<uint8_t> payload;
};

uint16_t inet_checksum(const uint8_t* p, size_t n, uint32_t initial = 0);

// Raw option bytes to put in an injected segment (already padded to 4 bytes by the caller).
std::vector<uint8_t> build_packet(const wire_seg& s, const std::vector<uint8_t>& opt_bytes, bool bad_csum);
// Parses an emitted IP packet; checks IP version, lengths, IPv4 header checksum, protocol, TCP
// checksum, data offset and option encoding. On failure returns nullopt and a reason.
std::optional<wire_seg> parse_packet(const std::vector<uint8_t>& pkt, std::string& why);

}  // namespace meshgate::test::tcp
