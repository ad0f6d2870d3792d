#pragma once
// A worker's session table: sessions in a preallocated array, both directions of each indexed
// in one rte_hash by their 5-tuple (IPv4 and IPv6 in one key layout), and idle expiry from a
// timer wheel. Shared-nothing: one table per worker, used only by that worker (the rte_hash runs
// without its multi-thread flags). Built on the control path; no allocation afterwards.
//
// Each session holds two tuples, t[0] as the initiator sent its first packet and t[1] as the
// responder's packets are expected to arrive (after NAT). A packet that matches t[d] leaves as
// the mirror image of t[1 - d]: that one rule covers forwarding, full-NAT, DNAT, SNAT and
// NAT46/64, and an ICMP error whose embedded packet mirrors t[d] is about that session.
#include <rte_hash.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "policy/config.hpp"
#include "policy/result.hpp"

namespace meshgate::dataplane::l4 {

// IPv4 addresses sit in the first 4 bytes of their 16, the rest zero.
struct flow_key {
    uint8_t src[16] = {};
    uint8_t dst[16] = {};
    uint16_t sport = 0;  // host order; ICMP echo request: identifier (dport 0); echo reply: dport = identifier
    uint16_t dport = 0;
    uint8_t proto = 0;   // IPPROTO value (ICMP 1, ICMPv6 58)
    uint8_t family = 0;  // 4 or 6
    uint16_t zero = 0;

    // The same flow seen from the other end.
    flow_key mirrored() const noexcept {
        flow_key k;
        std::memcpy(k.src, dst, 16);
        std::memcpy(k.dst, src, 16);
        k.sport = dport;
        k.dport = sport;
        k.proto = proto;
        k.family = family;
        return k;
    }
    // Five 8-byte words compared inline (a libc memcmp call per packet showed in profiles).
    bool operator==(const flow_key& o) const noexcept {
        uint64_t a[5];
        uint64_t b[5];
        std::memcpy(a, this, sizeof(a));
        std::memcpy(b, &o, sizeof(b));
        return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
    }
};
static_assert(sizeof(flow_key) == 40);

inline constexpr uint32_t no_session = UINT32_MAX;

enum class session_kind : uint8_t { firewall, service, snat };

// TCP tracking, coarse as a middlebox sees it (which timeout applies).
enum class tcp_state : uint8_t { none, syn_sent, syn_received, established, closing, closed };

namespace session_flag {
inline constexpr uint8_t syn_proxy = 1;       // sequence numbers shifted by seq_delta (SYN cookies)
inline constexpr uint8_t syn_proxy_wait = 2;  // SYN sent to the backend, its SYN-ACK not yet seen
inline constexpr uint8_t fin_orig = 4;
inline constexpr uint8_t fin_reply = 8;
inline constexpr uint8_t half_open = 16;    // counted in the worker's half-open gauge
inline constexpr uint8_t eim = 32;          // holds a reference on an endpoint-independent mapping
inline constexpr uint8_t src_counted = 64;  // counted in the per-source session limit
}  // namespace session_flag

struct session {
    flow_key t[2];
    uint64_t last_seen;  // TSC
    uint32_t wheel_next;
    uint32_t wheel_prev;
    uint32_t wheel_slot;
    uint32_t seq_delta;  // SYN proxy: backend ISN minus the cookie
    uint32_t packets[2];
    uint32_t mapping;  // EIM mapping index (flag eim)
    uint16_t service;  // service index in the runtime that created it (kind service)
    uint16_t backend;  // backend index in that runtime
    session_kind kind;
    tcp_state state;
    uint8_t flags;
    uint8_t in_use;
    // Statistics slot (l4::stat_slots), stable across runtimes: service sessions, their backend's
    // (core_counters::backends); SNAT sessions, their pool's (core_counters::snat_in_use).
    uint16_t stat_slot;
};
static_assert(sizeof(session) == 128, "two cache lines: keep the session table's footprint");

struct flow_timeouts {
    uint64_t tcp_syn, tcp_established, tcp_closing, udp, icmp, sctp, other;  // TSC cycles
};

class flow_table {
public:
    // `capacity` sessions; `name` unique per process (rte_hash name). tick = TSC cycles per
    // wheel slot.
    static result<flow_table*> create(const std::string& name, uint32_t capacity, int socket, uint64_t tsc_hz);
    ~flow_table();
    flow_table(const flow_table&) = delete;
    flow_table& operator=(const flow_table&) = delete;

