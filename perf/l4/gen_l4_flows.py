#!/usr/bin/python3
"""Write a pcap of established-flow TCP data segments from many clients to one IPv4 VIP.

Standalone (no scapy): plain pcap format, LINKTYPE_ETHERNET, no FCS in the capture.

One packet per flow, flows in order (so every packet of a replay hits a different session):
  dst MAC 02:00:00:00:00:01 (perf/l4.sh's "in" interface), src MAC 02:00:00:00:00:10
  IPv4 src 198.19.0.1 .. 198.19.255.254 (65534 client addresses, then the next source port),
       dst VIP (default 198.18.50.10), TTL 64, DF, correct header checksum
  TCP  sport 10000 + flow // 65534, dport (default 80), flags PSH|ACK, per-flow seq/ack,
       window 502, 6 bytes of payload, correct checksum
Every frame is 60 bytes captured (64 on the wire with FCS): 14 + 20 + 20 + 6.

With --syn-first the pcap starts with one SYN per flow (60 bytes: 54 + 6 bytes of Ethernet
padding), then the data segments; a replay loop then repeats the SYNs too.

usage: gen_l4_flows.py [--vip A.B.C.D] [--port N] [--syn-first] OUT.pcap FLOWS
"""
import argparse
import socket
import struct
import sys
import time

DST_MAC = bytes.fromhex("020000000001")
SRC_MAC = bytes.fromhex("020000000010")
ETH = DST_MAC + SRC_MAC + b"\x08\x00"
CLIENTS = 65534  # 198.19.0.1 .. 198.19.255.254
PAYLOAD = b"meshgt"
FLAG_SYN, FLAG_PSH_ACK = 0x02, 0x18


def fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("flows", type=int)
    ap.add_argument("--vip", default="198.18.50.10")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--syn-first", action="store_true")
    a = ap.parse_args()
    if not 1 <= a.flows <= CLIENTS * 50000:
        sys.exit("FLOWS must be in 1..%d" % (CLIENTS * 50000))
    vip = socket.inet_aton(a.vip)
    vip_sum = sum(struct.unpack("!HH", vip))
    t0 = time.monotonic()

    pack_ip = struct.Struct("!BBHHHBBH4s4s").pack
    pack_tcp = struct.Struct("!HHIIBBHHH").pack
    pack_rec = struct.Struct("<IIII").pack

    def frame(i: int, flags: int) -> bytes:
        host = 1 + i % CLIENTS
        src = bytes((198, 19, host >> 8, host & 0xFF))
        sport = 10000 + i // CLIENTS
        seq = (i * 2654435761 + 12345) & 0xFFFFFFFF
        ack = (seq ^ 0x5A5A5A5A) & 0xFFFFFFFF
        if flags == FLAG_SYN:
            seq, ack, payload, pad = (seq - 1) & 0xFFFFFFFF, 0, b"", b"\0" * 6
        else:
            payload, pad = PAYLOAD, b""
        tcp_len = 20 + len(payload)
        ip_len = 20 + tcp_len
        ip_id = i & 0xFFFF
        src_sum = (src[0] << 8 | src[1]) + (src[2] << 8 | src[3])
        # IPv4 header checksum over the 10 words (checksum field 0).
        s = (0x4500 + ip_len + ip_id + 0x4000 + (64 << 8 | 6) + src_sum + vip_sum)
        ip_ck = ~fold(s) & 0xFFFF
        ip = pack_ip(0x45, 0, ip_len, ip_id, 0x4000, 64, 6, ip_ck, src, vip)
        # TCP checksum: pseudo header + header (checksum 0) + payload.
        tcp0 = pack_tcp(sport, a.port, seq, ack, 5 << 4, flags, 502, 0, 0) + payload
        words = struct.unpack("!%dH" % (len(tcp0) // 2), tcp0)
        s = src_sum + vip_sum + 6 + tcp_len + sum(words)
        tcp_ck = ~fold(s) & 0xFFFF
        tcp = tcp0[:16] + struct.pack("!H", tcp_ck) + tcp0[18:]
        return ETH + ip + tcp + pad

    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        n = 0
        passes = (FLAG_SYN, FLAG_PSH_ACK) if a.syn_first else (FLAG_PSH_ACK,)
        for flags in passes:
            chunk = []
            for i in range(a.flows):
                fr = frame(i, flags)
                chunk.append(pack_rec(n // 1000000, n % 1000000, len(fr), len(fr)))
                chunk.append(fr)
                n += 1
                if len(chunk) >= 65536:
                    f.write(b"".join(chunk))
                    chunk.clear()
            f.write(b"".join(chunk))
    print("gen_l4_flows: %d flows, %d packets in %.1f s" % (a.flows, n, time.monotonic() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
