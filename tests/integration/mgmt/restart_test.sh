#!/usr/bin/env bash
# Restarts under traffic: mgmtd and the data plane each go away and come back.
#
# The management lab (mgmt_lib.sh). A commit adds service "extra" (VIP 198.18.50.40 tcp 80 ->
# both HTTP backends), which exists only in mgmtd's running config (not in the data plane's
# start-up file). A curl loop in mg-client GETs through web4 and through extra, 5 times a second
# each, for the whole test, every answer time-stamped. Then:
#   1. kill -9 mgmtd: the data plane goes on with what it runs: no GET fails while mgmtd is away,
#      and the data plane (push_tool status, now that the link is free) still runs the commit's
#      generation, source mgmtd;
#   2. mgmtd restarts: running config unchanged (same generation in its log and over RESTCONF,
#      extra still in running), and nothing is pushed again (the data plane already runs it: no
#      commit.repushed in mgmtd's log, no new config.reload.applied in the data plane's);
#   3. the data plane is killed (-9) and restarted from its file (generation 1, source file):
#      mgmtd notices and pushes running again within a few seconds; the data plane's log shows
#      the config applied from source mgmtd at the running generation, RESTCONF's operational
#      config-generation agrees, and extra answers again.
# Ports of their own: other mgmtd tests (not all of them in the lab) use mgmt_lib.sh's defaults.
MGMTD_NETCONF_PORT=${MGMTD_NETCONF_PORT:-18834}
MGMTD_RESTCONF_PORT=${MGMTD_RESTCONF_PORT:-18447}
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/../l4/l4_lib.sh"
# shellcheck source=tests/integration/mgmt/mgmt_lib.sh
source "$(dirname "$0")/mgmt_lib.sh"

REPUSH_MAX_S=${RESTART_REPUSH_MAX_S:-5}

mgmt_setup

now_us() { echo "${EPOCHREALTIME/./}"; }

# rc_code METHOD PATH [BODY]: the HTTP status only (body in $MG_TMP/rc_body).
rc_code() {
  rc_curl "$@" >"$MG_TMP/rc_out" 2>&1
  sed -n 's/^HTTP \([0-9]*\)$/\1/p' "$MG_TMP/rc_out" | tail -n 1
  sed '$d' "$MG_TMP/rc_out" >"$MG_TMP/rc_body"
}

oper_generation() {
  rc_code GET /restconf/data/meshgate-config:operational/config-generation >/dev/null
  "$MGMT_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(int(d.get("meshgate-config:config-generation", d.get("config-generation"))))' "$MG_TMP/rc_body" 2>/dev/null || echo "?"
}

dp_applied() { grep -c '"config.reload.applied"' "$MG_LOG" || true; }

# The last config the data plane applied: "GENERATION SOURCE".
dp_last_applied() {
  grep '"config.reload.applied"' "$MG_LOG" | tail -n 1 |
    sed -nE 's/.*"generation":"?([0-9]+).*"source":"([a-z]+)".*/\1 \2/p'
}

# vip_ok_within SECONDS VIP: mgmt_vip_ok retried.
vip_ok_within() {
  local deadline=$(($(now_us) + $1 * 1000000))
  while [ "$(now_us)" -lt $deadline ]; do
    mgmt_vip_ok "$2" && return 0
    sleep 0.2
  done
  return 1
}

echo "== a service only mgmtd knows"
code=$(rc_code PUT /restconf/data/meshgate-config:meshgate/service=extra \
  '{"meshgate-config:service":[{"name":"extra","vip":"198.18.50.40","protocol":"tcp","port":80,
    "backend":[{"address":"198.18.2.2","port":8080},{"address":"198.18.3.2","port":8080}]}]}')
if [[ $code =~ ^2 ]]; then mg_pass "PUT service extra: HTTP $code"; else mg_fail "PUT service extra: HTTP $code: $(head -c 400 "$MG_TMP/rc_body")"; fi
check "GET through extra (198.18.50.40)" vip_ok_within 5 198.18.50.40
GEN=$(oper_generation)
[[ $GEN =~ ^[0-9]+$ ]] || mg_die "no config-generation in RESTCONF operational state: $(head -c 400 "$MG_TMP/rc_body")"
mg_say "running generation $GEN"

# The curl loop: "TIME_US VIP HTTP_CODE" lines until $MG_TMP/stop exists.
# shellcheck disable=SC2016 # expanded by the inner bash
nsx mg-client bash -c '
  while [ ! -e "$1/stop" ]; do
    for vip in 198.18.50.10 198.18.50.40; do
      c=$(curl -s --max-time 1 -o /dev/null -w "%{http_code}" "http://$vip:80/id")
      echo "${EPOCHREALTIME/./} $vip $c"
    done
    sleep 0.2
  done' _ "$MG_TMP" >"$MG_TMP/loop.txt" 2>&1 </dev/null 9>&- &
LOOP_PID=$!
L4_PIDS+=("$LOOP_PID")
sleep 2

# window_gets FROM_US TO_US: "OK TOTAL" of the loop's GETs in the window.
window_gets() {
  awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b { n++; if ($3 == "200") ok++ } END { printf "%d %d", ok, n }' "$MG_TMP/loop.txt"
}

