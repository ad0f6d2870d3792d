// Writes the seed corpus (one frame per file) from the packet builder: every protocol the parser
// knows, plus edge cases. Run once: make_seeds DIR; the files are committed.
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/support/packet_builder.hpp"

using namespace meshgate::test;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds DIR\n");
        return 1;
    }
    std::string dir = argv[1];
    const mac gw = mac_of("02:00:00:00:00:01"), host = mac_of("02:00:00:00:01:02");
    int n = 0;
    // Pipeline seeds lead with a port byte and a clock byte; parse seeds are the bare frame.
    auto write = [&](const std::string& name, const bytes& frame) {
        std::ofstream(dir + "/" + name, std::ios::binary)
            .write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
        ++n;
    };
    ipv4_opts tcp;
    tcp.proto = 6;
    ipv4_opts icmp;
    icmp.proto = 1;
    ipv4_opts ttl1;
    ttl1.ttl = 1;
    ipv4_opts df;
    df.df = true;
    ipv4_opts sctp;
    sctp.proto = 132;
    ipv6_opts i6;
    i6.next_header = 58;
    i6.hop_limit = 255;
    std::vector<std::pair<std::string, bytes>> frames = {
        {"ipv4_udp", ether(gw, host, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", udp4(1, 2, pattern(20))))},
        {"ipv4_tcp", ether(gw, host, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", tcp_segment(1, 80, 2), tcp))},
        {"ipv4_sctp", ether(gw, host, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", pattern(28), sctp))},
        {"ipv4_echo_gw",
         ether(gw, host, 0x0800, ipv4_packet("198.18.1.2", "198.18.1.1", icmp4_echo(8, 1, 1, pattern(8)), icmp))},
        {"ipv4_ttl1", ether(gw, host, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.2", udp4(1, 2, pattern(8)), ttl1))},
        {"ipv4_big_df",
         ether(gw, host, 0x0800, ipv4_packet("198.18.1.2", "198.18.3.2", udp4(1, 2, pattern(1400)), df))},
        {"ipv4_big", ether(gw, host, 0x0800, ipv4_packet("198.18.1.2", "198.18.3.2", udp4(1, 2, pattern(1400))))},
        {"ipv4_vlan", ether(gw, host, 0x0800, ipv4_packet("198.18.7.2", "198.18.1.2", udp4(1, 2, {})), 7)},
        {"ipv4_no_route", ether(gw, host, 0x0800, ipv4_packet("198.18.1.2", "198.18.50.1", udp4(1, 2, {})))},
        {"ipv4_unresolved", ether(gw, host, 0x0800, ipv4_packet("198.18.1.2", "198.18.2.77", udp4(1, 2, {})))},
        {"arp_request",
         ether(mac_of("ff:ff:ff:ff:ff:ff"), host, 0x0806, arp_packet(1, host, "198.18.1.2", mac{}, "198.18.1.1"))},
        {"arp_reply", ether(gw, host, 0x0806, arp_packet(2, host, "198.18.1.9", gw, "198.18.1.1"))},
        {"ipv6_udp", ether(gw, host, 0x86dd,
                           ipv6_packet("fd00:1::2", "fd00:2::2", udp6("fd00:1::2", "fd00:2::2", 1, 2, pattern(20))))},
        {"ipv6_echo_gw", ether(gw, host, 0x86dd,
                               ipv6_packet("fd00:1::2", "fd00:1::1",
                                           icmp6_message("fd00:1::2", "fd00:1::1", 128, 0, pattern(12)), i6))},
        {"ipv6_ns", ether(mac_of("33:33:ff:00:00:01"), host, 0x86dd,
                          ipv6_packet("fd00:1::2", "ff02::1:ff00:1",
                                      icmp6_message("fd00:1::2", "ff02::1:ff00:1", 135, 0,
                                                    [] {
                                                        bytes b = {0, 0, 0, 0};
                                                        auto t = v6("fd00:1::1");
                                                        b.insert(b.end(), t.begin(), t.end());
                                                        bytes o = {1, 1, 2, 0, 0, 0, 1, 2};
                                                        b.insert(b.end(), o.begin(), o.end());
                                                        return b;
                                                    }()),
                                      i6))},
        {"ipv6_big", ether(gw, host, 0x86dd,
                           ipv6_packet("fd00:1::2", "fd00:3::2", udp6("fd00:1::2", "fd00:3::2", 1, 2, pattern(1400))))},
        {"ipv6_ext", ether(gw, host, 0x86dd,
                           [] {
                               bytes body = {60, 0, 1, 4, 0, 0, 0, 0, 44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0, 1, 0, 0, 0, 7};
                               auto u = udp6("fd00:1::2", "fd00:2::2", 1, 2, pattern(8));
                               body.insert(body.end(), u.begin(), u.end());
                               ipv6_opts o;
                               o.next_header = 0;
                               return ipv6_packet("fd00:1::2", "fd00:2::2", body, o);
                           }())},
    };
    std::string sub = dir;
    for (auto& [name, f] : frames) {
        if (sub.find("pipeline") != std::string::npos) {
            bytes g = {0, static_cast<uint8_t>(name == "ipv4_unresolved" ? 1 : 0)};
            g.insert(g.end(), f.begin(), f.end());
            write(name, g);
        } else {
            write(name, f);
        }
    }
    std::printf("make_seeds: %d files in %s\n", n, dir.c_str());
    return 0;
}
