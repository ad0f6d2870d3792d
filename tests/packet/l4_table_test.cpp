// Packet table for the L4 stage: load-balanced services (full-NAT, DNAT, NAT46/NAT64, Maglev),
// ICMP errors through NAT (RFC 5508), the stateful firewall, egress SNAT, SYN cookies and the SYN
// proxy, rate limits, session expiry and reloads, a full session table and malformed input. The
// pipeline is the real one (parser, L4 stage, LPM, neighbors, control lcore) on a virtual clock.
// Every expected frame is built here from scratch, checksums included, with no data-plane code;
// frames are compared byte for byte as a port sends them.
//
// Scenarios that found data-plane bugs keep their `bug` text as the record of what they guard
// against; they all run.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/l4/health.hpp"
#include "dataplane/l4/l4_stats.hpp"
#include "dataplane/l4/syn_cookie.hpp"
#include "tests/support/pipeline.hpp"

namespace meshgate::test {
namespace {

using dataplane::core_counters;
using dataplane::drop_reason;
using counter_field = uint64_t core_counters::*;

// ---- Topology --------------------------------------------------------------------------------------

const mac gw_client = mac_of("02:00:00:00:00:01");
const mac gw_srv1 = mac_of("02:00:00:00:00:02");
const mac gw_srv2 = mac_of("02:00:00:00:00:03");
constexpr uint16_t eth_ipv4 = 0x0800;
constexpr uint16_t eth_ipv6 = 0x86dd;

// A host on one of the gateway's links: its addresses, MAC, the gateway port and MAC it talks to.
struct host {
    std::string a4, a6;
    mac m;
    uint16_t port;
    mac gw;
    const std::string& addr(int fam) const { return fam == 6 ? a6 : a4; }
};

const host client{"198.18.1.2", "fd00:1::2", mac_of("02:00:00:00:01:02"), 0, gw_client};
const host client3{"198.18.1.3", "fd00:1::3", mac_of("02:00:00:00:01:03"), 0, gw_client};
const host srv{"198.18.2.2", "fd00:2::2", mac_of("02:00:00:00:02:02"), 1, gw_srv1};
const host srvb{"198.18.2.3", "fd00:2::3", mac_of("02:00:00:00:02:03"), 1, gw_srv1};
const host srv2{"198.18.3.2", "fd00:3::2", mac_of("02:00:00:00:03:02"), 2, gw_srv2};
// Routers that send ICMP errors; they share their link's host MAC (only their IP matters).
const host router_srv{"198.18.2.254", "fd00:2::fe", mac_of("02:00:00:00:02:02"), 1, gw_srv1};
const host router_cli{"198.18.1.254", "fd00:1::fe", mac_of("02:00:00:00:01:02"), 0, gw_client};

// Addresses by family.
struct addrs {
    std::string vip, nat, pool, gw_client, gw_srv1, gw_srv2;
};
const addrs A4{"203.0.113.10", "198.18.2.100", "198.18.1.100", "198.18.1.1", "198.18.2.1", "198.18.3.1"};
const addrs A6{"2001:db8::10", "fd00:2::100", "fd00:1::100", "fd00:1::1", "fd00:2::1", "fd00:3::1"};
const addrs& fam_addrs(int fam) {
    return fam == 6 ? A6 : A4;
}

// The lab of tests/packet/lab_config.hpp with a second host on the client and srv1 links and no
// VLAN; `l4` is appended (services, firewall, snatPools, sourceLimits, flows).
std::string lab(const std::string& l4) {
    std::string s = R"({
  "interfaces": [
    { "name": "client", "device": "c", "mac": "02:00:00:00:00:01",
      "ipv4Addresses": ["198.18.1.1/24"], "ipv6Addresses": ["fd00:1::1/64"],
      "staticNeighbors": [ { "ip": "198.18.1.2", "mac": "02:00:00:00:01:02" },
                           { "ip": "fd00:1::2", "mac": "02:00:00:00:01:02" },
                           { "ip": "198.18.1.3", "mac": "02:00:00:00:01:03" },
                           { "ip": "fd00:1::3", "mac": "02:00:00:00:01:03" } ] },
    { "name": "srv1", "device": "s1", "mac": "02:00:00:00:00:02",
      "ipv4Addresses": ["198.18.2.1/24"], "ipv6Addresses": ["fd00:2::1/64"],
      "staticNeighbors": [ { "ip": "198.18.2.2", "mac": "02:00:00:00:02:02" },
                           { "ip": "fd00:2::2", "mac": "02:00:00:00:02:02" },
                           { "ip": "198.18.2.3", "mac": "02:00:00:00:02:03" },
                           { "ip": "fd00:2::3", "mac": "02:00:00:00:02:03" } ] },
    { "name": "srv2", "device": "s2", "mac": "02:00:00:00:00:03", "mtu": 1280,
      "ipv4Addresses": ["198.18.3.1/24"], "ipv6Addresses": ["fd00:3::1/64"],
      "staticNeighbors": [ { "ip": "198.18.3.2", "mac": "02:00:00:00:03:02" },
                           { "ip": "fd00:3::2", "mac": "02:00:00:00:03:02" } ] }
  ],
  "icmp": { "errorsPerSecond": 1000, "errorsBurst": 100 })";
    if (!l4.empty()) s += ",\n  " + l4;
    return s + "\n}";
}

struct be {
    std::string addr;
    int port = 0;
    int weight = 0;
    bool down = false;
};

// One service; `extra` holds further JSON members ("sourceAddresses": [...], "synProxy": ...).
std::string service(const std::string& name, const std::string& vip, const std::string& proto, int port,
                    const std::vector<be>& backends, const std::string& extra = "") {
    std::string s = R"({ "name": ")" + name + R"(", "vip": ")" + vip + R"(", "protocol": ")" + proto +
                    R"(", "port": )" + std::to_string(port) + R"(, "backends": [)";
    for (size_t i = 0; i < backends.size(); ++i) {
        const auto& b = backends[i];
        s += (i ? ", " : "") + std::string(R"({ "address": ")") + b.addr + "\"";
        if (b.port != 0) s += R"(, "port": )" + std::to_string(b.port);
        if (b.weight != 0) s += R"(, "weight": )" + std::to_string(b.weight);
        if (b.down) s += R"(, "adminState": "down")";
        s += " }";
    }
    s += "]";
    if (!extra.empty()) s += ", " + extra;
    return s + " }";
}

std::string services(const std::vector<std::string>& list) {
    std::string s = R"("services": [)";
    for (size_t i = 0; i < list.size(); ++i) s += (i ? ",\n    " : "\n    ") + list[i];
    return s + "]";
}

std::string join(const std::vector<std::string>& parts) {
    std::string s;
    for (const auto& p : parts) s += (s.empty() ? "" : ",\n  ") + p;
    return s;
}

// ---- Packets, checksums computed here -------------------------------------------------------------

namespace flag {
constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;
}

bool is6(const std::string& a) {
    return a.find(':') != std::string::npos;
}

std::vector<uint8_t> addr_bytes(const std::string& a) {
    if (is6(a)) {
        auto b = v6(a);
        return {b.begin(), b.end()};
    }
    auto b = v4(a);
    return {b.begin(), b.end()};
}

// 16 bytes, IPv4 in the first 4: the layout of flow keys and cookies.
std::array<uint8_t, 16> addr16(const std::string& a) {
    std::array<uint8_t, 16> out{};
    auto b = addr_bytes(a);
    std::copy(b.begin(), b.end(), out.begin());
    return out;
}

uint32_t pseudo(const std::string& src, const std::string& dst, uint32_t len, uint8_t proto) {
    uint32_t sum = 0;
    for (const auto* a : {&src, &dst}) {
        auto b = addr_bytes(*a);
        for (size_t i = 0; i < b.size(); i += 2) sum += static_cast<uint32_t>(b[i] << 8 | b[i + 1]);
    }
    return sum + (len >> 16) + (len & 0xffff) + proto;
}

void app16(bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
void app32(bytes& b, uint32_t v) {
    app16(b, static_cast<uint16_t>(v >> 16));
    app16(b, static_cast<uint16_t>(v));
}
void set16(bytes& b, size_t at, uint16_t v) {
    b[at] = static_cast<uint8_t>(v >> 8);
    b[at + 1] = static_cast<uint8_t>(v);
}
uint16_t get16(const bytes& b, size_t at) {
    return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}

struct tcp_fields {
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = 0;
    uint16_t window = 64240;
    bytes options;
    bytes data;
};

bytes mss_option(uint16_t mss) {
    return {2, 4, static_cast<uint8_t>(mss >> 8), static_cast<uint8_t>(mss)};
}

bytes tcp(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport, const tcp_fields& f) {
    bytes b;
    app16(b, sport);
    app16(b, dport);
    app32(b, f.seq);
    app32(b, f.ack);
    b.push_back(static_cast<uint8_t>((5 + f.options.size() / 4) << 4));
    b.push_back(f.flags);
    app16(b, f.window);
    app16(b, 0);
    app16(b, 0);
    b.insert(b.end(), f.options.begin(), f.options.end());
    b.insert(b.end(), f.data.begin(), f.data.end());
    set16(b, 16, inet_checksum(b.data(), b.size(), pseudo(src, dst, static_cast<uint32_t>(b.size()), 6)));
    return b;
}

// UDP with its checksum (IPv4: 0, "none", when `checksum` is false).
bytes udp(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport, const bytes& data,
          bool checksum = true) {
    bytes b = udp4(sport, dport, data);
    if (checksum || is6(src)) {
        uint16_t ck = inet_checksum(b.data(), b.size(), pseudo(src, dst, static_cast<uint32_t>(b.size()), 17));
        set16(b, 6, ck == 0 ? 0xffff : ck);
    }
    return b;
}

bytes echo(const std::string& src, const std::string& dst, bool request, uint16_t id, uint16_t seq, const bytes& data) {
    if (!is6(src)) return icmp4_echo(request ? 8 : 0, id, seq, data);
    bytes body;
    app16(body, id);
    app16(body, seq);
    body.insert(body.end(), data.begin(), data.end());
    return icmp6_message(src, dst, request ? 128 : 129, 0, body);
}

struct ip_fields {
    uint8_t ttl = 64;
    uint16_t id = 0x1234;
    bool df = false;
    uint8_t tos = 0;
};

// An IP packet of the family of `src`; proto 1 for ICMP becomes 58 in IPv6.
bytes ip(const std::string& src, const std::string& dst, uint8_t proto, const bytes& l4, ip_fields f = {}) {
    if (is6(src)) {
        ipv6_opts o;
        o.hop_limit = f.ttl;
        o.next_header = proto == 1 ? 58 : proto;
        return ipv6_packet(src, dst, l4, o);
    }
    ipv4_opts o;
    o.ttl = f.ttl;
    o.proto = proto;
    o.id = f.id;
    o.df = f.df;
    o.tos = f.tos;
    return ipv4_packet(src, dst, l4, o);
}

ip_fields ttl(uint8_t t) {
    ip_fields f;
    f.ttl = t;
    return f;
}

bytes tcp_ip(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport, const tcp_fields& f,
             ip_fields o = {}) {
    return ip(src, dst, 6, tcp(src, dst, sport, dport, f), o);
}
bytes udp_ip(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport, const bytes& data,
             ip_fields o = {}, bool checksum = true) {
    return ip(src, dst, 17, udp(src, dst, sport, dport, data, checksum), o);
}
bytes echo_ip(const std::string& src, const std::string& dst, bool request, uint16_t id, uint16_t seq,
              const bytes& data, ip_fields o = {}) {
    return ip(src, dst, 1, echo(src, dst, request, id, seq, data), o);
}

// ICMP error about `quoted`, from src to dst, of the family of src.
bytes icmp_error_ip(const std::string& src, const std::string& dst, uint8_t type, uint8_t code, uint32_t rest,
                    const bytes& quoted, ip_fields o = {}) {
    if (is6(src)) return ip(src, dst, 58, icmp6_error(src, dst, type, code, rest, quoted), o);
    return ip(src, dst, 1, icmp4_error(type, code, rest, quoted), o);
}

// What the gateway itself originates (tests/packet/forwarding_table_test.cpp): TTL 64, id 0,
// TOS internetwork control.
ip_fields gateway_icmp() {
    ip_fields f;
    f.ttl = 64;
    f.id = 0;
    f.tos = 0xc0;
    return f;
}

bytes first(const bytes& b, size_t n) {
    return bytes(b.begin(), b.begin() + static_cast<long>(std::min(n, b.size())));
}

bytes eth(const mac& dst, const mac& src, const bytes& pkt) {
    return ether(dst, src, (pkt[0] >> 4) == 6 ? eth_ipv6 : eth_ipv4, pkt);
}
// A frame from a host to the gateway, and the output the gateway sends to a host.
bytes from(const host& h, const bytes& pkt) {
    return eth(h.gw, h.m, pkt);
}
output to(const host& h, const bytes& pkt) {
    return {h.port, eth(h.m, h.gw, pkt)};
}

bytes text(const std::string& s) {
    return bytes(s.begin(), s.end());
}

// ---- Scenarios -------------------------------------------------------------------------------------

struct step {
    std::string what;
    uint16_t port = 0;
    bytes in;                                                  // empty: no packet (a clock or reload step)
    std::vector<output> expect;                                // frames transmitted, in order
    std::optional<drop_reason> drop;                           // the one drop this step counts, if any
    double advance = 0;                                        // seconds the clock moves before the step
    std::string reload;                                        // config applied (p.reload) before the step
    std::vector<std::pair<counter_field, uint64_t>> counters;  // values after the step
    bool any_ipv4_id = false;  // IPv4 identification of outputs from the translator's counter
};

struct scenario {
    std::string name;
    std::string config;
    std::vector<step> steps;
    std::string bug;  // the data-plane bug this scenario found (fixed), for the record
};

void PrintTo(const scenario& s, std::ostream* os) {
    *os << s.name;
}

step send(const std::string& what, const host& h, const bytes& pkt, std::vector<output> expect,
          std::optional<drop_reason> drop = std::nullopt) {
    step s;
    s.what = what;
    s.port = h.port;
    s.in = from(h, pkt);
    s.expect = std::move(expect);
    s.drop = drop;
    return s;
}

step with(step s, std::vector<std::pair<counter_field, uint64_t>> c) {
    s.counters = std::move(c);
    return s;
}

step wait(const std::string& what, double seconds, std::vector<std::pair<counter_field, uint64_t>> c = {}) {
    step s;
    s.what = what;
    s.advance = seconds;
    s.counters = std::move(c);
    return s;
}

step after(double seconds, step s) {
    s.advance = seconds;
    return s;
}

std::string counter_name(counter_field f) {
    static const std::vector<std::pair<counter_field, std::string>> names = {
        {&core_counters::sessions_created, "sessions_created"},
        {&core_counters::sessions_expired, "sessions_expired"},
        {&core_counters::sessions_active, "sessions_active"},
        {&core_counters::sessions_half_open, "sessions_half_open"},
        {&core_counters::syn_cookies_sent, "syn_cookies_sent"},
        {&core_counters::syn_cookies_accepted, "syn_cookies_accepted"},
        {&core_counters::acl_logged, "acl_logged"},
        {&core_counters::nat_icmp_errors, "nat_icmp_errors"},
        {&core_counters::nat64_translated, "nat64_translated"},
        {&core_counters::icmp_errors_sent, "icmp_errors_sent"},
    };
    for (const auto& [field, name] : names)
        if (field == f) return name;
    return "counter";
}

uint64_t all_drops(const pipeline& p) {
    uint64_t n = 0;
    for (unsigned r = 1; r < dataplane::drop_reason_count; ++r) n += p.drops(static_cast<drop_reason>(r));
    return n;
}

std::string drops_seen(const pipeline& p) {
    std::string s;
    for (unsigned r = 1; r < dataplane::drop_reason_count; ++r) {
        auto n = p.drops(static_cast<drop_reason>(r));
        if (n != 0)
            s += std::string(dataplane::drop_reason_name(static_cast<drop_reason>(r))) + "=" + std::to_string(n) + " ";
    }
    return s.empty() ? "none" : s;
}

// The IPv4 identification of a translated packet comes from a per-thread counter: take the one
// the gateway chose and fix the expected header checksum to match.
void adopt_ipv4_id(bytes& expected, const bytes& actual) {
    if (expected.size() < 34 || actual.size() < 34 || get16(expected, 12) != eth_ipv4) return;
    expected[18] = actual[18];
    expected[19] = actual[19];
    expected[24] = expected[25] = 0;
    set16(expected, 24, inet_checksum(expected.data() + 14, 20));
}

// Compares what came out against what should have; returns false on a difference.
bool expect_frames(const std::vector<output>& out, std::vector<output> expect, const std::string& what,
                   bool any_ipv4_id = false) {
    bool ok = true;
    EXPECT_EQ(out.size(), expect.size()) << what << ": frames transmitted";
    if (out.size() != expect.size()) ok = false;
    for (size_t i = 0; i < std::min(out.size(), expect.size()); ++i) {
        if (any_ipv4_id) adopt_ipv4_id(expect[i].frame, out[i].frame);
        EXPECT_EQ(out[i].port, expect[i].port) << what << ": frame " << i << " port";
        std::string d = diff_wire(expect[i].frame, out[i].frame);
        EXPECT_EQ(d, "") << what << ": frame " << i;
        ok = ok && out[i].port == expect[i].port && d.empty();
    }
    if (out.size() > expect.size()) {
        for (size_t i = expect.size(); i < out.size(); ++i)
            ADD_FAILURE() << what << ": unexpected frame on port " << out[i].port << ": " << hex(out[i].frame);
    }
    return ok;
}

bool bugs_enabled() {
    return true;  // every bug found by this table is fixed; the scenarios are regression tests
}

void run(const scenario& sc) {
    pipeline p(sc.config);
    for (const auto& st : sc.steps) {
        SCOPED_TRACE(sc.name + " / " + st.what);
        if (st.advance > 0) {
            auto o = p.advance(st.advance);
            expect_frames(o, {}, st.what + " (while the clock moved)");
        }
        if (!st.reload.empty()) p.reload(st.reload);
        uint64_t drops_before = all_drops(p);
        uint64_t reason_before = st.drop ? p.drops(*st.drop) : 0;
        if (!st.in.empty()) {
            auto out = p.send(st.port, st.in);
            expect_frames(out, st.expect, st.what, st.any_ipv4_id);
        }
        if (st.drop) {
            EXPECT_EQ(p.drops(*st.drop) - reason_before, 1U)
                << st.what << ": drop " << dataplane::drop_reason_name(*st.drop) << " (all: " << drops_seen(p) << ")";
        }
        EXPECT_EQ(all_drops(p) - drops_before, st.drop ? 1U : 0U)
            << st.what << ": unexpected drops (all so far: " << drops_seen(p) << ")";
        for (const auto& [field, value] : st.counters)
            EXPECT_EQ(p.counter(field), value) << st.what << ": " << counter_name(field);
    }
    EXPECT_EQ(p.mbufs_in_use(), 0U) << sc.name << ": mbuf leak";
}

// The cookie the gateway's SYN-ACK must carry (secret {1, 2}, see tests/support/pipeline.cpp);
// `seconds` is the virtual clock, which starts at 1 s.
uint32_t cookie_for(const std::string& csrc, const std::string& vip, uint16_t cport, uint16_t vport, uint32_t isn,
                    uint64_t seconds, uint16_t mss) {
    auto s = addr16(csrc), d = addr16(vip);
    return dataplane::l4::make_cookie(dataplane::l4::cookie_secret{1, 2}, s.data(), d.data(), cport, vport, isn,
                                      seconds, dataplane::l4::cookie_mss_index(mss));
}

std::string fam_name(int fam) {
    return fam == 6 ? "ipv6" : "ipv4";
}

// ---- 1, 2: full-NAT and DNAT ------------------------------------------------------------------

scenario fullnat_tcp(int fam, bool explicit_source) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    std::string src = explicit_source ? a.nat : a.gw_srv1;  // else the egress interface's primary address
    std::string extra = R"("synProxy": "off")";
    if (explicit_source) extra += R"(, "sourceAddresses": [")" + a.nat + R"("])";
    scenario sc;
    sc.name = "fullnat_tcp_" + fam_name(fam) + (explicit_source ? "_source_address" : "_interface_address");
    sc.config = lab(services({service("web", a.vip, "tcp", 80, {{b, 8080}}, extra)}));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    tcp_fields synack{5000, 1001, flag::syn | flag::ack, 65160, mss_option(1460), {}};
    tcp_fields ack{1001, 5001, flag::ack, 64240, {}, {}};
    tcp_fields req{1001, 5001, flag::psh | flag::ack, 64240, {}, text("GET / HTTP/1.0\r\n\r\n")};
    tcp_fields rsp{5001, 1019, flag::psh | flag::ack, 65160, {}, text("HTTP/1.0 200 OK\r\n\r\nhello")};
    tcp_fields fin{5026, 1019, flag::fin | flag::ack, 65160, {}, {}};
    sc.steps = {
        with(send("client SYN to the VIP: to the backend, source translated, client port kept", client,
                  tcp_ip(c, a.vip, 40000, 80, syn), {to(srv, tcp_ip(src, b, 40000, 8080, syn, ttl(63)))}),
             {{&core_counters::sessions_created, 1}, {&core_counters::sessions_half_open, 1}}),
        send("backend SYN-ACK: the client sees the VIP", srv, tcp_ip(b, src, 8080, 40000, synack),
             {to(client, tcp_ip(a.vip, c, 80, 40000, synack, ttl(63)))}),
        with(send("client ACK", client, tcp_ip(c, a.vip, 40000, 80, ack),
                  {to(srv, tcp_ip(src, b, 40000, 8080, ack, ttl(63)))}),
             {{&core_counters::sessions_half_open, 0}, {&core_counters::sessions_active, 1}}),
        send("client data", client, tcp_ip(c, a.vip, 40000, 80, req),
             {to(srv, tcp_ip(src, b, 40000, 8080, req, ttl(63)))}),
        send("backend data", srv, tcp_ip(b, src, 8080, 40000, rsp),
             {to(client, tcp_ip(a.vip, c, 80, 40000, rsp, ttl(63)))}),
        with(send("backend FIN", srv, tcp_ip(b, src, 8080, 40000, fin),
                  {to(client, tcp_ip(a.vip, c, 80, 40000, fin, ttl(63)))}),
             {{&core_counters::sessions_created, 1}}),
    };
    return sc;
}

