#!/usr/bin/env bash
# Microbenchmarks of parse and route lookup, each against its DPDK baseline in the same run.
# Ends with `metric NAME VALUE` lines (ns per item; ratio = meshgate / baseline, lower is better).
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
         ("route_lookup6", "route_lookup6_meshgate", "route_lookup6_rte_lpm6"),
         ("forward_burst", "forward_burst_meshgate", "forward_burst_copy_only")]
print(f"{'stage':16} {'meshgate ns':>12} {'baseline ns':>12} {'ratio':>7}  baseline")
for name, ours, base in pairs:
    print(f"{name:16} {ns[ours]:12.2f} {ns[base]:12.2f} {ns[ours] / ns[base]:7.2f}  {base}")
for name, ours, base in pairs:
    print(f"metric {name}_ns {ns[ours]:.2f}")
    print(f"metric {name}_baseline_ns {ns[base]:.2f}")
    print(f"metric {name}_ratio_vs_dpdk {ns[ours] / ns[base]:.3f}")
PY
