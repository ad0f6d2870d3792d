#!/usr/bin/env bash
# A real Prometheus (Debian's /usr/bin/prometheus) scrapes the data plane's /metrics every second
# while known traffic crosses the gateway: the counters it stores match what was sent (pings per
# family, TTL-1 pings as drop reason ttl_exceeded, connections through a VIP, a rejected and an
# applied reload), rate() is positive under load, and every PromQL expression of the Grafana
# dashboard (deploy/grafana/meshgate-dashboard.json) parses and returns data.
#
# Config: tests/integration/telemetry/telemetry_lab.json (see telemetry/tel_lib.sh). Prometheus
# listens on a free loopback port with its TSDB in $MG_TMP; it is stopped on exit.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"
# shellcheck source=tests/integration/telemetry/tel_lib.sh
source "$(dirname "$0")/telemetry/tel_lib.sh"

PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
PROMTOOL=${PROMTOOL:-$(dirname "$PROMETHEUS")/promtool}
GRAFANA_JSON=$MG_ROOT/deploy/grafana/meshgate-dashboard.json
tel_setup "$PROMETHEUS"

PROM_PID=""
PROM_URL=""
LOAD_PIDS=()
# shellcheck disable=SC2317 # run by the EXIT trap
prom_exit() {
  local rc=$?
  tel_kill "${LOAD_PIDS[@]}" "$PROM_PID"
  (exit "$rc")
  l4_exit
}
trap prom_exit EXIT

# ---- Prometheus ----------------------------------------------------------------------------

PROM_DIR=$MG_TMP/prometheus
mkdir -p "$PROM_DIR/data"
PROM_PORT=$(tel_free_port)
PROM_URL=http://127.0.0.1:$PROM_PORT
cat >"$PROM_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: meshgate
    static_configs:
      - targets: ['127.0.0.1:$TEL_PORT']
EOF
"$PROMETHEUS" --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --storage.tsdb.retention.time=1h --log.level=warn \
  >"$PROM_DIR/prometheus.log" 2>&1 </dev/null 9>&- &
PROM_PID=$!
for _ in $(seq 100); do
  curl -sf --max-time 1 -o /dev/null "$PROM_URL/-/ready" && break
  kill -0 "$PROM_PID" 2>/dev/null || { mg_indent <"$PROM_DIR/prometheus.log"; mg_die "prometheus exited"; }
  sleep 0.2
done
curl -sf --max-time 1 -o /dev/null "$PROM_URL/-/ready" || mg_die "prometheus not ready on $PROM_URL within 20 s"
mg_say "prometheus $("$PROMETHEUS" --version 2>&1 | awk 'NR == 1 { print $3 }') on $PROM_URL scraping $TEL_URL/metrics every 1 s"

# prom_api EXPR: the JSON answer of an instant query.
prom_api() { curl -sS --max-time 10 "$PROM_URL/api/v1/query" --data-urlencode "query=$1"; }

# prom_value EXPR: the sum of an instant query's result values on stdout; exit 1 (and the reason
# on stdout) on an error or an empty result.
prom_value() {
  prom_api "$1" | "$L4_PY" -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("no JSON from prometheus"); sys.exit(1)
if d.get("status") != "success":
    print("error: %s %s" % (d.get("errorType"), d.get("error"))); sys.exit(1)
r = d["data"]["result"]
if d["data"]["resultType"] == "scalar":
    r = [{"value": r}]
if not r:
    print("empty"); sys.exit(1)
print("%.15g" % sum(float(x["value"][1]) for x in r))'
}

# prom_scrapes: samples of up{job="meshgate"} stored so far.
prom_scrapes() {
  local n
  n=$(prom_value 'count_over_time(up{job="meshgate"}[1h])') || n=0
  echo "$n"
}

