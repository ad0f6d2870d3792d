#include "dataplane/l4/acl.hpp"

#include <rte_acl.h>
#include <rte_errno.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace meshgate::dataplane::l4 {

namespace {

// Field numbers (field_index) of the rule layouts; see the table in acl.hpp.
enum : uint8_t { f_proto, f_word1_pad, f_flags, f_ifindex, f_first_addr };
constexpr uint8_t f4_src = f_first_addr, f4_dst = f4_src + 1, f4_sport = f4_dst + 1, f4_dport = f4_sport + 1;
constexpr uint8_t f4_count = f4_dport + 1;
constexpr uint8_t f6_src = f_first_addr, f6_dst = f6_src + 4, f6_sport = f6_dst + 4, f6_dport = f6_sport + 1;
constexpr uint8_t f6_count = f6_dport + 1;

RTE_ACL_RULE_DEF(acl4_rule, f4_count);
RTE_ACL_RULE_DEF(acl6_rule, f6_count);

constexpr uint8_t icmpv6 = 58;

rte_acl_field_def field_def(uint8_t type, uint8_t size, uint8_t field, uint8_t input, size_t offset) {
    rte_acl_field_def d{};
    d.type = type;
    d.size = size;
    d.field_index = field;
    d.input_index = input;
    d.offset = static_cast<uint32_t>(offset);
    return d;
}

// The fields shared by both families: the first byte and input word 1.
template <class Key>
void common_defs(rte_acl_config& cfg) {
    cfg.defs[f_proto] = field_def(RTE_ACL_FIELD_TYPE_BITMASK, 1, f_proto, 0, offsetof(Key, proto));
    cfg.defs[f_word1_pad] = field_def(RTE_ACL_FIELD_TYPE_BITMASK, 1, f_word1_pad, 1, offsetof(Key, proto));
    cfg.defs[f_flags] = field_def(RTE_ACL_FIELD_TYPE_BITMASK, 1, f_flags, 1, offsetof(Key, flags));
    cfg.defs[f_ifindex] = field_def(RTE_ACL_FIELD_TYPE_RANGE, 2, f_ifindex, 1, offsetof(Key, ifindex));
}

rte_acl_config config4() {
    rte_acl_config cfg{};
    cfg.num_categories = 1;
    cfg.num_fields = f4_count;
    common_defs<acl_key4>(cfg);
    cfg.defs[f4_src] = field_def(RTE_ACL_FIELD_TYPE_MASK, 4, f4_src, 2, offsetof(acl_key4, src));
    cfg.defs[f4_dst] = field_def(RTE_ACL_FIELD_TYPE_MASK, 4, f4_dst, 3, offsetof(acl_key4, dst));
    cfg.defs[f4_sport] = field_def(RTE_ACL_FIELD_TYPE_RANGE, 2, f4_sport, 4, offsetof(acl_key4, sport));
    cfg.defs[f4_dport] = field_def(RTE_ACL_FIELD_TYPE_RANGE, 2, f4_dport, 4, offsetof(acl_key4, dport));
    return cfg;
}

rte_acl_config config6() {
    rte_acl_config cfg{};
    cfg.num_categories = 1;
    cfg.num_fields = f6_count;
    common_defs<acl_key6>(cfg);
    for (uint8_t i = 0; i < 4; ++i) {
        auto src = static_cast<uint8_t>(f6_src + i), dst = static_cast<uint8_t>(f6_dst + i);
        cfg.defs[src] =
            field_def(RTE_ACL_FIELD_TYPE_MASK, 4, src, static_cast<uint8_t>(2 + i), offsetof(acl_key6, src) + 4U * i);
        cfg.defs[dst] =
            field_def(RTE_ACL_FIELD_TYPE_MASK, 4, dst, static_cast<uint8_t>(6 + i), offsetof(acl_key6, dst) + 4U * i);
    }
    cfg.defs[f6_sport] = field_def(RTE_ACL_FIELD_TYPE_RANGE, 2, f6_sport, 10, offsetof(acl_key6, sport));
    cfg.defs[f6_dport] = field_def(RTE_ACL_FIELD_TYPE_RANGE, 2, f6_dport, 10, offsetof(acl_key6, dport));
    return cfg;
}

std::string rule_label(size_t i, const policy::acl_rule& r) {
    std::string s = "acl rule " + std::to_string(i);
    if (!r.name.empty()) s += " (" + r.name + ")";
    return s + ": ";
}

void set_range(rte_acl_field& f, uint16_t lo, uint16_t hi) {
    f.value.u16 = lo;
    f.mask_range.u16 = hi;
}

void set_bitmask(rte_acl_field& f, uint8_t value, uint8_t mask) {
    f.value.u8 = static_cast<uint8_t>(value & mask);
    f.mask_range.u8 = mask;
}

void set_prefix32(rte_acl_field& f, uint32_t value, unsigned len) {
    uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
    f.value.u32 = value & mask;
    f.mask_range.u32 = len;
}

// Fills the fields both families share and checks the family-independent parts. Empty: fine.
std::string fill_common(const policy::acl_rule& r, size_t index, size_t total, rte_acl_field* f,
                        rte_acl_rule_data& data) {
    if (r.src_port_min > r.src_port_max)
        return "source port range " + std::to_string(r.src_port_min) + "-" + std::to_string(r.src_port_max) +
               " is empty";
    if (r.dst_port_min > r.dst_port_max)
        return "destination port range " + std::to_string(r.dst_port_min) + "-" + std::to_string(r.dst_port_max) +
               " is empty";
    if (r.in_interface != UINT32_MAX && r.in_interface > UINT16_MAX)
        return "interface index " + std::to_string(r.in_interface) + " is out of range";

    uint8_t proto = r.protocol == policy::l4::icmp && r.is_v6 ? icmpv6 : r.protocol;
    set_bitmask(f[f_proto], proto, r.protocol == policy::l4::any ? 0 : 0xff);
    set_bitmask(f[f_word1_pad], 0, 0);
    bool ports =
        r.src_port_min != 0 || r.src_port_max != UINT16_MAX || r.dst_port_min != 0 || r.dst_port_max != UINT16_MAX;
    set_bitmask(f[f_flags], ports ? acl_flag_has_ports : 0, ports ? acl_flag_has_ports : 0);
    if (r.in_interface == UINT32_MAX)
        set_range(f[f_ifindex], 0, UINT16_MAX);
    else
        set_range(f[f_ifindex], static_cast<uint16_t>(r.in_interface), static_cast<uint16_t>(r.in_interface));

    data.category_mask = 1;
    data.priority = static_cast<int32_t>(total - index);  // earlier rule: higher priority
    data.userdata = static_cast<uint32_t>(index + 1);
    return {};
}

// The prefix of a rule's address in the rule's family; len 0 of either family is "any".
std::string check_prefix(const policy::ip_prefix& p, bool v6, const char* what) {
    unsigned len = p.is_v6 ? p.v6.len : p.v4.len;
    if (p.is_v6 != v6 && len != 0)
        return std::string(what) + " prefix " + (p.is_v6 ? to_string(p.v6) : to_string(p.v4)) + " is not " +
               (v6 ? "IPv6" : "IPv4");
    if (p.is_v6 == v6 && len > (v6 ? 128U : 32U))
        return std::string(what) + " prefix length " + std::to_string(len) + " is too long";
    return {};
}

void fill_prefix4(rte_acl_field& f, const policy::ip_prefix& p) {
    if (p.is_v6)
        set_prefix32(f, 0, 0);
    else
        set_prefix32(f, p.v4.addr.value, p.v4.len);
}

void fill_prefix6(rte_acl_field* f, const policy::ip_prefix& p) {
    unsigned len = p.is_v6 ? p.v6.len : 0;
    for (unsigned i = 0; i < 4; ++i) {
        const uint8_t* b = p.v6.addr.bytes.data() + 4 * i;
        uint32_t word = uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
        unsigned part = len > 32 * i ? std::min(32U, len - 32 * i) : 0;
        set_prefix32(f[i], word, part);
    }
}

struct ctx_deleter {
    void operator()(rte_acl_ctx* c) const noexcept { rte_acl_free(c); }
};
using ctx_ptr = std::unique_ptr<rte_acl_ctx, ctx_deleter>;

template <class Rule>
result<ctx_ptr> compile(const std::vector<Rule>& rules, const std::vector<size_t>& index, const std::string& name,
                        int socket_id, const rte_acl_config& cfg) {
    if (rules.empty()) return ctx_ptr{};
    if (rte_acl_find_existing(name.c_str()) != nullptr)
        return error{"acl: context name \"" + name + "\" is already in use"};
    rte_acl_param param{};
    param.name = name.c_str();
    param.socket_id = socket_id;
    param.rule_size = RTE_ACL_RULE_SZ(cfg.num_fields);
    param.max_rule_num = static_cast<uint32_t>(rules.size());
    ctx_ptr ctx{rte_acl_create(&param)};
    if (!ctx) return error{"acl: rte_acl_create(" + name + "): " + rte_strerror(rte_errno)};
    for (size_t i = 0; i < rules.size(); ++i) {
        int rc = rte_acl_add_rules(ctx.get(), reinterpret_cast<const rte_acl_rule*>(&rules[i]), 1);
        if (rc != 0) return error{"acl rule " + std::to_string(index[i]) + ": rte_acl_add_rules: " + rte_strerror(-rc)};
    }
    int rc = rte_acl_build(ctx.get(), &cfg);
    if (rc != 0) return error{"acl: rte_acl_build(" + name + "): " + rte_strerror(-rc)};
    return ctx;
}

}  // namespace

