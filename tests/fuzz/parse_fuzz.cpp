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
    // The NIC-verified path must agree on everything but the checksum.
    packet_info again;
    drop_reason r2 = parse_packet(data, len, again, true);
    if (r == drop_reason::none && r2 != drop_reason::none) std::abort();
    return 0;
}