scenario fullnat_udp(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "fullnat_udp_" + fam_name(fam);
    sc.config =
        lab(services({service("dns", a.vip, "udp", 53, {{b, 5353}}, R"("sourceAddresses": [")" + a.nat + R"("])")}));
    auto q = pattern(40), r = pattern(90);
    sc.steps = {
        send("query to the VIP", client, udp_ip(c, a.vip, 40001, 53, q),
             {to(srv, udp_ip(a.nat, b, 40001, 5353, q, ttl(63)))}),
        send("answer back from the VIP", srv, udp_ip(b, a.nat, 5353, 40001, r),
             {to(client, udp_ip(a.vip, c, 53, 40001, r, ttl(63)))}),
        with(send("second query of the same flow", client, udp_ip(c, a.vip, 40001, 53, r),
                  {to(srv, udp_ip(a.nat, b, 40001, 5353, r, ttl(63)))}),
             {{&core_counters::sessions_created, 1}}),
    };
    if (fam == 6) {
        // A destination options header is carried; the UDP header behind it is translated.
        auto with_dopt = [&](const std::string& src, const std::string& dst, uint16_t sp, uint16_t dp, uint8_t hops) {
            bytes body = {17, 0, 1, 4, 0, 0, 0, 0};  // dest opts: next = UDP, PadN
            auto u = udp(src, dst, sp, dp, q);
            body.insert(body.end(), u.begin(), u.end());
            ipv6_opts o;
            o.hop_limit = hops;
            o.next_header = 60;
            return ipv6_packet(src, dst, body, o);
        };
        sc.steps.push_back(send("IPv6 with a destination options header", client, with_dopt(c, a.vip, 40003, 53, 64),
                                {to(srv, with_dopt(a.nat, b, 40003, 5353, 63))}));
    }
    if (fam == 4) {
        // RFC 768: an IPv4 datagram without a checksum keeps none.
        sc.steps.push_back(
            with(send("IPv4 query without a UDP checksum keeps none", client, udp_ip(c, a.vip, 40002, 53, q, {}, false),
                      {to(srv, udp_ip(a.nat, b, 40002, 5353, q, ttl(63), false))}),
                 {{&core_counters::sessions_created, 2}}));
    }
    return sc;
}

scenario dnat(int fam, uint8_t proto) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = std::string("dnat_") + (proto == 6 ? "tcp_" : "udp_") + fam_name(fam);
    sc.config = lab(services(
        {service("web", a.vip, proto == 6 ? "tcp" : "udp", 80, {{b, 8080}}, R"("mode": "dnat", "synProxy": "off")")}));
    if (proto == 6) {
        tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
        tcp_fields synack{5000, 1001, flag::syn | flag::ack, 65160, mss_option(1460), {}};
        tcp_fields ack{1001, 5001, flag::ack, 64240, {}, text("x")};
        sc.steps = {
            send("client SYN: only the destination changes", client, tcp_ip(c, a.vip, 40000, 80, syn),
                 {to(srv, tcp_ip(c, b, 40000, 8080, syn, ttl(63)))}),
            send("backend reply to the client is un-NATed", srv, tcp_ip(b, c, 8080, 40000, synack),
                 {to(client, tcp_ip(a.vip, c, 80, 40000, synack, ttl(63)))}),
            send("client ACK", client, tcp_ip(c, a.vip, 40000, 80, ack),
                 {to(srv, tcp_ip(c, b, 40000, 8080, ack, ttl(63)))}),
        };
    } else {
        auto d = pattern(33);
        sc.steps = {
            send("client datagram: only the destination changes", client, udp_ip(c, a.vip, 40000, 80, d),
                 {to(srv, udp_ip(c, b, 40000, 8080, d, ttl(63)))}),
            send("backend reply to the client is un-NATed", srv, udp_ip(b, c, 8080, 40000, d),
                 {to(client, udp_ip(a.vip, c, 80, 40000, d, ttl(63)))}),
        };
    }
    return sc;
}

// ---- 4: NAT46 / NAT64 -------------------------------------------------------------------------

scenario nat46_64(int vip_fam, uint8_t proto) {
    int be_fam = vip_fam == 4 ? 6 : 4;
    const auto& av = fam_addrs(vip_fam);
    const auto& ab = fam_addrs(be_fam);
    std::string c = client.addr(vip_fam), b = srv.addr(be_fam);
    scenario sc;
    sc.name = std::string(vip_fam == 4 ? "nat46_" : "nat64_") + (proto == 6 ? "tcp" : "udp");
    sc.config = lab(services({service("xl", av.vip, proto == 6 ? "tcp" : "udp", 80, {{b, 8080}},
                                      R"("synProxy": "off", "sourceAddresses": [")" + ab.nat + R"("])")}));
    auto step_out = [&](step s) {
        s.any_ipv4_id = true;
        return s;
    };
    if (proto == 6) {
        tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
        tcp_fields synack{5000, 1001, flag::syn | flag::ack, 65160, mss_option(1440), {}};
        tcp_fields req{1001, 5001, flag::psh | flag::ack, 64240, {}, text("request")};
        tcp_fields rsp{5001, 1008, flag::psh | flag::ack, 65160, {}, pattern(300)};
        sc.steps = {
            step_out(send("client SYN, translated to the backend's family", client, tcp_ip(c, av.vip, 40000, 80, syn),
                          {to(srv, tcp_ip(ab.nat, b, 40000, 8080, syn, ttl(63)))})),
            step_out(send("backend SYN-ACK, translated back", srv, tcp_ip(b, ab.nat, 8080, 40000, synack),
                          {to(client, tcp_ip(av.vip, c, 80, 40000, synack, ttl(63)))})),
            step_out(send("client data", client, tcp_ip(c, av.vip, 40000, 80, req),
                          {to(srv, tcp_ip(ab.nat, b, 40000, 8080, req, ttl(63)))})),
            step_out(with(send("backend data", srv, tcp_ip(b, ab.nat, 8080, 40000, rsp),
                               {to(client, tcp_ip(av.vip, c, 80, 40000, rsp, ttl(63)))}),
                          {{&core_counters::nat64_translated, 4}, {&core_counters::sessions_created, 1}})),
        };
        // An ICMP error about a translated flow is translated too (RFC 7915 4.2/5.2): the router has
        // no address in the client's family, so the error comes from the VIP (RFC 6146 3.5.3), and
        // the embedded packet is the client's, in the client's family.
        ip_fields quoted = ttl(1);
        quoted.id = 0;  // the IPv4 header rebuilt inside an error carries no identification
        auto seen = tcp_ip(ab.nat, b, 40000, 8080, req, ttl(1));
        auto sent = tcp_ip(c, av.vip, 40000, 80, req, quoted);
        bytes in_err = be_fam == 6 ? icmp_error_ip(router_srv.addr(6), ab.nat, 3, 0, 0, seen)
                                   : icmp_error_ip(router_srv.addr(4), ab.nat, 11, 0, 0, first(seen, 28));
        bytes out_err = vip_fam == 4 ? icmp_error_ip(av.vip, c, 11, 0, 0, sent, ttl(63))
                                     : icmp_error_ip(av.vip, c, 3, 0, 0, first(sent, 48), ttl(63));
        sc.steps.push_back(step_out(with(send("ICMP time exceeded about the translated flow: translated, from the VIP",
                                              router_srv, in_err, {to(client, out_err)}),
                                         {{&core_counters::nat_icmp_errors, 1}})));
    } else {
        auto q = pattern(48), r = pattern(200);
        bool v4_client = vip_fam == 4;
        sc.steps = {
            step_out(send("datagram, translated", client, udp_ip(c, av.vip, 40000, 80, q),
                          {to(srv, udp_ip(ab.nat, b, 40000, 8080, q, ttl(63)))})),
            step_out(send("reply, translated back", srv, udp_ip(b, ab.nat, 8080, 40000, r),
                          {to(client, udp_ip(av.vip, c, 80, 40000, r, ttl(63)))})),
        };
        if (v4_client) {
            // RFC 7915 4.5: the IPv6 side needs the checksum an IPv4 sender left out.
            sc.steps.push_back(step_out(send("IPv4 datagram without checksum gets one in IPv6", client,
                                             udp_ip(c, av.vip, 40001, 80, q, {}, false),
                                             {to(srv, udp_ip(ab.nat, b, 40001, 8080, q, ttl(63)))})));
        }
    }
    return sc;
}

// ---- 5: ICMP errors through NAT (RFC 5508) -------------------------------------------------------

scenario icmp_error_tcp(int fam, bool full_quote) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam), r = router_srv.addr(fam);
    scenario sc;
    sc.name = "icmp_time_exceeded_" + fam_name(fam) + (full_quote ? "_full_quote" : "_short_quote");
    sc.config = lab(services({service("web", a.vip, "tcp", 80, {{b, 8080}},
                                      R"("synProxy": "off", "sourceAddresses": [")" + a.nat + R"("])")}));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    // What the router beyond the gateway received (TTL 1 left), and what the client had sent.
    auto seen = tcp_ip(a.nat, b, 40000, 8080, syn, ttl(1));
    auto sent = tcp_ip(c, a.vip, 40000, 80, syn, ttl(1));
    size_t quote = full_quote || fam == 6 ? seen.size() : 28;  // IPv4 routers quote at least 28 bytes
    ip_fields rf;
    rf.id = 0x4321;
    ip_fields rf63 = rf;
    rf63.ttl = 63;
    uint8_t type = fam == 6 ? 3 : 11;
    sc.steps = {
        send("client SYN", client, tcp_ip(c, a.vip, 40000, 80, syn),
             {to(srv, tcp_ip(a.nat, b, 40000, 8080, syn, ttl(63)))}),
        with(send("time exceeded from a router: to the client, about client->VIP", router_srv,
                  icmp_error_ip(r, a.nat, type, 0, 0, first(seen, quote), rf),
                  {to(client, icmp_error_ip(r, c, type, 0, 0, first(sent, quote), rf63))}),
             {{&core_counters::nat_icmp_errors, 1}}),
    };
    return sc;
}

scenario icmp_error_udp_port_unreachable(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "icmp_port_unreachable_" + fam_name(fam);
    sc.config =
        lab(services({service("dns", a.vip, "udp", 53, {{b, 5353}}, R"("sourceAddresses": [")" + a.nat + R"("])")}));
    auto q = pattern(40);
    auto seen = udp_ip(a.nat, b, 40001, 5353, q, ttl(63));
    auto sent = udp_ip(c, a.vip, 40001, 53, q, ttl(63));
    uint8_t type = fam == 6 ? 1 : 3, code = fam == 6 ? 4 : 3;
    sc.steps = {
        send("query", client, udp_ip(c, a.vip, 40001, 53, q), {to(srv, seen)}),
        with(send("port unreachable from the backend: to the client, about client->VIP", srv,
                  icmp_error_ip(b, a.nat, type, code, 0, seen),
                  {to(client, icmp_error_ip(b, c, type, code, 0, sent, ttl(63)))}),
             {{&core_counters::nat_icmp_errors, 1}}),
    };
    return sc;
}

scenario icmp_error_client_side(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam), r = router_cli.addr(fam);
    scenario sc;
    sc.name = "icmp_error_from_client_side_" + fam_name(fam);
    sc.config = lab(services({service("web", a.vip, "tcp", 80, {{b, 8080}},
                                      R"("synProxy": "off", "sourceAddresses": [")" + a.nat + R"("])")}));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    tcp_fields synack{5000, 1001, flag::syn | flag::ack, 65160, mss_option(1460), {}};
    auto seen = tcp_ip(a.vip, c, 80, 40000, synack, ttl(1));
    auto sent = tcp_ip(b, a.nat, 8080, 40000, synack, ttl(1));
    size_t quote = fam == 6 ? seen.size() : 28;
    uint8_t type = fam == 6 ? 1 : 3, code = fam == 6 ? 3 : 1;  // address / host unreachable
    sc.steps = {
        send("client SYN", client, tcp_ip(c, a.vip, 40000, 80, syn),
             {to(srv, tcp_ip(a.nat, b, 40000, 8080, syn, ttl(63)))}),
        send("backend SYN-ACK", srv, tcp_ip(b, a.nat, 8080, 40000, synack),
             {to(client, tcp_ip(a.vip, c, 80, 40000, synack, ttl(63)))}),
        send("unreachable from a client-side router, to the VIP: reaches the backend about backend->source", router_cli,
             icmp_error_ip(r, a.vip, type, code, 0, first(seen, quote)),
             {to(srv, icmp_error_ip(r, b, type, code, 0, first(sent, quote), ttl(63)))}),
    };
    return sc;
}

// ---- 6: firewall ------------------------------------------------------------------------------------

std::string firewall_rules() {
    return R"("firewall": { "defaultAction": "deny", "rules": [
    { "name": "web4", "destination": "198.18.2.0/24", "protocol": "tcp", "destinationPorts": "80", "action": "allow" },
    { "name": "web6", "destination": "fd00:2::/64", "protocol": "tcp", "destinationPorts": "80", "action": "allow" },
    { "name": "from-client", "protocol": "udp", "destinationPorts": "5000", "inInterface": "client",
      "action": "allow" },
    { "name": "audit", "protocol": "udp", "destinationPorts": "6000", "action": "log" } ] })";
}

