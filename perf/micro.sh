#!/usr/bin/env bash
# Microbenchmarks of parse and route lookup, each against its DPDK baseline in the same run.
# Ends with `metric NAME VALUE` lines (ns per item; ratio = meshgate / baseline, lower is better),
# and the whole worker path per packet (a burst of 32 less its allocation and copy).
#
#   perf/micro.sh            (uses BUILD_DIR, default build; builds if needed)
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
[ -d "$BUILD_DIR" ] || meson setup "$BUILD_DIR" "$ROOT" >/dev/null
ninja -C "$BUILD_DIR" perf/dataplane_bench >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Three repetitions; the median is reported (these machines are noisy).
"$BUILD_DIR/perf/dataplane_bench" --benchmark_min_time=0.3 --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_format=json >"$out" 2>/dev/null
/usr/bin/python3 - "$out" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
ns = {}
for b in data["benchmarks"]:
    if b.get("aggregate_name") == "median":
        ns[b["run_name"]] = b["cpu_time"] if b["time_unit"] == "ns" else b["cpu_time"] * 1000
pairs = [("parse", "parse_meshgate", "parse_dpdk_ptype"),
         ("route_lookup4", "route_lookup4_meshgate", "route_lookup4_rte_lpm"),
         ("route_lookup6", "route_lookup6_meshgate", "route_lookup6_rte_lpm6")]
print(f"{'stage':16} {'meshgate ns':>12} {'baseline ns':>12} {'ratio':>7}  baseline")
for name, ours, base in pairs:
    print(f"{name:16} {ns[ours]:12.2f} {ns[base]:12.2f} {ns[ours] / ns[base]:7.2f}  {base}")
# The whole worker path on a burst of 32, less the same burst's mbuf allocation and copy.
burst, copy = ns["forward_burst_meshgate"], ns["forward_burst_copy_only"]
per_packet = (burst - copy) / 32
print(f"{'forward (32 pkts)':16} {burst:12.2f} {copy:12.2f}  -> {per_packet:.2f} ns per packet of forwarding work")
for name, ours, base in pairs:
    print(f"metric {name}_ns {ns[ours]:.2f}")
    print(f"metric {name}_baseline_ns {ns[base]:.2f}")
    print(f"metric {name}_ratio_vs_dpdk {ns[ours] / ns[base]:.3f}")
print(f"metric forward_ns_per_packet {per_packet:.2f}")
PY
