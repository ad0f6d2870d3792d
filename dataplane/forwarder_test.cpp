// Forwarder behavior beyond single packets: the ICMP error rate limit (per-worker token bucket).
#include "dataplane/forwarder.hpp"

#include <gtest/gtest.h>

#include "tests/support/pipeline.hpp"

namespace meshgate::dataplane {
namespace {

using namespace meshgate::test;

constexpr const char* config = R"({
  "interfaces": [
    { "name": "a", "device": "x", "mac": "02:00:00:00:00:01", "ipv4Addresses": ["198.18.1.1/24"],
      "staticNeighbors": [ { "ip": "198.18.1.2", "mac": "02:00:00:00:01:02" } ] },
    { "name": "b", "device": "y", "mac": "02:00:00:00:00:02", "ipv4Addresses": ["198.18.2.1/24"] }
  ],
  "icmp": { "errorsPerSecond": 10, "errorsBurst": 5 }
})";

bytes expiring() {
    ipv4_opts o;
    o.ttl = 1;
    return ether(mac_of("02:00:00:00:00:01"), mac_of("02:00:00:00:01:02"), 0x0800,
                 ipv4_packet("198.18.1.2", "198.18.2.2", udp4(1, 2, pattern(8)), o));
}

TEST(IcmpRateLimit, BurstThenRefill) {
    pipeline p(config);
    size_t sent = 0;
    for (int i = 0; i < 8; ++i) sent += p.send(0, expiring()).size();
    EXPECT_EQ(sent, 5U) << "the burst";
    EXPECT_EQ(p.drops(drop_reason::icmp_rate_limited), 3U);
    EXPECT_EQ(p.drops(drop_reason::ttl_exceeded), 8U) << "every expired packet is dropped and counted";
    p.advance(0.3);  // 10 per second: three more tokens
    sent = 0;
    for (int i = 0; i < 8; ++i) sent += p.send(0, expiring()).size();
    EXPECT_EQ(sent, 3U);
    p.advance(10);  // refills to the burst, not beyond
    sent = 0;
    for (int i = 0; i < 8; ++i) sent += p.send(0, expiring()).size();
    EXPECT_EQ(sent, 5U);
    EXPECT_EQ(p.counter(&core_counters::icmp_errors_sent), 13U);
}

}  // namespace
}  // namespace meshgate::dataplane
