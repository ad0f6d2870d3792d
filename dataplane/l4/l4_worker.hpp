#pragma once
// A worker's L4 stage, run on every IP packet before routing when the snapshot has services,
// SNAT pools, source limits or a firewall: session lookup (both directions), and for a miss the
// new-flow path (rate limits, ACL, service lookup with Maglev, SYN proxy, SNAT). A hit rewrites
// the packet as its session says (NAT, NAT46/64, ICMP errors per RFC 5508). Thread contract:
// created on the main lcore, then used only by its worker; no allocation, locks or syscalls.
#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstdint>

#include "dataplane/counters.hpp"
#include "dataplane/l4/flow_table.hpp"
#include "dataplane/l4/l4_runtime.hpp"
#include "dataplane/l4/syn_cookie.hpp"
#include "dataplane/packet_parse.hpp"

namespace meshgate::dataplane {
struct route_lookup;
}
namespace meshgate::dataplane::tcp {
class tcp_stack;
}

namespace meshgate::dataplane::l4 {

enum class verdict : uint8_t {
    pass,       // continue routing the packet, same family, possibly rewritten
    xlated,     // now the other family, starting at its IP header (L2 stripped): route it as such
    drop,       // drop with `why`
    probe,      // an answer to a health probe: for the control lcore
    handoff,    // belongs to another worker's session (NAT port partition): to `owner`
    terminate,  // a new connection to a tcp-proxy service (firewall and limits passed): to the TCP stack
    too_big,    // translated, it would exceed the egress MTU (`owner` holds the MTU to report,
                // in the packet's own family): the caller sends frag-needed / packet too big
};

struct token_bucket {
    uint64_t credit = 0;  // TSC cycles of credit
    uint64_t last = 0;
    uint64_t cost = 0;  // cycles per token; 0: unlimited
    uint64_t cap = 0;

    void configure(const policy::rate_limit& r, uint64_t hz, unsigned workers) noexcept {
        if (r.rate == 0) {
            cost = 0;
            return;
        }
        // Each worker gets its share of the rate and of the burst.
        cost = hz * workers / r.rate;
        uint64_t burst = r.burst / workers == 0 ? 1 : r.burst / workers;
        cap = cost * burst;
        credit = cap;
        last = 0;
    }
    bool take(uint64_t now) noexcept {
        if (cost == 0) return true;
        if (last != 0) {
            credit += now - last;
            if (credit > cap) credit = cap;
        }
        last = now;
        if (credit < cost) return false;
        credit -= cost;
        return true;
    }
};

struct eim_mapping {
    uint8_t inside[16];
    uint8_t outside[16];
    uint16_t inside_port;
    uint16_t outside_port;
    uint8_t proto;
    uint8_t family;
    uint16_t stat_slot;  // its pool's slot in core_counters::snat_in_use
    uint32_t refs;
};

// A new flow a "log" rule let in, as recorded for the main lcore (fixed size: rte_ring elements).
struct acl_log_record {
    flow_key k;
    uint32_t rule;  // index into the compiled rules
    uint16_t ifindex;
    uint16_t pad;
};
static_assert(sizeof(acl_log_record) % 4 == 0);

class l4_worker {
public:
    // `id` of `n_workers`: NAT source ports p with p % n_workers == id belong to this worker.
    static result<l4_worker*> create(unsigned id, unsigned n_workers, uint32_t capacity, uint64_t tsc_hz,
                                     const cookie_secret& secret, core_counters* ctr, const std::string& name);
    ~l4_worker();
    l4_worker(const l4_worker&) = delete;
    l4_worker& operator=(const l4_worker&) = delete;

    // Where "log" rules record the flows they let in (an rte_ring of acl_log_record elements,
    // multi-producer; full: the record is dropped, the acl_logged counter still counts).
    void set_log_ring(rte_ring* r) noexcept { log_ring_ = r; }
    // The worker's TCP stack: NAT ports its connections use are not handed out (they may share
    // a source address with full-NAT services).
    void set_tcp_stack(const tcp::tcp_stack* s) noexcept { tcp_ = s; }

    // Adopts a newly published runtime (per-worker rate buckets are reset); nothing when it is
    // the current one. Worker thread.
    void adopt(const l4_runtime* rt) noexcept;
    const l4_runtime* current() const noexcept { return rt_; }
    // Whether `rt` (a live, published runtime or null) is not the adopted one. The serial counts:
    // the adopted runtime may have been freed and another allocated at its address.
    bool is_new(const l4_runtime* rt) const noexcept {
        return rt != rt_ || (rt != nullptr && rt->serial != rt_serial_);
    }

    // The stage. `ip` is the packet's IP header inside `m` at info.l3_offset.
    // `owner` is set for verdict::handoff.
    verdict process(rte_mbuf* m, packet_info& info, uint16_t ifindex, const route_lookup& routes, uint64_t now,
                    drop_reason& why, unsigned& owner) noexcept;

    // Burst pre-pass: the keys of a burst's packets looked up together, so that rte_hash
    // overlaps the bucket and key loads of 32 packets instead of waiting on each in turn. Call
    // begin_burst, stage each parsed packet, then lookup_staged; process() then finds its
    // packet's result here (and looks up again if a session came or went meanwhile).
    void begin_burst() noexcept {
        n_pre_ = 0;
        pre_cursor_ = 0;
    }
    void stage(rte_mbuf* m, const packet_info& info) noexcept;
    void lookup_staged() noexcept;

