#!/usr/bin/env python3
"""A stand-in for the data plane's telemetry HTTP port, for working on the dashboard without a lab.

    fake_metrics_server.py [--port N] [--sample FILE] [--access-log FILE]

Serves GET /metrics from sample.metrics (beside this file) with every counter growing at its own
steady rate (gauges as they are), and the dashboard's source files the way the data plane maps
them (/, /dashboard, /assets/app.js, /assets/style.css, /assets/chart.umd.min.js from
telemetry/dashboard/node_modules). Binds 127.0.0.1; prints "listening on PORT" when ready.
"""
import argparse
import http.server
import re
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
DASH = HERE.parent.parent.parent / "telemetry" / "dashboard"

ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/dashboard": ("index.html", "text/html; charset=utf-8"),
    "/assets/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/assets/style.css": ("style.css", "text/css; charset=utf-8"),
    "/assets/chart.umd.min.js": ("node_modules/chart.js/dist/chart.umd.min.js", "text/javascript; charset=utf-8"),
}

LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)\s*$")


def load(sample):
    types, series = {}, []
    for line in Path(sample).read_text().splitlines():
        m = re.match(r"#\s*TYPE\s+(\S+)\s+(\S+)", line)
        if m:
            types[m.group(1)] = m.group(2)
        if not line.strip() or line.startswith("#"):
            series.append((line, None, None))
            continue
        m = LINE.match(line)
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        kind = types.get(name, "")
        if kind == "counter" or name.endswith("_total"):
            rate = zlib.crc32(line.encode()) % 200  # 0..199 per second, stable per series
            if value == 0:
                rate = 0  # counters at 0 in the sample stay there
        else:
            rate = 0
        series.append((name + labels, value, rate))
    return series


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--sample", default=str(HERE / "sample.metrics"))
    ap.add_argument("--access-log", default=None)
    args = ap.parse_args()
    series = load(args.sample)
    t0 = time.monotonic()
    log = open(args.access_log, "a", buffering=1) if args.access_log else None

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if log:
                log.write(f"GET {self.path}\n")
            if path == "/metrics":
                dt = time.monotonic() - t0
                out = []
                for text, value, rate in series:
                    if value is None:
                        out.append(text)
                    else:
                        v = int(value + rate * dt) if rate else (int(value) if value.is_integer() else value)
                        out.append(f"{text} {v}")
                body = ("\n".join(out) + "\n").encode()
                ctype = "text/plain; version=0.0.4; charset=utf-8"
            elif path in ASSETS:
                file, ctype = ASSETS[path]
                body = (DASH / file).read_bytes()
            else:
                body, ctype = b"not found\n", "text/plain"
                self.send_response(404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
