// The one translation module from the protobuf Snapshot to policy types, with validation.
#include "policy/config.hpp"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>

#include "policy/snapshot_translate.hpp"
#include "snapshot.pb.h"

namespace meshgate::policy {
namespace {

namespace pb = meshgate::config::v1;

constexpr uint32_t max_mtu = 9000;
constexpr uint32_t min_mtu_v4 = 68;
constexpr uint32_t min_mtu_v6 = 1280;  // RFC 8200 5
constexpr uint32_t max_lcore = 128;    // RTE_MAX_LCORE in Debian's DPDK build

struct validator {
    std::string err;

    bool fail(const std::string& field, const std::string& what) {
        if (err.empty()) err = field + ": " + what;
        return false;
    }
};

std::string idx(const std::string& base, int i) {
    return base + "[" + std::to_string(i) + "]";
}
std::string quoted(const std::string& s) {
    return "\"" + s + "\"";
}

bool valid_name(const std::string& s) {
    if (s.empty() || s.size() > 32) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.';
    });
}

bool translate_interface(validator& v, const pb::Interface& in, const std::string& f, interface& out) {
    out.name = in.name();
    if (!valid_name(out.name))
        return v.fail(f + ".name", quoted(out.name) + " must be 1-32 characters of [A-Za-z0-9._-]");
    out.device = in.device();
    if (out.device.empty()) return v.fail(f + ".device", "is required (PCI address or vdev string)");
    if (!in.mac().empty()) {
        auto m = parse_mac(in.mac());
        if (!m) return v.fail(f + ".mac", quoted(in.mac()) + " is not a MAC address aa:bb:cc:dd:ee:ff");
        if (m->is_multicast() || m->is_zero())
            return v.fail(f + ".mac", quoted(in.mac()) + " is not a unicast MAC address");
        out.mac = m;
    }
    if (in.vlan() > 4094) return v.fail(f + ".vlan", std::to_string(in.vlan()) + " is not in 0..4094");
    out.vlan = static_cast<uint16_t>(in.vlan());
    out.mtu = in.mtu() == 0 ? 1500 : in.mtu();
    if (out.mtu < min_mtu_v4 || out.mtu > max_mtu)
        return v.fail(f + ".mtu", std::to_string(out.mtu) + " is not in 68..9000");
    for (int i = 0; i < in.ipv4_addresses_size(); ++i) {
        const auto& s = in.ipv4_addresses(i);
        auto p = parse_ipv4_prefix(s);
        auto fi = idx(f + ".ipv4Addresses", i);
        if (!p) return v.fail(fi, quoted(s) + " is not an IPv4 address with prefix length (a.b.c.d/len)");
        auto first = p->addr.value >> 24;
        if (first == 0 || first == 127 || first >= 224 || p->len == 0)
            return v.fail(fi, quoted(s) + " is not a unicast host address");
        if (p->len < 31) {
            uint32_t host_mask = ~uint32_t{0} >> p->len;
            uint32_t host = p->addr.value & host_mask;
            if (host == 0 || host == host_mask)
                return v.fail(fi, quoted(s) + " is the subnet's network or broadcast address");
        }
        out.ipv4.push_back(*p);
    }
    for (int i = 0; i < in.ipv6_addresses_size(); ++i) {
        const auto& s = in.ipv6_addresses(i);
        auto p = parse_ipv6_prefix(s);
        auto fi = idx(f + ".ipv6Addresses", i);
        if (!p) return v.fail(fi, quoted(s) + " is not an IPv6 address with prefix length (x::y/len)");
        if (p->addr.is_unspecified() || p->addr.is_multicast() || p->len == 0)
            return v.fail(fi, quoted(s) + " is not a unicast host address");
        out.ipv6.push_back(*p);
    }
    if (!out.ipv6.empty() && out.mtu < min_mtu_v6)
        return v.fail(f + ".mtu", std::to_string(out.mtu) + " is below 1280, the IPv6 minimum (RFC 8200)");
    for (int i = 0; i < in.static_neighbors_size(); ++i) {
        const auto& n = in.static_neighbors(i);
        auto fi = idx(f + ".staticNeighbors", i);
        static_neighbor sn;
        auto m = parse_mac(n.mac());
        if (!m || m->is_multicast() || m->is_zero())
            return v.fail(fi + ".mac", quoted(n.mac()) + " is not a unicast MAC address");
        sn.mac = *m;
        if (auto a4 = parse_ipv4(n.ip())) {
            sn.v4 = *a4;
            bool on_link =
                std::any_of(out.ipv4.begin(), out.ipv4.end(), [&](const ipv4_prefix& p) { return p.contains(*a4); });
            if (!on_link) return v.fail(fi + ".ip", quoted(n.ip()) + " is on none of the interface's IPv4 subnets");
        } else if (auto a6 = parse_ipv6(n.ip())) {
            sn.is_v6 = true;
            sn.v6 = *a6;
            bool on_link = a6->is_link_local() || std::any_of(out.ipv6.begin(), out.ipv6.end(),
                                                              [&](const ipv6_prefix& p) { return p.contains(*a6); });
            if (!on_link) return v.fail(fi + ".ip", quoted(n.ip()) + " is on none of the interface's IPv6 subnets");
        } else {
            return v.fail(fi + ".ip", quoted(n.ip()) + " is not an IP address");
        }
        out.static_neighbors.push_back(sn);
    }
    return true;
}

int find_interface(const config& c, const std::string& name) {
    for (size_t i = 0; i < c.interfaces.size(); ++i) {
        if (c.interfaces[i].name == name) return static_cast<int>(i);
    }
    return -1;
}

