# shellcheck shell=bash
# Helpers for the L4 service tests (tests/integration/l4_*_test.sh). Source after lib.sh:
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/l4/l4_lib.sh"
#   l4_setup l4_lb.json [tools...]   # config from tests/integration/l4/, then mg_setup
#   l4_backend NS ADDR NAME          # extra address in NS + an HTTP peer bound to it (port 8080)
#
# The config is copied to $MG_TMP/config.json before the data plane starts: that is the file the
# data plane re-reads on SIGHUP, so l4_cfg_edit + l4_check_reload change it under traffic.
# Peers started here and addresses added here are removed on exit (before lib.sh's teardown).

L4_DIR=$MG_ROOT/tests/integration/l4
L4_PEER=$L4_DIR/l4_peer.py
L4_PY=/usr/bin/python3 # Debian's interpreter (the python3 on PATH may be another)
L4_SRC_CONFIG=""
L4_PIDS=()      # background peers: pids of `ip netns exec`, which execs the program
L4_ADDRS=()     # "NS ADDR/PLEN" added to eth0
L4_LAST_PID=""

# ---- setup / teardown --------------------------------------------------------------------

# l4_setup CONFIG [tools...]: CONFIG is a file name in tests/integration/l4/.
l4_setup() {
  L4_SRC_CONFIG=$L4_DIR/$1
  shift
  [ -f "$L4_SRC_CONFIG" ] || mg_skip "no config $L4_SRC_CONFIG"
  mg_setup "$L4_PY" curl "$@"
}

# lib.sh starts the data plane from mg_setup once MG_TMP exists and its EXIT trap is set: put the
# editable copy of the config there first, and run our cleanup ahead of lib.sh's.
eval "mg_lib_start_dataplane() $(declare -f mg_start_dataplane | tail -n +2)"
mg_start_dataplane() {
  cp "$L4_SRC_CONFIG" "$MG_TMP/config.json" || mg_die "cannot copy $L4_SRC_CONFIG"
  MG_CONFIG=$MG_TMP/config.json
  trap l4_exit EXIT
  mg_lib_start_dataplane
}

l4_cleanup() {
  local pid entry ns addr
  for pid in "${L4_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${L4_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  L4_PIDS=()
  for entry in "${L4_ADDRS[@]}"; do
    read -r ns addr <<<"$entry"
    ip -n "$ns" addr del "$addr" dev eth0 2>/dev/null
  done
  L4_ADDRS=()
}

l4_exit() {
  local rc=$?
  l4_cleanup
  (exit "$rc") # mg_cleanup takes the test's exit status from $?
  mg_cleanup
}

# ---- peers -------------------------------------------------------------------------------

# l4_peer NS ARGS...: l4_peer.py ARGS in NS, in the background (pid in L4_LAST_PID). `ip netns
# exec` (not the nsx function, which would run in a subshell) execs the peer, so the pid is the
# peer's own. The lab lock's descriptor is closed so that no peer could hold the lock.
l4_peer() {
  local ns=$1
  shift
  ip netns exec "$ns" "$L4_PY" "$L4_PEER" "$@" >>"$MG_TMP/peers.log" 2>&1 </dev/null 9>&- &
  L4_LAST_PID=$!
  L4_PIDS+=("$L4_LAST_PID")
}

# l4_addr NS ADDR/PLEN: an extra address on NS's eth0.
l4_addr() {
  local ns=$1 a=$2
  if [[ $a == *:* ]]; then
    ip -n "$ns" -6 addr add "$a" dev eth0 nodad || mg_die "cannot add $a in $ns"
  else
    ip -n "$ns" addr add "$a" dev eth0 || mg_die "cannot add $a in $ns"
  fi
  L4_ADDRS+=("$ns $a")
}

# l4_url ADDR PORT PATH
l4_url() {
  case $1 in
    *:*) echo "http://[$1]:$2$3" ;;
    *) echo "http://$1:$2$3" ;;
  esac
}

# l4_http NS ADDR NAME [PORT]: HTTP peer bound to ADDR (default port 8080), access log
# $MG_TMP/access-NAME.log; waits until it answers from inside NS. Pid in L4_LAST_PID.
l4_http() {
  local ns=$1 addr=$2 name=$3 port=${4:-8080} url pid _
  l4_peer "$ns" http "$addr" "$port" "$name" "$MG_TMP/access-$name.log"
  pid=$L4_LAST_PID
  url=$(l4_url "$addr" "$port" /)
  local body
  for _ in $(seq 100); do
    body=$(nsx "$ns" curl -s --max-time 1 "$url" 2>/dev/null)
    if [[ $body == "$name "* ]]; then
      L4_LAST_PID=$pid
      return 0
    fi
    sleep 0.1
  done
  echo "---- peer $name (pid $pid, $(kill -0 "$pid" 2>/dev/null && echo running || echo gone)); listeners in $ns; peers.log"
  nsx "$ns" ss -Htlnp | mg_indent
  mg_indent <"$MG_TMP/peers.log"
  mg_die "HTTP peer $name did not answer on $url in $ns within 10 s (last answer '${body:-none}')"
}

