#!/usr/bin/env bash
# tcp-proxy services (tests/integration/tcp/tcp_proxy.json): the gateway terminates the client's
# TCP connection and opens its own to a Maglev-picked backend. Real Linux peers on both sides:
#   - curl downloads a 64 MiB file (fixed-seed bytes) and uploads 32 MiB through the IPv4 and the
#     IPv6 VIP; sha256 of what arrived must equal the source's (the backend hashes uploads)
#   - iperf3 --json through the VIPs, both directions (-R), both families: bytes moved, no error
#   - 500 short connections per family (connect, GET, close): every one answered, by both
#     backends (one of the VIP's family in mg-srv1, one of the other family in mg-srv2), each of
#     which saw the gateway's address, never the client's
#   - the downloads and uploads again with 2% of the client's TCP packets dropped each way
#     (nftables numgen in mg-client; this kernel has no netem): still intact
#   - the data plane's /metrics show the services carried the traffic
#
# TP_MODE picks the services' mode: "tcp-proxy" (what this test is for) or "full-nat" (the same
# topology through the L4 NAT path; it must pass too). tcp/tcp_proxy.json says "tcp-proxy"; with
# full-nat the tcpProxy settings are dropped from the copy the data plane reads.
#
# Backends (added here, HTTP on :8080, tcp/tcp_peer.py): b1 198.18.2.20 and b1-6 fd00:2::20 in
# mg-srv1, b2 198.18.3.20 and b2-6 fd00:3::20 in mg-srv2 (1280-byte MTU link). VIP
# 198.18.50.20:80 -> b1, b2-6; VIP [fd00:50::20]:80 -> b1-6, b2. iperf3 servers in mg-srv1
# (198.18.2.2 / fd00:2::2 :5201) behind the VIPs' port 5201.
TP_MODE=${TP_MODE:-tcp-proxy}

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"
# shellcheck source=tests/integration/telemetry/tel_lib.sh
source "$(dirname "$0")/telemetry/tel_lib.sh"

[[ $TP_MODE == tcp-proxy || $TP_MODE == full-nat ]] || mg_skip "TP_MODE must be tcp-proxy or full-nat (got '$TP_MODE')"
TP_DIR=$MG_ROOT/tests/integration/tcp
TP_PEER=$TP_DIR/tcp_peer.py
TP_DOWNLOAD_BYTES=$((64 << 20))
TP_UPLOAD_BYTES=$((32 << 20))
TP_LOSS_PERCENT=2
TP_SHORT_CONNECTIONS=500

# Metrics checked after the traffic: "NAME [LABEL=VALUE...] [>=MIN]", the sum of NAME's samples
# whose labels match (tel_sum in telemetry/tel_lib.sh) must be at least MIN (default: above 0).
# TP_METRICS in every mode, TP_METRICS_TCP_PROXY / TP_METRICS_FULL_NAT in that mode only.
TP_MIN_ACCEPTED=$((2 * TP_SHORT_CONNECTIONS + 8))                 # short ones, downloads, uploads
TP_MIN_TO_CLIENT=$((4 * TP_DOWNLOAD_BYTES))                       # 2 downloads x 2 families
TP_MIN_TO_BACKEND=$((4 * TP_UPLOAD_BYTES))                        # 2 uploads x 2 families
TP_METRICS=(
  "meshgate_backend_connections_total service=proxy-web4 >=$((TP_SHORT_CONNECTIONS + 4))"
  "meshgate_backend_connections_total service=proxy-web6 >=$((TP_SHORT_CONNECTIONS + 4))"
  "meshgate_backend_connections_total service=proxy-iperf4"
  "meshgate_backend_connections_total service=proxy-iperf6"
)
# shellcheck disable=SC2034 # read by tp_check_metrics
TP_METRICS_TCP_PROXY=(
  "meshgate_tcp_proxy_accepted_total >=$TP_MIN_ACCEPTED"
  "meshgate_tcp_proxy_backend_connected_total >=$TP_MIN_ACCEPTED"
  "meshgate_tcp_proxy_completed_total >=$((2 * TP_SHORT_CONNECTIONS))"
  "meshgate_tcp_proxy_bytes_total direction=backend_to_client >=$TP_MIN_TO_CLIENT"
  "meshgate_tcp_proxy_bytes_total direction=client_to_backend >=$TP_MIN_TO_BACKEND"
  "meshgate_tcp_retransmitted_segments_total"
)
# shellcheck disable=SC2034 # read by tp_check_metrics
TP_METRICS_FULL_NAT=()

