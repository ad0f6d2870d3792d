#pragma once
// Hierarchical timing wheel for the TCP timers (retransmission, delayed ACK, persist, keepalive,
// TIME_WAIT): 4 levels of 256 slots cover 2^32 ticks (49.7 days at 1 ms); later expiries wait in an
// overflow list that is re-sorted every 2^32 ticks. Arm and disarm are O(1); a timer is moved down
// at most once per level (cascading), and advance() jumps straight from one non-empty slot to the
// next, so a jump of hours costs what the armed timers cost, not what the ticks cost.
//
// Placement: a node goes to the level of the highest byte in which its expiry differs from now,
// in the slot given by that byte of the expiry. Level 0 therefore holds exact expiries, and a slot
// of level L is cascaded when now reaches its first tick (a multiple of 256^L). Timers never fire
// early and fire at the first advance() whose now is >= their expiry.
//
// Thread contract: one wheel per worker lcore, used only by that lcore. Not copyable or movable
// (the slot lists point into the object). No allocation, no exceptions.
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace meshgate::dataplane::tcp {

struct timer_node {  // intrusive; embedded in a connection
    timer_node* next = nullptr;
    timer_node* prev = nullptr;
    uint64_t expires = 0;  // tick
    bool armed = false;
};

class timer_wheel {
public:
    static constexpr int levels = 4;
    static constexpr int slot_bits = 8;
    static constexpr uint32_t slots = 1u << slot_bits;

    explicit timer_wheel(uint64_t now_tick = 0) noexcept;
    timer_wheel(const timer_wheel&) = delete;
    timer_wheel& operator=(const timer_wheel&) = delete;

    // (Re)arms n. An expiry <= now() fires at the next advance(), even if that advance is running
    // now (arming an expired timer from a callback fires it at the next call, never in a loop).
    void arm(timer_node* n, uint64_t expires_tick) noexcept {
        if (n->armed) {
            unlink(n);
        } else {
            ++count_;
        }
        n->expires = expires_tick;
        n->armed = true;
        place(n, &pending_);
    }

    // No-op if n is not armed.
    void disarm(timer_node* n) noexcept {
        if (!n->armed) return;
        unlink(n);
        n->armed = false;
        --count_;
    }

    // Fires every armed node with expires <= now_tick, in expiry order across ticks (order within
    // one tick is unspecified): disarms it, then calls fire(n). During fire(n), now() is n's expiry
    // (the previous now() for nodes armed already expired), and fire may arm or disarm any node.
    // A now_tick below now() does not move time back. Not reentrant (no advance() from fire).
    template <class F>
    uint32_t advance(uint64_t now_tick, F&& fire) noexcept;

    uint64_t now() const noexcept { return now_; }
    uint32_t armed_count() const noexcept { return count_; }

    // Earliest expiry among armed nodes, or UINT64_MAX if none. Exact when that timer is due within
    // now()'s block of 256 ticks (or already expired); otherwise a lower bound: the tick of the
    // cascade that will sort it, never later than the real earliest.
    uint64_t next_expiry() const noexcept;

private:
    static void list_init(timer_node* h) noexcept { h->next = h->prev = h; }
    static bool list_empty(const timer_node* h) noexcept { return h->next == h; }
    static void list_push(timer_node* h, timer_node* n) noexcept {
        n->prev = h->prev;
        n->next = h;
        h->prev->next = n;
        h->prev = n;
    }
    // Moves all of src to the tail of dst; src ends up empty.
    static void list_splice(timer_node* dst, timer_node* src) noexcept {
        if (list_empty(src)) return;
        src->next->prev = dst->prev;
        dst->prev->next = src->next;
        src->prev->next = dst;
        dst->prev = src->prev;
        list_init(src);
    }

    void set_bit(int level, uint32_t idx) noexcept { bitmap_[level][idx >> 6] |= uint64_t{1} << (idx & 63); }
    void clear_bit(int level, uint32_t idx) noexcept { bitmap_[level][idx >> 6] &= ~(uint64_t{1} << (idx & 63)); }

    // Unlinks an armed node; clears the slot's bit when the slot becomes empty.
    void unlink(timer_node* n) noexcept {
        timer_node* p = n->prev;
        timer_node* q = n->next;
        p->next = q;
        q->prev = p;
        n->next = n->prev = nullptr;
        if (p == q) {  // only a list head is left: p is it
            uintptr_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(&slot_[0][0]);
            if (off < sizeof(slot_)) {
                auto flat = static_cast<uint32_t>(off / sizeof(timer_node));
                clear_bit(static_cast<int>(flat >> slot_bits), flat & (slots - 1));
            }
        }
    }

    // Puts an armed, unlinked node where it belongs relative to now_; expired ones go to `due`.
    void place(timer_node* n, timer_node* due) noexcept {
        uint64_t e = n->expires;
        if (e <= now_) {
            list_push(due, n);
            return;
        }
        uint64_t diff = e ^ now_;  // non-zero
        int level = (63 - __builtin_clzll(diff)) >> 3;
        if (level >= levels) {
            list_push(&overflow_, n);
            if (e < overflow_min_) overflow_min_ = e;
            return;
        }
        auto idx = static_cast<uint32_t>(e >> (level * slot_bits)) & (slots - 1);
        list_push(&slot_[level][idx], n);
        set_bit(level, idx);
    }

    // First set bit of `level` strictly above idx, or -1.
    int first_after(int level, uint32_t idx) const noexcept {
        uint32_t start = idx + 1;
        if (start >= slots) return -1;
        uint32_t w = start >> 6;
        uint64_t bits = bitmap_[level][w] & (~uint64_t{0} << (start & 63));
        for (;;) {
            if (bits) return static_cast<int>(w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits)));
            if (++w == slots / 64) return -1;
            bits = bitmap_[level][w];
        }
    }

    // The first tick after now_ at which something happens: a level-0 expiry, a cascade, or the
    // re-sort of the overflow list. Levels are searched low to high: every event of a lower level
    // comes before any event of a higher one.
    bool next_event(uint64_t& tick) const noexcept {
        for (int l = 0; l < levels; ++l) {
            int shift = l * slot_bits;
            int j = first_after(l, static_cast<uint32_t>(now_ >> shift) & (slots - 1));
            if (j >= 0) {
                uint64_t block = now_ >> (shift + slot_bits) << (shift + slot_bits);
                tick = block | (static_cast<uint64_t>(j) << shift);
                return true;
            }
        }
        if (!list_empty(&overflow_)) {
            tick = overflow_min_ >> (levels * slot_bits) << (levels * slot_bits);
            return true;
        }
        return false;
    }

    // Re-places every node of the detached list h relative to now_ (h is left empty). The next node
    // is fetched while this one is placed: cascades walk cold connections.
    void resort(timer_node* h, timer_node* due) noexcept {
        timer_node* n = h->next;
        while (n != h) {
            timer_node* next = n->next;
            __builtin_prefetch(next);
            place(n, due);
            n = next;
        }
        list_init(h);
    }

    // At tick now_: re-sorts the lists that start at this tick (highest level first) and moves this
    // tick's expiries to `due`.
    void collect(timer_node* due) noexcept {
        timer_node tmp;
        if ((now_ & ((uint64_t{1} << (levels * slot_bits)) - 1)) == 0 && !list_empty(&overflow_)) {
            list_init(&tmp);
            list_splice(&tmp, &overflow_);
            overflow_min_ = UINT64_MAX;
            resort(&tmp, due);
        }
        for (int l = levels - 1; l >= 1; --l) {
            int shift = l * slot_bits;
            if ((now_ & ((uint64_t{1} << shift) - 1)) != 0) continue;
            auto idx = static_cast<uint32_t>(now_ >> shift) & (slots - 1);
            timer_node* s = &slot_[l][idx];
            if (list_empty(s)) continue;
            list_init(&tmp);
            list_splice(&tmp, s);
            clear_bit(l, idx);
            resort(&tmp, due);
        }
        auto idx0 = static_cast<uint32_t>(now_) & (slots - 1);
        if (!list_empty(&slot_[0][idx0])) {
            list_splice(due, &slot_[0][idx0]);
            clear_bit(0, idx0);
        }
    }

    template <class F>
    uint32_t run(timer_node* due, F& fire) noexcept {
        uint32_t k = 0;
        while (!list_empty(due)) {
            timer_node* n = due->next;
            unlink(n);
            n->armed = false;
            --count_;
            fire(n);
            ++k;
        }
        return k;
    }

    uint64_t now_;                           // every expiry <= now_ has fired or is in pending_
    uint32_t count_ = 0;                     // armed nodes
    uint64_t overflow_min_ = UINT64_MAX;     // lower bound of the expiries in overflow_
    uint64_t bitmap_[levels][slots / 64]{};  // non-empty slots
    timer_node* firing_ = nullptr;           // during advance(): the nodes due at now_ not fired yet
    timer_node pending_;                     // armed with expires <= now_: fire at the next advance()
    timer_node overflow_;                    // expires differs from now_ above bit 31
    timer_node slot_[levels][slots];         // list heads
};

