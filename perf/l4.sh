#!/usr/bin/env bash
# L4 load-balancer benchmark: meshgate's L4 path side by side with baselines, in the same run.
#
# Part A, synthetic (no namespaces): established-flow TCP data segments from many clients to the
#   VIP 198.18.50.10:80, replayed from net_pcap (infinite_rx=1) into net_null, one worker core.
#   meshgate-dataplane runs a full-NAT service with 8 backends, a 1M-session table and a
#   1000-rule default-deny firewall (perf/l4/gen_l4_config.py); dpdk-testpmd io-forwards the same
#   pcap on the same vdevs. Alternating rounds, best run of each counts (as perf/forwarding.sh).
# Part B, lab (deploy/lab/lab.sh namespaces, real TCP): new connections per second (wrk, one
#   request per connection, to nginx backends) and throughput (iperf3) through the VIP, with the
#   root namespace's kernel as the load balancer (nftables DNAT + masquerade, kube-proxy style,
#   perf/l4/nftables-l4.nft) and then with meshgate-dataplane (perf/l4/meshgate-l4-lab.json) on
#   the same veths. CPU time of the whole machine (/proc/stat) is counted during each load.
#
# Ends with:
#   metric l4_ratio_vs_testpmd X              l4_mpps / testpmd_mpps           (part A)
#   metric l4_cps_ratio_vs_nftables X         l4_cps / nftables_cps            (part B, IPv4)
#   metric l4_throughput_ratio_vs_nftables X  l4_gbps / nftables_gbps          (part B, IPv4)
# after metric lines with the raw figures. A figure that could not be measured is 0, with an
# "l4.sh: error:" line saying why.
#
# Exit status: 0 all measured; 3 the baselines were measured but a meshgate half failed (e.g. the
# data plane does not implement services yet: its figures and ratios are 0); 1 anything else.
#
# Environment (all optional):
#   MESHGATE_DATAPLANE    data-plane binary (default: <repo>/build/dataplane/meshgate-dataplane)
#   TESTPMD               testpmd binary (default: dpdk-testpmd)
#   PERF_L4_PARTS         synthetic,lab (default) | synthetic | lab
#   PERF_L4_BASELINE_ONLY 1: testpmd and nftables only, no data plane (ratios printed as 0)
#   -- part A
#   PERF_SECONDS          seconds per run (default 10)
#   PERF_ROUNDS           testpmd+meshgate rounds (default 3)
#   PERF_L4_FLOWS         flows (= packets) in the pcap (default 262144; full NAT through one
#                         source address fits at most 8 backends x 64512 ports, see perf/README.md)
#   PERF_L4_MODE          full-nat (default) | dnat
#   PERF_L4_SYN_FIRST     1: the pcap starts with one SYN per flow (default 0: data segments only)
#   PERF_L4_RULES         firewall rules (default 1000)
#   PERF_L4_SESSIONS      flows.sessionsPerWorker (default 1048576)
#   PERF_MEMORY           auto (default) | huge | nohuge, as in perf/forwarding.sh
#   PERF_L4_HUGEPAGES     free 2 MB hugepages wanted (default: estimated from flows and sessions,
#                         at least 1024); auto/huge mode reserves them with deploy/hugepages.sh
#                         and gives back what it added on exit
#   -- part B
#   PERF_L4_LOAD_SECONDS  seconds per load run (default 10)
#   PERF_L4_CONNS         wrk connections (default 16); PERF_L4_THREADS wrk threads (default 1)
#   PERF_L4_STREAMS       iperf3 parallel streams (default 1)
#   PERF_L4_IPV6          1 (default): also IPv6 VIP runs (extra metrics *_v6); 0: IPv4 only
#   PERF_L4_LAB_CONFIG    meshgate lab config (default perf/l4/meshgate-l4-lab.json)
#   PERF_L4_LAB_MEMORY_MB data plane --no-huge -m in the lab (default 2048)
#   PERF_L4_INSTALL       1 (default): apt-get install nginx / wrk / nftables when missing
#   PERF_L4_LOCK_WAIT     seconds to wait for the lab lock (default 300)
#   PERF_L4_PRIVATE_LAB   1: run in new network and mount namespaces with their own /run/netns and
#                         /run/lock: a private copy of the lab whose "root namespace" (the
#                         nftables router, the af_packet ports) is a fresh network namespace; the
#                         shared lab, its lock and the real root namespace are not touched
set -euo pipefail

