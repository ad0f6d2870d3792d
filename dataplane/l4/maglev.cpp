#include "dataplane/l4/maglev.hpp"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstddef>

namespace meshgate::dataplane::l4 {

namespace {

// Final avalanche steps: every input bit affects every output bit, so keys that differ in one
// character ("...:80" vs "...:81") still get unrelated offsets and skips. The two hashes use
// different finalizers (and different bodies) so offset and skip are not correlated.
constexpr uint64_t avalanche_a(uint64_t x) noexcept {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

constexpr uint64_t avalanche_b(uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

// Up to 8 bytes of the key as a little-endian word, assembled byte by byte so the result does not
// depend on the host's byte order or alignment.
uint64_t load_le(std::string_view key, size_t at, size_t n) noexcept {
    uint64_t w = 0;
    for (size_t i = 0; i < n; ++i) w |= static_cast<uint64_t>(static_cast<unsigned char>(key[at + i])) << (8 * i);
    return w;
}

// Next position in a backend's permutation, (p + skip) mod m, without the division and without
// overflowing when m is close to 2^32.
constexpr uint32_t step(uint32_t p, uint32_t skip, uint32_t m) noexcept {
    return p >= m - skip ? p - (m - skip) : p + skip;
}

// One backend's state while the table is populated.
struct turn {
    uint64_t taken = 0;   // entries claimed so far
    uint32_t weight = 0;  // > 0
    uint32_t rank = 0;    // position in key order: breaks ties, independent of the input order
    uint32_t pos = 0;     // next candidate entry in this backend's permutation
    uint32_t skip = 0;
    int32_t index = 0;  // into the caller's vector
};

// Heap order: true when `a` gets its turn after `b`. Backend i's next turn is due at virtual time
// taken_i / weight_i; the products are exact (taken <= 2^24, weight < 2^32).
bool later(const turn& a, const turn& b) noexcept {
    const uint64_t ta = a.taken * b.weight;
    const uint64_t tb = b.taken * a.weight;
    if (ta != tb) return ta > tb;
    return a.rank > b.rank;
}

}  // namespace

bool is_prime(uint32_t n) noexcept {
    if (n < 2) return false;
    if (n < 4) return true;
    if (n % 2 == 0 || n % 3 == 0) return false;
    // Trial division by 6k +- 1 up to sqrt(n) <= 65536: a few thousand divisions at most, once per build.
    for (uint64_t d = 5; d * d <= n; d += 6) {
        if (n % d == 0 || n % (d + 2) == 0) return false;
    }
    return true;
}

// FNV-1a over the bytes, then avalanche_a: FNV alone mixes the last bytes poorly into the high
// bits, and keys of one service differ mostly in their last characters.
uint64_t maglev_offset_hash(std::string_view key) noexcept {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char c : key) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return avalanche_a(h);
}

// A different construction from the offset hash: 8-byte words, each scrambled by
// multiply-rotate-multiply and folded in with a rotate, seeded with the length, then avalanche_b.
uint64_t maglev_skip_hash(std::string_view key) noexcept {
    auto fold = [](uint64_t h, uint64_t w) noexcept {
        w *= 0x87c37b91114253d5ULL;
        w = std::rotl(w, 31);
        w *= 0x4cf5ad432745937fULL;
        h ^= w;
        return std::rotl(h, 27) * 5 + 0x52dce729ULL;
    };
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (static_cast<uint64_t>(key.size()) * 0xd6e8feb86659fd93ULL);
    size_t at = 0;
    for (; at + 8 <= key.size(); at += 8) h = fold(h, load_le(key, at, 8));
    if (at < key.size()) h = fold(h, load_le(key, at, key.size() - at));
    return avalanche_b(h);
}

// Population (paper, Pseudocode 1), with weights.
//
// Every active backend has a permutation of the table: offset = h1(key) mod M, skip =
// h2(key) mod (M - 1) + 1; M prime makes every skip coprime with M, so the walk offset, offset +
// skip, ... visits each entry exactly once. On its turn a backend claims the first free entry
// along its walk, as in the paper.
//
// The paper gives every backend one turn per round. For weights, turns are scheduled like
// weighted round robin (stride scheduling): a backend that has taken `taken` turns is next due at
// virtual time taken / weight, and the backend due earliest goes next. Backend i thus takes a
// share weight_i / sum(weights) of the turns (off by at most one round, N turns, when the table
// fills up), and since each turn claims exactly one entry the entry counts follow the weights.
// Turns stay interleaved (a weight-2 backend takes two turns per weight-1 turn, spread over the
// round) and each backend still claims entries in its own permutation order, which keeps the
// paper's properties: near-even spread and little movement when the set changes. Starting
// everyone at time 0 gives each active backend its first turn before anybody's second, so every
// active backend owns at least one entry whatever the weights.
//
// Ties are broken by the backends' order sorted by key, never by their input position, so the
// table depends on the set of (key, weight) pairs only and every instance agrees on it. With
// equal weights this is exactly the paper's round robin, in key order.
//
// Cost: M turns, each a heap pop and push (O(log N)), plus the walks' probes over taken entries
// (O(M log M) expected for equal weights, the paper's bound). No N x M permutation matrix: each
// backend's walk is generated on the fly from (pos, skip).
result<maglev> maglev::build(const std::vector<maglev_backend>& backends, uint32_t size) {
    if (!is_prime(size)) {
        return error{"maglev table size " + std::to_string(size) +
                     " is not a prime (each backend's skip must be coprime with the size to reach every entry)"};
    }
    if (size > max_size) {
        return error{"maglev table size " + std::to_string(size) + " exceeds the maximum " + std::to_string(max_size)};
    }
    if (backends.size() > static_cast<size_t>(INT32_MAX)) {
        return error{"maglev: too many backends (" + std::to_string(backends.size()) + ")"};
    }

    // Key order, over all backends so duplicates are caught even among weight-0 ones: two backends
    // with one key would share a permutation and their entries could not be told apart.
    std::vector<uint32_t> by_key(backends.size());
    for (uint32_t i = 0; i < by_key.size(); ++i) by_key[i] = i;
    std::sort(by_key.begin(), by_key.end(), [&](uint32_t a, uint32_t b) { return backends[a].key < backends[b].key; });
    for (size_t i = 1; i < by_key.size(); ++i) {
        if (backends[by_key[i - 1]].key == backends[by_key[i]].key) {
            return error{"maglev: backend key '" + backends[by_key[i]].key + "' appears more than once"};
        }
    }

    std::vector<turn> heap;
    for (const uint32_t i : by_key) {
        const maglev_backend& b = backends[i];
        if (b.weight == 0) continue;
        turn t;
        t.weight = b.weight;
        t.rank = static_cast<uint32_t>(heap.size());
        t.pos = static_cast<uint32_t>(maglev_offset_hash(b.key) % size);
        t.skip = static_cast<uint32_t>(maglev_skip_hash(b.key) % (size - 1)) + 1;
        t.index = static_cast<int32_t>(i);
        heap.push_back(t);
    }
    if (heap.size() > size) {
        return error{"maglev table size " + std::to_string(size) + " is smaller than the number of backends with " +
                     "weight > 0 (" + std::to_string(heap.size()) + "): each needs at least one entry"};
    }

    std::vector<int32_t> entries(size, -1);
    if (heap.empty()) return maglev(std::move(entries));

    std::make_heap(heap.begin(), heap.end(), later);
    for (uint32_t filled = 0; filled < size; ++filled) {
        std::pop_heap(heap.begin(), heap.end(), later);
        turn& t = heap.back();
        // Terminates: the walk covers every entry and at least one is still free.
        while (entries[t.pos] >= 0) t.pos = step(t.pos, t.skip, size);
        entries[t.pos] = t.index;
        t.pos = step(t.pos, t.skip, size);
        ++t.taken;
        std::push_heap(heap.begin(), heap.end(), later);
    }
    return maglev(std::move(entries));
}

}  // namespace meshgate::dataplane::l4
