#!/usr/bin/python3
"""Peers for the L4 lab tests (tests/integration/l4_*_test.sh); each runs inside a namespace.

  l4_peer.py http ADDR PORT NAME [LOG]
      HTTP/1.0 server bound to ADDR only (one connection per request).
      GET /          -> "NAME ADDR PEER_ADDR PEER_PORT\\n": who answered and whom it saw; no
                        Content-Length, so the server closes first and the client's port is
                        free again at once (no TIME_WAIT on the client: curl --local-port)
      GET /bytes/N   -> N bytes (a large download; the client may --limit-rate it)
      POST /         -> "NAME got N\\n" after reading the N-byte body
      With LOG, one line "METHOD PATH PEER_ADDR PEER_PORT" per request is appended to it.
  l4_peer.py udp-echo ADDR PORT NAME
      Answers every datagram with "NAME PEER_ADDR PEER_PORT".
  l4_peer.py udp-ask ADDR PORT [SPORT]
      Sends one datagram (from SPORT if given), prints the answer; exit 1 without one (3 tries).
  l4_peer.py icmp-sniff 4|6 SECONDS
      Prints the source address of every ICMP/ICMPv6 echo request received for SECONDS.

Only the standard library: runs with Debian's /usr/bin/python3.
"""
import http.server
import select
import socket
import socketserver
import sys
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve_http(addr, port, name, log_path):
    log = open(log_path, "a", buffering=1) if log_path else None

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *args):  # quiet: the access log is LOG
            pass

        def note(self):
            if log:
                log.write(f"{self.command} {self.path} {self.client_address[0]} {self.client_address[1]}\n")

        def reply(self, body, length=True):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            if length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.note()
            if self.path.startswith("/bytes/"):
                try:
                    n = int(self.path[len("/bytes/"):])
                except ValueError:
                    self.send_error(400)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(n))
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    while n > 0:
                        k = min(n, len(chunk))
                        self.wfile.write(chunk[:k])
                        n -= k
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            peer = self.client_address
            self.reply(f"{name} {addr} {peer[0]} {peer[1]}\n".encode(), length=False)

        def do_POST(self):
            self.note()
            n = int(self.headers.get("Content-Length", "0"))
            got = 0
            while got < n:
                b = self.rfile.read(min(65536, n - got))
                if not b:
                    break
                got += len(b)
            self.reply(f"{name} got {got}\n".encode())

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 128
        address_family = family_of(addr)

    Server((addr, port), Handler).serve_forever()


def udp_echo(addr, port, name):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        _, peer = s.recvfrom(2048)
        s.sendto(f"{name} {peer[0]} {peer[1]}".encode(), peer)


def udp_ask(addr, port, sport):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sport:
        s.bind(("::" if ":" in addr else "0.0.0.0", sport))
    s.settimeout(1.0)
    for _ in range(3):
        s.sendto(b"hello", (addr, port))
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            continue
        print(data.decode())
        return 0
    print("no answer", file=sys.stderr)
    return 1


def icmp_sniff(fam, seconds):
    if fam == "4":
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    else:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    print("listening", flush=True)
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return 0
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        data, peer = s.recvfrom(4096)
        if fam == "4":
            ihl = (data[0] & 0x0F) * 4  # IPv4 raw sockets deliver the IP header
            if len(data) > ihl and data[ihl] == 8:
                print(peer[0], flush=True)
        elif data and data[0] == 128:  # IPv6 raw sockets deliver the ICMPv6 message only
            print(peer[0], flush=True)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "http":
        serve_http(argv[2], int(argv[3]), argv[4], argv[5] if len(argv) > 5 else None)
    elif cmd == "udp-echo":
        udp_echo(argv[2], int(argv[3]), argv[4])
    elif cmd == "udp-ask":
        return udp_ask(argv[2], int(argv[3]), int(argv[4]) if len(argv) > 4 else 0)
    elif cmd == "icmp-sniff":
        return icmp_sniff(argv[2], float(argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
