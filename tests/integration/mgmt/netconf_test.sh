#!/usr/bin/env bash
# NETCONF (RFC 6241 over SSH, RFC 6242) on meshgate-mgmtd in the live lab, driven by a real client
# (python3-ncclient, tests/integration/mgmt/netconf_test.py: capabilities, filters, edit-config +
# validate + commit, confirmed commit that rolls itself back, locks and kill-session, bad input,
# the read-only user). Then what the data plane did with it: the service the NETCONF session added
# ("nc-web", VIP 198.18.50.30) answers through the gateway, the data plane runs mgmtd's
# generation, the rolled-back and rejected edits never reached it, and running is persisted.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/../l4/l4_lib.sh"
# shellcheck source=tests/integration/mgmt/mgmt_lib.sh
source "$(dirname "$0")/mgmt_lib.sh"
mgmt_setup

VIP=198.18.50.30
check "web4 answers through the gateway before any NETCONF session" mgmt_vip_ok
if mgmt_vip_ok "$VIP"; then mg_fail "nc-web ($VIP) answers before it was configured"; else mg_pass "nc-web ($VIP) does not answer yet"; fi

out=$(timeout 180 "$MGMT_PY" "$MG_ROOT/tests/integration/mgmt/netconf_test.py" --host 127.0.0.1 \
  --port "$MGMTD_NETCONF_PORT" --user admin --password adminpw --key "$MGMT_DIR/admin_key" \
  --viewer viewer --viewer-password viewerpw --vip "$VIP" 2>&1)
rc=$?
printf '%s\n' "$out" | mg_indent
nok=$(grep -c '^ok:' <<<"$out")
if [ $rc -eq 0 ] && [ "$nok" -ge 30 ]; then
  mg_pass "ncclient: $nok NETCONF checks passed"
else
  mg_fail "ncclient: exit $rc, $(grep -c '^FAIL:' <<<"$out") checks failed"
fi

# What the commit did to the data plane.
check "nc-web ($VIP), added by edit-config + commit, answers through the gateway" mgmt_vip_ok "$VIP"
state=$(rc_curl GET "/restconf/data/meshgate-config:operational/config-generation")
gen=$(sed -nE 's/.*config-generation": *"?([0-9]+).*/\1/p' <<<"$state" | head -n1)
dp_gen=$(grep '"config.reload.applied"' "$MG_LOG" | tail -n1 | sed -nE 's/.*"generation":([0-9]+).*/\1/p')
hist_last=$(rc_curl POST /restconf/operations/meshgate-config:history | grep -oE '"id": *"?[0-9]+' | grep -oE '[0-9]+$' | sort -n | tail -n1)
if [ -n "$gen" ] && [ "$gen" = "$hist_last" ] && [ "$dp_gen" = "$hist_last" ]; then
  mg_pass "the data plane runs mgmtd's last commit (generation $gen: its log, its state over RESTCONF, mgmtd's history)"
else
  mg_fail "the data plane runs generation '$gen' (state) / '$dp_gen' (log), mgmtd's last commit is '$hist_last'"
  printf '%s\n' "$state" | mg_indent
fi
check "running is persisted with nc-web" grep -q '"nc-web"' "$MGMT_DIR/state/running.json"
check "the audit log names the NETCONF user and transport" grep -q '"user":"admin".*"transport":"netconf"' "$MGMT_DIR/state/audit.log"
check "the unconfirmed commit was rolled back by mgmtd (confirm-timeout in the history)" \
  bash -c "rc_out=\$(curl -sk -u admin:adminpw -X POST https://127.0.0.1:$MGMTD_RESTCONF_PORT/restconf/operations/meshgate-config:history); grep -q confirm-timeout <<<\"\$rc_out\""
check "no edit that failed reached the data plane (no rejected reload logged)" bash -c "! grep -q '\"config.reload.rejected\"' '$MG_LOG'"
check "web4 still answers" mgmt_vip_ok
mg_finish