    // Expires idle sessions (bounded work per call).
    void poll(uint64_t now) noexcept;

    flow_table& flows() noexcept { return *flows_; }
    // The counters this worker writes (its own block).
    const core_counters* counters() const noexcept { return ctr_; }

private:
    l4_worker() = default;
    verdict classify(rte_mbuf* m, packet_info& info, uint16_t ifindex, const route_lookup& routes, uint64_t now,
                     drop_reason& why, unsigned& owner) noexcept;
    verdict on_hit(rte_mbuf* m, packet_info& info, uint32_t idx, uint8_t dir, uint8_t tcp_flags, uint64_t now,
                   drop_reason& why) noexcept;
    verdict on_miss(rte_mbuf* m, packet_info& info, const flow_key& k, hash_sig_t sig, uint8_t tcp_flags,
                    uint16_t ifindex, const route_lookup& routes, uint64_t now, drop_reason& why) noexcept;
    verdict on_icmp_error(rte_mbuf* m, packet_info& info, uint16_t ifindex, uint64_t now, drop_reason& why,
                          unsigned& owner) noexcept;
    verdict translate(rte_mbuf* m, packet_info& info, const session& s, uint8_t dir) noexcept;
    verdict new_service_flow(rte_mbuf* m, packet_info& info, const flow_key& k, hash_sig_t sig, uint8_t tcp_flags,
                             int32_t svc, uint64_t now, drop_reason& why) noexcept;
    verdict syn_cookie_reply(rte_mbuf* m, packet_info& info, const flow_key& k, uint64_t now) noexcept;
    verdict syn_proxy_accept(rte_mbuf* m, packet_info& info, const flow_key& k, hash_sig_t sig, int32_t svc,
                             int mss_index, uint64_t now, drop_reason& why) noexcept;
    uint32_t open_service_session(const service_rt& sv, int32_t b, const flow_key& k, hash_sig_t sig, uint64_t now,
                                  drop_reason& why) noexcept;
    bool pick_port(flow_key& t1, uint16_t preferred, uint16_t lo, uint16_t hi) noexcept;
    bool port_free(const flow_key& t1) const noexcept;
    bool snat_eim(flow_key& t1, const flow_key& t0, const snat_rt& pool, const uint8_t* addr,
                  uint32_t& mapping) noexcept;
    bool acl_allows(const flow_key& k, uint16_t ifindex, bool has_ports) noexcept;
    bool source_admit(const flow_key& k, uint64_t now, bool new_flow, drop_reason& why) noexcept;
    bool source_count_add(const flow_key& k) noexcept;
    void source_count_del(const flow_key& k) noexcept;
    void release(uint32_t idx) noexcept;
    void release_mapping(uint32_t mapping) noexcept;
    bool revalidate(session& s) noexcept;
    // A packet of service session `s` that translate() (or a rebuild) sent toward its backend
    // with verdict `v`: charged to the backend's counters when it leaves.
    void count_to_backend(const session& s, verdict v, const rte_mbuf* m, const packet_info& info) noexcept {
        if (v != verdict::pass && v != verdict::xlated) return;
        backend_counters& b = ctr_->backends[s.stat_slot];
        count(b.packets_to);
        // Translated to the other family, the mbuf holds exactly the new IP packet.
        count(b.bytes_to, v == verdict::xlated ? rte_pktmbuf_pkt_len(m) : info.ip_total);
    }
    uint64_t seconds(uint64_t now) const noexcept { return now / hz_; }
    uint32_t next_random() noexcept {
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 7;
        rng_ ^= rng_ << 17;
        return static_cast<uint32_t>(rng_ >> 16);
    }

    unsigned id_ = 0;
    unsigned n_workers_ = 1;
    uint64_t hz_ = 1;
    uint64_t rng_ = 0x9e3779b97f4a7c15ULL;
    cookie_secret secret_;
    core_counters* ctr_ = nullptr;
    flow_table* flows_ = nullptr;
    const l4_runtime* rt_ = nullptr;
    uint64_t rt_serial_ = 0;  // rt_->serial when adopted
    uint32_t rt_epoch_ = 1;   // bumped on adopt; sessions of service kind revalidate when it differs
    rte_hash* per_source_ = nullptr;
    rte_hash* eim_index_ = nullptr;
    eim_mapping* eim_ = nullptr;
    uint32_t* eim_free_ = nullptr;
    uint32_t eim_n_free_ = 0;
    uint32_t half_open_ = 0;
    rte_ring* log_ring_ = nullptr;
    const tcp::tcp_stack* tcp_ = nullptr;
    uint64_t next_poll_ = 0;
    const route_lookup* routes_ = nullptr;  // of the current process() call
    uint32_t too_big_mtu_ = 0;
    struct staged {
        rte_mbuf* m;
        flow_key k;
        uint32_t idx;
        uint8_t dir;
    };
    staged pre_[64];
    uint16_t n_pre_ = 0;
    uint16_t pre_cursor_ = 0;
    token_bucket svc_flows_[max_services];
    token_bucket svc_packets_[max_services];
    token_bucket src_flows_[max_source_limits];
    token_bucket src_packets_[max_source_limits];
};

}  // namespace meshgate::dataplane::l4
