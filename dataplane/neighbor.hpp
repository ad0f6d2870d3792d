#pragma once
// Neighbor table (ARP, RFC 826; IPv6 neighbor discovery, RFC 4861) for next-hop resolution.
//
// Thread contract: the control (main) lcore is the only writer. Workers read lock-free: an
// rte_hash in lock-free read/write mode maps (interface, address) to a slot, and the slot's MAC
// and validity sit in one 64-bit atomic. Deleted keys' slots are reused only after every worker
// has passed a quiescent point (the hash's RCU QSBR defer queue), so a worker never reads a slot
// that was handed to another neighbor under its feet.
#include <rte_ether.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

#include "policy/net_types.hpp"
#include "policy/result.hpp"

struct rte_hash;
struct rte_mbuf;
struct rte_rcu_qsbr;

namespace meshgate::dataplane {

struct neighbor_key {
    uint16_t ifindex = 0;
    uint8_t family = 4;  // 4 or 6
    uint8_t pad_[5] = {};
    uint8_t ip[16] = {};  // IPv4: first 4 bytes, network order

    static neighbor_key v4(uint16_t ifindex, uint32_t host_order_ip) noexcept;
    static neighbor_key v6(uint16_t ifindex, const uint8_t* ip) noexcept;
};
static_assert(sizeof(neighbor_key) == 24);

enum class neighbor_state : uint8_t {
    none,        // slot unused, or a pinned gateway never resolved
    incomplete,  // request sent, waiting for the answer
    reachable,   // confirmed recently
    stale,       // confirmation too old: still used, being probed
    failed,      // no answer (pinned gateways only; others are removed)
    permanent,   // static neighbor from the config
};

const char* to_string(neighbor_state s) noexcept;

inline constexpr unsigned neighbor_hold_max = 8;  // packets held per unresolved neighbor

struct alignas(64) neighbor_entry {
    // Read by workers: bit 63 valid, low 48 bits the MAC in wire order.
    std::atomic<uint64_t> mac_word{0};
    // Control lcore only from here on.
    neighbor_key key;
    neighbor_state state = neighbor_state::none;
    bool pinned = false;  // a route's gateway: kept when it fails, re-resolved on demand
    uint8_t probes = 0;   // requests sent in this resolution or probe round
    uint8_t hold_count = 0;
    uint64_t deadline = 0;                   // TSC time of the next timer action
    rte_mbuf* hold[neighbor_hold_max] = {};  // packets waiting for the MAC, oldest first
};

struct neighbor_timers {
    uint64_t retrans;    // between requests (RFC 4861 RETRANS_TIMER 1 s)
    uint64_t reachable;  // REACHABLE -> STALE (RFC 4861 REACHABLE_TIME 30 s)
    uint8_t max_probes;  // requests before giving up (MAX_MULTICAST_SOLICIT 3)
};

class neighbor_table {
public:
    // Control path. qsbr may be null (no workers: tests).
    static result<neighbor_table*> create(const std::string& name, uint32_t capacity, rte_rcu_qsbr* qsbr);
    ~neighbor_table();
    neighbor_table(const neighbor_table&) = delete;
    neighbor_table& operator=(const neighbor_table&) = delete;

    // Any thread, lock-free. The hot-path form: the slot's word (bit 63 valid, the MAC in the low 48 bits in wire
    // order), 0 when not usable. lookup_word() returns 0 for an unknown neighbor.
    uint64_t slot_word(uint32_t slot) const noexcept {
        uint64_t w = entries_[slot].mac_word.load(std::memory_order_acquire);
        return (w >> 63) != 0 ? w : 0;
    }
    uint64_t lookup_word(const neighbor_key& key) const noexcept;
    // Any thread, lock-free: true and the MAC when the slot's neighbor is usable (reachable,
    // stale, permanent).
    bool slot_mac(uint32_t slot, rte_ether_addr& mac) const noexcept {
        return word_to_mac(entries_[slot].mac_word.load(std::memory_order_acquire), mac);
    }

    // Control lcore only.
    int32_t find(const neighbor_key& key) const noexcept;   // slot or -1
    int32_t find_or_add(const neighbor_key& key) noexcept;  // slot or -1 when full
    neighbor_entry& entry(uint32_t slot) noexcept { return entries_[slot]; }
    const neighbor_entry& entry(uint32_t slot) const noexcept { return entries_[slot]; }
    void set_mac(uint32_t slot, const rte_ether_addr& mac, neighbor_state st, uint64_t deadline) noexcept;
    void invalidate(uint32_t slot, neighbor_state st) noexcept;
    void remove(uint32_t slot) noexcept;  // not for pinned or permanent slots
    uint32_t capacity() const noexcept { return capacity_; }

private:
    neighbor_table() = default;
    // The MAC sits in the word's low 48 bits in wire order on a little-endian host (x86, arm64).
    static bool word_to_mac(uint64_t w, rte_ether_addr& mac) noexcept {
        if ((w >> 63) == 0) return false;
        std::memcpy(mac.addr_bytes, &w, 6);
        return true;
    }

    rte_hash* hash_ = nullptr;
    neighbor_entry* entries_ = nullptr;
    uint32_t capacity_ = 0;
    bool deferred_free_ = false;  // an RCU defer queue frees deleted positions
};

}  // namespace meshgate::dataplane