# The copy of the config the data plane reads: the services in TP_MODE (tel_lib.sh then fills in
# the telemetry port, l4_lib.sh makes the reloadable copy).
eval "tp_tel_start_dataplane() $(declare -f mg_start_dataplane | tail -n +2)"
mg_start_dataplane() {
  "$L4_PY" - "$L4_SRC_CONFIG" "$MG_TMP/tcp_proxy.json" "$TP_MODE" <<'EOF' || mg_die "cannot write the config"
import json, sys
src, dst, mode = sys.argv[1:4]
with open(src) as f:
    c = json.load(f)
for s in c["services"]:
    s["mode"] = mode
    if mode != "tcp-proxy":
        s.pop("tcpProxy", None)
with open(dst, "w") as f:
    json.dump(c, f, indent=2)
EOF
  L4_SRC_CONFIG=$MG_TMP/tcp_proxy.json
  tp_tel_start_dataplane
}

l4_setup ../tcp/tcp_proxy.json iperf3 nft sha256sum openssl
mg_say "services in mode $TP_MODE"

# The test's 96 MiB of data files go even when a failure keeps $MG_TMP for inspection (they are
# regenerated from their keys on every run). l4_lib.sh's EXIT handler calls l4_cleanup.
eval "tp_l4_cleanup() $(declare -f l4_cleanup | tail -n +2)"
# shellcheck disable=SC2317 # called by l4_lib.sh's EXIT handler
l4_cleanup() {
  tp_l4_cleanup
  [ -n "$MG_TMP" ] && rm -rf "$MG_TMP/files" "$MG_TMP/got" "$MG_TMP/upload.bin"
}

# ---- peers -------------------------------------------------------------------------------

# tp_http NS ADDR NAME: ADDR (/32, /128) on NS's eth0 and tcp_peer.py serving $MG_TMP/files on
# ADDR:8080 (access log $MG_TMP/access-NAME.log); waits until it answers inside NS.
tp_http() {
  local ns=$1 addr=$2 name=$3 url body _
  if [[ $addr == *:* ]]; then l4_addr "$ns" "$addr/128"; else l4_addr "$ns" "$addr/32"; fi
  ip netns exec "$ns" "$L4_PY" "$TP_PEER" http "$addr" 8080 "$name" "$MG_TMP/files" "$MG_TMP/access-$name.log" \
    >>"$MG_TMP/peers.log" 2>&1 </dev/null 9>&- &
  L4_PIDS+=("$!")
  url=$(l4_url "$addr" 8080 /id)
  for _ in $(seq 100); do
    body=$(nsx "$ns" curl -s --max-time 1 "$url" 2>/dev/null)
    [[ $body == "$name "* ]] && return 0
    sleep 0.1
  done
  mg_indent <"$MG_TMP/peers.log"
  mg_die "HTTP peer $name did not answer on $url in $ns within 10 s"
}

# Fixed-seed content: AES-128-CTR keystream of a constant key (the same bytes on every run).
tp_make_file() { # PATH BYTES KEY
  head -c "$2" /dev/zero | openssl enc -aes-128-ctr -nosalt -K "$3" -iv 0 >"$1" 2>/dev/null
}
mkdir -p "$MG_TMP/files" "$MG_TMP/got"
tp_make_file "$MG_TMP/files/download.bin" "$TP_DOWNLOAD_BYTES" 6d65736867617465746370746573743a ||
  mg_die "cannot write the download file"
