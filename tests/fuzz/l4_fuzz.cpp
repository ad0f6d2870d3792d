// libFuzzer target: arbitrary frames through the whole pipeline with every L4 feature on: a
// full-NAT service with IPv4 and IPv6 backends (NAT46), a DNAT service, the SYN proxy always
// answering, a firewall, egress SNAT with endpoint-independent mapping, rate limits and a small
// session table. The first byte picks the ingress port; the second, when odd, moves the virtual
// clock (expiry, rate-limit refill); when it is 0xff, the config is reloaded.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/packet/lab_config.hpp"
#include "tests/support/eal_env.hpp"
#include "tests/support/pipeline.hpp"

using namespace meshgate::test;

namespace {

std::string l4_config() {
    std::string c = packet_lab_config;
    c.erase(c.rfind('}'));
    c += R"(,
  "flows": { "sessionsPerWorker": 1024, "udpTimeout": 5, "tcpSynTimeout": 2, "maxFlowsPerSource": 200 },
  "services": [
    { "name": "web", "vip": "198.18.50.10", "protocol": "tcp", "port": 80, "synProxy": "always",
      "sourceAddresses": ["198.18.2.1", "fd00:2::1"],
      "backends": [ { "address": "198.18.2.2", "port": 8080 }, { "address": "fd00:3::2", "port": 8080 } ] },
    { "name": "dns6", "vip": "fd00:50::53", "protocol": "udp", "port": 53, "mode": "dnat",
      "backends": [ { "address": "fd00:2::2" } ], "newFlows": { "rate": 100 } },
    { "name": "nat64", "vip": "fd00:50::10", "protocol": "tcp", "port": 80, "synProxy": "off",
      "backends": [ { "address": "198.18.3.2", "port": 8080 } ] }
  ],
  "firewall": { "defaultAction": "allow", "rules": [
    { "destination": "198.18.2.0/24", "protocol": "tcp", "destinationPorts": "22", "action": "deny" },
    { "protocol": "icmp", "action": "log" } ] },
  "snatPools": [ { "name": "out", "sources": ["198.18.2.0/24", "fd00:2::/64"],
                   "addresses": ["198.18.60.1", "fd00:60::1"], "portMin": 20000, "portMax": 20127,
                   "outInterface": "client", "endpointIndependent": true } ],
  "sourceLimits": [ { "prefix": "198.18.1.0/24", "packets": { "rate": 100000 } } ]
})";
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string config = l4_config();
    static pipeline* p = [] {
        init_eal();
        return new pipeline(config);
    }();
    if (size < 2 || size > 9000) return 0;
    bytes frame(data + 2, data + size);
    if (frame.empty()) return 0;
    p->send(static_cast<uint16_t>(data[0] % 3), frame);
    if (data[1] == 0xff) {
        p->reload(config);
    } else if (data[1] & 1) {
        p->advance(0.5);
    }
    return 0;
}
