# shellcheck shell=bash
# The management lab: the data plane (deploy/lab/meshgate-lab-l4.json, with its unix socket)
# plus meshgate-mgmtd (initial config mgmt/yang/examples/lab-l4.json, the same gateway in the YANG
# model), HTTP backends on srv1 and srv2. Source after lib.sh and l4/l4_lib.sh:
#
#   source "$(dirname "$0")/../lib.sh"
#   source "$(dirname "$0")/../l4/l4_lib.sh"
#   source "$(dirname "$0")/mgmt_lib.sh"
#   mgmt_setup [tools...]     # lab + data plane + backends + mgmtd; waits for its first push
#
# Then: MGMT_DIR (keys, cert, settings, mgmtd state and log), MGMTD_NETCONF_PORT,
# MGMTD_RESTCONF_PORT, MGMT_SOCKET; users admin/adminpw (admin, also SSH key $MGMT_DIR/admin_key)
# and viewer/viewerpw (read-only); rc_curl METHOD PATH [BODY] (admin), mgmt_vip_ok (GET through
# the web4 VIP), mgmt_stop_mgmtd [SIGNAL], mgmt_start_mgmtd, mgmt_dp_generation.

MESHGATE_MGMTD=${MESHGATE_MGMTD:-$MG_ROOT/build/mgmt/meshgate-mgmtd}
MESHGATECTL=${MESHGATECTL:-$MG_ROOT/build/mgmt/restconf/meshgatectl}
MESHGATE_PUSH_TOOL=${MESHGATE_PUSH_TOOL:-$MG_ROOT/build/tests/push_tool}
MGMTD_NETCONF_PORT=${MGMTD_NETCONF_PORT:-18830}
MGMTD_RESTCONF_PORT=${MGMTD_RESTCONF_PORT:-18443}
MGMT_DIR=""
MGMT_SOCKET=""
MGMTD_PID=""
MGMTD_LOG=""
MGMT_PY=/usr/bin/python3

# The data plane listens on its mgmt socket (lib.sh passes MG_DP_EXTRA_ARGS).
eval "mgmt_l4_start_dataplane() $(declare -f mg_start_dataplane | tail -n +2)"
mg_start_dataplane() {
  MGMT_SOCKET=$MG_TMP/dataplane.sock
  MG_DP_EXTRA_ARGS="--mgmt-socket $MGMT_SOCKET"
  mgmt_l4_start_dataplane
  trap mgmt_exit EXIT
}

mgmt_exit() {
  local rc=$?
  mgmt_stop_mgmtd TERM
  if [ "$MG_FAILED" -gt 0 ] && [ -n "$MGMTD_LOG" ] && [ -s "$MGMTD_LOG" ]; then
    echo "---- mgmtd log (last 30 lines of $MGMTD_LOG) ----"
    tail -n 30 "$MGMTD_LOG"
    echo "----"
  fi
  (exit "$rc")
  l4_exit
}

mgmtd_alive() { [ -n "$MGMTD_PID" ] && kill -0 "$MGMTD_PID" 2>/dev/null; }

# Keys, certificate, users and the settings file (all under $MG_TMP/mgmt).
mgmt_write_settings() {
  MGMT_DIR=$MG_TMP/mgmt
  mkdir -p "$MGMT_DIR/state"
  ssh-keygen -q -t ed25519 -N '' -f "$MGMT_DIR/host_key" >/dev/null || mg_die "ssh-keygen (host key) failed"
  ssh-keygen -q -t ed25519 -N '' -f "$MGMT_DIR/admin_key" >/dev/null || mg_die "ssh-keygen (admin key) failed"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=meshgate-mgmtd \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$MGMT_DIR/tls.key" -out "$MGMT_DIR/tls.crt" >/dev/null 2>&1 || mg_die "openssl req failed"
  local admin_hash viewer_hash admin_pub
  admin_hash=$(openssl passwd -6 adminpw)
  viewer_hash=$(openssl passwd -6 viewerpw)
  admin_pub=$(cat "$MGMT_DIR/admin_key.pub")
  cat >"$MGMT_DIR/settings.json" <<JSON
{
  "stateDir": "$MGMT_DIR/state",
  "yangDir": "$MG_ROOT/mgmt/yang",
  "initialConfig": "$MG_ROOT/mgmt/yang/examples/lab-l4.json",
  "dataplaneSocket": "$MGMT_SOCKET",
  "netconf": {"address": "127.0.0.1", "port": $MGMTD_NETCONF_PORT, "hostKey": "$MGMT_DIR/host_key"},
  "restconf": {"address": "127.0.0.1", "port": $MGMTD_RESTCONF_PORT,
               "certificate": "$MGMT_DIR/tls.crt", "privateKey": "$MGMT_DIR/tls.key"},
  "users": [
    {"name": "admin", "passwordHash": "$admin_hash", "sshAuthorizedKeys": ["$admin_pub"], "role": "admin"},
    {"name": "viewer", "passwordHash": "$viewer_hash", "role": "read-only"}
  ]
}
JSON
}

