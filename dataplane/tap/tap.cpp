#include "dataplane/tap/tap.hpp"

#include <fcntl.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pcapng.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>

#include "dataplane/forwarder.hpp"
#include "dataplane/runtime.hpp"
#include "dataplane/tap/erspan.hpp"
#include "dataplane/wire.hpp"

namespace meshgate::dataplane::tap {
namespace {

constexpr uint16_t copy_priv_size =
    (sizeof(copy_meta) + RTE_MBUF_PRIV_ALIGN - 1) & ~static_cast<size_t>(RTE_MBUF_PRIV_ALIGN - 1);
constexpr unsigned write_batch = 32;    // formatted packets per tap before a write
constexpr unsigned mirror_flush = 256;  // mirror packets queued before the batch is flushed

copy_meta* meta_of_copy(rte_mbuf* m) noexcept {
    return static_cast<copy_meta*>(rte_mbuf_to_priv(m));
}

void v4_bytes(uint32_t host, uint8_t* out) noexcept {
    wire::wr32(out, host);
}

// mkdir -p, then: a writable directory.
result<bool> make_dirs(const std::string& dir) {
    for (size_t pos = 1; pos != std::string::npos;) {
        pos = dir.find('/', pos + 1);
        std::string part = dir.substr(0, pos);
        if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
            return error{"cannot create " + part + ": " + std::strerror(errno)};
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return error{dir + " is not a directory"};
    if (::access(dir.c_str(), W_OK) != 0) return error{dir + " is not writable: " + std::strerror(errno)};
    return true;
}

std::string quoted(const std::string& s) {
    return "\"" + s + "\"";
}

}  // namespace

// ---- build ----------------------------------------------------------------------------------

result<compiled_taps> build(const policy::config& cfg, const runtime& rt) {
    compiled_taps out;
    if (cfg.taps.size() > max_taps)
        return error{"taps: " + std::to_string(cfg.taps.size()) + " taps, more than " + std::to_string(max_taps)};
    for (size_t i = 0; i < cfg.taps.size(); ++i) {
        const auto& t = cfg.taps[i];
        const std::string f = "taps[" + std::to_string(i) + "]";
        auto d = std::make_shared<tap_def>();
        d->cfg = t;
        auto flt = compile_filter(t.filter, t.snap_length);
        if (!flt) return error{f + ".filter: " + quoted(t.filter) + ": " + flt.error_message()};
        d->flt = std::move(flt).value();
        auto add = [&](size_t k) {
            d->ports |= uint64_t{1} << rt.interfaces[k].port;
            d->interfaces.push_back(rt.interfaces[k].name);
        };
        if (t.interfaces.empty()) {
            for (size_t k = 0; k < rt.interfaces.size(); ++k) add(k);
        } else {
            for (size_t j = 0; j < t.interfaces.size(); ++j) {
                if (t.interfaces[j] >= rt.interfaces.size())
                    return error{f + ".interfaces[" + std::to_string(j) + "]: no interface " +
                                 std::to_string(t.interfaces[j])};
                add(t.interfaces[j]);
            }
        }
        if (t.mirror_collector) {
            const auto& c = *t.mirror_collector;
            const next_hop* nh = nullptr;
            if (c.is_v6) {
                std::memcpy(d->mirror_dst, c.v6.bytes.data(), 16);
                nh = rt.routes->lookup6(d->mirror_dst);
            } else {
                v4_bytes(c.v4.value, d->mirror_dst);
                nh = rt.routes->lookup4(c.v4.value);
            }
            const std::string fc = f + ".mirror.collector: " + policy::to_string(c);
            if (nh == nullptr) return error{fc + " has no route"};
            if (nh->kind != nh_kind::forward) return error{fc + " is an own or broadcast address"};
            const interface_rt& ifc = rt.interfaces[nh->ifindex];
            if (c.is_v6) {
                if (!ifc.has_ipv6) return error{fc + ": interface " + ifc.name + " toward it has no IPv6 address"};
                std::memcpy(d->mirror_src, ifc.ipv6_primary.bytes.data(), 16);
            } else {
                if (ifc.ipv4_primary == 0)
                    return error{fc + ": interface " + ifc.name + " toward it has no IPv4 address"};
                v4_bytes(ifc.ipv4_primary, d->mirror_src);
            }
            d->mirror_nh = nh;
        }
        if (!t.directory.empty()) {
            if (auto r = make_dirs(t.directory); !r) return error{f + ".directory: " + r.error_message()};
        }
        out.taps.push_back(std::move(d));
    }
    return out;
}

// ---- worker side ----------------------------------------------------------------------------

bool tap_worker::admit(const active_tap& t, uint32_t len, uint64_t now) noexcept {
    if (t.pkt_rate == 0 && t.byte_rate == 0) return true;
    bucket& b = buckets_[t.slot];
    if (b.epoch != t.epoch) {
        b.pkts = t.pkt_burst;
        b.bytes = t.byte_burst;
        b.last = now;
        b.epoch = t.epoch;
    } else if (now > b.last) {
        const auto dt = static_cast<double>(now - b.last);
        b.pkts = std::min(t.pkt_burst, b.pkts + dt * t.pkt_rate);
        b.bytes = std::min(t.byte_burst, b.bytes + dt * t.byte_rate);
        b.last = now;
    }
    if (t.pkt_rate != 0 && b.pkts < 1.0) return false;
    if (t.byte_rate != 0 && b.bytes <= 0) return false;  // a packet may overdraw by its own size
    if (t.pkt_rate != 0) b.pkts -= 1.0;
    if (t.byte_rate != 0) b.bytes -= len;
    return true;
}

void tap_worker::capture(const tap_set& s, uint16_t port, uint16_t queue, rte_mbuf* const* pkts, uint16_t n,
                         uint8_t dir) noexcept {
    const uint64_t bit = uint64_t{1} << port;
    if ((s.ports[dir] & bit) == 0) return;
    pending p;
    p.port = port;
    p.queue = queue;
    p.dir = dir;
    for (unsigned ti = 0; ti < s.n; ++ti) {
        const active_tap& t = s.taps[ti];
        if ((t.dirs & dir) == 0 || (t.ports & bit) == 0) continue;
        if (t.jit != nullptr) {
            // The common case: native code per packet, the verdict used at once.
            for (uint16_t i = 0; i < n; ++i) {
                if (t.flt->may_match(pkts[i]) && t.jit(pkts[i]) != 0) [[unlikely]]
                    take(t, pkts[i], p);
            }
        } else if (t.flt != nullptr) {
            uint64_t rc[burst_size];
            for (uint16_t base = 0; base < n; base = static_cast<uint16_t>(base + burst_size)) {
                const auto k = static_cast<uint16_t>(std::min<unsigned>(burst_size, n - base));
                t.flt->run(pkts + base, k, rc);
                for (uint16_t i = 0; i < k; ++i) {
                    if (rc[i] != 0) take(t, pkts[base + i], p);
                }
            }
        } else {
            for (uint16_t i = 0; i < n; ++i) take(t, pkts[i], p);
        }
    }
    if (p.n != 0) enqueue(p.copies, p.slots, p.n);
}

void tap_worker::take(const active_tap& t, rte_mbuf* m, pending& p) noexcept {
    if (m->pool == skip_pool_) [[unlikely]]
        return;
    slot_counters& c = ctr_[t.slot];
    count(c.matched);
    if (p.now == 0) p.now = rte_rdtsc();  // once per burst, and only when something matched
    const uint32_t len = std::min(rte_pktmbuf_pkt_len(m), t.snap);
    if (!admit(t, len, p.now)) {
        count(c.dropped_rate_limit);
        return;
    }
    rte_mbuf* cp = rte_pktmbuf_copy(m, pool_, 0, len);
    if (cp == nullptr) [[unlikely]] {
        count(c.dropped_no_buffer);
        return;
    }
    copy_meta* meta = meta_of_copy(cp);
    meta->tsc = p.now;
    meta->orig_len = rte_pktmbuf_pkt_len(m);
    meta->slot = t.slot;
    meta->port = p.port;
    meta->queue = p.queue;
    meta->dir = p.dir;
    p.slots[p.n] = t.slot;
    p.copies[p.n++] = cp;
    if (p.n == copy_burst) {
        enqueue(p.copies, p.slots, p.n);
        p.n = 0;
    }
}

void tap_worker::enqueue(rte_mbuf** copies, const uint16_t* slots, unsigned n) noexcept {
    // `slots` was read before the enqueue: once in the ring a copy belongs to the main lcore.
    unsigned done = rte_ring_sp_enqueue_burst(ring_, reinterpret_cast<void**>(copies), n, nullptr);
    for (unsigned i = 0; i < done; ++i) count(ctr_[slots[i]].captured);
    for (unsigned i = done; i < n; ++i) {
        count(ctr_[slots[i]].dropped_ring_full);
        rte_pktmbuf_free(copies[i]);
    }
}

// ---- manager --------------------------------------------------------------------------------

result<std::unique_ptr<manager>> manager::create(const manager_params& p) {
    if (p.n_workers == 0 || p.tsc_hz == 0) return error{"taps: no workers or no TSC frequency"};
    std::unique_ptr<manager> m(new manager(p));
    m->tsc0_ = rte_rdtsc();
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    m->ns0_ = static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);

