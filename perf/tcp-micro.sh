#!/usr/bin/env bash
# Microbenchmarks of the TCP stack (perf/tcp_bench.cpp): the segment receive path, the send
# path with its ACK, ACK processing against a SACK scoreboard, and the timer wheel. Each stack
# figure is reported as the stack's own work: the run minus the same run's building and freeing
# of the mbufs (its baseline), with the ratio of the two. Ends with `metric NAME VALUE` lines.
#
#   perf/tcp-micro.sh        (uses BUILD_DIR, default build; builds if needed)
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
[ -d "$BUILD_DIR" ] || meson setup "$BUILD_DIR" "$ROOT" >/dev/null
ninja -C "$BUILD_DIR" perf/tcp_bench >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Three repetitions; the median is reported (these machines are noisy).
"$BUILD_DIR/perf/tcp_bench" --benchmark_min_time=0.3 --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_format=json >"$out" 2>/dev/null
/usr/bin/python3 - "$out" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
ns = {}
for b in data["benchmarks"]:
    if b.get("aggregate_name") == "median":
        unit = {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
        ns[b["run_name"]] = b["cpu_time"] * unit
rx, rx_base = ns["BM_segment_receive"], ns["BM_segment_receive_build_only"]
tx, tx_base = ns["BM_segment_send_and_ack"], ns["BM_segment_send_and_ack_build_only"]
sack, sack_base = ns["BM_sack_update"], ns["BM_sack_copy_baseline"]
print(f"{'path':28} {'total ns':>10} {'baseline ns':>12} {'stack ns':>10}")
print(f"{'segment receive (1448 B)':28} {rx:10.1f} {rx_base:12.1f} {rx - rx_base:10.1f}")
print(f"{'segment send + its ACK':28} {tx:10.1f} {tx_base:12.1f} {tx - tx_base:10.1f}")
print(f"{'SACK update (4 blocks)':28} {sack:10.1f} {sack_base:12.1f} {sack - sack_base:10.1f}")
for k in ("BM_timer_wheel_arm_disarm/0", "BM_timer_wheel_arm_disarm/100000", "BM_timer_wheel_advance/100000"):
    print(f"{k:36} {ns[k]:10.1f} ns")
print(f"metric tcp_segment_receive_ns {rx - rx_base:.1f}")
print(f"metric tcp_segment_receive_ratio_vs_build {rx / rx_base:.3f}")
print(f"metric tcp_send_and_ack_ns {tx - tx_base:.1f}")
print(f"metric tcp_send_and_ack_ratio_vs_build {tx / tx_base:.3f}")
print(f"metric tcp_sack_update_ns {sack - sack_base:.1f}")
print(f"metric tcp_timer_arm_disarm_ns {ns['BM_timer_wheel_arm_disarm/100000']:.1f}")
print(f"metric tcp_timer_advance_tick_ns {ns['BM_timer_wheel_advance/100000']:.1f}")
PY