scenario firewall(int fam) {
    std::string c = client.addr(fam), b = srv.addr(fam), o = srv2.addr(fam);
    scenario sc;
    sc.name = "firewall_" + fam_name(fam);
    sc.config = lab(firewall_rules());
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    tcp_fields synack{5000, 1001, flag::syn | flag::ack, 65160, mss_option(1460), {}};
    tcp_fields ack{1001, 5001, flag::ack, 64240, {}, {}};
    auto d = pattern(20);
    sc.steps = {
        send("allowed: TCP to port 80", client, tcp_ip(c, b, 40000, 80, syn),
             {to(srv, tcp_ip(c, b, 40000, 80, syn, ttl(63)))}),
        send("its reply passes though no rule allows it (stateful)", srv, tcp_ip(b, c, 80, 40000, synack),
             {to(client, tcp_ip(b, c, 80, 40000, synack, ttl(63)))}),
        send("and the rest of the flow", client, tcp_ip(c, b, 40000, 80, ack),
             {to(srv, tcp_ip(c, b, 40000, 80, ack, ttl(63)))}),
        send("denied: TCP to port 81", client, tcp_ip(c, b, 40001, 81, syn), {}, drop_reason::acl_denied),
        send("denied: a new flow from the server side", srv, tcp_ip(b, c, 80, 40002, syn), {}, drop_reason::acl_denied),
        send("inInterface matches: UDP 5000 from the client link", client, udp_ip(c, b, 4000, 5000, d),
             {to(srv, udp_ip(c, b, 4000, 5000, d, ttl(63)))}),
        send("inInterface does not match: UDP 5000 from srv2", srv2, udp_ip(o, b, 4000, 5000, d), {},
             drop_reason::acl_denied),
        send("reply of the allowed UDP flow", srv, udp_ip(b, c, 5000, 4000, d),
             {to(client, udp_ip(b, c, 5000, 4000, d, ttl(63)))}),
        with(send("log rule: allowed and counted", client, udp_ip(c, b, 4001, 6000, d),
                  {to(srv, udp_ip(c, b, 4001, 6000, d, ttl(63)))}),
             {{&core_counters::acl_logged, 1}}),
        with(send("log counts new flows only", client, udp_ip(c, b, 4001, 6000, d),
                  {to(srv, udp_ip(c, b, 4001, 6000, d, ttl(63)))}),
             {{&core_counters::acl_logged, 1}}),
        send("default deny: echo request", client, echo_ip(c, b, true, 7, 1, d), {}, drop_reason::acl_denied),
        [&] {
            // An ICMP error about an allowed flow belongs to it: it passes although ICMP is denied.
            auto seen = tcp_ip(c, b, 40000, 80, ack, ttl(1));
            auto err =
                icmp_error_ip(router_srv.addr(fam), c, fam == 6 ? 3 : 11, 0, 0, fam == 6 ? seen : first(seen, 28));
            auto fwd = icmp_error_ip(router_srv.addr(fam), c, fam == 6 ? 3 : 11, 0, 0,
                                     fam == 6 ? seen : first(seen, 28), ttl(63));
            return send("ICMP error about the allowed flow passes", router_srv, err, {to(client, fwd)});
        }(),
        send("ICMP error about a flow never seen is a new flow: denied", router_srv,
             icmp_error_ip(router_srv.addr(fam), c, fam == 6 ? 3 : 11, 0, 0,
                           first(tcp_ip(c, b, 40077, 80, ack, ttl(1)), fam == 6 ? 60 : 28)),
             {}, drop_reason::acl_denied),
        with(wait("sessions", 0), {{&core_counters::sessions_created, 3}, {&core_counters::sessions_active, 3}}),
    };
    return sc;
}

// ---- 7: egress SNAT ---------------------------------------------------------------------------------

std::string snat_pool(bool eim, int port_min = 0, int port_max = 0) {
    std::string s = R"("snatPools": [ { "name": "egress", "sources": ["198.18.2.0/24", "fd00:2::/64"],
      "addresses": ["198.18.1.100", "fd00:1::100"], "outInterface": "client")";
    if (eim) s += R"(, "endpointIndependent": true)";
    if (port_min != 0) s += R"(, "portMin": )" + std::to_string(port_min);
    if (port_max != 0) s += R"(, "portMax": )" + std::to_string(port_max);
    return s + " } ]";
}

scenario snat(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "snat_" + fam_name(fam);
    sc.config = lab(snat_pool(false));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    tcp_fields synack{5000, 1001, flag::syn | flag::ack, 65160, mss_option(1460), {}};
    auto d = pattern(24);
    sc.steps = {
        send("TCP from an inside host gets the pool address, port kept", srv, tcp_ip(b, c, 5001, 80, syn),
             {to(client, tcp_ip(a.pool, c, 5001, 80, syn, ttl(63)))}),
        send("its reply is translated back", client, tcp_ip(c, a.pool, 80, 5001, synack),
             {to(srv, tcp_ip(c, b, 80, 5001, synack, ttl(63)))}),
        send("UDP", srv, udp_ip(b, c, 5002, 53, d), {to(client, udp_ip(a.pool, c, 5002, 53, d, ttl(63)))}),
        send("UDP reply", client, udp_ip(c, a.pool, 53, 5002, d), {to(srv, udp_ip(c, b, 53, 5002, d, ttl(63)))}),
        send("ICMP echo request", srv, echo_ip(b, c, true, 4660, 1, d),
             {to(client, echo_ip(a.pool, c, true, 4660, 1, d, ttl(63)))}),
        send("ICMP echo reply", client, echo_ip(c, a.pool, false, 4660, 1, d),
             {to(srv, echo_ip(c, b, false, 4660, 1, d, ttl(63)))}),
        with(send("not from the pool's sources: routed as is", client, udp_ip(c, b, 5003, 53, d),
                  {to(srv, udp_ip(c, b, 5003, 53, d, ttl(63)))}),
             {{&core_counters::sessions_created, 3}}),
        send("not leaving through outInterface: routed as is", srv, udp_ip(b, srv2.addr(fam), 5004, 53, d),
             {to(srv2, udp_ip(b, srv2.addr(fam), 5004, 53, d, ttl(63)))}),
        send("RST without a session toward the pool's interface", srv,
             tcp_ip(b, c, 5009, 80, tcp_fields{1, 0, flag::rst, 0, {}, {}}), {}, drop_reason::tcp_no_session),
    };
    return sc;
}

// ---- 8: SYN cookies and the SYN proxy -------------------------------------------------------------

// `bare_ack`: the client's ACK has no options, as it has after a SYN-ACK without timestamps; else
// it carries 4 bytes of NOPs (as long as the SYN the gateway makes of it).
scenario syn_proxy(int fam, bool bare_ack) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "syn_proxy_always_" + fam_name(fam) + (bare_ack ? "_bare_ack" : "_ack_with_options");
    sc.config = lab(services({service("web", a.vip, "tcp", 80, {{b, 8080}},
                                      R"("synProxy": "always", "sourceAddresses": [")" + a.nat + R"("])")}));
    uint32_t isn = 1000;
    uint32_t cookie = cookie_for(c, a.vip, 40000, 80, isn, 1, 1460);
    // The gateway's own segments: TTL/hop limit 64 on the wire, DF, the client's IP id kept.
    ip_fields own;
    own.ttl = 64;
    own.df = true;
    tcp_fields syn{isn, 0, flag::syn, 64240, mss_option(1460), {}};
    tcp_fields syn_ack{cookie, isn + 1, flag::syn | flag::ack, 65535, mss_option(1460), {}};
    tcp_fields ack{isn + 1, cookie + 1, flag::ack, 502, bare_ack ? bytes{} : bytes{1, 1, 1, 1}, {}};
    tcp_fields syn_to_backend{isn, 0, flag::syn, 502, mss_option(1460), {}};
    uint32_t bisn = 7000;
    tcp_fields backend_synack{bisn, isn + 1, flag::syn | flag::ack, 65160, mss_option(1460), {}};
    tcp_fields ack_to_backend{isn + 1, bisn + 1, flag::ack, 65535, {}, {}};
    tcp_fields early{isn + 1, cookie + 1, flag::psh | flag::ack, 502, {}, text("early")};
    tcp_fields req{isn + 1, cookie + 1, flag::psh | flag::ack, 502, {}, text("hello")};
    tcp_fields req_b{isn + 1, bisn + 1, flag::psh | flag::ack, 502, {}, text("hello")};
    tcp_fields rsp{bisn + 1, isn + 6, flag::psh | flag::ack, 65160, {}, text("world!")};
    tcp_fields rsp_c{cookie + 1, isn + 6, flag::psh | flag::ack, 65160, {}, text("world!")};
    tcp_fields ack2{isn + 6, cookie + 7, flag::ack, 502, {}, {}};
    tcp_fields ack2_b{isn + 6, bisn + 7, flag::ack, 502, {}, {}};
    uint32_t other_isn = 3000;
    tcp_fields bad{other_isn + 1, cookie_for(c, a.vip, 40001, 80, other_isn, 1, 1460) + 2, flag::ack, 502, {}, {}};
    sc.steps = {
        with(send("SYN: answered by the VIP with a cookie, no session", client, tcp_ip(c, a.vip, 40000, 80, syn),
                  {to(client, tcp_ip(a.vip, c, 80, 40000, syn_ack, own))}),
             {{&core_counters::sessions_created, 0}, {&core_counters::syn_cookies_sent, 1}}),
        with(send("ACK with the cookie: SYN to the backend with the client's ISN and MSS", client,
                  tcp_ip(c, a.vip, 40000, 80, ack), {to(srv, tcp_ip(a.nat, b, 40000, 8080, syn_to_backend, own))}),
             {{&core_counters::sessions_created, 1}, {&core_counters::syn_cookies_accepted, 1}}),
        send("client data before the backend answered: dropped", client, tcp_ip(c, a.vip, 40000, 80, early), {},
             drop_reason::syn_proxy_pending),
        send("backend SYN-ACK: the gateway ACKs it, the client sees nothing", srv,
             tcp_ip(b, a.nat, 8080, 40000, backend_synack),
             {to(srv, tcp_ip(a.nat, b, 40000, 8080, ack_to_backend, own))}),
        send("client data: acknowledgment shifted into the backend's space", client, tcp_ip(c, a.vip, 40000, 80, req),
             {to(srv, tcp_ip(a.nat, b, 40000, 8080, req_b, ttl(63)))}),
        send("backend data: sequence shifted into the cookie's space", srv, tcp_ip(b, a.nat, 8080, 40000, rsp),
             {to(client, tcp_ip(a.vip, c, 80, 40000, rsp_c, ttl(63)))}),
        send("client ACK of it", client, tcp_ip(c, a.vip, 40000, 80, ack2),
             {to(srv, tcp_ip(a.nat, b, 40000, 8080, ack2_b, ttl(63)))}),
        with(send("ACK with a bad cookie: dropped", client, tcp_ip(c, a.vip, 40001, 80, bad), {},
                  drop_reason::syn_cookie_invalid),
             {{&core_counters::sessions_created, 1}, {&core_counters::syn_cookies_accepted, 1}}),
    };
    if (bare_ack) {
        sc.steps.resize(2);
        sc.bug =
            "SYN proxy: the SYN sent to the backend is truncated. syn_proxy_accept() rebuilds the client's ACK "
            "(IPv4 40 / IPv6 60 bytes: the ACK after a cookie SYN-ACK has no options) as a SYN with the MSS "
            "option (44 / 64 bytes) in place; rebuild_segment() never grows the mbuf's data_len (it only trims) "
            "and the forwarder trims to the stale packet_info.ip_total, so the frame ends after the 20-byte TCP "
            "header while IPv4 total length 44 / IPv6 payload length 24 announce the option. Expected: "
            "SYN nat:40000 -> backend:8080 with MSS 1460 (frame 58 / 78 bytes); actual: frame cut at 54 / 74 "
            "bytes (IPv4: Ethernet padding zeros where the option was), TCP checksum no longer valid. Every "
            "SYN-proxied connection is hit.";
    }
    return sc;
}

// A cookie is stateless: an ACK with a valid cookie opens a session without any SYN seen. The
// service's newFlows rate and flows.maxFlowsPerSource apply to those sessions like to any other.
scenario syn_proxy_new_flow_limits(int fam, bool per_source) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = std::string("syn_proxy_") + (per_source ? "max_flows_per_source_" : "new_flow_rate_") + fam_name(fam);
    std::string extra = R"("synProxy": "always", "sourceAddresses": [")" + a.nat + R"("])";
    if (!per_source) extra += R"(, "newFlows": { "rate": 1, "burst": 1 })";
    std::string l4 = services({service("web", a.vip, "tcp", 80, {{b, 8080}}, extra)});
    if (per_source) l4 = join({l4, R"("flows": { "maxFlowsPerSource": 1 })"});
    sc.config = lab(l4);
    ip_fields own;
    own.df = true;
    auto ack = [&](uint16_t port) {
        uint32_t cookie = cookie_for(c, a.vip, port, 80, 1000, 1, 1460);
        return tcp_ip(c, a.vip, port, 80, tcp_fields{1001, cookie + 1, flag::ack, 502, {1, 1, 1, 1}, {}});
    };
    auto syn = [&](uint16_t port) {
        return to(srv, tcp_ip(a.nat, b, port, 8080, tcp_fields{1000, 0, flag::syn, 502, mss_option(1460), {}}, own));
    };
    drop_reason why = per_source ? drop_reason::flows_per_source : drop_reason::rate_limited_service;
    sc.steps = {
        send("cookie ACK: session 1", client, ack(40000), {syn(40000)}),
        with(send(per_source ? "cookie ACK: a second session from the source, over maxFlowsPerSource 1"
                             : "cookie ACK: a second new flow at the same instant, over newFlows 1/s",
                  client, ack(40001), {}, why),
             {{&core_counters::sessions_created, 1}}),
    };
    sc.bug = per_source
                 ? "flows.maxFlowsPerSource does not apply to SYN-proxied sessions: syn_proxy_accept() inserts the "
                   "session without source_count_add() (and without the src_counted flag). Input: maxFlowsPerSource 1, "
                   "two ACKs with valid cookies from one client (ports 40000, 40001); expected: the second dropped "
                   "flows_per_source; actual: both open sessions (two SYNs to the backend)."
                 : "service.newFlows does not apply to SYN-proxied sessions: new_service_flow() returns into "
                   "syn_cookie_reply()/syn_proxy_accept() before svc_flows_[svc].take(), so with synProxy \"always\" "
                   "(or under a flood in \"auto\", exactly when the limit matters) new flows are unlimited. Input: "
                   "newFlows rate 1 burst 1, two ACKs with valid cookies at one instant; expected: the second dropped "
                   "rate_limited_service; actual: both open sessions.";
    return sc;
}

scenario syn_proxy_no_mss(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "syn_proxy_syn_without_mss_" + fam_name(fam);
    sc.config = lab(services({service("web", a.vip, "tcp", 80, {{b, 8080}},
                                      R"("synProxy": "always", "sourceAddresses": [")" + a.nat + R"("])")}));
    uint32_t cookie = cookie_for(c, a.vip, 40000, 80, 1000, 1, 536);
    ip_fields own;
    own.df = true;
    sc.steps = {
        send("SYN without options: the cookie SYN-ACK offers the RFC 9293 default MSS 536", client,
             tcp_ip(c, a.vip, 40000, 80, tcp_fields{1000, 0, flag::syn, 64240, {}, {}}),
             {to(client, tcp_ip(a.vip, c, 80, 40000,
                                tcp_fields{cookie, 1001, flag::syn | flag::ack, 65535, mss_option(536), {}}, own))}),
    };
    sc.bug =
        "SYN cookie SYN-ACK / SYN-proxy SYN longer than the segment it is rebuilt from is truncated: "
        "rebuild_segment() (l4_worker.cpp) writes the 24-byte TCP header with the MSS option but never grows the "
        "mbuf (it only trims), and the forwarder then trims to the stale packet_info.ip_total. A SYN without "
        "options (IPv4 total 40) gets a SYN-ACK whose IPv4 total length says 44 but only 40 bytes are sent (the "
        "MSS option is lost, replaced by Ethernet padding zeros, TCP checksum wrong); IPv6 likewise (payload "
        "length 24, 20 bytes sent).";
    return sc;
}

scenario syn_proxy_auto(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "syn_proxy_auto_threshold_" + fam_name(fam);
    sc.config = lab(
        services({service("web", a.vip, "tcp", 80, {{b, 8080}},
                          R"("synProxy": "auto", "synProxyThreshold": 2, "sourceAddresses": [")" + a.nat + R"("])")}));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1400), {}};
    uint32_t cookie = cookie_for(c, a.vip, 40003, 80, 1000, 1, 1400);
    ip_fields own;
    own.df = true;
    sc.steps = {
        with(send("first SYN: forwarded (1 half-open)", client, tcp_ip(c, a.vip, 40001, 80, syn),
                  {to(srv, tcp_ip(a.nat, b, 40001, 8080, syn, ttl(63)))}),
             {{&core_counters::sessions_half_open, 1}}),
        with(send("second SYN: forwarded (2 half-open)", client, tcp_ip(c, a.vip, 40002, 80, syn),
                  {to(srv, tcp_ip(a.nat, b, 40002, 8080, syn, ttl(63)))}),
             {{&core_counters::sessions_half_open, 2}}),
        with(send("third SYN: a cookie", client, tcp_ip(c, a.vip, 40003, 80, syn),
                  {to(client,
                      tcp_ip(a.vip, c, 80, 40003,
                             tcp_fields{cookie, 1001, flag::syn | flag::ack, 65535, mss_option(1400), {}}, own))}),
             {{&core_counters::sessions_half_open, 2},
              {&core_counters::sessions_created, 2},
              {&core_counters::syn_cookies_sent, 1}}),
    };
    return sc;
}

