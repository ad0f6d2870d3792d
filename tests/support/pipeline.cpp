#include "tests/support/pipeline.hpp"

#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <cstring>
#include <map>
#include <stdexcept>

namespace meshgate::test {

using namespace meshgate::dataplane;

pipeline::pipeline(const std::string& config_json) {
    static unsigned instance = 0;
    std::string tag = "t" + std::to_string(instance++);
    auto parsed = policy::parse_config_json(config_json);
    if (!parsed) throw std::runtime_error("config: " + parsed.error_message());
    cfg_ = std::move(parsed).value();

    pool_ = rte_pktmbuf_pool_create(("p" + tag).c_str(), 2047, 64, mbuf_priv_size, 9100 + RTE_PKTMBUF_HEADROOM,
                                    SOCKET_ID_ANY);
    punt_ = rte_ring_create(("u" + tag).c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    inject_ = rte_ring_create(("j" + tag).c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    counters_ = static_cast<core_counters*>(rte_zmalloc(nullptr, sizeof(core_counters) * 2, 64));
    batch_ = static_cast<tx_batch*>(rte_zmalloc(nullptr, sizeof(tx_batch), 64));
    if (!pool_ || !punt_ || !inject_ || !counters_ || !batch_) throw std::runtime_error("out of DPDK memory");
    auto nt = neighbor_table::create("n" + tag, 1024, nullptr);
    if (!nt) throw std::runtime_error(nt.error_message());
    nt_ = nt.value();

    std::map<std::string, uint16_t> device_port;
    std::vector<uint16_t> port_of;
    std::vector<rte_ether_addr> port_mac;
    for (const auto& i : cfg_.interfaces) {
        auto [it, fresh] = device_port.try_emplace(i.device, static_cast<uint16_t>(device_port.size()));
        port_of.push_back(it->second);
        rte_ether_addr m{};
        m.addr_bytes[0] = 0x02;
        m.addr_bytes[5] = static_cast<uint8_t>(it->second + 1);
        port_mac.push_back(m);
    }
    auto built = build_runtime(cfg_, port_of, port_mac, *nt_, "r" + tag);
    if (!built) throw std::runtime_error(built.error_message());
    rt_ = std::move(built).value();
    port_of_ = port_of;
    port_mac_ = port_mac;

    fwd_ = std::make_unique<forwarder>(rt_.get(), pool_, &counters_[0], punt_, hz);
    control_ =
        std::make_unique<control_plane>(rt_.get(), nt_, pool_, &counters_[1], hz, control_plane::default_timers(hz));
    control_->add_worker(punt_, inject_);
    self_punt_ = rte_ring_create(("s" + tag).c_str(), 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    ctl_batch_ = static_cast<tx_batch*>(rte_zmalloc(nullptr, sizeof(tx_batch), 64));
    if (!self_punt_ || !ctl_batch_) throw std::runtime_error("out of DPDK memory");
    ctl_fwd_ = std::make_unique<forwarder>(rt_.get(), pool_, &counters_[1], self_punt_, hz);
    control_->set_error_path(ctl_fwd_.get(), ctl_batch_, self_punt_);
    if (auto r = control_->install_static_neighbors(cfg_); !r) throw std::runtime_error(r.error_message());

    auto l4rt = l4::build_l4_runtime(cfg_, *rt_, nullptr, nullptr, "l" + tag);
    if (!l4rt) throw std::runtime_error(l4rt.error_message());
    l4rt_ = std::move(l4rt).value();
    pub_.rt.store(rt_.get());
    pub_.l4.store(l4rt_.get());
    // A fixed cookie secret: tests compute cookies themselves.
    auto l4w = l4::l4_worker::create(0, 1, cfg_.flows.sessions_per_worker, hz, l4::cookie_secret{1, 2}, &counters_[0],
                                     "w" + tag);
    if (!l4w) throw std::runtime_error(l4w.error_message());
    l4_.reset(l4w.value());
    fwd_->attach(l4_.get(), &pub_);
}

void pipeline::reload(const std::string& config_json) {
    static unsigned generation = 0;
    auto parsed = policy::parse_config_json(config_json);
    if (!parsed) throw std::runtime_error("config: " + parsed.error_message());
    policy::config c = std::move(parsed).value();
    const std::string seq = std::to_string(generation++);
    // As the data plane's config_control::prepare: routes or ICMP limits changed, a new runtime.
    std::unique_ptr<dataplane::runtime> next_rt;
    if (!(c.routes4 == cfg_.routes4) || !(c.routes6 == cfg_.routes6) ||
        c.icmp.errors_per_second != cfg_.icmp.errors_per_second || c.icmp.errors_burst != cfg_.icmp.errors_burst) {
        auto made = build_runtime(c, port_of_, port_mac_, *nt_, "rr" + seq + "_");
        if (!made) {
            unpin_unused_gateways(*nt_, {rt_.get()});
            throw std::runtime_error("routes: " + made.error_message());
        }
        next_rt = std::move(made).value();
    }
    auto built = l4::build_l4_runtime(c, next_rt ? *next_rt : *rt_, nullptr, nullptr, "lr" + seq);
    if (!built) {
        next_rt.reset();
        unpin_unused_gateways(*nt_, {rt_.get()});
        throw std::runtime_error(built.error_message());
    }
    // Single-threaded here: the worker adopts it on its next burst; the old one can go at once.
    std::unique_ptr<const l4::l4_runtime> next = std::move(built).value();
    pub_.l4.store(next.get());
    if (next_rt) {
        pub_.rt.store(next_rt.get());
        control_->set_runtime(next_rt.get());
        ctl_fwd_->set_runtime(next_rt.get());
    }
    rte_mbuf* none[1];
    fwd_->process(0, none, 0, now_, *batch_);  // adopt
    l4rt_ = std::move(next);
    if (next_rt) {
        rt_ = std::move(next_rt);
        unpin_unused_gateways(*nt_, {rt_.get()});
    }
    cfg_ = std::move(c);
}

pipeline::~pipeline() {
    l4_.reset();
    control_.reset();
    ctl_fwd_.reset();
    fwd_.reset();
    delete nt_;
    rt_.reset();
    rte_free(batch_);
    rte_free(ctl_batch_);
    rte_ring_free(self_punt_);
    rte_free(counters_);
    rte_ring_free(inject_);
    rte_ring_free(punt_);
    rte_mempool_free(pool_);
}

std::vector<output> pipeline::settle() {
    std::vector<output> out;
    for (int round = 0; round < 16; ++round) {
        control_->poll(now_);
        fwd_->poll(now_);
        rte_mbuf* pkts[burst_size];
        unsigned n = rte_ring_sc_dequeue_burst(inject_, reinterpret_cast<void**>(pkts), burst_size, nullptr);
        if (n != 0) fwd_->enqueue_injected(pkts, static_cast<uint16_t>(n), *batch_);
        bool any = batch_->n_used != 0;
        for (uint16_t i = 0; i < batch_->n_used; ++i) {
            uint16_t port = batch_->used[i];
            for (uint16_t k = 0; k < batch_->count[port]; ++k) {
                rte_mbuf* m = batch_->pkts[port][k];
                bytes frame(m->pkt_len);
                const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, frame.data());
                if (p != frame.data()) std::memcpy(frame.data(), p, m->pkt_len);
                out.push_back({port, std::move(frame)});
                rte_pktmbuf_free(m);
            }
        }
        batch_->clear();
        if (!any && rte_ring_count(punt_) == 0 && rte_ring_count(inject_) == 0 && rte_ring_count(self_punt_) == 0)
            break;
    }
    return out;
}

rte_mbuf* pipeline::make_mbuf(const bytes& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) throw std::runtime_error("pool empty");
    auto* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    if (p == nullptr) throw std::runtime_error("frame too large");
    std::memcpy(p, frame.data(), frame.size());
    return m;
}

std::vector<output> pipeline::send(uint16_t port, const bytes& frame) {
    rte_mbuf* m = make_mbuf(frame);
    m->port = port;
    fwd_->process(port, &m, 1, now_, *batch_);
    return settle();
}

unsigned pipeline::run_burst(uint16_t port, rte_mbuf** pkts, uint16_t n) {
    fwd_->process(port, pkts, n, now_, *batch_);
    unsigned sent = 0;
    for (uint16_t i = 0; i < batch_->n_used; ++i) {
        uint16_t p = batch_->used[i];
        rte_pktmbuf_free_bulk(batch_->pkts[p], batch_->count[p]);
        sent += batch_->count[p];
    }
    batch_->clear();
    return sent;
}

std::vector<output> pipeline::advance(double seconds) {
    std::vector<output> out;
    uint64_t end = now_ + static_cast<uint64_t>(seconds * static_cast<double>(hz));
    while (now_ < end) {
        now_ = std::min(end, now_ + hz / 20);
        auto o = settle();
        out.insert(out.end(), o.begin(), o.end());
    }
    return out;
}

uint64_t pipeline::drops(drop_reason r) const {
    uint64_t v = 0;
    for (int c = 0; c < 2; ++c) {
        for (unsigned p = 0; p < max_ports; ++p) v += counters_[c].ports[p].drops[static_cast<unsigned>(r)];
    }
    return v;
}

uint64_t pipeline::counter(uint64_t core_counters::*field) const {
    return counters_[0].*field + counters_[1].*field;
}

unsigned pipeline::mbufs_in_use() const {
    return rte_mempool_in_use_count(pool_);
}

}  // namespace meshgate::test
