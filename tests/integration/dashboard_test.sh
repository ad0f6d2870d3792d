#!/usr/bin/env bash
# The live dashboard as a person sees it: headless Chromium (Debian's) loads it from the data
# plane's telemetry port while a bounded load crosses the gateway. A screenshot must be a real
# picture; over the DevTools protocol (telemetry/dashboard_cdp.py, python3-websocket) the page's
# numbers are read twice in real time: packets/s above zero under load, the polls counted, the
# counters moving, services/drops/config shown, and every request the page made went to the data
# plane itself (Chart.js included), with no script error and no CSP violation.
#
# Why not --dump-dom --virtual-time-budget: under virtual time the page's setTimeout polling and
# fetch() do run (the budget's clock pauses while a fetch is pending), but performance.now() and
# Date.now() are virtual too, so rates come out over virtual seconds, not real ones. The
# screenshot uses it only so that the picture shows a few polls' worth of data.
#
# Config: tests/integration/telemetry/telemetry_lab.json (see telemetry/tel_lib.sh).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"
# shellcheck source=tests/integration/telemetry/tel_lib.sh
source "$(dirname "$0")/telemetry/tel_lib.sh"

CHROMIUM=${CHROMIUM:-chromium}
"${L4_PY:-/usr/bin/python3}" -c 'import websocket' 2>/dev/null ||
  mg_skip "missing python3-websocket (run deploy/install-deps.sh)"
tel_setup "$CHROMIUM"

LOAD_PIDS=()
CDP_PID_FILE=""
# shellcheck disable=SC2317 # run by the EXIT trap
dash_exit() {
  local rc=$?
  tel_kill "${LOAD_PIDS[@]}"
  # dashboard_cdp.py kills its Chromium itself; this catches one left by a killed script.
  if [ -n "$CDP_PID_FILE" ] && [ -s "$CDP_PID_FILE" ]; then
    kill -KILL -- "-$(cat "$CDP_PID_FILE")" 2>/dev/null
  fi
  (exit "$rc")
  l4_exit
}
trap dash_exit EXIT

# chromium_cli ARGS...: one headless Chromium run with a fresh profile (bounded by timeout; its
# process group, which timeout(1) made, is gone afterwards).
chromium_cli() {
  local profile
  profile=$(mktemp -d "$MG_TMP/chromium.XXXXXX")
  timeout -k 5 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --no-default-browser-check \
    --user-data-dir="$profile" "$@" 2>>"$MG_TMP/chromium.log" </dev/null 9>&-
  local rc=$?
  rm -rf "$profile"
  return $rc
}

echo "== backends and a little history (drops: 5 TTL-1 pings)"
l4_backend mg-srv1 198.18.2.10 b1
l4_backend mg-srv1 fd00:2::10 b1-6
l4_warm mg-client 198.18.2.2 fd00:2::2 198.18.50.1
check_ping mg-client 198.18.2.2 "warm-up v4"
nsx mg-client ping -c 5 -i 0.05 -W 1 -q -t 1 198.18.2.2 >/dev/null

echo "== the page and its assets over HTTP"
check "GET / is the dashboard page" bash -c "curl -sf --max-time 3 '$TEL_URL/' | grep -q 'meshgate dashboard'"
check "GET /dashboard is the same page" bash -c "cmp <(curl -sf --max-time 3 '$TEL_URL/') <(curl -sf --max-time 3 '$TEL_URL/dashboard')"
for a in /assets/app.js /assets/style.css /assets/chart.umd.min.js; do
  ct=$(curl -sf --max-time 3 -o /dev/null -w '%{content_type}' "$TEL_URL$a")
  check "GET $a served ($ct)" test -n "$ct"
done
check "Chart.js served is the embedded npm build" bash -c "curl -sf --max-time 3 '$TEL_URL/assets/chart.umd.min.js' | head -c 300 | grep -q 'Chart.js v4'"

echo "== screenshot (chromium --screenshot)"
shot=$MG_TMP/dash.png
chromium_cli --screenshot="$shot" --window-size=1400,1000 --virtual-time-budget=5000 "$TEL_URL/"
check "screenshot is a 1400x1000 PNG of some size" "$L4_PY" - "$shot" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
print(f"{w}x{h}, {len(data)} bytes")
assert (w, h) == (1400, 1000), (w, h)
assert len(data) > 30000, "suspiciously small (blank page?)"
EOF

