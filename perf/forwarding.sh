#!/usr/bin/env bash
# Forwarding benchmark: meshgate data plane vs dpdk-testpmd (io forwarding), same vdevs, same run.
#
# Both replay a generated pcap of mixed IPv4/IPv6 UDP flows from net_pcap (infinite_rx=1) into
# net_null, with one worker core (lcore 1; main lcore 0). They run one after the other, alternating
# (testpmd, meshgate, testpmd, meshgate, ...), and each one's best run counts.
#
# Ends with:
#   metric forwarding_cycles_per_packet X
#   metric testpmd_cycles_per_packet X
#   metric forwarding_mpps X
#   metric testpmd_mpps X
#   metric forwarding_ratio_vs_testpmd X
#
# Environment (all optional):
#   MESHGATE_DATAPLANE   data-plane binary (default: <repo>/build/dataplane/meshgate-dataplane)
#   TESTPMD              testpmd binary (default: dpdk-testpmd)
#   PERF_SECONDS         seconds per run (default 10)
#   PERF_ROUNDS          testpmd+meshgate rounds (default 3)
#   PERF_FLOWS           flows in the pcap, even (default 1024: 512 IPv4 + 512 IPv6)
#   PERF_MEMORY          auto | huge | nohuge (default auto: hugepages if /dev/hugepages is a
#                        mounted hugetlbfs with >= PERF_HUGEPAGES_MIN free pages, else --no-huge)
#   PERF_HUGEPAGES_MIN   free 2 MB pages needed for hugepage mode (default 256;
#                        testpmd alone uses about 185)
#   PERF_SETUP_HUGEPAGES 1: first run deploy/hugepages.sh (as root: reserve 512 2 MB pages, mount
#                        /dev/hugepages)
#   PERF_TESTPMD_ONLY    1: measure testpmd only (no data plane needed; prints testpmd metrics)
set -euo pipefail

PERF_NAME=forwarding.sh
PERF_DATAPLANE_HINT=", or PERF_TESTPMD_ONLY=1"
# shellcheck source=perf/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TESTPMD=${TESTPMD:-dpdk-testpmd}
TESTPMD_ONLY=${PERF_TESTPMD_ONLY:-0}

command -v "$TESTPMD" >/dev/null || die "testpmd not found ($TESTPMD); apt-get install dpdk"
if [[ $TESTPMD_ONLY != 1 ]]; then perf_check dataplane; else perf_check; fi

# Temp dir and cleanup, memory mode (the same for both programs), the pcap; the data-plane config.
perf_setup
CONFIG=$TMP/dataplane.json
write_config "$CONFIG"

