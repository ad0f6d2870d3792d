// Packet building and checking for the TCP scenario harness (independent of the stack's code).
#include "tests/tcp/scenario_wire.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace meshgate::test::tcp {

bool addr::operator==(const addr& o) const {
    return family == o.family && std::memcmp(b, o.b, family == 4 ? 4 : 16) == 0;
}

std::optional<addr> parse_addr(const std::string& in) {
    std::string s = in;
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    addr a;
    if (inet_pton(AF_INET, s.c_str(), a.b) == 1) {
        a.family = 4;
        return a;
    }
    if (inet_pton(AF_INET6, s.c_str(), a.b) == 1) {
        a.family = 6;
        return a;
    }
    return std::nullopt;
}

std::string render_addr(const addr& a) {
    char buf[64];
    inet_ntop(a.family == 4 ? AF_INET : AF_INET6, a.b, buf, sizeof buf);
    return a.family == 4 ? std::string(buf) : "[" + std::string(buf) + "]";
}

bool parse_endpoint(const std::string& s, const addr& dflt, addr& a, uint16_t& port) {
    auto colon = s.rfind(':');
    if (colon == std::string::npos) return false;
    std::string host = s.substr(0, colon), p = s.substr(colon + 1);
    if (p.empty()) return false;
    char* end = nullptr;
    unsigned long v = std::strtoul(p.c_str(), &end, 10);
    if (*end || v > 65535) return false;
    port = static_cast<uint16_t>(v);
    if (host.empty()) {
        a = dflt;
        return true;
    }
    auto pa = parse_addr(host);
    if (!pa) return false;
    a = *pa;
    return true;
}

uint16_t inet_checksum(const uint8_t* p, size_t n, uint32_t initial) {
    uint32_t sum = initial;
    for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum & 0xffff);
}

namespace {

void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}
uint16_t get16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t get32(const uint8_t* p) {
    return static_cast<uint32_t>(get16(p)) << 16 | get16(p + 2);
}

// The pseudo-header sum (not folded, not complemented) for the TCP checksum.
uint32_t pseudo_sum(const addr& src, const addr& dst, size_t tcp_len) {
    uint32_t sum = 0;
    size_t n = src.family == 4 ? 4 : 16;
    for (size_t i = 0; i < n; i += 2) {
        sum += static_cast<uint32_t>(src.b[i] << 8 | src.b[i + 1]);
        sum += static_cast<uint32_t>(dst.b[i] << 8 | dst.b[i + 1]);
    }
    sum += 6;
    sum += static_cast<uint32_t>(tcp_len & 0xffff);
    sum += static_cast<uint32_t>(tcp_len >> 16);
    return sum;
}

bool parse_tcp_options(const uint8_t* p, size_t n, wire_opts& o, std::string& why) {
    size_t i = 0;
    while (i < n) {
        uint8_t kind = p[i];
        if (kind == 0) break;  // EOL: the rest is padding
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n) {
            why = "option " + std::to_string(kind) + " truncated";
            return false;
        }
        uint8_t len = p[i + 1];
        if (len < 2 || i + len > n) {
            why = "option " + std::to_string(kind) + " has bad length " + std::to_string(len);
            return false;
        }
        auto dup = [&](bool seen) {
            if (seen) why = "option " + std::to_string(kind) + " appears twice";
            return seen;
        };
        switch (kind) {
            case 2:
                if (len != 4 || dup(o.has_mss)) return why.empty() ? (why = "MSS option length != 4", false) : false;
                o.has_mss = true;
                o.mss = get16(p + i + 2);
                break;
            case 3:
                if (len != 3 || dup(o.has_ws)) return why.empty() ? (why = "wscale option length != 3", false) : false;
                o.has_ws = true;
                o.ws = p[i + 2];
                break;
            case 4:
                if (len != 2 || dup(o.sack_ok)) return why.empty() ? (why = "sackOK option length != 2", false) : false;
                o.sack_ok = true;
                break;
            case 5:
                if ((len - 2) % 8 != 0 || len < 10 || dup(o.has_sack))
                    return why.empty() ? (why = "SACK option bad length", false) : false;
                o.has_sack = true;
                for (size_t b = i + 2; b < i + len; b += 8) o.sack.emplace_back(get32(p + b), get32(p + b + 4));
                break;
            case 8:
                if (len != 10 || dup(o.has_ts)) return why.empty() ? (why = "TS option length != 10", false) : false;
                o.has_ts = true;
                o.ts_val = get32(p + i + 2);
                o.ts_ecr = get32(p + i + 6);
                break;
            default:
                break;  // unknown options are skipped (we emit none)
        }
        i += len;
    }
    return true;
}

}  // namespace

