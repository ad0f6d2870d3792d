#pragma once
// The tcp-proxy service mode on a worker: the client's connection to VIP:port terminates in the
// worker's TCP stack; a backend picked by the service's Maglev table gets a connection of its own
// from the backend's NAT source address, with a local port this worker owns (port % workers ==
// worker, so the software dispatcher brings replies back here); bytes are moved both ways as
// mbuf chains (zero-copy). A slow side stops the other from being read: its receive window
// closes instead of data piling up. Connect and idle timeouts come from the service.
//
// Thread contract: created on the main lcore, then used only by its worker.
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/tcp/tcp_stack.hpp"
#include "policy/result.hpp"

namespace meshgate::dataplane {
struct route_lookup;
}
namespace meshgate::dataplane::l4 {
struct l4_runtime;
class flow_table;
}  // namespace meshgate::dataplane::l4

namespace meshgate::dataplane::tcp {

// Counters of a worker's proxy (summed across workers for /metrics).
struct proxy_counters {
    uint64_t accepted;  // client connections handed to the proxy
    uint64_t refused;   // no usable backend, no source address, or no connection slot
    uint64_t backend_connected;
    uint64_t backend_failed;  // refused, reset or timed out before connecting
    uint64_t connect_timeouts;
    uint64_t idle_timeouts;
    uint64_t resets_forwarded;  // one side reset: the other side reset too
    uint64_t completed;         // both sides closed normally
    uint64_t bytes_client_to_backend;
    uint64_t bytes_backend_to_client;
    uint64_t active;  // gauge: spliced pairs alive
};

class tcp_proxy {
public:
    static result<std::unique_ptr<tcp_proxy>> create(const stack_config& cfg, rte_mempool* pool, unsigned worker,
                                                     unsigned workers, core_counters* ctr, uint64_t now_us);
    ~tcp_proxy();

    // Follows the published L4 runtime: listeners for its tcp-proxy services (added, kept,
    // removed; connections of a removed service live on). Worker thread, once per new runtime.
    void adopt(const l4::l4_runtime* rt, uint64_t now_us) noexcept;
    // A TCP segment (data at the IP header) for the stack. `routes` gives egress MTUs.
    void input(rte_mbuf* m, const route_lookup& routes, uint64_t now_us) noexcept;
    // input() when the segment (IP header at `ip`, still behind L2 in `m`) belongs to a
    // connection: strips L2 and takes it. False: not a connection's; the packet is untouched.
    bool input_connected(rte_mbuf* m, uint16_t l3_offset, uint8_t family, const uint8_t* saddr, uint16_t sport,
                         const uint8_t* daddr, uint16_t dport, const route_lookup& routes, uint64_t now_us) noexcept;
    void poll(uint64_t now_us) noexcept;
    uint16_t drain(rte_mbuf** out, uint16_t max) noexcept { return stack_->drain(out, max); }
    uint16_t pending_output() const noexcept { return stack_->pending_output(); }
    bool has_listeners() const noexcept { return n_listeners_ > 0; }
    // The worker's L4 sessions: backend connections never take a tuple a NAT session holds.
    void set_flow_table(const l4::flow_table* flows) noexcept;
    tcp_stack& stack() noexcept { return *stack_; }
    const tcp_stack& stack() const noexcept { return *stack_; }
    const proxy_counters& counters() const noexcept { return pc_; }

    struct splice;

private:
    tcp_proxy() = default;
    static bool on_accept(void* ctx, tcp_conn* c);
    static void client_readable(void* ctx, tcp_conn* c);
    static void client_writable(void* ctx, tcp_conn* c);
    static void client_fin(void* ctx, tcp_conn* c);
    static void client_closed(void* ctx, tcp_conn* c, close_reason r);
    static void server_connected(void* ctx, tcp_conn* c);
    static void server_readable(void* ctx, tcp_conn* c);
    static void server_writable(void* ctx, tcp_conn* c);
    static void server_fin(void* ctx, tcp_conn* c);
    static void server_closed(void* ctx, tcp_conn* c, close_reason r);
    bool accept(tcp_conn* c) noexcept;
    void pump(splice& s, bool to_server) noexcept;
    void release(splice& s) noexcept;
    void charge_segments(const splice& s, const tcp_conn* server) noexcept;

    std::unique_ptr<tcp_stack> stack_;
    core_counters* ctr_ = nullptr;
    const l4::l4_runtime* rt_ = nullptr;
    const l4::flow_table* flows_ = nullptr;
    uint64_t rt_serial_ = 0;
    const route_lookup* routes_ = nullptr;  // of the current input() call
    uint64_t now_ = 0;
    struct listen_entry {
        int id;
        uint8_t family;
        uint8_t vip[16];
        uint16_t port;
        conn_options opts;
        bool seen;
    };
    std::vector<listen_entry> listeners_;
    uint32_t n_listeners_ = 0;
    std::vector<splice> splices_;
    std::vector<uint32_t> free_;
    proxy_counters pc_{};
};

}  // namespace meshgate::dataplane::tcp