echo "== live page over DevTools while a bounded load runs (pings 100/s for 20 s, GETs to web4)"
nsx mg-client ping -i 0.01 -w 20 -q 198.18.2.2 >/dev/null 2>&1 </dev/null 9>&- &
LOAD_PIDS+=($!)
(for _ in $(seq 60); do
  nsx mg-client curl -s --max-time 1 -o /dev/null "$(l4_url 198.18.50.1 80 /)"
  sleep 0.25
done) >/dev/null 2>&1 </dev/null 9>&- &
LOAD_PIDS+=($!)
sleep 1
CDP_PID_FILE=$MG_TMP/cdp-chromium.pid
out=$MG_TMP/dashboard-cdp.json
timeout -k 5 90 "$L4_PY" "$TEL_DIR/dashboard_cdp.py" "$TEL_URL/" "$out" --reads 2 --interval 3 \
  --min-samples 3 --screenshot "$MG_TMP/dash-live.png" --pid-file "$CDP_PID_FILE" \
  --chromium "$(command -v "$CHROMIUM")" </dev/null 9>&-
rc=$?
tel_kill "${LOAD_PIDS[@]}"
LOAD_PIDS=()
[ -s "$out" ] || mg_die "dashboard_cdp.py wrote nothing (exit $rc)"
check "DevTools session completed" "$L4_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("error","")); sys.exit("error" in d)' "$out"

# page_check "what" PY-EXPR: EXPR over the reads (a, b: first and second read; d: everything).
page_check() {
  check "$1" "$L4_PY" - "$out" "$2" "$TEL_URL" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
a, b = (d["reads"] + [{}, {}])[:2]
url = sys.argv[3]
v = lambda r, k: (r.get("ids", {}).get(k) or {}).get("value")
t = lambda r, k: (r.get("ids", {}).get(k) or {}).get("text")
ok = eval(sys.argv[2])
print("rx-pps %s/%s, samples %s/%s, rx total %s/%s, reads %d" % (
    t(a, "rx-pps"), t(b, "rx-pps"), a.get("samples"), b.get("samples"),
    v(a, "rx-packets-total"), v(b, "rx-packets-total"), len(d["reads"])))
sys.exit(0 if ok else 1)
EOF
}
page_check "page polled /metrics (data-samples >= 2, live, no failed poll)" \
  'a["samples"] >= 2 and b["samples"] > a["samples"] and b["state"] == "live" and b["errors"] == 0'
page_check "rx-pps > 0 under load in both reads" 'v(a, "rx-pps") > 0 and v(b, "rx-pps") > 0'
page_check "tx-pps > 0 and rx-bps > 0 under load" 'v(b, "tx-pps") > 0 and v(b, "rx-bps") > 0'
page_check "client row shows rx packets/s > 0" 'b["interfaces"]["client"]["rx-pps"] > 0'
page_check "counters move between the reads" \
  'v(b, "rx-packets-total") > v(a, "rx-packets-total") and v(b, "tx-packets-total") > v(a, "tx-packets-total") and t(b, "last-update") != t(a, "last-update")'
page_check "drops table shows the 5 TTL-1 pings" 'b["drops"]["ttl_exceeded"]["total"] >= 5 and v(b, "drops-total") >= 5'
page_check "config generation 1, sessions and backends shown" \
  'v(b, "config-generation") == 1 and v(b, "sessions-active") is not None and v(b, "backends-up") == 2 and v(b, "backends-total") == 3'
page_check "backend b2 shown down, b1 up with connections" \
  'any(k.startswith("web4/198.18.2.11") and r["state"] == 0 for k, r in b["backends"].items()) and any(k.startswith("web4/198.18.2.10") and r["state"] == 1 and r["connections"] > 0 for k, r in b["backends"].items())'
page_check "SNAT pool capacity shown" 'v(b, "snat-capacity") > 0 and v(b, "snat-in-use") is not None'
page_check "the running ICMP tap shown" 'v(b, "taps-running") == 1'
page_check "charts drawn with Chart.js from the data plane" \
  'b["chartjs"].startswith("4.") and len(b["charts"]["chart-pps"]) >= 2 and min(x["points"] for x in b["charts"]["chart-pps"]) >= 2'
page_check "every request went to the data plane; Chart.js, app.js, style.css and /metrics answered 200" \
  'all(u.startswith(url + "/") for u in d["requests"]) and all(d["responses"].get(url + p) == 200 for p in ("/", "/assets/chart.umd.min.js", "/assets/app.js", "/assets/style.css", "/metrics")) and not d["failed"]'
page_check "no script error, console error or CSP violation" \
  'not d["exceptions"] and not d["console_errors"] and b["csp_violations"] == 0'
if [ "$MG_FAILED" -gt 0 ]; then
  echo "---- DevTools reads ($out) ----"
  "$L4_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d, indent=1)[:6000])' "$out" | mg_indent
fi

mg_finish
