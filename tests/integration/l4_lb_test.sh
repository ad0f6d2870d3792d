#!/usr/bin/env bash
# L4 services, load balancing (tests/integration/l4/l4_lb.json): HTTP through an IPv4 and an IPv6
# full-NAT VIP; the spread over 400 connections per family matches the Maglev weights 1:1:2;
# DNAT services (the backend sees the client's address); NAT46 (IPv4 VIP, IPv6 backends) and
# NAT64 (IPv6 VIP, IPv4 backends) with a download and an upload; iperf3 through a VIP per family.
#
# Backends (added here): b1 198.18.2.10 / fd00:2::10 and b2 198.18.2.11 / fd00:2::11 in mg-srv1,
# b3 198.18.3.10 / fd00:3::10 in mg-srv2 (1280-byte MTU link), each an HTTP peer on :8080 that
# answers "NAME ADDR PEER PEERPORT".
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"
l4_setup l4_lb.json iperf3 dpdk-telemetry.py

l4_backend mg-srv1 198.18.2.10 b1
l4_backend mg-srv1 198.18.2.11 b2
l4_backend mg-srv2 198.18.3.10 b3
l4_backend mg-srv1 fd00:2::10 b1-6
l4_backend mg-srv1 fd00:2::11 b2-6
l4_backend mg-srv2 fd00:3::10 b3-6
l4_warm mg-client 198.18.2.10 198.18.2.11 198.18.3.10 fd00:2::10 fd00:2::11 fd00:3::10 198.18.2.2 fd00:2::2
mg_say "backends up: b1 b2 (mg-srv1), b3 (mg-srv2), each family"

# check_who LABEL URL PEER_REGEX NAME_REGEX: one GET; the answering backend's name must match
# NAME_REGEX and the peer it saw PEER_REGEX.
check_who() {
  local label=$1 url=$2 peer_re=$3 name_re=$4 body rc name peer
  body=$(l4_get mg-client "$url" 2>&1)
  rc=$?
  read -r name _ peer _ <<<"$body"
  if [ $rc -eq 0 ] && [[ $name =~ ^($name_re)$ ]] && [[ $peer =~ ^($peer_re)$ ]]; then
    mg_pass "$label: $url answered by $name, which saw peer $peer"
  else
    mg_fail "$label: $url: curl exit $rc, answer '$body' (want backend /$name_re/, peer /$peer_re/)"
  fi
}

echo "== full-NAT VIPs (the backend sees the gateway's address)"
check_who "full-nat v4" "$(l4_url 198.18.50.1 80 /)" '198\.18\.2\.1|198\.18\.3\.1' 'b1|b2|b3'
check_who "full-nat v6" "$(l4_url fd00:50::1 80 /)" 'fd00:2::1|fd00:3::1' 'b1-6|b2-6|b3-6'

# check_spread LABEL URL N NAME=PERCENT...: N connections; each backend's share within 3 standard
# deviations of a binomial(N, PERCENT) (about 6-7 points at N=400), every request answered.
check_spread() {
  local label=$1 url=$2 n=$3
  shift 3
  local counts want name pct got share tol ok=1 line="" failed
  counts=$(l4_spread mg-client "$url" "$n")
  failed=$(awk '$1 == "failed" { print $2 }' <<<"$counts")
  for want in "$@"; do
    name=${want%=*}
    pct=${want#*=}
    got=$(awk -v k="$name" '$1 == k { print $2 }' <<<"$counts")
    got=${got:-0}
    share=$(awk -v g="$got" -v n="$n" 'BEGIN { printf "%.1f", 100 * g / n }')
    tol=$(awk -v p="$pct" -v n="$n" 'BEGIN { q = p / 100; printf "%.1f", 300 * sqrt(q * (1 - q) / n) }')
    line+=" $name ${share}% (want ${pct}±${tol});"
    l4_within "$share" "$pct" "$tol" || ok=0
  done
  [ -z "$failed" ] || ok=0
  if [ $ok = 1 ]; then
    mg_pass "$label: $n connections:$line none failed"
  else
    mg_fail "$label: $n connections:$line failed ${failed:-0}"
    printf '%s\n' "$counts" | mg_indent
  fi
}

echo "== Maglev spread, weights b1:b2:b3 = 1:1:2"
check_spread "spread v4" "$(l4_url 198.18.50.1 80 /)" 400 b1=25 b2=25 b3=50
check_spread "spread v6" "$(l4_url fd00:50::1 80 /)" 400 b1-6=25 b2-6=25 b3-6=50

echo "== DNAT VIPs (the backend sees the client's own address)"
check_who "dnat v4" "$(l4_url 198.18.50.2 80 /)" '198\.18\.1\.2' 'b1|b3'
check_who "dnat v6" "$(l4_url fd00:50::2 80 /)" 'fd00:1::2' 'b1-6|b3-6'
check_spread "dnat spread v4" "$(l4_url 198.18.50.2 80 /)" 100 b1=50 b3=50

echo "== NAT46 (IPv4 VIP -> IPv6 backends) and NAT64 (IPv6 VIP -> IPv4 backends)"
check_who "nat46" "$(l4_url 198.18.50.3 80 /)" 'fd00:2::1|fd00:3::1' 'b1-6|b3-6'
check_who "nat64" "$(l4_url fd00:50::3 80 /)" '198\.18\.2\.1|198\.18\.3\.1' 'b1|b3'

# check_bulk LABEL VIP: a 4 MiB download and a 1 MiB upload through VIP, sizes must match
# (full-size segments in both directions through the translation).
check_bulk() {
  local label=$1 vip=$2 size rc body
  size=$(nsx mg-client curl -sS --max-time 20 -o /dev/null -w '%{size_download}' "$(l4_url "$vip" 80 /bytes/4194304)" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && [ "$size" = 4194304 ]; then
    mg_pass "$label: 4 MiB download through $vip complete"
  else
    mg_fail "$label: 4 MiB download through $vip: curl exit $rc, got '$size' bytes"
  fi
  head -c 1048576 /dev/zero >"$MG_TMP/upload.bin"
  body=$(nsx mg-client curl -sS --max-time 20 --data-binary @"$MG_TMP/upload.bin" \
    -H 'Content-Type: application/octet-stream' "$(l4_url "$vip" 80 /)" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && [[ $body =~ \ got\ 1048576$ ]]; then
    mg_pass "$label: 1 MiB upload through $vip: '$body'"
  else
    mg_fail "$label: 1 MiB upload through $vip: curl exit $rc, answer '$body'"
  fi
}
check_bulk "nat46" 198.18.50.3
check_bulk "nat64" fd00:50::3
check_bulk "full-nat v4" 198.18.50.1
check_bulk "full-nat v6" fd00:50::1

echo "== iperf3 (3 s) through the VIPs (single backend: the server in mg-srv1)"
iperf3_check v4-vip 198.18.50.1 5201
iperf3_check v6-vip fd00:50::1 5201

echo "== counters"
l4=$(l4_tel /meshgate/l4)
echo "   /meshgate/l4: $l4"
nat=$(l4_stat l4 nat64_translated)
check "nat64_translated counted the NAT46/NAT64 packets (got $nat)" test "${nat//\?/0}" -gt 0

mg_finish
