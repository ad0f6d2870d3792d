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

die() { echo "forwarding.sh: error: $*" >&2; exit 1; }
info() { echo "forwarding.sh: $*" >&2; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)

DATAPLANE=${MESHGATE_DATAPLANE:-$REPO_DIR/build/dataplane/meshgate-dataplane}
TESTPMD=${TESTPMD:-dpdk-testpmd}
SECS=${PERF_SECONDS:-10}
ROUNDS=${PERF_ROUNDS:-3}
FLOWS=${PERF_FLOWS:-1024}
MEMORY=${PERF_MEMORY:-auto}
HUGE_MIN=${PERF_HUGEPAGES_MIN:-256}
TESTPMD_ONLY=${PERF_TESTPMD_ONLY:-0}
PYTHON=/usr/bin/python3 # Debian's python modules import only with this one

[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "PERF_SECONDS must be a positive integer"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "PERF_ROUNDS must be a positive integer"
command -v "$TESTPMD" >/dev/null || die "testpmd not found ($TESTPMD); apt-get install dpdk"
[[ -x $PYTHON ]] || die "$PYTHON not found"
if [[ $TESTPMD_ONLY != 1 ]]; then
    [[ -x $DATAPLANE ]] || die "data plane binary not found or not executable: $DATAPLANE" \
        "(build it, set MESHGATE_DATAPLANE, or PERF_TESTPMD_ONLY=1)"
fi
[[ $(nproc) -ge 2 ]] || die "needs at least 2 cores (lcores 0 and 1)"

# ---------------------------------------------------------------------------------------------
# Temp dir, child process and DPDK runtime-dir cleanup.
TMP=$(mktemp -d /tmp/meshgate-perf.XXXXXX)
CHILD=""
PREFIXES=()
# --in-memory still creates an (empty) /var/run/dpdk/rte; remove it afterwards if it is ours.
RTE_DIR_WAS_THERE=0
[[ -e /var/run/dpdk/rte ]] && RTE_DIR_WAS_THERE=1
SLEEPER=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $SLEEPER ]] && kill "$SLEEPER" 2>/dev/null
    if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
        kill -INT "$CHILD" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$CHILD" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    local p
    for p in "${PREFIXES[@]}"; do rm -rf "/var/run/dpdk/$p" "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk/$p"; done
    ((RTE_DIR_WAS_THERE)) || rmdir /var/run/dpdk/rte 2>/dev/null || true
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Memory: hugepages (--in-memory) when available, else --no-huge; the same for both programs.
free_hugepages() {
    local f=/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages
    [[ -r $f ]] && cat "$f" || echo 0
}
hugetlbfs_mounted() { awk '$2 == "/dev/hugepages" && $3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts; }

if [[ ${PERF_SETUP_HUGEPAGES:-0} == 1 ]]; then
    [[ -f $REPO_DIR/deploy/hugepages.sh ]] || die "$REPO_DIR/deploy/hugepages.sh not found"
    bash "$REPO_DIR/deploy/hugepages.sh" >&2 # never fails; the check below decides
fi

case $MEMORY in
auto)
    if hugetlbfs_mounted && (($(free_hugepages) >= HUGE_MIN)); then MEMORY=huge; else MEMORY=nohuge; fi ;;
huge)
    hugetlbfs_mounted || die "PERF_MEMORY=huge but /dev/hugepages is not a mounted hugetlbfs"
    (($(free_hugepages) >= HUGE_MIN)) || die "PERF_MEMORY=huge but only $(free_hugepages) free 2 MB hugepages (< $HUGE_MIN)" ;;
nohuge) ;;
*) die "PERF_MEMORY must be auto, huge or nohuge" ;;
esac

# eal_args PREFIX: EAL arguments common to both programs (the caller records PREFIX in PREFIXES).
eal_args() {
    local args=(--no-pci -l '0,1' --log-level='*:warning')
    if [[ $MEMORY == huge ]]; then
        args+=(--in-memory)
    else
        args+=(--no-huge -m 1024 --file-prefix "$1")
    fi
    printf '%s\n' "${args[@]}"
}

# ---------------------------------------------------------------------------------------------
# Inputs: pcap and data-plane config.
PCAP=$TMP/flows.pcap
"$PYTHON" "$SCRIPT_DIR/gen_flows.py" "$PCAP" "$FLOWS" || die "pcap generation failed"
# net_null's rx would otherwise feed an endless stream of dummy packets back in (testpmd's io mode
# forwards both directions); no-rx=1 makes the pcap -> null direction the only traffic for both.
IN_DEV="net_pcap0,rx_pcap=$PCAP,infinite_rx=1"
OUT_DEV="net_null0,no-rx=1"

CONFIG=$TMP/dataplane.json
cat >"$CONFIG" <<EOF
{
  "workers": { "lcores": [1] },
  "interfaces": [
    { "name": "in", "device": "$IN_DEV", "mac": "02:00:00:00:00:01",
      "ipv4Addresses": ["198.18.0.1/24"], "ipv6Addresses": ["fd00:0::1/64"] },
    { "name": "out", "device": "$OUT_DEV", "mac": "02:00:00:00:00:02",
      "ipv4Addresses": ["198.19.0.1/24"], "ipv6Addresses": ["fd00:ff::1/64"],
      "staticNeighbors": [ { "ip": "198.19.0.2", "mac": "02:00:00:00:00:99" },
                           { "ip": "fd00:ff::2", "mac": "02:00:00:00:00:99" } ] }
  ],
  "routes": [
    { "prefix": "198.19.128.0/17", "nextHop": "198.19.0.2", "interface": "out" },
    { "prefix": "fd00:1000::/36", "nextHop": "fd00:ff::2", "interface": "out" }
  ]
}
EOF