inline timer_wheel::timer_wheel(uint64_t now_tick) noexcept : now_(now_tick) {
    list_init(&pending_);
    list_init(&overflow_);
    for (auto& level : slot_)
        for (auto& s : level) list_init(&s);
}

template <class F>
uint32_t timer_wheel::advance(uint64_t now_tick, F&& fire) noexcept {
    timer_node due;
    list_init(&due);
    firing_ = &due;
    // Nodes armed already expired: due now. Those armed expired from the callbacks below wait in
    // pending_ for the next call.
    list_splice(&due, &pending_);
    uint32_t fired = run(&due, fire);
    uint64_t t;
    while (now_tick > now_ && next_event(t) && t <= now_tick) {
        now_ = t;
        collect(&due);
        fired += run(&due, fire);
    }
    if (now_tick > now_) now_ = now_tick;
    firing_ = nullptr;
    return fired;
}

inline uint64_t timer_wheel::next_expiry() const noexcept {
    uint64_t m = UINT64_MAX;
    for (const timer_node* h : {&pending_, static_cast<const timer_node*>(firing_)}) {
        if (!h) continue;
        for (const timer_node* n = h->next; n != h; n = n->next)
            if (n->expires < m) m = n->expires;
    }
    if (m != UINT64_MAX) return m;  // expired ones: all are <= now_
    uint64_t t;
    return next_event(t) ? t : UINT64_MAX;
}

}  // namespace meshgate::dataplane::tcp
