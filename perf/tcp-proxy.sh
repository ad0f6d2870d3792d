#!/usr/bin/env bash
# tcp-proxy benchmark: meshgate's tcp-proxy service against HAProxy (`mode tcp`) on the same path,
# in the same run, between the same lab namespaces (deploy/lab/lab.sh), at saturation:
#
#   mg-client --veth--> gateway --veth--> mg-srv1 (iperf3 server 198.18.2.2:5201, nginx 198.18.2.10:80)
#                              \--veth--> mg-srv2 (nginx 198.18.3.10:80)
#
#   meshgate: meshgate-dataplane on the three af_packet ports (the root-side veth ends), services
#             VIP 198.18.50.20:80 -> both nginx, :5201 -> the iperf3 server, mode PERF_TP_MODE.
#   HAProxy:  the data plane stopped; the root-side veth ends get the gateway's addresses
#             (198.18.1.1, 198.18.2.1, 198.18.3.1: the clients' and servers' default routes point
#             there already), the VIP goes on the mg-client end, and haproxy (mode tcp) listens on
#             VIP:80 and VIP:5201 with the same backends. No IP forwarding: both proxies terminate
#             the client's connection and open their own to the backend.
#
# Loads (the same client tools, in mg-client, for both):
#   throughput  iperf3 -c VIP -p 5201 -P PERF_TP_STREAMS -t PERF_TP_SECONDS (+1 s omitted):
#               Gbit/s received by the server
#   cps         wrk -c PERF_TP_CONNS, "Connection: close" (nginx keepalive off: every request is a
#               new TCP connection through the proxy): new connections per second counted at the
#               backends (TCP PassiveOpens in mg-srv1 + mg-srv2)
# During each load the whole machine's CPU time is counted (/proc/stat busy jiffies, every process
# and the kernel: clients, servers, proxy; perf/lib.sh busy_mark/busy_since): cores used = CPU
# seconds per wall second. The ratios compare figures per core used. The data plane busy-polls its
# worker lcore, so it counts as one busy core however idle; HAProxy sleeps when idle.
#
# Ends with exactly these lines (raw figures and cores used are printed above them):
#   metric tcp_proxy_throughput_gbps X
#   metric haproxy_throughput_gbps X
#   metric tcp_proxy_cps X
#   metric haproxy_cps X
#   metric tcp_proxy_throughput_ratio_vs_haproxy X   (Gbit/s per core) / (Gbit/s per core)
#   metric tcp_proxy_cps_ratio_vs_haproxy X          (conn/s per core) / (conn/s per core)
# A figure that could not be measured is 0 with a "tcp-proxy.sh: error:" line saying why.
#
# Exit status: 0 all measured; 3 HAProxy was measured but the meshgate side failed (its figures
# and ratios are 0); 1 anything else.
#
# Environment (all optional):
#   MESHGATE_DATAPLANE     data-plane binary (default: <repo>/build/dataplane/meshgate-dataplane)
#   PERF_TP_MODE           service mode on the meshgate side: tcp-proxy (default) | full-nat
#                          (full-nat forwards through the L4 NAT path instead of terminating)
#   PERF_TP_SECONDS        seconds per load (default 10)
#   PERF_TP_STREAMS        iperf3 parallel streams (default 4)
#   PERF_TP_CONNS          wrk connections (default 32); PERF_TP_THREADS wrk threads (default 1)
#   PERF_TP_HAPROXY_THREADS haproxy nbthread (default 1, as the data plane's one worker lcore)
#   PERF_TP_DP_MEMORY_MB   data plane --no-huge -m (default 1024)
#   PERF_TP_LOCK_WAIT      seconds to wait for the lab lock (default 300)
#
# Noise: on the 2-core lab machine the proxy, the clients and the servers share both cores; run
# it alone (no builds or tests): a busy machine is reported ("other load") and lowers every figure.
set -euo pipefail

PERF_NAME=tcp-proxy.sh
# shellcheck source=perf/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case $DATAPLANE in /*) ;; *) DATAPLANE=$PWD/$DATAPLANE ;; esac
MODE=${PERF_TP_MODE:-tcp-proxy}
LOAD_SECS=${PERF_TP_SECONDS:-10}
STREAMS=${PERF_TP_STREAMS:-4}
CONNS=${PERF_TP_CONNS:-32}
THREADS=${PERF_TP_THREADS:-1}
HA_THREADS=${PERF_TP_HAPROXY_THREADS:-1}
DP_MEM=${PERF_TP_DP_MEMORY_MB:-1024}
LOCK_WAIT=${PERF_TP_LOCK_WAIT:-300}
LAB=$REPO_DIR/deploy/lab/lab.sh

