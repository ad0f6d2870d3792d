#!/usr/bin/env bash
# L4 SYN flood (tests/integration/l4/l4_synflood.json): VIP 198.18.50.1:80 over b1 198.18.2.10
# (mg-srv1) and b3 198.18.3.10 (mg-srv2), synProxy "auto" with synProxyThreshold 50.
# hping3 in mg-client sends 20000 SYNs from random spoofed sources to the VIP (10000/s, bounded
# by count and time) while a loop of real curl connections runs: at least 95% of them must
# succeed (once 50 SYNs are half-open the gateway answers SYNs with cookies and keeps no state,
# so real clients complete through the SYN proxy). Afterwards sessions_active stays far below the
# SYNs sent and syn_cookies_sent > 0.
# Without a flood: VIPs 198.18.50.2 / fd00:50::2 with synProxy "always" (every connection through
# the SYN proxy: cookie SYN-ACK to the client, the gateway's own SYN to the backend) answer a
# request and a 1 MiB download, both families.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"
l4_setup l4_synflood.json hping3 dpdk-telemetry.py

SYNS=20000
l4_backend mg-srv1 198.18.2.10 b1
l4_backend mg-srv2 198.18.3.10 b3
l4_backend mg-srv1 fd00:2::10 b1-6
l4_backend mg-srv2 fd00:3::10 b3-6
l4_warm mg-client 198.18.2.10 198.18.3.10 fd00:2::10 fd00:3::10
VIP_URL=$(l4_url 198.18.50.1 80 /)

check "a request through the VIP before the flood" l4_get mg-client "$VIP_URL"

echo "== SYN proxy without a flood (synProxy \"always\")"
for vip in 198.18.50.2 fd00:50::2; do
  c0=$(l4_stat l4 syn_cookies_accepted)
  body=$(l4_get mg-client "$(l4_url "$vip" 80 /)" 2>&1)
  rc=$?
  c1=$(l4_stat l4 syn_cookies_accepted)
  if [ $rc -eq 0 ] && [[ $body =~ ^b[13] ]]; then
    mg_pass "SYN-proxied $vip:80: answered by ${body%% *} (syn_cookies_accepted $c0 -> $c1)"
  else
    mg_fail "SYN-proxied $vip:80: curl exit $rc, answer '$body' (syn_cookies_accepted $c0 -> $c1, drop syn_proxy_pending $(l4_stat drops syn_proxy_pending))"
  fi
  [ $rc -eq 0 ] || continue # the download would only time out as well
  size=$(nsx mg-client curl -sS --max-time 5 -o /dev/null -w '%{size_download}' "$(l4_url "$vip" 80 /bytes/1048576)" 2>&1)
  check "SYN-proxied $vip:80: 1 MiB download ($size bytes)" test "$size" = 1048576
done

echo "== $SYNS spoofed SYNs (hping3 --rand-source, 10000/s) and real connections meanwhile"
timeout 30 ip netns exec mg-client hping3 --rand-source -S -p 80 -c "$SYNS" -i u100 198.18.50.1 \
  >"$MG_TMP/hping3.out" 2>&1 9>&- &
flood_pid=$!
sleep 0.5
# Real clients during the flood and after it (the SYN proxy stays on while the flood's half-open
# sessions live): 30 connections, 3 s each and 15 s in all at most.
# shellcheck disable=SC2016 # expanded by the inner shell
nsx mg-client bash -c '
  ok=0; fail=0; end=$((SECONDS + 15))
  for i in $(seq 30); do
    [ $SECONDS -lt $end ] || break
    t=$(curl -s --max-time 3 -o /dev/null -w "%{time_connect} %{time_total}" "$1")
    rc=$?
    echo "$i exit $rc connect ${t% *} total ${t#* } $(date +%s.%N)" >>"$2"
    if [ $rc -eq 0 ]; then ok=$((ok + 1)); else fail=$((fail + 1)); fi
    sleep 0.05
  done
  echo "$ok $fail"' x "$VIP_URL" "$MG_TMP/real.log" >"$MG_TMP/real.out" 2>&1
mid_active=$(l4_stat l4 sessions_active)
wait "$flood_pid"
flood_rc=$?
read -r ok fail <"$MG_TMP/real.out"
sent=$(grep -oE '^[0-9]+ packets transmitted' "$MG_TMP/hping3.out" | grep -oE '^[0-9]+')
mg_say "hping3 exit $flood_rc: $(grep -E 'packets transmitted' "$MG_TMP/hping3.out")"
check "hping3 sent the flood (${sent:-?} SYNs)" test "${sent:-0}" -ge $((SYNS / 2))
awk '$3 != 0' "$MG_TMP/real.log" | head -n 10 | sed 's/^/   failed: /'
pct=$(awk -v o="${ok:-0}" -v f="${fail:-0}" 'BEGIN { if (o + f == 0) print 0; else printf "%.1f", 100 * o / (o + f) }')
check "real connections during the flood: ${ok:-?} of $((${ok:-0} + ${fail:-0})) succeeded (${pct}%, want >= 95%)" \
  awk -v p="$pct" 'BEGIN { exit !(p >= 95) }'

echo "== state after the flood"
l4=$(l4_tel /meshgate/l4)
echo "   /meshgate/l4: $l4"
active=$(l4_field "$l4" sessions_active)
half=$(l4_field "$l4" sessions_half_open)
cookies=$(l4_field "$l4" syn_cookies_sent)
accepted=$(l4_field "$l4" syn_cookies_accepted)
created=$(l4_field "$l4" sessions_created)
mg_say "SYNs sent ${sent:-?}; sessions_active $mid_active during the real-client loop, $active after; half_open $half; sessions_created $created; syn_cookies_sent $cookies; syn_cookies_accepted $accepted"
check "syn_cookies_sent > 0 ($cookies)" test "${cookies//\?/0}" -gt 0
check "sessions_active stays bounded: $active after ${sent:-?} SYNs (want < 500)" test "${active//\?/999999}" -lt 500
check "sessions_created stays bounded: $created (want < 1000)" test "${created//\?/999999}" -lt 1000
drops=$(l4_tel /meshgate/drops)
"$L4_PY" -c 'import json,sys; d=json.loads(sys.argv[1])["/meshgate/drops"]
print("   nonzero drops: " + ", ".join(f"{k} {v}" for k, v in d.items() if v))' "$drops" 2>/dev/null
check "a request through the VIP after the flood" l4_get mg-client "$VIP_URL"

mg_finish
