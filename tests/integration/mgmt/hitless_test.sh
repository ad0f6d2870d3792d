#!/usr/bin/env bash
# Hitless commits: 100 RESTCONF commits while long-lived connections cross the gateway.
#
# The management lab (mgmt_lib.sh: data plane + meshgate-mgmtd + HTTP backends on srv1/srv2).
# One setup commit adds, over RESTCONF:
#   iperf-tcp      VIP 198.18.50.20 tcp 5201 -> iperf3 server 198.18.2.2:5201 (mg-srv1)
#   iperf-udp-ctl  VIP 198.18.50.21 tcp 5202 -> iperf3 server 198.18.2.2:5202 (its control conn.)
#   iperf-udp      VIP 198.18.50.21 udp 5202 -> the same server (the datagrams)
#   storm          VIP 198.18.50.30 tcp 80   -> 198.18.3.2:8080 (backends come and go below)
#   the firewall with one rule ("base-deny-doc": deny tcp 192.0.2.0/24 port 9): a firewall with
#   rules tracks every new flow, so it is on before the traffic starts, and the storm only adds
#   and removes rules (none of them matches the traffic).
# Then, for HITLESS_SECONDS (30) each, all started together:
#   - iperf3 TCP through 198.18.50.20 at HITLESS_TCP_RATE (50M): must exit 0 after its full
#     duration;
#   - iperf3 UDP through 198.18.50.21 at a fixed packet rate (HITLESS_UDP_PPS=1000 datagrams of
#     HITLESS_UDP_LEN=500 bytes): the loss is reported (not checked), and the CSIT-style effective
#     blocked time = lost datagrams / offered rate, in ms. Before the storm the same UDP load runs
#     HITLESS_BASELINE_SECONDS (5) without commits: the loss the lab has anyway;
#   - two slow downloads (curl --limit-rate) through web4 (198.18.50.10) and web6 (fd00:50::10),
#     sized to last the whole time: must complete with every byte;
#   - repeated GETs through web4 (a new connection each, 10/s, one curl): none may fail.
# Meanwhile HITLESS_COMMITS (100) commits, back to back, each a RESTCONF write, in a cycle of 8:
# web4's and web6's backend weights (the services the downloads use), a backend (srv1's HTTP
# peer) added to and removed from "storm", a firewall rule added and removed, a service added and removed. Every
# 10th goes through the candidate (edit, then POST operations/meshgate-config:commit), the others
# through /restconf/data (commit at once). Checked: every write answers 2xx, the storm ends
# before the connections do, every connection survives, and the data plane's generation (RESTCONF
# operational config-generation, and its own config.reload.applied log lines) advanced by exactly
# the number of commits, none rejected.
#
# Knobs for perf/commit-storm.sh (which runs this longer): HITLESS_SECONDS, HITLESS_COMMITS
# (0: commit until 2 s before the connections end), HITLESS_BASELINE_SECONDS,
# HITLESS_UDP_PPS, HITLESS_UDP_LEN, HITLESS_TCP_RATE, HITLESS_RESULTS (a file: "key value"
# lines with the figures), HITLESS_BIG_CONFIG (a YANG JSON file: at the end, PUT as the whole
# datastore and timed; then the lab config is PUT back).
# Ports of their own: other mgmtd tests (not all of them in the lab) use mgmt_lib.sh's defaults.
MGMTD_NETCONF_PORT=${MGMTD_NETCONF_PORT:-18832}
MGMTD_RESTCONF_PORT=${MGMTD_RESTCONF_PORT:-18445}
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/../l4/l4_lib.sh"
# shellcheck source=tests/integration/mgmt/mgmt_lib.sh
source "$(dirname "$0")/mgmt_lib.sh"

H_SECS=${HITLESS_SECONDS:-30}
H_COMMITS=${HITLESS_COMMITS:-100}
H_BASE_SECS=${HITLESS_BASELINE_SECONDS:-5}
H_PPS=${HITLESS_UDP_PPS:-1000}
H_LEN=${HITLESS_UDP_LEN:-500}
H_TCP_RATE=${HITLESS_TCP_RATE:-50M}
H_RESULTS=${HITLESS_RESULTS:-}
H_BIG=${HITLESS_BIG_CONFIG:-}
H_GET_RATE=10 # repeated GETs per second
H_DL_RATE=200000 # bytes/s of each slow download