scenario syn_proxy_nat46(int vip_fam) {
    int be_fam = vip_fam == 4 ? 6 : 4;
    const auto& av = fam_addrs(vip_fam);
    const auto& ab = fam_addrs(be_fam);
    std::string c = client.addr(vip_fam), b = srv.addr(be_fam);
    scenario sc;
    sc.name = std::string("syn_proxy_") + (vip_fam == 4 ? "nat46" : "nat64");
    sc.config = lab(services({service("xl", av.vip, "tcp", 80, {{b, 8080}},
                                      R"("synProxy": "always", "sourceAddresses": [")" + ab.nat + R"("])")}));
    uint32_t cookie = cookie_for(c, av.vip, 40000, 80, 1000, 1, 1460);
    ip_fields own;
    own.df = true;
    ip_fields own_b;  // the SYN to the backend: hop limit 65 translated, then forwarded
    own_b.ttl = 64;
    sc.steps = {
        send("SYN: cookie", client,
             tcp_ip(c, av.vip, 40000, 80, tcp_fields{1000, 0, flag::syn, 64240, mss_option(1460), {}}),
             {to(client, tcp_ip(av.vip, c, 80, 40000,
                                tcp_fields{cookie, 1001, flag::syn | flag::ack, 65535, mss_option(1460), {}}, own))}),
        [&] {
            auto s = send("ACK: a translated SYN to the backend", client,
                          tcp_ip(c, av.vip, 40000, 80, tcp_fields{1001, cookie + 1, flag::ack, 502, {}, {}}),
                          {to(srv, tcp_ip(ab.nat, b, 40000, 8080,
                                          tcp_fields{1000, 0, flag::syn, 502, mss_option(1460), {}}, own_b))});
            s.any_ipv4_id = true;
            return s;
        }(),
    };
    sc.bug =
        "SYN proxy with NAT46/NAT64 never reaches the backend (same root cause as syn_proxy_always_*_bare_ack): "
        "syn_proxy_accept() rebuilds the client's 40-byte (IPv4) / 60-byte (IPv6) ACK as a 44 / 64-byte SYN with "
        "the MSS option, but rebuild_segment() never grows the mbuf and translate() trims to the stale "
        "info.ip_total; xlate_4to6()/xlate_6to4() then see a total length beyond the data and refuse. Input: "
        "a valid cookie ACK; expected: the SYN to the backend, translated; actual: no frame, drop "
        "nat_untranslatable.";
    return sc;
}

// ---- 9: rate limits ---------------------------------------------------------------------------------

scenario service_rate(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "service_new_flow_rate_" + fam_name(fam);
    sc.config =
        lab(services({service("dns", a.vip, "udp", 53, {{b, 5353}},
                              R"("newFlows": { "rate": 2, "burst": 2 }, "sourceAddresses": [")" + a.nat + R"("])")}));
    auto d = pattern(16);
    auto flow = [&](uint16_t port) { return udp_ip(c, a.vip, port, 53, d); };
    auto out = [&](uint16_t port) { return to(srv, udp_ip(a.nat, b, port, 5353, d, ttl(63))); };
    sc.steps = {
        send("new flow 1 of a burst of 2", client, flow(40001), {out(40001)}),
        send("new flow 2", client, flow(40002), {out(40002)}),
        send("new flow 3 at the same instant: over the rate", client, flow(40003), {},
             drop_reason::rate_limited_service),
        send("an existing flow is not a new one", client, flow(40001), {out(40001)}),
        after(1.0, send("a second later: refilled", client, flow(40003), {out(40003)})),
        send("and one more", client, flow(40004), {out(40004)}),
        send("then over again", client, flow(40005), {}, drop_reason::rate_limited_service),
    };
    return sc;
}

scenario source_rate(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam), o = srv2.addr(fam);
    scenario sc;
    sc.name = "source_new_flow_rate_" + fam_name(fam);
    std::string prefix = fam == 6 ? "fd00:1::/64" : "198.18.1.0/24";
    sc.config = lab(
        join({services({service("dns", a.vip, "udp", 53, {{b, 5353}}, R"("sourceAddresses": [")" + a.nat + R"("])")}),
              R"("sourceLimits": [ { "prefix": ")" + prefix + R"(", "newFlows": { "rate": 2, "burst": 2 } } ])"}));
    auto d = pattern(16);
    auto out = [&](uint16_t port) { return to(srv, udp_ip(a.nat, b, port, 5353, d, ttl(63))); };
    sc.steps = {
        send("flow 1", client, udp_ip(c, a.vip, 40001, 53, d), {out(40001)}),
        send("flow 2", client, udp_ip(client3.addr(fam), a.vip, 40002, 53, d),
             {to(srv, udp_ip(a.nat, b, 40002, 5353, d, ttl(63)))}),
        send("flow 3 from the prefix: over", client, udp_ip(c, a.vip, 40003, 53, d), {},
             drop_reason::rate_limited_source),
        send("a source outside the prefix is not limited", srv2, udp_ip(o, a.vip, 40004, 53, d),
             {to(srv, udp_ip(a.nat, b, 40004, 5353, d, ttl(63)))}),
        send("packets of an existing flow pass", client, udp_ip(c, a.vip, 40001, 53, d), {out(40001)}),
        after(1.0, send("refilled", client, udp_ip(c, a.vip, 40003, 53, d), {out(40003)})),
    };
    return sc;
}

scenario source_rate_routed(int fam) {
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "source_new_flow_rate_routed_flow_" + fam_name(fam);
    std::string prefix = fam == 6 ? "fd00:1::/64" : "198.18.1.0/24";
    sc.config = lab(R"("sourceLimits": [ { "prefix": ")" + prefix + R"(", "newFlows": { "rate": 1, "burst": 1 } } ])");
    auto d = pattern(16);
    auto pkt = udp_ip(c, b, 40001, 5000, d);
    auto out = to(srv, udp_ip(c, b, 40001, 5000, d, ttl(63)));
    sc.steps = {
        send("routed flow, packet 1", client, pkt, {out}),
        send("packet 2 of the same flow is not a new flow", client, pkt, {out}),
        send("packet 3", client, pkt, {out}),
    };
    sc.bug =
        "sourceLimits.newFlows limits every packet of routed traffic: with source limits but no firewall, SNAT "
        "pool or service, on_miss() takes a new-flow token for each packet and then passes it without creating a "
        "session, so every packet is a 'new flow'. Input: 3 packets of one UDP flow 198.18.1.2:40001 -> "
        "198.18.2.2:5000, newFlows rate 1 burst 1; expected: all forwarded; actual: packets 2 and 3 dropped as "
        "rate_limited_source (the limit acts as a packets-per-second limit on routed traffic).";
    return sc;
}

// `source`: the limit is a sourceLimits[] entry's packets rate, else the service's.
scenario packet_rate(int fam, bool source) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = std::string(source ? "source_packet_rate_" : "service_packet_rate_") + fam_name(fam);
    std::string limit = R"("packets": { "rate": 2, "burst": 2 })";
    std::string prefix = fam == 6 ? "fd00:1::/64" : "198.18.1.0/24";
    std::string svc = service("dns", a.vip, "udp", 53, {{b, 5353}},
                              (source ? "" : limit + ", ") + R"("sourceAddresses": [")" + a.nat + R"("])");
    sc.config =
        lab(source ? join({services({svc}), R"("sourceLimits": [ { "prefix": ")" + prefix + R"(", )" + limit + " } ]"})
                   : services({svc}));
    auto d = pattern(16);
    auto pkt = udp_ip(c, a.vip, 40001, 53, d);
    auto out = to(srv, udp_ip(a.nat, b, 40001, 5353, d, ttl(63)));
    drop_reason why = source ? drop_reason::rate_limited_source : drop_reason::rate_limited_service;
    sc.steps = {
        send("packet 1 of a burst of 2", client, pkt, {out}),
        send("packet 2", client, pkt, {out}),
        send("packet 3 of the flow at the same instant: over the packet rate", client, pkt, {}, why),
        after(1.0, send("refilled", client, pkt, {out})),
    };
    sc.bug = std::string(source ? "sourceLimits[].packets" : "service.packets") +
             " never limits packets of established sessions: svc_packets_ / src_packets_ are taken only on the "
             "session-miss path (new_service_flow(), and source_admit() called from on_miss()), so once a flow has "
             "a session its packets are unlimited. Input: packets rate 2 burst 2, 3 packets of one UDP flow to the "
             "VIP at one instant; expected: the 3rd dropped " +
             std::string(dataplane::drop_reason_name(why)) + "; actual: all 3 forwarded.";
    return sc;
}

scenario max_flows_per_source(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "max_flows_per_source_" + fam_name(fam);
    sc.config = lab(
        join({services({service("dns", a.vip, "udp", 53, {{b, 5353}}, R"("sourceAddresses": [")" + a.nat + R"("])")}),
              R"("flows": { "maxFlowsPerSource": 2, "udpTimeout": 5 })"}));
    auto d = pattern(16);
    auto flow = [&](const std::string& s, uint16_t port) { return udp_ip(s, a.vip, port, 53, d); };
    auto out = [&](uint16_t port) { return to(srv, udp_ip(a.nat, b, port, 5353, d, ttl(63))); };
    sc.steps = {
        send("session 1", client, flow(c, 40001), {out(40001)}),
        send("session 2", client, flow(c, 40002), {out(40002)}),
        send("session 3 from the same source: refused", client, flow(c, 40003), {}, drop_reason::flows_per_source),
        send("another source is not affected", client, flow(client3.addr(fam), 40004), {out(40004)}),
        send("existing sessions still pass", client, flow(c, 40002), {out(40002)}),
        with(after(6.0, send("after the sessions expired the source may open new ones", client, flow(c, 40003),
                             {out(40003)})),
             {{&core_counters::sessions_expired, 3}}),
    };
    return sc;
}

// ---- 10: expiry and reload ----------------------------------------------------------------------

scenario udp_expiry(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "udp_session_expiry_" + fam_name(fam);
    sc.config = lab(
        join({services({service("dns", a.vip, "udp", 53, {{b, 5353}}, R"("sourceAddresses": [")" + a.nat + R"("])")}),
              R"("flows": { "udpTimeout": 5 })"}));
    auto d = pattern(16);
    auto q = udp_ip(c, a.vip, 40001, 53, d);
    auto out = to(srv, udp_ip(a.nat, b, 40001, 5353, d, ttl(63)));
    sc.steps = {
        with(send("query (t=1 s)", client, q, {out}), {{&core_counters::sessions_active, 1}}),
        after(4.5, send("answer just inside the timeout refreshes it", srv, udp_ip(b, a.nat, 5353, 40001, d),
                        {to(client, udp_ip(a.vip, c, 53, 40001, d, ttl(63)))})),
        wait("4.8 s idle: still there", 4.8,
             {{&core_counters::sessions_expired, 0}, {&core_counters::sessions_active, 1}}),
        wait("5.2 s idle: expired", 0.4, {{&core_counters::sessions_expired, 1}, {&core_counters::sessions_active, 0}}),
        with(send("the next query makes a new session", client, q, {out}),
             {{&core_counters::sessions_created, 2}, {&core_counters::sessions_active, 1}}),
    };
    return sc;
}

scenario tcp_rst_expiry(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "tcp_rst_closing_timeout_" + fam_name(fam);
    sc.config = lab(join({services({service("web", a.vip, "tcp", 80, {{b, 8080}},
                                            R"("synProxy": "off", "sourceAddresses": [")" + a.nat + R"("])")}),
                          R"("flows": { "tcpClosingTimeout": 3, "tcpEstablishedTimeout": 3600 })"}));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    tcp_fields synack{5000, 1001, flag::syn | flag::ack, 65160, mss_option(1460), {}};
    tcp_fields ack{1001, 5001, flag::ack, 64240, {}, {}};
    tcp_fields rst{1001, 5001, flag::rst | flag::ack, 0, {}, {}};
    sc.steps = {
        send("SYN", client, tcp_ip(c, a.vip, 40000, 80, syn), {to(srv, tcp_ip(a.nat, b, 40000, 8080, syn, ttl(63)))}),
        send("SYN-ACK", srv, tcp_ip(b, a.nat, 8080, 40000, synack),
             {to(client, tcp_ip(a.vip, c, 80, 40000, synack, ttl(63)))}),
        send("ACK", client, tcp_ip(c, a.vip, 40000, 80, ack), {to(srv, tcp_ip(a.nat, b, 40000, 8080, ack, ttl(63)))}),
        wait("established, idle 100 s: kept", 100, {{&core_counters::sessions_expired, 0}}),
        send("client RST: forwarded", client, tcp_ip(c, a.vip, 40000, 80, rst),
             {to(srv, tcp_ip(a.nat, b, 40000, 8080, rst, ttl(63)))}),
        wait("2.8 s after the RST: still there", 2.8, {{&core_counters::sessions_expired, 0}}),
        wait("3.2 s after the RST: gone (tcpClosingTimeout)", 0.4,
             {{&core_counters::sessions_expired, 1}, {&core_counters::sessions_active, 0}}),
    };
    return sc;
}

scenario reload_keeps_sessions(int fam) {
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "reload_keeps_established_sessions_" + fam_name(fam);
    sc.config = lab(firewall_rules());
    auto d = pattern(20);
    step reload = send("after a reload that denies everything: the old flow passes", client,
                       udp_ip(c, b, 4000, 5000, d), {to(srv, udp_ip(c, b, 4000, 5000, d, ttl(63)))});
    reload.reload = lab(R"("firewall": { "defaultAction": "deny" })");
    sc.steps = {
        send("allowed flow", client, udp_ip(c, b, 4000, 5000, d), {to(srv, udp_ip(c, b, 4000, 5000, d, ttl(63)))}),
        reload,
        send("its replies too", srv, udp_ip(b, c, 5000, 4000, d), {to(client, udp_ip(b, c, 5000, 4000, d, ttl(63)))}),
        send("a new flow the old rules allowed is denied", client, udp_ip(c, b, 4001, 5000, d), {},
             drop_reason::acl_denied),
    };
    return sc;
}

scenario reload_service_sessions(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "reload_keeps_service_sessions_" + fam_name(fam);
    std::string extra = R"("synProxy": "off", "sourceAddresses": [")" + a.nat + R"("])";
    sc.config = lab(services({service("web", a.vip, "udp", 80, {{b, 8080}}, extra)}));
    auto d = pattern(20);
    step down = send("backend admin-down (keep): its session continues", client, udp_ip(c, a.vip, 40000, 80, d),
                     {to(srv, udp_ip(a.nat, b, 40000, 8080, d, ttl(63)))});
    down.reload = lab(services({service("web", a.vip, "udp", 80, {{b, 8080, 0, true}}, extra)}));
    step gone = send("service removed: the established session runs on", client, udp_ip(c, a.vip, 40000, 80, d),
                     {to(srv, udp_ip(a.nat, b, 40000, 8080, d, ttl(63)))});
    gone.reload = lab(services({service("other", a.vip, "udp", 81, {{b, 8081}}, extra)}));
    sc.steps = {
        send("flow", client, udp_ip(c, a.vip, 40000, 80, d), {to(srv, udp_ip(a.nat, b, 40000, 8080, d, ttl(63)))}),
        down,
        send("new flows find no backend", client, udp_ip(c, a.vip, 40001, 80, d), {}, drop_reason::no_backend),
        gone,
        send("reply", srv, udp_ip(b, a.nat, 8080, 40000, d), {to(client, udp_ip(a.vip, c, 80, 40000, d, ttl(63)))}),
    };
    return sc;
}

// `reuse`: a new connection on the same ports while the closed one's session still waits out
// tcpClosingTimeout.
scenario tcp_fin_close(int fam, bool reuse) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = std::string(reuse ? "tcp_port_reuse_after_fin_close_" : "tcp_fin_close_timeout_") + fam_name(fam);
    sc.config = lab(join({services({service("web", a.vip, "tcp", 80, {{b, 8080}},
                                            R"("synProxy": "off", "sourceAddresses": [")" + a.nat + R"("])")}),
                          R"("flows": { "tcpClosingTimeout": 5, "tcpEstablishedTimeout": 3600 })"}));
    auto c2b = [&](const std::string& what, const tcp_fields& f) {
        return send(what, client, tcp_ip(c, a.vip, 40000, 80, f), {to(srv, tcp_ip(a.nat, b, 40000, 8080, f, ttl(63)))});
    };
    auto b2c = [&](const std::string& what, const tcp_fields& f) {
        return send(what, srv, tcp_ip(b, a.nat, 8080, 40000, f), {to(client, tcp_ip(a.vip, c, 80, 40000, f, ttl(63)))});
    };
    sc.steps = {
        c2b("SYN", {1000, 0, flag::syn, 64240, mss_option(1460), {}}),
        b2c("SYN-ACK", {5000, 1001, flag::syn | flag::ack, 65160, mss_option(1460), {}}),
        c2b("ACK", {1001, 5001, flag::ack, 64240, {}, {}}),
        c2b("client FIN", {1001, 5001, flag::fin | flag::ack, 64240, {}, {}}),
        wait("one FIN only: still the established timeout", 60, {{&core_counters::sessions_expired, 0}}),
        b2c("backend FIN", {5001, 1002, flag::fin | flag::ack, 65160, {}, {}}),
        c2b("last ACK", {1002, 5002, flag::ack, 64240, {}, {}}),
    };
    if (!reuse) {
        sc.steps.push_back(wait("both FINs, 4.8 s: still there", 4.8, {{&core_counters::sessions_expired, 0}}));
        sc.steps.push_back(wait("5.2 s: gone (tcpClosingTimeout)", 0.4,
                                {{&core_counters::sessions_expired, 1}, {&core_counters::sessions_active, 0}}));
        return sc;
    }
    sc.steps.push_back(wait("2 s later", 2, {{&core_counters::sessions_expired, 0}}));
    sc.steps.push_back(c2b("new SYN on the same ports", {9000, 0, flag::syn, 64240, mss_option(1460), {}}));
    sc.steps.push_back(b2c("its SYN-ACK", {7000, 9001, flag::syn | flag::ack, 65160, mss_option(1460), {}}));
    sc.steps.push_back(c2b("its ACK", {9001, 7001, flag::ack, 64240, {}, {}}));
    // The closed session made way for a new one (Maglev picked the backend again); the new one
    // is established and does not expire after a minute idle.
    sc.steps.push_back(wait("established again: 60 s idle is nothing", 60, {{&core_counters::sessions_expired, 1}}));
    sc.steps.push_back(with(
        c2b("the new connection still has its session", {9001, 7001, flag::psh | flag::ack, 64240, {}, text("hi")}),
        {{&core_counters::sessions_created, 2}}));
    sc.bug =
        "A TCP session that saw both FINs stays in state closing when a new connection reuses its ports: "
        "on_hit() only advances sessions that are neither established nor closing, so the new handshake through "
        "the closing session never makes it established and it keeps tcpClosingTimeout (and its FIN flags). "
        "Input: FIN/FIN close, 2 s later SYN/SYN-ACK/ACK on the same 4-tuple, then 60 s idle (tcpClosingTimeout "
        "5, tcpEstablishedTimeout 3600); expected: the new connection's session lives; actual: it expired 5 s "
        "into the idle period (sessions_expired 1) and the next segment opens another session (mid-stream "
        "pickup, sessions_created 2).";
    return sc;
}

