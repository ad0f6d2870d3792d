// libFuzzer target: arbitrary frames through the whole pipeline (parser, routing, ICMP, ARP/ND on
// the control lcore, fragmentation). The first byte picks the ingress port; the second, when
// odd, moves the virtual clock so that neighbor timers run.
#include <cstddef>
#include <cstdint>

#include "tests/packet/lab_config.hpp"
#include "tests/support/eal_env.hpp"
#include "tests/support/pipeline.hpp"

using namespace meshgate::test;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static pipeline* p = [] {
        init_eal();
        return new pipeline(packet_lab_config);
    }();
    if (size < 2 || size > 9000) return 0;
    bytes frame(data + 2, data + size);
    if (frame.empty()) return 0;
    p->send(static_cast<uint16_t>(data[0] % 3), frame);
    if (data[1] & 1) p->advance(0.5);
    return 0;
}