for v in LOAD_SECS STREAMS CONNS THREADS HA_THREADS DP_MEM LOCK_WAIT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v (${!v}) must be a positive integer"
done
[[ $MODE == tcp-proxy || $MODE == full-nat ]] || die "PERF_TP_MODE must be tcp-proxy or full-nat"
[[ $(id -u) -eq 0 ]] || die "must run as root (namespaces, addresses on the lab's veths)"
perf_check dataplane
for t in haproxy nginx wrk iperf3 curl flock; do
    command -v "$t" >/dev/null || die "$t not found (deploy/install-deps.sh installs it)"
done

VIP=198.18.50.20
IPERF_SERVER=198.18.2.2
WEB_BACKENDS=("mg-srv1 198.18.2.10" "mg-srv2 198.18.3.10")
HOST_IFS=(mg-client mg-srv1 mg-srv2)
# root-side veth end and the gateway address it gets for HAProxy (the data plane's, in the config)
GW_ADDRS=("mg-client 198.18.1.1/24" "mg-srv1 198.18.2.1/24" "mg-srv2 198.18.3.1/24")

# ---------------------------------------------------------------------------------------------
# State for cleanup (lib.sh's cleanup handles TMP, CHILD and the DPDK prefixes).
BG_PIDS=()        # nginx, iperf3 server, data plane, haproxy
NS_ADDRS=()       # "ns addr/plen" added to eth0 in lab namespaces
NS_SYSCTLS=()     # "ns path old" changed in lab namespaces
ROOT_SYSCTLS=()   # "path old" changed in the root namespace
HA_PATH_UP=0
LAB_UP_BY_US=0
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

# shellcheck disable=SC2317 # invoked by the EXIT trap
tp_cleanup() {
    local rc=$? p e ns addr path old
    trap - EXIT INT TERM
    set +e
    for p in "${BG_PIDS[@]}"; do stop_pid "$p" TERM; done
    BG_PIDS=()
    ((HA_PATH_UP)) && haproxy_path_down
    for e in "${NS_ADDRS[@]}"; do
        read -r ns addr <<<"$e"
        ip -n "$ns" addr del "$addr" dev eth0 2>/dev/null
    done
    for e in "${NS_SYSCTLS[@]}"; do
        read -r ns path old <<<"$e"
        ip netns exec "$ns" sh -c "echo $old > /proc/sys/$path" 2>/dev/null
    done
    ((LAB_UP_BY_US)) && "$LAB" down >/dev/null 2>&1
    if ((rc != 0 && rc != 3)) || ((KEEP_TMP)); then
        info "logs kept in $TMP"
        TMP="" # lib.sh's cleanup removes it otherwise
    fi
    (exit "$rc")
    cleanup # lib.sh: CHILD, DPDK prefixes, TMP; exits with rc
}
TMP=$(mktemp -d /tmp/meshgate-perf-tcp-proxy.XXXXXX)
trap tp_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

declare -A M=()   # figure name -> value
MG_ERRORS=()
mg_error() { MG_ERRORS+=("$*"); KEEP_TMP=1; echo "$PERF_NAME: error: $*" >&2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print 0 }'; }
per_core() { awk -v a="$1" -v c="$2" -v f="$3" 'BEGIN { if (c > 0) printf f, a / c; else print 0 }'; }

# ---------------------------------------------------------------------------------------------
# Lab, servers.

ns_sysctl() { # NS PATH VALUE: set, record the old value for cleanup
    local old
    old=$(ip netns exec "$1" cat "/proc/sys/$2")
    NS_SYSCTLS+=("$1 $2 $old")
    ip netns exec "$1" sh -c "echo $3 > /proc/sys/$2"
}

start_bg() { # NAME LOG CMD...: background process, bounded by timeout, stopped at exit
    local name=$1 log=$2
    shift 2
    timeout -k 5 3600 "$@" </dev/null >"$log" 2>&1 9>&- &
    BG_PIDS+=("$!")
    LAST_BG=$!
    info "started $name (pid $!)"
}

wait_listen() { # NS ADDR PORT
    for _ in $(seq 100); do
        ip netns exec "$1" ss -Htln "sport = :$3" 2>/dev/null | grep -qF "$2" && return 0
        sleep 0.1
    done
    return 1
}

