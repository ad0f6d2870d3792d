#include "dataplane/l4/flow_table.hpp"

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

namespace meshgate::dataplane::l4 {

result<flow_table*> flow_table::create(const std::string& name, uint32_t capacity, int socket, uint64_t tsc_hz) {
    auto* t = new flow_table();
    t->capacity_ = capacity;
    // Both directions of every session: 2 keys each. The extendable bucket table guarantees
    // every key up to the stated capacity fits, so an insert never fails before the session
    // array runs out.
    rte_hash_parameters p{};
    p.name = name.c_str();
    p.entries = capacity * 2;
    p.key_len = sizeof(flow_key);
    p.hash_func = rte_hash_crc;
    p.hash_func_init_val = 0x6d657368;  // fixed: tables of every worker hash alike
    p.socket_id = socket;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    t->hash_ = rte_hash_create(&p);
    if (t->hash_ == nullptr) {
        delete t;
        return error{"flows.sessionsPerWorker: cannot allocate a session index of " + std::to_string(capacity) +
                     " sessions: " + rte_strerror(rte_errno) + " (reserve more hugepages)"};
    }
    t->sessions_ = static_cast<session*>(
        rte_zmalloc_socket((name + "_s").c_str(), sizeof(session) * capacity, RTE_CACHE_LINE_SIZE, socket));
    t->free_ = static_cast<uint32_t*>(
        rte_malloc_socket((name + "_f").c_str(), sizeof(uint32_t) * capacity, RTE_CACHE_LINE_SIZE, socket));
    t->wheel_ = static_cast<uint32_t*>(
        rte_malloc_socket((name + "_w").c_str(), sizeof(uint32_t) * wheel_slots, RTE_CACHE_LINE_SIZE, socket));
    if (t->sessions_ == nullptr || t->free_ == nullptr || t->wheel_ == nullptr) {
        delete t;
        return error{"flows.sessionsPerWorker: cannot allocate " + std::to_string(capacity) +
                     " sessions (reserve more hugepages)"};
    }
    // Lowest indices first, so a lightly used table touches little memory.
    for (uint32_t i = 0; i < capacity; ++i) t->free_[i] = capacity - 1 - i;
    t->n_free_ = capacity;
    for (uint32_t i = 0; i < wheel_slots; ++i) t->wheel_[i] = no_session;
    // 1/16 s per slot: 4096 slots span 256 s; longer timeouts go round lazily.
    t->tick_ = tsc_hz / 16 == 0 ? 1 : tsc_hz / 16;
    t->set_timeouts(policy::flow_settings{});
    return t;
}

flow_table::~flow_table() {
    rte_hash_free(hash_);
    rte_free(sessions_);
    rte_free(free_);
    rte_free(wheel_);
}

void flow_table::set_timeouts(const policy::flow_settings& s) noexcept {
    uint64_t hz = tick_ * 16;
    to_.tcp_syn = s.tcp_syn_timeout * hz;
    to_.tcp_established = s.tcp_established_timeout * hz;
    to_.tcp_closing = s.tcp_closing_timeout * hz;
    to_.udp = s.udp_timeout * hz;
    to_.icmp = s.icmp_timeout * hz;
    to_.sctp = s.sctp_timeout * hz;
    to_.other = s.udp_timeout * hz;
}

uint64_t flow_table::timeout_of(const session& s) const noexcept {
    switch (s.t[0].proto) {
        case 6:
            switch (s.state) {
                case tcp_state::established:
                    return to_.tcp_established;
                case tcp_state::closing:
                case tcp_state::closed:
                    return to_.tcp_closing;
                default:
                    return to_.tcp_syn;
            }
        case 17:
            return to_.udp;
        case 1:
        case 58:
            return to_.icmp;
        case 132:
            return to_.sctp;
        default:
            return to_.other;
    }
}

void flow_table::link(uint32_t idx, uint64_t deadline_tick) noexcept {
    if (deadline_tick < cursor_) deadline_tick = cursor_;
    if (deadline_tick >= cursor_ + wheel_slots) deadline_tick = cursor_ + wheel_slots - 1;
    auto slot = static_cast<uint32_t>(deadline_tick & (wheel_slots - 1));
    session& s = sessions_[idx];
    s.wheel_slot = slot;
    s.wheel_prev = no_session;
    s.wheel_next = wheel_[slot];
    if (s.wheel_next != no_session) sessions_[s.wheel_next].wheel_prev = idx;
    wheel_[slot] = idx;
}

void flow_table::unlink(uint32_t idx) noexcept {
    session& s = sessions_[idx];
    if (s.wheel_prev != no_session) {
        sessions_[s.wheel_prev].wheel_next = s.wheel_next;
    } else {
        wheel_[s.wheel_slot] = s.wheel_next;
    }
    if (s.wheel_next != no_session) sessions_[s.wheel_next].wheel_prev = s.wheel_prev;
}

uint32_t flow_table::insert(const flow_key& t0, hash_sig_t sig0, const flow_key& t1, session_kind kind,
                            uint64_t now) noexcept {
    if (n_free_ == 0) return no_session;
    uint32_t idx = free_[--n_free_];
    session& s = sessions_[idx];
    s = session{};
    s.t[0] = t0;
    s.t[1] = t1;
    s.kind = kind;
    s.last_seen = now;
    s.in_use = 1;
    s.mapping = no_session;
    auto v0 = reinterpret_cast<void*>(static_cast<uintptr_t>(idx) << 1);
    auto v1 = reinterpret_cast<void*>((static_cast<uintptr_t>(idx) << 1) | 1);
    if (rte_hash_add_key_with_hash_data(hash_, &s.t[0], sig0, v0) < 0) {
        free_[n_free_++] = idx;
        return no_session;
    }
    if (!(t1 == t0) && rte_hash_add_key_data(hash_, &s.t[1], v1) < 0) {
        rte_hash_del_key_with_hash(hash_, &s.t[0], sig0);
        free_[n_free_++] = idx;
        return no_session;
    }
    if (cursor_ == 0) cursor_ = now / tick_;
    link(idx, (now + timeout_of(s)) / tick_);
    ++active_;
    return idx;
}

void flow_table::remove(uint32_t idx) noexcept {
    session& s = sessions_[idx];
    if (s.in_use == 0) return;
    unlink(idx);
    rte_hash_del_key(hash_, &s.t[0]);
    if (!(s.t[1] == s.t[0])) rte_hash_del_key(hash_, &s.t[1]);
    s.in_use = 0;
    free_[n_free_++] = idx;
    --active_;
}

void flow_table::reschedule(uint32_t idx) noexcept {
    session& s = sessions_[idx];
    unlink(idx);
    link(idx, (s.last_seen + timeout_of(s)) / tick_);
}

}  // namespace meshgate::dataplane::l4
