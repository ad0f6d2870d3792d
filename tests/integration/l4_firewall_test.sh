#!/usr/bin/env bash
# L4 stateful firewall (tests/integration/l4/l4_firewall.json): defaultAction "deny" with allow
# rules for the client's prefixes to the VIP's port 80, a "log" rule for port 82, and ICMP from
# the client's prefixes to the srv1 subnet. VIPs 198.18.50.1 / fd00:50::1 ports 80, 81, 82, all
# to b1 (198.18.2.10 / fd00:2::10 in mg-srv1).
#  - allowed: HTTP to VIP:80 and ping to mg-srv1, both families
#  - denied: VIP:81, the backend's own address, ping to mg-srv2: no answer, acl_denied counts
#  - log: VIP:82 works and acl_logged counts every new flow
#  - reload: the port-80 rules move to port 8443; downloads already running through VIP:80 (one
#    per family) go on to the end, a new connection to VIP:80 is denied
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"
l4_setup l4_firewall.json dpdk-telemetry.py

l4_backend mg-srv1 198.18.2.10 b1
l4_backend mg-srv1 fd00:2::10 b1-6

denied0=$(l4_stat drops acl_denied)
logged0=$(l4_stat l4 acl_logged)

# check_http LABEL URL: answered by a backend.
check_http() {
  local body rc
  body=$(l4_get mg-client "$2" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && [[ $body =~ ^b1 ]]; then
    mg_pass "$1: $2 answered by ${body%% *}"
  else
    mg_fail "$1: $2: curl exit $rc, answer '$body'"
  fi
}

# check_http_denied LABEL URL: no answer within 2 s (no RST either: the SYN is dropped).
check_http_denied() {
  local body rc
  body=$(l4_get mg-client "$2" --connect-timeout 2 2>&1)
  rc=$?
  if [ $rc -eq 28 ]; then
    mg_pass "$1: $2 gets no answer (curl exit 28, timed out)"
  else
    mg_fail "$1: $2: curl exit $rc (want 28, a timeout), answer '$body'"
  fi
}

echo "== allowed"
check_ping mg-client 198.18.2.2 "ping v4 client -> srv1 (rule ping4)"
check_ping mg-client fd00:2::2 "ping v6 client -> srv1 (rule ping6)"
check_http "http v4 VIP:80 (rule web4)" "$(l4_url 198.18.50.1 80 /)"
check_http "http v6 VIP:80 (rule web6)" "$(l4_url fd00:50::1 80 /)"

echo "== denied by default"
check_ping_fails mg-client 198.18.3.2 "ping v4 client -> srv2 (no rule)"
check_ping_fails mg-client fd00:3::2 "ping v6 client -> srv2 (no rule)"
check_http_denied "http v4 VIP:81 (no rule)" "$(l4_url 198.18.50.1 81 /)"
check_http_denied "http v6 VIP:81 (no rule)" "$(l4_url fd00:50::1 81 /)"
check_http_denied "http v4 to the backend's own address (no rule)" "$(l4_url 198.18.2.10 8080 /)"
denied1=$(l4_stat drops acl_denied)
mg_say "acl_denied $denied0 -> $denied1"
check "acl_denied counted the denied pings and SYNs (+$((denied1 - denied0)), at least 10)" \
  test "$((denied1 - denied0))" -ge 10

echo "== log rule (allow and count)"
for i in 1 2; do
  check_http "http v4 VIP:82 #$i (rule logged4, action log)" "$(l4_url 198.18.50.1 82 /)"
  check_http "http v6 VIP:82 #$i (rule logged6, action log)" "$(l4_url fd00:50::1 82 /)"
done
logged1=$(l4_stat l4 acl_logged)
check "acl_logged counted the 4 logged connections ($logged0 -> $logged1)" test "$((logged1 - logged0))" -eq 4
sleep 0.5
logged_lines=$(grep -c 'acl: rule .* log: proto 6 .*:82 in client' "$MG_LOG")
grep 'acl: rule .* log:' "$MG_LOG" | head -2 | mg_indent
check "the data plane logged each of them as a line ($logged_lines)" test "$logged_lines" -eq 4

echo "== established flows survive a reload that denies them as new flows"
declare -A SLOW
for vip in 198.18.50.1 fd00:50::1; do
  nsx mg-client curl -sS --max-time 15 --limit-rate 2M -o /dev/null -w '%{size_download} %{http_code}\n' \
    "$(l4_url "$vip" 80 /bytes/12582912)" >"$MG_TMP/slow-$vip.out" 2>&1 9>&- &
  SLOW[$vip]=$!
done
sleep 1.5
l4_cfg_edit 'for r in c["firewall"]["rules"]:
    if r["name"] in ("web4", "web6"): r["destinationPorts"] = "8443"'
l4_check_reload "reload: rules web4/web6 now allow port 8443 instead of 80"
check_http_denied "new http v4 VIP:80 after the reload" "$(l4_url 198.18.50.1 80 /)"
check_http_denied "new http v6 VIP:80 after the reload" "$(l4_url fd00:50::1 80 /)"
check_ping mg-client 198.18.2.2 "ping v4 client -> srv1 after the reload"
check_ping mg-client fd00:2::2 "ping v6 client -> srv1 after the reload"
for vip in 198.18.50.1 fd00:50::1; do
  wait "${SLOW[$vip]}"
  rc=$?
  read -r size code <"$MG_TMP/slow-$vip.out"
  if [ $rc -eq 0 ] && [ "$size" = 12582912 ]; then
    mg_pass "12 MiB download via $vip:80 started before the reload: complete ($size bytes, HTTP $code)"
  else
    mg_fail "12 MiB download via $vip:80 started before the reload: curl exit $rc, $(cat "$MG_TMP/slow-$vip.out")"
  fi
done

echo "== counters"
echo "   /meshgate/l4: $(l4_tel /meshgate/l4)"
report=$(l4_usr1)
printf '%s\n' "$report" | grep -E 'acl_denied|sessions_active' | mg_indent
check "SIGUSR1 report lists drop acl_denied on the client port" \
  grep -qE '^ +drop acl_denied +[0-9]+' <<<"$report"

mg_finish