tp_make_file "$MG_TMP/upload.bin" "$TP_UPLOAD_BYTES" 75706c6f616474637070726f78793a21 ||
  mg_die "cannot write the upload file"
TP_DOWNLOAD_SHA=$(sha256sum <"$MG_TMP/files/download.bin" | cut -d' ' -f1)
TP_UPLOAD_SHA=$(sha256sum <"$MG_TMP/upload.bin" | cut -d' ' -f1)
mg_say "download.bin $((TP_DOWNLOAD_BYTES >> 20)) MiB sha256 ${TP_DOWNLOAD_SHA:0:16}..., upload.bin $((TP_UPLOAD_BYTES >> 20)) MiB sha256 ${TP_UPLOAD_SHA:0:16}..."

tp_http mg-srv1 198.18.2.20 b1
tp_http mg-srv1 fd00:2::20 b1-6
tp_http mg-srv2 198.18.3.20 b2
tp_http mg-srv2 fd00:3::20 b2-6
l4_warm mg-client 198.18.1.1 fd00:1::1
l4_warm mg-srv1 198.18.2.1 fd00:2::1
l4_warm mg-srv2 198.18.3.1 fd00:3::1
mg_say "backends up: b1, b1-6 (mg-srv1), b2, b2-6 (mg-srv2)"

# ---- checks ------------------------------------------------------------------------------

# tp_download LABEL VIP: GET /files/download.bin through VIP:80; size and sha256 must match.
tp_download() {
  local label=$1 vip=$2 out=$MG_TMP/got/download-$1.bin w rc sha code size secs
  w=$(nsx mg-client curl -sS --max-time 120 -o "$out" -w '%{http_code} %{size_download} %{time_total}' \
    "$(l4_url "$vip" 80 /files/download.bin)" 2>&1)
  rc=$?
  read -r code size secs <<<"$w"
  sha=$(sha256sum <"$out" 2>/dev/null | cut -d' ' -f1)
  rm -f "$out"
  if [ $rc -eq 0 ] && [ "$code" = 200 ] && [ "$size" = "$TP_DOWNLOAD_BYTES" ] && [ "$sha" = "$TP_DOWNLOAD_SHA" ]; then
    mg_pass "$label: $((TP_DOWNLOAD_BYTES >> 20)) MiB download through $vip intact (sha256 ${sha:0:16}...)," \
      "$(awk -v b="$size" -v s="$secs" 'BEGIN { printf "%.2f s, %.0f Mbit/s", s, (s > 0 ? b * 8 / s / 1e6 : 0) }')"
  else
    mg_fail "$label: download through $vip: curl exit $rc, '$w', sha256 ${sha:-none} (want $TP_DOWNLOAD_SHA)"
  fi
}

# tp_upload LABEL VIP: PUT /upload of upload.bin through VIP:80; the backend's byte count and
# sha256 must match.
tp_upload() {
  local label=$1 vip=$2 body rc name got sha
  body=$(nsx mg-client curl -sS --max-time 120 -H 'Expect:' -T "$MG_TMP/upload.bin" \
    -w ' %{time_total}' "$(l4_url "$vip" 80 /upload)" 2>&1)
  rc=$?
  read -r name _ got _ sha secs <<<"$(tr '\n' ' ' <<<"$body")"  # the answer's line, then time_total
  if [ $rc -eq 0 ] && [ "$got" = "$TP_UPLOAD_BYTES" ] && [ "$sha" = "$TP_UPLOAD_SHA" ]; then
    mg_pass "$label: $((TP_UPLOAD_BYTES >> 20)) MiB upload through $vip intact at $name (sha256 ${sha:0:16}...)," \
      "$(awk -v b="$got" -v s="$secs" 'BEGIN { printf "%.2f s, %.0f Mbit/s", s, (s > 0 ? b * 8 / s / 1e6 : 0) }')"
  else
    mg_fail "$label: upload through $vip: curl exit $rc, answer '$body' (want $TP_UPLOAD_BYTES bytes, sha256 $TP_UPLOAD_SHA)"
  fi
}

