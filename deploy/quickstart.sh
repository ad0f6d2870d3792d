#!/usr/bin/env bash
# meshgate quickstart: dependencies, hugepages, build, lab, data plane, real traffic.
#
#   deploy/quickstart.sh [up] [--no-build]   bring everything up, send traffic, print a summary;
#                                            leaves the lab and the data plane running
#   deploy/quickstart.sh down                stop the data plane (SIGTERM) and remove the lab
#   deploy/quickstart.sh status              show the lab and whether the data plane runs
#
# Environment: BUILD_DIR (default build), MESHGATE_DATAPLANE (default $BUILD_DIR/dataplane/meshgate-dataplane).
# The data plane logs to /run/meshgate/dataplane.log, its pid is in /run/meshgate/dataplane.pid.
# meshgate-mgmtd (NETCONF 127.0.0.1:830, RESTCONF https://127.0.0.1:8443, lab user admin /
# password meshgate) logs to /run/meshgate/mgmtd.log; its state is in /var/lib/meshgate-mgmtd-lab.
# Exit status is non-zero if any traffic failed. All traffic stays within the lab namespaces.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$ROOT"

BUILD_DIR=${BUILD_DIR:-build}
BIN=${MESHGATE_DATAPLANE:-$BUILD_DIR/dataplane/meshgate-dataplane}
CONFIG=deploy/lab/meshgate-lab-l4.json   # the lab routes plus L4 services and egress SNAT
LAB=deploy/lab/lab.sh
RUN_DIR=/run/meshgate
MGMTD=$BUILD_DIR/mgmt/meshgate-mgmtd
CTL=$BUILD_DIR/mgmt/restconf/meshgatectl
MGMT_STATE=/var/lib/meshgate-mgmtd-lab
MGMT_LOG=$RUN_DIR/mgmtd.log
MGMT_PIDFILE=$RUN_DIR/mgmtd.pid
DP_SOCKET=$RUN_DIR/dataplane.sock
LOG=$RUN_DIR/dataplane.log
PIDFILE=$RUN_DIR/dataplane.pid
PREFIX=mg-lab
START_TIMEOUT=60

say() { echo "quickstart: $*"; }
die() { echo "quickstart: error: $*" >&2; exit 1; }

# Pid of our running data plane, or nothing.

# What an SRE sees: a few Prometheus series, the tap on the VIP traffic and its pcapng.
sre_view() {
  local url=http://127.0.0.1:9180 metrics captured file
  echo
  echo "== metrics ($url/metrics), a few of them"
  metrics=$(curl -s --max-time 3 "$url/metrics" || true)
  if [ -z "$metrics" ]; then
    add_row "metrics $url/metrics" "no answer" FAIL
    return
  fi
  grep -E '^meshgate_(interface_rx_packets_total|backend_up|backend_connections_total|sessions_active|snat_ports_in_use)' \
    <<<"$metrics" | sed 's/^/  /'
  captured=$(awk '/^meshgate_tap_captured_packets_total\{tap="vip-web"\}/ { print $2 }' <<<"$metrics")
  echo "== tap vip-web (tcp port 80 on client): ${captured:-0} packets captured"
  file=$(curl -s --max-time 3 "$url/taps/vip-web/files" | python3 -c 'import json,sys; f=json.load(sys.stdin)["files"]; print(f[-1]["name"] if f else "")' 2>/dev/null || true)
  if [ "${captured:-0}" -gt 0 ] && [ -n "$file" ]; then
    add_row "tap vip-web (tcp port 80 on client)" "$captured packets captured, $file" ok
    if command -v tshark >/dev/null && curl -s --max-time 5 -o /tmp/meshgate-quickstart.pcapng "$url/taps/vip-web/files/$file"; then
      tshark -r /tmp/meshgate-quickstart.pcapng -c 6 2>/dev/null | sed 's/^/  /' || true
    fi
  else
    add_row "tap vip-web (tcp port 80 on client)" "nothing captured" FAIL
  fi
}

dataplane_pid() {
  local pid
  [ -s "$PIDFILE" ] || return 0
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q dataplane; then
    echo "$pid"
  fi
}

