#!/usr/bin/python3
"""HTTP backend for the tcp-proxy lab test (tests/integration/tcp_proxy_test.sh); runs inside a
namespace.

  tcp_peer.py http ADDR PORT NAME DIR [LOG]
      HTTP/1.0 server bound to ADDR only; every connection carries one request and is closed by
      the server after the answer (so every request is a new TCP connection through the VIP).
      GET /id           -> "NAME ADDR PEER_ADDR PEER_PORT\\n": who answered and whom it saw (the
                           gateway's address for full-nat and tcp-proxy)
      GET /files/FILE   -> the bytes of DIR/FILE (sendfile), with Content-Length
      PUT or POST /upload
                        -> "NAME got N sha256 HEX\\n" after reading the N-byte body (Content-Length)
                           and hashing it; nothing is stored
      With LOG, one line "METHOD PATH PEER_ADDR PEER_PORT STATUS BYTES" per request is appended.

Only the standard library: runs with Debian's /usr/bin/python3.
"""
import hashlib
import http.server
import os
import socket
import socketserver
import sys


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve_http(addr, port, name, directory, log_path):
    log = open(log_path, "a", buffering=1) if log_path else None

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        timeout = 120  # a stalled client cannot hold a thread forever

        def log_message(self, fmt, *args):  # quiet: the access log is LOG
            pass

        def note(self, status, nbytes):
            if log:
                peer = self.client_address
                log.write(f"{self.command} {self.path} {peer[0]} {peer[1]} {status} {nbytes}\n")

        def reply(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.note(status, len(body))

        def do_GET(self):
            if self.path == "/id":
                peer = self.client_address
                self.reply(200, f"{name} {addr} {peer[0]} {peer[1]}\n".encode())
                return
            if self.path.startswith("/files/"):
                fname = os.path.basename(self.path[len("/files/"):])
                path = os.path.join(directory, fname)
                try:
                    f = open(path, "rb")
                except OSError:
                    self.reply(404, b"no such file\n")
                    return
                with f:
                    size = os.fstat(f.fileno()).st_size
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(size))
                    self.end_headers()
                    sent = 0
                    try:
                        sent = self.connection.sendfile(f)
                    except (BrokenPipeError, ConnectionResetError, socket.timeout):
                        pass
                    self.note(200, sent)
                return
            self.reply(404, b"not found\n")

        def do_PUT(self):
            if self.path != "/upload":
                self.reply(404, b"not found\n")
                return
            n = int(self.headers.get("Content-Length", "0"))
            h = hashlib.sha256()
            got = 0
            while got < n:
                b = self.rfile.read(min(1 << 20, n - got))
                if not b:
                    break
                h.update(b)
                got += len(b)
            self.reply(200, f"{name} got {got} sha256 {h.hexdigest()}\n".encode())

        do_POST = do_PUT

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 256
        address_family = family_of(addr)

    Server((addr, port), Handler).serve_forever()


def main(argv):
    if len(argv) < 6 or argv[1] != "http":
        print(__doc__, file=sys.stderr)
        return 2
    serve_http(argv[2], int(argv[3]), argv[4], argv[5], argv[6] if len(argv) > 6 else None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
