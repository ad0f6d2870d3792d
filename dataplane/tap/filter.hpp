#pragma once
// Tap filters: a pcap-filter(7) expression compiled by libpcap to classic BPF for Ethernet
// (DLT_EN10MB), converted to eBPF by rte_bpf_convert, loaded by rte_bpf_load and, where DPDK has a
// JIT for the CPU, run as native code. The program reads the packet through the mbuf (BPF_ABS/IND
// loads), so it sees the frame exactly as the port received or sends it.
#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "policy/result.hpp"

struct rte_bpf;
struct bpf_insn;  // libpcap's classic BPF instruction

namespace meshgate::dataplane::tap {

class filter {
public:
    filter(const filter&) = delete;
    filter& operator=(const filter&) = delete;
    ~filter();

    // Worker lcore: rc[i] != 0 when pkts[i] matches (classic BPF returns the bytes to keep).
    // No allocation, no locks.
    void run(rte_mbuf* const* pkts, uint16_t n, uint64_t* rc) const noexcept;

    const std::string& expression() const noexcept { return expr_; }
    bool jitted() const noexcept { return jit_ != nullptr; }
    // The native code (called with the mbuf; non-zero: match), or nullptr: use run().
    uint64_t (*jit() const noexcept)(void*) { return jit_; }
    uint32_t instructions() const noexcept { return instructions_; }  // eBPF, after conversion

    // Worker lcore: false when the packet cannot match, decided from its EtherType and IP
    // protocol alone (two loads and a bit test), so that the program is not called for traffic
    // the filter is about something else (an idle tap). True: run the program.
    // The classes are worked out when the filter is compiled (see may_accept_classes).
    bool may_match(const rte_mbuf* m) const noexcept {
        if (!prefilter_ || m->data_len < 24) return true;
        const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
        unsigned cls;
        if (p[12] == 0x08 && p[13] == 0x00) {
            cls = p[23];
        } else if (p[12] == 0x86 && p[13] == 0xdd) {
            cls = 256 + p[20];
        } else {
            return true;
        }
        return ((classes_[cls >> 6] >> (cls & 63)) & 1) != 0;
    }
    bool prefiltered() const noexcept { return prefilter_; }

private:
    friend result<std::shared_ptr<const filter>> compile_filter(const std::string& expr, uint32_t snap_length);
    filter() = default;

    std::string expr_;
    rte_bpf* bpf_ = nullptr;
    uint64_t (*jit_)(void*) = nullptr;  // nullptr: the interpreter (rte_bpf_exec_burst)
    uint32_t instructions_ = 0;
    bool prefilter_ = false;             // some classes can never match
    std::array<uint64_t, 8> classes_{};  // bit per class: IPv4 protocol 0-255, IPv6 next header 256-511
};

// Any thread, EAL not needed (the config check runs before EAL): libpcap's verdict on the
// expression. The error is libpcap's own message, e.g. "syntax error in filter expression".
result<bool> check_filter(const std::string& expr, uint32_t snap_length = 65535);

// Which (EtherType, protocol) classes the classic BPF program can accept: bit c of the result
// is set unless no IPv4 packet with protocol c (c < 256), or no IPv6 packet with next header
// c - 256, can match whatever its other bytes are. Sound by construction: the program is run
// abstractly with only the EtherType (halfword at 12) and the protocol byte (23 for IPv4, 20 for
// IPv6) known, every other load unknown and both ways of every undecided jump followed; a class
// whose exploration runs over a step budget counts as matching.
std::array<uint64_t, 8> may_accept_classes(const ::bpf_insn* prog, unsigned n);

// Main lcore, after EAL init: the program ready for workers. An empty expression matches every
// packet and gives nullptr (no program is run at all).
result<std::shared_ptr<const filter>> compile_filter(const std::string& expr, uint32_t snap_length = 65535);

}  // namespace meshgate::dataplane::tap