// One family's half of a route: the prefix canonical, the next hop on one of the interface's
// subnets (IPv6: or link-local), no prefix routed twice.
template <class Route, class Prefix, class Parse>
bool translate_family_route(validator& v, const pb::Route& in, const std::string& f, const Prefix& prefix,
                            uint32_t iface, const interface& ifc, const std::vector<Prefix>& subnets,
                            std::vector<Route>& routes, Parse parse_addr, const char* family) {
    if (prefix.network() != prefix.addr)
        return v.fail(f + ".prefix", quoted(in.prefix()) + " has host bits set (did you mean " +
                                         to_string(Prefix{prefix.network(), prefix.len}) + "?)");
    Route r{prefix, std::nullopt, iface};
    if (!in.next_hop().empty()) {
        auto nh = parse_addr(in.next_hop());
        if (!nh)
            return v.fail(f + ".nextHop",
                          quoted(in.next_hop()) + " is not an " + family + " address (the prefix is " + family + ")");
        bool on_link = std::any_of(subnets.begin(), subnets.end(),
                                   [&](const Prefix& p) { return p.contains(*nh) && p.addr != *nh; });
        if constexpr (std::is_same_v<Prefix, ipv6_prefix>) on_link = on_link || nh->is_link_local();
        if (!on_link)
            return v.fail(f + ".nextHop",
                          quoted(in.next_hop()) + " is not on a subnet of interface " + quoted(ifc.name));
        r.next_hop = nh;
    }
    for (const auto& other : routes) {
        if (other.prefix == r.prefix) return v.fail(f + ".prefix", quoted(in.prefix()) + " is routed twice");
    }
    routes.push_back(r);
    return true;
}

bool translate_route(validator& v, const pb::Route& in, const std::string& f, config& c) {
    int iface = find_interface(c, in.interface());
    if (in.interface().empty()) return v.fail(f + ".interface", "is required");
    if (iface < 0) return v.fail(f + ".interface", quoted(in.interface()) + " names no interface");
    const auto& ifc = c.interfaces[static_cast<size_t>(iface)];
    auto ifx = static_cast<uint32_t>(iface);
    if (auto p4 = parse_ipv4_prefix(in.prefix()))
        return translate_family_route(v, in, f, *p4, ifx, ifc, ifc.ipv4, c.routes4, parse_ipv4, "IPv4");
    if (auto p6 = parse_ipv6_prefix(in.prefix()))
        return translate_family_route(v, in, f, *p6, ifx, ifc, ifc.ipv6, c.routes6, parse_ipv6, "IPv6");
    return v.fail(f + ".prefix", quoted(in.prefix()) + " is not an IPv4 or IPv6 prefix (address/len)");
}

// Subnets of different interfaces must not overlap: a connected route would be ambiguous.
bool check_overlaps(validator& v, const config& c) {
    for (size_t a = 0; a < c.interfaces.size(); ++a) {
        for (size_t b = 0; b < a; ++b) {
            const auto& ia = c.interfaces[a];
            const auto& ib = c.interfaces[b];
            if (ia.device == ib.device && ia.vlan == ib.vlan)
                return v.fail(idx("interfaces", static_cast<int>(a)) + ".vlan",
                              "interface " + quoted(ia.name) + " uses the same device and VLAN as " + quoted(ib.name));
            for (size_t i = 0; i < ia.ipv4.size(); ++i) {
                for (const auto& pb4 : ib.ipv4) {
                    uint8_t len = std::min(ia.ipv4[i].len, pb4.len);
                    if (ipv4_prefix{ia.ipv4[i].addr, len}.contains(pb4.addr))
                        return v.fail(
                            idx(idx("interfaces", static_cast<int>(a)) + ".ipv4Addresses", static_cast<int>(i)),
                            "overlaps " + to_string(pb4) + " of interface " + quoted(ib.name));
                }
            }
            for (size_t i = 0; i < ia.ipv6.size(); ++i) {
                for (const auto& pb6 : ib.ipv6) {
                    uint8_t len = std::min(ia.ipv6[i].len, pb6.len);
                    if (ipv6_prefix{ia.ipv6[i].addr, len}.contains(pb6.addr))
                        return v.fail(
                            idx(idx("interfaces", static_cast<int>(a)) + ".ipv6Addresses", static_cast<int>(i)),
                            "overlaps " + to_string(pb6) + " of interface " + quoted(ib.name));
                }
            }
        }
    }
    return true;
}

// ---- L4: flows, services, firewall, SNAT, source limits ----------------------------------

std::optional<ip_addr> parse_ip_any(const std::string& s) {
    if (auto a4 = parse_ipv4(s)) return ip_addr{false, *a4, {}};
    if (auto a6 = parse_ipv6(s)) return ip_addr{true, {}, *a6};
    return std::nullopt;
}

bool unicast(const ip_addr& a) {
    if (a.is_v6) return !a.v6.is_unspecified() && !a.v6.is_multicast();
    auto first = a.v4.value >> 24;
    return first != 0 && first != 127 && first < 224;
}

// A canonical prefix of either family; the error says what is wrong.
bool parse_prefix_field(validator& v, const std::string& s, const std::string& f, ip_prefix& out) {
    if (auto p4 = parse_ipv4_prefix(s)) {
        if (p4->network() != p4->addr)
            return v.fail(f, quoted(s) + " has host bits set (did you mean " +
                                 to_string(ipv4_prefix{p4->network(), p4->len}) + "?)");
        out = ip_prefix{false, *p4, {}};
        return true;
    }
    if (auto p6 = parse_ipv6_prefix(s)) {
        if (p6->network() != p6->addr)
            return v.fail(f, quoted(s) + " has host bits set (did you mean " +
                                 to_string(ipv6_prefix{p6->network(), p6->len}) + "?)");
        out = ip_prefix{true, {}, *p6};
        return true;
    }
    return v.fail(f, quoted(s) + " is not an IPv4 or IPv6 prefix (address/len)");
}