scenario half_open_expiry(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "half_open_sessions_expire_" + fam_name(fam);
    sc.config = lab(join(
        {services({service("web", a.vip, "tcp", 80, {{b, 8080}},
                           R"("synProxy": "auto", "synProxyThreshold": 2, "sourceAddresses": [")" + a.nat + R"("])")}),
         R"("flows": { "tcpSynTimeout": 3 })"}));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    auto fwd = [&](uint16_t port) {
        return send("SYN", client, tcp_ip(c, a.vip, port, 80, syn),
                    {to(srv, tcp_ip(a.nat, b, port, 8080, syn, ttl(63)))});
    };
    sc.steps = {
        fwd(40001),
        with(fwd(40002), {{&core_counters::sessions_half_open, 2}}),
        wait("unanswered SYNs expire after tcpSynTimeout", 3.2,
             {{&core_counters::sessions_expired, 2}, {&core_counters::sessions_half_open, 0}}),
        with(fwd(40003), {{&core_counters::sessions_half_open, 1}, {&core_counters::syn_cookies_sent, 0}}),
    };
    return sc;
}

scenario reset_on_backend_down(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "backend_down_resets_sessions_" + fam_name(fam);
    std::string extra = R"("synProxy": "off", "onBackendDown": "reset", "sourceAddresses": [")" + a.nat + R"("])";
    sc.config = lab(services({service("web", a.vip, "tcp", 80, {{b, 8080}}, extra)}));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    tcp_fields synack{5000, 1001, flag::syn | flag::ack, 65160, mss_option(1460), {}};
    tcp_fields ack{1001, 5001, flag::ack, 64240, {}, {}};
    tcp_fields data{1001, 5001, flag::psh | flag::ack, 64240, {}, text("more")};
    ip_fields own;
    own.df = true;
    step down = with(
        send("client data after its backend went down: RST from the VIP", client, tcp_ip(c, a.vip, 40000, 80, data),
             {to(client, tcp_ip(a.vip, c, 80, 40000, tcp_fields{5001, 0, flag::rst, 0, {}, {}}, own))}),
        {{&core_counters::sessions_expired, 1}, {&core_counters::sessions_active, 0}});
    down.reload = lab(services({service("web", a.vip, "tcp", 80, {{b, 8080, 0, true}}, extra)}));
    sc.steps = {
        send("SYN", client, tcp_ip(c, a.vip, 40000, 80, syn), {to(srv, tcp_ip(a.nat, b, 40000, 8080, syn, ttl(63)))}),
        send("SYN-ACK", srv, tcp_ip(b, a.nat, 8080, 40000, synack),
             {to(client, tcp_ip(a.vip, c, 80, 40000, synack, ttl(63)))}),
        send("ACK", client, tcp_ip(c, a.vip, 40000, 80, ack), {to(srv, tcp_ip(a.nat, b, 40000, 8080, ack, ttl(63)))}),
        down,
        send("the session is gone: the next segment finds no backend", client, tcp_ip(c, a.vip, 40000, 80, data), {},
             drop_reason::no_backend),
    };
    return sc;
}

scenario syn_proxy_backend_refuses(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "syn_proxy_backend_rst_" + fam_name(fam);
    sc.config = lab(services({service("web", a.vip, "tcp", 80, {{b, 8080}},
                                      R"("synProxy": "always", "sourceAddresses": [")" + a.nat + R"("])")}));
    uint32_t cookie = cookie_for(c, a.vip, 40000, 80, 1000, 1, 1460);
    ip_fields own;
    own.df = true;
    tcp_fields ack{1001, cookie + 1, flag::ack, 502, {1, 1, 1, 1}, {}};
    sc.steps = {
        send("cookie ACK: SYN to the backend", client, tcp_ip(c, a.vip, 40000, 80, ack),
             {to(srv, tcp_ip(a.nat, b, 40000, 8080, tcp_fields{1000, 0, flag::syn, 502, mss_option(1460), {}}, own))}),
        send("the backend refuses (RST): the client gets a RST it accepts, in the cookie's sequence space", srv,
             tcp_ip(b, a.nat, 8080, 40000, tcp_fields{0, 1001, flag::rst | flag::ack, 0, {}, {}}),
             {to(client, tcp_ip(a.vip, c, 80, 40000, tcp_fields{cookie + 1, 1001, flag::rst | flag::ack, 0, {}, {}},
                                ttl(63)))}),
    };
    sc.bug =
        "SYN proxy: a backend that refuses the connection leaves the client hanging. The client is already "
        "established with the gateway (its ISN for us is the cookie); the backend's RST|ACK to our SYN (seq 0, "
        "ack client ISN+1) is forwarded with seq 0 untouched because the session is still syn_proxy_wait (no "
        "seq_delta yet), so the client discards it (RFC 5961 3.2: RST seq must equal RCV.NXT = cookie+1). "
        "Expected: RST|ACK VIP:80 -> client seq cookie+1; actual: RST|ACK seq 0.";
    return sc;
}

// ---- 12: malformed input, and what is routed around the stage --------------------------------------

scenario malformed(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "malformed_" + fam_name(fam);
    sc.config = lab(services({service("web", a.vip, "tcp", 80, {{b, 8080}}, R"("synProxy": "always")"),
                              service("dns", a.vip, "udp", 53, {{b, 5353}})}));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    auto truncated = ip(c, a.vip, 6, first(tcp(c, a.vip, 40000, 80, syn), 10));
    auto bad_offset = tcp(c, a.vip, 40000, 80, syn);
    bad_offset[12] = 0xf0;  // 60-byte header in a 24-byte segment
    auto udp_len = udp(c, a.vip, 40000, 53, pattern(8));
    set16(udp_len, 4, 200);
    auto short_udp = ip(c, a.vip, 17, first(udp(c, a.vip, 40000, 53, {}), 6));
    auto v6_short = ip(c, a.vip, 17, udp(c, a.vip, 40000, 53, pattern(8)));
    if (fam == 6) v6_short.resize(v6_short.size() - 4);
    sc.steps = {
        send("TCP header cut to 10 bytes", client, truncated, {}, drop_reason::l4_truncated),
        send("TCP data offset beyond the segment", client, ip(c, a.vip, 6, bad_offset), {},
             drop_reason::tcp_bad_offset),
        send("UDP length beyond the packet", client, ip(c, a.vip, 17, udp_len), {}, drop_reason::udp_bad_length),
        send("UDP header cut to 6 bytes", client, short_udp, {}, drop_reason::l4_truncated),
        send("RST to the VIP without a session", client,
             tcp_ip(c, a.vip, 40000, 80, tcp_fields{1, 0, flag::rst, 0, {}, {}}), {}, drop_reason::tcp_no_session),
        send("ACK to a SYN-proxied VIP without a cookie", client,
             tcp_ip(c, a.vip, 40001, 80, tcp_fields{1, 1, flag::ack, 100, {}, {}}), {},
             drop_reason::syn_cookie_invalid),
        with(wait("no session was created", 0), {{&core_counters::sessions_created, 0}}),
    };
    if (fam == 6) {
        sc.steps.push_back(
            send("IPv6 payload length beyond the frame", client, v6_short, {}, drop_reason::ipv6_truncated));
    }
    return sc;
}

// ICMP errors that cannot be matched to a session, sent to the gateway's own full-NAT source.
scenario malformed_icmp_errors(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam), r = router_srv.addr(fam);
    scenario sc;
    sc.name = "icmp_error_not_about_a_session_" + fam_name(fam);
    // No sourceAddresses: the full-NAT source is the srv1 interface's own address.
    sc.config = lab(services({service("dns", a.vip, "udp", 53, {{b, 5353}})}));
    auto q = pattern(16);
    auto seen = udp_ip(a.gw_srv1, b, 40001, 5353, q, ttl(1));
    uint8_t type = fam == 6 ? 3 : 11;
    auto cut = first(seen, fam == 6 ? 40 : 20);  // the embedded header alone: no ports
    auto other = udp_ip(a.gw_srv1, b, 40009, 5353, q, ttl(1));
    sc.steps = {
        send("query", client, udp_ip(c, a.vip, 40001, 53, q), {to(srv, udp_ip(a.gw_srv1, b, 40001, 5353, q, ttl(63)))}),
        send("error quoting no ports: for the gateway itself, not served", router_srv,
             icmp_error_ip(r, a.gw_srv1, type, 0, 0, cut), {}, drop_reason::local_unsupported),
        send("error about a flow there is no session of", router_srv, icmp_error_ip(r, a.gw_srv1, type, 0, 0, other),
             {}, drop_reason::local_unsupported),
        with(wait("nothing translated", 0), {{&core_counters::nat_icmp_errors, 0}}),
    };
    return sc;
}

// ---- Errors the gateway itself originates about packets to a VIP ---------------------------------

scenario ttl_expiry_to_vip(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    scenario sc;
    sc.name = "ttl_expiry_to_vip_" + fam_name(fam);
    sc.config =
        lab(services({service("dns", a.vip, "udp", 53, {{b, 5353}}, R"("sourceAddresses": [")" + a.nat + R"("])")}));
    auto orig = udp_ip(c, a.vip, 40001, 53, pattern(16), ttl(1));
    sc.steps = {
        with(send("TTL 1 to the VIP: time exceeded to the client, about client->VIP", client, orig,
                  {to(client, icmp_error_ip(a.gw_client, c, fam == 6 ? 3 : 11, 0, 0, orig, gateway_icmp()))},
                  drop_reason::ttl_exceeded),
             {{&core_counters::sessions_created, 0}}),
    };
    sc.bug =
        "ICMP errors the gateway originates for packets to a VIP (TTL/hop limit expiry, frag-needed, packet too "
        "big) are built after the L4 stage rewrote the packet: handle_ipv4/handle_ipv6 run l4_->process() before "
        "the TTL/MTU checks, so the error quotes backend-side addresses and is sent to the full-NAT source address "
        "(here 198.18.2.100 / fd00:2::100, routed toward srv1, so the gateway ARPs/solicits for it) instead of the "
        "client; a session is also created for a packet that never leaves. Input: UDP client->VIP:53 with TTL 1; "
        "expected: ICMP time exceeded from 198.18.1.1 to the client quoting client->VIP, no session; actual: no "
        "error to the client (ARP/NS for the NAT source on port 1), drop ttl_exceeded, sessions_created 1.";
    return sc;
}

scenario too_big_to_vip(int fam) {
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv2.addr(fam);
    scenario sc;
    sc.name = "too_big_to_vip_" + fam_name(fam);
    // The backend sits behind srv2 (MTU 1280); the full-NAT source is srv2's own address.
    sc.config = lab(services({service("dns", a.vip, "udp", 53, {{b, 5353}})}));
    ip_fields df;
    df.df = true;
    auto orig = udp_ip(c, a.vip, 40001, 53, pattern(1352), df);  // 1380 (IPv4) / 1400 (IPv6) bytes
    bytes err = fam == 6 ? icmp_error_ip(a.gw_client, c, 2, 0, 1280, first(orig, 1232), gateway_icmp())
                         : icmp_error_ip(a.gw_client, c, 3, 4, 1280, first(orig, 548), gateway_icmp());
    sc.steps = {
        send("too big for the backend's link: the client hears about it, about client->VIP", client, orig,
             {to(client, err)}, drop_reason::mtu_exceeded),
    };
    sc.bug =
        "Path MTU discovery through a VIP is broken (same cause as ttl_expiry_to_vip): the frag-needed / packet "
        "too big for a NATed packet is generated from the rewritten packet, so it goes to the full-NAT source (the "
        "gateway's own srv2 address here, where it is dropped as not forwardable) instead of the client. Input: "
        "1380-byte DF UDP (IPv4) / 1400-byte UDP (IPv6) client->VIP whose backend is behind the 1280-byte MTU link; "
        "expected: ICMP 3/4 MTU 1280 (ICMPv6 2/0 MTU 1280) from 198.18.1.1 / fd00:1::1 to the client quoting "
        "client->VIP; actual: nothing sent, drop mtu_exceeded.";
    return sc;
}

scenario nat46_too_big(int vip_fam) {
    int be_fam = vip_fam == 4 ? 6 : 4;
    const auto& av = fam_addrs(vip_fam);
    const auto& ab = fam_addrs(be_fam);
    std::string c = client.addr(vip_fam), b = srv2.addr(be_fam);
    scenario sc;
    sc.name = std::string(vip_fam == 4 ? "nat46" : "nat64") + "_too_big_for_the_backend_link";
    sc.config =
        lab(services({service("xl", av.vip, "udp", 53, {{b, 5353}}, R"("sourceAddresses": [")" + ab.nat + R"("])")}));
    ip_fields df;
    df.df = true;
    // IPv4 1270 bytes -> IPv6 1290 > 1280; IPv6 1400 bytes -> IPv4 1380 > 1280 (DF set by the translator).
    auto orig =
        vip_fam == 4 ? udp_ip(c, av.vip, 40001, 53, pattern(1242), df) : udp_ip(c, av.vip, 40001, 53, pattern(1352));
    bytes err = vip_fam == 4 ? icmp_error_ip(av.gw_client, c, 3, 4, 1260, first(orig, 548), gateway_icmp())
                             : icmp_error_ip(av.gw_client, c, 2, 0, 1300, first(orig, 1232), gateway_icmp());
    sc.steps = {
        send("translated packet too big for the backend's link: the client is told, in its family", client, orig,
             {to(client, err)}, drop_reason::mtu_exceeded),
    };
    sc.bug =
        "NAT46/NAT64 packets too big for the egress link vanish: forward_translated() (forwarder.cpp) drops them "
        "as mtu_exceeded without any ICMP (RFC 7915 4.1/5.1, RFC 6146 3.5: the translator reports the MTU to the "
        "sender, minus/plus the 20-byte header difference), so PMTUD through a NAT46/64 VIP black-holes. Input: "
        "1270-byte DF IPv4 UDP to an IPv4 VIP whose IPv6 backend is behind the 1280 link (1290 after translation) "
        "/ 1400-byte IPv6 UDP to an IPv6 VIP with an IPv4 backend there; expected: ICMPv4 3/4 with MTU 1260 / "
        "ICMPv6 packet too big with MTU 1300 to the client; actual: nothing sent, drop mtu_exceeded.";
    return sc;
}

// ---- Neighbor discovery under a default-deny firewall ---------------------------------------------

scenario nd_with_default_deny() {
    scenario sc;
    sc.name = "ipv6_neighbor_advert_to_global_address_default_deny";
    // fd00:3::5 has no static neighbor: the gateway solicits it from its global address fd00:3::1.
    sc.config = lab(R"("firewall": { "defaultAction": "deny", "rules": [
    { "name": "to-srv2", "destination": "fd00:3::/64", "protocol": "udp", "action": "allow" } ] })");
    auto d = pattern(20);
    auto pkt = udp_ip(client.a6, "fd00:3::5", 4000, 5000, d);
    auto target = v6("fd00:3::5");
    bytes ns = {0, 0, 0, 0};
    ns.insert(ns.end(), target.begin(), target.end());
    ns.insert(ns.end(), {1, 1});
    ns.insert(ns.end(), gw_srv2.begin(), gw_srv2.end());
    ipv6_opts nd_hops;
    nd_hops.hop_limit = 255;
    nd_hops.next_header = 58;
    auto ns_pkt =
        ipv6_packet("fd00:3::1", "ff02::1:ff00:5", icmp6_message("fd00:3::1", "ff02::1:ff00:5", 135, 0, ns), nd_hops);
    mac host5 = mac_of("02:00:00:00:03:05");
    bytes na = {0x60, 0, 0, 0};  // solicited, override
    na.insert(na.end(), target.begin(), target.end());
    na.insert(na.end(), {2, 1});
    na.insert(na.end(), host5.begin(), host5.end());
    auto na_pkt = ipv6_packet("fd00:3::5", "fd00:3::1", icmp6_message("fd00:3::5", "fd00:3::1", 136, 0, na), nd_hops);
    step s1 = send("allowed flow to an unresolved host: the gateway solicits it", client, pkt,
                   {{2, ether(mac_of("33:33:ff:00:00:05"), gw_srv2, eth_ipv6, ns_pkt)}});
    step s2;
    s2.what = "the host's solicited advertisement to the gateway's global address releases the packet";
    s2.port = 2;
    s2.in = ether(gw_srv2, host5, eth_ipv6, na_pkt);
    s2.expect = {{2, ether(host5, gw_srv2, eth_ipv6, udp_ip(client.a6, "fd00:3::5", 4000, 5000, d, ttl(63)))}};
    sc.steps = {s1, s2};
    sc.bug =
        "With the firewall enabled and default deny, IPv6 neighbor resolution fails: the gateway solicits from its "
        "global address (fd00:3::1), the host answers with a unicast NA to that address, and handle_ipv6() runs "
        "the L4 stage before the local/ND handling, so the NA is a new flow the ACL denies (drop acl_denied); the "
        "held packet is never sent (unicast NS for NUD to a global gateway address is denied the same way). "
        "Expected: ND (types 133-137) to the gateway bypasses the firewall; actual: NA dropped as acl_denied.";
    return sc;
}