mgmt_setup iperf3

DATA=/restconf/data/meshgate-config:meshgate
CAND=/restconf/ds/ietf-datastores:candidate/meshgate-config:meshgate

result() { [ -n "$H_RESULTS" ] && echo "$1 $2" >>"$H_RESULTS"; return 0; }

# rc_req METHOD PATH [BODY]: one RESTCONF request as admin; prints "HTTP-CODE PRETRANSFER TOTAL"
# (curl's times in seconds: the request is sent at PRETRANSFER, after TCP and TLS; TOTAL is the
# last byte of the answer). The body goes to $MG_TMP/rc_body. BODY "@FILE": the file's content.
rc_req() {
  local method=$1 path=$2 body=${3-}
  local args=(-sk -u "${RC_USER:-admin:adminpw}" -X "$method" -H 'Accept: application/yang-data+json'
    -o "$MG_TMP/rc_body" -w '%{http_code} %{time_pretransfer} %{time_total}'
    "https://127.0.0.1:$MGMTD_RESTCONF_PORT$path")
  if [ -n "$body" ]; then
    args+=(-H 'Content-Type: application/yang-data+json' --data-binary "$body")
  fi
  curl --max-time "${RC_MAX_TIME:-60}" "${args[@]}" || true
}

is_2xx() { [[ $1 =~ ^2[0-9][0-9]$ ]]; }

# The running generation as the data plane reports it through mgmtd (operational state).
oper_generation() {
  rc_req GET /restconf/data/meshgate-config:operational/config-generation >/dev/null
  "$MGMT_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
v = d.get("meshgate-config:config-generation", d.get("config-generation"))
print(int(v))' "$MG_TMP/rc_body" 2>/dev/null || echo "?"
}
# Config changes the data plane applied / rejected (its log lines; the file restarts with it).
dp_applied() { grep -c '"config.reload.applied"' "$MG_LOG" || true; }
dp_rejected() { grep -c '"config.reload.rejected"' "$MG_LOG" || true; }

# bg_in NS SECONDS CMD...: CMD in NS in the background, bounded by timeout, killed at exit.
bg_in() {
  local ns=$1 t=$2
  shift 2
  ip netns exec "$ns" timeout "$t" "$@" </dev/null 9>&- &
  L4_LAST_PID=$!
  L4_PIDS+=("$L4_LAST_PID")
}

# ---- setup commit ------------------------------------------------------------------------
echo "== setup: iperf3 services, the storm service and the firewall, in one commit"
setup_body=$(cat <<'JSON'
{"meshgate-config:meshgate": {
  "service": [
    {"name": "iperf-tcp", "vip": "198.18.50.20", "protocol": "tcp", "port": 5201,
     "backend": [{"address": "198.18.2.2", "port": 5201}]},
    {"name": "iperf-udp-ctl", "vip": "198.18.50.21", "protocol": "tcp", "port": 5202,
     "backend": [{"address": "198.18.2.2", "port": 5202}]},
    {"name": "iperf-udp", "vip": "198.18.50.21", "protocol": "udp", "port": 5202,
     "backend": [{"address": "198.18.2.2", "port": 5202}]},
    {"name": "storm", "vip": "198.18.50.30", "protocol": "tcp", "port": 80,
     "backend": [{"address": "198.18.3.2", "port": 8080}]}
  ],
  "firewall": {"default-action": "allow", "rule": [
    {"name": "base-deny-doc", "destination": "192.0.2.0/24", "protocol": "tcp",
     "destination-port": {"lower-port": 9}, "action": "deny"}
  ]}
}}
JSON
)
read -r code _ _ <<<"$(rc_req PATCH "$DATA" "$setup_body")"
if is_2xx "$code"; then
  mg_pass "setup commit (4 services, firewall with 1 rule): HTTP $code"
