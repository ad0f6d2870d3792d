#pragma once
// The sender's SACK scoreboard (RFC 2018, RFC 6675): the byte ranges above snd_una that the peer
// reported holding, kept as at most max_ranges sorted, merged [start, end) ranges. Everything is in
// sequence space modulo 2^32 (all ranges lie within one window above snd_una, so the serial
// comparisons of seq.hpp order them).
//
// Thread contract: part of a connection; used only by the connection's worker lcore. Fixed size,
// no allocation, no exceptions.
#include <cstdint>

#include "dataplane/tcp/seq.hpp"

namespace meshgate::dataplane::tcp {

struct seq_range {
    uint32_t start;
    uint32_t end;
};  // [start, end)

class sack_scoreboard {
public:
    static constexpr int max_ranges = 16;      // bounded: extra ranges beyond it are dropped (keep the lowest)
    static constexpr uint32_t dup_thresh = 3;  // RFC 6675 2 DupThresh

    void clear() noexcept {
        n_ = 0;
        bytes_ = 0;
    }

    // Merges the SACK blocks of one ACK (RFC 6675 5 step "update the scoreboard"). snd_una is the
    // cumulative ACK after this ACK was applied; snd_nxt the highest sequence number sent (snd_max).
    // Ignored: empty or inverted blocks, blocks not within [snd_una, snd_nxt), and D-SACK blocks
    // (RFC 2883 4, RFC 3708 2: a first block below snd_una, or contained in the second block).
    // Returns the bytes newly SACKed by this ACK. When max_ranges is reached, the highest ranges
    // are dropped (the lowest matter for retransmission), so sacked_bytes() may then go down.
    uint32_t update(uint32_t snd_una, uint32_t snd_nxt, const seq_range* blocks, int n) noexcept {
        advance(snd_una);
        uint32_t added = 0;
        for (int k = 0; k < n; ++k) {
            seq_range b = blocks[k];
            if (!seq_lt(b.start, b.end)) continue;   // empty or inverted
            if (seq_lt(b.start, snd_una)) continue;  // D-SACK, or stale
            if (seq_gt(b.end, snd_nxt)) continue;    // data never sent
            if (k == 0 && n > 1 && seq_geq(b.start, blocks[1].start) && seq_leq(b.end, blocks[1].end))
                continue;  // D-SACK inside the second block
            added += insert(b);
        }
        return added;
    }

    // Drops what snd_una passed (cumulative ACK, RFC 6675 5).
    void advance(uint32_t snd_una) noexcept {
        int k = 0;
        for (; k < n_ && seq_leq(r_[k].end, snd_una); ++k) bytes_ -= r_[k].end - r_[k].start;
        if (k) {
            for (int i = k; i < n_; ++i) r_[i - k] = r_[i];
            n_ -= k;
        }
        if (n_ && seq_lt(r_[0].start, snd_una)) {
            bytes_ -= snd_una - r_[0].start;
            r_[0].start = snd_una;
        }
    }

    bool sacked(uint32_t seq) const noexcept {
        for (int i = 0; i < n_; ++i) {
            if (seq_lt(seq, r_[i].start)) return false;
            if (seq_lt(seq, r_[i].end)) return true;
        }
        return false;
    }

    // RFC 6675 4 IsLost(SeqNum): DupThresh discontiguous SACKed ranges above seq, or more than
    // (DupThresh - 1) * SMSS SACKed bytes with sequence numbers greater than seq.
    bool is_lost(uint32_t seq, uint32_t smss) const noexcept {
        uint32_t above = 0;
        uint32_t ranges = 0;
        uint32_t first_above = seq + 1;
        for (int i = n_ - 1; i >= 0; --i) {
            if (seq_leq(r_[i].end, first_above)) break;
            above += r_[i].end - seq_max(r_[i].start, first_above);
            if (++ranges >= dup_thresh || above > (dup_thresh - 1) * smss) return true;
        }
        return false;
    }

    // RFC 6675 4 NextSeg() rule (1): the first un-SACKed hole [start, end) with start >= from
    // (start = max(from, hole start)) below highest_sacked(), for which IsLost(start) holds.
    // IsLost only gets harder going up, so the search stops at the first hole that is not lost.
    bool next_lost_hole(uint32_t from, uint32_t smss, uint32_t& start, uint32_t& end) const noexcept {
        uint32_t above = bytes_;  // SACKed bytes in ranges i.. (all above hole i)
        for (int i = 0; i < n_; ++i) {
            uint32_t hs = i == 0 ? from : seq_max(from, r_[i - 1].end);
            if (seq_lt(hs, r_[i].start)) {
                if (static_cast<uint32_t>(n_ - i) < dup_thresh && above <= (dup_thresh - 1) * smss) return false;
                start = hs;
                end = r_[i].start;
                return true;
            }
            above -= r_[i].end - r_[i].start;
        }
        return false;
    }

    uint32_t sacked_bytes() const noexcept { return bytes_; }
    uint32_t highest_sacked() const noexcept { return n_ ? r_[n_ - 1].end : 0; }  // meaningless if empty()
    bool empty() const noexcept { return n_ == 0; }
    int size() const noexcept { return n_; }
    const seq_range* ranges() const noexcept { return r_; }  // sorted ascending, non-overlapping, non-adjacent

private:
    // Merges one valid block; returns the bytes it added.
    uint32_t insert(seq_range b) noexcept {
        int i = 0;  // first range not entirely below b (touching counts)
        while (i < n_ && seq_lt(r_[i].end, b.start)) ++i;
        int j = i;  // first range entirely above b (not touching)
        uint32_t covered = 0;
        for (; j < n_ && seq_leq(r_[j].start, b.end); ++j) covered += r_[j].end - r_[j].start;
        if (i == j) {  // a new range at i
            if (n_ == max_ranges) {
                if (i == n_) return 0;                        // above all, no room: dropped
                bytes_ -= r_[n_ - 1].end - r_[n_ - 1].start;  // drop the highest
                --n_;
            }
            for (int k = n_; k > i; --k) r_[k] = r_[k - 1];
            r_[i] = b;
            ++n_;
            bytes_ += b.end - b.start;
            return b.end - b.start;
        }
        seq_range m{seq_min(b.start, r_[i].start), seq_max(b.end, r_[j - 1].end)};
        uint32_t added = (m.end - m.start) - covered;
        r_[i] = m;
        int gone = j - i - 1;
        if (gone) {
            for (int k = j; k < n_; ++k) r_[k - gone] = r_[k];
            n_ -= gone;
        }
        bytes_ += added;
        return added;
    }

    seq_range r_[max_ranges]{};  // sorted ascending, merged
    int n_ = 0;                  // ranges in use
    uint32_t bytes_ = 0;         // sum of the range lengths
};

}  // namespace meshgate::dataplane::tcp
