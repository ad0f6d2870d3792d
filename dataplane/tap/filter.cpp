#include "dataplane/tap/filter.hpp"

// libpcap first: rte_bpf.h only forward-declares struct bpf_program (both headers define the
// same classic BPF opcode macros, identically).
#include <pcap/pcap.h>
#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include <array>

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

struct absval {
    bool known = false;
    uint32_t v = 0;
};

struct abstate {
    absval a, x;
    std::array<absval, BPF_MEMWORDS> mem{};
};

struct explorer {
    const bpf_insn* prog;
    unsigned n;
    uint16_t ether_type;
    uint8_t proto;
    uint32_t proto_off;
    long budget;

    absval load(uint32_t code, uint32_t k) const {
        if (BPF_MODE(code) != BPF_ABS) return {};
        if (BPF_SIZE(code) == BPF_H && k == 12) return {true, ether_type};
        if (BPF_SIZE(code) == BPF_B && k == proto_off) return {true, proto};
        return {};
    }

    // May some path from `pc` with state `s` return non-zero?
    bool accepts(unsigned pc, abstate s) {  // NOLINT(misc-no-recursion): depth <= program length
        while (pc < n) {
            if (--budget < 0) return true;
            const bpf_insn& in = prog[pc];
            const uint32_t code = in.code;
            const absval src = BPF_SRC(code) == BPF_K ? absval{true, in.k} : s.x;
            switch (BPF_CLASS(code)) {
                case BPF_LD:
                    if (BPF_MODE(code) == BPF_IMM) {
                        s.a = {true, in.k};
                    } else if (BPF_MODE(code) == BPF_MEM) {
                        s.a = in.k < BPF_MEMWORDS ? s.mem[in.k] : absval{};
                    } else {
                        s.a = load(code, in.k);
                    }
                    break;
                case BPF_LDX:
                    if (BPF_MODE(code) == BPF_IMM) {
                        s.x = {true, in.k};
                    } else if (BPF_MODE(code) == BPF_MEM) {
                        s.x = in.k < BPF_MEMWORDS ? s.mem[in.k] : absval{};
                    } else {
                        s.x = {};
                    }
                    break;
                case BPF_ST:
                    if (in.k < BPF_MEMWORDS) s.mem[in.k] = s.a;
                    break;
                case BPF_STX:
                    if (in.k < BPF_MEMWORDS) s.mem[in.k] = s.x;
                    break;
                case BPF_ALU: {
                    const uint32_t op = BPF_OP(code);
                    if (op == BPF_NEG) {
                        s.a = s.a.known ? absval{true, 0U - s.a.v} : absval{};
                        break;
                    }
                    if ((op == BPF_DIV || op == BPF_MOD) && src.known && src.v == 0)
                        return false;  // the program returns 0
                    if (!s.a.known || !src.known) {
                        s.a = {};
                        break;
                    }
                    uint32_t a = s.a.v, b = src.v;
                    switch (op) {
                        case BPF_ADD:
                            a += b;
                            break;
                        case BPF_SUB:
                            a -= b;
                            break;
                        case BPF_MUL:
                            a *= b;
                            break;
                        case BPF_DIV:
                            a /= b;
                            break;
                        case BPF_MOD:
                            a %= b;
                            break;
                        case BPF_OR:
                            a |= b;
                            break;
                        case BPF_AND:
                            a &= b;
                            break;
                        case BPF_XOR:
                            a ^= b;
                            break;
                        case BPF_LSH:
                            a = b < 32 ? a << b : 0;
                            break;
                        case BPF_RSH:
                            a = b < 32 ? a >> b : 0;
                            break;
                        default:
                            s.a = {};
                            continue;
                    }
                    s.a = {true, a};
                    break;
                }
                case BPF_JMP: {
                    const uint32_t op = BPF_OP(code);
                    if (op == BPF_JA) {
                        pc += 1 + in.k;
                        continue;
                    }
                    if (s.a.known && src.known) {
                        bool c = false;
                        switch (op) {
                            case BPF_JEQ:
                                c = s.a.v == src.v;
                                break;
                            case BPF_JGT:
                                c = s.a.v > src.v;
                                break;
                            case BPF_JGE:
                                c = s.a.v >= src.v;
                                break;
                            case BPF_JSET:
                                c = (s.a.v & src.v) != 0;
                                break;
                            default:
                                return true;
                        }
                        pc += 1 + (c ? in.jt : in.jf);
                        continue;
                    }
                    if (accepts(pc + 1 + in.jt, s)) return true;
                    pc += 1 + in.jf;
                    continue;
                }
                case BPF_RET: {
                    absval r = BPF_RVAL(code) == BPF_K ? absval{true, in.k} : BPF_RVAL(code) == BPF_A ? s.a : absval{};
                    return !(r.known && r.v == 0);
                }
                case BPF_MISC:
                    if (BPF_MISCOP(code) == BPF_TAX) {
                        s.x = s.a;
                    } else {
                        s.a = s.x;
                    }
                    break;
                default:
                    return true;
            }
            ++pc;
        }
        return true;  // ran off the end: not a valid program, assume the worst
    }
};

}  // namespace

std::array<uint64_t, 8> may_accept_classes(const bpf_insn* prog, unsigned n) {
    std::array<uint64_t, 8> out{};
    for (unsigned cls = 0; cls < 512; ++cls) {
        const bool v6 = cls >= 256;
        explorer e{prog,           n,    static_cast<uint16_t>(v6 ? 0x86dd : 0x0800), static_cast<uint8_t>(cls & 0xff),
                   v6 ? 20U : 23U, 20000};
        if (e.accepts(0, abstate{})) out[cls >> 6] |= uint64_t{1} << (cls & 63);
    }
    return out;
}

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
    const auto classes = may_accept_classes(prog.bf_insns, prog.bf_len);
    // DPDK 22.11's x86 JIT crashes on byte-sized indirect loads (BPF_LD|BPF_IND|BPF_B, e.g.
    // "tcp[13] & 2 != 0"): such programs run in the interpreter.
    bool jit_safe = true;
    for (unsigned i = 0; i < prog.bf_len; ++i) {
        const uint16_t c = prog.bf_insns[i].code;
        if (BPF_CLASS(c) == BPF_LD && BPF_MODE(c) == BPF_IND && BPF_SIZE(c) == BPF_B) jit_safe = false;
    }
    rte_bpf_prm* prm = rte_bpf_convert(&prog);
    pcap_freecode(&prog);
    if (prm == nullptr)
        return error{std::string("cannot convert the compiled filter to eBPF: ") + rte_strerror(rte_errno)};
    std::shared_ptr<filter> f(new filter());
    f->expr_ = expr;
    f->instructions_ = prm->nb_ins;
    f->classes_ = classes;
    for (uint64_t w : classes) f->prefilter_ = f->prefilter_ || w != ~uint64_t{0};
    f->bpf_ = rte_bpf_load(prm);
    rte_free(prm);
    if (f->bpf_ == nullptr) return error{std::string("the eBPF program does not load: ") + rte_strerror(rte_errno)};
    rte_bpf_jit jit{};
    if (jit_safe && rte_bpf_get_jit(f->bpf_, &jit) == 0 && jit.func != nullptr) f->jit_ = jit.func;
    return std::shared_ptr<const filter>(std::move(f));
}

}  // namespace meshgate::dataplane::tap
