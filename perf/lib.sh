# shellcheck shell=bash
# Shared machinery of the data-plane benchmarks (forwarding.sh, taps.sh). Sourced, not run: the
# sourcing script sets PERF_NAME (its name, for messages) and `set -euo pipefail` first.
#
#   perf_check [dataplane]   validates the common knobs (and that the data plane binary exists)
#   perf_setup               temp dir $TMP and cleanup on exit, memory mode, the pcap ($PCAP,
#                            $IN_DEV, $OUT_DEV)
#   write_config FILE [JSON] the data-plane config routing the pcap's flows; JSON: more top-level
#                            members, starting with a comma (taps, telemetry, ...)
#   eal_args PREFIX          EAL arguments (the caller records PREFIX in PREFIXES)
#   cpu_mark / other_load_since / check_contention   other processes' CPU use during a run
#   busy_mark / busy_since   whole-machine CPU use during a load (BUSY_CORES, BUSY_PCT)
#   run_dataplane N [CONFIG [NAME]]   one data-plane run; sets DP_MPPS
#   perf_busy_check          warns when the CPUs are busy before the benchmark
#   best VALUE...            the largest
#
# Environment (all optional), read here:
#   MESHGATE_DATAPLANE   data-plane binary (default: <repo>/build/dataplane/meshgate-dataplane)
#   PERF_SECONDS         seconds per run (default 10)
#   PERF_ROUNDS          rounds (default 3)
#   PERF_FLOWS           flows in the pcap, even (default 1024: 512 IPv4 + 512 IPv6)
#   PERF_MEMORY          auto | huge | nohuge (default auto: hugepages if /dev/hugepages is a
#                        mounted hugetlbfs with >= PERF_HUGEPAGES_MIN free pages, else --no-huge)
#   PERF_HUGEPAGES_MIN   free 2 MB pages needed for hugepage mode (default 256)
#   PERF_SETUP_HUGEPAGES 1: first run deploy/hugepages.sh (as root: reserve 512 2 MB pages, mount
#                        /dev/hugepages)

die() { echo "$PERF_NAME: error: $*" >&2; exit 1; }
info() { echo "$PERF_NAME: $*" >&2; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)

DATAPLANE=${MESHGATE_DATAPLANE:-$REPO_DIR/build/dataplane/meshgate-dataplane}
SECS=${PERF_SECONDS:-10}
ROUNDS=${PERF_ROUNDS:-3}
FLOWS=${PERF_FLOWS:-1024}
MEMORY=${PERF_MEMORY:-auto}
HUGE_MIN=${PERF_HUGEPAGES_MIN:-256}
PYTHON=/usr/bin/python3 # Debian's python modules import only with this one
# 1: every EAL run gets its own --file-prefix, also with --in-memory (its telemetry socket is then
# /var/run/dpdk/PREFIX/dpdk_telemetry.v2 instead of the shared default "rte").
EAL_ALWAYS_PREFIX=0