# l4_backend NS ADDR NAME: host address ADDR (/32 or /128) in NS and an HTTP peer on ADDR:8080.
l4_backend() {
  local ns=$1 addr=$2 name=$3
  if [[ $addr == *:* ]]; then l4_addr "$ns" "$addr/128"; else l4_addr "$ns" "$addr/32"; fi
  l4_http "$ns" "$addr" "$name"
}

# l4_stop_peer PID: stops one peer started by l4_peer.
l4_stop_peer() {
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  local p keep=()
  for p in "${L4_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  L4_PIDS=("${keep[@]}")
}

# l4_warm NS ADDR...: one ping to each address (neighbour resolution on both sides; no check).
l4_warm() {
  local ns=$1 a
  shift
  for a in "$@"; do nsx "$ns" timeout 3 ping -c 1 -W 1 "$a" >/dev/null 2>&1; done
}

# ---- HTTP clients ------------------------------------------------------------------------

# l4_get NS URL [curl args]: body on stdout, curl's status as return code (3 s limit by default).
l4_get() {
  local ns=$1 url=$2
  shift 2
  nsx "$ns" curl -sS --max-time 3 "$@" "$url"
}

# l4_spread NS URL N: N requests over N connections (one curl, Connection: close); prints
# "NAME COUNT" per answering backend and "failed COUNT" for requests without an answer.
l4_spread() {
  local ns=$1 url=$2 n=$3 urls=() i
  for ((i = 0; i < n; i++)); do urls+=("$url"); done
  nsx "$ns" curl -s --max-time 3 -H 'Connection: close' -w '\n' "${urls[@]}" 2>/dev/null |
    awk -v n="$n" 'NF > 0 { c[$1]++; got++ } END { for (k in c) print k, c[k]; if (got < n) print "failed", n - got }' |
    sort
}

# ---- counters and config -----------------------------------------------------------------

# l4_tel CMD: JSON answer of a DPDK telemetry command ("/meshgate/l4", "/meshgate/drops").
# dpdk-telemetry.py runs under Debian's python3 (its "env python3" may be a slow shim).
l4_tel() {
  echo "$1" | timeout 10 "$L4_PY" "$(command -v dpdk-telemetry.py)" -f "$MG_PREFIX" 2>/dev/null |
    grep -E '^\{"/meshgate' | tail -n 1
}

# l4_stat CMD FIELD: one number from a telemetry dict ("l4 sessions_active", "drops acl_denied").
l4_stat() {
  local j
  j=$(l4_tel "/meshgate/$1")
  [ -n "$j" ] || { echo "?"; return 1; }
  "$L4_PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]][sys.argv[3]])' \
    "$j" "/meshgate/$1" "$2" 2>/dev/null || { echo "?"; return 1; }
}

# l4_field JSON FIELD: one number from a telemetry answer already fetched with l4_tel (one
# dpdk-telemetry.py run instead of one per number).
l4_field() {
  "$L4_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(next(iter(d.values()))[sys.argv[2]])' \
    "$1" "$2" 2>/dev/null || echo "?"
}

# l4_usr1: the SIGUSR1 report (what the data plane printed after the signal).
l4_usr1() {
  local lines
  lines=$(wc -l <"$MG_LOG")
  kill -USR1 "$MG_PID"
  sleep 1
  tail -n +"$((lines + 1))" "$MG_LOG"
}

# l4_cfg_edit PYTHON: runs PYTHON on the running config file as dict `c` (proto3 JSON field
# names), bumps the generation and writes it back atomically. Does not signal.
l4_cfg_edit() {
  "$L4_PY" - "$MG_CONFIG" "$1" <<'EOF'
import json, os, sys
path, code = sys.argv[1], sys.argv[2]
with open(path) as f:
    c = json.load(f)
exec(code)
c["generation"] = str(int(c.get("generation", "0")) + 1)
with open(path + ".tmp", "w") as f:
    json.dump(c, f, indent=2)
os.replace(path + ".tmp", path)
EOF
}

# l4_reload: SIGHUP, then waits (5 s) for the data plane's config.reload.applied/rejected log line.
# Prints that line; returns 0 only for "reloaded".
l4_reload() {
  local before n line _
  before=$(grep -c 'config\.reload\.' "$MG_LOG")
  kill -HUP "$MG_PID" || { echo "data plane not running"; return 1; }
  for _ in $(seq 50); do
    n=$(grep -c 'config\.reload\.' "$MG_LOG")
    if [ "$n" -gt "$before" ]; then
      line=$(grep 'config\.reload\.' "$MG_LOG" | tail -n 1)
      echo "$line"
      [[ $line == *config.reload.applied* ]]
      return
    fi
    sleep 0.1
  done
  echo "no reload line in the log within 5 s of SIGHUP"
  return 1
}

# l4_check_reload WHAT: l4_reload as a check, with the data plane's line in the result.
l4_check_reload() {
  local line
  if line=$(l4_reload); then
    mg_pass "$1: \"$line\""
  else
    mg_fail "$1: \"$line\""
  fi
}

# l4_within VALUE WANT TOL: |VALUE - WANT| <= TOL (decimals).
l4_within() { awk -v v="$1" -v w="$2" -v t="$3" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(d <= t) }'; }
