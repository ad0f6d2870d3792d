#!/usr/bin/env bash
# Packet taps to pcapng files (configs in capture/): a tap captures exactly the matching packets
# of known traffic, and tshark reads them back with the right addresses, ports and payload:
#   ping4  20 pings client -> srv1, tapped on client in both directions: 40 packets
#   web    an HTTP download over IPv6 tapped on srv1: the same packets as a tshark capture inside
#          srv1's namespace, and the downloaded file reassembled from the tap's file
#   rot    1000-byte ping6 requests into 4096-byte files, 3 kept: exactly 3 files remain
#   flood  a flood ping beyond the tap's 50 packets/s: copies dropped and counted, no ping lost
# Taps are started, stopped, listed and their files downloaded through the DPDK telemetry socket.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/capture/cap_lib.sh
source "$(dirname "$0")/capture/cap_lib.sh"
cap_setup capture_taps.json tshark curl
# tel_ok CMD: the command answered without an "error" key.
tel_ok() {
  local a
  a=$(tel "$1") || return 1
  if grep -q '"error"' <<<"$a"; then echo "$a"; return 1; fi
}
# pcap_count FILE...: packets in the files (capinfos: much quicker to start than tshark).
pcap_count() { capinfos -c -M -T -r "$@" 2>/dev/null | awk -F'\t' '{ n += $2 } END { print n + 0 }'; }

check "pdump reported unavailable without hugepages" grep -q 'pdump.unavailable' "$MG_LOG"
listing=$(tel /meshgate/taps)
check "/meshgate/taps lists the four taps" /usr/bin/python3 -c "
import json,sys; d=json.loads(sys.argv[1]); assert sorted(d) == ['flood','ping4','rot','web'], d
assert d['web']['running'] == 1 and d['ping4']['running'] == 0, d" "$listing"
check "filters run as native code (rte_bpf JIT)" test "$(tap_field web jit)" = 1

