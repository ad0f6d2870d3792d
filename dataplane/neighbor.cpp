#include "dataplane/neighbor.hpp"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <cstring>

namespace meshgate::dataplane {

neighbor_key neighbor_key::v4(uint16_t ifindex, uint32_t host_order_ip) noexcept {
    neighbor_key k;
    k.ifindex = ifindex;
    k.family = 4;
    k.ip[0] = static_cast<uint8_t>(host_order_ip >> 24);
    k.ip[1] = static_cast<uint8_t>(host_order_ip >> 16);
    k.ip[2] = static_cast<uint8_t>(host_order_ip >> 8);
    k.ip[3] = static_cast<uint8_t>(host_order_ip);
    return k;
}

neighbor_key neighbor_key::v6(uint16_t ifindex, const uint8_t* ip) noexcept {
    neighbor_key k;
    k.ifindex = ifindex;
    k.family = 6;
    std::memcpy(k.ip, ip, 16);
    return k;
}

const char* to_string(neighbor_state s) noexcept {
    switch (s) {
        case neighbor_state::none:
            return "none";
        case neighbor_state::incomplete:
            return "incomplete";
        case neighbor_state::reachable:
            return "reachable";
        case neighbor_state::stale:
            return "stale";
        case neighbor_state::failed:
            return "failed";
        case neighbor_state::permanent:
            return "permanent";
    }
    return "?";
}

result<neighbor_table*> neighbor_table::create(const std::string& name, uint32_t capacity, rte_rcu_qsbr* qsbr) {
    auto* t = new neighbor_table();
    rte_hash_parameters p{};
    p.name = name.c_str();
    p.entries = capacity;
    p.key_len = sizeof(neighbor_key);
    p.hash_func = rte_hash_crc;
    p.socket_id = SOCKET_ID_ANY;
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    t->hash_ = rte_hash_create(&p);
    if (t->hash_ == nullptr) {
        delete t;
        return error{"neighbor table: rte_hash_create failed: " + std::string(rte_strerror(rte_errno))};
    }
    if (qsbr != nullptr) {
        t->deferred_free_ = true;
        rte_hash_rcu_config rc{};
        rc.v = qsbr;
        rc.mode = RTE_HASH_QSBR_MODE_DQ;
        if (rte_hash_rcu_qsbr_add(t->hash_, &rc) != 0) {
            delete t;
            return error{"neighbor table: rte_hash_rcu_qsbr_add failed"};
        }
    }
    // Positions returned by the hash go up to its real size, which can exceed `entries`.
    t->capacity_ = static_cast<uint32_t>(rte_hash_max_key_id(t->hash_)) + 1;
    t->entries_ = static_cast<neighbor_entry*>(rte_zmalloc("neighbors", sizeof(neighbor_entry) * t->capacity_, 64));
    if (t->entries_ == nullptr) {
        delete t;
        return error{"neighbor table: out of memory"};
    }
    for (uint32_t i = 0; i < t->capacity_; ++i) new (&t->entries_[i]) neighbor_entry();
    return t;
}

neighbor_table::~neighbor_table() {
    if (entries_ != nullptr) {
        for (uint32_t i = 0; i < capacity_; ++i) {
            for (unsigned h = 0; h < entries_[i].hold_count; ++h) rte_pktmbuf_free(entries_[i].hold[h]);
        }
        rte_free(entries_);
    }
    if (hash_ != nullptr) rte_hash_free(hash_);
}

uint64_t neighbor_table::lookup_word(const neighbor_key& key) const noexcept {
    int32_t pos = rte_hash_lookup(hash_, &key);
    return pos < 0 ? 0 : slot_word(static_cast<uint32_t>(pos));
}

int32_t neighbor_table::find(const neighbor_key& key) const noexcept {
    int32_t pos = rte_hash_lookup(hash_, &key);
    return pos < 0 ? -1 : pos;
}

int32_t neighbor_table::find_or_add(const neighbor_key& key) noexcept {
    int32_t pos = rte_hash_lookup(hash_, &key);
    if (pos >= 0) return pos;
    pos = rte_hash_add_key(hash_, &key);
    if (pos < 0) return -1;
    auto& e = entries_[pos];
    e.mac_word.store(0, std::memory_order_release);
    e.key = key;
    e.state = neighbor_state::none;
    e.pinned = false;
    e.probes = 0;
    e.hold_count = 0;
    e.deadline = 0;
    return pos;
}

void neighbor_table::set_mac(uint32_t slot, const rte_ether_addr& mac, neighbor_state st, uint64_t deadline) noexcept {
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the MAC word layout assumes little endian");
    uint64_t w = 0;
    std::memcpy(&w, mac.addr_bytes, 6);
    w |= uint64_t{1} << 63;
    auto& e = entries_[slot];
    e.mac_word.store(w, std::memory_order_release);
    e.state = st;
    e.deadline = deadline;
    e.probes = 0;
}

void neighbor_table::invalidate(uint32_t slot, neighbor_state st) noexcept {
    entries_[slot].mac_word.store(0, std::memory_order_release);
    entries_[slot].state = st;
}

void neighbor_table::remove(uint32_t slot) noexcept {
    auto& e = entries_[slot];
    e.mac_word.store(0, std::memory_order_release);
    e.state = neighbor_state::none;
    int32_t pos = rte_hash_del_key(hash_, &e.key);
    // In lock-free mode the position is not freed on delete. With an RCU variable the hash's
    // defer queue frees it after a grace period; without workers (tests) nobody can hold it.
    if (pos >= 0 && !deferred_free_) rte_hash_free_key_with_position(hash_, pos);
}

}  // namespace meshgate::dataplane
