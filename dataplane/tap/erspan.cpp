#include "dataplane/tap/erspan.hpp"

#include <rte_ip.h>

#include <cstring>

#include "dataplane/wire.hpp"

namespace meshgate::dataplane::tap {

using wire::wr16;
using wire::wr32;

void write_erspan(uint8_t* out, const erspan_params& p, const uint8_t* frame, uint32_t frame_len) noexcept {
    const size_t l3 = p.v6 ? 40 : 20;
    const auto inner = static_cast<uint32_t>(gre_len + erspan2_len + frame_len);
    std::memset(out, 0, erspan_overhead(p.v6));
    if (p.v6) {
        out[0] = 0x60;
        wr16(out + 4, static_cast<uint16_t>(inner));
        out[6] = ip_proto_gre;
        out[7] = p.ttl;
        std::memcpy(out + 8, p.src, 16);
        std::memcpy(out + 24, p.dst, 16);
    } else {
        out[0] = 0x45;
        wr16(out + 2, static_cast<uint16_t>(20 + inner));
        wr16(out + 4, p.ip_id);
        out[8] = p.ttl;
        out[9] = ip_proto_gre;
        std::memcpy(out + 12, p.src, 4);
        std::memcpy(out + 16, p.dst, 4);
        auto* h = reinterpret_cast<rte_ipv4_hdr*>(out);
        h->hdr_checksum = rte_ipv4_cksum(h);
    }
    uint8_t* gre = out + l3;
    wr16(gre, gre_flag_seq);
    wr16(gre + 2, gre_proto_erspan);
    wr32(gre + 4, p.sequence);

    uint8_t* e = gre + gre_len;
    uint16_t vlan = 0;
    uint8_t cos = 0, en = 0;
    if (frame_len >= 18 && frame[12] == 0x81 && frame[13] == 0x00) {
        uint16_t tci = static_cast<uint16_t>(frame[14] << 8 | frame[15]);
        vlan = tci & 0x0fff;
        cos = static_cast<uint8_t>(tci >> 13);
        en = 3;  // the tag is kept in the mirrored frame
    }
    wr16(e, static_cast<uint16_t>(1U << 12 | vlan));                                  // Ver = 1: type II
    wr16(e + 2, static_cast<uint16_t>(cos << 13 | en << 11 | (p.session & 0x3ffU)));  // T = 0
    wr32(e + 4, p.index & 0xfffffU);                                                  // reserved 0
}

}  // namespace meshgate::dataplane::tap