check_lab_quiet() { # the root-side ends as lab.sh leaves them (no addresses, no ARP)
    local ifc
    for ifc in "${HOST_IFS[@]}"; do
        [[ -z $(ip -o addr show dev "$ifc" 2>/dev/null) ]] ||
            die "$ifc has addresses (not as lab.sh leaves it; a killed run? deploy/lab/lab.sh up resets the lab)"
    done
}

lab_up() {
    if [[ -s /run/meshgate/dataplane.pid ]] && kill -0 "$(cat /run/meshgate/dataplane.pid)" 2>/dev/null; then
        die "the lab is in use by deploy/quickstart.sh (pid $(cat /run/meshgate/dataplane.pid)); run deploy/quickstart.sh down first"
    fi
    # One lab user at a time: the lock the integration tests take (tests/integration/lib.sh).
    mkdir -p /run/lock
    exec 9>/run/lock/meshgate-lab.lock
    info "waiting for /run/lock/meshgate-lab.lock ($LOCK_WAIT s at most)"
    flock -w "$LOCK_WAIT" 9 || die "could not lock /run/lock/meshgate-lab.lock within $LOCK_WAIT s (PERF_TP_LOCK_WAIT)"
    if "$LAB" status >/dev/null 2>&1; then
        info "lab already up: using it (left up afterwards)"
        check_lab_quiet
    else
        LAB_UP_BY_US=1
        "$LAB" up >"$TMP/lab.log" 2>&1 || { cat "$TMP/lab.log" >&2; die "lab.sh up failed"; }
        info "lab up"
    fi
    local e ns a
    for e in "${WEB_BACKENDS[@]}"; do
        read -r ns a <<<"$e"
        ip -n "$ns" addr replace "$a/32" dev eth0
        NS_ADDRS+=("$ns $a/32")
    done
    # The client may close first now and then; let it reuse TIME_WAIT ports rather than run out.
    ns_sysctl mg-client net/ipv4/tcp_tw_reuse 1
}