bool parse_rate(validator& v, const pb::RateLimit& in, const std::string& f, rate_limit& out) {
    if (in.rate() > 100000000) return v.fail(f + ".rate", std::to_string(in.rate()) + " is above 100000000");
    out.rate = in.rate();
    out.burst = in.burst() == 0 ? in.rate() : in.burst();
    if (in.rate() == 0 && in.burst() != 0) return v.fail(f + ".burst", "is set but rate is 0 (unlimited)");
    return true;
}

std::optional<uint8_t> parse_protocol(const std::string& s, bool allow_any) {
    if (s == "tcp") return l4::tcp;
    if (s == "udp") return l4::udp;
    if (s == "sctp") return l4::sctp;
    if (allow_any && (s.empty() || s == "any")) return l4::any;
    if (allow_any && s == "icmp") return l4::icmp;
    return std::nullopt;
}

bool translate_flows(validator& v, const pb::Flows& in, flow_settings& out) {
    if (in.sessions_per_worker() != 0) {
        if (in.sessions_per_worker() < 1024 || in.sessions_per_worker() > (1U << 22))
            return v.fail("flows.sessionsPerWorker",
                          std::to_string(in.sessions_per_worker()) + " is not in 1024..4194304");
        out.sessions_per_worker = in.sessions_per_worker();
    }
    auto timeout = [&](uint32_t value, const char* field, uint32_t& dst) {
        if (value == 0) return true;
        if (value > 604800)
            return v.fail(std::string("flows.") + field, std::to_string(value) + " is above 604800 (a week)");
        dst = value;
        return true;
    };
    out.max_flows_per_source = in.max_flows_per_source();
    return timeout(in.tcp_syn_timeout(), "tcpSynTimeout", out.tcp_syn_timeout) &&
           timeout(in.tcp_established_timeout(), "tcpEstablishedTimeout", out.tcp_established_timeout) &&
           timeout(in.tcp_closing_timeout(), "tcpClosingTimeout", out.tcp_closing_timeout) &&
           timeout(in.udp_timeout(), "udpTimeout", out.udp_timeout) &&
           timeout(in.icmp_timeout(), "icmpTimeout", out.icmp_timeout) &&
           timeout(in.sctp_timeout(), "sctpTimeout", out.sctp_timeout);
}

bool prime(uint32_t n) {
    if (n < 2) return false;
    for (uint32_t d = 2; uint64_t{d} * d <= n; ++d) {
        if (n % d == 0) return false;
    }
    return true;
}

bool own_address(const config& c, const ip_addr& a) {
    for (const auto& ifc : c.interfaces) {
        if (!a.is_v6 && std::any_of(ifc.ipv4.begin(), ifc.ipv4.end(), [&](auto& p) { return p.addr == a.v4; }))
            return true;
        if (a.is_v6 && std::any_of(ifc.ipv6.begin(), ifc.ipv6.end(), [&](auto& p) { return p.addr == a.v6; }))
            return true;
    }
    return false;
}

bool translate_health(validator& v, const pb::HealthCheck& in, const std::string& f, health_check& out) {
    const auto& t = in.type();
    if (t.empty() || t == "none") {
        out.type = health_check::kind::none;
    } else if (t == "tcp") {
        out.type = health_check::kind::tcp;
    } else if (t == "http") {
        out.type = health_check::kind::http;
    } else {
        return v.fail(f + ".type", quoted(t) + " is not one of \"none\", \"tcp\", \"http\"");
    }
    if (in.interval_ms() != 0) out.interval_ms = in.interval_ms();
    if (in.timeout_ms() != 0) out.timeout_ms = in.timeout_ms();
    if (out.interval_ms < 100 || out.interval_ms > 3600000)
        return v.fail(f + ".intervalMs", std::to_string(out.interval_ms) + " is not in 100..3600000");
    if (out.timeout_ms < 10 || out.timeout_ms > out.interval_ms)
        return v.fail(f + ".timeoutMs", std::to_string(out.timeout_ms) + " is not in 10..intervalMs");
    if (in.rise() != 0) out.rise = in.rise();
    if (in.fall() != 0) out.fall = in.fall();
    if (out.rise > 100) return v.fail(f + ".rise", std::to_string(out.rise) + " is above 100");
    if (out.fall > 100) return v.fail(f + ".fall", std::to_string(out.fall) + " is above 100");
    if (!in.http_path().empty()) {
        if (in.http_path()[0] != '/' || in.http_path().size() > 256 ||
            in.http_path().find_first_of(" \r\n\t") != std::string::npos)
            return v.fail(f + ".httpPath",
                          quoted(in.http_path()) + " is not an absolute path without spaces (max 256)");
        out.http_path = in.http_path();
    }
    if (in.port() > 65535) return v.fail(f + ".port", std::to_string(in.port()) + " is not in 0..65535");
    out.http_port = static_cast<uint16_t>(in.port());
    if (in.expect_status() != 0) {
        if (in.expect_status() < 100 || in.expect_status() > 599)
            return v.fail(f + ".expectStatus", std::to_string(in.expect_status()) + " is not in 100..599");
        out.expect_status = in.expect_status();
    }
    return true;
}