    const uint32_t frame = std::clamp<uint32_t>(p.max_frame, 64, 65535 - 512);
    m->p_.max_frame = frame;
    const int socket = static_cast<int>(rte_socket_id());
    auto cache = [](unsigned n) { return std::min(128U, n / 4); };
    m->copy_pool_ = rte_pktmbuf_pool_create((p.name + "_copy").c_str(), p.copies, cache(p.copies), copy_priv_size,
                                            static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + frame), socket);
    // rte_pcapng_copy adds the block header in front (headroom) and options behind.
    m->fmt_pool_ = rte_pktmbuf_pool_create((p.name + "_fmt").c_str(), 1023, 0, 0,
                                           static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + frame + 128), socket);
    // Mirror packets go through the forwarder (punt metadata in the private area) and may wait
    // for neighbor resolution on the control lcore like any originated packet.
    m->mirror_pool_ =
        rte_pktmbuf_pool_create((p.name + "_mir").c_str(), p.mirror_buffers, cache(p.mirror_buffers), mbuf_priv_size,
                                static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + frame + 128), socket);
    if (m->copy_pool_ == nullptr || m->fmt_pool_ == nullptr || m->mirror_pool_ == nullptr)
        return error{"taps: cannot allocate the tap mempools (" + std::to_string(p.copies) +
                     " copies): " + rte_strerror(rte_errno)};
    for (unsigned w = 0; w < p.n_workers; ++w) {
        rte_ring* r = rte_ring_create((p.name + "_r" + std::to_string(w)).c_str(), p.ring_size, socket,
                                      RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (r == nullptr)
            return error{"taps: cannot allocate the worker rings: " + std::string(rte_strerror(rte_errno))};
        m->rings_.push_back(r);
        m->workers_.push_back(std::make_unique<tap_worker>(&m->pub_, r, m->copy_pool_, m->mirror_pool_));
    }
    return m;
}