stop_dataplane() {
  local pid lines _
  pid=$(dataplane_pid)
  if [ -n "$pid" ]; then
    lines=$(wc -l 2>/dev/null <"$LOG" || echo 0)
    say "stopping data plane (pid $pid, SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "data plane still running after 10 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    else
      say "data plane stopped; its last words:"
      tail -n +"$((lines + 1))" "$LOG" 2>/dev/null | sed 's/^/    /' | tail -n 40
    fi
  fi
  rm -f "$PIDFILE"
  rm -rf "/var/run/dpdk/$PREFIX"
  # DPDK leaves its hugepage files behind on exit; free ours (this prefix only).
  local mnt
  for mnt in $(awk '$3 == "hugetlbfs" { print $2 }' /proc/mounts); do
    rm -f "$mnt/${PREFIX}map_"*
  done
}

# Hugepages usable: hugetlbfs mounted and some free 2 MiB pages (128 MiB at least).
hugepages_usable() {
  grep -q hugetlbfs /proc/mounts || return 1
  local free
  free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
  [ "${free:-0}" -ge 64 ]
}

# ---- management: meshgate-mgmtd and meshgatectl ---------------------------------------------

stop_mgmtd() {
  local pid _
  [ -s "$MGMT_PIDFILE" ] || return 0
  pid=$(cat "$MGMT_PIDFILE")
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q mgmtd; then
    say "stopping meshgate-mgmtd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$MGMT_PIDFILE"
}

# A lab mgmtd: fresh state (the initial config is the lab's, mgmt/yang/examples/lab-l4.json),
# generated SSH host key and TLS certificate, user admin / password "meshgate" (lab only).
start_mgmtd() {
  stop_mgmtd
  rm -rf "$MGMT_STATE"
  mkdir -p "$MGMT_STATE/state"
  ssh-keygen -q -t ed25519 -N '' -f "$MGMT_STATE/ssh_host_key" >/dev/null
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=meshgate-mgmtd \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$MGMT_STATE/tls.key" -out "$MGMT_STATE/tls.crt" >/dev/null 2>&1
  cat >"$MGMT_STATE/mgmtd.json" <<JSON
{
  "stateDir": "$MGMT_STATE/state",
  "yangDir": "$ROOT/mgmt/yang",
  "initialConfig": "$ROOT/mgmt/yang/examples/lab-l4.json",
  "dataplaneSocket": "$DP_SOCKET",
  "netconf": {"address": "127.0.0.1", "port": 830, "hostKey": "$MGMT_STATE/ssh_host_key"},
  "restconf": {"address": "127.0.0.1", "port": 8443, "certificate": "$MGMT_STATE/tls.crt", "privateKey": "$MGMT_STATE/tls.key"},
  "users": [ {"name": "admin", "passwordHash": "$(openssl passwd -6 meshgate)", "role": "admin"} ]
}
JSON
  : >"$MGMT_LOG"
  say "starting: $MGMTD --settings $MGMT_STATE/mgmtd.json"
  setsid "$MGMTD" --settings "$MGMT_STATE/mgmtd.json" >>"$MGMT_LOG" 2>&1 </dev/null 9>&- &
  echo $! >"$MGMT_PIDFILE"
  local _
  for _ in $(seq 100); do
    grep -q '"source":"mgmtd"' "$LOG" && return 0
    sleep 0.1
  done
  sed 's/^/    | /' "$MGMT_LOG" >&2
  add_row "meshgate-mgmtd" "did not push its running config within 10 s" FAILED
  return 1
}