bool translate_tcp_proxy(validator& v, const pb::TcpProxy& in, const std::string& f, tcp_proxy_settings& out) {
    auto ranged = [&](uint32_t value, const char* field, uint32_t lo, uint32_t hi, auto& dst) {
        if (value == 0) return true;  // the default
        if (value < lo || value > hi)
            return v.fail(f + "." + field,
                          std::to_string(value) + " is not in " + std::to_string(lo) + ".." + std::to_string(hi));
        dst = static_cast<std::remove_reference_t<decltype(dst)>>(value);
        return true;
    };
    if (!ranged(in.connect_timeout_ms(), "connectTimeoutMs", 100, 600000, out.connect_timeout_ms) ||
        !ranged(in.idle_timeout_ms(), "idleTimeoutMs", 1000, 604800000, out.idle_timeout_ms) ||
        !ranged(in.min_mss(), "minMss", 64, 1460, out.min_mss) ||
        !ranged(in.buffer_bytes(), "bufferBytes", 16384, 16777216, out.buffer_bytes))
        return false;
    const auto& cc = in.congestion_control();
    if (cc.empty() || cc == "cubic") {
        out.newreno = false;
    } else if (cc == "newreno") {
        out.newreno = true;
    } else {
        return v.fail(f + ".congestionControl", quoted(cc) + " is not \"cubic\" or \"newreno\"");
    }
    return true;
}

bool translate_service(validator& v, const pb::Service& in, const std::string& f, const config& c, service& out) {
    out.name = in.name();
    if (!valid_name(out.name))
        return v.fail(f + ".name", quoted(out.name) + " must be 1-32 characters of [A-Za-z0-9._-]");
    auto vip = parse_ip_any(in.vip());
    if (!vip) return v.fail(f + ".vip", quoted(in.vip()) + " is not an IPv4 or IPv6 address");
    if (!unicast(*vip)) return v.fail(f + ".vip", quoted(in.vip()) + " is not a unicast address");
    if (own_address(c, *vip))
        return v.fail(f + ".vip", quoted(in.vip()) + " is an interface address; a VIP must be its own address");
    out.vip = *vip;
    auto proto = parse_protocol(in.protocol(), false);
    if (!proto) return v.fail(f + ".protocol", quoted(in.protocol()) + " is not one of \"tcp\", \"udp\", \"sctp\"");
    out.protocol = *proto;
    if (in.port() == 0 || in.port() > 65535)
        return v.fail(f + ".port", std::to_string(in.port()) + " is not in 1..65535");
    out.port = static_cast<uint16_t>(in.port());
    if (in.mode().empty() || in.mode() == "full-nat") {
        out.mode = nat_mode::full_nat;
    } else if (in.mode() == "dnat") {
        out.mode = nat_mode::dnat;
    } else if (in.mode() == "tcp-proxy") {
        out.mode = nat_mode::tcp_proxy;
        if (out.protocol != l4::tcp) return v.fail(f + ".mode", "\"tcp-proxy\" needs protocol \"tcp\"");
    } else {
        return v.fail(f + ".mode", quoted(in.mode()) + " is not one of \"full-nat\", \"dnat\", \"tcp-proxy\"");
    }
    if (in.has_tcp_proxy()) {
        if (out.mode != nat_mode::tcp_proxy)
            return v.fail(f + ".tcpProxy", "is set but mode is " + quoted(in.mode().empty() ? "full-nat" : in.mode()) +
                                               " (it applies to mode \"tcp-proxy\" only)");
        if (!translate_tcp_proxy(v, in.tcp_proxy(), f + ".tcpProxy", out.proxy)) return false;
    }
    bool have4 = false;
    bool have6 = false;
    for (int i = 0; i < in.source_addresses_size(); ++i) {
        auto fi = idx(f + ".sourceAddresses", i);
        auto a = parse_ip_any(in.source_addresses(i));
        if (!a || !unicast(*a)) return v.fail(fi, quoted(in.source_addresses(i)) + " is not a unicast IP address");
        if ((a->is_v6 && have6) || (!a->is_v6 && have4))
            return v.fail(fi,
                          "a second " + std::string(a->is_v6 ? "IPv6" : "IPv4") + " source address (one per family)");
        (a->is_v6 ? have6 : have4) = true;
        out.source_addresses.push_back(*a);
    }
    if (out.mode == nat_mode::dnat && !out.source_addresses.empty())
        return v.fail(f + ".sourceAddresses", "is set but mode is \"dnat\" (sources are not translated)");
    if (in.backends_size() == 0) return v.fail(f + ".backends", "at least one backend is required");
    for (int i = 0; i < in.backends_size(); ++i) {
        const auto& b = in.backends(i);
        auto fi = idx(f + ".backends", i);
        backend be;
        auto a = parse_ip_any(b.address());
        if (!a || !unicast(*a)) return v.fail(fi + ".address", quoted(b.address()) + " is not a unicast IP address");
        if (own_address(c, *a))
            return v.fail(fi + ".address", quoted(b.address()) + " is one of the gateway's addresses");
        be.addr = *a;
        if (b.port() > 65535) return v.fail(fi + ".port", std::to_string(b.port()) + " is not in 0..65535");
        be.port = b.port() == 0 ? out.port : static_cast<uint16_t>(b.port());
        if (b.weight() > 65535) return v.fail(fi + ".weight", std::to_string(b.weight()) + " is not in 1..65535");
        be.weight = b.weight() == 0 ? 1 : b.weight();
        if (b.admin_state().empty() || b.admin_state() == "up") {
            be.admin_up = true;
        } else if (b.admin_state() == "down") {
            be.admin_up = false;
        } else {
            return v.fail(fi + ".adminState", quoted(b.admin_state()) + " is not \"up\" or \"down\"");
        }
        // tcp-proxy opens its own connection to the backend: either family works.
        if (be.addr.is_v6 != out.vip.is_v6 && out.mode == nat_mode::dnat)
            return v.fail(fi + ".address", quoted(b.address()) +
                                               " is of the other family than the VIP; NAT46/NAT64 needs mode "
                                               "\"full-nat\" (or \"tcp-proxy\")");
        for (const auto& other : out.backends) {
            if (other.addr == be.addr && other.port == be.port)
                return v.fail(fi + ".address",
                              quoted(b.address()) + " port " + std::to_string(be.port) + " is listed twice");
        }
        out.backends.push_back(be);
    }
    if (out.backends.size() > 4096) return v.fail(f + ".backends", "more than 4096 backends");
    if (in.maglev_table_size() != 0) {
        if (!prime(in.maglev_table_size()) || in.maglev_table_size() > 1000003)
            return v.fail(f + ".maglevTableSize",
                          std::to_string(in.maglev_table_size()) + " is not a prime up to 1000003");
        out.maglev_table_size = in.maglev_table_size();
    }
    if (out.maglev_table_size < out.backends.size() * 10)
        return v.fail(f + ".maglevTableSize",
                      std::to_string(out.maglev_table_size) + " is below 10 entries per backend (Maglev needs M >> N)");
    if (!translate_health(v, in.health_check(), f + ".healthCheck", out.health)) return false;
    if (in.on_backend_down().empty() || in.on_backend_down() == "keep") {
        out.reset_on_backend_down = false;
    } else if (in.on_backend_down() == "reset") {
        out.reset_on_backend_down = true;
    } else {
        return v.fail(f + ".onBackendDown", quoted(in.on_backend_down()) + " is not \"keep\" or \"reset\"");
    }
    if (!parse_rate(v, in.new_flows(), f + ".newFlows", out.new_flows) ||
        !parse_rate(v, in.packets(), f + ".packets", out.packets))
        return false;
    const auto& sp = in.syn_proxy();
    if (sp.empty() || sp == "auto") {
        out.syn_proxy_threshold = in.syn_proxy_threshold() == 0 ? 1000 : in.syn_proxy_threshold();
    } else if (sp == "always") {
        out.syn_proxy_threshold = 0;
    } else if (sp == "off") {
        out.syn_proxy_threshold = UINT32_MAX;
    } else {
        return v.fail(f + ".synProxy", quoted(sp) + " is not \"auto\", \"always\" or \"off\"");
    }
    // tcp-proxy: the user-space stack answers SYNs itself (with its own SYN cookies).
    if (out.protocol != l4::tcp || out.mode == nat_mode::tcp_proxy) out.syn_proxy_threshold = UINT32_MAX;
    return true;
}

