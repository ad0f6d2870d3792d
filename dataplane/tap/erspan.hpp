#pragma once
// Remote mirroring encapsulation: ERSPAN type II (draft-foschiano-erspan-03, section 4.1) in GRE
// (RFC 2784 with the RFC 2890 sequence number, protocol 0x88BE) in IPv4 or IPv6. Wireshark and
// tshark decode it as "erspan" (type II because the GRE sequence bit is set).
//
//   outer IPv4 (20) or IPv6 (40) | GRE: flags S, version 0, protocol 0x88BE, sequence (8)
//   | ERSPAN II: Ver=1, VLAN, COS, En, T=0, session id (10 bits), reserved, index (20 bits) (8)
//   | the mirrored Ethernet frame
#include <cstddef>
#include <cstdint>

namespace meshgate::dataplane::tap {

inline constexpr uint16_t gre_proto_erspan = 0x88be;
inline constexpr uint16_t gre_flag_seq = 0x1000;
inline constexpr uint8_t ip_proto_gre = 47;
inline constexpr size_t gre_len = 8;      // with the sequence number
inline constexpr size_t erspan2_len = 8;  // type II header

struct erspan_params {
    bool v6 = false;
    uint8_t src[16] = {};  // outer source (IPv4: first 4 bytes), network order
    uint8_t dst[16] = {};  // the collector
    uint8_t ttl = 64;
    uint16_t ip_id = 0;     // IPv4 identification
    uint32_t sequence = 0;  // GRE sequence number
    uint16_t session = 0;   // ERSPAN session id, 10 bits
    uint32_t index = 0;     // ERSPAN index, 20 bits: the DPDK port the frame was seen on
};

// Outer IP + GRE + ERSPAN header bytes.
constexpr size_t erspan_overhead(bool v6) noexcept {
    return (v6 ? 40 : 20) + gre_len + erspan2_len;
}

// Writes the headers at `out` (erspan_overhead bytes) for `frame_len` bytes of the Ethernet
// frame `frame` that follows them. The VLAN/COS/En fields come from the frame's own 802.1Q tag
// (En = 3, tag preserved in the frame) or are 0 for an untagged frame (En = 0). Any thread.
void write_erspan(uint8_t* out, const erspan_params& p, const uint8_t* frame, uint32_t frame_len) noexcept;

}  // namespace meshgate::dataplane::tap