else
  mg_fail "setup commit: HTTP $code: $(head -c 600 "$MG_TMP/rc_body")"
  mg_finish
fi

bg_in mg-srv1 $((H_SECS + H_BASE_SECS + 120)) iperf3 -s -B 198.18.2.2 -p 5201
bg_in mg-srv1 $((H_SECS + H_BASE_SECS + 120)) iperf3 -s -B 198.18.2.2 -p 5202
if ! wait_listen mg-srv1 5201 || ! wait_listen mg-srv1 5202; then
  mg_die "the iperf3 servers did not listen on 5201/5202 in mg-srv1"
fi
l4_warm mg-client 198.18.1.1 fd00:1::1
check "GET through web4 (198.18.50.10) before the storm" mgmt_vip_ok
check "GET through storm (198.18.50.30) before the storm" mgmt_vip_ok 198.18.50.30

UDP_RATE=$((H_PPS * H_LEN * 8))

# udp_figures JSON: "sent lost seconds pps" from an iperf3 -u --json client report.
udp_figures() {
  "$MGMT_PY" - "$1" <<'EOF' 2>/dev/null || echo "? ? ? ?"
import json, sys
e = json.load(open(sys.argv[1]))["end"]
s, r = e["sum_sent"], e["sum_received"]
print(s["packets"], r["lost_packets"], "%.3f" % s["seconds"], "%.1f" % (s["packets"] / s["seconds"]))
EOF
}
blocked_ms() { awk -v l="$1" -v p="$2" 'BEGIN { if (p > 0) printf "%.1f", l / p * 1000; else print "?" }'; }

# ---- baseline: the UDP load alone --------------------------------------------------------
if [ "$H_BASE_SECS" -gt 0 ]; then
  echo "== baseline: UDP $H_PPS pps x $H_LEN bytes through 198.18.50.21:5202 for $H_BASE_SECS s, no commits"
  nsx mg-client timeout $((H_BASE_SECS + 20)) iperf3 -c 198.18.50.21 -p 5202 -u -b "$UDP_RATE" -l "$H_LEN" \
    -t "$H_BASE_SECS" --json >"$MG_TMP/udp-base.json" 2>&1
  rc=$?
  read -r b_sent b_lost b_secs b_pps <<<"$(udp_figures "$MG_TMP/udp-base.json")"
  if [ $rc -eq 0 ] && [[ $b_sent =~ ^[0-9]+$ ]]; then
    mg_pass "baseline UDP: $b_lost of $b_sent datagrams lost in $b_secs s ($b_pps pps offered):" \
      "blocked time $(blocked_ms "$b_lost" "$b_pps") ms without commits"
    result baseline_udp_sent "$b_sent"; result baseline_udp_lost "$b_lost"
    result baseline_udp_seconds "$b_secs"; result baseline_udp_pps "$b_pps"
  else
    mg_fail "baseline UDP: iperf3 exit $rc"
    mg_indent <"$MG_TMP/udp-base.json" | tail -n 20
  fi
fi

# ---- the storm ---------------------------------------------------------------------------
gen0=$(oper_generation)
applied0=$(dp_applied)
rejected0=$(dp_rejected)
echo "== storm: $H_SECS s of traffic; $([ "$H_COMMITS" -gt 0 ] && echo "$H_COMMITS commits" || echo "commits until 2 s before the end");" \
  "data plane generation $gen0"

DL_BYTES=$((H_DL_RATE * H_SECS))
t_start=${EPOCHREALTIME/./}
nsx mg-client timeout $((H_SECS + 30)) iperf3 -c 198.18.50.20 -p 5201 -b "$H_TCP_RATE" -t "$H_SECS" --json \
  >"$MG_TMP/tcp.json" 2>&1 &
p_tcp=$!
nsx mg-client timeout $((H_SECS + 30)) iperf3 -c 198.18.50.21 -p 5202 -u -b "$UDP_RATE" -l "$H_LEN" -t "$H_SECS" \
  --json >"$MG_TMP/udp.json" 2>&1 &
