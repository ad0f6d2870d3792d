#pragma once
// Stateful-firewall rule classifier on DPDK's rte_acl (librte_acl).
//
// The control path compiles the ordered policy::acl_rule list into one rte_acl context per address
// family; workers fill a small key per packet and classify bursts. First match wins: rule i of the
// list gets rte_acl priority (N - i), so the earliest matching rule is reported.
//
// Key layout (what rte_acl reads). rte_acl consumes the first field as one byte and every further
// input word as 4 consecutive bytes, each byte one trie transition, most significant byte first;
// fields are matched in network byte order. So:
//
//   acl_key4 (16 bytes)                         acl_key6 (40 bytes)
//   off  size  field    input word              off  size  field    input word
//    0    1    proto    0 (first byte)           0    1    proto    0
//    0    1    (proto)  1, wildcard              0    1    (proto)  1, wildcard
//    1    1    flags    1                        1    1    flags    1
//    2    2    ifindex  1                        2    2    ifindex  1
//    4    4    src      2                        4   16    src      2..5 (4 x 32-bit prefix parts)
//    8    4    dst      3                       20   16    dst      6..9
//   12    2    sport    4                       36    2    sport    10
//   14    2    dport    4                       38    2    dport    10
//
// Input word 1 re-reads byte 0 (proto) as a wildcard so that flags and the 16-bit interface index fill
// a whole 4-byte word without padding the key. rte_acl drops input words that every rule leaves as
// wildcard, so interface matching costs nothing when no rule uses it (and no rule restricts ports).
//
// Packets without ports (ICMP, ICMPv6, non-first fragments, other protocols): pass has_ports = false
// (the key's ports become 0). A rule that restricts either port range (anything narrower than
// 0-65535) never matches such a packet, whatever its range, as with iptables' --dport on fragments.
// With has_ports = true and ports 0, a range that contains 0 (e.g. 0-1023) would match.
//
// Thread contract: build() and the destructor on the control path (rte_acl_create/build are not
// thread-safe, and allocate); classify4/6 on any thread concurrently, read-only, no allocation.
#include <rte_byteorder.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "policy/config.hpp"
#include "policy/result.hpp"

struct rte_acl_ctx;

namespace meshgate::dataplane::l4 {

inline constexpr uint8_t acl_flag_has_ports = 0x01;  // acl_key4/6::flags

struct acl_key4 {
    uint8_t proto = 0;     // IP protocol
    uint8_t flags = 0;     // acl_flag_*
    uint16_t ifindex = 0;  // ingress interface index (policy::config::interfaces), network order
    uint32_t src = 0;      // network order, as in the packet
    uint32_t dst = 0;
    uint16_t sport = 0;  // network order; 0 without ports
    uint16_t dport = 0;
};
static_assert(sizeof(acl_key4) == 16);
static_assert(offsetof(acl_key4, ifindex) == 2 && offsetof(acl_key4, src) == 4 && offsetof(acl_key4, dst) == 8 &&
              offsetof(acl_key4, sport) == 12 && offsetof(acl_key4, dport) == 14);

struct acl_key6 {
    uint8_t proto = 0;  // final next header (58 for ICMPv6)
    uint8_t flags = 0;
    uint16_t ifindex = 0;  // network order
    uint8_t src[16] = {};
    uint8_t dst[16] = {};
    uint16_t sport = 0;  // network order
    uint16_t dport = 0;
};
static_assert(sizeof(acl_key6) == 40);
static_assert(offsetof(acl_key6, ifindex) == 2 && offsetof(acl_key6, src) == 4 && offsetof(acl_key6, dst) == 20 &&
              offsetof(acl_key6, sport) == 36 && offsetof(acl_key6, dport) == 38);

// Fill helpers (hot path). Addresses and ports as they are in the packet (network order); ifindex in
// host order. has_ports = false: the packet has no transport ports (see above); the ports are ignored.
inline void make_key4(acl_key4& k, uint8_t proto, uint16_t ifindex, const uint8_t* src4, const uint8_t* dst4,
                      uint16_t sport_net, uint16_t dport_net, bool has_ports = true) noexcept {
    k.proto = proto;
    k.flags = has_ports ? acl_flag_has_ports : 0;
    k.ifindex = rte_cpu_to_be_16(ifindex);
    std::memcpy(&k.src, src4, 4);
    std::memcpy(&k.dst, dst4, 4);
    k.sport = has_ports ? sport_net : 0;
    k.dport = has_ports ? dport_net : 0;
}

inline void make_key6(acl_key6& k, uint8_t proto, uint16_t ifindex, const uint8_t* src16, const uint8_t* dst16,
                      uint16_t sport_net, uint16_t dport_net, bool has_ports = true) noexcept {
    k.proto = proto;
    k.flags = has_ports ? acl_flag_has_ports : 0;
    k.ifindex = rte_cpu_to_be_16(ifindex);
    std::memcpy(k.src, src16, 16);
    std::memcpy(k.dst, dst16, 16);
    k.sport = has_ports ? sport_net : 0;
    k.dport = has_ports ? dport_net : 0;
}

class acl_set {
public:
    // Burst size classify4/6 are meant for (any n works; the worker uses at most this many).
    static constexpr uint32_t max_burst = 32;

    // Compiles both families. A family without rules gets no context and classifies to 0. `name`
    // must be unique among live acl_sets in the process (rte_acl context names are global; "<name>4"
    // and "<name>6" are used, so at most 30 characters), e.g. "fw" plus the config generation.
    // socket_id: NUMA socket of the tables (-1: any). Errors about a rule name its index.
    static result<std::unique_ptr<acl_set>> build(const std::vector<policy::acl_rule>& rules, const std::string& name,
                                                  int socket_id = -1);
    ~acl_set();  // frees the contexts
    acl_set(const acl_set&) = delete;
    acl_set& operator=(const acl_set&) = delete;

    // results[i] = 0: no rule matched keys[i]; else index of the first matching rule + 1 (index into
    // the vector given to build(), both families counted).
    void classify4(const acl_key4* const* keys, uint32_t* results, uint32_t n) const noexcept;
    void classify6(const acl_key6* const* keys, uint32_t* results, uint32_t n) const noexcept;

    size_t rule_count() const noexcept { return rules4_ + rules6_; }
    size_t rule_count4() const noexcept { return rules4_; }
    size_t rule_count6() const noexcept { return rules6_; }

private:
    acl_set() = default;

    rte_acl_ctx* ctx4_ = nullptr;
    rte_acl_ctx* ctx6_ = nullptr;
    size_t rules4_ = 0;
    size_t rules6_ = 0;
};

}  // namespace meshgate::dataplane::l4