# perf_check [dataplane]
perf_check() {
    [[ $SECS =~ ^[1-9][0-9]*$ ]] || die "PERF_SECONDS must be a positive integer"
    [[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "PERF_ROUNDS must be a positive integer"
    [[ -x $PYTHON ]] || die "$PYTHON not found"
    if [[ ${1:-} == dataplane ]]; then
        [[ -x $DATAPLANE ]] || die "data plane binary not found or not executable: $DATAPLANE" \
            "(build it, set MESHGATE_DATAPLANE${PERF_DATAPLANE_HINT:-})"
    fi
    [[ $(nproc) -ge 2 ]] || die "needs at least 2 cores (lcores 0 and 1)"
}

# ---------------------------------------------------------------------------------------------
# Temp dir, child process and DPDK runtime-dir cleanup.
TMP=""
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
    [[ -n $TMP ]] && rm -rf "$TMP"
    exit "$rc"
}

# ---------------------------------------------------------------------------------------------
# Memory: hugepages (--in-memory) when available, else --no-huge; the same for every run.
free_hugepages() {
    local f=/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages
    [[ -r $f ]] && cat "$f" || echo 0
}
hugetlbfs_mounted() { awk '$2 == "/dev/hugepages" && $3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts; }

choose_memory() {
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
}

# eal_args PREFIX: EAL arguments common to all programs (the caller records PREFIX in PREFIXES).
eal_args() {
    local args=(--no-pci -l '0,1' --log-level='*:warning')
    if [[ $MEMORY == huge ]]; then
        args+=(--in-memory)
        ((EAL_ALWAYS_PREFIX)) && args+=(--file-prefix "$1")
    else
        args+=(--no-huge -m 1024 --file-prefix "$1")
    fi
    printf '%s\n' "${args[@]}"
}

# perf_setup: temp dir and traps, memory mode, the pcap and the vdevs that replay it.
perf_setup() {
    TMP=$(mktemp -d /tmp/meshgate-perf.XXXXXX)
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    choose_memory
    PCAP=$TMP/flows.pcap
    "$PYTHON" "$SCRIPT_DIR/gen_flows.py" "$PCAP" "$FLOWS" || die "pcap generation failed"
    # net_null's rx would otherwise feed an endless stream of dummy packets back in (testpmd's io
    # mode forwards both directions); no-rx=1 makes the pcap -> null direction the only traffic.
    IN_DEV="net_pcap0,rx_pcap=$PCAP,infinite_rx=1"
    OUT_DEV="net_null0,no-rx=1"
}

# write_config FILE [MORE]: routes the pcap's flows from "in" to "out" (static neighbors, no ARP).
# MORE: further top-level members, starting with a comma.
write_config() {
    cat >"$1" <<EOF
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
  ]${2:-}
}
EOF
}

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

# The whole machine's CPU use during a measurement, every process and the kernel (user, nice,
# system, irq and softirq jiffies of all CPUs in /proc/stat): busy_mark, run the load, busy_since.
# busy_since sets BUSY_CORES (CPU seconds used per wall-clock second: "cores used") and BUSY_PCT
# (of all CPUs). Either may run in a subshell.
BUSY_MARK=""
busy_mark() { BUSY_MARK="$(cpu_ticks) $(date +%s.%N)"; }
busy_since() {
    local b0 t0 w0 b1 t1 w1
    read -r b0 t0 w0 <<<"$BUSY_MARK"
    read -r b1 t1 <<<"$(cpu_ticks)"
    w1=$(date +%s.%N)
    # shellcheck disable=SC2034 # for the caller
    BUSY_CORES=$(awk -v b=$((b1 - b0)) -v hz="$CLK_TCK" -v w="$w0" -v x="$w1" 'BEGIN { printf "%.2f", b / hz / (x - w) }')
    # shellcheck disable=SC2034 # for the caller
    BUSY_PCT=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%d", b * 100 / (t + 1) }')
}

# Warn when something else is using the CPUs (a build, say): results would be low and noisy.
perf_busy_check() {
    local busy
    cpu_mark; sleep 1; other_load_since; busy=$OTHER_LOAD
    ((busy < 15)) || info "warning: the CPUs were ${busy}% busy before the benchmark: results will be low and noisy"
}

