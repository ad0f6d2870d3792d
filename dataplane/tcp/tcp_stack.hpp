#pragma once
// A per-core user-space TCP stack (RFC 9293) for terminated traffic: listeners, outbound
// connections, the state machine with simultaneous open and close, MSS/window scale/timestamps/
// SACK options, RFC 6298 retransmission, delayed ACKs, persist and keepalive, NewReno (RFC
// 5681/6582) with SACK loss recovery (RFC 6675) or CUBIC (RFC 9438), RFC 5961 defenses and SYN
// cookies.
//
// Thread contract: one stack per worker lcore, created on the main lcore and then used only by
// its worker (shared-nothing). No allocation after create() except mbufs from the pool, no
// locks, syscalls or exceptions.
//
// Packets in and out are IP packets: the mbuf's data starts at the IPv4 or IPv6 header (no L2).
// Time is the caller's clock in microseconds (a virtual clock in the scenario harness).
//
// The interface to the layer above is zero-copy: received payload is handed over as mbuf
// chains (the received mbufs, headers stripped), and send() takes mbuf chains that are
// referenced, not copied, by the segments put on the wire (indirect mbufs) until acknowledged.
// Events reach the layer above through plain function pointers (callbacks).
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>

#include "policy/result.hpp"

namespace meshgate::dataplane::tcp {

enum class tcp_state : uint8_t {
    closed,
    listen,
    syn_sent,
    syn_received,
    established,
    fin_wait_1,
    fin_wait_2,
    close_wait,
    closing,
    last_ack,
    time_wait,
};
const char* state_name(tcp_state s) noexcept;

enum class cc_algo : uint8_t { cubic, newreno };

// Why a connection ended (on_closed).
enum class close_reason : uint8_t {
    normal,           // both FINs exchanged and acknowledged (or the app closed after the peer's FIN)
    reset,            // the peer sent an acceptable RST
    refused,          // RST in answer to our SYN
    timeout,          // retransmissions exhausted (RTO backoff limit), or keepalive got no answer
    aborted,          // the app called abort()
    connect_timeout,  // SYN retries exhausted
};
const char* close_reason_name(close_reason r) noexcept;

struct stack_config {
    uint32_t max_connections = 16384;  // per stack (per core), TIME_WAIT included
    uint32_t max_time_wait = 4096;     // beyond it the oldest TIME_WAIT connection is reused
    uint16_t mss = 1460;               // what we advertise (IPv6: mss - 20)
    uint16_t mss_floor = 536;          // a peer's MSS option below it is raised to it (tiny-MSS attacks)
    uint8_t wscale = 7;                // our window scale shift (RFC 7323)
    bool timestamps = true;
    bool sack = true;
    uint32_t rcv_buf = 256 * 1024;           // receive buffer per connection (bytes held for the app, and out of order)
    uint32_t snd_buf = 256 * 1024;           // send queue per connection: send() beyond it is refused
    uint32_t ooo_max_per_conn = 128 * 1024;  // out-of-order bytes held per connection
    uint32_t ooo_max_per_core = 16 * 1024 * 1024;  // and per stack
    uint32_t rto_initial_us = 1000000;             // RFC 6298 2.1
    uint32_t rto_min_us = 200000;                  // RFC 6298 2.4 says 1 s; 200 ms as deployed stacks do
    uint32_t rto_max_us = 60000000;                // RFC 6298 2.5
    uint8_t max_retries = 12;                      // RTO expiries in a row before the connection is dropped
    uint8_t syn_retries = 7;           // SYN retransmissions (active open): 183 s, RFC 9293 3.8.3 R2 >= 3 min
    uint8_t synack_retries = 5;        // SYN-ACK retransmissions (passive open)
    uint32_t delack_us = 40000;        // delayed ACK timer (RFC 9293 3.8.6.3: < 0.5 s)
    uint32_t time_wait_us = 60000000;  // 2*MSL
    uint64_t keepalive_idle_us = 0;    // 0: no keepalives (RFC 9293 3.8.4: off by default)
    uint64_t keepalive_interval_us = 75000000;
    uint8_t keepalive_probes = 9;
    uint32_t persist_min_us = 200000;        // zero-window probe interval, backed off to rto_max
    uint32_t half_open_budget = 1024;        // per listener; SYNs beyond it get SYN cookies
    uint32_t challenge_acks_per_sec = 1000;  // RFC 5961 7 (per stack)
    cc_algo cc = cc_algo::cubic;
    bool tail_loss_probe = true;          // RFC 8985 7: a probe at 2 SRTT (10 ms at least) before the RTO
    uint64_t isn_secret[2] = {0, 0};      // RFC 6528 F() key; {0,0}: random at create()
    uint32_t initial_cwnd_segments = 10;  // RFC 6928
};

struct tcp_conn;

// Per-listener or per-connection settings over the stack's (zero / -1: the stack's).
struct conn_options {
    uint32_t rcv_buf = 0;
    uint32_t snd_buf = 0;
    int8_t cc = -1;  // a cc_algo value
    uint16_t mss_floor = 0;
    uint16_t mss = 0;  // what our SYN advertises (e.g. the egress MTU minus 40 or 60)
};

// Callbacks into the layer above. `ctx` is the pointer given with them (listen(), connect() or
// set_callbacks()). Any may be null. A callback may call back into the stack for this connection
// (send, recv, close, abort); after on_closed returns the connection is gone.
struct callbacks {
    // Listener: a new connection reached ESTABLISHED. The app usually calls set_callbacks() on it.
    // Returning false refuses it (the stack resets it).
    bool (*on_accept)(void* ctx, tcp_conn* c) = nullptr;
    void (*on_connected)(void* ctx, tcp_conn* c) = nullptr;  // active open reached ESTABLISHED
    void (*on_readable)(void* ctx, tcp_conn* c) = nullptr;   // new in-order data (or the FIN) to read
    void (*on_writable)(void* ctx, tcp_conn* c) = nullptr;   // the send queue went below half of snd_buf
    void (*on_peer_fin)(void* ctx, tcp_conn* c) = nullptr;   // the peer closed its direction (after its data)
    void (*on_closed)(void* ctx, tcp_conn* c, close_reason r) = nullptr;  // gone (reset, timeout, or done)
};

// Counters of one stack (its worker writes them; others read them relaxed).
struct stack_counters {
    uint64_t segments_in;
    uint64_t segments_out;
    uint64_t bytes_in;     // payload accepted in order
    uint64_t bytes_out;    // payload sent (first transmissions)
    uint64_t retransmits;  // segments sent again (RTO, fast retransmit, SACK recovery, TLP)
    uint64_t rto_expired;
    uint64_t fast_retransmits;
    uint64_t active_opens;
    uint64_t passive_opens;
    uint64_t established;  // gauge
    uint64_t time_wait;    // gauge
    uint64_t conns;        // gauge: all connections held
    uint64_t resets_in;
    uint64_t resets_out;
    uint64_t challenge_acks;
    uint64_t challenge_acks_suppressed;
    uint64_t syn_cookies_sent;
    uint64_t syn_cookies_accepted;
    uint64_t syn_cookies_rejected;
    uint64_t paws_rejected;
    uint64_t bad_checksum;
    uint64_t malformed;           // too short, bad data offset, bad options
    uint64_t ooo_segments;        // received out of order and held
    uint64_t ooo_dropped;         // out of order beyond the per-connection or per-core limit
    uint64_t duplicate_segments;  // entirely old data
    uint64_t out_of_window;       // unacceptable segments (answered with an ACK)
    uint64_t tiny_mss_clamped;
    uint64_t no_connection;   // segments for no connection (answered with RST unless RST)
    uint64_t table_full;      // SYNs or connects refused: max_connections
    uint64_t output_dropped;  // output queue full or mbuf pool empty
    uint64_t time_wait_reused;
    uint64_t keepalive_timeouts;
    uint64_t zero_window_probes;
    uint64_t tail_loss_probes;  // RFC 8985 7
};

// What the app can see of a connection.
struct conn_info {
    tcp_state state;
    uint8_t family;
    uint8_t local_addr[16];
    uint8_t remote_addr[16];
    uint16_t local_port;
    uint16_t remote_port;
    uint32_t snd_mss;  // effective MSS we send with
    uint32_t cwnd;     // bytes
    uint32_t ssthresh;
    uint32_t srtt_us;
    uint32_t rto_us;
    uint32_t snd_wnd;    // the peer's window, scaled
    uint32_t rcv_wnd;    // ours
    uint8_t snd_wscale;  // peer's shift (0 if not negotiated)
    uint8_t rcv_wscale;
    bool ts_ok;
    bool sack_ok;
    uint64_t bytes_in, bytes_out, segs_in, segs_out, retransmits;
    uint32_t unread;     // bytes received and not yet read by the app
    uint32_t unsent;     // bytes queued and not yet sent
    uint32_t in_flight;  // bytes sent and not acknowledged
};

class tcp_stack {
public:
    // `worker`/`workers`: outbound connections pick local ports p with p % workers == worker, so
    // the software dispatcher (and RSS by destination port) brings replies back to this core.
    static result<std::unique_ptr<tcp_stack>> create(const stack_config& cfg, rte_mempool* pool, unsigned worker,
                                                     unsigned workers, uint64_t now_us);
    ~tcp_stack();
    tcp_stack(const tcp_stack&) = delete;
    tcp_stack& operator=(const tcp_stack&) = delete;

