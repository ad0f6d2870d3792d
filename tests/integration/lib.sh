# shellcheck shell=bash
# Shared helpers for the lab integration tests. Source it, then call mg_setup.
#
#   source "$(dirname "$0")/lib.sh"
#   mg_setup                      # lab up + data plane started and polling; torn down on EXIT
#   check "what" cmd args...      # runs cmd, PASS if it exits 0, else FAIL with its output
#   check_ping NS DEST "what"     # warm-up ping, then 3 pings that must all be answered
#   mg_finish                     # exits 1 on any failure; teardown prints "N passed, N failed"
#
# Environment:
#   MESHGATE_DATAPLANE  data plane binary (default: <repo>/build/dataplane/meshgate-dataplane)
#   MESHGATE_CONFIG     config (default: <repo>/deploy/lab/meshgate-lab.json)
#   MG_START_TIMEOUT    seconds to wait for "dataplane.running" (default 30)
#   MG_DP_EXTRA_ARGS    extra data plane options after --config (default none), e.g. --mgmt-socket
#
# Exit codes: 0 all passed, 1 a check failed or setup failed, 77 skipped (not root, no binary,
# missing tools) -- meson reports 77 as SKIP.
#
# All traffic stays inside the lab namespaces (mg-client, mg-srv1, mg-srv2) and the gateway.

set -uo pipefail

MG_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
cd "$MG_ROOT" || exit 1