die() { echo "l4.sh: error: $*" >&2; exit 1; }
info() { echo "l4.sh: $*" >&2; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
L4_DIR=$SCRIPT_DIR/l4
LAB=$REPO_DIR/deploy/lab/lab.sh

DATAPLANE=${MESHGATE_DATAPLANE:-$REPO_DIR/build/dataplane/meshgate-dataplane}
case $DATAPLANE in /*) ;; *) DATAPLANE=$PWD/$DATAPLANE ;; esac
TESTPMD=${TESTPMD:-dpdk-testpmd}
PARTS=${PERF_L4_PARTS:-synthetic,lab}
BASELINE_ONLY=${PERF_L4_BASELINE_ONLY:-0}
SECS=${PERF_SECONDS:-10}
ROUNDS=${PERF_ROUNDS:-3}
FLOWS=${PERF_L4_FLOWS:-262144}
MODE=${PERF_L4_MODE:-full-nat}
SYN_FIRST=${PERF_L4_SYN_FIRST:-0}
RULES=${PERF_L4_RULES:-1000}
SESSIONS=${PERF_L4_SESSIONS:-1048576}
MEMORY=${PERF_MEMORY:-auto}
LOAD_SECS=${PERF_L4_LOAD_SECONDS:-10}
CONNS=${PERF_L4_CONNS:-16}
THREADS=${PERF_L4_THREADS:-1}
STREAMS=${PERF_L4_STREAMS:-1}
IPV6=${PERF_L4_IPV6:-1}
LAB_CONFIG=${PERF_L4_LAB_CONFIG:-$L4_DIR/meshgate-l4-lab.json}
LAB_MEM=${PERF_L4_LAB_MEMORY_MB:-2048}
INSTALL=${PERF_L4_INSTALL:-1}
LOCK_WAIT=${PERF_L4_LOCK_WAIT:-300}
PYTHON=/usr/bin/python3 # Debian's python modules import only with this one

DO_A=0 DO_B=0
case ",$PARTS," in *,synthetic,*) DO_A=1 ;; esac
case ",$PARTS," in *,lab,*) DO_B=1 ;; esac
((DO_A || DO_B)) || die "PERF_L4_PARTS must name synthetic and/or lab"
for v in SECS ROUNDS FLOWS RULES SESSIONS LOAD_SECS CONNS THREADS STREAMS LAB_MEM LOCK_WAIT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v (${!v}) must be a positive integer"
done
[[ $MODE == full-nat || $MODE == dnat ]] || die "PERF_L4_MODE must be full-nat or dnat"
[[ $(id -u) -eq 0 ]] || die "must run as root (hugepages, namespaces, nftables)"
[[ -x $PYTHON ]] || die "$PYTHON not found"
[[ $(nproc) -ge 2 ]] || die "needs at least 2 cores (lcores 0 and 1)"
if [[ $BASELINE_ONLY != 1 ]]; then
    [[ -x $DATAPLANE ]] || die "data plane binary not found or not executable: $DATAPLANE" \
        "(build it, set MESHGATE_DATAPLANE, or PERF_L4_BASELINE_ONLY=1)"
fi
if ((DO_A)); then
    command -v "$TESTPMD" >/dev/null || die "testpmd not found ($TESTPMD); apt-get install dpdk"
    ((RULES >= 4)) || die "PERF_L4_RULES must be at least 4"
    # One full-NAT source address has 64512 source ports (1024-65535) towards each backend
    # (address, port): 8 x 64512 = 516096 concurrent flows at most, less with Maglev's uneven
    # split and the allocator's probing.
    if [[ $MODE == full-nat ]] && ((FLOWS > 450000)); then
        info "warning: $FLOWS full-NAT flows through one source address and 8 backends come close to" \
            "or exceed the 8 x 64512 source ports; use PERF_L4_MODE=dnat for more flows"
    fi
fi

# ---------------------------------------------------------------------------------------------
# PERF_L4_PRIVATE_LAB=1: start over inside new network and mount namespaces (see above). Everything
# the run creates there (lab namespaces, veths, nftables, sysctls) goes away with them.
if [[ ${PERF_L4_PRIVATE_LAB:-0} == 1 && -z ${MESHGATE_L4_IN_PRIVATE_LAB:-} ]]; then
    command -v unshare >/dev/null || die "unshare not found (util-linux)"
    info "private lab: new network and mount namespaces, own /run/netns and /run/lock"
    # shellcheck disable=SC2016 # the inner script's own variables
    exec env MESHGATE_L4_IN_PRIVATE_LAB=1 unshare --mount --net -- bash -c '
        set -e
        mount --make-rprivate /
        mkdir -p /run/netns /run/lock
        mount -t tmpfs meshgate-l4-netns /run/netns
        mount -t tmpfs meshgate-l4-lock /run/lock
        ip link set lo up
        exec bash "$0" "$@"' "$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")" "$@"
fi

# ---------------------------------------------------------------------------------------------
# State for cleanup.
TMP=$(mktemp -d /tmp/meshgate-perf-l4.XXXXXX)
CHILD=""        # foreground DPDK run (testpmd or the part A data plane)
SLEEPER=""
BG_PIDS=()      # servers and the lab data plane
PREFIXES=()     # DPDK --file-prefix names to remove
RTE_DIR_WAS_THERE=0
[[ -e /var/run/dpdk/rte ]] && RTE_DIR_WAS_THERE=1
HUGE_ORIG=""    # nr_hugepages before we raised it
LAB_UP_BY_US=0
BASELINE_ACTIVE=0
NS_ADDRS=()     # "ns dev addr" added to lab namespaces
NS_SYSCTLS=()   # "ns path old-value" changed in lab namespaces
IFACE_SYSCTLS=() # "path old-value" changed in the root namespace
KEEP_TMP=0

stop_pid() { # PID [SIGNAL]: signal, wait up to 5 s, then SIGKILL
    local pid=$1 sig=${2:-TERM}
    if kill -0 "$pid" 2>/dev/null; then
        kill -s "$sig" "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # invoked by the EXIT trap (shellcheck 0.9 misses that here)
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [[ -n $SLEEPER ]] && kill "$SLEEPER" 2>/dev/null
    [[ -n $CHILD ]] && stop_pid "$CHILD" INT
    local p
    for p in "${BG_PIDS[@]}"; do stop_pid "$p" TERM; done
    ((BASELINE_ACTIVE)) && baseline_down
    local e ns dev addr path old
    for e in "${NS_ADDRS[@]}"; do
        read -r ns dev addr <<<"$e"
        ip -n "$ns" addr del "$addr" dev "$dev" 2>/dev/null
    done
    for e in "${NS_SYSCTLS[@]}"; do
        read -r ns path old <<<"$e"
        ip netns exec "$ns" sh -c "echo $old > /proc/sys/$path" 2>/dev/null
    done
    ((LAB_UP_BY_US)) && "$LAB" down >/dev/null 2>&1
    for p in "${PREFIXES[@]}"; do rm -rf "/var/run/dpdk/$p" "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk/$p"; done
    ((RTE_DIR_WAS_THERE)) || rmdir /var/run/dpdk/rte 2>/dev/null
    if [[ -n $HUGE_ORIG ]]; then
        echo "$HUGE_ORIG" >/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages 2>/dev/null
        info "hugepages: gave back the pages this run reserved (nr_hugepages $(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages))"
    fi
    if ((rc != 0 && rc != 3)) || ((KEEP_TMP)); then
        rm -f "$TMP"/*.pcap
        info "logs kept in $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# CPU accounting from /proc/stat: busy = user + nice + system + irq + softirq jiffies, all CPUs.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
now() { date +%s.%N; }
CPU_B0="" CPU_T0="" CPU_W0=""
cpu_mark() { read -r CPU_B0 CPU_T0 <<<"$(cpu_ticks)"; CPU_W0=$(now); }
# Sets BUSY_CORES (busy CPU seconds per wall second, whole machine) and BUSY_PCT (of all CPUs).
cpu_since() {
    local b1 t1 w1
    read -r b1 t1 <<<"$(cpu_ticks)"
    w1=$(now)
    BUSY_CORES=$(awk -v b=$((b1 - CPU_B0)) -v hz="$CLK_TCK" -v w0="$CPU_W0" -v w1="$w1" \
        'BEGIN { printf "%.2f", b / hz / (w1 - w0) }')
    BUSY_PCT=$(awk -v b=$((b1 - CPU_B0)) -v t=$((t1 - CPU_T0)) 'BEGIN { printf "%d", b * 100 / (t + 1) }')
}
# CPU used by other processes during a part A run, in % of the machine: whole-machine busy time
# minus what this script's waited-for children used (bash `times`; as perf/forwarding.sh does).
# Must run in this shell, not in $(...). Sets OTHER_PCT.
children_ms() {
    times >"$TMP/times"
    awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%d", t * 1000 }' "$TMP/times"
}
OTHER_MARK=""
other_mark() { children_ms >"$TMP/ms"; OTHER_MARK="$(cpu_ticks) $(<"$TMP/ms")"; }
other_since() {
    local b0 t0 c0 b1 t1 c1
    read -r b0 t0 c0 <<<"$OTHER_MARK"
    children_ms >"$TMP/ms"
    c1=$(<"$TMP/ms")
    read -r b1 t1 <<<"$(cpu_ticks)"
    OTHER_PCT=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v c=$((c1 - c0)) -v hz="$CLK_TCK" \
        'BEGIN { o = (b - c * hz / 1000) * 100 / (t + 1); printf "%d", o < 0 ? 0 : o }')
    ((OTHER_PCT <= 10)) || info "warning: other processes used $OTHER_PCT% of the CPUs during this run: it is probably low"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print 0 }'; }
per_core() { awk -v a="$1" -v c="$2" -v f="${3:-%.1f}" 'BEGIN { if (c > 0) printf f, a / c; else print 0 }'; }

declare -A M=()   # metric name -> value
MG_ERRORS=()      # why a meshgate half failed
mg_error() { MG_ERRORS+=("$*"); KEEP_TMP=1; echo "l4.sh: error: $*" >&2; }

cpu_mark; sleep 1; cpu_since
((BUSY_PCT < 15)) || info "warning: the CPUs were ${BUSY_PCT}% busy before the benchmark: results will be low and noisy"

# =============================================================================================
# Part A: synthetic, net_pcap -> net_null.
# =============================================================================================
TSC_HZ=""
part_a() {
    local packets=$FLOWS
    ((SYN_FIRST == 1)) && packets=$((FLOWS * 2))
    local pcap=$TMP/l4flows.pcap
    local gen_args=()
    ((SYN_FIRST == 1)) && gen_args+=(--syn-first)
    local t0 t1
    t0=$(now)
    "$PYTHON" "$L4_DIR/gen_l4_flows.py" "${gen_args[@]}" "$pcap" "$FLOWS" || die "pcap generation failed"
    t1=$(now)
    PCAP_GEN_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    info "pcap: $FLOWS flows, $packets packets, $(stat -c %s "$pcap") bytes, generated in $PCAP_GEN_SECS s"

    # Memory. net_pcap with infinite_rx holds every pcap packet in an mbuf of the port's pool for
    # the whole run, so both programs need pools of (packets + working set). About 2.5 KB per
    # mbuf (2 KB data room); the session table is estimated at 512 bytes per session.
    local dp_mbufs=$((packets + 32767)) tp_mbufs=$((packets + 65536))
    local need_mb=$(((tp_mbufs * 5 / 2 + 1023) / 1024 + 128))
    local dp_mb=$(((dp_mbufs * 5 / 2 + 1023) / 1024 + SESSIONS / 2048 + 256))
    ((dp_mb > need_mb)) && need_mb=$dp_mb
    local pages=${PERF_L4_HUGEPAGES:-$(((need_mb + 1) / 2))}
    [[ $pages =~ ^[0-9]+$ ]] || die "PERF_L4_HUGEPAGES must be a number"
    [[ -n ${PERF_L4_HUGEPAGES:-} ]] || ((pages >= 1024)) || pages=1024
    local sys=/sys/kernel/mm/hugepages/hugepages-2048kB
    free_pages() { [[ -r $sys/free_hugepages ]] && cat "$sys/free_hugepages" || echo 0; }
    mounted() { awk '$2 == "/dev/hugepages" && $3 == "hugetlbfs" { f = 1 } END { exit !f }' /proc/mounts; }
    if [[ $MEMORY == auto || $MEMORY == huge ]] && { ! mounted || (($(free_pages) < pages)); }; then
        local nr=0
        [[ -r $sys/nr_hugepages ]] && nr=$(cat "$sys/nr_hugepages")
        local target=$((nr - $(free_pages) + pages))
        ((target > nr)) && HUGE_ORIG=$nr
        info "hugepages: want $pages free 2 MB pages (have $(free_pages) free of $nr); reserving via deploy/hugepages.sh"
        HUGEPAGES=$((target > nr ? target : nr)) bash "$REPO_DIR/deploy/hugepages.sh" >&2 || true
        if [[ -n $HUGE_ORIG ]] && (($(cat "$sys/nr_hugepages" 2>/dev/null || echo 0) == HUGE_ORIG)); then
            HUGE_ORIG="" # nothing was added
        fi
    fi
    case $MEMORY in
    auto) if mounted && (($(free_pages) >= pages)); then MEMORY=huge; else MEMORY=nohuge; fi ;;
    huge)
        mounted || die "PERF_MEMORY=huge but /dev/hugepages is not a mounted hugetlbfs"
        (($(free_pages) >= pages)) || die "PERF_MEMORY=huge but only $(free_pages) free 2 MB hugepages (< $pages)" ;;
    nohuge) ;;
    *) die "PERF_MEMORY must be auto, huge or nohuge" ;;
    esac
    eal_args() { # PREFIX
        local args=(--no-pci -l '0,1' --log-level='*:warning')
        if [[ $MEMORY == huge ]]; then args+=(--in-memory); else args+=(--no-huge -m "$((pages * 2))" --file-prefix "$1"); fi
        printf '%s\n' "${args[@]}"
    }

    IN_DEV="net_pcap0,rx_pcap=$pcap,infinite_rx=1"
    OUT_DEV="net_null0,no-rx=1"
    local config=$TMP/l4-synthetic.json
    "$PYTHON" "$L4_DIR/gen_l4_config.py" --in-dev "$IN_DEV" --out-dev "$OUT_DEV" --mbufs "$dp_mbufs" \
        --sessions "$SESSIONS" --mode "$MODE" --rules "$RULES" "$config" || die "config generation failed"
    info "part A: memory $MEMORY ($pages x 2 MB wanted), $SECS s per run, $ROUNDS round(s), $FLOWS flows," \
        "service $MODE with 8 backends, $RULES firewall rules, $SESSIONS sessions per worker"

    local tp_samples=() dp_samples=() r dp_failed=0
    for r in $(seq "$ROUNDS"); do
        run_testpmd "$r" "$tp_mbufs"
        tp_samples+=("$TP_MPPS")
        if [[ $BASELINE_ONLY != 1 ]] && ((!dp_failed)); then
            if run_dataplane_a "$r" "$config" "$packets"; then
                dp_samples+=("$DP_MPPS")
            else
                dp_failed=1 # the same config would fail again: no further data plane runs
            fi
        fi
    done
    best() { printf '%s\n' "$@" | sort -g | tail -n1; }
    local tp_best dp_best=0
    tp_best=$(best "${tp_samples[@]}")
    ((${#dp_samples[@]})) && dp_best=$(best "${dp_samples[@]}")
    if [[ -z $TSC_HZ ]]; then
        local mhz
        mhz=$(awk -F: '/^cpu MHz/ { gsub(/ /, "", $2); print $2; exit }' /proc/cpuinfo)
        [[ -n $mhz ]] && TSC_HZ=$(awk -v m="$mhz" 'BEGIN { printf "%d", m * 1e6 }')
    fi
    cpp() { awk -v hz="${TSC_HZ:-0}" -v mpps="$1" 'BEGIN { if (mpps > 0) printf "%.2f", hz / (mpps * 1e6); else print 0 }'; }
    echo "part A: memory mode $MEMORY, tsc_hz ${TSC_HZ:-?}, $SECS s per run, $FLOWS flows ($packets packets), $MODE"
    echo "testpmd  Mpps per run: ${tp_samples[*]}   best: $tp_best"
    [[ $BASELINE_ONLY == 1 ]] || echo "meshgate Mpps per run: ${dp_samples[*]:-none}   best: $dp_best"
    M[l4_flows]=$FLOWS
    M[l4_pcap_generation_seconds]=$PCAP_GEN_SECS
    M[testpmd_mpps]=$tp_best
    M[testpmd_cycles_per_packet]=$(cpp "$tp_best")
    [[ $BASELINE_ONLY == 1 ]] && return 0
    M[l4_mpps]=$dp_best
    M[l4_cycles_per_packet]=$(cpp "$dp_best")
    M[l4_ratio_vs_testpmd]=$(ratio "$dp_best" "$tp_best")
}

# One testpmd run (as perf/forwarding.sh). Sets TP_MPPS.
run_testpmd() {
    local n=$1 mbufs=$2 log=$TMP/testpmd.$1.log prefix="mgperf-l4-tp-$$"
    local eal
    PREFIXES+=("$prefix")
    mapfile -t eal < <(eal_args "$prefix")
    other_mark
    "$TESTPMD" "${eal[@]}" --log-level=lib.eal:debug --vdev "$IN_DEV" --vdev "$OUT_DEV" -- \
        --forward-mode=io --nb-cores=1 --stats-period 1 --no-flush-rx --no-lsc-interrupt \
        --total-num-mbufs="$mbufs" </dev/null >"$log" 2>&1 9>&- &
    CHILD=$!
    local started=0
    for _ in $(seq 600); do
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
    sleep "$SECS" &
    SLEEPER=$!
    wait "$SLEEPER"
    SLEEPER=""
    kill -INT "$CHILD" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$CHILD" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$CHILD" 2>/dev/null; then
        stop_pid "$CHILD" KILL
        CHILD=""
        die "testpmd run $n did not stop within 10 s of SIGINT"
    fi
    wait "$CHILD" 2>/dev/null || true
    CHILD=""
    other_since
    rm -rf "/var/run/dpdk/$prefix"
    grep -q '^Bye' "$log" || { tail -n 30 "$log" >&2; die "testpmd run $n did not exit cleanly (log above)"; }
    local rates
    rates=$(awk '/NIC statistics for port/ { port = $(NF - 1) }
                 /Tx-pps:/ && port == "1" { print $2 }' "$log" | tail -n +2)
    [[ -n $rates ]] || { tail -n 40 "$log" >&2; die "testpmd run $n: no Tx-pps samples (log above)"; }
    TP_MPPS=$(awk '{ s += $1; n++ } END { printf "%.3f", s / n / 1e6 }' <<<"$rates")
    awk -v r="$TP_MPPS" 'BEGIN { exit !(r > 0) }' || die "testpmd run $n forwarded nothing"
    if [[ -z $TSC_HZ ]]; then
        TSC_HZ=$(sed -n 's/.*TSC frequency is ~\([0-9]*\) KHz.*/\1/p' "$log" | head -n1)
        [[ -n $TSC_HZ ]] && TSC_HZ=$((TSC_HZ * 1000))
    fi
    info "testpmd  run $n: $TP_MPPS Mpps ($(wc -l <<<"$rates") samples, other load ${OTHER_PCT}%)"
}

