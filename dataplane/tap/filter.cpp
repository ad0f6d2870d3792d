#include "dataplane/tap/filter.hpp"

// libpcap first: rte_bpf.h only forward-declares struct bpf_program (both headers define the
// same classic BPF opcode macros, identically).
#include <pcap/pcap.h>
#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>

namespace meshgate::dataplane::tap {
namespace {

// Compiles with libpcap into `prog` (freed by the caller with pcap_freecode).
result<bool> pcap_to_cbpf(const std::string& expr, uint32_t snap_length, bpf_program& prog) {
    pcap_t* p = pcap_open_dead(DLT_EN10MB, static_cast<int>(snap_length));
    if (p == nullptr) return error{"libpcap: cannot open a dead handle"};
    if (pcap_compile(p, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        std::string why = pcap_geterr(p);
        pcap_close(p);
        return error{why};
    }
    pcap_close(p);
    return true;
}

}  // namespace

filter::~filter() {
    if (bpf_ != nullptr) rte_bpf_destroy(bpf_);
}

void filter::run(rte_mbuf* const* pkts, uint16_t n, uint64_t* rc) const noexcept {
    if (jit_ != nullptr) {
        for (uint16_t i = 0; i < n; ++i) rc[i] = jit_(pkts[i]);
        return;
    }
    rte_bpf_exec_burst(bpf_, reinterpret_cast<void**>(const_cast<rte_mbuf**>(pkts)), rc, n);
}

result<bool> check_filter(const std::string& expr, uint32_t snap_length) {
    if (expr.empty()) return true;
    bpf_program prog{};
    auto r = pcap_to_cbpf(expr, snap_length, prog);
    if (r) pcap_freecode(&prog);
    return r;
}

result<std::shared_ptr<const filter>> compile_filter(const std::string& expr, uint32_t snap_length) {
    if (expr.empty()) return std::shared_ptr<const filter>();
    bpf_program prog{};
    if (auto r = pcap_to_cbpf(expr, snap_length, prog); !r) return error{r.error_message()};
    rte_bpf_prm* prm = rte_bpf_convert(&prog);
    pcap_freecode(&prog);
    if (prm == nullptr)
        return error{std::string("cannot convert the compiled filter to eBPF: ") + rte_strerror(rte_errno)};
    std::shared_ptr<filter> f(new filter());
    f->expr_ = expr;
    f->instructions_ = prm->nb_ins;
    f->bpf_ = rte_bpf_load(prm);
    rte_free(prm);
    if (f->bpf_ == nullptr) return error{std::string("the eBPF program does not load: ") + rte_strerror(rte_errno)};
    rte_bpf_jit jit{};
    if (rte_bpf_get_jit(f->bpf_, &jit) == 0 && jit.func != nullptr) f->jit_ = jit.func;
    return std::shared_ptr<const filter>(std::move(f));
}

}  // namespace meshgate::dataplane::tap