std::vector<scenario> scenarios() {
    std::vector<scenario> v;
    for (int fam : {4, 6}) {
        v.push_back(fullnat_tcp(fam, true));
        v.push_back(fullnat_tcp(fam, false));
        v.push_back(fullnat_udp(fam));
        v.push_back(dnat(fam, 6));
        v.push_back(dnat(fam, 17));
        v.push_back(nat46_64(fam, 6));
        v.push_back(nat46_64(fam, 17));
        v.push_back(icmp_error_tcp(fam, false));
        if (fam == 4) v.push_back(icmp_error_tcp(fam, true));
        v.push_back(icmp_error_udp_port_unreachable(fam));
        v.push_back(icmp_error_client_side(fam));
        v.push_back(firewall(fam));
        v.push_back(snat(fam));
        v.push_back(syn_proxy(fam, false));
        v.push_back(syn_proxy(fam, true));
        v.push_back(syn_proxy_new_flow_limits(fam, false));
        v.push_back(syn_proxy_new_flow_limits(fam, true));
        v.push_back(syn_proxy_no_mss(fam));
        v.push_back(syn_proxy_auto(fam));
        v.push_back(syn_proxy_nat46(fam));
        v.push_back(service_rate(fam));
        v.push_back(source_rate(fam));
        v.push_back(source_rate_routed(fam));
        v.push_back(packet_rate(fam, false));
        v.push_back(packet_rate(fam, true));
        v.push_back(max_flows_per_source(fam));
        v.push_back(udp_expiry(fam));
        v.push_back(tcp_rst_expiry(fam));
        v.push_back(tcp_fin_close(fam, false));
        v.push_back(tcp_fin_close(fam, true));
        v.push_back(half_open_expiry(fam));
        v.push_back(reset_on_backend_down(fam));
        v.push_back(syn_proxy_backend_refuses(fam));
        v.push_back(reload_keeps_sessions(fam));
        v.push_back(reload_service_sessions(fam));
        v.push_back(malformed(fam));
        v.push_back(malformed_icmp_errors(fam));
        v.push_back(ttl_expiry_to_vip(fam));
        v.push_back(too_big_to_vip(fam));
        v.push_back(nat46_too_big(fam));
    }
    v.push_back(nd_with_default_deny());
    return v;
}

class L4Table : public ::testing::TestWithParam<scenario> {};

TEST_P(L4Table, Frames) {
    const auto& sc = GetParam();
    if (!sc.bug.empty() && !bugs_enabled()) GTEST_SKIP() << "BUG: " << sc.bug;
    run(sc);
}

INSTANTIATE_TEST_SUITE_P(Packets, L4Table, ::testing::ValuesIn(scenarios()),
                         [](const auto& info) { return info.param.name; });

// ---- Tests whose expected frames depend on what the gateway chose ----------------------------------

// Offset of the transport header in an untagged frame.
size_t l4_offset(const bytes& f) {
    return 14 + ((f[14] >> 4) == 6 ? 40U : (f[14] & 15U) * 4U);
}

class L4Family : public ::testing::TestWithParam<int> {};

// 3: Maglev spreads new flows by weight; an admin-down backend gets no new flows while its
// sessions keep it; established sessions survive the way back too.
TEST_P(L4Family, MaglevWeightsAdminDownAndSessionAffinity) {
    int fam = GetParam();
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam);
    auto config = [&](bool down) {
        return lab(
            services({service("dns", a.vip, "udp", 53, {{srv.addr(fam), 5353, 1}, {srv2.addr(fam), 5353, 3, down}})}));
    };
    pipeline p(config(false));
    auto d = pattern(8);
    // No sourceAddresses: each backend's full-NAT source is its link's interface address.
    auto expected = [&](uint16_t port, uint16_t out_port) {
        if (out_port == srv.port) return to(srv, udp_ip(a.gw_srv1, srv.addr(fam), port, 5353, d, ttl(63)));
        return to(srv2, udp_ip(a.gw_srv2, srv2.addr(fam), port, 5353, d, ttl(63)));
    };
    std::map<uint16_t, uint16_t> backend_of;  // client port -> gateway port the flow leaves on
    auto open = [&](uint16_t first_port, int n) {
        int to_first = 0;
        for (int i = 0; i < n; ++i) {
            auto port = static_cast<uint16_t>(first_port + i);
            auto out = p.send(client.port, from(client, udp_ip(c, a.vip, port, 53, d)));
            if (out.size() != 1) {
                ADD_FAILURE() << "flow " << port << ": " << out.size() << " frames";
                return -1;
            }
            if (!expect_frames(out, {expected(port, out[0].port)}, "flow " + std::to_string(port))) return -1;
            backend_of[port] = out[0].port;
            to_first += out[0].port == srv.port;
        }
        return to_first;
    };
    auto recheck = [&](const char* what) {
        for (const auto& [port, out_port] : backend_of) {
            auto out = p.send(client.port, from(client, udp_ip(c, a.vip, port, 53, d)));
            if (!expect_frames(out, {expected(port, out_port)}, std::string(what) + ": flow " + std::to_string(port)))
                return;
        }
    };

    constexpr int flows = 4000;
    int first = open(10000, flows);
    ASSERT_GE(first, 0);
    // Weights 1 and 3: a quarter of the flows, within 3 percentage points (the binomial spread
    // alone is 0.7 points at 4000 flows).
    EXPECT_NEAR(first, flows / 4, flows * 3 / 100) << first << " of " << flows << " flows on the weight-1 backend";
    std::printf("[ maglev ] %s: %d of %d flows on the weight-1 backend\n", fam_name(fam).c_str(), first, flows);

    p.reload(config(true));
    int during = open(20000, 1000);
    EXPECT_EQ(during, 1000) << "new flows went to the admin-down backend";
    recheck("after admin-down");  // established sessions keep their backend, the downed one included

    p.reload(config(false));
    recheck("after admin-up");  // the flows opened meanwhile stay on the backend they got
    int again = open(30000, 2000);
    EXPECT_NEAR(again, 500, 2000 * 4 / 100);
    EXPECT_EQ(p.counter(&core_counters::sessions_created), static_cast<uint64_t>(flows + 1000 + 2000));
    EXPECT_EQ(all_drops(p), 0U) << drops_seen(p);
    EXPECT_EQ(p.mbufs_in_use(), 0U);
}

// 1: the client's port is kept as the full-NAT source port only while it is free toward that
// backend; a second client with the same port gets another one, and replies find their client.
TEST_P(L4Family, FullNatSourcePortCollision) {
    int fam = GetParam();
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), c3 = client3.addr(fam), b = srv.addr(fam);
    pipeline p(lab(services({service("web", a.vip, "tcp", 80, {{b, 8080}},
                                     R"("synProxy": "off", "sourceAddresses": [")" + a.nat + R"("])")})));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    tcp_fields synack{5000, 1001, flag::syn | flag::ack, 65160, mss_option(1460), {}};
    expect_frames(p.send(client.port, from(client, tcp_ip(c, a.vip, 40000, 80, syn))),
                  {to(srv, tcp_ip(a.nat, b, 40000, 8080, syn, ttl(63)))}, "first client keeps its port");
    auto out = p.send(client3.port, from(client3, tcp_ip(c3, a.vip, 40000, 80, syn)));
    ASSERT_EQ(out.size(), 1U);
    uint16_t port = get16(out[0].frame, l4_offset(out[0].frame));
    EXPECT_NE(port, 40000);
    EXPECT_GE(port, 1024);
    EXPECT_FALSE(port >= 61000 && port <= 61999) << "a health-probe port";
    expect_frames(out, {to(srv, tcp_ip(a.nat, b, port, 8080, syn, ttl(63)))}, "second client, same port");
    expect_frames(p.send(srv.port, from(srv, tcp_ip(b, a.nat, 8080, 40000, synack))),
                  {to(client, tcp_ip(a.vip, c, 80, 40000, synack, ttl(63)))}, "reply to the first");
    expect_frames(p.send(srv.port, from(srv, tcp_ip(b, a.nat, 8080, port, synack))),
                  {to(client3, tcp_ip(a.vip, c3, 80, 40000, synack, ttl(63)))}, "reply to the second");
    // A client port below 1024 is never used as a NAT source port.
    out = p.send(client.port, from(client, tcp_ip(c, a.vip, 999, 80, syn)));
    ASSERT_EQ(out.size(), 1U);
    uint16_t low = get16(out[0].frame, l4_offset(out[0].frame));
    EXPECT_GE(low, 1024);
    expect_frames(out, {to(srv, tcp_ip(a.nat, b, low, 8080, syn, ttl(63)))}, "client port 999");
    EXPECT_EQ(all_drops(p), 0U) << drops_seen(p);
}

// 11: with flows.sessionsPerWorker at its minimum (1024), the 1025th new flow is dropped and
// counted; existing sessions still pass both ways.
TEST_P(L4Family, FullSessionTableDropsOnlyNewFlows) {
    int fam = GetParam();
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    for (bool firewall_sessions : {false, true}) {
        SCOPED_TRACE(firewall_sessions ? "firewall sessions" : "service sessions");
        std::string l4 = firewall_sessions ? R"("firewall": { "rules": [ { "name": "all", "action": "allow" } ] })"
                                           : services({service("dns", a.vip, "udp", 53, {{b, 5353}},
                                                               R"("sourceAddresses": [")" + a.nat + R"("])")});
        pipeline p(lab(join({l4, R"("flows": { "sessionsPerWorker": 1024 })"})));
        auto d = pattern(8);
        std::string dst = firewall_sessions ? b : a.vip;
        auto pkt = [&](const std::string& src, uint16_t port) { return udp_ip(src, dst, port, 53, d); };
        auto out = [&](const std::string& src, uint16_t port) {
            return firewall_sessions ? to(srv, udp_ip(src, b, port, 53, d, ttl(63)))
                                     : to(srv, udp_ip(a.nat, b, port, 5353, d, ttl(63)));
        };
        for (uint16_t i = 0; i < 1024; ++i) {
            auto port = static_cast<uint16_t>(10000 + i);
            ASSERT_TRUE(expect_frames(p.send(client.port, from(client, pkt(c, port))), {out(c, port)},
                                      "flow " + std::to_string(i)));
        }
        EXPECT_EQ(p.counter(&core_counters::sessions_active), 1024U);
        expect_frames(p.send(client.port, from(client, pkt(c, 11024))), {}, "flow 1025");
        EXPECT_EQ(p.drops(drop_reason::flow_table_full), 1U);
        expect_frames(p.send(client.port, from(client, pkt(client3.addr(fam), 11025))), {}, "another source");
        EXPECT_EQ(p.drops(drop_reason::flow_table_full), 2U);
        EXPECT_EQ(all_drops(p), 2U) << drops_seen(p);
        EXPECT_EQ(p.counter(&core_counters::sessions_created), 1024U);
        for (uint16_t port : {10000, 10500, 11023})
            expect_frames(p.send(client.port, from(client, pkt(c, port))), {out(c, port)}, "existing flow");
        if (firewall_sessions) {
            expect_frames(p.send(srv.port, from(srv, udp_ip(b, c, 53, 10500, d))),
                          {to(client, udp_ip(b, c, 53, 10500, d, ttl(63)))}, "reply");
        } else {
            expect_frames(p.send(srv.port, from(srv, udp_ip(b, a.nat, 5353, 10500, d))),
                          {to(client, udp_ip(a.vip, c, 53, 10500, d, ttl(63)))}, "reply");
        }
        EXPECT_EQ(all_drops(p), 2U) << drops_seen(p);
        EXPECT_EQ(p.mbufs_in_use(), 0U);
    }
}

// 7: an ICMP echo identifier the pool cannot keep (below portMin) is translated, and back.
TEST_P(L4Family, SnatTranslatesEchoIdentifier) {
    int fam = GetParam();
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    pipeline p(lab(snat_pool(false)));
    auto d = pattern(24);
    auto out = p.send(srv.port, from(srv, echo_ip(b, c, true, 77, 1, d)));
    ASSERT_EQ(out.size(), 1U);
    uint16_t id = get16(out[0].frame, l4_offset(out[0].frame) + 4);
    EXPECT_GE(id, 1024);
    EXPECT_FALSE(id >= 61000 && id <= 61999) << "a health-probe port";
    expect_frames(out, {to(client, echo_ip(a.pool, c, true, id, 1, d, ttl(63)))}, "echo request");
    expect_frames(p.send(client.port, from(client, echo_ip(c, a.pool, false, id, 1, d))),
                  {to(srv, echo_ip(c, b, false, 77, 1, d, ttl(63)))}, "echo reply");
    // Another inside host with the same identifier to the same destination gets another one.
    out = p.send(srvb.port, from(srvb, echo_ip(srvb.addr(fam), c, true, 77, 9, d)));
    ASSERT_EQ(out.size(), 1U);
    uint16_t id2 = get16(out[0].frame, l4_offset(out[0].frame) + 4);
    EXPECT_NE(id2, id);
    expect_frames(out, {to(client, echo_ip(a.pool, c, true, id2, 9, d, ttl(63)))}, "second host's request");
    expect_frames(p.send(client.port, from(client, echo_ip(c, a.pool, false, id2, 9, d))),
                  {to(srvb, echo_ip(c, srvb.addr(fam), false, 77, 9, d, ttl(63)))}, "second host's reply");
    EXPECT_EQ(all_drops(p), 0U) << drops_seen(p);
}

// 7: two inside hosts with the same source port; with endpointIndependent the mapping of an inside
// (host, port) is the same for every destination (RFC 4787 4.1).
TEST_P(L4Family, SnatPortConflictsAndEndpointIndependentMapping) {
    int fam = GetParam();
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), c3 = client3.addr(fam), b = srv.addr(fam), bb = srvb.addr(fam);
    auto d = pattern(12);
    for (bool eim : {false, true}) {
        SCOPED_TRACE(eim ? "endpoint-independent" : "endpoint-dependent");
        pipeline p(lab(snat_pool(eim)));
        expect_frames(p.send(srv.port, from(srv, udp_ip(b, c, 5002, 53, d))),
                      {to(client, udp_ip(a.pool, c, 5002, 53, d, ttl(63)))}, "first host keeps its port");
        auto out = p.send(srvb.port, from(srvb, udp_ip(bb, c, 5002, 53, d)));
        ASSERT_EQ(out.size(), 1U);
        uint16_t port = get16(out[0].frame, l4_offset(out[0].frame));
        EXPECT_NE(port, 5002);
        expect_frames(out, {to(client, udp_ip(a.pool, c, port, 53, d, ttl(63)))}, "second host gets another port");
        expect_frames(p.send(client.port, from(client, udp_ip(c, a.pool, 53, 5002, d))),
                      {to(srv, udp_ip(c, b, 53, 5002, d, ttl(63)))}, "reply to the first host");
        expect_frames(p.send(client.port, from(client, udp_ip(c, a.pool, 53, port, d))),
                      {to(srvb, udp_ip(c, bb, 53, 5002, d, ttl(63)))}, "reply to the second host");
        if (eim) {
            expect_frames(p.send(srvb.port, from(srvb, udp_ip(bb, c3, 5002, 53, d))),
                          {to(client3, udp_ip(a.pool, c3, port, 53, d, ttl(63)))}, "same mapping, other host");
            expect_frames(p.send(srvb.port, from(srvb, udp_ip(bb, c, 5002, 54, d))),
                          {to(client, udp_ip(a.pool, c, port, 54, d, ttl(63)))}, "same mapping, other port");
            expect_frames(p.send(client.port, from(client3, udp_ip(c3, a.pool, 53, port, d))),
                          {to(srvb, udp_ip(c3, bb, 53, 5002, d, ttl(63)))}, "reply from the other host");
        } else {
            // Address-and-port-dependent: the port is free toward another destination.
            expect_frames(p.send(srvb.port, from(srvb, udp_ip(bb, c3, 5002, 53, d))),
                          {to(client3, udp_ip(a.pool, c3, 5002, 53, d, ttl(63)))}, "other destination");
        }
        EXPECT_EQ(all_drops(p), 0U) << drops_seen(p);
    }
}

// 7: a 64-port pool filled by inside ports that map to themselves; the 65th mapping is refused
// and counted, and no live mapping is ever handed out twice.
TEST_P(L4Family, SnatPortExhaustion) {
    int fam = GetParam();
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), c3 = client3.addr(fam), b = srv.addr(fam), bb = srvb.addr(fam);
    auto d = pattern(12);
    for (bool eim : {false, true}) {
        SCOPED_TRACE(eim ? "endpoint-independent" : "endpoint-dependent");
        pipeline p(lab(snat_pool(eim, 20000, 20063)));
        for (uint16_t port = 20000; port <= 20063; ++port) {
            ASSERT_TRUE(expect_frames(p.send(srv.port, from(srv, udp_ip(b, c, port, 53, d))),
                                      {to(client, udp_ip(a.pool, c, port, 53, d, ttl(63)))},
                                      "fill " + std::to_string(port)));
        }
        expect_frames(p.send(srv.port, from(srv, udp_ip(b, c, 30000, 53, d))), {}, "65th mapping");
        EXPECT_EQ(p.drops(drop_reason::nat_ports_exhausted), 1U);
        expect_frames(p.send(srvb.port, from(srvb, udp_ip(bb, c, 20005, 53, d))), {}, "a taken port from another host");
        EXPECT_EQ(p.drops(drop_reason::nat_ports_exhausted), 2U);
        if (eim) {
            expect_frames(p.send(srv.port, from(srv, udp_ip(b, c3, 30001, 53, d))), {},
                          "every outside port is mapped, whatever the destination");
            EXPECT_EQ(p.drops(drop_reason::nat_ports_exhausted), 3U);
            expect_frames(p.send(srv.port, from(srv, udp_ip(b, c3, 20010, 53, d))),
                          {to(client3, udp_ip(a.pool, c3, 20010, 53, d, ttl(63)))}, "an existing mapping is reused");
        } else {
            auto out = p.send(srv.port, from(srv, udp_ip(b, c3, 30001, 53, d)));
            ASSERT_EQ(out.size(), 1U) << "ports are per destination when endpoint-dependent";
            uint16_t port = get16(out[0].frame, l4_offset(out[0].frame));
            EXPECT_TRUE(port >= 20000 && port <= 20063) << port;
        }
        for (uint16_t port = 20000; port <= 20063; ++port) {
            ASSERT_TRUE(expect_frames(p.send(client.port, from(client, udp_ip(c, a.pool, 53, port, d))),
                                      {to(srv, udp_ip(c, b, 53, port, d, ttl(63)))}, "reply " + std::to_string(port)));
        }
        EXPECT_EQ(all_drops(p), eim ? 3U : 2U) << drops_seen(p);
    }
}