start_servers() {
    local e ns a dir
    for e in "${WEB_BACKENDS[@]}"; do
        read -r ns a <<<"$e"
        dir=$TMP/nginx-$ns
        mkdir -p "$dir"
        perf_nginx_conf "$dir" "    listen $a:80 backlog=4096;"$'\n' "perf/tcp-proxy.sh backend in $ns: one short response per connection (keepalive off)."
        start_bg "nginx $a in $ns" "$dir/stdout.log" ip netns exec "$ns" nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf"
    done
    start_bg "iperf3 server $IPERF_SERVER" "$TMP/iperf3-server.log" ip netns exec mg-srv1 iperf3 -s -B "$IPERF_SERVER" -p 5201
    for e in "${WEB_BACKENDS[@]}"; do
        read -r ns a <<<"$e"
        wait_listen "$ns" "$a" 80 || { cat "$TMP"/nginx-*/error.log >&2 2>/dev/null; die "nginx does not listen on $a:80 in $ns"; }
    done
    wait_listen mg-srv1 "$IPERF_SERVER" 5201 || die "iperf3 does not listen on $IPERF_SERVER:5201"
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

# precheck: 8 requests to VIP:80, each a new connection; all answered (the first may take a retry
# while neighbors resolve). Sets PRECHECK.
precheck() {
    local ok=0 out seen=() i
    for i in $(seq 8); do
        for _ in 1 2 3; do
            if out=$(ip netns exec mg-client curl -sS -m 2 "http://$VIP/" 2>&1); then
                ok=$((ok + 1))
                seen+=("$out")
                break
            fi
            ((i == 1)) || break
            sleep 0.5
        done
    done
    PRECHECK="$ok/8 requests answered via $VIP:80, backends seen: $(printf '%s\n' "${seen[@]}" | sort -u | paste -sd ' ')"
    ((ok == 8))
}

# ---------------------------------------------------------------------------------------------
# Loads. SIDE is tcp_proxy or haproxy; figures land in M.

# run_tput SIDE: iperf3 -> VIP:5201. Sets M[SIDE_gbps], M[SIDE_gbps_cores].
run_tput() {
    local side=$1 json=$TMP/iperf3-$1.json rc=0 bps err
    busy_mark
    ip netns exec mg-client timeout -k 5 $((LOAD_SECS + 30)) \
        iperf3 -c "$VIP" -p 5201 -t "$LOAD_SECS" -O 1 -P "$STREAMS" --connect-timeout 3000 -J \
        >"$json" 2>&1 9>&- || rc=$?
    busy_since
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
        head -c 1500 "$json" >&2
        echo "iperf3 failed (exit $rc): ${err:-no data received}"
        return 1
    fi
    M[${side}_gbps]=$(awk -v b="$bps" 'BEGIN { printf "%.3f", b / 1e9 }')
    M[${side}_gbps_cores]=$BUSY_CORES
    info "$side throughput: ${M[${side}_gbps]} Gbit/s received by the server ($STREAMS streams, $LOAD_SECS s);" \
        "machine CPU ${BUSY_CORES} cores (${BUSY_PCT}%)"
}

# run_cps SIDE: wrk, one request per connection, -> VIP:80. Sets M[SIDE_cps], M[SIDE_cps_cores].
run_cps() {
    local side=$1 log=$TMP/wrk-$1.log rc=0 p0 p1 reqs secs errs non2xx
    p0=$(passive_opens)
    busy_mark
    ip netns exec mg-client timeout -k 5 $((LOAD_SECS + 30)) \
        wrk -c "$CONNS" -t "$THREADS" -d "${LOAD_SECS}s" -H 'Connection: close' "http://$VIP/" >"$log" 2>&1 9>&- || rc=$?
    busy_since
    p1=$(passive_opens)
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
    M[${side}_cps]=$cps
    M[${side}_cps_cores]=$BUSY_CORES
    info "$side cps: $cps new connections/s at the backends ($conns in $secs s), wrk $rps req/s," \
        "socket errors: ${errs:-none}, non-2xx: ${non2xx:-0}; machine CPU ${BUSY_CORES} cores (${BUSY_PCT}%)"
    awk -v a="$cps" -v b="$rps" 'BEGIN { exit !(b > 0 && (a - b) / b < 0.1 && (b - a) / b < 0.1) }' ||
        info "warning: $side cps: backends saw $cps connections/s but wrk completed $rps requests/s"
    ((cps > 0))
}

# The machine's CPU use for a second while nothing of ours is loaded (a build alongside makes every
# figure low). Not while the data plane runs: its worker busy-polls a core.
busy_check() {
    busy_mark
    sleep 1
    busy_since
    ((BUSY_PCT < 15)) || info "warning: other processes kept the CPUs ${BUSY_PCT}% busy before $1: figures will be low and noisy"
}

# run_side SIDE: precheck, throughput, CPS (in this shell: the figures land in M). What went
# wrong goes to stdout.
run_side() {
    local side=$1 err=$TMP/err-$1
    M[${side}_gbps]=0 M[${side}_cps]=0 M[${side}_gbps_cores]=0 M[${side}_cps_cores]=0
    if ! precheck; then
        echo "$PRECHECK"
        return 1
    fi
    info "$side precheck: $PRECHECK"
    run_tput "$side" >"$err" || { cat "$err"; return 1; }
    run_cps "$side" >"$err" || { cat "$err"; return 1; }
}

# ---------------------------------------------------------------------------------------------
# meshgate.

write_dp_config() { # FILE
    local proxy=""
    [[ $MODE == tcp-proxy ]] && proxy=', "tcpProxy": { "bufferBytes": 262144 }'
    cat >"$1" <<EOF
{
  "workers": { "lcores": [1], "mbufs": 16383 },
  "interfaces": [
    { "name": "client", "device": "net_af_packet0,iface=mg-client,qpairs=1",
      "ipv4Addresses": ["198.18.1.1/24"], "ipv6Addresses": ["fd00:1::1/64"] },
    { "name": "srv1", "device": "net_af_packet1,iface=mg-srv1,qpairs=1",
      "ipv4Addresses": ["198.18.2.1/24"], "ipv6Addresses": ["fd00:2::1/64"] },
    { "name": "srv2", "device": "net_af_packet2,iface=mg-srv2,qpairs=1", "mtu": 1280,
      "ipv4Addresses": ["198.18.3.1/24"], "ipv6Addresses": ["fd00:3::1/64"] }
  ],
  "flows": { "sessionsPerWorker": 262144, "tcpClosingTimeout": 2 },
  "services": [
    { "name": "web", "vip": "$VIP", "protocol": "tcp", "port": 80, "mode": "$MODE",
      "backends": [ { "address": "198.18.2.10" }, { "address": "198.18.3.10" } ]$proxy },
    { "name": "iperf", "vip": "$VIP", "protocol": "tcp", "port": 5201, "mode": "$MODE",
      "backends": [ { "address": "$IPERF_SERVER" } ]$proxy }
  ]
}
EOF
}

DP_PID=""
start_dataplane() {
    local log=$TMP/dataplane.log prefix="mgperf-tp-$$"
    PREFIXES+=("$prefix")
    write_dp_config "$TMP/dataplane.json"
    start_bg "meshgate-dataplane ($MODE)" "$log" "$DATAPLANE" --no-pci --no-huge -m "$DP_MEM" --file-prefix "$prefix" \
        -l 0,1 --log-level='*:warning' -- --config "$TMP/dataplane.json"
    DP_PID=$LAST_BG
    for _ in $(seq 300); do
        grep -q 'dataplane.running' "$log" 2>/dev/null && { info "data plane running"; return 0; }
        kill -0 "$DP_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$log" | sed 's/^/    | /' >&2
    mg_error "meshgate: the data plane did not start ($log above; mode $MODE not implemented by this build?)"
    stop_dataplane
    return 1
}
stop_dataplane() {
    [[ -n $DP_PID ]] || return 0
    stop_pid "$DP_PID" TERM
    local s
    s=$(grep -m1 '^summary:' "$TMP/dataplane.log" || true)
    [[ -n $s ]] && info "data plane $s"
    DP_PID=""
}

# ---------------------------------------------------------------------------------------------
# HAProxy: the root namespace as the gateway host. haproxy_path_down leaves the root-side ends
# as lab.sh sets them (no addresses, ARP off, arp_ignore 8).

root_sysctl() { # PATH VALUE: set, record the old value
    local f=/proc/sys/$1
    [[ -w $f ]] || { info "warning: cannot set $f"; return 0; }
    ROOT_SYSCTLS+=("$1 $(cat "$f")")
    echo "$2" >"$f"
}

haproxy_path_up() {
    HA_PATH_UP=1
    local e ifc a
    for e in "${GW_ADDRS[@]}"; do
        read -r ifc a <<<"$e"
        root_sysctl "net/ipv4/conf/$ifc/arp_ignore" 0
        ip link set "$ifc" arp on
        ip addr replace "$a" dev "$ifc"
    done
    ip addr replace "$VIP/32" dev mg-client
    # The data plane answered ARP for these addresses with its own port MACs: forget them.
    for ifc in "${HOST_IFS[@]}"; do ip -n "$ifc" neigh flush all 2>/dev/null || true; done
    info "HAProxy path: root-side ends addressed (${GW_ADDRS[*]}), VIP $VIP on mg-client, no forwarding"
}

haproxy_path_down() {
    local ifc i path old
    for ifc in "${HOST_IFS[@]}"; do
        ip link show "$ifc" >/dev/null 2>&1 || continue
        ip addr flush dev "$ifc" 2>/dev/null || true
        ip neigh flush dev "$ifc" 2>/dev/null || true
        ip link set "$ifc" arp off 2>/dev/null || true
        ip -n "$ifc" neigh flush all 2>/dev/null || true
    done
    for ((i = ${#ROOT_SYSCTLS[@]} - 1; i >= 0; i--)); do
        read -r path old <<<"${ROOT_SYSCTLS[i]}"
        [[ -w /proc/sys/$path ]] && echo "$old" >"/proc/sys/$path" 2>/dev/null
    done
    ROOT_SYSCTLS=()
    HA_PATH_UP=0
    info "HAProxy path removed (root-side ends back to lab.sh's state)"
}

HA_PID=""
start_haproxy() {
    local cfg=$TMP/haproxy.cfg
    cat >"$cfg" <<EOF
# perf/tcp-proxy.sh: the same services as the data plane's, as a TCP proxy.
global
  nbthread $HA_THREADS
  maxconn 8000
  log stderr format short local0 warning
defaults
  mode tcp
  log global
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend web
  bind $VIP:80 backlog 4096
  default_backend web
backend web
  balance roundrobin
  server b1 198.18.2.10:80
  server b2 198.18.3.10:80
frontend iperf
  bind $VIP:5201
  default_backend iperf
backend iperf
  server s1 $IPERF_SERVER:5201
EOF
    haproxy -c -q -f "$cfg" || die "haproxy rejects $cfg"
    start_bg "haproxy $(haproxy -v | awk 'NR == 1 { print $3 }') (nbthread $HA_THREADS)" "$TMP/haproxy.log" haproxy -db -f "$cfg"
    HA_PID=$LAST_BG
    wait_listen_root "$VIP" 80 || { cat "$TMP/haproxy.log" >&2; die "haproxy does not listen on $VIP:80"; }
}
wait_listen_root() { # ADDR PORT
    for _ in $(seq 100); do
        ss -Htln "sport = :$2" 2>/dev/null | grep -qF "$1" && return 0
        sleep 0.1
    done
    return 1
}
stop_haproxy() {
    [[ -n $HA_PID ]] || return 0
    stop_pid "$HA_PID" TERM
    HA_PID=""
}

# =============================================================================================
info "mode $MODE, $LOAD_SECS s per load, iperf3 -P $STREAMS, wrk -c $CONNS -t $THREADS, haproxy nbthread $HA_THREADS"
lab_up
start_servers
busy_check "the benchmark (servers idle, no proxy running)"

# --- meshgate (first: the root-side ends must carry no addresses while the data plane runs)
if start_dataplane; then
    run_side tcp_proxy >"$TMP/side-tcp_proxy.txt" || mg_error "meshgate ($MODE): $(cat "$TMP/side-tcp_proxy.txt")"
    stop_dataplane
fi

# --- HAProxy on the same path
haproxy_path_up
busy_check "HAProxy's loads (servers idle, data plane stopped)"
start_haproxy
run_side haproxy >"$TMP/side-haproxy.txt" || die "HAProxy baseline: $(cat "$TMP/side-haproxy.txt")"
stop_haproxy
haproxy_path_down
check_lab_quiet

# ---------------------------------------------------------------------------------------------
# Report.
for side in tcp_proxy haproxy; do
    for k in gbps cps; do
        M[${side}_${k}_cores]=${M[${side}_${k}_cores]:-0}
        M[${side}_${k}]=${M[${side}_${k}]:-0}
    done
    M[${side}_gbps_per_core]=$(per_core "${M[${side}_gbps]}" "${M[${side}_gbps_cores]}" "%.3f")
    M[${side}_cps_per_core]=$(per_core "${M[${side}_cps]}" "${M[${side}_cps_cores]}" "%.0f")
done
echo "tcp-proxy.sh: $LOAD_SECS s per load; meshgate mode $MODE (1 worker lcore + main lcore), haproxy" \
    "nbthread $HA_THREADS; iperf3 -P $STREAMS; wrk -c $CONNS -t $THREADS, one request per connection;" \
    "cores = CPU seconds used on the whole machine per wall second during the load (clients," \
    "servers, proxy, kernel)"
printf '%-10s %12s %8s %14s   %10s %8s %14s\n' side "Gbit/s" cores "Gbit/s/core" "conn/s" cores "conn/s/core"
for side in tcp_proxy haproxy; do
    printf '%-10s %12s %8s %14s   %10s %8s %14s\n' "$side" "${M[${side}_gbps]}" "${M[${side}_gbps_cores]}" \
        "${M[${side}_gbps_per_core]}" "${M[${side}_cps]}" "${M[${side}_cps_cores]}" "${M[${side}_cps_per_core]}"
done
echo "raw ratios (not per core): throughput $(ratio "${M[tcp_proxy_gbps]}" "${M[haproxy_gbps]}")," \
    "cps $(ratio "${M[tcp_proxy_cps]}" "${M[haproxy_cps]}")"
rc=0
if ((${#MG_ERRORS[@]})); then
    for e in "${MG_ERRORS[@]}"; do echo "$PERF_NAME: error: $e"; done
    rc=3
fi
[[ $MODE == tcp-proxy ]] || echo "$PERF_NAME: note: meshgate ran mode $MODE (PERF_TP_MODE), not tcp-proxy"
echo "metric tcp_proxy_throughput_gbps ${M[tcp_proxy_gbps]}"
echo "metric haproxy_throughput_gbps ${M[haproxy_gbps]}"
echo "metric tcp_proxy_cps ${M[tcp_proxy_cps]}"
echo "metric haproxy_cps ${M[haproxy_cps]}"
echo "metric tcp_proxy_throughput_ratio_vs_haproxy $(ratio "${M[tcp_proxy_gbps_per_core]}" "${M[haproxy_gbps_per_core]}")"
echo "metric tcp_proxy_cps_ratio_vs_haproxy $(ratio "${M[tcp_proxy_cps_per_core]}" "${M[haproxy_cps_per_core]}")"
exit "$rc"
