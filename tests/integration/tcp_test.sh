#!/usr/bin/env bash
# TCP through the gateway, client -> srv1: iperf3 (3 s) and a 20 MiB random file over netcat,
# in IPv4 and IPv6; the file's sha256 must match on both ends.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mg_setup iperf3 nc sha256sum

# nc_check FAMILY_LABEL SERVER_ADDR PORT: 20 MiB random file, sha256 on both ends.
nc_check() {
  local label=$1 addr=$2 port=$3
  local recv=$MG_TMP/received-$label.bin
  nsx mg-srv1 timeout 30 nc -l -d "$addr" "$port" >"$recv" 2>"$MG_TMP/nc-server-$label.err" &
  local spid=$!
  if ! wait_listen mg-srv1 "$port"; then
    mg_fail "nc $label: server did not listen on $port"
    kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
    return
  fi
  local t0=$SECONDS
  nsx mg-client timeout 30 nc -N "$addr" "$port" <"$MG_TMP/payload.bin" 2>"$MG_TMP/nc-client-$label.err"
  local crc=$?
  wait "$spid"
  local src=$? secs=$((SECONDS - t0))
  local want got size
  want=$(nsx mg-client sha256sum "$MG_TMP/payload.bin" | cut -d' ' -f1)
  got=$(nsx mg-srv1 sha256sum "$recv" | cut -d' ' -f1)
  size=$(stat -c %s "$recv" 2>/dev/null || echo 0)
  if [ "$crc" -eq 0 ] && [ "$src" -eq 0 ] && [ "$want" = "$got" ]; then
    mg_pass "nc $label 20 MiB client -> srv1 $addr: sha256 matches (${want:0:16}...), ${size} bytes in ~${secs}s"
  else
    mg_fail "nc $label 20 MiB client -> srv1 $addr: sender exit $crc, receiver exit $src, received $size bytes, sha256 sent ${want:0:16} received ${got:0:16}"
    cat "$MG_TMP/nc-client-$label.err" "$MG_TMP/nc-server-$label.err" 2>/dev/null | mg_indent
  fi
}

# Neighbour resolution before the first TCP SYN (not a check).
for d in 198.18.2.2 fd00:2::2; do nsx mg-client timeout 5 ping -c 1 -W 2 "$d" >/dev/null 2>&1; done

echo "== iperf3 (3 s) client -> srv1"
iperf3_check v4 198.18.2.2 5201
iperf3_check v6 fd00:2::2 5202

echo "== 20 MiB file over netcat client -> srv1"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$MG_TMP/payload.bin"
nc_check v4 198.18.2.2 5001
nc_check v6 fd00:2::2 5002

mg_finish