bool parse_ports(validator& v, const std::string& s, const std::string& f, uint16_t& lo, uint16_t& hi) {
    if (s.empty() || s == "any") return true;
    auto num = [](std::string_view t, uint32_t& out) {
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
        return ec == std::errc{} && p == t.data() + t.size() && !t.empty() && out <= 65535;
    };
    auto dash = s.find('-');
    uint32_t a = 0;
    uint32_t b = 0;
    bool ok = dash == std::string::npos
                  ? (num(s, a) && ((b = a), true))
                  : (num(std::string_view(s).substr(0, dash), a) && num(std::string_view(s).substr(dash + 1), b));
    if (!ok || a > b) return v.fail(f, quoted(s) + " is not a port or port range \"lo-hi\" in 0..65535");
    lo = static_cast<uint16_t>(a);
    hi = static_cast<uint16_t>(b);
    return true;
}

bool parse_action(const std::string& s, acl_action& out) {
    if (s == "allow") {
        out = acl_action::allow;
    } else if (s == "deny") {
        out = acl_action::deny;
    } else if (s == "log") {
        out = acl_action::log;
    } else {
        return false;
    }
    return true;
}

bool translate_rule(validator& v, const pb::AclRule& in, const std::string& f, const config& c,
                    std::vector<acl_rule>& out) {
    acl_rule r;
    r.name = in.name();
    if (!r.name.empty() && r.name.size() > 64) return v.fail(f + ".name", "is longer than 64 characters");
    bool has_src = !in.source().empty();
    bool has_dst = !in.destination().empty();
    if (has_src && !parse_prefix_field(v, in.source(), f + ".source", r.src)) return false;
    if (has_dst && !parse_prefix_field(v, in.destination(), f + ".destination", r.dst)) return false;
    if (has_src && has_dst && r.src.is_v6 != r.dst.is_v6)
        return v.fail(f + ".destination",
                      quoted(in.destination()) + " is of another family than source " + quoted(in.source()));
    int fam = -1;  // -1 both
    if (has_src) fam = r.src.is_v6 ? 6 : 4;
    if (has_dst) fam = r.dst.is_v6 ? 6 : 4;
    if (!in.family().empty()) {
        int want = in.family() == "ipv4" ? 4 : in.family() == "ipv6" ? 6 : 0;
        if (want == 0) return v.fail(f + ".family", quoted(in.family()) + " is not \"ipv4\" or \"ipv6\"");
        if (fam != -1 && fam != want) return v.fail(f + ".family", quoted(in.family()) + " contradicts the prefixes");
        fam = want;
    }
    auto proto = parse_protocol(in.protocol(), true);
    if (!proto)
        return v.fail(f + ".protocol",
                      quoted(in.protocol()) + " is not one of \"any\", \"tcp\", \"udp\", \"sctp\", \"icmp\"");
    r.protocol = *proto;
    if (!parse_ports(v, in.source_ports(), f + ".sourcePorts", r.src_port_min, r.src_port_max) ||
        !parse_ports(v, in.destination_ports(), f + ".destinationPorts", r.dst_port_min, r.dst_port_max))
        return false;
    bool has_ports = !in.source_ports().empty() || !in.destination_ports().empty();
    if (has_ports && r.protocol != l4::tcp && r.protocol != l4::udp && r.protocol != l4::sctp)
        return v.fail(in.source_ports().empty() ? f + ".destinationPorts" : f + ".sourcePorts",
                      "ports need protocol \"tcp\", \"udp\" or \"sctp\"");
    if (!in.in_interface().empty()) {
        int i = find_interface(c, in.in_interface());
        if (i < 0) return v.fail(f + ".inInterface", quoted(in.in_interface()) + " names no interface");
        r.in_interface = static_cast<uint32_t>(i);
    }
    if (!parse_action(in.action(), r.action))
        return v.fail(f + ".action", quoted(in.action()) + " is not one of \"allow\", \"deny\", \"log\"");
    if (fam == -1 || fam == 4) {
        r.is_v6 = false;
        if (!has_src) r.src = ip_prefix{};
        if (!has_dst) r.dst = ip_prefix{};
        out.push_back(r);
    }
    if (fam == -1 || fam == 6) {
        r.is_v6 = true;
        if (!has_src) r.src = ip_prefix{true, {}, {}};
        if (!has_dst) r.dst = ip_prefix{true, {}, {}};
        out.push_back(r);
    }
    return true;
}