manager::~manager() {
    unregister_telemetry();
    delete pub_.exchange(nullptr);
    for (rte_ring* r : rings_) {
        void* obj = nullptr;
        while (rte_ring_sc_dequeue(r, &obj) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
        rte_ring_free(r);
    }
    for (auto& t : slots_) {
        if (!t) continue;
        for (rte_mbuf* f : t->pending) rte_pktmbuf_free(f);
        t->pending.clear();
        t.reset();
    }
    rte_mempool_free(copy_pool_);
    rte_mempool_free(fmt_pool_);
    rte_mempool_free(mirror_pool_);
}

void manager::set_output(forwarder* fwd, tx_batch* batch, void (*flush)(void*), void* flush_arg) noexcept {
    fwd_ = fwd;
    batch_ = batch;
    flush_ = flush;
    flush_arg_ = flush_arg;
}

void manager::log(const std::string& line) const {
    if (log_) {
        log_(line);
        return;
    }
    std::printf("meshgate-dataplane: %s\n", line.c_str());
    std::fflush(stdout);
}

uint64_t manager::tsc_to_ns(uint64_t tsc) const noexcept {
    // Whole seconds and the remainder separately: no overflow for any TSC below 18 GHz.
    const uint64_t hz = p_.tsc_hz;
    const bool before = tsc < tsc0_;
    const uint64_t d = before ? tsc0_ - tsc : tsc - tsc0_;
    const uint64_t ns = d / hz * 1000000000ULL + d % hz * 1000000000ULL / hz;
    return before ? ns0_ - ns : ns0_ + ns;
}

slot_counters manager::sum(unsigned slot) const noexcept {
    slot_counters s{};
    for (const auto& w : workers_) {
        const slot_counters& c = w->counters(slot);
        s.matched += read_counter(c.matched);
        s.captured += read_counter(c.captured);
        s.dropped_rate_limit += read_counter(c.dropped_rate_limit);
        s.dropped_ring_full += read_counter(c.dropped_ring_full);
        s.dropped_no_buffer += read_counter(c.dropped_no_buffer);
    }
    return s;
}

manager::tap_state* manager::find(const std::string& name) noexcept {
    for (tap_state* t : order_) {
        if (t->def->cfg.name == name) return t;
    }
    return nullptr;
}

const manager::tap_state* manager::find(const std::string& name) const noexcept {
    for (const tap_state* t : order_) {
        if (t->def->cfg.name == name) return t;
    }
    return nullptr;
}

void manager::publish() {
    auto s = std::make_unique<tap_set>();
    const auto workers = static_cast<double>(p_.n_workers);
    const auto hz = static_cast<double>(p_.tsc_hz);
    for (const tap_state* t : order_) {
        if (!t->running) continue;
        const auto& c = t->def->cfg;
        active_tap& a = s->taps[s->n++];
        a.slot = t->slot;
        a.epoch = t->epoch;
        a.dirs = static_cast<uint8_t>(c.direction);
        a.ports = t->def->ports;
        a.flt = t->def->flt.get();
        a.jit = a.flt != nullptr ? a.flt->jit() : nullptr;
        a.snap = std::min(c.snap_length, p_.max_frame);
        // Each worker polices its share: rate/workers, burst/workers (at least one packet).
        if (c.packets.rate != 0) {
            a.pkt_rate = c.packets.rate / workers / hz;
            a.pkt_burst = std::max(1.0, (c.packets.burst != 0 ? c.packets.burst : c.packets.rate) / workers);
        }
        if (c.bytes.rate != 0) {
            a.byte_rate = c.bytes.rate / workers / hz;
            a.byte_burst = std::max(1.0, (c.bytes.burst != 0 ? c.bytes.burst : c.bytes.rate) / workers);
        }
        if ((a.dirs & dir_rx) != 0) s->ports[dir_rx] |= a.ports;
        if ((a.dirs & dir_tx) != 0) s->ports[dir_tx] |= a.ports;
        s->keep.push_back(t->def);
    }
    const tap_set* next = s->n == 0 ? nullptr : s.release();
    const tap_set* old = pub_.exchange(next, std::memory_order_acq_rel);
    if (old != nullptr) {
        // No worker holds the old set after its next quiescent point (they report one per loop).
        if (p_.qsbr != nullptr) rte_rcu_qsbr_synchronize(p_.qsbr, RTE_QSBR_THRID_INVALID);
        delete old;
    }
}

void manager::set_writer(tap_state& t) {
    write_pending(t);
    t.out.reset();
    const auto& c = t.def->cfg;
    if (c.directory.empty()) return;
    std::string comment = "meshgate tap " + c.name;
    if (!c.filter.empty()) comment += ": " + c.filter;
    t.out = std::make_unique<pcapng_files>(c.directory, c.name, c.max_file_bytes, c.max_files, comment);
}

void manager::apply(compiled_taps next) {
    std::set<std::string> names;
    for (const auto& d : next.taps) names.insert(d->cfg.name);

    // Taps that go away: unpublished first, their copies in flight written, then their slots
    // are free (a slot is reused only after no worker can still count into it).
    std::vector<tap_state*> gone;
    for (tap_state* t : order_) {
        if (names.count(t->def->cfg.name) == 0) gone.push_back(t);
    }
    if (!gone.empty()) {
        bool was_running = false;
        for (tap_state* t : gone) {
            was_running = was_running || t->running;
            t->running = false;
        }
        if (was_running) publish();
        drain(p_.ring_size);  // a ring holds fewer: what was queued before the publish
        for (tap_state* t : gone) {
            log("tap " + t->def->cfg.name + ": removed");
            order_.erase(std::find(order_.begin(), order_.end(), t));
            slots_[t->slot].reset();
        }
    }

    std::vector<tap_state*> order;
    std::vector<tap_state*> stopped;
    for (auto& d : next.taps) {
        tap_state* t = find(d->cfg.name);
        if (t != nullptr) {
            const auto old = t->def;
            t->def = d;
            t->epoch = ++epochs_;
            // The running state set by start/stop stays, unless the config's `start` changed.
            if (old->cfg.start != d->cfg.start) {
                if (t->running && !d->cfg.start) stopped.push_back(t);
                t->running = d->cfg.start;
            }
            if (old->cfg.directory != d->cfg.directory) {
                set_writer(*t);
            } else if (t->out) {
                t->out->set_limits(d->cfg.max_file_bytes, d->cfg.max_files);
            }
        } else {
            unsigned slot = 0;
            while (slot < max_taps && slots_[slot]) ++slot;
            if (slot == max_taps) {  // build() allows no more than max_taps
                log("tap " + d->cfg.name + ": not installed, no free slot");
                continue;
            }
            auto st = std::make_unique<tap_state>();
            st->def = d;
            st->slot = static_cast<uint16_t>(slot);
            st->epoch = ++epochs_;
            st->running = d->cfg.start;
            st->base = sum(slot);
            st->pending.reserve(write_batch);
            t = st.get();
            slots_[slot] = std::move(st);
            set_writer(*t);
            log("tap " + d->cfg.name + ": installed" + (t->running ? ", running" : ", stopped"));
        }
        order.push_back(t);
    }
    order_ = std::move(order);
    publish();
    if (!stopped.empty()) {
        drain(p_.ring_size);
        for (tap_state* t : stopped) {
            write_pending(*t);
            if (t->out) t->out->close();
        }
    }
}

result<bool> manager::start(const std::string& name) {
    tap_state* t = find(name);
    if (t == nullptr) return error{"no tap named " + quoted(name)};
    if (t->running) return error{"tap " + quoted(name) + " is already running"};
    t->running = true;
    publish();
    log("tap " + name + ": started");
    return true;
}

result<bool> manager::stop(const std::string& name) {
    tap_state* t = find(name);
    if (t == nullptr) return error{"no tap named " + quoted(name)};
    if (!t->running) return error{"tap " + quoted(name) + " is not running"};
    t->running = false;
    publish();
    drain(p_.ring_size);  // what the workers copied before the stop (bounded: others may keep copying)
    write_pending(*t);
    if (t->out) t->out->close();
    log("tap " + name + ": stopped");
    return true;
}

void manager::mirror(tap_state& t, const rte_mbuf* copy, const copy_meta& meta) noexcept {
    const tap_def& d = *t.def;
    if (fwd_ == nullptr || d.mirror_nh == nullptr) {
        ++t.mirror_dropped;
        return;
    }
    const bool v6 = d.cfg.mirror_collector->is_v6;
    const size_t oh = erspan_overhead(v6);
    // The outer packet must fit the egress MTU: longer frames are truncated (as switches do).
    const uint32_t room = d.mirror_nh->mtu > oh ? static_cast<uint32_t>(d.mirror_nh->mtu - oh) : 0;
    const uint32_t frame_len = std::min(rte_pktmbuf_pkt_len(copy), room);
    rte_mbuf* m = rte_pktmbuf_alloc(mirror_pool_);
    if (m == nullptr) {
        ++t.mirror_dropped;
        return;
    }
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(oh + frame_len)));
    const void* frame = p == nullptr ? nullptr : rte_pktmbuf_read(copy, 0, frame_len, p + oh);
    if (frame == nullptr) {
        rte_pktmbuf_free(m);
        ++t.mirror_dropped;
        return;
    }
    if (frame != p + oh) std::memcpy(p + oh, frame, frame_len);
    erspan_params ep;
    ep.v6 = v6;
    std::memcpy(ep.src, d.mirror_src, 16);
    std::memcpy(ep.dst, d.mirror_dst, 16);
    ep.ip_id = t.ip_id++;
    ep.sequence = t.gre_seq++;
    ep.session = d.cfg.mirror_session;
    ep.index = meta.port;
    write_erspan(p, ep, p + oh, frame_len);
    if (v6) {
        fwd_->emit6(m, 0, *d.mirror_nh, d.mirror_dst, no_interface, *batch_);
    } else {
        fwd_->emit4(m, 0, *d.mirror_nh, wire::rd32(d.mirror_dst), no_interface, *batch_);
    }
    ++t.mirrored;
    if (++mirror_queued_ >= mirror_flush) flush_mirrors();
}

