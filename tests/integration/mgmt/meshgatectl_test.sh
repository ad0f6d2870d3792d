#!/usr/bin/env bash
# meshgatectl against meshgate-mgmtd's RESTCONF API in the live lab (mgmt_lib.sh): `show config`
# tables (interfaces, routes, services with backends, SNAT pools, taps) and --json (parsed by
# python3); `show state`; set/delete on the candidate, diff, validate, commit (checked through
# the new VIP), history, rollback, discard; a confirmed commit confirmed by the saved persist id
# and one cancelled; certificate checking (--cacert passes, no CA fails, --insecure passes);
# errors exit 1 with "error: <path>: <message>" on stderr; the read-only user cannot commit.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/../l4/l4_lib.sh"
# shellcheck source=tests/integration/mgmt/mgmt_lib.sh
source "$(dirname "$0")/mgmt_lib.sh"
[ -x "$MESHGATECTL" ] || mg_skip "no meshgatectl at $MESHGATECTL"
mgmt_setup python3

export HOME=$MG_TMP/home # ~/.meshgatectl (the saved persist id) stays in the test's directory
mkdir -p "$HOME"
export MESHGATE_SERVER=https://127.0.0.1:$MGMTD_RESTCONF_PORT
export MESHGATE_USER=admin MESHGATE_PASSWORD=adminpw

ctl() { "$MESHGATECTL" --cacert "$MGMT_DIR/tls.crt" "$@"; }

# run_ctl ARGS...: sets OUT, ERR and RC.
run_ctl() {
  OUT=$(ctl "$@" 2>"$MG_TMP/ctl.err")
  RC=$?
  ERR=$(cat "$MG_TMP/ctl.err")
}

# ok LABEL ARGS...: meshgatectl ARGS exits 0.
ok() {
  local label=$1
  shift
  run_ctl "$@"
  if [ "$RC" = 0 ]; then mg_pass "$label"; else mg_fail "$label: exit $RC: $ERR"; fi
}

# shellcheck disable=SC2317 # called through check
has() { grep -qE "$2" <<<"$1"; }

# shellcheck disable=SC2317 # called through check
vip_answers() {
  local vip=$1 want=${2:-1} _
  for _ in $(seq 25); do
    if mgmt_vip_ok "$vip"; then [ "$want" = 1 ] && return 0; else [ "$want" = 0 ] && return 0; fi
    sleep 0.2
  done
  return 1
}

echo "== show"
ok "show config" show config
check "interfaces table" has "$OUT" '^Interfaces'
check "interface srv1 row" has "$OUT" 'srv1 +net_af_packet1'
check "routes table" has "$OUT" '198\.18\.100\.0/24 +198\.18\.2\.2 +srv1'
check "services table with backends" has "$OUT" 'web4 +198\.18\.50\.10 +tcp +80 .*198\.18\.2\.2:8080'
check "second backend row" has "$OUT" '198\.18\.3\.2:8080'
check "snat pools table" has "$OUT" 'srv-egress'
check "taps table" has "$OUT" 'vip-web'
ok "show config --json" --json show config
check "--json is RFC 7951 JSON" "$MGMT_PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ietf-restconf:data"]["meshgate-config:meshgate"]["service"][0]["name"] == "web4"' "$OUT"
ok "show config PATH" --json show config service=web4/backend=198.18.2.2,8080
check "PATH selects the backend" "$MGMT_PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["meshgate-config:backend"][0]["port"] == 8080' "$OUT"
ok "show config route=PREFIX (slash in the key)" --json show config route=198.18.100.0/24/next-hop
check "route next-hop" has "$OUT" '198\.18\.2\.2'
ok "show state" show state
check "state: interfaces with counters" has "$OUT" 'RX-PKTS'
check "state: services with backends" has "$OUT" 'web4'

echo "== certificates"
out=$("$MESHGATECTL" show config 2>&1)
check "no CA: the handshake fails" test $? = 1
check "no CA: says so" has "$out" '^error: TLS handshake'
check "--insecure works" "$MESHGATECTL" --insecure show config

echo "== set / diff / commit"
ok "set a whole service (JSON)" set service=web7 \
  '{"vip":"198.18.50.40","protocol":"tcp","port":80,"backend":[{"address":"198.18.2.2","port":8080}]}'
ok "set a leaf" set service=web7/backend=198.18.2.2,8080/weight 3
ok "show candidate" show candidate
check "candidate has web7" has "$OUT" 'web7 +198\.18\.50\.40'
ok "diff" diff
check "diff names web7" has "$OUT" "service\[name='web7'\]/vip"
check "diff has the weight" has "$OUT" "weight = 3"
ok "validate" validate
check "not yet running" vip_answers 198.18.50.40 0
ok "commit with comment" commit comment "add web7"
check "web7 answers" vip_answers 198.18.50.40
ok "history" history
check "history has the commit" has "$OUT" 'admin +restconf +commit +add web7'
gen_web7=$(awk '$NF == "web7" && $(NF-1) == "add" { print $1 }' <<<"$OUT" | tail -n1)
ok "set on an existing leaf merges" set service=web7/port 8080
ok "discard" discard
ok "diff after discard is empty" diff
check "empty diff" test -z "$OUT"

echo "== delete / rollback"
ok "delete" delete service=web7
ok "commit the delete" commit
check "web7 gone" vip_answers 198.18.50.40 0
ok "rollback to the commit that added web7" rollback "$gen_web7"
check "web7 back after rollback" vip_answers 198.18.50.40

echo "== confirmed commit"
ok "delete web7 again" delete service=web7
ok "confirmed commit" commit confirmed 60
check "prints the persist id" has "$OUT" 'persist-id restconf-'
check "persist id saved" grep -q '^persist-id ' "$HOME/.meshgatectl"
check "web7 gone while pending" vip_answers 198.18.50.40 0
ok "cancel" cancel
check "cancel rolled back (web7 answers)" vip_answers 198.18.50.40
ok "discard after cancel" discard
ok "delete web7 once more" delete service=web7
ok "confirmed commit 2" commit confirmed 60
ok "confirm" confirm
check "persist id cleared after confirm" test ! -s "$HOME/.meshgatectl"
sleep 1
check "confirmed delete stays" vip_answers 198.18.50.40 0

echo "== errors"
run_ctl set service=web4/port 70000
check "bad value: exit 1" test "$RC" = 1
check "bad value: error: <path>: <message>" has "$ERR" '^error: /meshgate-config:meshgate/service.*port.*: .*70000'
run_ctl delete service=nosuch
check "delete of a missing entry: exit 1" test "$RC" = 1
check "delete of a missing entry: names it" has "$ERR" "^error: .*service\[name='nosuch'\]"
run_ctl show config nosuch
check "unknown path: exit 1" test "$RC" = 1
run_ctl rollback 999999
check "unknown rollback id: exit 1" test "$RC" = 1
out=$(MESHGATE_USER=viewer MESHGATE_PASSWORD=viewerpw ctl commit 2>&1)
check "read-only user: commit refused" test $? = 1
check "read-only user: access denied message" has "$out" 'read-only'
out=$(MESHGATE_PASSWORD=nope ctl show config 2>&1)
check "bad password: exit 1" test $? = 1
check "bad password: authentication required" has "$out" 'authentication required'

mg_finish
