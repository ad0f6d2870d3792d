#!/usr/bin/env bash
# Live remote mirroring (configs in capture/mirror_taps.json): taps on the client port send their
# copies in GRE + ERSPAN type II to a collector, the srv1 host, where a capture decodes them with
# tshark ("erspan"):
#   m4      10 pings client -> srv2, to collector 198.18.2.2, session 7 (and to a pcapng file)
#   m6      5 ping6 requests client -> srv2, to collector fd00:2::2 (IPv6 outer header), session 9
#   mflood  a UDP flood limited to 100 copies/s: the rest counted as dropped, the collector gets
#           exactly the copies counted as mirrored, and every datagram is still forwarded
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/capture/cap_lib.sh
source "$(dirname "$0")/capture/cap_lib.sh"
cap_setup mirror_taps.json tshark dumpcap
udp_noports() { nsx mg-srv2 awk '/^Udp:/ { n++ } /^Udp:/ && n == 2 { print $3 }' /proc/net/snmp; }  # NoPorts

client_port=$(tel --get /meshgate/ports "d['client']['port']")
mg_say "client is DPDK port $client_port"

# The collector: a capture of GRE in srv1's namespace.
ip netns exec mg-srv1 timeout 50 dumpcap -q -i eth0 -f "ip proto 47 or ip6 proto 47" -w "$MG_TMP/collector.pcapng" \
  >"$MG_TMP/collector.log" 2>&1 </dev/null 9>&- &
collector=$!
BG_PIDS+=("$collector")
for _ in $(seq 100); do grep -q 'Capturing on' "$MG_TMP/collector.log" && break; sleep 0.1; done
check "collector capture in mg-srv1 started" grep -q 'Capturing on' "$MG_TMP/collector.log"

echo "== traffic: 10 pings and 5 ping6 client -> srv2, then a UDP flood to srv2 port 7777"
out=$(nsx mg-client ping -c 10 -i 0.05 -W 1 -p 6d697272 198.18.3.2 2>&1)
check "10 pings answered: $(ping_summary "$out")" grep -q ' 0% packet loss' <<<"$out"
out=$(nsx mg-client ping -6 -c 5 -i 0.05 -W 1 fd00:3::2 2>&1)
check "5 ping6 answered: $(ping_summary "$out")" grep -q ' 0% packet loss' <<<"$out"
before=$(udp_noports)
t0=$(date +%s.%N)
nsx mg-client timeout 20 /usr/bin/python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3000):
    s.sendto(b"flood %06d " % i + b"x" * 50, ("198.18.3.2", 7777))
    if i % 100 == 99:
        time.sleep(0.01)  # 3000 in about 0.4 s: a flood for the tap, not for the veth backlog
'
t1=$(date +%s.%N)
sleep 1
delivered=$(($(udp_noports) - before))
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
kill -INT "$collector" 2>/dev/null
wait "$collector" 2>/dev/null

m4_mirrored=$(tap_field m4 mirrored)
m6_mirrored=$(tap_field m6 mirrored)
matched=$(tap_field mflood matched)
captured=$(tap_field mflood captured)
limited=$(tap_field mflood dropped_rate_limit)
mirrored=$(tap_field mflood mirrored)
mg_say "m4 mirrored $m4_mirrored, m6 mirrored $m6_mirrored; flood ${secs}s: srv2 got $delivered datagrams, tap matched" \
  "$matched, captured $captured, rate-limited $limited, mirrored $mirrored"

/usr/bin/python3 "$CAP/erspan_fields.py" "$MG_TMP/collector.pcapng" >"$MG_TMP/erspan.jsonl" 2>"$MG_TMP/erspan.err"
check "tshark decodes the collector's capture as ERSPAN" test -s "$MG_TMP/erspan.jsonl"
mg_say "collector: $(wc -l <"$MG_TMP/erspan.jsonl") ERSPAN packets"

# verify SESSION PY-CONDITION DESCRIPTION: the condition holds for the session's packets `p`.
verify() {
  check "$3" /usr/bin/python3 -c "
import json, sys
p = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)['span'] == $1]
ok = $2
if not ok:
    print(json.dumps(p[:3], indent=1))
sys.exit(0 if ok else 1)" "$MG_TMP/erspan.jsonl"
}

echo "== m4: IPv4 collector, session 7"
check "telemetry: m4 mirrored 10" test "$m4_mirrored" -eq 10
verify 7 "len(p) == 10" "session 7: the collector decoded 10 ERSPAN packets"
verify 7 "all(x['version'] == 1 for x in p)" "ERSPAN version 1 (type II)"
verify 7 "all(x['index'] == $client_port for x in p)" "ERSPAN index = the client port ($client_port)"
verify 7 "[x['gre_seq'] for x in p] == list(range(10))" "GRE sequence numbers 0..9"
verify 7 "all(x['outer'] == ['198.18.2.1', '198.18.2.2'] for x in p)" "outer IPv4 198.18.2.1 (srv1's) -> 198.18.2.2"
verify 7 "all(x['inner'] == ['198.18.1.2', '198.18.3.2'] and x['icmp_type'] == 8 for x in p)" \
  "inner packets: echo requests 198.18.1.2 -> 198.18.3.2"
verify 7 "sorted(x['icmp_seq'] for x in p) == list(range(1, 11))" "inner ICMP sequence numbers 1..10"
verify 7 "all('6d6972726d697272' in x['data'] for x in p)" "inner payloads carry ping's pattern 6d697272"
check "m4 also wrote the 10 copies to its pcapng file" \
  test "$(capinfos -c -M -T -r "$MG_TMP"/m4/*.pcapng | awk -F'\t' '{ n += $2 } END { print n + 0 }')" -eq 10

echo "== m6: IPv6 collector, session 9"
check "telemetry: m6 mirrored 5" test "$m6_mirrored" -eq 5
verify 9 "len(p) == 5" "session 9: the collector decoded 5 ERSPAN packets"
verify 9 "all(x['outer'] == ['fd00:2::1', 'fd00:2::2'] for x in p)" "outer IPv6 fd00:2::1 -> fd00:2::2"
verify 9 "all(x['inner'] == ['fd00:1::2', 'fd00:3::2'] and x['icmp_type'] == 128 for x in p)" \
  "inner packets: ICMPv6 echo requests fd00:1::2 -> fd00:3::2"

echo "== mflood: 3000 datagrams in ${secs}s against 100 copies/s (burst 10)"
check "every datagram that reached the gateway was forwarded to srv2 ($delivered of $matched)" \
  test "$delivered" -eq "$matched" -a "$matched" -ge 2500
check "copies within 100/s x ${secs}s + burst 10 ($captured)" \
  awk -v c="$captured" -v s="$secs" 'BEGIN { exit !(c >= 10 && c <= 100 * (s + 0.5) + 11) }'
check "the rest counted as rate-limited ($limited = $matched - $captured)" test "$limited" -eq $((matched - captured))
check "every copy taken was mirrored" test "$mirrored" -eq "$captured" -a "$(tap_field mflood mirror_dropped)" -eq 0
verify 11 "len(p) == $mirrored" "the collector received exactly the $mirrored mirrored copies (session 11)"
verify 11 "all(x['udp_dport'] == 7777 and x['inner'] == ['198.18.1.2', '198.18.3.2'] for x in p)" \
  "inner packets: the flood's datagrams"

echo "== mirror copies are not tapped again"
check "no tap saw an ERSPAN packet (m4 matched only the 10 pings)" test "$(tap_field m4 matched)" -eq 10

mg_finish