# tp_iperf LABEL VIP [-R]: a one-off iperf3 server in mg-srv1 on :5201, the client in mg-client
# for 3 s with --json; the receiver must have got bytes and neither side an error.
tp_iperf() {
  local label=$1 vip=$2
  shift 2
  local srv_out=$MG_TMP/iperf3-server-$label.txt cli_out=$MG_TMP/iperf3-client-$label.json spid crc src res
  ip netns exec mg-srv1 timeout 30 iperf3 -s -1 -p 5201 >"$srv_out" 2>&1 </dev/null 9>&- &
  spid=$!
  if ! wait_listen mg-srv1 5201; then
    mg_fail "iperf3 $label: server did not listen on 5201"
    kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    return
  fi
  nsx mg-client timeout 30 iperf3 -c "$vip" -p 5201 -t 3 --json "$@" >"$cli_out" 2>&1
  crc=$?
  wait "$spid"
  src=$?
  res=$("$L4_PY" - "$cli_out" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"bad json: {e}")
    sys.exit(1)
if "error" in d:
    print(f"error: {d['error']}")
    sys.exit(1)
r, s = d["end"]["sum_received"], d["end"]["sum_sent"]
print(f"{r['bytes'] / 2**20:.1f} MiB received, {r['bits_per_second'] / 1e6:.0f} Mbit/s, "
      f"{s.get('retransmits', 0)} retransmits by the sender")
sys.exit(0 if r["bytes"] > 0 and r["bits_per_second"] > 0 else 1)
EOF
  )
  local prc=$?
  if [ "$crc" -eq 0 ] && [ "$src" -eq 0 ] && [ $prc -eq 0 ]; then
    mg_pass "iperf3 $label through $vip:5201: $res"
  else
    mg_fail "iperf3 $label through $vip:5201: client exit $crc, server exit $src: $res"
    echo "      -- server:"
    mg_indent <"$srv_out"
  fi
}

# tp_short LABEL VIP N SAME_NAME SAME_PEER OTHER_NAME OTHER_PEER: N GETs of /id through VIP:80,
# each on its own connection (the backend closes after the answer; curl must connect N times).
# Every one must be answered, both backends must have answered some, and each backend must have
# seen its gateway-side address as the peer.
tp_short() {
  local label=$1 vip=$2 n=$3 same=$4 same_peer=$5 other=$6 other_peer=$7 urls=() i out summary t0 t1
  for ((i = 0; i < n; i++)); do urls+=("$(l4_url "$vip" 80 /id)"); done
  t0=$(date +%s.%N)
  out=$(nsx mg-client curl -s --max-time 5 -w 'RESULT %{http_code} %{num_connects}\n' "${urls[@]}" 2>&1)
  t1=$(date +%s.%N)
  if summary=$(awk -v n="$n" -v a="$same" -v ap="$same_peer" -v b="$other" -v bp="$other_peer" '
    $1 == "RESULT" { if ($2 == 200) ok++; conn += $3; next }
    NF == 4 { c[$1]++; if (($1 == a && $3 != ap) || ($1 == b && $3 != bp) || ($1 != a && $1 != b)) bad = bad " " $1 "<-" $3 }
    END {
      printf "%d/%d answered over %d connections; %s %d, %s %d", ok, n, conn, a, c[a], b, c[b]
      if (bad != "") printf "; unexpected:%s", substr(bad, 1, 200)
      exit !(ok == n && conn == n && c[a] > 0 && c[b] > 0 && bad == "")
    }' <<<"$out"); then
    mg_pass "$label: $summary, peers $same_peer / $other_peer (the gateway)," \
      "$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s, %.0f conn/s", b - a, n / (b - a) }')"
  else
    mg_fail "$label: $summary (want $n/$n, both backends, peers $same_peer / $other_peer)"
    printf '%s\n' "$out" | grep -v '^RESULT 200 1$' | head -n 10 | mg_indent
  fi
}

