#pragma once
// Per-core counters. Each lcore writes only its own block (plain stores through atomic_ref, no
// locked instructions); readers on other threads (telemetry, SIGUSR1 printing) load them relaxed
// and sum across cores.
#include <atomic>
#include <cstdint>

#include "dataplane/drop_reason.hpp"

namespace meshgate::dataplane {

inline constexpr unsigned max_ports = 32;  // RTE_MAX_ETHPORTS in Debian's build
// L4 statistics slots (dataplane/l4/l4_runtime.hpp, stat_slots): stable across config reloads.
inline constexpr unsigned max_backend_stats = 4096;   // slot 0: overflow, never reported
inline constexpr unsigned max_acl_stat_rules = 4096;  // the last slot: "other" (rules beyond the rest)
inline constexpr unsigned max_snat_stats = 1024;      // slot 0: overflow, never reported

// Owner-only increment: a relaxed load and store, which compile to a plain add on x86.
inline void count(uint64_t& c, uint64_t n = 1) noexcept {
    std::atomic_ref<uint64_t> r(c);
    r.store(r.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
// Owner-only decrement of a gauge (the owner never takes it below zero).
inline void uncount(uint64_t& c, uint64_t n = 1) noexcept {
    std::atomic_ref<uint64_t> r(c);
    r.store(r.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}
inline uint64_t read_counter(const uint64_t& c) noexcept {
    return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(c)).load(std::memory_order_relaxed);
}

struct port_counters {
    uint64_t rx_packets;  // frames received
    uint64_t rx_bytes;
    uint64_t tx_packets;  // frames handed to the PMD and accepted
    uint64_t tx_bytes;
    uint64_t drops[drop_reason_count];  // by reason, charged to the ingress port
};

// Traffic of one backend (a stat slot), charged by the worker that owns the session.
struct backend_counters {
    uint64_t packets_to;    // packets sent to the backend
    uint64_t bytes_to;      // their IP bytes as they leave (after NAT, NAT46/64 included)
    uint64_t packets_from;  // packets received from the backend
    uint64_t bytes_from;    // their IP bytes as received
    uint64_t connections;   // sessions opened to the backend
};

struct alignas(64) core_counters {
    port_counters ports[max_ports];
    uint64_t icmp_errors_sent;  // time exceeded, unreachable, packet too big
    uint64_t icmp_echo_replies;
    uint64_t punted;                  // ARP/ND and unresolved packets handed to the control lcore
    uint64_t fragments_sent;          // IPv4 fragments produced
    uint64_t arp_replies_sent;        // control lcore: ARP replies and NAs sent
    uint64_t neighbor_solicits_sent;  // control lcore: ARP requests and NSs sent
    uint64_t neighbors_learned;       // control lcore: entries made or refreshed REACHABLE
    // L4 (workers)
    uint64_t sessions_created;
    uint64_t sessions_expired;      // idle timeout, close, or reset
    uint64_t sessions_active;       // gauge, owner-written
    uint64_t sessions_half_open;    // gauge: TCP sessions to VIPs in SYN state
    uint64_t syn_cookies_sent;      // SYN-ACKs with a cookie (no state kept)
    uint64_t syn_cookies_accepted;  // ACKs with a valid cookie: session created
    uint64_t acl_logged;            // new flows allowed by a "log" rule
    uint64_t nat_icmp_errors;       // ICMP errors translated through a session (RFC 5508)
    uint64_t nat64_translated;      // packets translated between IPv4 and IPv6
    // L4 statistics by stable slot (l4::stat_slots; read with l4/l4_stats.hpp). Kept last: the
    // fields above stay together in the first cache lines.
    uint64_t acl_default_hits;                     // new flows no firewall rule matched
    uint64_t acl_hits[max_acl_stat_rules];         // new flows matched, by rule slot
    uint64_t snat_in_use[max_snat_stats];          // gauge: NAT mappings held, by pool slot
    backend_counters backends[max_backend_stats];  // by backend slot
};

}  // namespace meshgate::dataplane