bool translate_snat(validator& v, const pb::SnatPool& in, const std::string& f, const config& c, snat_pool& out) {
    out.name = in.name();
    if (!valid_name(out.name))
        return v.fail(f + ".name", quoted(out.name) + " must be 1-32 characters of [A-Za-z0-9._-]");
    if (in.sources_size() == 0) return v.fail(f + ".sources", "at least one source prefix is required");
    for (int i = 0; i < in.sources_size(); ++i) {
        ip_prefix p;
        if (!parse_prefix_field(v, in.sources(i), idx(f + ".sources", i), p)) return false;
        out.sources.push_back(p);
    }
    if (in.addresses_size() == 0) return v.fail(f + ".addresses", "at least one pool address is required");
    for (int i = 0; i < in.addresses_size(); ++i) {
        auto a = parse_ip_any(in.addresses(i));
        auto fi = idx(f + ".addresses", i);
        if (!a || !unicast(*a)) return v.fail(fi, quoted(in.addresses(i)) + " is not a unicast IP address");
        if (a->is_v6) {
            if (std::find(out.v6.begin(), out.v6.end(), a->v6) != out.v6.end())
                return v.fail(fi, quoted(in.addresses(i)) + " is listed twice");
            out.v6.push_back(a->v6);
        } else {
            if (std::find(out.v4.begin(), out.v4.end(), a->v4) != out.v4.end())
                return v.fail(fi, quoted(in.addresses(i)) + " is listed twice");
            out.v4.push_back(a->v4);
        }
    }
    for (const auto& src : out.sources) {
        if (src.is_v6 ? out.v6.empty() : out.v4.empty())
            return v.fail(f + ".addresses", std::string("has no ") + (src.is_v6 ? "IPv6" : "IPv4") +
                                                " address for source " + to_string(src));
    }
    out.port_min = in.port_min() == 0 ? 1024 : static_cast<uint16_t>(std::min<uint32_t>(in.port_min(), 65536));
    out.port_max = in.port_max() == 0 ? 65535 : static_cast<uint16_t>(std::min<uint32_t>(in.port_max(), 65536));
    if (in.port_min() > 65535 || (in.port_min() > 0 && in.port_min() < 1024))
        return v.fail(f + ".portMin", std::to_string(in.port_min()) + " is not in 1024..65535");
    if (in.port_max() > 65535 || out.port_max < out.port_min)
        return v.fail(f + ".portMax", std::to_string(in.port_max()) + " is not in portMin..65535");
    if (out.port_max - out.port_min + 1 < 64)
        return v.fail(f + ".portMax", "the range portMin..portMax holds fewer than 64 ports");
    if (!in.out_interface().empty()) {
        int i = find_interface(c, in.out_interface());
        if (i < 0) return v.fail(f + ".outInterface", quoted(in.out_interface()) + " names no interface");
        out.out_interface = static_cast<uint32_t>(i);
    }
    out.endpoint_independent = in.endpoint_independent();
    return true;
}

