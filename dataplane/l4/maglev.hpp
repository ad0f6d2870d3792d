#pragma once
// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
// Balancer", NSDI 2016, section 3.4), extended with backend weights.
//
// A lookup table of prime size M maps a flow hash to a backend. Each backend walks its own
// permutation of the table (offset and skip derived from its key) and claims the next free entry
// when it gets a turn; turns are handed out in proportion to the weights. The result spreads the
// entries close to the weights, and adding or removing one backend moves few entries between
// the others, so established flows mostly keep their backend even without connection tracking.
//
// Thread contract: a table is built on the control path and is read-only afterwards; any thread
// may call pick() concurrently. To change the backend set, build a new table and publish it.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/result.hpp"

namespace meshgate::dataplane::l4 {

struct maglev_backend {
    // Stable identity, e.g. "198.18.2.10:80" or "[fd00:2::10]:80". The same key yields the same
    // permutation on every instance and run, so gateways sharing a VIP agree on the mapping.
    std::string key;
    uint32_t weight = 1;  // 0: not in the table (drained, unhealthy)
    bool operator==(const maglev_backend&) const = default;
};

class maglev {
public:
    // Bounds the allocation (4 bytes per entry); the paper uses 65537 and 655373.
    static constexpr uint32_t max_size = 1u << 24;

    // size: a prime >= the number of backends with weight > 0, at most max_size. Keys must be
    // unique. With no backend of weight > 0 every entry is -1. The table depends only on the set
    // of (key, weight) pairs, not on their order in `backends`; only the returned indices follow it.
    static result<maglev> build(const std::vector<maglev_backend>& backends, uint32_t size);

    uint32_t size() const noexcept { return static_cast<uint32_t>(entries_.size()); }

    // Table entry a flow hash lands on: multiply-shift range reduction (Lemire) instead of a
    // modulo, so the hot path has no division. Maps [0, 2^32) onto [0, M) in M nearly equal runs.
    uint32_t slot(uint32_t hash) const noexcept {
        return static_cast<uint32_t>((static_cast<uint64_t>(hash) * entries_.size()) >> 32);
    }

    // Index into the vector given to build() for a flow hash, or -1 when no backend is active.
    // The flow hash must be well mixed in its high bits (e.g. the NIC's RSS hash or a CRC).
    int32_t pick(uint32_t hash) const noexcept { return entries_[slot(hash)]; }

    const std::vector<int32_t>& entries() const noexcept { return entries_; }

private:
    explicit maglev(std::vector<int32_t> entries) noexcept : entries_(std::move(entries)) {}

    std::vector<int32_t> entries_;  // never empty: size() >= 2
};

bool is_prime(uint32_t n) noexcept;

// The two independent key hashes behind a backend's permutation (offset and skip). Written here
// rather than taken from std::hash so they are identical across builds, runs and machines.
uint64_t maglev_offset_hash(std::string_view key) noexcept;
uint64_t maglev_skip_hash(std::string_view key) noexcept;

}  // namespace meshgate::dataplane::l4
