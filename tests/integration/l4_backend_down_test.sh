#!/usr/bin/env bash
# L4 services, a backend taken out (tests/integration/l4/l4_backend_down.json): VIP 198.18.50.1:80
# over b1 198.18.2.10, b2 198.18.2.11 (mg-srv1), b3 198.18.3.10, b4 198.18.3.11 (mg-srv2).
#
#  1. 200 connections from fixed client ports record which backend each port lands on.
#  2. A slow 24 MiB download (about 12 s) starts through the VIP.
#  3. b2 gets adminState "down" in the config file, SIGHUP: the data plane reloads.
#     A port whose last connection (now closing, tcpClosingTimeout 5 s) went to b2 connects again
#     at once: it must not reach b2. Then the 200 ports again (their old sessions have expired):
#     none reaches b2, and of the ports that were on b1/b3/b4 almost none moved (Maglev).
#  4. b2 back up (reload); b4's server process is stopped with no health check configured: what
#     new connections get is printed (the gateway cannot know; they are refused by b4's host).
#  5. The download, which lived through both reloads, ends complete with curl exit 0.
#  6. An HTTP health check (reload) marks the stopped backend down within 5 s: every new
#     connection is answered by the others; its server back, the check marks it up again.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"
l4_setup l4_backend_down.json dpdk-telemetry.py

declare -A PID
l4_backend mg-srv1 198.18.2.10 b1; PID[b1]=$L4_LAST_PID
l4_backend mg-srv1 198.18.2.11 b2; PID[b2]=$L4_LAST_PID
l4_backend mg-srv2 198.18.3.10 b3; PID[b3]=$L4_LAST_PID
l4_backend mg-srv2 198.18.3.11 b4; PID[b4]=$L4_LAST_PID
l4_warm mg-client 198.18.2.10 198.18.2.11 198.18.3.10 198.18.3.11
VIP_URL=$(l4_url 198.18.50.1 80 /)
PORT0=21000
NPORTS=200

# by_port FIRST N OUT: N connections from client ports FIRST.. (one curl, a --next section per
# port), "PORT NAME" lines into OUT (NAME "-" when the connection failed, with curl's status).
by_port() {
  local first=$1 n=$2 out=$3 args=() p
  for ((p = first; p < first + n; p++)); do
    [ $p -eq "$first" ] || args+=(--next)
    args+=(-s --max-time 2 --local-port "$p" -w '\n=%{exitcode}\n' "$VIP_URL")
  done
  nsx mg-client curl "${args[@]}" 2>/dev/null |
    awk -v p="$first" '/^=/ { rc = substr($0, 2); if (rc == 0 && name != "") print p, name; else print p, "-", "exit" rc
                              p++; name = ""; next }
                       NF > 0 { name = $1 }' >"$out"
}

# wait_sessions_below N SECS: until /meshgate/l4 sessions_active <= N.
wait_sessions_below() {
  local n=$1 secs=$2 deadline=$((SECONDS + $2)) a
  while [ $SECONDS -lt "$deadline" ]; do
    a=$(l4_stat l4 sessions_active)
    [ "$a" != "?" ] && [ "$a" -le "$n" ] && return 0
    sleep 0.5
  done
  mg_say "sessions_active still ${a:-?} after ${secs}s"
  return 1
}

echo "== 1. $NPORTS connections from fixed client ports $PORT0..$((PORT0 + NPORTS - 1)), all backends up"
by_port "$PORT0" "$NPORTS" "$MG_TMP/before.txt"
summary=$(awk '{ c[$2]++ } END { for (k in c) printf "%s %d  ", k, c[k] }' "$MG_TMP/before.txt")
fails=$(awk '$2 == "-"' "$MG_TMP/before.txt" | wc -l)
check "all $NPORTS connections answered (per backend: $summary)" test "$fails" -eq 0
# Their sessions close (5 s) before anything else reuses the ports.
wait_sessions_below 0 12 || true

echo "== 2. slow download through the VIP (24 MiB at 2 MiB/s) while the config changes"
nsx mg-client curl -sS --max-time 40 --limit-rate 2M -o /dev/null -w '%{size_download} %{http_code}\n' \
  "$(l4_url 198.18.50.1 80 /bytes/25165824)" >"$MG_TMP/slow.out" 2>&1 9>&- &
slow_pid=$!
sleep 1
slow_backend=""
for b in b1 b2 b3 b4; do grep -q '/bytes/' "$MG_TMP/access-$b.log" 2>/dev/null && slow_backend=$b; done
mg_say "the download is served by ${slow_backend:-?}"

echo "== 3. b2 adminState down, SIGHUP"
probe=$(awk '$2 == "b2" { print $1; exit }' "$MG_TMP/before.txt")
pre=$(nsx mg-client curl -s --max-time 2 --local-port "$probe" "$VIP_URL")
mg_say "port $probe before the reload: ${pre%% *} (its session now closing for 5 s)"
l4_cfg_edit 'c["services"][0]["backends"][1]["adminState"] = "down"'
l4_check_reload "reload with b2 down"
post=$(nsx mg-client curl -s --max-time 2 --local-port "$probe" "$VIP_URL")
rc=$?
if [ $rc -eq 0 ] && [ "${post%% *}" != b2 ]; then
  mg_pass "port $probe reconnects within tcpClosingTimeout of its b2 session: answered by ${post%% *}, not b2"
else
  mg_fail "port $probe reconnects within tcpClosingTimeout of its b2 session: curl exit $rc, answered by '${post%% *}' (b2 is admin down)"