// 7: ports picked at random (inside ports outside the pool's range): every port of the range is
// usable before the pool reports exhaustion, and none is handed out twice.
TEST_P(L4Family, SnatRandomPortsFillThePool) {
    int fam = GetParam();
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    auto d = pattern(12);
    std::string report;
    bool early = false;
    for (bool eim : {false, true}) {
        SCOPED_TRACE(eim ? "endpoint-independent" : "endpoint-dependent");
        pipeline p(lab(snat_pool(eim, 20000, 20063)));
        std::set<uint16_t> used;
        int first_exhausted = -1;
        for (int i = 0; i < 400; ++i) {
            auto sport = static_cast<uint16_t>(40000 + i);
            uint64_t before = p.drops(drop_reason::nat_ports_exhausted);
            auto out = p.send(srv.port, from(srv, udp_ip(b, c, sport, 53, d)));
            if (out.empty()) {
                ASSERT_EQ(p.drops(drop_reason::nat_ports_exhausted), before + 1) << drops_seen(p);
                if (first_exhausted < 0) first_exhausted = i;
                continue;
            }
            ASSERT_EQ(out.size(), 1U);
            uint16_t port = get16(out[0].frame, l4_offset(out[0].frame));
            ASSERT_TRUE(port >= 20000 && port <= 20063) << port;
            ASSERT_TRUE(used.insert(port).second) << "outside port " << port << " handed out twice";
            expect_frames(out, {to(client, udp_ip(a.pool, c, port, 53, d, ttl(63)))}, "flow " + std::to_string(i));
        }
        report += std::string(eim ? " EIM" : " non-EIM") + ": first refusal after " + std::to_string(first_exhausted) +
                  " mappings, " + std::to_string(used.size()) + " of 64 ports used after 400 attempts;";
        EXPECT_EQ(used.size(), 64U);
        if (first_exhausted != 64) early = true;
    }
    if (!early) return;
    if (bugs_enabled()) {
        ADD_FAILURE() << "refused while free ports remained:" << report;
    } else {
        GTEST_SKIP() << "BUG: SNAT port allocation gives up while the pool has free ports: pick_port() and "
                        "snat_eim() try the preferred port and then 32 (EIM: 63) random ports, and report "
                        "nat_ports_exhausted when those are all taken, so the last free ports of a range are "
                        "rarely found. Pool 20000-20063, new UDP flows from inside ports 40000+ to one "
                        "destination:"
                     << report << " expected: exactly 64 mappings, then refusals.";
    }
}

// ---- 13: statistics for the exporter (dataplane/l4/l4_stats.hpp) ---------------------------------

// The rows of the pipeline's current runtime, from its worker's counters.
std::vector<dataplane::l4::backend_row> backends_of(pipeline& p) {
    return dataplane::l4::backend_rows(*p.l4().current(), p.l4().counters(), 1, nullptr);
}
const dataplane::l4::backend_row* backend_named(const std::vector<dataplane::l4::backend_row>& rows,
                                                const std::string& service, const std::string& key) {
    for (const auto& r : rows)
        if (r.service == service && r.backend == key) return &r;
    ADD_FAILURE() << "no row for " << service << " " << key;
    return nullptr;
}
std::string key_of(const std::string& addr, int port) {
    return is6(addr) ? "[" + addr + "]:" + std::to_string(port) : addr + ":" + std::to_string(port);
}
uint64_t ip_len(const bytes& pkt) {
    return pkt.size();
}
// The IP length of a frame the gateway sent (short frames are padded to 60 bytes).
uint64_t frame_ip_len(const bytes& f) {
    return get16(f, 12) == eth_ipv6 ? 40U + get16(f, 18) : get16(f, 16);
}

// Backend counters: connections, and packets and IP bytes each way, exactly; NAT46 counts the
// packets to the backend as they leave (20 bytes more), the answers as they arrive.
TEST_P(L4Family, BackendCountersCountBothDirections) {
    int fam = GetParam();
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam), other = srv2.addr(fam);
    std::string extra = R"("sourceAddresses": [")" + a.nat + R"("])";
    // Two services: "dns" (one backend) and "xl" translating to the other family.
    const auto& ox = fam_addrs(fam == 4 ? 6 : 4);
    std::string bx = srv.addr(fam == 4 ? 6 : 4);
    pipeline p(
        lab(services({service("dns", a.vip, "udp", 53, {{b, 5353}, {other, 5353, 0, true}}, extra),
                      service("xl", a.vip, "udp", 54, {{bx, 5454}}, R"("sourceAddresses": [")" + ox.nat + R"("])")})));
    uint64_t to_bytes = 0, from_bytes = 0;
    for (int i = 0; i < 5; ++i) {
        auto d = pattern(10 + 7 * i);
        auto q = udp_ip(c, a.vip, 40001, 53, d);
        to_bytes += ip_len(q);
        ASSERT_TRUE(expect_frames(p.send(client.port, from(client, q)),
                                  {to(srv, udp_ip(a.nat, b, 40001, 5353, d, ttl(63)))}, "query " + std::to_string(i)));
    }
    for (int i = 0; i < 3; ++i) {
        auto d = pattern(100 + 3 * i);
        auto r = udp_ip(b, a.nat, 5353, 40001, d);
        from_bytes += ip_len(r);
        ASSERT_TRUE(expect_frames(p.send(srv.port, from(srv, r)), {to(client, udp_ip(a.vip, c, 53, 40001, d, ttl(63)))},
                                  "answer " + std::to_string(i)));
    }
    // A second flow: a second connection.
    auto d2 = pattern(33);
    auto q2 = udp_ip(c, a.vip, 40002, 53, d2);
    ASSERT_TRUE(expect_frames(p.send(client.port, from(client, q2)),
                              {to(srv, udp_ip(a.nat, b, 40002, 5353, d2, ttl(63)))}, "second flow"));
    to_bytes += ip_len(q2);
    // NAT46/64: 4 packets there, 2 back.
    uint64_t xl_to = 0, xl_from = 0;
    for (int i = 0; i < 4; ++i) {
        auto d = pattern(20 + i);
        auto q = udp_ip(c, a.vip, 40003, 54, d);
        auto out = p.send(client.port, from(client, q));
        ASSERT_EQ(out.size(), 1U);
        xl_to += frame_ip_len(out[0].frame);
        EXPECT_EQ(frame_ip_len(out[0].frame), fam == 4 ? ip_len(q) + 20 : ip_len(q) - 20);
    }
    for (int i = 0; i < 2; ++i) {
        auto d = pattern(40 + i);
        auto r = udp_ip(bx, ox.nat, 5454, 40003, d);
        xl_from += ip_len(r);
        ASSERT_EQ(p.send(srv.port, from(srv, r)).size(), 1U);
    }
    EXPECT_EQ(all_drops(p), 0U) << drops_seen(p);

    auto rows = backends_of(p);
    ASSERT_EQ(rows.size(), 3U);
    if (const auto* r = backend_named(rows, "dns", key_of(b, 5353))) {
        EXPECT_TRUE(r->up);
        EXPECT_EQ(r->connections, 2U);
        EXPECT_EQ(r->packets_to, 6U);
        EXPECT_EQ(r->bytes_to, to_bytes);
        EXPECT_EQ(r->packets_from, 3U);
        EXPECT_EQ(r->bytes_from, from_bytes);
        EXPECT_TRUE(r->health_bounds.empty());
        EXPECT_EQ(r->health_count, 0U);
    }
    if (const auto* r = backend_named(rows, "dns", key_of(other, 5353))) {
        EXPECT_FALSE(r->up) << "admin-down";
        EXPECT_EQ(r->connections + r->packets_to + r->bytes_to + r->packets_from + r->bytes_from, 0U);
    }
    if (const auto* r = backend_named(rows, "xl", key_of(bx, 5454))) {
        EXPECT_EQ(r->connections, 1U);
        EXPECT_EQ(r->packets_to, 4U);
        EXPECT_EQ(r->bytes_to, xl_to);
        EXPECT_EQ(r->packets_from, 2U);
        EXPECT_EQ(r->bytes_from, xl_from);
    }
    auto svcs = dataplane::l4::service_rows(*p.l4().current());
    ASSERT_EQ(svcs.size(), 2U);
    EXPECT_EQ(svcs[0].name, "dns");
    EXPECT_EQ(svcs[0].backends, 2U);
    EXPECT_EQ(svcs[0].backends_up, 1U);
    EXPECT_EQ(svcs[1].name, "xl");
    EXPECT_EQ(svcs[1].backends, 1U);
    EXPECT_EQ(svcs[1].backends_up, 1U);
}

// TCP through the SYN proxy: the handshake the gateway completes with the backend is counted as
// what it sends and receives there.
TEST_P(L4Family, BackendCountersThroughTheSynProxy) {
    int fam = GetParam();
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b = srv.addr(fam);
    pipeline p(lab(services({service("web", a.vip, "tcp", 80, {{b, 8080}},
                                     R"("synProxy": "always", "sourceAddresses": [")" + a.nat + R"("])")})));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    auto out = p.send(client.port, from(client, tcp_ip(c, a.vip, 40000, 80, syn)));
    ASSERT_EQ(out.size(), 1U) << "SYN-ACK with a cookie";
    size_t l4o = l4_offset(out[0].frame);
    uint32_t cookie = static_cast<uint32_t>(get16(out[0].frame, l4o + 4)) << 16 | get16(out[0].frame, l4o + 6);
    EXPECT_EQ(backends_of(p)[0].connections, 0U) << "a cookie keeps no state";
    tcp_fields ack{1001, cookie + 1, flag::ack, 64240, {}, {}};
    out = p.send(client.port, from(client, tcp_ip(c, a.vip, 40000, 80, ack)));
    ASSERT_EQ(out.size(), 1U) << "SYN to the backend";
    uint64_t to_bytes = frame_ip_len(out[0].frame);
    tcp_fields synack{5000, 1000, flag::syn | flag::ack, 65160, mss_option(1460), {}};
    auto sa = tcp_ip(b, a.nat, 8080, 40000, synack);
    out = p.send(srv.port, from(srv, sa));
    ASSERT_EQ(out.size(), 1U) << "the gateway's ACK to the backend";
    EXPECT_EQ(out[0].port, srv.port);
    to_bytes += frame_ip_len(out[0].frame);
    auto rows = backends_of(p);
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows[0].connections, 1U);
    EXPECT_EQ(rows[0].packets_to, 2U);
    EXPECT_EQ(rows[0].bytes_to, to_bytes);
    EXPECT_EQ(rows[0].packets_from, 1U);
    EXPECT_EQ(rows[0].bytes_from, ip_len(sa));
    EXPECT_EQ(all_drops(p), 0U) << drops_seen(p);
}

// A reload that puts another service first and reverses the backends: sessions from before it
// keep charging the backend they have, new ones charge theirs, and no counter goes back.
TEST_P(L4Family, BackendCountersSurviveReloadsThatReorder) {
    int fam = GetParam();
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), b1 = srv.addr(fam), b2 = srv2.addr(fam);
    auto config = [&](bool reordered, bool b1_down) {
        std::vector<be> backends = {{b1, 5353, 1, b1_down}, {b2, 5353}};
        if (!reordered) return lab(services({service("dns", a.vip, "udp", 53, backends)}));
        std::reverse(backends.begin(), backends.end());
        return lab(services({service("first", a.vip, "udp", 99, {{srvb.addr(fam), 9999}}),
                             service("dns", a.vip, "udp", 53, backends)}));
    };
    pipeline p(config(false, false));
    auto d = pattern(16);
    auto q = [&](uint16_t port) { return udp_ip(c, a.vip, port, 53, d); };
    uint64_t len = ip_len(q(1));
    // Flows until both backends have one.
    std::map<uint16_t, uint16_t> flow_port;  // client port -> the gateway port it leaves on
    for (uint16_t port = 30000; port < 30100 && flow_port.size() < 2; ++port) {
        auto out = p.send(client.port, from(client, q(port)));
        ASSERT_EQ(out.size(), 1U);
        bool seen = false;
        for (const auto& [k, v] : flow_port) seen = seen || v == out[0].port;
        if (!seen) flow_port[port] = out[0].port;
    }
    ASSERT_EQ(flow_port.size(), 2U);
    auto rows = backends_of(p);
    uint64_t conn1 = backend_named(rows, "dns", key_of(b1, 5353))->connections;
    uint64_t conn2 = backend_named(rows, "dns", key_of(b2, 5353))->connections;
    uint64_t pk1 = backend_named(rows, "dns", key_of(b1, 5353))->packets_to;
    uint64_t pk2 = backend_named(rows, "dns", key_of(b2, 5353))->packets_to;
    EXPECT_EQ(pk1, conn1);
    EXPECT_EQ(pk2, conn2);

    // Reordered, and backend 1 admin-down (kept sessions continue, new flows avoid it).
    p.reload(config(true, true));
    for (const auto& [port, out_port] : flow_port) {
        for (int i = 0; i < 3; ++i) {
            auto out = p.send(client.port, from(client, q(port)));
            ASSERT_EQ(out.size(), 1U);
            EXPECT_EQ(out[0].port, out_port) << "the session keeps its backend";
        }
    }
    // One answer from each backend to its flow.
    for (const auto& [port, out_port] : flow_port) {
        const host& h = out_port == srv.port ? srv : srv2;
        std::string src = out_port == srv.port ? a.gw_srv1 : a.gw_srv2;
        ASSERT_EQ(p.send(h.port, from(h, udp_ip(h.addr(fam), src, 5353, port, d))).size(), 1U);
    }
    // A new flow after the reload goes to backend 2.
    ASSERT_EQ(p.send(client.port, from(client, q(31000))).size(), 1U);
    rows = backends_of(p);
    ASSERT_EQ(rows.size(), 3U);
    const auto* r1 = backend_named(rows, "dns", key_of(b1, 5353));
    const auto* r2 = backend_named(rows, "dns", key_of(b2, 5353));
    ASSERT_TRUE(r1 != nullptr && r2 != nullptr);
    EXPECT_FALSE(r1->up);
    EXPECT_EQ(r1->connections, conn1);
    EXPECT_EQ(r1->packets_to, pk1 + 3);
    EXPECT_EQ(r1->bytes_to, (pk1 + 3) * len);
    EXPECT_EQ(r1->packets_from, 1U);
    EXPECT_EQ(r2->connections, conn2 + 1);
    EXPECT_EQ(r2->packets_to, pk2 + 3 + 1);
    EXPECT_EQ(r2->bytes_to, (pk2 + 4) * len);
    EXPECT_EQ(r2->packets_from, 1U);
    const auto* first = backend_named(rows, "first", key_of(srvb.addr(fam), 9999));
    ASSERT_TRUE(first != nullptr);
    EXPECT_EQ(first->connections + first->packets_to + first->packets_from, 0U);
    EXPECT_EQ(all_drops(p), 0U) << drops_seen(p);
}

// Hits per rule count new flows only; the two family halves of a rule are one row; unnamed rules
// are "rule-<n>" by their place in firewall.rules; counts stay with their rule across a reload
// that reorders the rules.
TEST_P(L4Family, AclHitsCountNewFlowsPerRule) {
    int fam = GetParam();
    std::string c = client.addr(fam), b = srv.addr(fam);
    auto config = [](bool reordered) {
        std::vector<std::string> rules = {
            R"({ "name": "web", "protocol": "tcp", "destinationPorts": "80", "action": "allow" })",
            R"({ "protocol": "udp", "destinationPorts": "5000", "action": "allow" })",
            R"({ "name": "audit", "protocol": "udp", "destinationPorts": "6000", "action": "log" })"};
        if (reordered) std::swap(rules[0], rules[2]);
        return lab(R"("firewall": { "defaultAction": "deny", "rules": [)" + rules[0] + ", " + rules[1] + ", " +
                   rules[2] + "] }");
    };
    pipeline p(config(false));
    auto hits = [&](const std::string& rule) -> int64_t {
        for (const auto& r : dataplane::l4::acl_rows(*p.l4().current(), p.l4().counters(), 1))
            if (r.rule == rule) return static_cast<int64_t>(r.hits);
        return -1;
    };
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    tcp_fields synack{5000, 1001, flag::syn | flag::ack, 65160, mss_option(1460), {}};
    tcp_fields ack{1001, 5001, flag::ack, 64240, {}, {}};
    auto d = pattern(20);
    p.send(client.port, from(client, tcp_ip(c, b, 40000, 80, syn)));
    p.send(srv.port, from(srv, tcp_ip(b, c, 80, 40000, synack)));
    for (int i = 0; i < 3; ++i) p.send(client.port, from(client, tcp_ip(c, b, 40000, 80, ack)));
    for (int i = 0; i < 4; ++i) p.send(client.port, from(client, udp_ip(c, b, 4000, 5000, d)));
    p.send(client.port, from(client, udp_ip(c, b, 4001, 5000, d)));
    for (int i = 0; i < 2; ++i) p.send(client.port, from(client, udp_ip(c, b, 4002, 6000, d)));
    // Denied flows keep no session: each attempt is a new flow, and counts.
    for (int i = 0; i < 2; ++i) p.send(client.port, from(client, udp_ip(c, b, 4003, 7000, d)));
    EXPECT_EQ(p.drops(drop_reason::acl_denied), 2U) << drops_seen(p);

    auto rows = dataplane::l4::acl_rows(*p.l4().current(), p.l4().counters(), 1);
    ASSERT_EQ(rows.size(), 4U);
    EXPECT_EQ(rows[0].rule, "web");
    EXPECT_EQ(rows[0].action, "allow");
    EXPECT_EQ(rows[0].hits, 1U);
    EXPECT_EQ(rows[1].rule, "rule-1");
    EXPECT_EQ(rows[1].action, "allow");
    EXPECT_EQ(rows[1].hits, 2U);
    EXPECT_EQ(rows[2].rule, "audit");
    EXPECT_EQ(rows[2].action, "log");
    EXPECT_EQ(rows[2].hits, 1U);
    EXPECT_EQ(rows[3].rule, "default");
    EXPECT_EQ(rows[3].action, "deny");
    EXPECT_EQ(rows[3].hits, 2U);
    EXPECT_EQ(p.counter(&core_counters::acl_logged), 1U);

    // The other family's half of "web" counts in the same row.
    std::string c6 = client.addr(fam == 4 ? 6 : 4), b6 = srv.addr(fam == 4 ? 6 : 4);
    p.send(client.port, from(client, tcp_ip(c6, b6, 40000, 80, syn)));
    EXPECT_EQ(hits("web"), 2);

    p.reload(config(true));
    p.send(client.port, from(client, tcp_ip(c, b, 40001, 80, syn)));
    p.send(client.port, from(client, udp_ip(c, b, 4004, 6000, d)));
    p.send(client.port, from(client, udp_ip(c, b, 4000, 5000, d)));  // an existing session
    EXPECT_EQ(hits("web"), 3);
    EXPECT_EQ(hits("audit"), 2);
    EXPECT_EQ(hits("rule-1"), 2);
    EXPECT_EQ(hits("default"), 2);
}