bool translate_l4(validator& v, const pb::Snapshot& s, config& c) {
    if (!translate_flows(v, s.flows(), c.flows)) return false;
    for (int i = 0; i < s.services_size(); ++i) {
        service svc;
        auto f = idx("services", i);
        if (!translate_service(v, s.services(i), f, c, svc)) return false;
        for (const auto& o : c.services) {
            if (o.name == svc.name) return v.fail(f + ".name", quoted(svc.name) + " is used by another service");
            if (o.vip == svc.vip && o.protocol == svc.protocol && o.port == svc.port)
                return v.fail(f + ".port", "VIP " + to_string(svc.vip) + " " + s.services(i).protocol() + " port " +
                                               std::to_string(svc.port) + " is already service " + quoted(o.name));
        }
        c.services.push_back(std::move(svc));
    }
    const auto& fw = s.firewall();
    if (fw.default_action().empty() || fw.default_action() == "allow") {
        c.fw.default_action = acl_action::allow;
    } else if (fw.default_action() == "deny") {
        c.fw.default_action = acl_action::deny;
    } else {
        return v.fail("firewall.defaultAction", quoted(fw.default_action()) + " is not \"allow\" or \"deny\"");
    }
    for (int i = 0; i < fw.rules_size(); ++i) {
        if (!translate_rule(v, fw.rules(i), idx("firewall.rules", i), c, c.fw.rules)) return false;
    }
    if (c.fw.rules.size() > 65536) return v.fail("firewall.rules", "more than 65536 rules");
    c.fw.enabled = !c.fw.rules.empty() || c.fw.default_action == acl_action::deny;
    for (int i = 0; i < s.snat_pools_size(); ++i) {
        snat_pool p;
        auto f = idx("snatPools", i);
        if (!translate_snat(v, s.snat_pools(i), f, c, p)) return false;
        for (const auto& o : c.snat_pools) {
            if (o.name == p.name) return v.fail(f + ".name", quoted(p.name) + " is used by another pool");
        }
        c.snat_pools.push_back(std::move(p));
    }
    for (int i = 0; i < s.source_limits_size(); ++i) {
        source_limit l;
        auto f = idx("sourceLimits", i);
        if (!parse_prefix_field(v, s.source_limits(i).prefix(), f + ".prefix", l.prefix) ||
            !parse_rate(v, s.source_limits(i).new_flows(), f + ".newFlows", l.new_flows) ||
            !parse_rate(v, s.source_limits(i).packets(), f + ".packets", l.packets))
            return false;
        c.source_limits.push_back(l);
    }
    return true;
}

bool translate_telemetry(validator& v, const pb::Telemetry& in, config& c) {
    auto& t = c.telemetry;
    if (!in.http_address().empty()) {
        auto a = parse_ip_any(in.http_address());
        if (!a) return v.fail("telemetry.httpAddress", quoted(in.http_address()) + " is not an IP address");
        t.http_address = *a;
    }
    if (in.http_port() > 65535)
        return v.fail("telemetry.httpPort", std::to_string(in.http_port()) + " is not in 0..65535");
    t.http_port = static_cast<uint16_t>(in.http_port());
    if (in.log_format().empty() || in.log_format() == "json") {
        t.log_format = telemetry_settings::log_format_t::json;
    } else if (in.log_format() == "text") {
        t.log_format = telemetry_settings::log_format_t::text;
    } else {
        return v.fail("telemetry.logFormat", quoted(in.log_format()) + " is not \"json\" or \"text\"");
    }
    const std::pair<const char*, telemetry_settings::level> levels[] = {
        {"debug", telemetry_settings::level::debug},
        {"info", telemetry_settings::level::info},
        {"warning", telemetry_settings::level::warning},
        {"error", telemetry_settings::level::error},
    };
    if (!in.log_level().empty()) {
        bool found = false;
        for (const auto& [name, lv] : levels) {
            if (in.log_level() == name) {
                t.log_level = lv;
                found = true;
            }
        }
        if (!found)
            return v.fail("telemetry.logLevel",
                          quoted(in.log_level()) + " is not one of \"debug\", \"info\", \"warning\", \"error\"");
    }
    if (in.drop_burst_per_second() != 0) t.drop_burst_per_second = in.drop_burst_per_second();
    return true;
}

bool translate_tap(validator& v, const pb::Tap& in, const std::string& f, const config& c, tap_settings& out) {
    out.name = in.name();
    if (!valid_name(out.name))
        return v.fail(f + ".name", quoted(out.name) + " must be 1-32 characters of [A-Za-z0-9._-]");
    out.filter = in.filter();
    if (out.filter.size() > 4096) return v.fail(f + ".filter", "is longer than 4096 characters");
    for (int i = 0; i < in.interfaces_size(); ++i) {
        int k = find_interface(c, in.interfaces(i));
        if (k < 0) return v.fail(idx(f + ".interfaces", i), quoted(in.interfaces(i)) + " names no interface");
        out.interfaces.push_back(static_cast<uint32_t>(k));
    }
    const auto& d = in.direction();
    if (d.empty() || d == "both") {
        out.direction = tap_settings::dir::both;
    } else if (d == "rx") {
        out.direction = tap_settings::dir::rx;
    } else if (d == "tx") {
        out.direction = tap_settings::dir::tx;
    } else {
        return v.fail(f + ".direction", quoted(d) + " is not one of \"rx\", \"tx\", \"both\"");
    }
    if (in.snap_length() != 0) {
        if (in.snap_length() < 64 || in.snap_length() > 65535)
            return v.fail(f + ".snapLength", std::to_string(in.snap_length()) + " is not in 64..65535");
        out.snap_length = in.snap_length();
    }
    if (!parse_rate(v, in.packets(), f + ".packets", out.packets) ||
        !parse_rate(v, in.bytes(), f + ".bytes", out.bytes))
        return false;
    out.directory = in.directory();
    if (!out.directory.empty() && out.directory.front() != '/')
        return v.fail(f + ".directory", quoted(out.directory) + " is not an absolute path");
    if (in.max_file_bytes() != 0) {
        if (in.max_file_bytes() < 4096 || in.max_file_bytes() > (1ULL << 40))
            return v.fail(f + ".maxFileBytes", std::to_string(in.max_file_bytes()) + " is not in 4096..2^40");
        out.max_file_bytes = in.max_file_bytes();
    }
    if (in.max_files() != 0) {
        if (in.max_files() > 1000) return v.fail(f + ".maxFiles", std::to_string(in.max_files()) + " is above 1000");
        out.max_files = in.max_files();
    }
    out.start = in.start();
    if (!in.mirror().collector().empty()) {
        auto a = parse_ip_any(in.mirror().collector());
        if (!a || !unicast(*a))
            return v.fail(f + ".mirror.collector", quoted(in.mirror().collector()) + " is not a unicast IP address");
        out.mirror_collector = *a;
    }
    if (in.mirror().session_id() > 1023)
        return v.fail(f + ".mirror.sessionId", std::to_string(in.mirror().session_id()) + " is not in 0..1023");
    out.mirror_session = static_cast<uint16_t>(in.mirror().session_id());
    if (out.directory.empty() && !out.mirror_collector)
        return v.fail(f, "has neither a directory (pcapng files) nor a mirror collector");
    return true;
}