# ---------------------------------------------------------------------------------------------
# One testpmd run: starts it, waits until forwarding is under way, lets it run SECS seconds, stops
# it with SIGINT. Rate = mean of the per-second "Tx-pps" of port 1 (net_null), skipping the first
# report (testpmd shows 0 there: no previous sample). Sets TP_MPPS; TSC_HZ if still unknown.
TP_SAMPLES=()
DP_SAMPLES=()
run_testpmd() {
    local n=$1 log=$TMP/testpmd.$1.log prefix="mgperf-tp-$$"
    local eal
    PREFIXES+=("$prefix")
    mapfile -t eal < <(eal_args "$prefix")
    cpu_mark
    "$TESTPMD" "${eal[@]}" --log-level=lib.eal:debug \
        --vdev "$IN_DEV" --vdev "$OUT_DEV" -- \
        --forward-mode=io --nb-cores=1 --stats-period 1 --no-flush-rx --no-lsc-interrupt \
        </dev/null >"$log" 2>&1 &
    CHILD=$!
    local started=0
    for _ in $(seq 600); do # up to 60 s to start
        if grep -q 'Port statistics' "$log"; then started=1; break; fi
        kill -0 "$CHILD" 2>/dev/null || break
        sleep 0.1
    done
    if ((!started)); then
        wait "$CHILD" 2>/dev/null || true
        CHILD=""
        tail -n 30 "$log" >&2
        die "testpmd run $n did not start forwarding (log above)"
    fi
    sleep "$SECS" &  # in the background so that a trapped signal interrupts the wait
    SLEEPER=$!
    wait "$SLEEPER"
    SLEEPER=""
    kill -INT "$CHILD" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$CHILD" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$CHILD" 2>/dev/null; then
        kill -KILL "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
        CHILD=""
        die "testpmd run $n did not stop within 10 s of SIGINT"
    fi
    wait "$CHILD" 2>/dev/null || true # exits by re-raising SIGINT; success is judged from the log
    CHILD=""
    other_load_since
    local other=$OTHER_LOAD
    rm -rf "/var/run/dpdk/$prefix"
    grep -q '^Bye' "$log" || { tail -n 30 "$log" >&2; die "testpmd run $n did not exit cleanly (log above)"; }

    local rates
    rates=$(awk '/NIC statistics for port/ { port = $(NF - 1) }
                 /Tx-pps:/ && port == "1" { print $2 }' "$log" | tail -n +2)
    [[ -n $rates ]] || { tail -n 40 "$log" >&2; die "testpmd run $n: no Tx-pps samples (log above)"; }
    TP_MPPS=$(awk '{ s += $1; n++ } END { printf "%.3f", s / n / 1e6 }' <<<"$rates")
    awk -v r="$TP_MPPS" 'BEGIN { exit !(r > 0) }' || die "testpmd run $n forwarded nothing (log: see above)"
    if [[ -z $TSC_HZ ]]; then
        TSC_HZ=$(sed -n 's/.*TSC frequency is ~\([0-9]*\) KHz.*/\1/p' "$log" | head -n1)
        [[ -n $TSC_HZ ]] && TSC_HZ=$((TSC_HZ * 1000))
    fi
    info "testpmd  run $n: $TP_MPPS Mpps ($(wc -l <<<"$rates") samples, other load $other%)"
    check_contention "testpmd run $n" "$other"
}

# ---------------------------------------------------------------------------------------------
perf_busy_check
info "memory: $MEMORY; $SECS s per run, $ROUNDS round(s); $FLOWS flows; pcap $(stat -c %s "$PCAP") bytes"
for r in $(seq "$ROUNDS"); do
    run_testpmd "$r"
    TP_SAMPLES+=("$TP_MPPS")
    if [[ $TESTPMD_ONLY != 1 ]]; then
        run_dataplane "$r"
        DP_SAMPLES+=("$DP_MPPS")
    fi
done

TP_BEST=$(best "${TP_SAMPLES[@]}")

if [[ -z $TSC_HZ ]]; then
    mhz=$(awk -F: '/^cpu MHz/ { gsub(/ /, "", $2); print $2; exit }' /proc/cpuinfo)
    [[ -n $mhz ]] || die "cannot determine the TSC frequency"
    TSC_HZ=$(awk -v m="$mhz" 'BEGIN { printf "%d", m * 1e6 }')
fi

cpp() { awk -v hz="$TSC_HZ" -v mpps="$1" 'BEGIN { printf "%.2f", hz / (mpps * 1e6) }'; }

echo "memory mode: $MEMORY   tsc_hz: $TSC_HZ   seconds per run: $SECS   flows: $FLOWS"
echo "testpmd  Mpps per run: ${TP_SAMPLES[*]}   best: $TP_BEST"
if [[ $TESTPMD_ONLY == 1 ]]; then
    echo "metric testpmd_cycles_per_packet $(cpp "$TP_BEST")"
    echo "metric testpmd_mpps $TP_BEST"
    exit 0
fi
DP_BEST=$(best "${DP_SAMPLES[@]}")
echo "meshgate Mpps per run: ${DP_SAMPLES[*]}   best: $DP_BEST"
echo "metric forwarding_cycles_per_packet $(cpp "$DP_BEST")"
echo "metric testpmd_cycles_per_packet $(cpp "$TP_BEST")"
echo "metric forwarding_mpps $DP_BEST"
echo "metric testpmd_mpps $TP_BEST"
echo "metric forwarding_ratio_vs_testpmd $(awk -v a="$DP_BEST" -v b="$TP_BEST" 'BEGIN { printf "%.3f", a / b }')"