p_udp=$!
nsx mg-client timeout $((H_SECS + 30)) curl -sS --limit-rate "$H_DL_RATE" -o /dev/null \
  -w '%{http_code} %{size_download}\n' "$(l4_url 198.18.50.10 80 "/bytes/$DL_BYTES")" >"$MG_TMP/dl4.txt" 2>&1 &
p_dl4=$!
nsx mg-client timeout $((H_SECS + 30)) curl -sS --limit-rate "$H_DL_RATE" -o /dev/null \
  -w '%{http_code} %{size_download}\n' "$(l4_url fd00:50::10 80 "/bytes/$DL_BYTES")" >"$MG_TMP/dl6.txt" 2>&1 &
p_dl6=$!
n_gets=$((H_SECS * H_GET_RATE))
nsx mg-client timeout $((H_SECS + 30)) curl -s --rate "$H_GET_RATE/s" --max-time 3 -H 'Connection: close' \
  -w '\nCODE %{http_code}\n' "$(l4_url 198.18.50.10 80 "/id#[1-$n_gets]")" >"$MG_TMP/gets.txt" 2>/dev/null &
p_gets=$!
L4_PIDS+=("$p_tcp" "$p_udp" "$p_dl4" "$p_dl6" "$p_gets")
sleep 1

# storm_op I: sets OP (a label), METHOD, SUBPATH (under the meshgate container) and BODY.
storm_op() {
  local i=$1 c=$(($1 % 8)) k=$((($1 / 8) % 100))
  local w=$((1 + ($1 / 8) % 4))
  BODY=""
  case $c in
  0) OP="weight web4 $w"; METHOD=PATCH; SUBPATH="/service=web4/backend=198.18.2.2,8080"
     BODY="{\"meshgate-config:backend\":[{\"address\":\"198.18.2.2\",\"port\":8080,\"weight\":$w}]}" ;;
  1) OP="add backend storm 198.18.2.2"; METHOD=PUT; SUBPATH="/service=storm/backend=198.18.2.2,8080"
     BODY="{\"meshgate-config:backend\":[{\"address\":\"198.18.2.2\",\"port\":8080,\"weight\":$w}]}" ;;
  2) OP="add rule storm-$k"; METHOD=PUT; SUBPATH="/firewall/rule=storm-$k"
     BODY="{\"meshgate-config:rule\":[{\"name\":\"storm-$k\",\"source\":\"100.64.$k.0/24\",\"protocol\":\"udp\",\"destination-port\":{\"lower-port\":$((1000 + k))},\"action\":\"deny\"}]}" ;;
  3) OP="add service storm-tmp"; METHOD=PUT; SUBPATH="/service=storm-tmp"
     BODY="{\"meshgate-config:service\":[{\"name\":\"storm-tmp\",\"vip\":\"198.18.50.31\",\"protocol\":\"tcp\",\"port\":80,\"backend\":[{\"address\":\"198.18.3.2\",\"port\":8080,\"weight\":$w}]}]}" ;;
  4) OP="weight web6 $w"; METHOD=PATCH; SUBPATH="/service=web6/backend=fd00%3A3%3A%3A2,8080"
     BODY="{\"meshgate-config:backend\":[{\"address\":\"fd00:3::2\",\"port\":8080,\"weight\":$w}]}" ;;
  5) OP="remove backend storm 198.18.2.2"; METHOD=DELETE; SUBPATH="/service=storm/backend=198.18.2.2,8080" ;;
  6) OP="remove rule storm-$k"; METHOD=DELETE; SUBPATH="/firewall/rule=storm-$k" ;;
  7) OP="remove service storm-tmp"; METHOD=DELETE; SUBPATH="/service=storm-tmp" ;;
  esac
}