result<std::unique_ptr<acl_set>> acl_set::build(const std::vector<policy::acl_rule>& rules, const std::string& name,
                                                int socket_id) {
    if (name.empty() || name.size() + 1 >= RTE_ACL_NAMESIZE)
        return error{"acl: set name \"" + name + "\" must have 1 to " + std::to_string(RTE_ACL_NAMESIZE - 2) +
                     " characters"};
    if (rules.size() >= static_cast<size_t>(RTE_ACL_MAX_PRIORITY))
        return error{"acl: too many rules (" + std::to_string(rules.size()) + ")"};

    std::vector<acl4_rule> r4;
    std::vector<acl6_rule> r6;
    std::vector<size_t> i4, i6;
    for (size_t i = 0; i < rules.size(); ++i) {
        const policy::acl_rule& r = rules[i];
        std::string err = check_prefix(r.src, r.is_v6, "source");
        if (err.empty()) err = check_prefix(r.dst, r.is_v6, "destination");
        if (r.is_v6) {
            acl6_rule a{};
            if (err.empty()) err = fill_common(r, i, rules.size(), a.field, a.data);
            if (!err.empty()) return error{rule_label(i, r) + err};
            fill_prefix6(a.field + f6_src, r.src);
            fill_prefix6(a.field + f6_dst, r.dst);
            set_range(a.field[f6_sport], r.src_port_min, r.src_port_max);
            set_range(a.field[f6_dport], r.dst_port_min, r.dst_port_max);
            r6.push_back(a);
            i6.push_back(i);
        } else {
            acl4_rule a{};
            if (err.empty()) err = fill_common(r, i, rules.size(), a.field, a.data);
            if (!err.empty()) return error{rule_label(i, r) + err};
            fill_prefix4(a.field[f4_src], r.src);
            fill_prefix4(a.field[f4_dst], r.dst);
            set_range(a.field[f4_sport], r.src_port_min, r.src_port_max);
            set_range(a.field[f4_dport], r.dst_port_min, r.dst_port_max);
            r4.push_back(a);
            i4.push_back(i);
        }
    }

    std::unique_ptr<acl_set> set{new acl_set()};
    auto c4 = compile(r4, i4, name + "4", socket_id, config4());
    if (!c4) return error{c4.error_message()};
    auto c6 = compile(r6, i6, name + "6", socket_id, config6());
    if (!c6) return error{c6.error_message()};
    set->ctx4_ = c4.value().release();
    set->ctx6_ = c6.value().release();
    set->rules4_ = r4.size();
    set->rules6_ = r6.size();
    return set;
}

acl_set::~acl_set() {
    rte_acl_free(ctx4_);
    rte_acl_free(ctx6_);
}

void acl_set::classify4(const acl_key4* const* keys, uint32_t* results, uint32_t n) const noexcept {
    if (ctx4_ == nullptr) {
        std::fill_n(results, n, 0U);
        return;
    }
    // rte_acl only reads the keys and the pointer array.
    rte_acl_classify(ctx4_, const_cast<const uint8_t**>(reinterpret_cast<const uint8_t* const*>(keys)), results, n, 1);
}

void acl_set::classify6(const acl_key6* const* keys, uint32_t* results, uint32_t n) const noexcept {
    if (ctx6_ == nullptr) {
        std::fill_n(results, n, 0U);
        return;
    }
    rte_acl_classify(ctx6_, const_cast<const uint8_t**>(reinterpret_cast<const uint8_t* const*>(keys)), results, n, 1);
}

}  // namespace meshgate::dataplane::l4