# One part A data-plane run with --duration SECS. Sets DP_MPPS; returns 1 (after mg_error) on
# failure, so that the baselines still get reported.
run_dataplane_a() {
    local n=$1 config=$2 packets=$3 log=$TMP/dataplane-a.$1.log prefix="mgperf-l4-$$"
    local eal rc=0
    PREFIXES+=("$prefix")
    mapfile -t eal < <(eal_args "$prefix")
    other_mark
    timeout -k 5 $((SECS + 90)) "$DATAPLANE" "${eal[@]}" -- --config "$config" --duration "$SECS" \
        </dev/null >"$log" 2>&1 9>&- &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=""
    other_since
    rm -rf "/var/run/dpdk/$prefix"
    if ((rc != 0)); then
        KEEP_TMP=1
        tail -n 20 "$log" | sed 's/^/    | /' >&2
        if ((rc == 124 || rc == 137)); then
            mg_error "part A: data plane run $n did not finish within $((SECS + 90)) s (log above, $log)"
        elif ((rc == 126 || rc == 127)); then
            mg_error "part A: cannot execute $DATAPLANE (being rebuilt?)"
        else
            mg_error "part A: data plane exited with status $rc (log above, $log): does it implement" \
                "flows/services/firewall yet?"
        fi
        return 1
    fi
    local summary
    summary=$(grep -m1 '^summary:' "$log" || true)
    [[ -n $summary ]] || { KEEP_TMP=1; mg_error "part A: data plane run $n printed no 'summary:' line ($log)"; return 1; }
    field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' <<<"$summary"; }
    local rx tx
    rx=$(field rx_packets) tx=$(field tx_packets) DP_MPPS=$(field tx_mpps)
    [[ $rx =~ ^[0-9]+$ && $tx =~ ^[0-9]+$ && $DP_MPPS =~ ^[0-9.eE+-]+$ ]] ||
        { mg_error "part A: cannot parse the data plane's summary: $summary"; return 1; }
    local hz
    hz=$(awk '$1 == "tsc_hz" && $2 ~ /^[0-9]+$/ { print $2; exit }' "$log")
    [[ -n $hz ]] && TSC_HZ=$hz
    if ! awk -v rx="$rx" -v tx="$tx" 'BEGIN { exit !(tx >= 0.9 * rx && tx > 0) }'; then
        KEEP_TMP=1
        tail -n 20 "$log" | sed 's/^/    | /' >&2
        mg_error "part A: data plane run $n sent only $tx of $rx received packets to the backends" \
            "(no service / sessions not created for mid-stream TCP / firewall denied / NAT ports" \
            "exhausted for $packets flows?): $summary"
        DP_MPPS=0
        return 1
    fi
    info "meshgate run $n: $DP_MPPS Mpps (rx $rx, tx $tx, other load ${OTHER_PCT}%)"
}

