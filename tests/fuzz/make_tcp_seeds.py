#!/usr/bin/env python3
"""Writes the seed corpus of the tcp fuzz target (tests/fuzz/tcp_fuzz.cpp): scripts of 8-byte
records that walk the TCP stack through its states. Run once: make_tcp_seeds.py DIR."""
import os
import sys

SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08


def seg(flags, seq=64, ack=128, wnd=0xFFFF, plen=0, opt=0, v6=False, port=None):
    f = flags | (0x40 if v6 else 0) | (0x80 if port is not None else 0)
    w = wnd if port is None else ((wnd & 0xFF00) | (port & 0xFF))
    return bytes([0, f, seq, ack, w >> 8, w & 0xFF, plen, opt])


def clock(n, seconds=False):
    return bytes([1, n, 1 if seconds else 0, 0, 0, 0, 0, 0])


def app(op, arg=0):
    return bytes([op, arg, 0, 0, 0, 0, 0, 0])


SEND, RECV, SHUT, CLOSE, ABORT, CONNECT, LISTEN = 2, 3, 4, 5, 6, 7, 9


def passive(v6=False, opt=1):
    return seg(SYN, opt=opt, v6=v6) + seg(ACK, opt=2 if opt == 1 else 0, v6=v6)


def seeds():
    s = {}
    s["passive_data_close"] = passive() + seg(ACK | PSH, plen=50, opt=2) + clock(10) + app(RECV) + \
        seg(ACK | FIN, opt=2) + app(SEND, 3) + app(CLOSE) + seg(ACK, opt=2) + clock(5, True)
    s["passive_v6"] = passive(v6=True) + seg(ACK | PSH, plen=100, v6=True) + seg(FIN | ACK, v6=True) + app(SHUT) + \
        seg(ACK, v6=True)
    s["no_options"] = passive(opt=0) + seg(ACK, plen=200) + app(SEND, 40) + seg(ACK, ack=128) + clock(50)
    s["active_open"] = app(CONNECT) + seg(SYN | ACK, opt=1) + app(SEND, 20) + seg(ACK, opt=2) + \
        app(SHUT) + seg(ACK | FIN, opt=2) + clock(3, True)
    s["active_refused"] = app(CONNECT) + seg(RST | ACK)
    s["simultaneous_open"] = app(CONNECT) + seg(SYN, opt=1) + seg(SYN | ACK, opt=1) + seg(ACK)
    s["syn_retries"] = app(CONNECT) + clock(1, True) + clock(2, True) + clock(4, True) + clock(8, True) + \
        clock(16, True) + clock(32, True) + clock(64, True)
    s["out_of_order"] = passive() + seg(ACK, seq=74, plen=100, opt=2) + seg(ACK, seq=84, plen=50, opt=2) + \
        seg(ACK, seq=64, plen=125, opt=2) + app(RECV)
    s["duplicates"] = passive() + seg(ACK, plen=100) + seg(ACK, seq=63, plen=100) + seg(ACK, seq=60, plen=50)
    s["rst_exact"] = passive() + seg(RST)
    s["rst_in_window"] = passive() + seg(RST, seq=65) + seg(RST, seq=200)
    s["syn_in_established"] = passive() + seg(SYN, seq=70)
    s["ack_too_far"] = passive() + seg(ACK, ack=200) + seg(ACK, ack=0)
    s["retransmit_backoff"] = passive() + app(SEND, 100) + clock(60) + clock(1, True) + clock(3, True) + \
        seg(ACK, ack=120) + seg(ACK, ack=120) + seg(ACK, ack=120) + seg(ACK, ack=120, opt=3)
    s["zero_window"] = passive(opt=0) + seg(ACK, wnd=0) + app(SEND, 20) + clock(1, True) + clock(2, True) + \
        seg(ACK, wnd=0x2000) + clock(20)
    s["sack_recovery"] = passive() + app(SEND, 200) + seg(ACK, ack=0, opt=3) + seg(ACK, ack=0, opt=3) + \
        seg(ACK, ack=0, opt=3) + seg(ACK, ack=0, opt=3) + seg(ACK, ack=100) + clock(100)
    s["keepalive"] = passive() + clock(40, True) + clock(6, True) + clock(6, True) + clock(6, True)
    s["time_wait_reopen"] = passive() + app(CLOSE) + seg(ACK | FIN) + clock(1) + seg(SYN, seq=90, opt=1)
    s["close_with_unread"] = passive() + seg(ACK, plen=250) + app(CLOSE)
    s["paws"] = passive() + seg(ACK, plen=10, opt=6) + seg(ACK, plen=10, opt=2)
    s["tiny_mss"] = seg(SYN, opt=4) + seg(ACK) + app(SEND, 10)
    flood = b"".join(seg(SYN, opt=1, port=p) for p in range(6))
    s["syn_cookies"] = flood + seg(ACK, port=5) + seg(ACK, port=4, ack=130)
    # A cookie-completing ACK that carries data: the mbuf goes to the new connection.
    s["syn_cookie_ack_with_data"] = flood + seg(ACK | PSH, port=5, plen=40) + app(RECV) + seg(ACK | FIN, port=5)
    s["unlisten"] = seg(SYN, opt=1) + app(LISTEN) + seg(ACK) + app(LISTEN) + passive()
    s["fin_wait_2_timeout"] = passive() + app(CLOSE) + seg(ACK) + clock(10, True)
    s["closing"] = passive() + app(SHUT) + seg(FIN | ACK, ack=127) + seg(ACK)
    s["raw_options"] = passive() + bytes([8, 24, 0, 0, 0, 0, 0, 0]) + bytes(
        [0x9C, 0x40, 0, 80, 0, 0, 0x03, 0xE9, 0, 0, 0, 0, 0x60, 0x10, 0xFF, 0xFF, 0, 0, 0, 0, 2, 2, 0, 0])
    return s


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_tcp_seeds.py DIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)
    print(f"{len(seeds())} seeds")


if __name__ == "__main__":
    main()
