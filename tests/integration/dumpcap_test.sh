#!/usr/bin/env bash
# dpdk-dumpcap attaches to the running data plane (rte_pdump): the data plane runs on hugepages
# with its own --file-prefix, dpdk-dumpcap joins as a secondary process, captures 10 ICMP packets
# of a ping on the srv1 port (its filter compiled to eBPF), and detaches; tshark reads the file,
# and forwarding goes on undisturbed throughout. Skipped (77) when no hugepages can be had.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || mg_skip "needs root (namespaces, veth, af_packet, hugepages)"
command -v dpdk-dumpcap >/dev/null 2>&1 || mg_skip "missing tool: dpdk-dumpcap (package dpdk)"
"$MG_ROOT/deploy/hugepages.sh" >/dev/null 2>&1
free_pages=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
page_kb=$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo)
grep -q hugetlbfs /proc/mounts || mg_skip "hugetlbfs is not mounted (deploy/hugepages.sh could not mount it)"
[ $((${free_pages:-0} * ${page_kb:-0})) -ge $((384 * 1024)) ] ||
  mg_skip "only ${free_pages:-0} free hugepages of ${page_kb:-?} kB; 384 MB needed (deploy/hugepages.sh)"

# The data plane on hugepages: lib.sh's start with --no-huge replaced (secondary processes map
# the primary's memory, which --no-huge memory cannot be).
lib_start=$(declare -f mg_start_dataplane)
grep -q -- '--no-huge -m 512' <<<"$lib_start" || mg_skip "lib.sh no longer starts with '--no-huge -m 512'"
eval "${lib_start/--no-huge -m 512/-m 256}"

BG_PIDS=()
dumpcap_cleanup() {
  local rc=$? p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  (exit "$rc")
  mg_cleanup
  rm -f /dev/hugepages/"${MG_PREFIX}"map_* 2>/dev/null
}

mg_setup tshark
trap dumpcap_cleanup EXIT

check "the data plane runs on hugepages with pdump enabled" grep -q 'pdump.ready' "$MG_LOG"
check_ping mg-client 198.18.2.2 "before: client -> srv1"

echo "== dpdk-dumpcap -i net_af_packet1 (srv1) -f icmp -c 10"
timeout 30 dpdk-dumpcap --file-prefix "$MG_PREFIX" -D >"$MG_TMP/interfaces.txt" 2>&1 </dev/null 9>&-
mg_say "dpdk-dumpcap -D: $(paste -sd' ' "$MG_TMP/interfaces.txt")"
check "dpdk-dumpcap lists the data plane's ports" grep -q 'net_af_packet1' "$MG_TMP/interfaces.txt"
timeout 40 dpdk-dumpcap --file-prefix "$MG_PREFIX" -i net_af_packet1 -f icmp -c 10 -w "$MG_TMP/dump.pcapng" \
  >"$MG_TMP/dumpcap.log" 2>&1 </dev/null 9>&- &
dump=$!
BG_PIDS+=("$dump")
# Pings until dumpcap has its 10 packets (it attaches within a second or two).
ip netns exec mg-client timeout 40 ping -c 200 -i 0.1 -W 1 198.18.2.2 >"$MG_TMP/ping.txt" 2>&1 </dev/null 9>&- &
pinger=$!
BG_PIDS+=("$pinger")
wait "$dump"
dump_rc=$?
sleep 1
kill -INT "$pinger" 2>/dev/null
wait "$pinger" 2>/dev/null
mg_say "dumpcap: $(tr '\n' ' ' <"$MG_TMP/dumpcap.log")"
check "dpdk-dumpcap captured 10 packets and exited (status $dump_rc)" test "$dump_rc" -eq 0
fields=$(tshark -r "$MG_TMP/dump.pcapng" -T fields -E separator=' ' -e ip.src -e ip.dst -e icmp.type 2>/dev/null)
mg_say "tshark reads $(wc -l <<<"$fields") packets: $(sort <<<"$fields" | uniq -c | paste -sd';' -)"
check "tshark reads exactly 10 packets" test "$(wc -l <<<"$fields")" -eq 10
check "all of them ICMP between 198.18.1.2 and 198.18.2.2" \
  test "$(grep -cE '^(198\.18\.1\.2 198\.18\.2\.2 8|198\.18\.2\.2 198\.18\.1\.2 0)$' <<<"$fields")" -eq 10
summary=$(ping_summary "$(cat "$MG_TMP/ping.txt")")
check "no ping lost while dumpcap attached and detached: $summary" grep -q ' 0% packet loss' "$MG_TMP/ping.txt"
check_ping mg-client 198.18.2.2 "after: client -> srv1"
check "the data plane is still running" mg_dataplane_alive

mg_finish
