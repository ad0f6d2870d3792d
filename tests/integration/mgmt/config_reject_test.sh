#!/usr/bin/env bash
# Bad config through mgmtd is answered with an error naming the path, and changes nothing: not
# mgmtd's running config, not its persisted file or history, not the data plane (generation,
# traffic). Cases: a change the data plane refuses at prepare (an interface's MTU: needs a
# restart), overlapping subnets (the data plane's rules, checked in mgmtd before any push), a
# route to a missing interface (leafref), an invalid prefix and an out-of-range port (YANG),
# malformed JSON, an oversized body, and the same refusal for a candidate commit over NETCONF.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/../l4/l4_lib.sh"
# shellcheck source=tests/integration/mgmt/mgmt_lib.sh
source "$(dirname "$0")/mgmt_lib.sh"
mgmt_setup

DATA=/restconf/data/meshgate-config:meshgate
applied() { grep -c '"config.reload.applied"' "$MG_LOG"; }
snapshot_state() {
  RUN_SUM=$(sha256sum "$MGMT_DIR/state/running.json" | cut -c1-64)
  HIST_N=$(wc -l <"$MGMT_DIR/state/history.jsonl")
  APPLIED=$(applied)
}
unchanged() { # LABEL
  local label=$1 sum hist n
  sum=$(sha256sum "$MGMT_DIR/state/running.json" | cut -c1-64)
  hist=$(wc -l <"$MGMT_DIR/state/history.jsonl")
  n=$(applied)
  if [ "$sum" = "$RUN_SUM" ] && [ "$hist" = "$HIST_N" ] && [ "$n" = "$APPLIED" ]; then
    mg_pass "$label: running.json, history and the data plane unchanged"
  else
    mg_fail "$label: something changed (running.json same: $([ "$sum" = "$RUN_SUM" ] && echo yes || echo no), history $HIST_N -> $hist, data plane applies $APPLIED -> $n)"
  fi
  check "$label: web4 still answers through the gateway" mgmt_vip_ok
}
# expect_rc LABEL STATUS TAG TEXT METHOD PATH BODY: the RESTCONF error has this status, error-tag,
# and TEXT somewhere in its path or message.
expect_rc() {
  local label=$1 status=$2 tag=$3 text=$4 out
  shift 4
  out=$(rc_curl "$@")
  if grep -q "^HTTP $status\$" <<<"$out" && grep -q "\"error-tag\": *\"$tag\"" <<<"$out" && grep -qF -- "$text" <<<"$out"; then
    mg_pass "$label: $status $tag naming $text"
  else
    mg_fail "$label: expected $status $tag naming $text"
    printf '%s\n' "$out" | head -n 20 | mg_indent
  fi
}

snapshot_state
check "the data plane runs mgmtd's config" mgmt_vip_ok

expect_rc "MTU change (the data plane nacks at prepare)" 500 operation-failed "needs a restart" \
  PATCH "$DATA/interface=srv2" '{"meshgate-config:interface":[{"name":"srv2","mtu":1400}]}'
check "the data plane logged its refusal" grep -q '"config.reload.rejected".*interfaces: changing interfaces needs a restart' "$MG_LOG"
unchanged "data plane nack"

expect_rc "overlapping subnets (the data plane's rules, in mgmtd)" 400 invalid-value "interface[name='srv2']" \
  POST "$DATA/interface=srv2" '{"meshgate-config:ipv4-address":[{"ip":"198.18.1.200","prefix-length":24}]}'
unchanged "overlapping subnets"

expect_rc "route to a missing interface (leafref)" 409 data-missing "/interface" \
  POST "$DATA" '{"meshgate-config:route":[{"prefix":"10.9.0.0/16","next-hop":"198.18.2.9","interface":"nope"}]}'
unchanged "leafref"

expect_rc "invalid prefix" 400 invalid-value "prefix" \
  POST "$DATA" '{"meshgate-config:route":[{"prefix":"10.9.0.0/33","next-hop":"198.18.2.9","interface":"srv1"}]}'
expect_rc "port out of range" 400 invalid-value "port" \
  PATCH "$DATA/service=web4" '{"meshgate-config:service":[{"name":"web4","port":70000}]}'
expect_rc "malformed JSON" 400 malformed-message "" \
  PATCH "$DATA/service=web4" '{"meshgate-config:service":[{"name":"web4",'
{ printf '{"meshgate-config:service":[{"name":"web4"}]'; head -c 5000000 /dev/zero | tr '\0' ' '; printf '}'; } >"$MG_TMP/big.json"
expect_rc "a 5 MB body" 413 too-big "" PATCH "$DATA/service=web4" "@$MG_TMP/big.json"
unchanged "schema violations, malformed and oversized input"

# The same data plane refusal for a candidate committed over NETCONF.
out=$(timeout 60 "$MGMT_PY" - "$MGMTD_NETCONF_PORT" <<'PY' 2>&1
import sys
from ncclient import manager
from ncclient.operations.rpc import RPCError
m = manager.connect(host="127.0.0.1", port=int(sys.argv[1]), username="admin", password="adminpw",
                    hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=30)
m.edit_config(target="candidate", config='<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><meshgate xmlns="urn:meshgate:config"><interface>'
              '<name>srv1</name><mtu>1400</mtu></interface></meshgate></config>')
try:
    m.commit()
    print("commit accepted")
except RPCError as e:
    print("rpc-error tag=%s message=%s" % (e.tag, e.message))
m.discard_changes()
m.close_session()
PY
)
if grep -q "rpc-error tag=operation-failed message=.*needs a restart" <<<"$out"; then
  mg_pass "NETCONF commit the data plane refuses: rpc-error operation-failed with its reason"
else
  mg_fail "NETCONF commit the data plane refuses"
  printf '%s\n' "$out" | mg_indent
fi
unchanged "NETCONF commit refused by the data plane"
mg_finish