// SNAT mappings held per pool: up with new mappings (EIM: one per inside host and port, whatever
// the destination), down when they expire, kept by pool name across a reload that reorders pools.
TEST_P(L4Family, SnatInUseFollowsMappings) {
    int fam = GetParam();
    const auto& a = fam_addrs(fam);
    std::string c = client.addr(fam), c3 = client3.addr(fam), b = srv.addr(fam);
    auto d = pattern(12);
    for (bool eim : {false, true}) {
        SCOPED_TRACE(eim ? "endpoint-independent" : "endpoint-dependent");
        std::string flows = R"("flows": { "udpTimeout": 5 })";
        pipeline p(lab(join({snat_pool(eim, 20000, 61999), flows})));
        auto in_use = [&]() -> int64_t {
            for (const auto& r : dataplane::l4::snat_rows(*p.l4().current(), p.l4().counters(), 1))
                if (r.pool == "egress") return static_cast<int64_t>(r.in_use);
            return -1;
        };
        // Inside ports in the pool's range: kept, so the expected frames are known.
        for (uint16_t port : {30001, 30002, 30003}) {
            ASSERT_TRUE(expect_frames(p.send(srv.port, from(srv, udp_ip(b, c, port, 53, d))),
                                      {to(client, udp_ip(a.pool, c, port, 53, d, ttl(63)))}, "new mapping"));
        }
        EXPECT_EQ(in_use(), 3);
        ASSERT_EQ(p.send(srv.port, from(srv, udp_ip(b, c, 30001, 53, d))).size(), 1U);  // the same flow
        ASSERT_TRUE(expect_frames(p.send(client.port, from(client, udp_ip(c, a.pool, 53, 30001, d))),
                                  {to(srv, udp_ip(c, b, 53, 30001, d, ttl(63)))}, "reply"));
        EXPECT_EQ(in_use(), 3);
        // The same inside port to another destination: one more mapping unless endpoint-independent.
        ASSERT_TRUE(expect_frames(p.send(srv.port, from(srv, udp_ip(b, c3, 30001, 53, d))),
                                  {to(client3, udp_ip(a.pool, c3, 30001, 53, d, ttl(63)))}, "other destination"));
        EXPECT_EQ(in_use(), eim ? 3 : 4);
        auto rows = dataplane::l4::snat_rows(*p.l4().current(), p.l4().counters(), 1);
        ASSERT_EQ(rows.size(), 1U);
        // Two addresses x (20000..61999 less the 1000 probe ports).
        EXPECT_EQ(rows[0].capacity, 2U * (42000U - 1000U));

        p.reload(lab(join({R"("snatPools": [ { "name": "first", "sources": ["198.18.3.0/24", "fd00:3::/64"],
            "addresses": ["198.18.1.101", "fd00:1::101"] },)" +
                               snat_pool(eim, 20000, 61999).substr(std::string(R"("snatPools": [)").size()),
                           flows})));
        ASSERT_EQ(p.l4().current()->snat.size(), 2U);
        EXPECT_EQ(p.l4().current()->snat[1].name, "egress");
        EXPECT_EQ(in_use(), eim ? 3 : 4) << "kept across the reload";
        ASSERT_TRUE(expect_frames(p.send(srv.port, from(srv, udp_ip(b, c, 30004, 53, d))),
                                  {to(client, udp_ip(a.pool, c, 30004, 53, d, ttl(63)))}, "after the reload"));
        EXPECT_EQ(in_use(), eim ? 4 : 5);
        p.advance(6);
        EXPECT_EQ(in_use(), 0) << "all expired";
        EXPECT_EQ(p.counter(&core_counters::sessions_active), 0U);
        EXPECT_EQ(all_drops(p), 0U) << drops_seen(p);
    }
}

// Health-check round trips: successful probes only, in their buckets, kept across a
// reconfiguration; a backend without a health check has no histogram.
TEST(L4Stats, HealthCheckHistogram) {
    std::string config =
        lab(services({service("web", A4.vip, "tcp", 80, {{srv.a4, 8080}},
                              R"("healthCheck": { "type": "tcp", "intervalMs": 1000, "timeoutMs": 500, "fall": 5 })"),
                      // Checked too, but its first probe is due an eighth of an hour later.
                      service("web2", A4.vip, "tcp", 81, {{srv2.a4, 8080}},
                              R"("healthCheck": { "type": "tcp", "intervalMs": 3600000 })"),
                      service("dns", A4.vip, "udp", 53, {{srv.a4, 5353}})}));
    pipeline p(config);
    auto cfg = policy::parse_config_json(config);
    ASSERT_TRUE(cfg) << cfg.error_message();
    auto rt = dataplane::l4::build_l4_runtime(cfg.value(), p.runtime(), nullptr, nullptr, "hc_stats");
    ASSERT_TRUE(rt) << rt.error_message();
    rte_mempool* pool = rte_pktmbuf_pool_create("hc_stats", 63, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
    ASSERT_NE(pool, nullptr);
    constexpr uint64_t hz = 1000000000;
    dataplane::l4::health_checker hc(pool, hz);  // no output: probes are not sent, answers are fed in
    uint64_t now = 10 * hz;
    hc.configure(cfg.value(), *rt.value(), nullptr, now);
    uint16_t next_port = dataplane::l4::probe_port_min;
    // One probe of the first backend (due at once, then every second) answered after `rtt`
    // seconds by `flags`.
    auto probe = [&](double rtt, uint8_t flags) {
        hc.poll(now);
        uint16_t sport = next_port++;
        uint32_t isn = static_cast<uint32_t>(now >> 4) ^ (uint32_t{sport} << 16);  // as health.cpp picks it
        tcp_fields f{77, isn + 1, flags, 65535, {}, {}};
        bytes pkt = tcp_ip(srv.a4, A4.gw_srv1, 8080, sport, f);
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        ASSERT_NE(m, nullptr);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(pkt.size())), pkt.data(), pkt.size());
        now += static_cast<uint64_t>(rtt * static_cast<double>(hz));
        hc.on_packet(m, now);
        now += hz;  // the next probe is due
    };
    probe(0.003, flag::syn | flag::ack);   // (0.0025, 0.005]
    probe(0.2, flag::syn | flag::ack);     // (0.1, 0.25]
    probe(0.0004, flag::syn | flag::ack);  // (0, 0.0005]
    probe(0.001, flag::rst | flag::ack);   // refused: not counted
    auto check = [&](const char* what) {
        SCOPED_TRACE(what);
        auto rows = dataplane::l4::backend_rows(*rt.value(), nullptr, 0, &hc);
        ASSERT_EQ(rows.size(), 3U);
        const auto* r = backend_named(rows, "web", key_of(srv.a4, 8080));
        ASSERT_NE(r, nullptr);
        ASSERT_EQ(r->health_bounds.size(), 11U);
        EXPECT_EQ(r->health_bounds.front(), 0.0005);
        EXPECT_EQ(r->health_bounds.back(), 1.0);
        std::vector<uint64_t> want(12, 0);
        want[0] = want[3] = want[8] = 1;
        EXPECT_EQ(r->health_buckets, want);
        EXPECT_EQ(r->health_count, 3U);
        EXPECT_NEAR(r->health_sum, 0.2034, 1e-9);
        const auto* r2 = backend_named(rows, "web2", key_of(srv2.a4, 8080));
        ASSERT_NE(r2, nullptr);
        EXPECT_EQ(r2->health_bounds.size(), 11U) << "checked, no answer yet";
        EXPECT_EQ(r2->health_count, 0U);
        const auto* r3 = backend_named(rows, "dns", key_of(srv.a4, 5353));
        ASSERT_NE(r3, nullptr);
        EXPECT_TRUE(r3->health_bounds.empty()) << "no health check";
        EXPECT_TRUE(r3->health_buckets.empty());
    };
    check("after the probes");
    hc.configure(cfg.value(), *rt.value(), nullptr, now);
    check("after a reconfiguration");
    rte_mempool_free(pool);
}

// Statistics slots stay with their labels, whatever the order of the config.
TEST(L4Stats, SlotsAreStableAndBounded) {
    dataplane::l4::stat_slots slots;
    uint16_t a = slots.backend("web", "198.18.2.2:80");
    uint16_t b = slots.backend("web", "198.18.2.3:80");
    EXPECT_NE(a, 0);
    EXPECT_NE(b, 0);
    EXPECT_NE(a, b);
    EXPECT_EQ(slots.backend("web", "198.18.2.2:80"), a);
    EXPECT_NE(slots.backend("dns", "198.18.2.2:80"), a) << "per service";
    uint16_t r = slots.acl_rule("web", policy::acl_action::allow);
    EXPECT_NE(slots.acl_rule("web", policy::acl_action::deny), r) << "per action";
    EXPECT_EQ(slots.acl_rule("web", policy::acl_action::allow), r);
    for (unsigned i = 0; i < dataplane::max_backend_stats + 10; ++i) slots.backend("many", std::to_string(i));
    EXPECT_EQ(slots.backend("web", "198.18.2.2:80"), a) << "existing slots stay";
    EXPECT_EQ(slots.backend("late", "x"), 0) << "overflow";
    for (unsigned i = 0; i < dataplane::max_acl_stat_rules + 10; ++i)
        slots.acl_rule("r" + std::to_string(i), policy::acl_action::deny);
    EXPECT_EQ(slots.acl_rule("late", policy::acl_action::deny), dataplane::max_acl_stat_rules - 1) << "other";
    for (unsigned i = 0; i < dataplane::max_snat_stats + 10; ++i) slots.snat_pool("p" + std::to_string(i));
    EXPECT_EQ(slots.snat_pool("late"), 0) << "overflow";
}

INSTANTIATE_TEST_SUITE_P(Families, L4Family, ::testing::Values(4, 6),
                         [](const auto& info) { return fam_name(info.param); });

// 12: random corruption of packets that reach the L4 stage (to VIPs, through NAT46, about
// sessions, through SNAT and the firewall): each one is forwarded, answered, held for neighbor
// resolution or counted as a drop; nothing crashes, nothing vanishes, no mbuf is lost.
TEST(L4Fuzz, MutatedPacketsAreForwardedOrCounted) {
    std::string l4 = join(
        {services({service("web", A4.vip, "tcp", 80, {{srv.a4, 8080}, {srv2.a4, 8080}}, R"("synProxyThreshold": 3)"),
                   service("web6", A6.vip, "tcp", 80, {{srv.a6, 8080}}, R"("synProxy": "always")"),
                   service("dns", A4.vip, "udp", 53, {{srv.a6, 5353}}, R"("sourceAddresses": ["fd00:2::100"])"),
                   service("dns6", A6.vip, "udp", 53, {{srv.a4, 5353}}, R"("sourceAddresses": ["198.18.2.100"])")}),
         snat_pool(true),
         R"("firewall": { "defaultAction": "allow", "rules": [
             { "name": "no-81", "destinationPorts": "81", "protocol": "tcp", "action": "deny" } ] })"});
    pipeline p(lab(l4));
    tcp_fields syn{1000, 0, flag::syn, 64240, mss_option(1460), {}};
    tcp_fields ack{1001, 1, flag::ack, 64240, {}, text("data")};
    auto q = pattern(40);
    struct seed {
        uint16_t port;
        bytes frame;
    };
    std::vector<seed> seeds = {
        {0, from(client, tcp_ip(client.a4, A4.vip, 40000, 80, syn))},
        {0, from(client, tcp_ip(client.a4, A4.vip, 40000, 80, ack))},
        {0, from(client, tcp_ip(client.a6, A6.vip, 40000, 80, syn))},
        {0, from(client, tcp_ip(client.a6, A6.vip, 40000, 80, ack))},
        {0, from(client, udp_ip(client.a4, A4.vip, 40001, 53, q))},
        {0, from(client, udp_ip(client.a6, A6.vip, 40001, 53, q))},
        {1, from(srv, udp_ip(srv.a6, "fd00:2::100", 5353, 40001, q))},
        {1, from(srv, udp_ip(srv.a4, "198.18.2.100", 5353, 40001, q))},
        {1, from(srv, udp_ip(srv.a4, client.a4, 5000, 53, q))},
        {1, from(srv, echo_ip(srv.a6, client.a6, true, 5, 1, q))},
        {1, from(router_srv, icmp_error_ip(router_srv.a4, A4.gw_srv1, 11, 0, 0,
                                           tcp_ip(A4.gw_srv1, srv.a4, 40000, 8080, syn, ttl(1))))},
        {1, from(router_srv, icmp_error_ip(router_srv.a6, "fd00:2::100", 3, 0, 0,
                                           udp_ip("fd00:2::100", srv.a6, 40001, 5353, q, ttl(1))))},
        {0, from(client, udp_ip(client.a4, A4.pool, 53, 5000, q))},
    };
    for (const auto& s : seeds) p.send(s.port, s.frame);  // sessions for the mutants to hit
    std::mt19937 rng(20240607);
    int vanished = 0;
    for (int i = 0; i < 6000; ++i) {
        const auto& s = seeds[rng() % seeds.size()];
        bytes f = s.frame;
        unsigned kind = rng() % 4;
        if (kind == 0) {
            f.resize(14 + rng() % (f.size() - 14));  // truncated anywhere after the Ethernet header
        } else {
            unsigned flips = 1 + rng() % 4;
            for (unsigned k = 0; k < flips; ++k)
                f[14 + rng() % (f.size() - 14)] ^= static_cast<uint8_t>(1 + rng() % 255);
            if (kind == 3) f.resize(f.size() + rng() % 16, static_cast<uint8_t>(rng()));
        }
        uint64_t drops = all_drops(p);
        unsigned held = p.mbufs_in_use();
        auto out = p.send(s.port, f);
        if (out.empty() && all_drops(p) == drops && p.mbufs_in_use() == held) {
            if (++vanished <= 5) ADD_FAILURE() << "frame vanished without a drop counted: " << hex(f);
        }
    }
    EXPECT_EQ(vanished, 0);
    p.advance(30);  // pending neighbor resolutions fail and release their packets
    EXPECT_EQ(p.mbufs_in_use(), 0U);
}

// A rebuild (a commit, a health change) reuses the Maglev tables of services whose table would
// come out the same, and builds the others afresh: equal to what a build from nothing gives.
TEST(L4Runtime, RebuildReusesUnchangedMaglevTables) {
    auto config = [](uint32_t weight) {
        return lab(
            services({service("web", A4.vip, "tcp", 80, {{srv.a4, 8080}, {srv2.a4, 8080}}),
                      service("dns", A4.vip, "udp", 53, {{srv.a4, 5353, static_cast<int>(weight)}, {srv2.a4, 5353}})}));
    };
    pipeline p(config(1));
    auto c1 = policy::parse_config_json(config(1));
    auto c2 = policy::parse_config_json(config(3));
    ASSERT_TRUE(c1) << c1.error_message();
    ASSERT_TRUE(c2) << c2.error_message();
    auto a = dataplane::l4::build_l4_runtime(c1.value(), p.runtime(), nullptr, nullptr, "reuse_a");
    ASSERT_TRUE(a) << a.error_message();
    auto b = dataplane::l4::build_l4_runtime(c2.value(), p.runtime(), nullptr, a.value()->acl, "reuse_b", nullptr,
                                             a.value().get());
    ASSERT_TRUE(b) << b.error_message();
    auto fresh = dataplane::l4::build_l4_runtime(c2.value(), p.runtime(), nullptr, a.value()->acl, "reuse_c");
    ASSERT_TRUE(fresh) << fresh.error_message();
    const auto& sa = a.value()->services;
    const auto& sb = b.value()->services;
    const auto& sf = fresh.value()->services;
    ASSERT_EQ(sb.size(), 2U);
    EXPECT_EQ(sb[0].table.get(), sa[0].table.get());  // web: unchanged, shared
    EXPECT_NE(sb[1].table.get(), sa[1].table.get());  // dns: the weight changed, rebuilt
    for (size_t i = 0; i < sb.size(); ++i) EXPECT_EQ(sb[i].table->entries(), sf[i].table->entries()) << sb[i].name;
}

}  // namespace
}  // namespace meshgate::test
