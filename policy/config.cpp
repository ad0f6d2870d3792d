// The one translation module from the protobuf Snapshot to policy types, with validation.
#include "policy/config.hpp"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>

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
    return c;
}

}  // namespace

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