MESHGATE_DATAPLANE=${MESHGATE_DATAPLANE:-$MG_ROOT/build/dataplane/meshgate-dataplane}
case "$MESHGATE_DATAPLANE" in /*) ;; *) MESHGATE_DATAPLANE=$MG_ROOT/$MESHGATE_DATAPLANE ;; esac
MG_CONFIG=${MESHGATE_CONFIG:-$MG_ROOT/deploy/lab/meshgate-lab.json}
MG_START_TIMEOUT=${MG_START_TIMEOUT:-30}
MG_LAB=$MG_ROOT/deploy/lab/lab.sh
MG_TEST=$(basename "$0" .sh)
MG_PREFIX="mg-it-$$"          # unique EAL --file-prefix per test run
MG_TMP=""
MG_LOG=""
MG_PID=""
MG_PASSED=0
MG_FAILED=0
MG_LAB_UP=0
MG_LOG_SHOWN=0

mg_say() { echo "[$MG_TEST] $*"; }

mg_skip() {
  echo "[$MG_TEST] SKIP: $*"
  exit 77
}

# Setup error after mg_setup's trap is in place: counted as a failure; the EXIT trap cleans up
# and prints the summary.
mg_die() {
  echo "[$MG_TEST] ERROR: $*"
  MG_FAILED=$((MG_FAILED + 1))
  exit 1
}

# ---- data plane --------------------------------------------------------------------------

mg_dataplane_alive() { [ -n "$MG_PID" ] && kill -0 "$MG_PID" 2>/dev/null; }

mg_start_dataplane() {
  MG_LOG=$MG_TMP/dataplane.log
  mg_say "starting $MESHGATE_DATAPLANE (file-prefix $MG_PREFIX, log $MG_LOG)"
  # MG_EAL_CORES: the lcore arguments (default: main lcore 0, one worker on lcore 1).
  # shellcheck disable=SC2086
  "$MESHGATE_DATAPLANE" --no-pci --no-huge -m 512 --file-prefix "$MG_PREFIX" ${MG_EAL_CORES:--l 0,1} \
    --log-level='*:warning' -- --config "$MG_CONFIG" ${MG_DP_EXTRA_ARGS:-} >"$MG_LOG" 2>&1 </dev/null 9>&- &
  MG_PID=$!
  local deadline=$((SECONDS + MG_START_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    if grep -q 'dataplane.running' "$MG_LOG" 2>/dev/null; then
      mg_say "data plane running (pid $MG_PID)"
      return 0
    fi
    if ! mg_dataplane_alive; then
      wait "$MG_PID" 2>/dev/null
      local rc=$?
      MG_PID=""
      echo "---- data plane log ----"; cat "$MG_LOG"; echo "------------------------"; MG_LOG_SHOWN=1
      mg_die "data plane exited (status $rc) before printing 'dataplane.running'"
    fi
    sleep 0.2
  done
  echo "---- data plane log ----"; cat "$MG_LOG"; echo "------------------------"; MG_LOG_SHOWN=1
  mg_die "no 'dataplane.running' within ${MG_START_TIMEOUT}s"
}

# mg_stop_dataplane [SIGNAL] [TIMEOUT]: signal the data plane and wait for it.
# Sets MG_STOP_RC (exit status, or 124 if it had to be killed) and MG_STOP_SECS.
MG_STOP_RC=""
MG_STOP_SECS=""   # read by tests (stop_test.sh)
export MG_STOP_SECS
mg_stop_dataplane() {
  local sig=${1:-TERM} timeout=${2:-10}
  MG_STOP_RC=""
  MG_STOP_SECS=""
  [ -n "$MG_PID" ] || return 0
  local start now
  start=$(date +%s.%N)
  kill -s "$sig" "$MG_PID" 2>/dev/null
  local deadline=$((SECONDS + timeout))
  while mg_dataplane_alive && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  now=$(date +%s.%N)
  MG_STOP_SECS=$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
  if mg_dataplane_alive; then
    kill -s KILL "$MG_PID" 2>/dev/null
    wait "$MG_PID" 2>/dev/null
    MG_STOP_RC=124
  else
    wait "$MG_PID" 2>/dev/null
    MG_STOP_RC=$?
  fi
  MG_PID=""
}

# ---- setup / teardown --------------------------------------------------------------------

mg_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if mg_dataplane_alive; then
    mg_say "stopping data plane (pid $MG_PID)"
    mg_stop_dataplane TERM 10
    [ "$MG_STOP_RC" = 124 ] && mg_say "data plane ignored SIGTERM for 10s; killed"
  fi
  if [ "$MG_LAB_UP" = 1 ]; then
    "$MG_LAB" down >/dev/null 2>&1 || true
  fi
  rm -rf "/var/run/dpdk/$MG_PREFIX" 2>/dev/null
  if [ -n "$MG_TMP" ] && [ -d "$MG_TMP" ]; then
    if [ "$MG_FAILED" -gt 0 ]; then
      if [ "$MG_LOG_SHOWN" = 0 ] && [ -s "$MG_LOG" ]; then
        echo "---- data plane log (last 40 lines of $MG_LOG) ----"
        tail -n 40 "$MG_LOG"
        echo "----"
      fi
      mg_say "kept $MG_TMP for inspection"
    else
      rm -rf "$MG_TMP"
    fi
  fi
  echo "$MG_PASSED passed, $MG_FAILED failed"
  [ "$MG_FAILED" -gt 0 ] && [ "$rc" -eq 0 ] && rc=1
  exit "$rc"
}

mg_setup() {
  [ "$(id -u)" -eq 0 ] || mg_skip "needs root (namespaces, veth, af_packet)"
  [ -x "$MESHGATE_DATAPLANE" ] || mg_skip "no data plane binary at $MESHGATE_DATAPLANE"
  local tool
  for tool in ip ping ethtool "$@"; do
    command -v "$tool" >/dev/null 2>&1 || mg_skip "missing tool: $tool (run deploy/install-deps.sh)"
  done
  if [ -s /run/meshgate/dataplane.pid ] && kill -0 "$(cat /run/meshgate/dataplane.pid)" 2>/dev/null; then
    echo "[$MG_TEST] ERROR: the lab is in use by deploy/quickstart.sh (pid $(cat /run/meshgate/dataplane.pid));" \
      "run deploy/quickstart.sh down first"
    exit 1
  fi
  # One lab at a time: serialise against other test scripts started by hand.
  mkdir -p /run/lock
  exec 9>/run/lock/meshgate-lab.lock
  flock -w 300 9 || mg_die "could not lock /run/lock/meshgate-lab.lock within 300s"

  MG_TMP=$(mktemp -d "/tmp/meshgate-$MG_TEST.XXXXXX")
  trap mg_cleanup EXIT
  trap 'exit 1' INT TERM
  MG_LAB_UP=1
  "$MG_LAB" up >"$MG_TMP/lab.log" 2>&1 || { cat "$MG_TMP/lab.log"; mg_die "lab up failed"; }
  mg_say "lab up (mg-client, mg-srv1, mg-srv2)"
  mg_start_dataplane
}

# ---- checks ------------------------------------------------------------------------------

mg_pass() { MG_PASSED=$((MG_PASSED + 1)); echo "PASS: $*"; }
mg_fail() { MG_FAILED=$((MG_FAILED + 1)); echo "FAIL: $*"; }

# Indent captured output under a result line.
mg_indent() { sed 's/^/      /'; }

# check "description" cmd args...  -- PASS if the command exits 0.
check() {
  local what=$1; shift
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then
    mg_pass "$what"
  else
    mg_fail "$what (exit $rc)"
    [ -n "$out" ] && printf '%s\n' "$out" | mg_indent
  fi
  return $rc
}

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Summary line of a ping run: "3 packets transmitted, 3 received, 0% packet loss; rtt avg 0.2 ms"
ping_summary() {
  local out=$1 loss rtt
  loss=$(printf '%s\n' "$out" | grep -E 'packets transmitted' | head -n1)
  rtt=$(printf '%s\n' "$out" | sed -nE 's|^rtt min/avg/max/mdev = [0-9.]+/([0-9.]+)/.*|\1|p')
  printf '%s%s' "${loss:-no ping statistics}" "${rtt:+; rtt avg $rtt ms}"
}

# check_ping NS DEST "description" [extra ping args]: a warm-up ping lets the gateway and the
# host resolve neighbours (not counted), then 3 pings must all be answered.
check_ping() {
  local ns=$1 dest=$2 what=$3; shift 3
  local out
  nsx "$ns" timeout 5 ping -c 1 -W 2 "$@" "$dest" >/dev/null 2>&1
  out=$(nsx "$ns" timeout 10 ping -c 3 -i 0.2 -W 1 "$@" "$dest" 2>&1)
  if printf '%s\n' "$out" | grep -qE ' 0% packet loss'; then
    mg_pass "$what: $(ping_summary "$out")"
  else
    mg_fail "$what: $(ping_summary "$out")"
    printf '%s\n' "$out" | mg_indent
  fi
}

# check_ping_fails NS DEST "description": 3 pings, none answered.
check_ping_fails() {
  local ns=$1 dest=$2 what=$3; shift 3
  local out
  out=$(nsx "$ns" timeout 10 ping -c 3 -i 0.2 -W 1 "$@" "$dest" 2>&1)
  if printf '%s\n' "$out" | grep -qE ' 100% packet loss'; then
    mg_pass "$what: $(ping_summary "$out")"
  else
    mg_fail "$what: $(ping_summary "$out")"
    printf '%s\n' "$out" | mg_indent
  fi
}

# check_ping_error NS DEST "description" REGEX [ping args]: ping's output must contain a line
# matching REGEX (an ICMP error reported by ping as "From ADDR icmp_seq=N MESSAGE").
check_ping_error() {
  local ns=$1 dest=$2 what=$3 regex=$4; shift 4
  local out line
  out=$(nsx "$ns" timeout 10 ping -W 2 "$@" "$dest" 2>&1)
  line=$(printf '%s\n' "$out" | grep -E "$regex" | head -n1)
  if [ -n "$line" ]; then
    mg_pass "$what: \"$line\""
  else
    mg_fail "$what: no line matching /$regex/ in: ping $* $dest"
    printf '%s\n' "$out" | mg_indent
  fi
}

# wait_listen NS PORT: until something listens on TCP PORT in NS (5 s at most).
wait_listen() {
  local _
  for _ in $(seq 50); do
    nsx "$1" ss -Htln "sport = :$2" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

# iperf3_check FAMILY_LABEL SERVER_ADDR PORT [client args]: a one-off iperf3 server in mg-srv1
# (bounded by timeout, so no daemon outlives the test), the client in mg-client for 3 s.
iperf3_check() {
  local label=$1 addr=$2 port=$3
  shift 3
  local srv_out=$MG_TMP/iperf3-server-$label.txt cli_out=$MG_TMP/iperf3-client-$label.txt
  nsx mg-srv1 timeout 30 iperf3 -s -1 -p "$port" -f m >"$srv_out" 2>&1 &
  local spid=$!
  if ! wait_listen mg-srv1 "$port"; then
    mg_fail "iperf3 $label: server did not listen on $port"
    kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
    return
  fi
  nsx mg-client timeout 30 iperf3 -c "$addr" -p "$port" -t 3 -f m "$@" >"$cli_out" 2>&1
  local crc=$?
  wait "$spid"
  local src=$?
  # Receiver line: "[  5]   0.00-3.00   sec  1.83 GBytes  5237 Mbits/sec    receiver"
  local line mbytes rate
  line=$(grep -E 'receiver$' "$cli_out" | tail -n1)  # with -P N the SUM line comes last
  mbytes=$(awk '{ for (i = 2; i <= NF; i++) {
                    if ($i == "KBytes") printf "%.1f", $(i-1) / 1024
                    if ($i == "MBytes") printf "%.1f", $(i-1)
                    if ($i == "GBytes") printf "%.1f", $(i-1) * 1024 } }' <<<"$line")
  rate=$(awk '{ for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") print $(i-1) }' <<<"$line")
  if [ "$crc" -eq 0 ] && [ "$src" -eq 0 ] && [ -n "$mbytes" ] && awk -v b="$mbytes" 'BEGIN { exit !(b > 0) }'; then
    mg_pass "iperf3 $label client -> srv1 $addr: receiver got ${mbytes} MBytes, ${rate} Mbit/s"
  else
    mg_fail "iperf3 $label client -> srv1 $addr: client exit $crc, server exit $src, received '${mbytes:-?}' MBytes"
    echo "      -- client:"; mg_indent <"$cli_out"
    echo "      -- server:"; mg_indent <"$srv_out"
  fi
}

# End of a test: the EXIT trap tears down and prints "N passed, N failed" as the last line.
mg_finish() {
  [ "$MG_FAILED" -eq 0 ] && exit 0
  exit 1
}