# The operator's view: the running config as tables, an edit on the candidate, its diff, a
# commit, a new VIP over RESTCONF (committed at once) and the history.
mgmt_view() {
  export MESHGATE_SERVER=https://127.0.0.1:8443 MESHGATE_USER=admin MESHGATE_PASSWORD=meshgate
  local ctl=("$CTL" --cacert "$MGMT_STATE/tls.crt") out
  echo
  echo "== meshgatectl show config"
  "${ctl[@]}" show config 2>&1 | sed 's/^/  /' | head -n 30
  echo "== meshgatectl set service=web4/backend=198.18.3.2,8080/weight 3; diff; commit"
  if "${ctl[@]}" set service=web4/backend=198.18.3.2,8080/weight 3 &&
    out=$("${ctl[@]}" diff) && "${ctl[@]}" commit comment "quickstart: weight 3 on srv2" >/dev/null; then
    sed 's/^/  /' <<<"$out"
    add_row "meshgatectl: weight change committed" "web4 backend 198.18.3.2 weight 3" ok
  else
    add_row "meshgatectl: weight change committed" "refused (see above)" FAILED
  fi
  echo "== RESTCONF: POST a service web-extra (VIP 198.18.50.12 -> srv1), committed at once"
  out=$(curl -s --cacert "$MGMT_STATE/tls.crt" -u admin:meshgate -X POST \
    -H 'Content-Type: application/yang-data+json' -w '%{http_code}' \
    https://127.0.0.1:8443/restconf/data/meshgate-config:meshgate \
    -d '{"meshgate-config:service":[{"name":"web-extra","vip":"198.18.50.12","protocol":"tcp","port":80,
         "backend":[{"address":"198.18.2.2","port":8080}]}]}')
  echo "  HTTP $out"
  vip_row http://198.18.50.12/id "VIP 198.18.50.12 (added over RESTCONF)"
  echo "== meshgatectl history"
  "${ctl[@]}" history 2>&1 | sed 's/^/  /'
}

# ---- traffic -------------------------------------------------------------------------------

FAILURES=0
SUMMARY=()

add_row() { SUMMARY+=("$(printf '  %-38s %-52s %s' "$1" "$2" "$3")"); [ "$3" = ok ] || FAILURES=$((FAILURES + 1)); }

ping_row() { # DEST LABEL
  local dest=$1 label=$2 out sent recv loss rtt
  ip netns exec mg-client timeout 5 ping -c 1 -W 2 "$dest" >/dev/null 2>&1 || true   # neighbour warm-up
  out=$(ip netns exec mg-client timeout 15 ping -c 5 -i 0.2 -W 1 "$dest" 2>&1 || true)
  sent=$(sed -nE 's/^([0-9]+) packets transmitted.*/\1/p' <<<"$out")
  recv=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' <<<"$out")
  loss=$(sed -nE 's/.* ([0-9.]+)% packet loss.*/\1/p' <<<"$out")
  rtt=$(sed -nE 's|^rtt min/avg/max/mdev = ([0-9.]+)/([0-9.]+)/([0-9.]+)/.*|min/avg/max \1/\2/\3 ms|p' <<<"$out")
  if [ -n "$sent" ] && [ "$sent" = "$recv" ]; then
    add_row "ping $label" "${recv}/${sent} answered, ${loss}% loss, rtt ${rtt}" ok
  else
    add_row "ping $label" "${recv:-0}/${sent:-?} answered, ${loss:-100}% loss ${rtt:+, rtt $rtt}" FAILED
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    | /' >&2
  fi
}

iperf_row() { # DEST PORT LABEL
  local dest=$1 port=$2 label=$3 out srv_out spid rc rate _
  srv_out=$(mktemp)
  ip netns exec mg-srv1 timeout 20 iperf3 -s -1 -p "$port" >"$srv_out" 2>&1 &
  spid=$!
  for _ in $(seq 50); do
    ip netns exec mg-srv1 ss -Htln "sport = :$port" 2>/dev/null | grep -q . && break
    sleep 0.1
  done
  rc=0
  out=$(ip netns exec mg-client timeout 20 iperf3 -c "$dest" -p "$port" -t 3 -f m 2>&1) || rc=$?
  wait "$spid" 2>/dev/null || true
  rm -f "$srv_out"
  rate=$(grep -E 'receiver$' <<<"$out" | awk '{ for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") print $(i-1) }' | tail -n1)
  if [ "$rc" -eq 0 ] && [ -n "$rate" ] && awk -v r="$rate" 'BEGIN { exit !(r > 0) }'; then
    add_row "iperf3 TCP 3 s $label" "$rate Mbit/s received" ok
  else
    add_row "iperf3 TCP 3 s $label" "iperf3 exit $rc, ${rate:-no} Mbit/s" FAILED
    [ -n "$out" ] && printf '%s\n' "$out" | tail -n 15 | sed 's/^/    | /' >&2
  fi
}