# ---------------------------------------------------------------------------------------------
# CPU time used by other processes while a run was going on, in % of the machine (all CPUs):
# whole-machine busy time from /proc/stat minus what this script's children used (bash `times`,
# which counts waited-for children and their descendants). A build alongside shows up here.
CPU_MARK=""
cpu_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)
# Must run in this shell, not in $(...) or a pipeline: a subshell has its own (empty) child times.
children_ms() { # user + system time of waited-for children, in ms
    times >"$TMP/times"
    awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%d", t * 1000 }' "$TMP/times"
}
cpu_mark() {
    children_ms >"$TMP/ms"
    CPU_MARK="$(cpu_ticks) $(<"$TMP/ms")"
}
# Sets OTHER_LOAD.
other_load_since() {
    local b0 t0 c0 b1 t1 c1
    read -r b0 t0 c0 <<<"$CPU_MARK"
    children_ms >"$TMP/ms"
    c1=$(<"$TMP/ms")
    read -r b1 t1 <<<"$(cpu_ticks)"
    OTHER_LOAD=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v c=$((c1 - c0)) -v hz="$CLK_TCK" \
        'BEGIN { o = (b - c * hz / 1000) * 100 / (t + 1); printf "%d", o < 0 ? 0 : o }')
}
check_contention() { # NAME OTHER%
    (($2 <= 10)) ||
        info "warning: $1: other processes used $2% of the CPUs during the run: this run is probably low"
}

# ---------------------------------------------------------------------------------------------
# One testpmd run: starts it, waits until forwarding is under way, lets it run SECS seconds, stops
# it with SIGINT. Rate = mean of the per-second "Tx-pps" of port 1 (net_null), skipping the first
# report (testpmd shows 0 there: no previous sample). Sets TP_MPPS; TSC_HZ if still unknown.
TSC_HZ=""
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

# One data-plane run with --duration SECS. Sets DP_MPPS; TSC_HZ from its "tsc_hz N" line.
run_dataplane() {
    local n=$1 log=$TMP/dataplane.$1.log prefix="mgperf-$$"
    local eal rc=0
    PREFIXES+=("$prefix")
    mapfile -t eal < <(eal_args "$prefix")
    cpu_mark
    timeout -k 5 $((SECS + 60)) "$DATAPLANE" "${eal[@]}" -- --config "$CONFIG" --duration "$SECS" \
        </dev/null >"$log" 2>&1 &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=""
    other_load_since
    local other=$OTHER_LOAD
    rm -rf "/var/run/dpdk/$prefix"
    if ((rc != 0)); then
        tail -n 30 "$log" >&2
        ((rc == 124 || rc == 137)) && die "data plane run $n did not finish within $((SECS + 60)) s (log above)"
        [[ $MEMORY == huge ]] && info "(hugepage mode; PERF_MEMORY=nohuge runs without hugepages)"
        die "data plane run $n failed with exit status $rc (log above)"
    fi
    local summary
    summary=$(grep -m1 '^summary:' "$log" || true)
    [[ -n $summary ]] || { tail -n 30 "$log" >&2; die "data plane run $n printed no 'summary:' line (log above)"; }
    # summary: rx_packets N tx_packets N seconds S rx_mpps X tx_mpps Y
    field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' <<<"$summary"; }
    local rx tx
    rx=$(field rx_packets) tx=$(field tx_packets) DP_MPPS=$(field tx_mpps)
    [[ $rx =~ ^[0-9]+$ && $tx =~ ^[0-9]+$ && $DP_MPPS =~ ^[0-9.eE+-]+$ ]] ||
        die "data plane run $n: cannot parse summary: $summary"
    ((tx > 0)) || die "data plane run $n forwarded nothing: $summary"
    awk -v rx="$rx" -v tx="$tx" 'BEGIN { exit !(tx >= 0.9 * rx) }' ||
        die "data plane run $n forwarded only $tx of $rx received packets (routing/neighbor problem?): $summary"
    local hz
    hz=$(awk '$1 == "tsc_hz" && $2 ~ /^[0-9]+$/ { print $2; exit }' "$log")
    [[ -n $hz ]] && TSC_HZ=$hz
    info "meshgate run $n: $DP_MPPS Mpps (rx $rx, tx $tx, other load $other%)"
    check_contention "meshgate run $n" "$other"
}

# ---------------------------------------------------------------------------------------------
# Warn when something else is using the CPUs (a build, say): results would be low and noisy.
cpu_mark; sleep 1; other_load_since; busy=$OTHER_LOAD
((busy < 15)) || info "warning: the CPUs were ${busy}% busy before the benchmark: results will be low and noisy"
info "memory: $MEMORY; $SECS s per run, $ROUNDS round(s); $FLOWS flows; pcap $(stat -c %s "$PCAP") bytes"
for r in $(seq "$ROUNDS"); do
    run_testpmd "$r"
    TP_SAMPLES+=("$TP_MPPS")
    if [[ $TESTPMD_ONLY != 1 ]]; then
        run_dataplane "$r"
        DP_SAMPLES+=("$DP_MPPS")
    fi
done

best() { printf '%s\n' "$@" | sort -g | tail -n1; }
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