void manager::flush_mirrors() noexcept {
    if (mirror_queued_ != 0 && flush_ != nullptr) flush_(flush_arg_);
    mirror_queued_ = 0;
}

void manager::write_pending(tap_state& t) {
    if (t.pending.empty()) return;
    if (!t.out) {
        rte_pktmbuf_free_bulk(t.pending.data(), static_cast<unsigned>(t.pending.size()));
        t.pending.clear();
        return;
    }
    const uint64_t before = t.out->bytes_written();
    const auto n = static_cast<uint16_t>(t.pending.size());
    auto r = t.out->write(t.pending.data(), n);  // frees them
    t.pending.clear();
    t.written += t.out->bytes_written() - before;
    if (!r) {
        t.write_errors += n;
        if (!t.logged_error) log("tap " + t.def->cfg.name + ": " + r.error_message());
        t.logged_error = true;
    } else {
        t.logged_error = false;
    }
}

void manager::write_all_pending() {
    for (tap_state* t : order_) write_pending(*t);
}

void manager::handle(rte_mbuf* copy) {
    const copy_meta meta = *meta_of_copy(copy);
    tap_state* t = meta.slot < max_taps ? slots_[meta.slot].get() : nullptr;
    if (t == nullptr) {
        rte_pktmbuf_free(copy);
        return;
    }
    if (t->def->cfg.mirror_collector) mirror(*t, copy, meta);
    if (t->out) {
        const auto dir = meta.dir == dir_rx ? RTE_PCAPNG_DIRECTION_IN : RTE_PCAPNG_DIRECTION_OUT;
        // rte_pcapng keeps one TSC/wall-clock reference that a TSC older than it corrupts, so it
        // gets the current TSC (monotonic on this lcore) and the capture time is written after.
        rte_mbuf* f = rte_pcapng_copy(meta.port, meta.queue, copy, fmt_pool_, UINT32_MAX, rte_rdtsc(), dir);
        if (f == nullptr) {  // the format pool is held by pending batches: write them, retry
            write_all_pending();
            f = rte_pcapng_copy(meta.port, meta.queue, copy, fmt_pool_, UINT32_MAX, rte_rdtsc(), dir);
        }
        if (f != nullptr) {
            // Enhanced packet block (pcapng section 4.3): timestamp high/low at 12/16, original
            // length at 24, in the section's (host) byte order.
            const uint64_t ns = tsc_to_ns(meta.tsc);
            const auto hi = static_cast<uint32_t>(ns >> 32), lo = static_cast<uint32_t>(ns);
            auto* epb = rte_pktmbuf_mtod(f, uint8_t*);
            std::memcpy(epb + 12, &hi, 4);
            std::memcpy(epb + 16, &lo, 4);
            std::memcpy(epb + 24, &meta.orig_len, 4);
            t->pending.push_back(f);
            if (t->pending.size() >= write_batch) write_pending(*t);
        } else {
            ++t->write_errors;
        }
    }
    rte_pktmbuf_free(copy);
}