    // ---- listeners and connections ------------------------------------------------------------
    // A listener on (family, addr, port); addr all-zero: any address. Returns its id (>= 0) or -1
    // (duplicate or more than 64).
    int listen(uint8_t family, const uint8_t* addr, uint16_t port, const callbacks& cb, void* ctx,
               const conn_options* opts = nullptr) noexcept;
    void unlisten(int id) noexcept;  // established connections stay; half-open ones are reset
    // Active open from (laddr, lport) to (raddr, rport); lport 0 picks a free port of this core in
    // [port_min, port_max]. Null when no port or connection is free.
    tcp_conn* connect(uint8_t family, const uint8_t* laddr, uint16_t lport, const uint8_t* raddr, uint16_t rport,
                      const callbacks& cb, void* ctx, uint64_t now_us, const conn_options* opts = nullptr) noexcept;
    // Whether a segment from (saddr, sport) to (daddr, dport) belongs to a connection (not a listener).
    bool has_connection(uint8_t family, const uint8_t* saddr, uint16_t sport, const uint8_t* daddr,
                        uint16_t dport) const noexcept;
    void set_port_range(uint16_t port_min, uint16_t port_max) noexcept;
    // Ports connect() must not pick although the stack has no connection on them (another
    // user of the same address, e.g. NAT sessions): the filter returns true for a taken tuple.
    using port_filter = bool (*)(void* ctx, uint8_t family, const uint8_t* laddr, uint16_t lport, const uint8_t* raddr,
                                 uint16_t rport);
    void set_port_filter(port_filter f, void* ctx) noexcept;
    void set_callbacks(tcp_conn* c, const callbacks& cb, void* ctx) noexcept;
    void* context(const tcp_conn* c) const noexcept;
    // A user timeout (RFC 9293 3.8.3 spirit): with no segment received for `us` (0: off), the
    // connection is reset and ends with on_closed(timeout), or connect_timeout in SYN-SENT.
    void set_timeout(tcp_conn* c, uint32_t us, uint64_t now_us) noexcept;