# =============================================================================================
# Part B: lab namespaces, nftables vs meshgate.
# =============================================================================================
HOST_IFS=(mg-client mg-srv1 mg-srv2)
# root-side end, gateway v4, gateway v6 (the addresses meshgate-l4-lab.json gives the data plane)
GW_ADDRS=("mg-client 198.18.1.1/24 fd00:1::1/64" "mg-srv1 198.18.2.1/24 fd00:2::1/64"
    "mg-srv2 198.18.3.1/24 fd00:3::1/64")
# backend addresses: namespace, address (nginx :80 on all; iperf3 :5201 on the first of each family)
BACKENDS=("mg-srv1 198.18.2.10/24" "mg-srv1 198.18.2.11/24" "mg-srv2 198.18.3.10/24"
    "mg-srv2 198.18.3.11/24" "mg-srv1 fd00:2::10/64" "mg-srv1 fd00:2::11/64"
    "mg-srv2 fd00:3::10/64" "mg-srv2 fd00:3::11/64")
VIP4=198.18.50.10
VIP6=fd00:50::10
NFT_TABLE=meshgate_perf_l4

ensure_tools() {
    local missing=() pkg
    command -v nginx >/dev/null || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v nft >/dev/null || missing+=(nftables)
    command -v iperf3 >/dev/null || missing+=(iperf3)
    command -v curl >/dev/null || missing+=(curl)
    ((${#missing[@]})) || return 0
    [[ $INSTALL == 1 ]] || die "missing packages: ${missing[*]} (apt-get install them, or PERF_L4_INSTALL=1)"
    info "installing ${missing[*]} (apt-get)"
    # Keep the packages' services (nginx on :80 in the root namespace) from being started.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    local rc=0
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q "${missing[@]}" >"$TMP/apt.log" 2>&1 || rc=$?
    if ((rc != 0)); then
        DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -q >>"$TMP/apt.log" 2>&1 || true
        rc=0
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q "${missing[@]}" >>"$TMP/apt.log" 2>&1 || rc=$?
    fi
    ((made_policy)) && rm -f "$policy"
    ((rc == 0)) || { tail -n 20 "$TMP/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
    for pkg in nginx wrk nft iperf3 curl; do command -v "$pkg" >/dev/null || die "$pkg still missing after install"; done
}

set_sysctl_root() { # PATH VALUE: records the old value for cleanup (baseline_down restores)
    local f=/proc/sys/$1
    [[ -w $f ]] || { info "warning: cannot set $f"; return 0; }
    IFACE_SYSCTLS+=("$1 $(cat "$f")")
    echo "$2" >"$f"
}

# Root namespace as the L4 load balancer. Undone by baseline_down, which leaves the root-side ends
# exactly as lab.sh sets them: no addresses, IPv6 disabled, IPv4 forwarding off, arp_ignore 8, ARP off.
V6_GLOBAL_FWD=""
baseline_up() {
    BASELINE_ACTIVE=1
    local e ifc a4 a6
    for e in "${GW_ADDRS[@]}"; do
        read -r ifc a4 a6 <<<"$e"
        set_sysctl_root "net/ipv6/conf/$ifc/accept_dad" 0
        set_sysctl_root "net/ipv6/conf/$ifc/accept_ra" 0
        echo 0 >"/proc/sys/net/ipv6/conf/$ifc/disable_ipv6"
        echo 0 >"/proc/sys/net/ipv4/conf/$ifc/arp_ignore"
        ip link set "$ifc" arp on
        ip addr replace "$a4" dev "$ifc"
        ip -6 addr replace "$a6" dev "$ifc" nodad
        echo 1 >"/proc/sys/net/ipv4/conf/$ifc/forwarding"
        if [[ -e /proc/sys/net/ipv6/conf/$ifc/force_forwarding ]]; then
            set_sysctl_root "net/ipv6/conf/$ifc/force_forwarding" 1 # per interface (Linux >= 6.17)
        else
            V6_GLOBAL_FWD=1
        fi
    done
    if [[ -n $V6_GLOBAL_FWD ]]; then
        # Older kernels forward IPv6 only with the global switch, which rewrites every interface's
        # forwarding value: record them all and restore them afterwards.
        local f
        for f in /proc/sys/net/ipv6/conf/*/forwarding; do IFACE_SYSCTLS+=("${f#/proc/sys/} $(cat "$f")"); done
        echo 1 >/proc/sys/net/ipv6/conf/all/forwarding
    fi
    # A VIP packet that missed the DNAT must not be routed out of the machine.
    ip route replace blackhole "$VIP4/32"
    ip -6 route replace blackhole "$VIP6/128"
    nft delete table inet "$NFT_TABLE" 2>/dev/null || true # a leftover of a killed run
    nft -f "$L4_DIR/nftables-l4.nft"
    info "nftables baseline: root-side ends addressed, forwarding on, table inet $NFT_TABLE loaded"
}

baseline_down() {
    local e ifc path old i
    nft delete table inet "$NFT_TABLE" 2>/dev/null || true
    ip route del blackhole "$VIP4/32" 2>/dev/null || true
    ip -6 route del blackhole "$VIP6/128" 2>/dev/null || true
    for ifc in "${HOST_IFS[@]}"; do
        ip link show "$ifc" >/dev/null 2>&1 || continue
        ip addr flush dev "$ifc" 2>/dev/null || true
        ip neigh flush dev "$ifc" 2>/dev/null || true
        echo 0 >"/proc/sys/net/ipv4/conf/$ifc/forwarding" 2>/dev/null || true
    done
    # Restore in reverse order (the global IPv6 switch first, then what it overwrote).
    if [[ -n $V6_GLOBAL_FWD ]]; then echo 0 >/proc/sys/net/ipv6/conf/all/forwarding 2>/dev/null || true; fi
    for ((i = ${#IFACE_SYSCTLS[@]} - 1; i >= 0; i--)); do
        read -r path old <<<"${IFACE_SYSCTLS[i]}"
        [[ -w /proc/sys/$path ]] && echo "$old" >"/proc/sys/$path" 2>/dev/null
    done
    IFACE_SYSCTLS=()
    V6_GLOBAL_FWD=""
    for ifc in "${HOST_IFS[@]}"; do
        ip link show "$ifc" >/dev/null 2>&1 || continue
        echo 1 >"/proc/sys/net/ipv6/conf/$ifc/disable_ipv6" 2>/dev/null || true
        echo 8 >"/proc/sys/net/ipv4/conf/$ifc/arp_ignore" 2>/dev/null || true
        ip link set "$ifc" arp off 2>/dev/null || true
    done
    BASELINE_ACTIVE=0
    info "nftables baseline removed (root-side ends back to lab.sh's state)"
}

check_lab_quiet() { # the root-side ends as lab.sh leaves them
    local ifc hint="(not as lab.sh leaves it; a killed run? deploy/lab/lab.sh up resets the lab)"
    for ifc in "${HOST_IFS[@]}"; do
        [[ -z $(ip -o addr show dev "$ifc" 2>/dev/null) ]] || die "$ifc has addresses $hint"
        [[ $(cat "/proc/sys/net/ipv6/conf/$ifc/disable_ipv6") == 1 ]] || die "$ifc: IPv6 enabled $hint"
        [[ $(cat "/proc/sys/net/ipv4/conf/$ifc/forwarding") == 0 ]] || die "$ifc: forwarding on $hint"
    done
}

ns_sysctl() { # NS PATH VALUE: set, record the old value for cleanup
    local old
    old=$(ip netns exec "$1" cat "/proc/sys/$2")
    NS_SYSCTLS+=("$1 $2 $old")
    ip netns exec "$1" sh -c "echo $3 > /proc/sys/$2"
}

passive_opens() { # sum of TCP PassiveOpens in the backend namespaces
    local ns total=0 v
    for ns in mg-srv1 mg-srv2; do
        # shellcheck disable=SC2016 # awk program
        v=$(ip netns exec "$ns" awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "PassiveOpens") c = i; h = 1 } else print $c }' /proc/net/snmp)
        total=$((total + v))
    done
    echo "$total"
}

wait_listen() { # NS ADDR PORT
    for _ in $(seq 100); do
        ip netns exec "$1" ss -Htln "sport = :$3" 2>/dev/null | grep -qF "$2" && return 0
        sleep 0.1
    done
    return 1
}

start_bg() { # NAME LOG CMD...: background server, bounded by timeout, stopped at exit
    local name=$1 log=$2
    shift 2
    timeout -k 5 3600 "$@" </dev/null >"$log" 2>&1 9>&- &
    BG_PIDS+=("$!")
    info "started $name (pid $!)"
}

start_servers() {
    local ns e a n listen
    for ns in mg-srv1 mg-srv2; do
        local dir=$TMP/nginx-$ns
        mkdir -p "$dir"
        listen=""
        for e in "${BACKENDS[@]}"; do
            read -r n a <<<"$e"
            [[ $n == "$ns" ]] || continue
            a=${a%/*}
            if [[ $a == *:* ]]; then listen+="    listen [$a]:80;"$'\n'; else listen+="    listen $a:80;"$'\n'; fi
        done
        perf_nginx_conf "$dir" "$listen" "perf/l4.sh backend in $ns: one response per connection (keepalive off)."
        start_bg "nginx in $ns" "$dir/stdout.log" ip netns exec "$ns" nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf"
    done
    start_bg "iperf3 server 198.18.2.10" "$TMP/iperf3-server-v4.log" ip netns exec mg-srv1 iperf3 -s -B 198.18.2.10 -p 5201
    start_bg "iperf3 server fd00:2::10" "$TMP/iperf3-server-v6.log" ip netns exec mg-srv1 iperf3 -s -B fd00:2::10 -p 5201
    for e in "${BACKENDS[@]}"; do
        read -r ns a <<<"$e"
        a=${a%/*}
        wait_listen "$ns" "$a" 80 || { cat "$TMP"/nginx-*/error.log >&2 2>/dev/null; die "nginx does not listen on $a:80 in $ns"; }
    done
    wait_listen mg-srv1 198.18.2.10 5201 || die "iperf3 does not listen on 198.18.2.10:5201"
    wait_listen mg-srv1 fd00:2::10 5201 || die "iperf3 does not listen on [fd00:2::10]:5201"
}

url_of() { if [[ $1 == *:* ]]; then echo "http://[$1]/"; else echo "http://$1/"; fi; }

# precheck ADDR: 8 requests through the VIP, each a new connection; all must be answered (the
# first may take a retry while neighbors are resolved). Sets PRECHECK (a summary).
precheck() {
    local url ok=0 out seen=() i
    url=$(url_of "$1")
    for i in $(seq 8); do
        for _ in 1 2 3; do
            if out=$(ip netns exec mg-client curl -sS -m 2 "$url" 2>&1); then
                ok=$((ok + 1))
                seen+=("$out")
                break
            fi
            ((i == 1)) || break
        done
    done
    PRECHECK="$ok/8 requests answered via $1, backends seen: $(printf '%s\n' "${seen[@]}" | sort -u | paste -sd ' ')"
    ((ok == 8))
}

# run_cps SIDE SUFFIX ADDR: wrk with one request per connection for LOAD_SECS; new connections are
# counted at the backends (TCP PassiveOpens). Sets M[SIDE_cps SUFFIX] and friends.
run_cps() {
    local side=$1 sfx=$2 addr=$3 log=$TMP/wrk-$1$2.log url rc=0
    url=$(url_of "$addr")
    local p0 p1
    p0=$(passive_opens)
    cpu_mark
    ip netns exec mg-client timeout -k 5 $((LOAD_SECS + 30)) \
        wrk -c "$CONNS" -t "$THREADS" -d "${LOAD_SECS}s" -H 'Connection: close' "$url" >"$log" 2>&1 9>&- || rc=$?
    cpu_since
    p1=$(passive_opens)
    local reqs secs errs non2xx
    reqs=$(awk '/ requests in / { print $1 }' "$log")
    secs=$(awk '/ requests in / { s = $4; sub(/,$/, "", s); if (s ~ /ms$/) { sub(/ms$/, "", s); s /= 1000 }
                 else if (s ~ /m$/) { sub(/m$/, "", s); s *= 60 } else sub(/s$/, "", s); print s }' "$log")
    errs=$(sed -n 's/.*Socket errors: //p' "$log")
    non2xx=$(awk '/Non-2xx/ { print $NF }' "$log")
    if ((rc != 0)) || [[ -z $reqs || -z $secs ]]; then
        tail -n 20 "$log" >&2
        echo "wrk failed (exit $rc)"
        return 1
    fi
    local conns=$((p1 - p0)) cps rps
    cps=$(awk -v c="$conns" -v s="$secs" 'BEGIN { printf "%.0f", c / s }')
    rps=$(awk -v c="$reqs" -v s="$secs" 'BEGIN { printf "%.0f", c / s }')
    M[${side}_cps$sfx]=$cps
    M[${side}_cps${sfx}_busy_cores]=$BUSY_CORES
    M[${side}_cps${sfx}_per_core]=$(per_core "$cps" "$BUSY_CORES" "%.0f")
    info "$side cps$sfx: $cps new connections/s at the backends ($conns in $secs s), wrk $rps req/s," \
        "socket errors: ${errs:-none}, non-2xx: ${non2xx:-0}; CPU ${BUSY_CORES} cores busy (${BUSY_PCT}%)"
    awk -v a="$cps" -v b="$rps" 'BEGIN { exit !(b > 0 && (a - b) / b < 0.1 && (b - a) / b < 0.1) }' ||
        info "warning: $side cps$sfx: backends saw $cps connections/s but wrk completed $rps requests/s"
    [[ -z $non2xx ]] || info "warning: $side cps$sfx: $non2xx non-2xx responses"
    ((cps > 0))
}

# run_tput SIDE SUFFIX ADDR: iperf3 client -> VIP:5201 for LOAD_SECS (+1 s omitted ramp-up).
run_tput() {
    local side=$1 sfx=$2 addr=$3 json=$TMP/iperf3-$1$2.json rc=0
    cpu_mark
    ip netns exec mg-client timeout -k 5 $((LOAD_SECS + 30)) \
        iperf3 -c "$addr" -p 5201 -t "$LOAD_SECS" -O 1 -P "$STREAMS" --connect-timeout 3000 -J \
        >"$json" 2>&1 9>&- || rc=$?
    cpu_since
    local bps err
    # Receiver side: what reached the backend.
    read -r bps err < <("$PYTHON" -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print(0, "no JSON from iperf3:", e)
    sys.exit()
print(int(d.get("end", {}).get("sum_received", {}).get("bits_per_second", 0)), d.get("error", ""))
' "$json" || echo "0 cannot parse $json")
    if ((rc != 0)) || [[ $bps == 0 ]]; then
        head -c 2000 "$json" >&2
        echo "iperf3 failed (exit $rc): ${err:-no data received}"
        return 1
    fi
    local gbps
    gbps=$(awk -v b="$bps" 'BEGIN { printf "%.3f", b / 1e9 }')
    M[${side}_gbps$sfx]=$gbps
    M[${side}_gbps${sfx}_busy_cores]=$BUSY_CORES
    M[${side}_gbps${sfx}_per_core]=$(per_core "$gbps" "$BUSY_CORES" "%.3f")
    info "$side throughput$sfx: $gbps Gbit/s received by the backend ($STREAMS stream(s));" \
        "CPU ${BUSY_CORES} cores busy (${BUSY_PCT}%)"
}

LAB_DP_PID=""
start_lab_dataplane() {
    local log=$TMP/dataplane-lab.log prefix="mgperf-l4-lab-$$"
    PREFIXES+=("$prefix")
    timeout -k 5 3600 "$DATAPLANE" --no-pci --no-huge -m "$LAB_MEM" --file-prefix "$prefix" -l 0,1 \
        --log-level='*:warning' -- --config "$LAB_CONFIG" </dev/null >"$log" 2>&1 9>&- &
    LAB_DP_PID=$!
    BG_PIDS+=("$LAB_DP_PID")
    for _ in $(seq 300); do
        grep -q 'dataplane.running' "$log" 2>/dev/null && { info "lab data plane running (pid $LAB_DP_PID)"; return 0; }
        kill -0 "$LAB_DP_PID" 2>/dev/null || break
        sleep 0.1
    done
    KEEP_TMP=1
    tail -n 20 "$log" | sed 's/^/    | /' >&2
    if kill -0 "$LAB_DP_PID" 2>/dev/null; then
        mg_error "lab: data plane not running after 30 s ($log)"
    else
        mg_error "lab: data plane exited at start ($log, above): config $LAB_CONFIG rejected?" \
            "(services need a data plane that implements them)"
    fi
    stop_pid "$LAB_DP_PID" TERM
    LAB_DP_PID=""
    return 1
}

stop_lab_dataplane() {
    [[ -n $LAB_DP_PID ]] || return 0
    stop_pid "$LAB_DP_PID" TERM
    local s
    s=$(grep -m1 '^summary:' "$TMP/dataplane-lab.log" || true)
    [[ -n $s ]] && info "lab data plane $s"
    LAB_DP_PID=""
}

part_b() {
    command -v flock >/dev/null || die "flock not found"
    ensure_tools
    [[ -f $LAB_CONFIG ]] || die "lab config not found: $LAB_CONFIG"
    if [[ -s /run/meshgate/dataplane.pid ]] && kill -0 "$(cat /run/meshgate/dataplane.pid)" 2>/dev/null; then
        die "the lab is in use by deploy/quickstart.sh (pid $(cat /run/meshgate/dataplane.pid)); run deploy/quickstart.sh down first"
    fi
    # One lab user at a time: the lock the integration tests take (tests/integration/lib.sh).
    mkdir -p /run/lock
    exec 9>/run/lock/meshgate-lab.lock
    info "waiting for /run/lock/meshgate-lab.lock ($LOCK_WAIT s at most)"
    flock -w "$LOCK_WAIT" 9 || die "could not lock /run/lock/meshgate-lab.lock within $LOCK_WAIT s" \
        "(PERF_L4_LOCK_WAIT sets the wait)"
    info "got the lab lock"
    if "$LAB" status >/dev/null 2>&1; then
        info "lab already up: using it (left up afterwards)"
        check_lab_quiet
    else
        LAB_UP_BY_US=1
        "$LAB" up >"$TMP/lab.log" 2>&1 || { cat "$TMP/lab.log" >&2; die "lab.sh up failed"; }
        info "lab up"
    fi
    local e ns a
    for e in "${BACKENDS[@]}"; do
        read -r ns a <<<"$e"
        if [[ $a == *:* ]]; then ip -n "$ns" -6 addr replace "$a" dev eth0 nodad; else ip -n "$ns" addr replace "$a" dev eth0; fi
        NS_ADDRS+=("$ns eth0 $a")
    done
    # Short connections: the client may close first now and then and keep TIME_WAIT sockets;
    # let it reuse them rather than run out of ephemeral ports.
    ns_sysctl mg-client net/ipv4/tcp_tw_reuse 1
    start_servers

    # --- baseline: nftables in the root namespace
    baseline_up
    run_side nftables
    baseline_down
    check_lab_quiet

    # --- meshgate
    if [[ $BASELINE_ONLY != 1 ]]; then
        M[l4_cps]=0 M[l4_gbps]=0
        [[ $IPV6 == 1 ]] && M[l4_cps_v6]=0 M[l4_gbps_v6]=0
        if start_lab_dataplane; then
            run_side l4
            stop_lab_dataplane
        fi
    fi
}

# run_side SIDE: the loads of one side, in this shell (metrics land in M).
run_side() {
    local side=$1 addr sfx err i
    local addrs=("$VIP4") sfxs=("")
    [[ $IPV6 == 1 ]] && addrs+=("$VIP6") sfxs+=("_v6")
    for i in "${!addrs[@]}"; do
        addr=${addrs[i]} sfx=${sfxs[i]}
        M[${side}_cps$sfx]=0
        M[${side}_gbps$sfx]=0
        if ! precheck "$addr"; then
            [[ $side == nftables ]] && die "nftables baseline does not work: $PRECHECK"
            mg_error "lab: meshgate does not load-balance VIP $addr port 80 ($PRECHECK):" \
                "does the data plane implement services yet?"
            continue
        fi
        info "$side precheck: $PRECHECK"
        err=$TMP/err-$side$sfx
        if ! run_cps "$side" "$sfx" "$addr" >"$err"; then
            [[ $side == nftables ]] && die "nftables baseline CPS via $addr: $(cat "$err")"
            mg_error "lab: meshgate CPS via $addr: $(cat "$err")"
        fi
        if ! run_tput "$side" "$sfx" "$addr" >"$err"; then
            [[ $side == nftables ]] && die "nftables baseline throughput via $addr: $(cat "$err")"
            mg_error "lab: meshgate throughput via $addr: $(cat "$err")"
        fi
    done
}

# =============================================================================================
PCAP_GEN_SECS=0
((DO_A)) && part_a
((DO_B)) && part_b

# ---------------------------------------------------------------------------------------------
# Report.
emit() { [[ -n ${M[$1]+x} ]] && echo "metric $1 ${M[$1]}"; return 0; }
for name in l4_flows l4_pcap_generation_seconds testpmd_mpps l4_mpps testpmd_cycles_per_packet l4_cycles_per_packet; do
    emit "$name"
done
if ((DO_B)); then
    echo "part B: lab, $LOAD_SECS s per load; wrk -c $CONNS -t $THREADS, one request per connection;" \
        "iperf3 -P $STREAMS; busy_cores = CPU seconds used on the whole machine per second (the" \
        "data plane busy-polls one core, so it counts as 1 busy core however idle)"
    for s in "" _v6; do
        [[ -n ${M[nftables_cps$s]+x} ]] || continue
        for side in nftables l4; do
            [[ -n ${M[${side}_cps$s]+x} ]] || continue
            for k in cps gbps; do
                M[${side}_$k${s}_busy_cores]=${M[${side}_$k${s}_busy_cores]:-0}
                M[${side}_$k${s}_per_core]=${M[${side}_$k${s}_per_core]:-0}
            done
        done
        if [[ -n ${M[l4_cps$s]+x} ]]; then
            M[l4_cps${s}_ratio_vs_nftables]=$(ratio "${M[l4_cps$s]}" "${M[nftables_cps$s]}")
            M[l4_throughput${s}_ratio_vs_nftables]=$(ratio "${M[l4_gbps$s]}" "${M[nftables_gbps$s]}")
            M[l4_cps${s}_per_core_ratio_vs_nftables]=$(ratio "${M[l4_cps${s}_per_core]}" "${M[nftables_cps${s}_per_core]}")
            M[l4_throughput${s}_per_core_ratio_vs_nftables]=$(ratio "${M[l4_gbps${s}_per_core]}" "${M[nftables_gbps${s}_per_core]}")
        fi
        for name in nftables_cps$s l4_cps$s nftables_cps${s}_busy_cores l4_cps${s}_busy_cores \
            nftables_cps${s}_per_core l4_cps${s}_per_core l4_cps${s}_per_core_ratio_vs_nftables \
            nftables_gbps$s l4_gbps$s nftables_gbps${s}_busy_cores l4_gbps${s}_busy_cores \
            nftables_gbps${s}_per_core l4_gbps${s}_per_core l4_throughput${s}_per_core_ratio_vs_nftables; do
            emit "$name"
        done
    done
    emit l4_cps_v6_ratio_vs_nftables
    emit l4_throughput_v6_ratio_vs_nftables
fi

rc=0
if [[ $BASELINE_ONLY == 1 ]]; then
    info "baseline only (PERF_L4_BASELINE_ONLY=1): the ratios below are not measured (0)"
elif ((${#MG_ERRORS[@]})); then
    for e in "${MG_ERRORS[@]}"; do echo "l4.sh: error: $e"; done
    rc=3
fi
((DO_A)) || info "part A (synthetic) not run: l4_ratio_vs_testpmd is 0"
((DO_B)) || info "part B (lab) not run: the nftables ratios are 0"
echo "metric l4_ratio_vs_testpmd ${M[l4_ratio_vs_testpmd]:-0}"
echo "metric l4_cps_ratio_vs_nftables ${M[l4_cps_ratio_vs_nftables]:-0}"
echo "metric l4_throughput_ratio_vs_nftables ${M[l4_throughput_ratio_vs_nftables]:-0}"
exit "$rc"