unsigned manager::drain(unsigned max_per_ring) {
    unsigned total = 0;
    rte_mbuf* b[copy_burst];
    for (rte_ring* r : rings_) {
        unsigned got = 0;
        while (got < max_per_ring) {
            unsigned k = rte_ring_sc_dequeue_burst(r, reinterpret_cast<void**>(b),
                                                   std::min<unsigned>(copy_burst, max_per_ring - got), nullptr);
            if (k == 0) break;
            for (unsigned i = 0; i < k; ++i) handle(b[i]);
            got += k;
        }
        total += got;
    }
    write_all_pending();
    flush_mirrors();
    return total;
}

unsigned manager::poll() {
    run_calls();
    return drain(512);
}

void manager::shutdown() {
    fwd_ = nullptr;   // nobody forwards any more
    drain(UINT_MAX);  // the workers stopped: the rings only empty
    for (tap_state* t : order_) {
        write_pending(*t);
        if (t->out) t->out->close();
    }
}

std::vector<tap_stats> manager::stats() const {
    std::vector<tap_stats> rows;
    for (const tap_state* t : order_) {
        const slot_counters c = sum(t->slot);
        tap_stats r;
        r.name = t->def->cfg.name;
        r.running = t->running;
        r.matched = c.matched - t->base.matched;
        r.captured = c.captured - t->base.captured;
        r.dropped_rate_limit = c.dropped_rate_limit - t->base.dropped_rate_limit;
        r.dropped_ring_full = c.dropped_ring_full - t->base.dropped_ring_full;
        r.dropped_no_buffer = c.dropped_no_buffer - t->base.dropped_no_buffer;
        r.written_bytes = t->written;
        r.files = t->out ? t->out->files().size() : 0;
        r.mirrored = t->mirrored;
        r.mirror_dropped = t->mirror_dropped;
        r.write_errors = t->write_errors;
        rows.push_back(std::move(r));
    }
    return rows;
}