    // ---- packets ------------------------------------------------------------------------------
    // Whether a TCP segment to (family, daddr, dport) from (saddr, sport) is the stack's: a
    // connection or a listener. Cheap; used by the worker to steer packets.
    bool wants(uint8_t family, const uint8_t* saddr, uint16_t sport, const uint8_t* daddr,
               uint16_t dport) const noexcept;
    // Takes a received IP packet (data at the IP header, TCP inside, single segment, IPv4 header
    // checksum already verified). The stack owns it afterwards (kept as payload or freed).
    // Segments for no connection and no listener are answered with RST (RFC 9293 3.10.7.1).
    void input(rte_mbuf* m, uint64_t now_us) noexcept;
    // input() for a segment of an existing connection, looked up once by the caller's tuple
    // (source = the peer); false, and the packet untouched, when there is no such connection.
    bool input_connected(rte_mbuf* m, uint8_t family, const uint8_t* saddr, uint16_t sport, const uint8_t* daddr,
                         uint16_t dport, uint64_t now_us) noexcept;
    // A burst of input: ACKs due inside it (every second full-sized segment, out-of-order data)
    // are sent once per connection at end_batch() rather than as each becomes due; data sent
    // meanwhile carries them. Without a batch every ACK goes at once.
    void begin_batch() noexcept;
    void end_batch() noexcept;
    // Timers (RTO, delayed ACK, persist, keepalive, TIME_WAIT). Call often (each loop iteration).
    void poll(uint64_t now_us) noexcept;
    // Takes up to `max` packets the stack wants sent (data at the IP header, checksums filled).
    uint16_t drain(rte_mbuf** out, uint16_t max) noexcept;
    uint16_t pending_output() const noexcept;

    // ---- data ---------------------------------------------------------------------------------
    // Queues an mbuf chain (payload only) to send; the stack owns it from here. Returns false
    // (and frees it) when the connection cannot send any more (closed for writing, or reset).
    // The queue may exceed snd_buf by one call's worth; check send_space() first to respect it.
    bool send(tcp_conn* c, rte_mbuf* data, uint64_t now_us) noexcept;
    uint32_t send_space(const tcp_conn* c) const noexcept;  // snd_buf minus queued bytes
    // Takes up to `max` in-order received bytes as a chain (the received mbufs; the last may be
    // split). Null when nothing is there. Reading opens the receive window again.
    rte_mbuf* recv(tcp_conn* c, uint32_t max, uint64_t now_us) noexcept;
    uint32_t readable(const tcp_conn* c) const noexcept;
    bool peer_closed(const tcp_conn* c) const noexcept;  // FIN received and all data before it read
    // Half-close: a FIN after the queued data (RFC 9293 3.10.4 CLOSE).
    void shutdown_write(tcp_conn* c, uint64_t now_us) noexcept;
    // Full close: shutdown_write, and unread or later data answered with RST (RFC 9293 3.10.4,
    // RFC 1122 4.2.2.13). The connection lives on (FIN-WAIT, TIME_WAIT) without callbacks.
    void close(tcp_conn* c, uint64_t now_us) noexcept;
    // RST now; on_closed(aborted) is not called (the app asked).
    void abort(tcp_conn* c, uint64_t now_us) noexcept;

    conn_info info(const tcp_conn* c) const noexcept;
    tcp_state state(const tcp_conn* c) const noexcept;
    const stack_counters& counters() const noexcept;
    const stack_config& config() const noexcept;
    // Connections currently held (all states).
    uint32_t connection_count() const noexcept;

    struct impl;

private:
    explicit tcp_stack(std::unique_ptr<impl> p) noexcept;
    std::unique_ptr<impl> p_;
};

}  // namespace meshgate::dataplane::tcp