    void set_timeouts(const policy::flow_settings& s) noexcept;

    // Hash of a key, computed once per packet and reused for lookup and insert.
    hash_sig_t hash(const flow_key& k) const noexcept { return rte_hash_hash(hash_, &k); }
    // Session index and direction (0/1) of the tuple, or no_session.
    uint32_t lookup(const flow_key& k, hash_sig_t sig, uint8_t& dir) const noexcept {
        void* data = nullptr;
        if (rte_hash_lookup_with_hash_data(hash_, &k, sig, &data) < 0) return no_session;
        auto v = reinterpret_cast<uintptr_t>(data);
        dir = static_cast<uint8_t>(v & 1);
        return static_cast<uint32_t>(v >> 1);
    }
    bool contains(const flow_key& k) const noexcept { return rte_hash_lookup(hash_, &k) >= 0; }
    // Up to 64 keys at once; bit i of `hits` set when keys[i] was found, its value in data[i].
    void lookup_bulk(const void** keys, uint32_t n, uint64_t& hits, void** data) const noexcept {
        hits = 0;
        rte_hash_lookup_bulk_data(hash_, keys, n, &hits, data);
    }

    // Creates a session for t0/t1 (t1's key must not exist: check with contains()). Returns the
    // index or no_session when the table is full.
    uint32_t insert(const flow_key& t0, hash_sig_t sig0, const flow_key& t1, session_kind kind, uint64_t now) noexcept;
    // Removes a session now (RST seen, backend reset, ...).
    void remove(uint32_t idx) noexcept;

    session& at(uint32_t idx) noexcept { return sessions_[idx]; }
    const session& at(uint32_t idx) const noexcept { return sessions_[idx]; }
    // A timeout got shorter (FIN, RST): move the session to its new slot.
    void reschedule(uint32_t idx) noexcept;

    // Expires idle sessions up to `now`, examining at most `budget` sessions. Calls
    // on_expire(idx) before each removal. Returns the number expired.
    template <class F>
    uint32_t expire(uint64_t now, uint32_t budget, F&& on_expire) noexcept;

    uint32_t capacity() const noexcept { return capacity_; }
    uint32_t active() const noexcept { return active_; }
    uint64_t timeout_of(const session& s) const noexcept;

private:
    flow_table() = default;
    void link(uint32_t idx, uint64_t deadline_tick) noexcept;
    void unlink(uint32_t idx) noexcept;

    static constexpr uint32_t wheel_slots = 4096;  // power of two
    rte_hash* hash_ = nullptr;
    session* sessions_ = nullptr;
    uint32_t* free_ = nullptr;
    uint32_t n_free_ = 0;
    uint32_t capacity_ = 0;
    uint32_t active_ = 0;
    uint32_t* wheel_ = nullptr;  // head session per slot
    uint64_t tick_ = 0;          // TSC cycles per slot
    uint64_t cursor_ = 0;        // next tick to process
    flow_timeouts to_{};
};

template <class F>
uint32_t flow_table::expire(uint64_t now, uint32_t budget, F&& on_expire) noexcept {
    uint64_t now_tick = now / tick_;
    if (cursor_ == 0) cursor_ = now_tick;
    uint32_t expired = 0;
    while (cursor_ <= now_tick && budget != 0) {
        uint32_t slot = static_cast<uint32_t>(cursor_ & (wheel_slots - 1));
        uint32_t idx = wheel_[slot];
        bool done = true;
        while (idx != no_session) {
            if (budget == 0) {
                done = false;
                break;
            }
            --budget;
            uint32_t next = sessions_[idx].wheel_next;
            session& s = sessions_[idx];
            uint64_t deadline = (s.last_seen + timeout_of(s)) / tick_;
            if (deadline <= cursor_) {
                on_expire(idx);
                remove(idx);
                ++expired;
            } else {
                unlink(idx);
                link(idx, deadline);
            }
            idx = next;
        }
        if (!done) break;
        ++cursor_;
    }
    return expired;
}

}  // namespace meshgate::dataplane::l4