std::vector<tap_description> manager::describe() const {
    std::vector<tap_description> out;
    auto rows = stats();
    for (size_t i = 0; i < order_.size(); ++i) {
        const tap_state* t = order_[i];
        const auto& c = t->def->cfg;
        tap_description d;
        d.stats = std::move(rows[i]);
        d.filter = c.filter;
        d.direction = c.direction == policy::tap_settings::dir::rx   ? "rx"
                      : c.direction == policy::tap_settings::dir::tx ? "tx"
                                                                     : "both";
        d.interfaces = t->def->interfaces;
        d.snap_length = std::min(c.snap_length, p_.max_frame);
        d.jit = t->def->flt != nullptr && t->def->flt->jitted();
        d.directory = c.directory;
        if (c.mirror_collector) d.collector = policy::to_string(*c.mirror_collector);
        d.session_id = c.mirror_session;
        out.push_back(std::move(d));
    }
    return out;
}

result<std::vector<tap_file_info>> manager::files(const std::string& tap) const {
    const tap_state* t = find(tap);
    if (t == nullptr) return error{"no tap named " + quoted(tap)};
    std::vector<tap_file_info> out;
    if (t->out) {
        for (const auto& f : t->out->files()) out.push_back({f.name, f.bytes});
    }
    return out;
}

result<std::string> manager::resolve_file(const std::string& tap, const std::string& file) const {
    const tap_state* t = find(tap);
    if (t == nullptr) return error{"no tap named " + quoted(tap)};
    if (!t->out) return error{"tap " + quoted(tap) + " writes no files"};
    for (const auto& f : t->out->files()) {
        if (f.name == file) return t->out->directory() + "/" + f.name;
    }
    return error{"tap " + quoted(tap) + " has no file " + quoted(file)};
}

// ---- other threads to the main lcore --------------------------------------------------------

bool manager::call(const std::function<void()>& job, std::chrono::milliseconds timeout) {
    return mailbox_.run(job, timeout);
}

void manager::run_calls() {
    mailbox_.poll();
}

}  // namespace meshgate::dataplane::tap
