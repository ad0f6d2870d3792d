#include "dataplane/tcp/tcp_proxy.hpp"

#include <rte_hash_crc.h>

#include <algorithm>
#include <cstring>

#include "dataplane/l4/flow_table.hpp"
#include "dataplane/l4/l4_runtime.hpp"
#include "dataplane/runtime.hpp"

namespace meshgate::dataplane::tcp {

struct tcp_proxy::splice {
    tcp_proxy* owner = nullptr;
    tcp_conn* client = nullptr;
    tcp_conn* server = nullptr;
    uint32_t index = 0;
    uint16_t stat_slot = 0;  // the backend's core_counters::backends[] slot
    bool in_use = false;
    bool connected = false;
    bool fin_to_server = false;
    bool fin_to_client = false;
    uint32_t idle_us = 0;
};

namespace {
uint32_t rd32be(const uint8_t* p) noexcept {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
}  // namespace

result<std::unique_ptr<tcp_proxy>> tcp_proxy::create(const stack_config& cfg, rte_mempool* pool, unsigned worker,
                                                     unsigned workers, core_counters* ctr, uint64_t now_us) {
    auto st = tcp_stack::create(cfg, pool, worker, workers, now_us);
    if (!st) return error{st.error_message()};
    std::unique_ptr<tcp_proxy> p(new tcp_proxy());
    p->stack_ = std::move(st.value());
    // Ports of the proxy's backend connections: above the NAT default range's usual use and
    // below the health probes' (l4_runtime.hpp probe_port_min).
    p->stack_->set_port_range(32768, 60999);
    p->ctr_ = ctr;
    p->listeners_.reserve(64);  // the stack's listener limit: adopt() on the worker never allocates
    p->splices_.resize(cfg.max_connections / 2 + 1);
    p->free_.reserve(p->splices_.size());
    for (uint32_t i = static_cast<uint32_t>(p->splices_.size()); i-- > 0;) {
        p->splices_[i].index = i;
        p->splices_[i].owner = p.get();
        p->free_.push_back(i);
    }
    p->now_ = now_us;
    return p;
}

tcp_proxy::~tcp_proxy() = default;

void tcp_proxy::set_flow_table(const l4::flow_table* flows) noexcept {
    flows_ = flows;
    stack_->set_port_filter(
        [](void* ctx, uint8_t family, const uint8_t* laddr, uint16_t lport, const uint8_t* raddr, uint16_t rport) {
            // The reply tuple of a NAT session to the same backend from the same address and port.
            l4::flow_key k{};
            std::memcpy(k.src, raddr, family == 6 ? 16 : 4);
            std::memcpy(k.dst, laddr, family == 6 ? 16 : 4);
            k.sport = rport;
            k.dport = lport;
            k.proto = 6;
            k.family = family;
            return static_cast<const l4::flow_table*>(ctx)->contains(k);
        },
        const_cast<l4::flow_table*>(flows));
}

void tcp_proxy::adopt(const l4::l4_runtime* rt, uint64_t now_us) noexcept {
    now_ = now_us;
    rt_ = rt;
    rt_serial_ = rt != nullptr ? rt->serial : 0;
    for (auto& l : listeners_) l.seen = false;
    if (rt != nullptr) {
        for (const auto& sv : rt->services) {
            if (sv.mode != policy::nat_mode::tcp_proxy) continue;
            conn_options o;
            o.rcv_buf = sv.proxy.buffer_bytes;
            o.snd_buf = sv.proxy.buffer_bytes;
            o.mss_floor = sv.proxy.min_mss;
            o.cc = static_cast<int8_t>(sv.proxy.newreno ? cc_algo::newreno : cc_algo::cubic);
            bool found = false;
            for (auto& l : listeners_) {
                if (l.id >= 0 && l.family == sv.family && l.port == sv.port && std::memcmp(l.vip, sv.vip, 16) == 0) {
                    bool same = l.opts.rcv_buf == o.rcv_buf && l.opts.mss_floor == o.mss_floor && l.opts.cc == o.cc;
                    if (!same) {
                        // New settings apply to new connections: listen again.
                        stack_->unlisten(l.id);
                        l.id = -1;
                        break;
                    }
                    l.seen = true;
                    found = true;
                    break;
                }
            }
            if (found) continue;
            callbacks cb;
            cb.on_accept = &tcp_proxy::on_accept;
            int id = stack_->listen(sv.family, sv.vip, sv.port, cb, this, &o);
            if (id < 0) continue;  // more than 64 tcp-proxy VIPs: the rest are not served
            listen_entry e{};
            e.id = id;
            e.family = sv.family;
            std::memcpy(e.vip, sv.vip, 16);
            e.port = sv.port;
            e.opts = o;
            e.seen = true;
            listeners_.push_back(e);
        }
    }
    // Services gone: stop listening (their connections live on until they close).
    for (auto& l : listeners_) {
        if (!l.seen && l.id >= 0) {
            stack_->unlisten(l.id);
            l.id = -1;
        }
    }
    std::erase_if(listeners_, [](const listen_entry& l) { return l.id < 0; });
    n_listeners_ = static_cast<uint32_t>(listeners_.size());
}

void tcp_proxy::input(rte_mbuf* m, const route_lookup& routes, uint64_t now_us) noexcept {
    now_ = now_us;
    routes_ = &routes;
    stack_->input(m, now_us);
    routes_ = nullptr;
}

bool tcp_proxy::input_connected(rte_mbuf* m, uint16_t l3_offset, uint8_t family, const uint8_t* saddr, uint16_t sport,
                                const uint8_t* daddr, uint16_t dport, const route_lookup& routes,
                                uint64_t now_us) noexcept {
    // One lookup: L2 goes first (the addresses stay where they are) and comes back on a miss.
    rte_pktmbuf_adj(m, l3_offset);
    now_ = now_us;
    routes_ = &routes;
    bool taken = stack_->input_connected(m, family, saddr, sport, daddr, dport, now_us);
    routes_ = nullptr;
    if (!taken) rte_pktmbuf_prepend(m, l3_offset);
    return taken;
}

void tcp_proxy::poll(uint64_t now_us) noexcept {
    now_ = now_us;
    stack_->poll(now_us);
}

bool tcp_proxy::on_accept(void* ctx, tcp_conn* c) {
    return static_cast<tcp_proxy*>(ctx)->accept(c);
}

bool tcp_proxy::accept(tcp_conn* c) noexcept {
    count(pc_.accepted);
    conn_info ci = stack_->info(c);
    const l4::l4_runtime* rt = rt_;
    int32_t svi = rt != nullptr ? rt->find_service(ci.family, ci.local_addr, 6, ci.local_port) : -1;
    if (svi < 0 || free_.empty()) {
        count(pc_.refused);
        return false;
    }
    const l4::service_rt& sv = rt->services[static_cast<size_t>(svi)];
    if (sv.mode != policy::nat_mode::tcp_proxy || sv.usable_backends == 0 || sv.table == nullptr) {
        count(pc_.refused);
        return false;
    }
    // Maglev over the client's address and port (the same client lands on the same backend).
    uint8_t key[20] = {};
    std::memcpy(key, ci.remote_addr, 16);
    key[16] = static_cast<uint8_t>(ci.remote_port >> 8);
    key[17] = static_cast<uint8_t>(ci.remote_port);
    key[18] = ci.family;
    uint32_t h = rte_hash_crc(key, sizeof key, 0x5bd1e995);
    int32_t bi = sv.table->pick(h);
    if (bi < 0 || static_cast<size_t>(bi) >= sv.backends.size()) {
        count(pc_.refused);
        return false;
    }
    const l4::backend_rt& be = sv.backends[static_cast<size_t>(bi)];
    if (!be.has_nat_src) {
        count(pc_.refused);
        return false;
    }
    conn_options o;
    o.rcv_buf = sv.proxy.buffer_bytes;
    o.snd_buf = sv.proxy.buffer_bytes;
    o.mss_floor = sv.proxy.min_mss;
    o.cc = static_cast<int8_t>(sv.proxy.newreno ? cc_algo::newreno : cc_algo::cubic);
    // MSS from the egress MTU toward the backend (RFC 9293 3.7.1: MTU minus the fixed headers).
    if (routes_ != nullptr) {
        const next_hop* nh = be.family == 6 ? routes_->lookup6(be.addr) : routes_->lookup4(rd32be(be.addr));
        if (nh != nullptr && nh->mtu > 0) {
            uint32_t mss = nh->mtu - (be.family == 6 ? 60u : 40u);
            o.mss = static_cast<uint16_t>(std::min<uint32_t>(mss, 65535));
        }
    }
    uint32_t idx = free_.back();
    splice& s = splices_[idx];
    callbacks scb;
    scb.on_connected = &tcp_proxy::server_connected;
    scb.on_readable = &tcp_proxy::server_readable;
    scb.on_writable = &tcp_proxy::server_writable;
    scb.on_peer_fin = &tcp_proxy::server_fin;
    scb.on_closed = &tcp_proxy::server_closed;
    tcp_conn* srv = stack_->connect(be.family, be.nat_src, 0, be.addr, be.port, scb, &s, now_, &o);
    if (srv == nullptr) {
        count(pc_.refused);
        return false;
    }
    free_.pop_back();
    s.in_use = true;
    s.client = c;
    s.server = srv;
    s.connected = false;
    s.fin_to_server = s.fin_to_client = false;
    s.stat_slot = be.stat_slot;
    s.idle_us = sv.proxy.idle_timeout_ms * 1000u;
    callbacks ccb;
    ccb.on_readable = &tcp_proxy::client_readable;
    ccb.on_writable = &tcp_proxy::client_writable;
    ccb.on_peer_fin = &tcp_proxy::client_fin;
    ccb.on_closed = &tcp_proxy::client_closed;
    stack_->set_callbacks(c, ccb, &s);
    stack_->set_timeout(srv, sv.proxy.connect_timeout_ms * 1000u, now_);
    stack_->set_timeout(c, s.idle_us, now_);
    count(ctr_->backends[s.stat_slot].connections);
    count(pc_.active);
    return true;
}

// Moves what one side has read to the other side's send queue, as far as that queue has room.
// What stays unread closes the reader's receive window: backpressure toward the sender.
void tcp_proxy::pump(splice& s, bool to_server) noexcept {
    tcp_conn* from = to_server ? s.client : s.server;
    tcp_conn* to = to_server ? s.server : s.client;
    if (from == nullptr || to == nullptr || !s.connected) return;
    for (int guard = 0; guard < 64; ++guard) {
        uint32_t avail = stack_->readable(from);
        if (avail == 0) break;
        uint32_t space = stack_->send_space(to);
        if (space == 0) break;
        rte_mbuf* m = stack_->recv(from, std::min(avail, space), now_);
        if (m == nullptr) break;
        uint32_t n = m->pkt_len;
        if (!stack_->send(to, m, now_)) break;
        backend_counters& b = ctr_->backends[s.stat_slot];
        if (to_server) {
            count(pc_.bytes_client_to_backend, n);
            count(b.bytes_to, n);
        } else {
            count(pc_.bytes_backend_to_client, n);
            count(b.bytes_from, n);
        }
        // A callback inside recv/send may have ended either side.
        from = to_server ? s.client : s.server;
        to = to_server ? s.server : s.client;
        if (from == nullptr || to == nullptr) return;
    }
    // Half-close: the FIN goes on once everything before it was passed on.
    bool& fin_done = to_server ? s.fin_to_server : s.fin_to_client;
    if (!fin_done && stack_->peer_closed(from)) {
        fin_done = true;
        stack_->shutdown_write(to, now_);
    }
}

// Segments of the backend connection, charged to the backend when it ends.
void tcp_proxy::charge_segments(const splice& s, const tcp_conn* server) noexcept {
    conn_info i = stack_->info(server);
    backend_counters& b = ctr_->backends[s.stat_slot];
    count(b.packets_to, i.segs_out);
    count(b.packets_from, i.segs_in);
}

void tcp_proxy::release(splice& s) noexcept {
    if (!s.in_use || s.client != nullptr || s.server != nullptr) return;
    s.in_use = false;
    uncount(pc_.active);
    free_.push_back(s.index);
}

void tcp_proxy::client_readable(void* ctx, tcp_conn*) {
    auto& s = *static_cast<splice*>(ctx);
    s.owner->pump(s, true);
}
void tcp_proxy::server_writable(void* ctx, tcp_conn*) {
    auto& s = *static_cast<splice*>(ctx);
    s.owner->pump(s, true);
}
void tcp_proxy::server_readable(void* ctx, tcp_conn*) {
    auto& s = *static_cast<splice*>(ctx);
    s.owner->pump(s, false);
}
void tcp_proxy::client_writable(void* ctx, tcp_conn*) {
    auto& s = *static_cast<splice*>(ctx);
    s.owner->pump(s, false);
}
void tcp_proxy::client_fin(void* ctx, tcp_conn*) {
    auto& s = *static_cast<splice*>(ctx);
    s.owner->pump(s, true);
}
void tcp_proxy::server_fin(void* ctx, tcp_conn*) {
    auto& s = *static_cast<splice*>(ctx);
    s.owner->pump(s, false);
}

void tcp_proxy::server_connected(void* ctx, tcp_conn* c) {
    auto& s = *static_cast<splice*>(ctx);
    tcp_proxy& p = *s.owner;
    s.connected = true;
    count(p.pc_.backend_connected);
    p.stack_->set_timeout(c, s.idle_us, p.now_);
    p.pump(s, true);
    p.pump(s, false);
}

void tcp_proxy::client_closed(void* ctx, tcp_conn*, close_reason r) {
    auto& s = *static_cast<splice*>(ctx);
    tcp_proxy& p = *s.owner;
    s.client = nullptr;
    if (r == close_reason::timeout) count(p.pc_.idle_timeouts);
    if (r != close_reason::normal && s.server != nullptr) {
        // The client went away abruptly: so does the backend connection.
        count(p.pc_.resets_forwarded);
        tcp_conn* srv = s.server;
        s.server = nullptr;
        p.charge_segments(s, srv);
        p.stack_->abort(srv, p.now_);
    } else if (r == close_reason::normal && s.server == nullptr) {
        count(p.pc_.completed);
    } else if (s.server != nullptr && !s.fin_to_server) {
        // Closed normally before its FIN was passed on (both directions done at once).
        s.fin_to_server = true;
        p.stack_->shutdown_write(s.server, p.now_);
    }
    p.release(s);
}

void tcp_proxy::server_closed(void* ctx, tcp_conn* c, close_reason r) {
    auto& s = *static_cast<splice*>(ctx);
    tcp_proxy& p = *s.owner;
    p.charge_segments(s, c);
    s.server = nullptr;
    if (!s.connected) {
        count(p.pc_.backend_failed);
        if (r == close_reason::connect_timeout) count(p.pc_.connect_timeouts);
    }
    if (r == close_reason::timeout && s.connected) count(p.pc_.idle_timeouts);
    if (r != close_reason::normal && s.client != nullptr) {
        count(p.pc_.resets_forwarded);
        tcp_conn* cl = s.client;
        s.client = nullptr;
        p.stack_->abort(cl, p.now_);
    } else if (r == close_reason::normal && s.client == nullptr) {
        count(p.pc_.completed);
    } else if (s.client != nullptr && !s.fin_to_client) {
        s.fin_to_client = true;
        p.stack_->shutdown_write(s.client, p.now_);
    }
    p.release(s);
}

}  // namespace meshgate::dataplane::tcp