# mgmt_start_mgmtd: starts mgmtd and waits for "mgmtd.running".
mgmt_start_mgmtd() {
  MGMTD_LOG=$MGMT_DIR/mgmtd.log
  "$MESHGATE_MGMTD" --settings "$MGMT_DIR/settings.json" >>"$MGMTD_LOG" 2>&1 </dev/null 9>&- &
  MGMTD_PID=$!
  local _
  for _ in $(seq 150); do
    if grep -q '"mgmtd.running"' "$MGMTD_LOG" 2>/dev/null && [ "$(grep -c '"mgmtd.running"' "$MGMTD_LOG")" -ge "${MGMT_STARTS:-1}" ]; then
      return 0
    fi
    mgmtd_alive || { cat "$MGMTD_LOG"; mg_die "meshgate-mgmtd exited at start"; }
    sleep 0.1
  done
  cat "$MGMTD_LOG"
  mg_die "meshgate-mgmtd did not log mgmtd.running within 15 s"
}

# mgmt_stop_mgmtd [SIGNAL]
mgmt_stop_mgmtd() {
  local sig=${1:-TERM}
  [ -n "$MGMTD_PID" ] || return 0
  kill -s "$sig" "$MGMTD_PID" 2>/dev/null
  local _
  for _ in $(seq 100); do mgmtd_alive || break; sleep 0.1; done
  mgmtd_alive && kill -9 "$MGMTD_PID" 2>/dev/null
  wait "$MGMTD_PID" 2>/dev/null
  MGMTD_PID=""
}

# The data plane's running generation and config source, e.g. "2 mgmtd", from push_tool status:
# only while mgmtd is down (the socket serves one client, and mgmtd keeps its connection).
mgmt_dp_generation() {
  "$MESHGATE_PUSH_TOOL" "$MGMT_SOCKET" status 2>/dev/null | sed -nE 's/.*generation[ =:]+([0-9]+).*source[ =:]+"?([a-z]+).*/\1 \2/p' | head -n1
}

# mgmt_wait_pushed: until the data plane runs a config pushed by mgmtd (10 s).
mgmt_wait_pushed() {
  local _
  for _ in $(seq 100); do
    grep -q '"config.reload.applied".*"source":"mgmtd"' "$MG_LOG" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# rc_curl METHOD PATH [BODY]: RESTCONF as admin (RC_USER=user:password for another); BODY "@FILE"
# sends a file. Prints the body, then a line "HTTP <status>".
rc_curl() {
  local method=$1 path=$2 body=${3-}
  local args=(-sk -u "${RC_USER:-admin:adminpw}" -X "$method" -H 'Accept: application/yang-data+json'
    -w '\nHTTP %{http_code}\n' "https://127.0.0.1:$MGMTD_RESTCONF_PORT$path")
  if [ -n "$body" ]; then
    args+=(-H 'Content-Type: application/yang-data+json' --data-binary "$body")
  fi
  curl --max-time 30 "${args[@]}"
}

# mgmt_vip_ok [VIP]: one GET through a service VIP from the client namespace answers (web4 default).
mgmt_vip_ok() {
  local vip=${1:-198.18.50.10} url
  url=$(l4_url "$vip" 80 /id)
  nsx mg-client curl -s --max-time 3 -o /dev/null -w '%{http_code}' "$url" | grep -q 200
}

mgmt_setup() {
  L4_SRC_CONFIG=$MG_ROOT/deploy/lab/meshgate-lab-l4.json
  [ -x "$MESHGATE_MGMTD" ] || mg_skip "no mgmtd binary at $MESHGATE_MGMTD"
  mg_setup "$L4_PY" curl ssh-keygen openssl "$@"
  l4_http mg-srv1 198.18.2.2 srv1
  l4_http mg-srv2 198.18.3.2 srv2
  l4_http mg-srv1 fd00:2::2 srv1v6
  l4_http mg-srv2 fd00:3::2 srv2v6
  mgmt_write_settings
  mgmt_start_mgmtd
  mgmt_wait_pushed || mg_die "mgmtd did not push its running config to the data plane within 10 s"
  mg_say "mgmtd running (NETCONF :$MGMTD_NETCONF_PORT, RESTCONF :$MGMTD_RESTCONF_PORT), running config pushed"
}
