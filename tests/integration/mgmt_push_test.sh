#!/usr/bin/env bash
# The mgmtd link (--mgmt-socket; policy/proto/meshgate/config/v1/push.proto) driven by
# tests/tools/push_tool on the l4_lb lab config: a pushed snapshot adds a service (a new VIP
# answers); a snapshot failing validation, one changing interfaces and one with generation 0 are
# nacked with the reason naming the field and change nothing; prepare then abort changes nothing;
# GetState is RFC 7951 JSON with the services and backends (yanglint against the model, when
# installed); a slow download through a VIP survives 20 prepare/activate cycles; garbage frames,
# a 2^31 length, a truncated frame, a client leaving mid-request and a second concurrent client
# each close that connection with a log line and leave the link and the traffic working.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"

# shellcheck source=tests/integration/push_lib.sh
source "$(dirname "$0")/push_lib.sh"
l4_setup l4_lb.json

ADD_WEB9='c["services"].append({"name": "web9", "vip": "198.18.50.9", "protocol": "tcp", "port": 80,
  "backends": [{"address": "198.18.2.10", "port": 8080}, {"address": "198.18.3.10", "port": 8080}]})'

# check_get WHAT URL NAME_REGEX: one GET through a VIP answered by a backend named NAME_REGEX.
check_get() {
  local body rc
  body=$(l4_get mg-client "$2" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && [[ ${body%% *} =~ ^($3)$ ]]; then
    mg_pass "$1: $2 answered by ${body%% *}"
  else
    mg_fail "$1: $2: curl exit $rc, answer '$body'"
  fi
}

log_count() { grep -c "$1" "$MG_LOG"; }

# web4 (198.18.50.1:80) balances over b1, b2, b3; web9 (pushed) over b1 and b3.
l4_backend mg-srv1 198.18.2.10 b1
l4_backend mg-srv1 198.18.2.11 b2
l4_backend mg-srv2 198.18.3.10 b3
l4_warm mg-client 198.18.2.10 198.18.2.11 198.18.3.10
[ -S "$MG_SOCK" ] || mg_die "no socket at $MG_SOCK"
check "socket mode 0660" test "$(stat -c %a "$MG_SOCK")" = 660

echo "== status at start"
check_status "1 file" "before any push"

echo "== a snapshot adding a service"
s2=$(snap 2 "$ADD_WEB9")
check "prepare-activate generation 2 (adds web9 at 198.18.50.9)" push prepare-activate "$s2"
check_status "2 mgmtd" "after the push"
check "the log says config.reload.applied with source mgmtd" \
  grep -qE '"event":"config\.reload\.applied".*"generation":2.*"source":"mgmtd"' "$MG_LOG"
check_get "new VIP" "$(l4_url 198.18.50.9 80 /)" 'b1|b3'
check_get "existing VIP" "$(l4_url 198.18.50.1 80 /)" 'b1|b2|b3'

echo "== snapshots the data plane refuses"
bad=$(snap 3 "$ADD_WEB9"'
c["services"][-1]["port"] = 70000')
check_nack "a service port out of range" 'services\[8\]\.port: 70000 is not in 1\.\.65535' prepare-activate "$bad"
check_status "2 mgmtd" "nack changed nothing"
check "the log says config.reload.rejected with the field" \
  grep -qE '"event":"config\.reload\.rejected".*services\[8\]\.port.*"source":"mgmtd"' "$MG_LOG"
check_get "VIP after the nack" "$(l4_url 198.18.50.9 80 /)" 'b1|b3'
ifc=$(snap 4 "$ADD_WEB9"'
c["interfaces"][2]["mtu"] = 1400')
check_nack "an interface change" 'interfaces: changing interfaces needs a restart' prepare-activate "$ifc"
zero=$(snap 0 "$ADD_WEB9")
check_nack "generation 0" 'generation: a pushed snapshot needs a generation above 0' prepare "$zero" 0
check_nack "activate of a generation never prepared" 'no prepared snapshot with generation 77' activate 77
check_status "2 mgmtd" "still generation 2"

echo "== prepare, then abort"
s5=$(snap 5 '')  # without web9
check "prepare generation 5 (drops web9)" push prepare "$s5" 5
check_get "web9 still there while 5 is only prepared" "$(l4_url 198.18.50.9 80 /)" 'b1|b3'
check "abort generation 5" push abort 5
check_nack "activate 5 after the abort" 'no prepared snapshot with generation 5' activate 5
check_status "2 mgmtd" "abort changed nothing"
check_get "web9 after the abort" "$(l4_url 198.18.50.9 80 /)" 'b1|b3'

echo "== state"
push state >"$MG_TMP/state.json" 2>"$MG_TMP/state.err"
check "GetState acked" test -s "$MG_TMP/state.json"
check "state holds web9 with its backends, counter64 as strings" "$L4_PY" - "$MG_TMP/state.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["meshgate-config:operational"]
assert d["config-generation"] == "2", d["config-generation"]
svc = {s["name"]: s for s in d["service"]}
web9 = svc["web9"]
assert web9["backends"] == 2, web9
got = sorted((b["address"], b["port"]) for b in web9["backend"])
assert got == [("198.18.2.10", 8080), ("198.18.3.10", 8080)], got
assert all(isinstance(b["connections"], str) for b in web9["backend"])
assert int(sum(int(b["connections"]) for b in web9["backend"])) >= 3
assert {i["name"] for i in d["interface"]} == {"client", "srv1", "srv2"}, d["interface"]
r = d["config-reloads"]  # 1 applied; 5 nacks (port, interfaces, generation 0, activate 77, activate 5)
assert r["applied"] == "1" and r["rejected"] == "5" and r["last-success"] is False, r
PY
if command -v yanglint >/dev/null 2>&1; then
  check "state validates against meshgate-config.yang (beside the lab config)" \
    yanglint -t data -m -p "$MG_ROOT/mgmt/yang" "$MG_ROOT/mgmt/yang/meshgate-config.yang" \
    "$MG_ROOT/mgmt/yang/examples/lab-l4.json" "$MG_TMP/state.json"
else
  mg_say "no yanglint: state not checked against the model"
fi

echo "== a slow download through a VIP across 20 prepare/activate cycles"
cycles_start=$(log_count 'config\.reload\.applied')
# 3 MB at 120 kB/s: about 25 s, one TCP connection through web4 (198.18.50.1:80); the cycles
# take a few seconds.
nsx mg-client curl -sS --max-time 90 --limit-rate 120k -o /dev/null -w '%{size_download}' \
  "$(l4_url 198.18.50.1 80 /bytes/3000000)" >"$MG_TMP/slow.out" 2>&1 &
slow=$!
sleep 1
ok=0
t0=$SECONDS
for i in $(seq 1 20); do
  gen=$((100 + i))
  if ((i % 2)); then f=$(snap "$gen" ''); else f=$(snap "$gen" "$ADD_WEB9"); fi
  push prepare-activate "$f" >>"$MG_TMP/cycles.log" 2>&1 && ok=$((ok + 1))
done
check "20 prepare/activate cycles acked ($ok, in $((SECONDS - t0)) s)" test "$ok" = 20
mg_say "timings: $(grep -o 'activate_us=[0-9]*' "$MG_TMP/cycles.log" | cut -d= -f2 | sort -n | tail -n 1) us slowest activate," \
  "$(grep -o 'prepare_us=[0-9]*' "$MG_TMP/cycles.log" | cut -d= -f2 | sort -n | tail -n 1) us slowest prepare"
check "20 config.reload.applied lines" test "$(log_count 'config\.reload\.applied')" = $((cycles_start + 20))
check "the download was still running after the cycles" kill -0 "$slow"
wait "$slow"
rc=$?
check "the download completed on its one connection (exit $rc, $(cat "$MG_TMP/slow.out") bytes)" \
  test "$rc" = 0 -a "$(cat "$MG_TMP/slow.out")" = 3000000
check_status "120 mgmtd" "after the cycles"

echo "== a robust socket"
# raw PYTHON: runs PYTHON with `s` a connected socket and `frame(bytes)` (length + bytes).
raw() {
  "$L4_PY" - "$MG_SOCK" "$1" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
def frame(b):
    return struct.pack(">I", len(b)) + b
exec(sys.argv[2])
PY
}
# closed_by_dp PYTHON: after PYTHON, the data plane closes the connection (recv gets EOF).
# shellcheck disable=SC2317 # called through check
closed_by_dp() {
  raw "$1"'
s.settimeout(5)
try:
    left = s.recv(65536)
except ConnectionResetError:
    left = b""
sys.exit(0 if left == b"" else 1)'
}
# check_robust WHAT LOGEVENT PYTHON
check_robust() {
  local before
  before=$(log_count "$2")
  check "$1: connection closed" closed_by_dp "$3"
  sleep 0.2
  check "$1: log line $2" test "$(log_count "$2")" -gt "$before"
  check "$1: the link still answers" push status
}
check_robust "garbage frame" mgmt.bad_request 's.sendall(frame(b"\xff" * 64))'
check_robust "length 2^31" mgmt.bad_frame 's.sendall(b"\x80\x00\x00\x00" + b"x" * 100)'
check_robust "truncated frame" mgmt.bad_frame 's.sendall(struct.pack(">I", 1000) + b"y" * 10); s.shutdown(socket.SHUT_WR)'
check_robust "request naming no operation" mgmt.bad_request 's.sendall(frame(b"\x08\x05"))'
sleep 0.3 # the previous client's disconnect line is written
before=$(log_count 'mgmt\.disconnected\|mgmt\.write_failed\|mgmt\.bad_frame')
# A status request, and the client gone before the answer.
"$L4_PY" - "$MG_SOCK" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(struct.pack(">I", 4) + bytes([0x08, 0x01, 0x2a, 0x00]))  # id 1, status
s.close()
PY
sleep 0.5
check "client leaving mid-request: log line" test "$(log_count 'mgmt\.disconnected\|mgmt\.write_failed\|mgmt\.bad_frame')" -gt "$before"
check "client leaving mid-request: the link still answers" push status
before=$(log_count mgmt.refused)
raw 'time.sleep(2)' &
holder=$!
sleep 0.5
# shellcheck disable=SC2317 # called through check
check_nack_second() { ! push status >/dev/null 2>&1; }
check "a second concurrent client is refused" check_nack_second
wait "$holder"
check "the refusal is logged" test "$(log_count mgmt.refused)" -gt "$before"
check "after the first client left, the link answers" push status
check_get "traffic after the socket abuse" "$(l4_url 198.18.50.1 80 /)" 'b1|b2|b3'
check "data plane alive" mg_dataplane_alive

mg_stop_dataplane TERM 10
check "stopped cleanly (exit $MG_STOP_RC)" test "$MG_STOP_RC" = 0
check "the socket file is removed at exit" test ! -e "$MG_SOCK"
rm -rf "$MG_SOCK_DIR"

mg_finish