# tp_loss_on PERCENT: drop PERCENT% of mg-client's TCP packets on input and on output (as the
# hooks see them: output may carry GSO batches of a few segments, input has GRO off).
tp_loss_on() {
  nsx mg-client nft -f - <<EOF
table inet tp_loss {
  chain in { type filter hook input priority 0; policy accept; meta l4proto tcp numgen random mod 100 < $1 counter drop; }
  chain out { type filter hook output priority 0; policy accept; meta l4proto tcp numgen random mod 100 < $1 counter drop; }
}
EOF
}
# tp_loss_dropped: "IN OUT" packets dropped so far.
tp_loss_dropped() {
  nsx mg-client nft list table inet tp_loss 2>/dev/null |
    awk '/chain in/ { c = "in" } /chain out/ { c = "out" } /counter packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") v[c] = $(i + 1) }
         END { printf "%d %d", v["in"], v["out"] }'
}
tp_loss_off() { nsx mg-client nft delete table inet tp_loss 2>/dev/null; }

# tp_check_metrics: every entry of TP_METRICS and of the mode's list holds in /metrics.
tp_check_metrics() {
  local var=TP_METRICS_${TP_MODE//-/_} m v min words
  local -n mode_list=${var^^}
  for m in "${TP_METRICS[@]}" "${mode_list[@]}"; do
    read -r -a words <<<"$m"
    min=""
    if [[ ${words[-1]} == ">="* ]]; then
      min=${words[-1]#>=}
      unset 'words[-1]'
    fi
    v=$(tel_sum "${words[@]}")
    if [ -n "$min" ]; then
      check "metric ${words[*]} = ${v:-none} (at least $min)" awk -v v="${v:-0}" -v m="$min" 'BEGIN { exit !(v >= m) }'
    else
      check "metric ${words[*]} = ${v:-none} (above 0)" awk -v v="${v:-0}" 'BEGIN { exit !(v > 0) }'
    fi
  done
}

# ---- the test ----------------------------------------------------------------------------

echo "== downloads and uploads, sha256 compared (mode $TP_MODE)"
tp_download "v4" 198.18.50.20
tp_download "v6" fd00:50::20
tp_upload "v4" 198.18.50.20
tp_upload "v6" fd00:50::20

echo "== iperf3, 3 s each way"
tp_iperf v4 198.18.50.20
tp_iperf v4-reverse 198.18.50.20 -R
tp_iperf v6 fd00:50::20
tp_iperf v6-reverse fd00:50::20 -R

echo "== $TP_SHORT_CONNECTIONS short connections per family"
tp_short "short v4" 198.18.50.20 "$TP_SHORT_CONNECTIONS" b1 198.18.2.1 b2-6 fd00:3::1
tp_short "short v6" fd00:50::20 "$TP_SHORT_CONNECTIONS" b1-6 fd00:2::1 b2 198.18.3.1

echo "== ${TP_LOSS_PERCENT}% loss each way on mg-client's TCP packets"
if tp_loss_on "$TP_LOSS_PERCENT"; then
  tp_download "v4 lossy" 198.18.50.20
  tp_download "v6 lossy" fd00:50::20
  tp_upload "v4 lossy" 198.18.50.20
  tp_upload "v6 lossy" fd00:50::20
  read -r lin lout <<<"$(tp_loss_dropped)"
  check "loss was injected: nft dropped $lin packets in, $lout out" test "$lin" -gt 0 -a "$lout" -gt 0
  tp_loss_off
else
  mg_fail "nft could not install the loss rules in mg-client"
fi

echo "== the data plane"
check "data plane still running" mg_dataplane_alive
tp_check_metrics
if [ "$TP_MODE" = tcp-proxy ]; then
  line=""
  for m in retransmitted_segments rto_expirations fast_retransmits out_of_order_segments duplicate_segments \
    resets_sent resets_received output_dropped; do
    line+=" $m $(tel_sum "meshgate_tcp_${m}_total")"
  done
  mg_say "TCP stacks:$line"
fi

mg_finish
