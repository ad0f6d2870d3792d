#!/usr/bin/env bash
# L4 egress SNAT (tests/integration/l4/l4_snat.json): pool "srv1-out" translates sources
# 198.18.2.0/24 and fd00:2::/64 leaving through the client interface to 198.18.60.1 / fd00:60::1
# (outside every lab subnet: mg-client answers through its default route, the gateway).
# From mg-srv1 to peers in mg-client: TCP (the HTTP peer reports the address it saw), UDP (an echo
# peer reports it), ping (a raw-socket sniffer in mg-client reports the echo requests' source);
# mg-srv2 is not in the pool and keeps its address; nothing reaches the pool address unasked.
# Then the endpoint-independent variant: one source port to two destinations keeps one mapping.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"
l4_setup l4_snat.json dpdk-telemetry.py

l4_http mg-client 198.18.1.2 client4
l4_http mg-client fd00:1::2 client6
l4_addr mg-client 198.18.1.3/32
l4_addr mg-client fd00:1::3/128
for a in 198.18.1.2 fd00:1::2 198.18.1.3 fd00:1::3; do l4_peer mg-client udp-echo "$a" 9000 "echo-$a"; done
l4_warm mg-srv1 198.18.1.2 fd00:1::2 198.18.1.3 fd00:1::3
l4_warm mg-srv2 198.18.1.2 fd00:1::2

# check_peer LABEL NS URL WANT: the HTTP peer in mg-client saw WANT as the client's address.
check_peer() {
  local label=$1 ns=$2 url=$3 want=$4 body rc peer
  body=$(l4_get "$ns" "$url" 2>&1)
  rc=$?
  read -r _ _ peer _ <<<"$body"
  if [ $rc -eq 0 ] && [ "$peer" = "$want" ]; then
    mg_pass "$label: $url saw the client as $peer"
  else
    mg_fail "$label: $url: curl exit $rc, answer '$body' (want peer $want)"
  fi
}

# udp_ask NS ADDR [SPORT]: the echo's answer "NAME PEER PEERPORT" (empty without one).
udp_ask() { nsx "$1" "$L4_PY" "$L4_PEER" udp-ask "$2" 9000 "${3:-0}" 2>/dev/null; }

# check_udp LABEL NS ADDR WANT
check_udp() {
  local label=$1 ns=$2 addr=$3 want=$4 ans peer port
  ans=$(udp_ask "$ns" "$addr")
  read -r _ peer port <<<"$ans"
  if [ "$peer" = "$want" ]; then
    mg_pass "$label: the echo at $addr:9000 saw $peer port $port, and its answer came back"
  else
    mg_fail "$label: echo at $addr:9000 answered '${ans:-nothing}' (want peer $want)"
  fi
}

# check_ping_source LABEL FAMILY DEST WANT: ping from mg-srv1 answered, and the echo requests
# that reached mg-client came from WANT only.
check_ping_source() {
  local label=$1 fam=$2 dest=$3 want=$4 sniff=$MG_TMP/sniff-$2.txt pid srcs _
  ip netns exec mg-client "$L4_PY" "$L4_PEER" icmp-sniff "$fam" 3 >"$sniff" 2>&1 9>&- &
  pid=$!
  for _ in $(seq 20); do grep -q listening "$sniff" && break; sleep 0.1; done
  check_ping mg-srv1 "$dest" "$label: ping srv1 -> $dest"
  wait "$pid"
  srcs=$(grep -v listening "$sniff" | sort -u | tr '\n' ' ')
  if [ "${srcs% }" = "$want" ]; then
    mg_pass "$label: echo requests reached mg-client from $want only"
  else
    mg_fail "$label: echo requests reached mg-client from '${srcs% }' (want $want only)"
  fi
}

echo "== TCP from mg-srv1 (in the pool) and mg-srv2 (not)"
check_peer "tcp v4 srv1" mg-srv1 "$(l4_url 198.18.1.2 8080 /)" 198.18.60.1
check_peer "tcp v6 srv1" mg-srv1 "$(l4_url fd00:1::2 8080 /)" fd00:60::1
check_peer "tcp v4 srv2 (no SNAT)" mg-srv2 "$(l4_url 198.18.1.2 8080 /)" 198.18.3.2
check_peer "tcp v6 srv2 (no SNAT)" mg-srv2 "$(l4_url fd00:1::2 8080 /)" fd00:3::2
size=$(nsx mg-srv1 curl -sS --max-time 10 -o /dev/null -w '%{size_download}' "$(l4_url 198.18.1.2 8080 /bytes/4194304)" 2>&1)
check "tcp v4 srv1: 4 MiB download through the SNAT session ($size bytes)" test "$size" = 4194304

echo "== UDP from mg-srv1"
check_udp "udp v4 srv1" mg-srv1 198.18.1.2 198.18.60.1
check_udp "udp v6 srv1" mg-srv1 fd00:1::2 fd00:60::1

echo "== ping from mg-srv1"
check_ping_source "icmp v4" 4 198.18.1.2 198.18.60.1
check_ping_source "icmp v6" 6 fd00:1::2 fd00:60::1

echo "== the pool address takes nothing unasked"
out=$(nsx mg-client curl -sS --max-time 2 "$(l4_url 198.18.60.1 8080 /)" 2>&1)
rc=$?
check "mg-client -> 198.18.60.1:8080 with no mapping is not answered (curl exit $rc: ${out:0:60})" test $rc -ne 0
out=$(nsx mg-client curl -sS --max-time 2 "$(l4_url fd00:60::1 8080 /)" 2>&1)
rc=$?
check "mg-client -> [fd00:60::1]:8080 with no mapping is not answered (curl exit $rc: ${out:0:60})" test $rc -ne 0

echo "== mapping per destination vs endpoint-independent (ports 20000-20063)"
l4_cfg_edit 'p = c["snatPools"][0]; p["portMin"] = 20000; p["portMax"] = 20063'
l4_check_reload "reload: pool ports 20000-20063, endpointIndependent false"
a=$(udp_ask mg-srv1 198.18.1.2 40001)
b=$(udp_ask mg-srv1 198.18.1.3 40001)
mg_say "endpoint-dependent: srv1 port 40001 seen by 198.18.1.2 as '${a#* }', by 198.18.1.3 as '${b#* }'"
l4_cfg_edit 'c["snatPools"][0]["endpointIndependent"] = True'
l4_check_reload "reload: endpointIndependent true"
for fam in 4 6; do
  if [ $fam = 4 ]; then d1=198.18.1.2 d2=198.18.1.3; else d1=fd00:1::2 d2=fd00:1::3; fi
  a=$(udp_ask mg-srv1 "$d1" 40002)
  b=$(udp_ask mg-srv1 "$d2" 40002)
  read -r _ pa porta <<<"$a"
  read -r _ pb portb <<<"$b"
  if [ -n "$porta" ] && [ "$pa $porta" = "$pb $portb" ] && [ "$porta" -ge 20000 ] && [ "$porta" -le 20063 ]; then
    mg_pass "eim v$fam: srv1 port 40002 is $pa port $porta for both $d1 and $d2"
  else
    mg_fail "eim v$fam: srv1 port 40002 seen by $d1 as '${a:-nothing}', by $d2 as '${b:-nothing}' (want one mapping in 20000-20063)"
  fi
done

echo "   /meshgate/l4: $(l4_tel /meshgate/l4)"
mg_finish