# ---- commands ------------------------------------------------------------------------------

# Backends of the lab's VIPs: a small HTTP server in mg-srv1 and mg-srv2 on port 8080 whose /id
# names the host.
WEB_PIDS=$RUN_DIR/backends.pids
start_backends() {
  local ns
  stop_backends
  for ns in mg-srv1 mg-srv2; do
    mkdir -p "$RUN_DIR/www-$ns"
    echo "$ns" >"$RUN_DIR/www-$ns/id"
    ip netns exec "$ns" setsid /usr/bin/python3 -m http.server 8080 --bind :: --directory "$RUN_DIR/www-$ns" \
      >/dev/null 2>&1 </dev/null 9>&- &
    echo $! >>"$WEB_PIDS"
  done
}
stop_backends() {
  [ -f "$WEB_PIDS" ] || return 0
  xargs -r kill <"$WEB_PIDS" 2>/dev/null || true
  rm -f "$WEB_PIDS"
}

vip_row() { # URL LABEL: 8 requests; which backends answered
  local url=$1 label=$2 out seen="" ok=0
  for _ in 1 2 3 4 5 6 7 8; do
    out=$(ip netns exec mg-client curl -s -m 3 "$url" 2>/dev/null) && ok=$((ok + 1)) && seen="$seen $out"
  done
  seen=$(tr ' ' '\n' <<<"$seen" | sed '/^$/d' | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')
  if [ "$ok" -eq 8 ]; then
    add_row "curl $label" "8/8 answered: $seen" ok
  else
    add_row "curl $label" "$ok/8 answered ${seen}" FAILED
  fi
}

cmd_down() {
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  stop_backends
  stop_mgmtd
  stop_dataplane
  "$LAB" down
}

cmd_status() {
  local pid
  "$LAB" status || true
  pid=$(dataplane_pid)
  if [ -n "$pid" ]; then say "data plane running, pid $pid, log $LOG"; else say "data plane not running"; fi
  if [ -s "$MGMT_PIDFILE" ] && kill -0 "$(cat "$MGMT_PIDFILE")" 2>/dev/null; then
    say "meshgate-mgmtd running, pid $(cat "$MGMT_PIDFILE"), log $MGMT_LOG"
  else
    say "meshgate-mgmtd not running"
  fi
}

cmd_up() {
  local build=1 arg
  for arg in "$@"; do
    case "$arg" in
      --no-build) build=0 ;;
      *) die "unknown argument: $arg" ;;
    esac
  done
  [ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, veth, hugepages)"

  # Integration tests hold this lock while they use the lab.
  mkdir -p /run/lock
  exec 9>/run/lock/meshgate-lab.lock
  flock -n 9 || die "the lab is in use by an integration test (lock /run/lock/meshgate-lab.lock); try again later"

  say "dependencies (deploy/install-deps.sh)"
  deploy/install-deps.sh
  say "hugepages (deploy/hugepages.sh)"
  deploy/hugepages.sh || true

  if [ "$build" = 1 ]; then
    if [ ! -d "$BUILD_DIR" ]; then
      say "meson setup $BUILD_DIR"
      meson setup "$BUILD_DIR"
    fi
    say "ninja -C $BUILD_DIR"
    ninja -C "$BUILD_DIR"
  fi
  [ -x "$BIN" ] || die "no data plane binary at $BIN"

  stop_mgmtd       # a previous quickstart's mgmtd and data plane, if any
  stop_dataplane
  say "lab up (deploy/lab/lab.sh up)"
  "$LAB" up | sed 's/^/    /'

  # shellcheck disable=SC2054  # "-l 0,1" is an lcore list, not an array separator
  local eal=(--no-pci --file-prefix "$PREFIX" -l 0,1 "--log-level=*:warning")
  if hugepages_usable; then
    say "data plane uses hugepages ($(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo) free 2 MiB pages)"
  else
    eal+=(--no-huge -m 512)
    say "no usable hugepages; data plane runs with --no-huge -m 512"
  fi
  mkdir -p "$RUN_DIR"
  : >"$LOG"
  say "starting: $BIN ${eal[*]} -- --config $CONFIG --mgmt-socket $DP_SOCKET"
  setsid "$BIN" "${eal[@]}" -- --config "$CONFIG" --mgmt-socket "$DP_SOCKET" >>"$LOG" 2>&1 </dev/null 9>&- &
  local pid=$! deadline=$((SECONDS + START_TIMEOUT))
  echo "$pid" >"$PIDFILE"
  until grep -q 'dataplane.running' "$LOG"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      sed 's/^/    | /' "$LOG" >&2
      rm -f "$PIDFILE"
      die "data plane exited before it was running (log above, $LOG)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      sed 's/^/    | /' "$LOG" >&2
      die "data plane not running after ${START_TIMEOUT}s (still pid $pid; deploy/quickstart.sh down stops it)"
    fi
    sleep 0.2
  done
  say "data plane running (pid $pid, log $LOG)"
  say "dashboard http://127.0.0.1:9180/ , Prometheus metrics http://127.0.0.1:9180/metrics , taps http://127.0.0.1:9180/taps"

  say "sending traffic from mg-client"
  ping_row 198.18.2.2 "198.18.2.2 (srv1)"
  ping_row fd00:2::2 "fd00:2::2 (srv1)"
  ping_row 198.18.3.2 "198.18.3.2 (srv2, mtu 1280)"
  ping_row fd00:3::2 "fd00:3::2 (srv2, mtu 1280)"
  iperf_row 198.18.2.2 5201 "-> 198.18.2.2 (srv1)"
  iperf_row fd00:2::2 5201 "-> fd00:2::2 (srv1)"
  start_backends
  sleep 3   # backends listening and the health checks seeing them up (rise 2 at 1 s)
  vip_row http://198.18.50.10/id "VIP 198.18.50.10 (full-NAT, 2 backends)"
  vip_row "http://[fd00:50::10]/id" "VIP fd00:50::10 (full-NAT, 2 backends)"
  vip_row http://198.18.50.46/id "VIP 198.18.50.46 (NAT46 to fd00:2::2)"

  if start_mgmtd; then
    say "meshgate-mgmtd running: NETCONF 127.0.0.1:830, RESTCONF https://127.0.0.1:8443 (admin / meshgate)"
    mgmt_view
  fi

  sre_view

  local lines
  lines=$(wc -l <"$LOG")
  kill -USR1 "$pid" 2>/dev/null || true
  sleep 1

  echo
  echo "== traffic from mg-client through meshgate"
  printf '%s\n' "${SUMMARY[@]}"
  echo
  echo "== data plane counters (SIGUSR1)"
  tail -n +"$((lines + 1))" "$LOG" | sed 's/^/  /'
  echo
  if kill -0 "$pid" 2>/dev/null; then
    say "lab and data plane left running (pid $pid, log $LOG)"
    say "try: ip netns exec mg-client curl http://198.18.50.10/id ; ip netns exec mg-client ping 198.18.100.1"
    say "     MESHGATE_USER=admin MESHGATE_PASSWORD=meshgate $CTL --server https://127.0.0.1:8443 --cacert $MGMT_STATE/tls.crt show state"
    say "stop with: deploy/quickstart.sh down"
  else
    FAILURES=$((FAILURES + 1))
    say "the data plane is no longer running (log $LOG)"
  fi
  if [ "$FAILURES" -gt 0 ]; then
    say "$FAILURES traffic check(s) FAILED"
    exit 1
  fi
  say "all traffic checks passed"
}

case "${1:-up}" in
  up) shift || true; cmd_up "$@" ;;
  --no-build) cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 [up [--no-build]] | down | status" >&2; exit 2 ;;
esac
