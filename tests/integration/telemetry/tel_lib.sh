# shellcheck shell=bash
# Helpers for the telemetry HTTP tests (prometheus_test.sh, dashboard_test.sh). Source after
# lib.sh and l4/l4_lib.sh:
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/l4/l4_lib.sh"
#   source "$(dirname "$0")/telemetry/tel_lib.sh"
#   tel_setup [tools...]     # lab + data plane on telemetry/telemetry_lab.json, /metrics answering
#
# telemetry_lab.json is the lab config with services (web4: b1 198.18.2.10 up, b2 198.18.2.11
# never answers; web6: b1-6 fd00:2::10), a firewall that allows everything, an SNAT pool for
# mg-srv1's hosts, a running tap on ICMP, and the HTTP endpoint. tel_setup writes the copy the
# data plane reads ($MG_TMP/config.json, as l4_lib.sh does) with a free port in
# telemetry.httpPort (TEL_PORT; the endpoint is TEL_URL) and the tap directory in $MG_TMP.

# shellcheck disable=SC2034 # read by the tests that source this file
TEL_DIR=$MG_ROOT/tests/integration/telemetry
TEL_PORT=""
TEL_URL=""

# tel_free_port: a TCP port free on 127.0.0.1 right now.
tel_free_port() {
  "$L4_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# tel_setup [tools...]: like l4_setup, on telemetry_lab.json; also needs curl.
tel_setup() {
  l4_setup ../telemetry/telemetry_lab.json curl "$@"
}

# lib.sh -> l4_lib.sh -> here: l4_lib's mg_start_dataplane copies L4_SRC_CONFIG; point it at a
# copy with the port and the tap directory filled in, then wait for the HTTP endpoint.
eval "tel_l4_start_dataplane() $(declare -f mg_start_dataplane | tail -n +2)"
mg_start_dataplane() {
  TEL_PORT=$(tel_free_port) || mg_die "no free TCP port"
  TEL_URL=http://127.0.0.1:$TEL_PORT
  mkdir -p "$MG_TMP/taps"
  "$L4_PY" - "$L4_SRC_CONFIG" "$MG_TMP/telemetry-lab.json" "$TEL_PORT" "$MG_TMP/taps" <<'EOF' || mg_die "cannot write the config"
import json, sys
src, dst, port, taps = sys.argv[1:5]
with open(src) as f:
    c = json.load(f)
c["telemetry"]["httpPort"] = int(port)
for t in c.get("taps", []):
    t["directory"] = taps
with open(dst, "w") as f:
    json.dump(c, f, indent=2)
EOF
  L4_SRC_CONFIG=$MG_TMP/telemetry-lab.json
  tel_l4_start_dataplane
  local _
  for _ in $(seq 50); do
    curl -sf --max-time 1 -o /dev/null "$TEL_URL/metrics" && { mg_say "telemetry endpoint $TEL_URL"; return 0; }
    sleep 0.2
  done
  mg_die "no answer from $TEL_URL/metrics within 10 s of start (telemetry.httpPort $TEL_PORT)"
}

# tel_metrics: the exposition text on stdout.
tel_metrics() { curl -sS --max-time 3 "$TEL_URL/metrics"; }

# tel_sum NAME [LABEL=VALUE...]: sum of NAME's samples in /metrics whose labels match (0 if none).
tel_sum() {
  tel_metrics | "$L4_PY" -c '
import re, sys
name, want = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
total = 0.0
for line in sys.stdin:
    m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
    if not m or m.group(1) != name:
        continue
    labels = dict(re.findall(r"(\w+)=\"((?:[^\"\\\\]|\\\\.)*)\"", m.group(3) or ""))
    if all(labels.get(k) == v for k, v in want.items()):
        total += float(m.group(4))
print("%.15g" % total)' "$@"
}

# tel_kill PID...: stops background helpers (ping loads, prometheus) a test started.
tel_kill() {
  local p
  for p in "$@"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for p in "$@"; do [ -n "$p" ] && wait "$p" 2>/dev/null; done
  return 0
}