bool translate_taps(validator& v, const pb::Snapshot& s, config& c) {
    if (s.taps_size() > 64) return v.fail("taps", std::to_string(s.taps_size()) + " taps, more than 64");
    for (int i = 0; i < s.taps_size(); ++i) {
        tap_settings t;
        auto f = idx("taps", i);
        if (!translate_tap(v, s.taps(i), f, c, t)) return false;
        for (const auto& o : c.taps) {
            if (o.name == t.name) return v.fail(f + ".name", quoted(t.name) + " is used by another tap");
            if (!o.directory.empty() && o.directory == t.directory)
                return v.fail(f + ".directory", quoted(t.directory) + " is used by tap " + quoted(o.name));
        }
        c.taps.push_back(std::move(t));
    }
    return true;
}

result<config> translate(const pb::Snapshot& s) {
    validator v;
    config c;
    c.generation = s.generation();

    const auto& w = s.workers();
    std::set<unsigned> seen;
    for (int i = 0; i < w.lcores_size(); ++i) {
        unsigned l = w.lcores(i);
        if (l >= max_lcore) return error{idx("workers.lcores", i) + ": " + std::to_string(l) + " is not below 128"};
        if (!seen.insert(l).second)
            return error{idx("workers.lcores", i) + ": lcore " + std::to_string(l) + " is listed twice"};
        c.workers.lcores.push_back(l);
    }
    auto desc = [&](uint32_t value, const char* field, uint32_t& out) {
        if (value == 0) return true;
        if (value < 64 || value > 16384 || (value & (value - 1)) != 0)
            return v.fail(std::string("workers.") + field,
                          std::to_string(value) + " is not a power of two in 64..16384");
        out = value;
        return true;
    };
    if (!desc(w.rx_descriptors(), "rxDescriptors", c.workers.rx_descriptors) ||
        !desc(w.tx_descriptors(), "txDescriptors", c.workers.tx_descriptors))
        return error{v.err};
    if (w.mbufs() != 0) {
        if (w.mbufs() < 1023 || w.mbufs() > (1U << 24))
            return error{"workers.mbufs: " + std::to_string(w.mbufs()) + " is not in 1023..16777216"};
        c.workers.mbufs = w.mbufs();
    }

    if (s.interfaces_size() == 0) return error{"interfaces: at least one interface is required"};
    for (int i = 0; i < s.interfaces_size(); ++i) {
        interface ifc;
        if (!translate_interface(v, s.interfaces(i), idx("interfaces", i), ifc)) return error{v.err};
        if (find_interface(c, ifc.name) >= 0)
            return error{idx("interfaces", i) + ".name: " + quoted(ifc.name) + " is used by another interface"};
        c.interfaces.push_back(std::move(ifc));
    }
    if (!check_overlaps(v, c)) return error{v.err};
    for (int i = 0; i < s.routes_size(); ++i) {
        if (!translate_route(v, s.routes(i), idx("routes", i), c)) return error{v.err};
    }

    if (s.icmp().errors_per_second() != 0) c.icmp.errors_per_second = s.icmp().errors_per_second();
    if (s.icmp().errors_burst() != 0) c.icmp.errors_burst = s.icmp().errors_burst();
    if (c.icmp.errors_per_second > 1000000)
        return error{"icmp.errorsPerSecond: " + std::to_string(c.icmp.errors_per_second) + " is above 1000000"};
    if (!translate_l4(v, s, c)) return error{v.err};
    if (!translate_telemetry(v, s.telemetry(), c) || !translate_taps(v, s, c)) return error{v.err};
    return c;
}

}  // namespace

std::string to_string(const ip_addr& a) {
    return a.is_v6 ? meshgate::to_string(a.v6) : meshgate::to_string(a.v4);
}
std::string to_string(const ip_prefix& p) {
    return p.is_v6 ? meshgate::to_string(p.v6) : meshgate::to_string(p.v4);
}

result<config> translate_snapshot(const pb::Snapshot& s) {
    return translate(s);
}

result<config> parse_config_binary(std::string_view bytes) {
    pb::Snapshot s;
    if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
        !s.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return error{"not a valid Snapshot in protobuf binary encoding"};
    return translate(s);
}

result<config> parse_config_json(std::string_view json) {
    pb::Snapshot s;
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = false;
    auto st =
        google::protobuf::util::JsonStringToMessage(google::protobuf::StringPiece(json.data(), json.size()), &s, opts);
    if (!st.ok()) return error{"not a valid Snapshot in proto3 JSON: " + std::string(st.message())};
    return translate(s);
}

result<config> load_config_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return error{path + ": cannot be read"};
    std::stringstream ss;
    ss << in.rdbuf();
    auto r = parse_config_json(ss.str());
    if (!r) return error{path + ": " + r.error_message()};
    return r;
}

}  // namespace meshgate::policy