# prom_wait_scrapes N: until N more scrapes are stored (at most 15 s).
prom_wait_scrapes() {
  local want=$(($(prom_scrapes) + $1)) _
  for _ in $(seq 75); do
    [ "$(prom_scrapes)" -ge "$want" ] 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# check_prom "what" EXPR OP WANT: the query's value compared with awk (OP: >=, ==, >, <).
check_prom() {
  local what=$1 expr=$2 op=$3 want=$4 got
  if got=$(prom_value "$expr") && awk -v g="$got" -v w="$want" "BEGIN { exit !(g $op w) }"; then
    mg_pass "$what: $expr = $got"
  else
    mg_fail "$what: $expr = $got (want $op $want)"
  fi
}

prom_wait_scrapes 2 || mg_die "prometheus stored no scrapes of $TEL_URL/metrics within 15 s"
check_prom "target scraped and up" 'up{job="meshgate"}' == 1
targets=$(curl -sS --max-time 5 "$PROM_URL/api/v1/targets")
check "target health is up with no scrape error" "$L4_PY" -c '
import json, sys
t = [t for t in json.loads(sys.argv[1])["data"]["activeTargets"] if t["labels"]["job"] == "meshgate"]
print(t)
sys.exit(not (len(t) == 1 and t[0]["health"] == "up" and t[0]["lastError"] == ""))' "$targets"
if [ -x "$PROMTOOL" ]; then
  tel_metrics >"$MG_TMP/metrics.txt"
  check "promtool check metrics accepts the exposition" "$PROMTOOL" check metrics <"$MG_TMP/metrics.txt"
fi

# ---- known traffic -------------------------------------------------------------------------

echo "== backends b1 (web4, web6) up; b2 (web4) never answers"
l4_backend mg-srv1 198.18.2.10 b1
l4_backend mg-srv1 fd00:2::10 b1-6
l4_warm mg-client 198.18.2.2 fd00:2::2 198.18.50.1 fd00:50::1
l4_warm mg-srv1 198.18.1.2
for _ in $(seq 50); do
  [ "$(tel_sum meshgate_service_backends_up service=web4)" = 1 ] && [ "$(tel_sum meshgate_service_backends_up service=web6)" = 1 ] && break
  sleep 0.2
done
check_ping mg-client 198.18.2.2 "warm-up v4"
check_ping mg-client fd00:2::2 "warm-up v6"
prom_wait_scrapes 2 || mg_die "no scrapes"

declare -A Q=(
  [client_rx]='sum(meshgate_interface_rx_packets_total{job="meshgate",interface="client"})'
  [srv1_tx]='sum(meshgate_interface_tx_packets_total{job="meshgate",interface="srv1"})'
  [ttl]='sum(meshgate_interface_drops_total{job="meshgate",reason="ttl_exceeded"})'
  [icmp_err]='sum(meshgate_icmp_errors_sent_total{job="meshgate"})'
  [b1_conn]='sum(meshgate_backend_connections_total{job="meshgate",service="web4",backend=~"198\\.18\\.2\\.10.*"})'
  [web6_conn]='sum(meshgate_backend_connections_total{job="meshgate",service="web6"})'
  [created]='sum(meshgate_sessions_created_total{job="meshgate"})'
)
declare -A before
for q in "${!Q[@]}"; do
  before[$q]=$(prom_value "${Q[$q]}") || mg_die "${Q[$q]}: ${before[$q]}"
done

echo "== 50 pings per family, 50 more per family with TTL/hop limit 1, 10 GETs to web4, 5 to web6"
nsx mg-client ping -c 50 -i 0.02 -W 1 -q 198.18.2.2 >/dev/null
nsx mg-client ping -6 -c 50 -i 0.02 -W 1 -q fd00:2::2 >/dev/null
nsx mg-client ping -c 50 -i 0.02 -W 1 -q -t 1 198.18.2.2 >/dev/null
nsx mg-client ping -6 -c 50 -i 0.02 -W 1 -q -t 1 fd00:2::2 >/dev/null
gets=0
for _ in $(seq 10); do l4_get mg-client "$(l4_url 198.18.50.1 80 /)" >/dev/null && gets=$((gets + 1)); done
for _ in $(seq 5); do l4_get mg-client "$(l4_url fd00:50::1 80 /)" >/dev/null && gets=$((gets + 1)); done
check "15 GETs through the VIPs answered" test "$gets" -eq 15
echo "== 3 pings from mg-srv1 out through the SNAT pool"
check_ping mg-srv1 198.18.1.2 "srv1 -> client through SNAT"
prom_wait_scrapes 3 || mg_die "no scrapes"

delta() { # KEY of Q: value now minus value before
  local now
  now=$(prom_value "${Q[$1]}") || { echo "?"; return 1; }
  awk -v a="$now" -v b="${before[$1]}" 'BEGIN { printf "%.15g", a - b }'
}
# check_delta "what" KEY OP WANT
check_delta() {
  local d
  d=$(delta "$2")
  if [ "$d" != "?" ] && awk -v d="$d" -v w="$4" "BEGIN { exit !(d $3 w) }"; then
    mg_pass "$1: ${Q[$2]} grew by $d"
  else
    mg_fail "$1: ${Q[$2]} grew by $d (want $3 $4)"
  fi
}
check_delta "client rx counted the 200 pings and the GETs" client_rx ">=" 200
check_delta "srv1 tx counted the 100 forwarded pings" srv1_tx ">=" 100
check_delta "ttl_exceeded counted exactly the 100 TTL-1 pings" ttl "==" 100
check_delta "ICMP errors sent for the 100 TTL-1 pings" icmp_err ">=" 100
check_delta "web4 backend b1 (the only one up) got exactly the 10 connections" b1_conn "==" 10
check_delta "web6 got exactly the 5 connections" web6_conn "==" 5
check_delta "sessions created for the 15 connections" created ">=" 15
check_prom "web4 has 1 of 2 backends up" 'meshgate_service_backends_up{job="meshgate",service="web4"}' == 1
check_prom "web4 has 2 backends" 'meshgate_service_backends{job="meshgate",service="web4"}' == 2
check_prom "b2 is down" 'sum(meshgate_backend_up{job="meshgate",service="web4",backend=~"198\\.18\\.2\\.11.*"})' == 0
check_prom "SNAT pool holds the ping's mapping" 'meshgate_snat_ports_in_use{job="meshgate",pool="srv1-out"}' ">" 0
check_prom "SNAT pool capacity known" 'meshgate_snat_ports{job="meshgate",pool="srv1-out"}' ">" 0
check_prom "the ICMP tap runs" 'meshgate_tap_running{job="meshgate",tap="icmp"}' == 1
check_prom "the ICMP tap captured the pings" 'meshgate_tap_captured_packets_total{job="meshgate",tap="icmp"}' ">=" 200
check_prom "sessions gauge present" 'meshgate_sessions_active{job="meshgate"}' ">=" 0

echo "== rate() under load (a bounded ping flood from mg-client, 10 s)"
nsx mg-client ping -i 0.01 -w 10 -q 198.18.2.2 >/dev/null 2>&1 </dev/null 9>&- &
LOAD_PIDS+=($!)
prom_wait_scrapes 4 || true
check_prom "rx packets/s on client positive under load" \
  'sum(rate(meshgate_interface_rx_packets_total{job="meshgate",interface="client"}[5s]))' ">" 10
check_prom "tx bits/s on srv1 positive under load" \
  '8 * sum(rate(meshgate_interface_tx_bytes_total{job="meshgate",interface="srv1"}[5s]))' ">" 0
check_prom "tap captures/s positive under load" \
  'sum(rate(meshgate_tap_captured_packets_total{job="meshgate"}[5s]))' ">" 0
tel_kill "${LOAD_PIDS[@]}"
LOAD_PIDS=()

echo "== config reloads: one rejected (bad protocol), one applied (generation 3)"
check_prom "generation 1 before the reloads" 'meshgate_config_generation{job="meshgate"}' == 1
rej0=$(prom_value 'sum(meshgate_config_reloads_total{job="meshgate",result="rejected"}) or vector(0)')
app0=$(prom_value 'sum(meshgate_config_reloads_total{job="meshgate",result="applied"}) or vector(0)')
l4_cfg_edit 'c["services"][0]["protocol"] = "bogus"'
if line=$(l4_reload); then mg_fail "bad config applied: $line"; else mg_pass "bad config rejected: \"$line\""; fi
prom_wait_scrapes 2 || true
check_prom "last reload rejected" 'meshgate_config_last_reload_success{job="meshgate"}' == 0
check_prom "one rejected reload counted" 'sum(meshgate_config_reloads_total{job="meshgate",result="rejected"})' == "$((rej0 + 1))"
check_prom "generation still 1" 'meshgate_config_generation{job="meshgate"}' == 1
l4_cfg_edit 'c["services"][0]["protocol"] = "tcp"'
l4_check_reload "good config applied"
prom_wait_scrapes 2 || true
check_prom "last reload applied" 'meshgate_config_last_reload_success{job="meshgate"}' == 1
check_prom "one applied reload counted" 'sum(meshgate_config_reloads_total{job="meshgate",result="applied"})' == "$((app0 + 1))"
check_prom "generation 3 running" 'meshgate_config_generation{job="meshgate"}' == 3
check_prom "last reload time is recent" 'time() - meshgate_config_last_reload_timestamp_seconds{job="meshgate"}' "<" 60

# ---- the Grafana dashboard's queries ---------------------------------------------------------

echo "== every PromQL expression of $(basename "$GRAFANA_JSON")"
# One python run queries them all (a process per query is slow beside a busy-polling data plane).
"$L4_PY" - "$GRAFANA_JSON" "$PROM_URL" >"$MG_TMP/grafana-queries.tsv" <<'EOF' || mg_die "cannot run the queries of $GRAFANA_JSON"
import json, sys, urllib.error, urllib.parse, urllib.request
d = json.load(open(sys.argv[1]))
def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
exprs = []
for p in walk(d["panels"]):
    for t in p.get("targets", []):
        if t.get("expr"):
            exprs.append((p.get("title", "?") + " / " + t.get("refId", "?"), t["expr"]))
for a in d.get("annotations", {}).get("list", []):
    if a.get("expr"):
        exprs.append(("annotation " + a["name"], a["expr"]))
# Grafana's variables, as a dashboard showing everything over the last 5 minutes sets them.
subst = [("$__rate_interval", "5s"), ("$__interval", "5s"), ("$__range", "5m"),
         ("${instance}", ".*"), ("$instance", ".*"), ("${interface}", ".*"), ("$interface", ".*"),
         ("${service}", ".*"), ("$service", ".*")]
for title, e in exprs:
    for a, b in subst:
        e = e.replace(a, b)
    e = " ".join(e.split())
    title = " ".join(title.split())
    if "$" in e:
        print("error\t%s\t%s\tunsubstituted variable" % (title, e))
        continue
    body = urllib.parse.urlencode({"query": e}).encode()
    try:
        with urllib.request.urlopen(sys.argv[2] + "/api/v1/query", body, timeout=10) as r:
            ans = json.load(r)
    except urllib.error.HTTPError as err:
        ans = json.load(err)
    except Exception as err:  # noqa: BLE001
        ans = {"status": "error", "error": str(err)}
    if ans.get("status") != "success":
        print("error\t%s\t%s\t%s" % (title, e, ans.get("error")))
    elif not ans["data"]["result"]:
        print("empty\t%s\t%s\t" % (title, e))
    else:
        print("ok\t%s\t%s\t%d series" % (title, e, len(ans["data"]["result"])))
EOF
n=$(wc -l <"$MG_TMP/grafana-queries.tsv")
ok=$(grep -c '^ok' "$MG_TMP/grafana-queries.tsv")
while IFS=$'\t' read -r status title expr detail; do
  [ "$status" = ok ] || mg_fail "grafana: $title: $expr -> $status${detail:+: $detail}"
done <"$MG_TMP/grafana-queries.tsv"
if [ "$n" -le 40 ]; then
  mg_fail "grafana: only $n expressions found in $GRAFANA_JSON"
elif [ "$ok" -eq "$n" ]; then
  mg_pass "grafana: all $n expressions parse and return data"
fi

mg_finish
