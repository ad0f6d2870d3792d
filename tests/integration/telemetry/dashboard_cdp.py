#!/usr/bin/python3
"""Loads the live dashboard in headless Chromium and reads its DOM over the DevTools protocol.

    dashboard_cdp.py URL OUT.json [--reads N] [--interval S] [--min-samples N] [--timeout S]
                     [--screenshot PNG] [--window-size W,H] [--pid-file FILE]
                     [--chromium PATH]

Starts its own Chromium (a fresh profile in a temporary directory, DevTools on a free loopback
port), opens URL, waits until the page has parsed --min-samples polls of /metrics, then reads
the page's key numbers --reads times, --interval seconds apart, in real time (no virtual time:
the page's one-second polling runs as it would for a person). Writes OUT.json:

    {"reads": [{"samples": .., "state": .., "ids": {"rx-pps": {"text":.., "value":..}, ..},
                "interfaces": {name: {field: value}}, ...}, ...],
     "requests": [url, ...], "responses": {url: status}, "failed": [url, ...],
     "console_errors": [...], "exceptions": [...]}

Chromium is killed (its whole process group) on exit, also on SIGTERM. Needs python3-websocket.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # python3-websocket (websocket-client)

IDS = ["rx-pps", "tx-pps", "rx-bps", "tx-bps", "drops-ps", "sessions-active", "sessions-new-ps",
       "backends-up", "backends-total", "snat-in-use", "snat-capacity", "taps-running", "config-generation",
       "config-last-reload", "rx-packets-total", "tx-packets-total", "drops-total", "last-update",
       "build-version", "uptime", "workers"]

READ_JS = """(() => {
  const ids = %s;
  const out = {samples: Number(document.body.dataset.samples), errors: Number(document.body.dataset.errors),
               state: document.body.dataset.state, chartjs: document.body.dataset.chartjs,
               csp_violations: Number(document.body.dataset.cspViolations || 0), ids: {}, interfaces: {},
               drops: {}, backends: {}, charts: {}};
  for (const id of ids) {
    const e = document.getElementById(id);
    out.ids[id] = e ? {text: e.textContent, value: e.dataset.value === '' ? null : Number(e.dataset.value)} : null;
  }
  const rows = (sel, key) => {
    const m = {};
    for (const tr of document.querySelectorAll(sel)) {
      const r = {};
      for (const td of tr.querySelectorAll('td[data-field]'))
        r[td.dataset.field] = td.dataset.value !== undefined ? Number(td.dataset.value) : td.textContent;
      m[key(tr)] = r;
    }
    return m;
  };
  out.interfaces = rows('#interfaces-table tr[data-interface]', (tr) => tr.dataset.interface);
  out.drops = rows('#drops-table tr[data-reason]', (tr) => tr.dataset.reason);
  out.backends = rows('#services-table tr[data-backend]', (tr) => tr.dataset.service + '/' + tr.dataset.backend);
  if (typeof Chart !== 'undefined')
    for (const c of document.querySelectorAll('canvas')) {
      const ch = Chart.getChart(c);
      out.charts[c.id] = ch ? ch.data.datasets.map((d) => ({label: d.label, points: d.data.length})) : null;
    }
  return JSON.stringify(out);
})()""" % json.dumps(IDS)


class Cdp:
    def __init__(self, ws_url, log):
        self.ws = websocket.create_connection(ws_url, timeout=10, suppress_origin=True)
        self.next_id = 0
        self.log = log

    def call(self, method, timeout=15, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(deadline - time.monotonic())
            if msg is not None and msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
        raise TimeoutError(method)

    def recv(self, timeout):
        self.ws.settimeout(max(0.05, timeout))
        try:
            msg = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        if "method" in msg:
            self.log(msg)
        return msg

    def pump(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.recv(deadline - time.monotonic())

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate: {r['exceptionDetails']}")
        return r["result"].get("value")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--reads", type=int, default=2)
    ap.add_argument("--interval", type=float, default=3.0)
    ap.add_argument("--min-samples", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--screenshot", default=None)
    ap.add_argument("--pid-file", default=None)
    ap.add_argument("--window-size", default="1400,1000")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args()

    profile = tempfile.mkdtemp(prefix="meshgate-cdp-")
    cmd = [args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-extensions", "--disable-default-apps", "--mute-audio",
           "--disable-features=MediaRouter,OptimizationHints,Translate",
           f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
           f"--window-size={args.window_size}", "about:blank"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(profile, "chromium.log"), "w"), start_new_session=True)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(f"{proc.pid}\n")

    def kill_chromium(*_):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)

    def on_term(*_):
        kill_chromium()
        sys.exit(143)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    result = {"reads": [], "requests": [], "responses": {}, "failed": [], "console_errors": [], "exceptions": []}

    def log(msg):
        m, p = msg["method"], msg.get("params", {})
        if m == "Network.requestWillBeSent":
            result["requests"].append(p["request"]["url"])
        elif m == "Network.responseReceived":
            result["responses"][p["response"]["url"]] = p["response"]["status"]
        elif m == "Network.loadingFailed":
            result["failed"].append(p.get("errorText", "?") + " " + str(p.get("requestId")))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            result["console_errors"].append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            result["exceptions"].append(d.get("exception", {}).get("description") or d.get("text", "?"))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            result["console_errors"].append(p["entry"].get("text", "") + " " + p["entry"].get("url", ""))

    rc = 0
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + 20
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port: "
                                   + open(os.path.join(profile, "chromium.log")).read()[-2000:])
            time.sleep(0.1)
        port = int(open(port_file).read().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page = next(t for t in targets if t.get("type") == "page")
        cdp = Cdp(page["webSocketDebuggerUrl"], log)
        for domain in ("Network", "Page", "Runtime", "Log"):
            cdp.call(domain + ".enable")
        cdp.call("Page.navigate", url=args.url)

        deadline = time.monotonic() + args.timeout
        samples = 0
        while time.monotonic() < deadline:
            cdp.pump(0.5)
            try:
                samples = int(cdp.evaluate("Number(document.body && document.body.dataset.samples) || 0") or 0)
            except RuntimeError:
                samples = 0
            if samples >= args.min_samples:
                break
        result["samples_reached"] = samples
        for i in range(args.reads):
            if i:
                cdp.pump(args.interval)
            read = json.loads(cdp.evaluate(READ_JS))
            read["t"] = time.time()
            result["reads"].append(read)
        if args.screenshot:
            shot = cdp.call("Page.captureScreenshot", format="png")
            with open(args.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        cdp.pump(0.2)
    except Exception as e:  # noqa: BLE001 (reported in the JSON, the caller checks)
        result["error"] = f"{type(e).__name__}: {e}"
        rc = 1
    finally:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
        kill_chromium()
    return rc


if __name__ == "__main__":
    sys.exit(main())