# ---- 1. mgmtd killed ---------------------------------------------------------------------
echo "== kill -9 mgmtd"
t_kill=$(now_us)
mgmt_stop_mgmtd KILL
sleep 3
st=$(mgmt_dp_generation)
if [ "$st" = "$GEN mgmtd" ]; then
  mg_pass "mgmtd gone: the data plane still runs generation $GEN from mgmtd (push_tool status: $st)"
else
  mg_fail "mgmtd gone: push_tool status says '$st', want '$GEN mgmtd'"
  "$MESHGATE_PUSH_TOOL" "$MGMT_SOCKET" status 2>&1 | mg_indent
fi

# ---- 2. mgmtd back -----------------------------------------------------------------------
echo "== mgmtd restarts"
applied_before=$(dp_applied)
log_lines=$(wc -l <"$MGMTD_LOG")
MGMT_STARTS=2 mgmt_start_mgmtd
t_back=$(now_us)
read -r ok total <<<"$(window_gets "$t_kill" "$t_back")"
if [ "$total" -gt 0 ] && [ "$ok" -eq "$total" ]; then
  mg_pass "traffic while mgmtd was away: $ok of $total GETs (web4 and extra) answered"
else
  mg_fail "traffic while mgmtd was away: $ok of $total GETs answered"
fi
sleep 3 # mgmtd checks the data plane every second
new_log=$(tail -n +"$((log_lines + 1))" "$MGMTD_LOG")
run_line=$(grep '"mgmtd.running"' <<<"$new_log" | tail -n 1)
if [[ $run_line =~ \"generation\":\"?${GEN}[^0-9] ]]; then
  mg_pass "mgmtd restarted at generation $GEN (its mgmtd.running line)"
else
  mg_fail "mgmtd's mgmtd.running line after the restart does not say generation $GEN: $run_line"
fi
if grep -q '"dataplane.up"' <<<"$new_log" && ! grep -q '"commit.repushed"' <<<"$new_log" &&
  [ "$(dp_applied)" -eq "$applied_before" ]; then
  mg_pass "no re-push: mgmtd found the data plane reachable, running its generation" \
    "($(grep '"dataplane.up"' <<<"$new_log" | head -n 1 | grep -oE '"generation":"?[0-9]+' || true))"
else
  mg_fail "after mgmtd's restart: dataplane.up $(grep -c '"dataplane.up"' <<<"$new_log" || true)," \
    "commit.repushed $(grep -c '"commit.repushed"' <<<"$new_log" || true), data plane applied" \
    "$applied_before -> $(dp_applied) (want: dataplane.up, no re-push)"
  printf '%s\n' "$new_log" | tail -n 15 | mg_indent
fi
g=$(oper_generation)
if [ "$g" = "$GEN" ]; then
  mg_pass "RESTCONF operational config-generation after mgmtd's restart: $g"
else
  mg_fail "RESTCONF operational config-generation after mgmtd's restart: $g, want $GEN"
fi
code=$(rc_code GET /restconf/data/meshgate-config:meshgate/service=extra/vip)
if [[ $code == 200 ]] && grep -q '198.18.50.40' "$MG_TMP/rc_body"; then
  mg_pass "running config kept across mgmtd's restart: service extra is there"
else
  mg_fail "service extra after mgmtd's restart: HTTP $code: $(head -c 300 "$MG_TMP/rc_body")"
fi
check "GET through extra with mgmtd back" mgmt_vip_ok 198.18.50.40

# ---- 3. the data plane killed and restarted ----------------------------------------------
echo "== kill -9 the data plane, start it again (from its file: generation 1, no extra)"
mg_stop_dataplane KILL
sleep 2
grep -q '"dataplane.down"' "$MGMTD_LOG" && mg_say "mgmtd noticed: $(grep '"dataplane.down"' "$MGMTD_LOG" | tail -n 1 | cut -c 1-200)"
mg_start_dataplane
t_dp=$(now_us)
if mgmt_wait_pushed; then
  t_push=$(now_us)
  secs=$(awk -v a="$t_dp" -v b="$t_push" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
  read -r ag asrc <<<"$(dp_last_applied)"
  if [ "$ag" = "$GEN" ] && [ "$asrc" = mgmtd ] && awk -v s="$secs" -v m="$REPUSH_MAX_S" 'BEGIN { exit !(s <= m) }'; then
    mg_pass "mgmtd re-pushed running ${secs} s after the data plane came up: generation $ag, source $asrc"
  else
    mg_fail "re-push after ${secs} s (max $REPUSH_MAX_S): the data plane applied generation '$ag' from '$asrc', want $GEN from mgmtd"
  fi
else
  mg_fail "mgmtd did not push running to the restarted data plane within 10 s"
  tail -n 15 "$MGMTD_LOG" | mg_indent
fi
g=$(oper_generation)
if [ "$g" = "$GEN" ]; then
  mg_pass "RESTCONF operational config-generation after the data plane's restart: $g"
else
  mg_fail "RESTCONF operational config-generation after the data plane's restart: $g, want $GEN"
fi
check "GET through extra answers again (only in mgmtd's running config)" vip_ok_within 10 198.18.50.40
check "GET through web4 answers again" vip_ok_within 10 198.18.50.10

touch "$MG_TMP/stop"
wait "$LOOP_PID" 2>/dev/null
read -r ok total <<<"$(window_gets 0 99999999999999999)"
mg_say "curl loop: $ok of $total GETs answered over the whole test (the data plane's restart included)"
mg_finish