fi
wait_sessions_below 1 12 || true  # all but the download
by_port "$PORT0" "$NPORTS" "$MG_TMP/after.txt"
join "$MG_TMP/before.txt" "$MG_TMP/after.txt" >"$MG_TMP/joined.txt"
read -r to_b2 failed kept moved total_b2 <<<"$(awk -v probe="$probe" '$1 != probe {
    if ($3 == "b2") to_b2++
    if ($3 == "-") { failed++; next }
    if ($2 == "b2") { was_b2++; next }
    if ($2 == $3) kept++; else moved++
  } END { printf "%d %d %d %d %d\n", to_b2, failed, kept, moved, was_b2 }' "$MG_TMP/joined.txt")"
summary=$(awk '{ c[$2]++ } END { for (k in c) printf "%s %d  ", k, c[k] }' "$MG_TMP/after.txt")
check "after the reload no connection reaches b2 (per backend: $summary)" test "$to_b2" -eq 0
check "after the reload every connection is answered ($failed failed)" test "$failed" -eq 0
share=$(awk -v m="$moved" -v k="$kept" 'BEGIN { if (m + k == 0) print "0.0"; else printf "%.1f", 100 * m / (m + k) }')
mg_say "flows that were on b2: $total_b2 (moved, as they must); flows on b1/b3/b4: $((kept + moved)), moved $moved = ${share}%"
check "of the flows on the other backends fewer than 5% moved (${share}%, Maglev ideal ~0)" \
  l4_within "$share" 0 5

echo "== 4. b2 back up; b4's server stopped, no health check configured"
l4_cfg_edit 'c["services"][0]["backends"][1]["adminState"] = "up"'
l4_check_reload "reload with b2 up again"
if [ "$slow_backend" = b4 ]; then victim=b3; else victim=b4; fi
l4_stop_peer "${PID[$victim]}"
mg_say "stopped $victim's HTTP server (its address stays; its host answers SYNs with RST)"
spread=$(l4_spread mg-client "$VIP_URL" 40)
answered=$(awk '$1 != "failed" { n += $2 } END { print n + 0 }' <<<"$spread")
# shellcheck disable=SC2016 # expanded by the inner shell
codes=$(nsx mg-client bash -c 'for i in $(seq 10); do curl -s --max-time 2 -o /dev/null "$1"; echo "exit $?"; done' x "$VIP_URL" |
  sort | uniq -c | awk '{ printf "%s %s: %s, ", $2, $3, $1 }')
echo "   40 new connections with $victim's server gone, per backend: $(tr '\n' ' ' <<<"$spread")"
echo "   10 more by curl status: ${codes%, } (7: connection refused by $victim's host, RST)"
echo "   drop no_backend: $(l4_stat drops no_backend); sessions: $(l4_stat l4 sessions_active) active"
echo "   => without a health check the gateway keeps $victim in the Maglev table: its share of new"
echo "      connections (about 1/4) is refused until adminState \"down\" or a health check removes it"
# shellcheck disable=SC2016 # expanded by the inner shell
check "the other backends answer the rest ($answered of 40 answered, none by $victim)" \
  bash -c '[ "$1" -ge 20 ] && ! grep -q "^$2 " <<<"$3"' x "$answered" "$victim" "$spread"

echo "== 5. the download that ran through both reloads"
wait "$slow_pid"
slow_rc=$?
read -r slow_size slow_code <"$MG_TMP/slow.out"
if [ "$slow_rc" -eq 0 ] && [ "$slow_size" = 25165824 ]; then
  mg_pass "24 MiB download from ${slow_backend:-?} through two reloads: curl exit 0, $slow_size bytes, HTTP $slow_code"
else
  mg_fail "24 MiB download from ${slow_backend:-?} through two reloads: curl exit $slow_rc, $(cat "$MG_TMP/slow.out")"
fi

echo "== 6. an HTTP health check finds $victim's server gone, and back"
victim_addr=198.18.3.11
[ "$victim" = b3 ] && victim_addr=198.18.3.10
l4_cfg_edit 'c["services"][0]["healthCheck"] = {"type": "http", "intervalMs": 300, "timeoutMs": 200, "rise": 2, "fall": 2, "httpPath": "/"}'
l4_check_reload "reload with an HTTP health check"
# wait_log PATTERN SECONDS: until the data plane's log has a line matching PATTERN.
wait_log() {
  local _
  for _ in $(seq $(($2 * 10))); do grep -q "$1" "$MG_LOG" && return 0; sleep 0.1; done
  return 1
}
check "health check marks $victim ($victim_addr) down within 5 s" \
  wait_log "health: service [^ ]* backend $victim_addr:8080 down" 5
spread=$(l4_spread mg-client "$VIP_URL" 40)
answered=$(awk '$1 != "failed" { n += $2 } END { print n + 0 }' <<<"$spread")
echo "   40 new connections with $victim down by health check: $(tr '\n' ' ' <<<"$spread")"
check "all 40 new connections answered by the healthy backends (${answered} of 40)" \
  bash -c '[ "$1" -eq 40 ] && ! grep -q "^$2 " <<<"$3"' x "$answered" "$victim" "$spread"
l4_http mg-srv2 "$victim_addr" "$victim"
check "health check marks $victim up again within 5 s of its server's return" \
  wait_log "health: service [^ ]* backend $victim_addr:8080 up" 5

l4=$(l4_tel /meshgate/l4)
echo "   /meshgate/l4: $l4"
mg_finish
