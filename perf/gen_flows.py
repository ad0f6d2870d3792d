#!/usr/bin/python3
"""Write a pcap of small UDP packets, one per flow, half IPv4 and half IPv6, interleaved.

Standalone (no scapy): plain pcap format, LINKTYPE_ETHERNET, no FCS in the capture.

IPv4 frames are 60 bytes captured (64 on the wire with FCS). IPv6 + UDP needs at least
14 + 40 + 8 = 62 bytes, so IPv6 frames are 62 bytes captured (66 on the wire, the minimum).

Addressing matches perf/forwarding.sh's data-plane config:
  dst MAC 02:00:00:00:00:01 (the "in" interface), src MAC 02:00:00:00:00:10
  IPv4 src 198.18.0.0/24, dst spread over 198.19.128-131.1-254 (in 198.19.128.0/17), TTL 64
  IPv6 src fd00::/64,     dst spread over fd00:1000::/36,                hop limit 64

usage: gen_flows.py OUT.pcap [FLOWS]   (FLOWS even, default 1024)
"""
import socket
import struct
import sys

DST_MAC = bytes.fromhex("020000000001")
SRC_MAC = bytes.fromhex("020000000010")


def csum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def finish(s: int) -> int:
    c = ~s & 0xFFFF
    return c or 0xFFFF  # UDP: a computed 0 is sent as 0xffff


def ipv4_frame(i: int) -> bytes:
    src = bytes([198, 18, 0, 2 + i % 250])
    dst = bytes([198, 19, 128 + i % 4, 1 + (i // 4) % 254])  # 198.19.128-131.1-254
    payload = bytes(18)  # 14 + 20 + 8 + 18 = 60
    sport, dport = 1024 + i % 60000, 5000 + i % 7
    udp_len = 8 + len(payload)
    # IPv4 UDP checksum 0 = none (allowed).
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, i & 0xFFFF, 0x4000, 64, 17, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", ~csum16(hdr) & 0xFFFF) + hdr[12:]
    return DST_MAC + SRC_MAC + b"\x08\x00" + hdr + udp


def ipv6_frame(i: int) -> bytes:
    src = socket.inet_pton(socket.AF_INET6, "fd00::%x" % (i + 2))
    # fd00:1000::/36 = fd00:1000:0000:: .. fd00:1000:0fff:ffff:...: the third group below 0x1000.
    g3 = (i * 37) & 0x0FFF
    dst = socket.inet_pton(socket.AF_INET6, "fd00:1000:%x:%x::%x" % (g3, i, i + 1))
    sport, dport = 1024 + i % 60000, 5000 + i % 7
    udp_len = 8  # 14 + 40 + 8 = 62, no payload
    pseudo = src + dst + struct.pack("!IxxxB", udp_len, 17)
    udp0 = struct.pack("!HHHH", sport, dport, udp_len, 0)
    ck = finish(csum16(pseudo + udp0))
    udp = struct.pack("!HHHH", sport, dport, udp_len, ck)
    hdr = struct.pack("!IHBB16s16s", 6 << 28, udp_len, 17, 64, src, dst)
    return DST_MAC + SRC_MAC + b"\x86\xdd" + hdr + udp


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    flows = int(sys.argv[2]) if len(sys.argv) == 3 else 1024
    if flows < 2 or flows % 2:
        sys.exit("FLOWS must be an even number >= 2")
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(flows // 2):
            for frame in (ipv4_frame(i), ipv6_frame(i)):
                f.write(struct.pack("<IIII", 0, i, len(frame), len(frame)))
                f.write(frame)


if __name__ == "__main__":
    main()