echo "== ping4: 20 pings client -> srv1 (198.18.2.2), tapped on client, both directions"
nsx mg-client ping -c 2 -i 0.2 -W 2 198.18.2.2 >/dev/null 2>&1  # neighbors resolved; tap not running yet
check "tap_start ping4" tel_ok /meshgate/tap_start,ping4
out=$(nsx mg-client ping -c 20 -i 0.05 -W 1 -p 6d657368 198.18.2.2 2>&1)
check "20 pings answered: $(ping_summary "$out")" grep -q ' 0% packet loss' <<<"$out"
check "tap_stop ping4" tel_ok /meshgate/tap_stop,ping4
check "tap_stop ping4 again is an error" grep -q 'is not running' <<<"$(tel /meshgate/tap_stop,ping4)"
mapfile -t files < <(ls "$MG_TMP"/ping4/*.pcapng 2>/dev/null)
check "ping4 wrote one file" test "${#files[@]}" -eq 1
fields=$(tshark -r "${files[0]}" -T fields -E separator=' ' -e ip.src -e ip.dst -e icmp.type -e icmp.seq -e data.data \
  -e frame.time_epoch 2>/dev/null)
requests=$(awk '$1 == "198.18.1.2" && $2 == "198.18.2.2" && $3 == 8' <<<"$fields" | wc -l)
replies=$(awk '$1 == "198.18.2.2" && $2 == "198.18.1.2" && $3 == 0' <<<"$fields" | wc -l)
seqs=$(awk '$3 == 8 { print $4 }' <<<"$fields" | sort -n | paste -sd, -)
mg_say "tshark: $(wc -l <<<"$fields") packets, $requests requests, $replies replies"
check "exactly 40 packets captured" test "$(wc -l <<<"$fields")" -eq 40
check "20 echo requests 198.18.1.2 -> 198.18.2.2" test "$requests" -eq 20
check "20 echo replies 198.18.2.2 -> 198.18.1.2" test "$replies" -eq 20
check "request sequence numbers 1..20" test "$seqs" = "$(seq -s, 1 20)"
check "every payload carries ping's pattern 6d657368" test "$(grep -c '6d6573686d657368' <<<"$fields")" -eq 40
check "telemetry: ping4 matched 40, captured 40" test "$(tap_field ping4 matched),$(tap_field ping4 captured)" = 40,40
check "telemetry: written_bytes is the file's size" \
  test "$(tap_field ping4 written_bytes)" -eq "$(stat -c %s "${files[0]}")"
first=$(awk 'NR == 1 { print $6 }' <<<"$fields")
check "timestamps are the wall clock at capture (first packet $first, now $(date +%s))" \
  awk -v t="$first" -v now="$(date +%s)" 'BEGIN { exit !(t > now - 120 && t <= now + 1) }'

echo "== web: HTTP over IPv6 from srv1 (fd00:2::2) to the client, tapped on srv1"
mkdir -p "$MG_TMP/www" "$MG_TMP/objects"
head -c 300000 /dev/urandom >"$MG_TMP/www/blob.bin"
ip netns exec mg-srv1 timeout 40 /usr/bin/python3 -m http.server 80 --bind fd00:2::2 --directory "$MG_TMP/www" \
  >"$MG_TMP/http.log" 2>&1 </dev/null 9>&- &
BG_PIDS+=($!)
wait_listen mg-srv1 80 || mg_die "the HTTP server in mg-srv1 did not listen"
ip netns exec mg-srv1 timeout 40 dumpcap -q -i eth0 -f "tcp port 80" -w "$MG_TMP/ref.pcapng" >"$MG_TMP/ref.log" 2>&1 </dev/null 9>&- &
ref_pid=$!
BG_PIDS+=("$ref_pid")
for _ in $(seq 100); do grep -q 'Capturing on' "$MG_TMP/ref.log" && break; sleep 0.1; done
check "reference capture (dumpcap) in mg-srv1 started" grep -q 'Capturing on' "$MG_TMP/ref.log"
check "curl downloads 300000 bytes through the gateway" \
  nsx mg-client timeout 20 curl -g -s -o "$MG_TMP/got.bin" "http://[fd00:2::2]/blob.bin"
check "downloaded file is intact" cmp "$MG_TMP/www/blob.bin" "$MG_TMP/got.bin"
sleep 1
kill -INT "$ref_pid" 2>/dev/null
wait "$ref_pid" 2>/dev/null
check "tap_stop web" tel_ok /meshgate/tap_stop,web
key='-T fields -E separator=, -e ipv6.src -e ipv6.dst -e tcp.srcport -e tcp.dstport -e tcp.seq_raw -e tcp.ack_raw -e tcp.len -e tcp.flags'
# shellcheck disable=SC2086
tshark -r "$MG_TMP/ref.pcapng" $key 2>/dev/null | sort >"$MG_TMP/ref.txt"
# The tap's files (one here), read once: the fields, and the HTTP objects exported. The gateway
# may receive the download's segments out of order (the sender's packets cross the veth through
# either CPU's backlog) and the tap records them as received: reassemble out-of-order segments.
# shellcheck disable=SC2086
cat "$MG_TMP"/web/*.pcapng | tshark -r - -q -o tcp.reassemble_out_of_order:TRUE \
  --export-objects "http,$MG_TMP/objects" $key 2>/dev/null |
  sort >"$MG_TMP/tap.txt"
mg_say "reference capture: $(wc -l <"$MG_TMP/ref.txt") packets; tap: $(wc -l <"$MG_TMP/tap.txt") packets"
check "the tap saw at least 200 packets of the download" test "$(wc -l <"$MG_TMP/tap.txt")" -ge 200
check "the tap's packets are exactly the reference capture's (addresses, ports, seq/ack, lengths, flags)" \
  diff "$MG_TMP/ref.txt" "$MG_TMP/tap.txt"
check "the HTTP body reassembled from the tap's file is the served file" cmp "$MG_TMP/www/blob.bin" "$MG_TMP/objects/blob.bin"

echo "== rot: 30 ping6 requests of 1000 bytes, files of at most 4096 bytes, 3 kept"
out=$(nsx mg-client ping -6 -c 30 -i 0.05 -W 1 -s 1000 fd00:2::2 2>&1)
check "30 pings answered: $(ping_summary "$out")" grep -q ' 0% packet loss' <<<"$out"
check "tap_stop rot" tel_ok /meshgate/tap_stop,rot
mapfile -t files < <(ls "$MG_TMP"/rot/)
mg_say "rot files: ${files[*]}"
check "exactly 3 files kept" test "${#files[@]}" -eq 3
nums=$(printf '%s\n' "${files[@]}" | sed -nE 's/^rot-0*([0-9]+)\.pcapng$/\1/p' | paste -sd' ' -)
read -r n1 n2 n3 <<<"$nums"
check "consecutive numbers, the newest kept ($nums)" test "$n2" -eq $((n1 + 1)) -a "$n3" -eq $((n1 + 2))
big=0
for f in "${files[@]}"; do [ "$(stat -c %s "$MG_TMP/rot/$f")" -le 4096 ] || big=1; done
check "each file is at most 4096 bytes" test "$big" -eq 0
kept=$(cd "$MG_TMP/rot" && pcap_count "${files[@]}")
per=$(pcap_count "$MG_TMP/rot/${files[0]}")
rseqs=$(cd "$MG_TMP/rot" && cat "${files[@]}" | tshark -r - -T fields -e icmpv6.echo.sequence_number 2>/dev/null |
  paste -sd, -)
mg_say "$per packets per file, $kept kept, sequence numbers $rseqs"
check "the kept files hold the newest requests, $per per file" test "$rseqs" = "$(seq -s, $((31 - kept)) 30)"
check "files written = ceil(30 / $per) = the newest number ($n3)" test "$n3" -eq $(((30 + per - 1) / per))
check "telemetry: rot files = 3" test "$(tap_field rot files)" -eq 3
listed=$(tel --get /meshgate/tap_files,rot "','.join(d['files'])")
check "/meshgate/tap_files lists the three" test "$listed" = "$(printf '%s\n' "${files[@]}" | paste -sd, -)"
check "download through /meshgate/tap_file matches the file on disk" \
  sh -c "timeout 10 /usr/bin/python3 '$CAP/tel.py' '$MG_PREFIX' --download rot '${files[2]}' '$MG_TMP/dl.pcapng' >/dev/null &&
    cmp '$MG_TMP/dl.pcapng' '$MG_TMP/rot/${files[2]}'"
check "a file the tap does not keep is refused" \
  grep -q 'has no file' <<<"$(tel "/meshgate/tap_file,rot,rot-000001.pcapng,0")"
check "a path outside the tap's files is refused" grep -q 'has no file' <<<"$(tel "/meshgate/tap_file,rot,../web,0")"

echo "== flood: 3000 flood pings, the tap limited to 50 copies/s (burst 5)"
check "tap_start flood" tel_ok /meshgate/tap_start,flood
t0=$(date +%s.%N)
out=$(nsx mg-client timeout 30 ping -f -c 3000 -w 25 198.18.2.2 2>&1)
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
matched=$(tap_field flood matched)
captured=$(tap_field flood captured)
limited=$(tap_field flood dropped_rate_limit)
mg_say "flood: $(ping_summary "$out") in ${secs}s; tap matched $matched, captured $captured, rate-limited $limited"
check "forwarding unaffected: every flood ping answered" grep -q ' 0% packet loss' <<<"$out"
check "the tap matched all 3000 requests" test "$matched" -eq 3000
check "copies within 50/s x ${secs}s + burst 5" awk -v c="$captured" -v s="$secs" 'BEGIN { exit !(c >= 5 && c <= 50 * s + 6) }'
check "the rest counted as rate-limited drops ($limited)" test "$limited" -eq $((matched - captured))
check "tap_stop flood" tel_ok /meshgate/tap_stop,flood
check "the file holds the $captured copies" test "$(pcap_count "$MG_TMP"/flood/*.pcapng)" -eq "$captured"
check "no copy lost to a full ring or an empty pool" \
  test "$(tap_field flood dropped_ring_full)$(tap_field flood dropped_no_buffer)" = 00

check "an unknown tap is an error" grep -q 'no tap named' <<<"$(tel /meshgate/tap_start,nope)"
mg_finish
