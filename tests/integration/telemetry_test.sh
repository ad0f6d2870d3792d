#!/usr/bin/env bash
# Counters as an SRE reads them: after a known number of pings through the gateway, the DPDK
# telemetry socket (dpdk-telemetry.py, /meshgate/ports and /meshgate/drops) and the SIGUSR1
# report show at least those packets on the right ports, and a drop reason counts what it should.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mg_setup dpdk-telemetry.py python3

telemetry() { # CMD -> JSON on stdout
  echo "$1" | timeout 10 dpdk-telemetry.py -f "$MG_PREFIX" 2>/dev/null | grep -E '^\{"/meshgate' | tail -n 1
}

# json_get JSON PY-EXPR: evaluates EXPR with the parsed JSON bound to d.
json_get() { /usr/bin/python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"; }

echo "== known traffic: 20 pings each way per family, and 5 with TTL 1"
check_ping mg-client 198.18.2.2 "warm-up v4"
check_ping mg-client fd00:2::2 "warm-up v6"
before=$(telemetry "/meshgate/ports")
[ -n "$before" ] || mg_die "no answer from the telemetry socket (/var/run/dpdk/$MG_PREFIX/dpdk_telemetry.v2)"
nsx mg-client ping -c 20 -i 0.05 -W 1 -q 198.18.2.2 >/dev/null
nsx mg-client ping -6 -c 20 -i 0.05 -W 1 -q fd00:2::2 >/dev/null
nsx mg-client ping -c 5 -i 0.05 -W 1 -q -t 1 198.18.2.2 >/dev/null
after=$(telemetry "/meshgate/ports")

delta() { # IFACE FIELD
  json_get "$after" "d['/meshgate/ports']['$1']['$2']" | {
    read -r a
    b=$(json_get "$before" "d['/meshgate/ports']['$1']['$2']")
    echo $((a - b))
  }
}
d_client_rx=$(delta client rx_packets)
d_srv1_tx=$(delta srv1 tx_packets)
d_srv1_rx=$(delta srv1 rx_packets)
d_client_tx=$(delta client tx_packets)
d_ttl=$(delta client drop_ttl_exceeded)
echo "   client rx +$d_client_rx tx +$d_client_tx, srv1 rx +$d_srv1_rx tx +$d_srv1_tx, client ttl_exceeded +$d_ttl"
check "client rx counted the 45 requests" test "$d_client_rx" -ge 45
check "srv1 tx counted the 40 forwarded requests" test "$d_srv1_tx" -ge 40
check "srv1 rx counted the 40 replies" test "$d_srv1_rx" -ge 40
check "client tx counted 40 replies and 5 ICMP errors" test "$d_client_tx" -ge 45
check "drop reason ttl_exceeded counted exactly the 5 expired pings" test "$d_ttl" -eq 5

drops=$(telemetry "/meshgate/drops")
check "/meshgate/drops names every reason (ttl_exceeded among them)" \
  test "$(json_get "$drops" "d['/meshgate/drops']['ttl_exceeded']")" -ge 5
info=$(telemetry "/meshgate/info")
check "/meshgate/info counts ICMP errors sent" test "$(json_get "$info" "d['/meshgate/info']['icmp_errors_sent']")" -ge 5

echo "== SIGUSR1 report"
lines=$(wc -l <"$MG_LOG")
kill -USR1 "$MG_PID"
sleep 1
report=$(tail -n +"$((lines + 1))" "$MG_LOG")
printf '%s\n' "$report" | head -n 20 | mg_indent
client_rx=$(printf '%s\n' "$report" | awk '$2 == "client" { print $3; exit }')
check "report shows client rx_packets >= 45" test "${client_rx:-0}" -ge 45
check "report lists the ttl_exceeded drops" grep -qE 'drop ttl_exceeded +[0-9]+' <<<"$report"
check "report lists resolved neighbors" grep -qE '^neighbor srv1 198\.18\.2\.2 [0-9a-f:]{17} reachable' <<<"$report"

mg_finish