# Commits: "I VIA CODE REQUEST_TO_ANSWER_S TOTAL_S OP" per line in $MG_TMP/commits.log.
: >"$MG_TMP/commits.log"
deadline=$((t_start + (H_SECS - 2) * 1000000))
n=0 bad=0
while :; do
  if [ "$H_COMMITS" -gt 0 ]; then
    [ $n -lt "$H_COMMITS" ] || break
  else
    [ "${EPOCHREALTIME/./}" -lt $deadline ] || break
  fi
  storm_op $n
  if [ $((n % 10)) -eq 9 ]; then
    via=candidate
    read -r code _ _ <<<"$(rc_req "$METHOD" "$CAND$SUBPATH" "$BODY")"
    if is_2xx "$code"; then
      read -r code pre tot <<<"$(rc_req POST /restconf/operations/meshgate-config:commit)"
    else
      pre=0 tot=0
    fi
  else
    via=data
    read -r code pre tot <<<"$(rc_req "$METHOD" "$DATA$SUBPATH" "$BODY")"
  fi
  lat=$(awk -v a="${pre:-0}" -v b="${tot:-0}" 'BEGIN { printf "%.6f", b - a }')
  echo "$n $via $code $lat $tot $OP" >>"$MG_TMP/commits.log"
  if ! is_2xx "$code"; then
    bad=$((bad + 1))
    [ $bad -le 3 ] && echo "      commit $n ($OP via $via): HTTP $code: $(head -c 400 "$MG_TMP/rc_body")"
  fi
  n=$((n + 1))