std::vector<uint8_t> build_packet(const wire_seg& s, const std::vector<uint8_t>& opt_bytes, bool bad_csum) {
    size_t tcp_len = 20 + opt_bytes.size() + s.payload.size();
    size_t ip_len = s.src.family == 4 ? 20 : 40;
    std::vector<uint8_t> pkt(ip_len + tcp_len, 0);
    uint8_t* ip = pkt.data();
    if (s.src.family == 4) {
        ip[0] = 0x45;
        put16(ip + 2, static_cast<uint16_t>(pkt.size()));
        put16(ip + 4, 0x4242);
        put16(ip + 6, 0x4000);  // DF
        ip[8] = 64;
        ip[9] = 6;
        std::memcpy(ip + 12, s.src.b, 4);
        std::memcpy(ip + 16, s.dst.b, 4);
        put16(ip + 10, inet_checksum(ip, 20));
    } else {
        ip[0] = 0x60;
        put16(ip + 4, static_cast<uint16_t>(tcp_len));
        ip[6] = 6;
        ip[7] = 64;
        std::memcpy(ip + 8, s.src.b, 16);
        std::memcpy(ip + 24, s.dst.b, 16);
    }
    uint8_t* t = ip + ip_len;
    put16(t, s.sport);
    put16(t + 2, s.dport);
    put32(t + 4, s.seq);
    put32(t + 8, s.ack);
    t[12] = static_cast<uint8_t>(((20 + opt_bytes.size()) / 4) << 4);
    t[13] = s.flags;
    put16(t + 14, s.win);
    put16(t + 18, s.urp);
    if (!opt_bytes.empty()) std::memcpy(t + 20, opt_bytes.data(), opt_bytes.size());
    if (!s.payload.empty()) std::memcpy(t + 20 + opt_bytes.size(), s.payload.data(), s.payload.size());
    uint16_t ck = inet_checksum(t, tcp_len, pseudo_sum(s.src, s.dst, tcp_len));
    if (bad_csum) ck = static_cast<uint16_t>(ck ^ 0x5a5a);
    put16(t + 16, ck);
    return pkt;
}

std::optional<wire_seg> parse_packet(const std::vector<uint8_t>& pkt, std::string& why) {
    wire_seg s;
    if (pkt.empty()) {
        why = "empty packet";
        return std::nullopt;
    }
    size_t ip_len = 0, total = 0;
    int ver = pkt[0] >> 4;
    if (ver == 4) {
        if (pkt.size() < 20 || (pkt[0] & 0x0f) < 5) {
            why = "IPv4 header too short";
            return std::nullopt;
        }
        ip_len = (pkt[0] & 0x0f) * 4u;
        total = get16(&pkt[2]);
        if (pkt.size() < ip_len || total != pkt.size()) {
            why = "IPv4 total length " + std::to_string(total) + " != packet length " + std::to_string(pkt.size());
            return std::nullopt;
        }
        if (inet_checksum(pkt.data(), ip_len) != 0) {
            why = "bad IPv4 header checksum";
            return std::nullopt;
        }
        if (pkt[9] != 6) {
            why = "IPv4 protocol " + std::to_string(pkt[9]) + " is not TCP";
            return std::nullopt;
        }
        if (pkt[8] == 0) {
            why = "IPv4 TTL 0";
            return std::nullopt;
        }
        if ((get16(&pkt[6]) & 0x3fff) != 0) {
            why = "IPv4 fragment emitted";
            return std::nullopt;
        }
        s.src.family = s.dst.family = 4;
        std::memcpy(s.src.b, &pkt[12], 4);
        std::memcpy(s.dst.b, &pkt[16], 4);
    } else if (ver == 6) {
        if (pkt.size() < 40) {
            why = "IPv6 header too short";
            return std::nullopt;
        }
        ip_len = 40;
        total = 40u + get16(&pkt[4]);
        if (total != pkt.size()) {
            why = "IPv6 payload length " + std::to_string(total - 40) + " != packet length - 40 (" +
                  std::to_string(pkt.size() - 40) + ")";
            return std::nullopt;
        }
        if (pkt[6] != 6) {
            why = "IPv6 next header " + std::to_string(pkt[6]) + " is not TCP";
            return std::nullopt;
        }
        if (pkt[7] == 0) {
            why = "IPv6 hop limit 0";
            return std::nullopt;
        }
        s.src.family = s.dst.family = 6;
        std::memcpy(s.src.b, &pkt[8], 16);
        std::memcpy(s.dst.b, &pkt[24], 16);
    } else {
        why = "IP version " + std::to_string(ver);
        return std::nullopt;
    }
    size_t tcp_len = total - ip_len;
    const uint8_t* t = pkt.data() + ip_len;
    if (tcp_len < 20) {
        why = "TCP header truncated";
        return std::nullopt;
    }
    size_t doff = (t[12] >> 4) * 4u;
    if (doff < 20 || doff > tcp_len) {
        why = "bad TCP data offset " + std::to_string(doff);
        return std::nullopt;
    }
    if (inet_checksum(t, tcp_len, pseudo_sum(s.src, s.dst, tcp_len)) != 0) {
        why = "bad TCP checksum";
        return std::nullopt;
    }
    if (t[12] & 0x0f) {
        why = "reserved TCP header bits set";
        return std::nullopt;
    }
    s.sport = get16(t);
    s.dport = get16(t + 2);
    s.seq = get32(t + 4);
    s.ack = get32(t + 8);
    s.flags = t[13];
    s.win = get16(t + 14);
    s.urp = get16(t + 18);
    if (!parse_tcp_options(t + 20, doff - 20, s.opts, why)) return std::nullopt;
    s.payload.assign(t + doff, t + tcp_len);
    return s;
}

}  // namespace meshgate::test::tcp
