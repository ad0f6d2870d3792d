#pragma once
// Tap filters: a pcap-filter(7) expression compiled by libpcap to classic BPF for Ethernet
// (DLT_EN10MB), converted to eBPF by rte_bpf_convert, loaded by rte_bpf_load and, where DPDK has a
// JIT for the CPU, run as native code. The program reads the packet through the mbuf (BPF_ABS/IND
// loads), so it sees the frame exactly as the port received or sends it.
#include <cstdint>
#include <memory>
#include <string>

#include "policy/result.hpp"

struct rte_bpf;
struct rte_mbuf;

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

private:
    friend result<std::shared_ptr<const filter>> compile_filter(const std::string& expr, uint32_t snap_length);
    filter() = default;

    std::string expr_;
    rte_bpf* bpf_ = nullptr;
    uint64_t (*jit_)(void*) = nullptr;  // nullptr: the interpreter (rte_bpf_exec_burst)
    uint32_t instructions_ = 0;
};

// Any thread, EAL not needed (the config check runs before EAL): libpcap's verdict on the
// expression. The error is libpcap's own message, e.g. "syntax error in filter expression".
result<bool> check_filter(const std::string& expr, uint32_t snap_length = 65535);

// Main lcore, after EAL init: the program ready for workers. An empty expression matches every
// packet and gives nullptr (no program is run at all).
result<std::shared_ptr<const filter>> compile_filter(const std::string& expr, uint32_t snap_length = 65535);

}  // namespace meshgate::dataplane::tap