done
t_storm=${EPOCHREALTIME/./}
storm_s=$(awk -v a="$t_start" -v b="$t_storm" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
ok_commits=$((n - bad))
lat_summary=$(awk '$3 ~ /^2/ { print $4 * 1000 }' "$MG_TMP/commits.log" | sort -g | awk '
  { v[NR] = $1; s += $1 } END { if (NR == 0) { print "- - - -"; exit }
    p95 = v[int(0.95 * (NR - 1)) + 1]; med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.1f %.1f %.1f %.1f", med, p95, v[NR], s / NR }')
read -r lat_med lat_p95 lat_max _ <<<"$lat_summary"
if [ $bad -eq 0 ] && [ $n -gt 0 ]; then
  mg_pass "$n commits over RESTCONF, all 2xx, in $storm_s s since the traffic started; request-to-answer" \
    "median $lat_med ms, p95 $lat_p95 ms, max $lat_max ms"
else
  mg_fail "$bad of $n commits did not answer 2xx (log: $MG_TMP/commits.log)"
fi
result commits "$n"; result commits_failed "$bad"; result commit_latency_median_ms "$lat_med"
result commit_latency_p95_ms "$lat_p95"; result commit_latency_max_ms "$lat_max"
if [ "$t_storm" -lt $((t_start + H_SECS * 1000000)) ]; then
  mg_pass "the storm ended (${storm_s} s) within the connections' ${H_SECS} s"
else
  mg_fail "the storm took ${storm_s} s, longer than the connections (${H_SECS} s): the checks below do not cover all of it"
fi

# ---- the long-lived connections ----------------------------------------------------------
wait "$p_tcp"; rc_tcp=$?
wait "$p_udp"; rc_udp=$?
wait "$p_dl4"; rc_dl4=$?
wait "$p_dl6"; rc_dl6=$?
wait "$p_gets"; rc_gets=$?
lost_conns=0

tcp_fig=$("$MGMT_PY" - "$MG_TMP/tcp.json" <<'EOF' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
r = d["end"]["sum_received"]
print("%.2f %.1f %.1f %s" % (r["seconds"], r["bytes"] / 1e6, r["bits_per_second"] / 1e6, d.get("error", "-").replace(" ", "_")))
EOF
)
read -r tcp_secs tcp_mb tcp_mbps tcp_err <<<"${tcp_fig:-? ? ? unparsable}"
if [ $rc_tcp -eq 0 ] && [ "$tcp_err" = "-" ] && awk -v s="$tcp_secs" -v t="$H_SECS" 'BEGIN { exit !(s >= t - 0.5) }'; then
  mg_pass "iperf3 TCP through 198.18.50.20 survived: $tcp_secs s, $tcp_mb MB received ($tcp_mbps Mbit/s)"
else
  lost_conns=$((lost_conns + 1))
  mg_fail "iperf3 TCP through 198.18.50.20: exit $rc_tcp, $tcp_secs s of $H_SECS, error $tcp_err"
  tail -n 15 "$MG_TMP/tcp.json" | mg_indent
fi

read -r s_sent s_lost s_secs s_pps <<<"$(udp_figures "$MG_TMP/udp.json")"
if [ $rc_udp -eq 0 ] && [[ $s_sent =~ ^[0-9]+$ ]]; then
  s_blocked=$(blocked_ms "$s_lost" "$s_pps")
  mg_pass "iperf3 UDP through 198.18.50.21 during the storm: $s_lost of $s_sent datagrams lost in $s_secs s" \
    "($s_pps pps offered): effective blocked time $s_blocked ms over $n commits"
  result storm_udp_sent "$s_sent"; result storm_udp_lost "$s_lost"
  result storm_udp_seconds "$s_secs"; result storm_udp_pps "$s_pps"
else
  lost_conns=$((lost_conns + 1)) # its control connection is a long-lived TCP connection
  mg_fail "iperf3 UDP through 198.18.50.21: exit $rc_udp"
  tail -n 15 "$MG_TMP/udp.json" | mg_indent
fi

for fam in 4 6; do
  f=$MG_TMP/dl$fam.txt
  if [ $fam = 4 ]; then r=$rc_dl4 vip=198.18.50.10; else r=$rc_dl6 vip=fd00:50::10; fi
  read -r dl_code dl_size <<<"$(tail -n 1 "$f")"
  if [ "$r" -eq 0 ] && [ "$dl_code" = 200 ] && [ "$dl_size" = "$DL_BYTES" ]; then
    mg_pass "slow download through web$fam ($vip) survived: $dl_size bytes at $H_DL_RATE B/s"
  else
    lost_conns=$((lost_conns + 1))
    mg_fail "slow download through web$fam ($vip): curl exit $r, HTTP ${dl_code:-?}, ${dl_size:-?} of $DL_BYTES bytes"
    mg_indent <"$f"
  fi
done
result lost_connections "$lost_conns"
result long_lived_connections 5 # iperf3 TCP (control + data), iperf3 UDP's control, 2 downloads

gets_ok=$(grep -c '^CODE 200$' "$MG_TMP/gets.txt" || true)
gets_bad=$((n_gets - gets_ok))
if [ "$gets_bad" -eq 0 ]; then
  mg_pass "repeated GETs through web4: $gets_ok of $n_gets answered (a new connection each)"
else
  mg_fail "repeated GETs through web4: $gets_bad of $n_gets failed (curl exit $rc_gets;" \
    "codes: $(grep '^CODE' "$MG_TMP/gets.txt" | sort | uniq -c | tr -s ' \n' ' '))"
fi
result gets "$n_gets"; result gets_failed "$gets_bad"

# ---- generations -------------------------------------------------------------------------
gen1=$(oper_generation)
applied1=$(dp_applied)
rejected1=$(dp_rejected)
if [[ $gen0 =~ ^[0-9]+$ && $gen1 =~ ^[0-9]+$ ]] && [ $((gen1 - gen0)) -eq $ok_commits ]; then
  mg_pass "data plane generation $gen0 -> $gen1 (RESTCONF operational config-generation): +$ok_commits"
else
  mg_fail "data plane generation $gen0 -> $gen1 (RESTCONF operational), want +$ok_commits"
  head -c 400 "$MG_TMP/rc_body" | mg_indent
fi
if [ $((applied1 - applied0)) -eq $ok_commits ] && [ "$rejected1" -eq "$rejected0" ]; then
  mg_pass "the data plane logged $((applied1 - applied0)) config.reload.applied, no config.reload.rejected"
else
  mg_fail "the data plane logged $((applied1 - applied0)) config.reload.applied (want $ok_commits)," \
    "$((rejected1 - rejected0)) config.reload.rejected"
  grep '"config.reload.rejected"' "$MG_LOG" | tail -n 3 | mg_indent
fi
# The data plane's compile (prepare) times of the storm's commits, from its config.prepared lines.
prep=$(grep '"config.prepared"' "$MG_LOG" | tail -n "$ok_commits" |
  sed -nE 's/.*"prepare_us":([0-9]+).*/\1/p' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR) printf "%.2f %.2f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1000, v[int(0.95 * (NR - 1)) + 1] / 1000 }')
if [ -n "$prep" ]; then
  read -r prep_med prep_p95 <<<"$prep"
  mg_say "data plane prepare (compile) time per commit: median $prep_med ms, p95 $prep_p95 ms (config.prepared lines)"
  result prepare_median_ms "$prep_med"; result prepare_p95_ms "$prep_p95"
fi
check "GET through web4 after the storm" mgmt_vip_ok
check "GET through storm (198.18.50.30) after the storm" mgmt_vip_ok 198.18.50.30

# ---- a big config through mgmtd (perf/commit-storm.sh) --------------------------------------
if [ -n "$H_BIG" ]; then
  echo "== big config: PUT $H_BIG as the whole datastore (GETs through web4 and pings to srv1 meanwhile)"
  # While the data plane compiles it (on its main lcore), traffic goes on: a GET through web4
  # every 0.1 s and a ping through the gateway every 0.05 s, counted.
  # shellcheck disable=SC2016 # expanded by the inner bash
  nsx mg-client bash -c '
    while [ ! -e "$1/big-stop" ]; do
      curl -s --max-time 2 -o /dev/null -w "%{http_code}\n" "http://198.18.50.10:80/id"
      sleep 0.1
    done' _ "$MG_TMP" >"$MG_TMP/big-gets.txt" 2>&1 </dev/null 9>&- &
  p_bg=$!
  ip netns exec mg-client ping -q -i 0.05 -W 1 -w 600 198.18.2.2 >"$MG_TMP/big-ping.txt" 2>&1 </dev/null 9>&- &
  p_ping=$!
  L4_PIDS+=("$p_bg" "$p_ping")
  sleep 1
  RC_MAX_TIME=600
  read -r code pre tot <<<"$(rc_req PUT /restconf/data "@$H_BIG")"
  RC_MAX_TIME=60
  sleep 1
  touch "$MG_TMP/big-stop"
  kill -INT "$p_ping" 2>/dev/null
  wait "$p_bg" "$p_ping" 2>/dev/null
  big_gets_ok=$(grep -c '^200$' "$MG_TMP/big-gets.txt" || true)
  big_gets=$(grep -c . "$MG_TMP/big-gets.txt" || true)
  big_ping=$(grep -E 'packets transmitted' "$MG_TMP/big-ping.txt" | head -n 1)
  mg_say "during the big commit: $big_gets_ok of $big_gets GETs through web4 answered; ping srv1: ${big_ping:-no statistics}"
  result big_gets "$big_gets"; result big_gets_failed "$((big_gets - big_gets_ok))"
  big_ms=$(awk -v a="${pre:-0}" -v b="${tot:-0}" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
  big_prep=$(grep '"config.prepared"' "$MG_LOG" | tail -n 1 | sed -nE 's/.*"prepare_us":([0-9]+).*/\1/p')
  if is_2xx "$code"; then
    mg_pass "big config committed through RESTCONF: HTTP $code in $big_ms ms (data plane compile $((${big_prep:-0} / 1000)) ms)"
    result big_commit_ms "$big_ms"; result big_commit_prepare_ms "$(awk -v u="${big_prep:-0}" 'BEGIN { printf "%.1f", u / 1000 }')"
    check "GET through web4 with the big config" mgmt_vip_ok
    read -r code pre tot <<<"$(rc_req PUT /restconf/data "@$MG_ROOT/mgmt/yang/examples/lab-l4.json")"
    small_ms=$(awk -v a="${pre:-0}" -v b="${tot:-0}" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
    mg_say "back to the lab config: HTTP $code in $small_ms ms"
    result big_restore_ms "$small_ms"
  else
    mg_fail "big config through RESTCONF: HTTP $code after $big_ms ms: $(head -c 600 "$MG_TMP/rc_body")"
  fi
fi

mg_finish
