// libFuzzer target: the packet parser on arbitrary frames. Checks that every offset it reports
// stays inside the frame.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "dataplane/packet_parse.hpp"

using namespace meshgate::dataplane;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 65535) return 0;
    packet_info info;
    auto len = static_cast<uint32_t>(size);
    drop_reason r = parse_packet(data, len, info);
    if (r == drop_reason::none && info.l3 != l3_kind::arp) {
        if (info.l3_offset + info.ip_total > len) std::abort();
        if (info.l3_len > info.ip_total) std::abort();
        if (info.has_l4 && info.l4_offset != info.l3_offset + info.l3_len) std::abort();
        if (info.has_l4 && info.l4_offset > info.l3_offset + info.ip_total) std::abort();
    }
    // The inline fast path must agree with the full parser exactly.
    packet_info fast;
    drop_reason rf = parse_packet_fast(data, len, fast);
    if (rf != r) std::abort();
    if (r == drop_reason::none &&
        (fast.l3_offset != info.l3_offset || fast.vlan != info.vlan || fast.l3_len != info.l3_len ||
         fast.ip_total != info.ip_total || fast.l4_offset != info.l4_offset || fast.l3 != info.l3 ||
         fast.l4_proto != info.l4_proto || fast.is_fragment != info.is_fragment || fast.has_l4 != info.has_l4 ||
         fast.ipv6_ext_fragment_header != info.ipv6_ext_fragment_header))
        std::abort();
    // The NIC-verified path must agree on everything but the checksum.
    packet_info again;
    drop_reason r2 = parse_packet(data, len, again, true);
    if (r == drop_reason::none && r2 != drop_reason::none) std::abort();
    return 0;
}