# ---------------------------------------------------------------------------------------------
# run_dataplane N [CONFIG [NAME]]: one data-plane run with --duration SECS (CONFIG defaults to
# $CONFIG; NAME tells runs of different configs apart in file names and messages). Sets DP_MPPS,
# DP_RX (packets received), DP_LOG (its stdout and stderr) and TSC_HZ (from its "tsc_hz N" line). If DP_DURING names a
# function, it is called (in this shell) once the data plane has been started, with DP_PREFIX
# (its file prefix) and DP_LOG set; it must return by the time the run is over.
TSC_HZ=""
DP_DURING=""
run_dataplane() {
    local n=$1 config=${2:-$CONFIG} name=${3:-}
    local log=$TMP/dataplane${name:+.$name}.$n.log prefix="mgperf-$$${name:+-$name}"
    local what="data plane run $n${name:+ ($name)}"
    local eal rc=0
    PREFIXES+=("$prefix")
    mapfile -t eal < <(eal_args "$prefix")
    # shellcheck disable=SC2034 # for the DP_DURING hook and the caller
    DP_LOG=$log DP_PREFIX=$prefix
    cpu_mark
    timeout -k 5 $((SECS + 60)) "$DATAPLANE" "${eal[@]}" -- --config "$config" --duration "$SECS" \
        </dev/null >"$log" 2>&1 &
    CHILD=$!
    [[ -n $DP_DURING ]] && "$DP_DURING"
    wait "$CHILD" || rc=$?
    CHILD=""
    other_load_since
    local other=$OTHER_LOAD
    rm -rf "/var/run/dpdk/$prefix"
    if ((rc != 0)); then
        tail -n 30 "$log" >&2
        ((rc == 124 || rc == 137)) && die "$what did not finish within $((SECS + 60)) s (log above)"
        [[ $MEMORY == huge ]] && info "(hugepage mode; PERF_MEMORY=nohuge runs without hugepages)"
        die "$what failed with exit status $rc (log above)"
    fi
    local summary
    summary=$(grep -m1 '^summary:' "$log" || true)
    [[ -n $summary ]] || { tail -n 30 "$log" >&2; die "$what printed no 'summary:' line (log above)"; }
    # summary: rx_packets N tx_packets N seconds S rx_mpps X tx_mpps Y
    field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' <<<"$summary"; }
    local rx tx
    rx=$(field rx_packets) tx=$(field tx_packets) DP_MPPS=$(field tx_mpps)
    [[ $rx =~ ^[0-9]+$ && $tx =~ ^[0-9]+$ && $DP_MPPS =~ ^[0-9.eE+-]+$ ]] ||
        die "$what: cannot parse summary: $summary"
    ((tx > 0)) || die "$what forwarded nothing: $summary"
    awk -v rx="$rx" -v tx="$tx" 'BEGIN { exit !(tx >= 0.9 * rx) }' ||
        die "$what forwarded only $tx of $rx received packets (routing/neighbor problem?): $summary"
    # shellcheck disable=SC2034 # for the caller
    DP_RX=$rx
    local hz
    hz=$(awk '$1 == "tsc_hz" && $2 ~ /^[0-9]+$/ { print $2; exit }' "$log")
    # shellcheck disable=SC2034 # for the caller
    [[ -n $hz ]] && TSC_HZ=$hz
    info "${name:-meshgate} run $n: $DP_MPPS Mpps (rx $rx, tx $tx, other load $other%)"
    check_contention "${name:-meshgate} run $n" "$other"
}

# The worker thread's /proc schedstat file (found below `timeout`, the run's CHILD), or false.
worker_schedstat() {
    local pids=("$CHILD") below p t c kids
    for _ in 1 2 3; do
        below=()
        for p in "${pids[@]}"; do
            for t in "/proc/$p/task/"*; do
                read -r c 2>/dev/null <"$t/comm" || continue
                [[ $c == *worker* ]] && { echo "$t/schedstat"; return 0; }
            done
            kids=()
            read -r -a kids 2>/dev/null <"/proc/$p/task/$p/children" || true # no newline at its end
            below+=("${kids[@]}")
        done
        pids=("${below[@]}")
    done
    return 1
}

best() { printf '%s\n' "$@" | sort -g | tail -n1; }

# perf_nginx_conf DIR LISTEN COMMENT: DIR/nginx.conf for a backend that answers every connection
# with its own address and closes it (keepalive off); LISTEN holds the "    listen ...;" lines.
perf_nginx_conf() {
    local dir=$1 listen=$2 comment=$3
    cat >"$dir/nginx.conf" <<EOF
# $comment
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_timeout 0;
  lingering_close off;
  default_type text/plain;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
$listen    location / { return 200 "\$server_addr\n"; }
  }
}
EOF
}
