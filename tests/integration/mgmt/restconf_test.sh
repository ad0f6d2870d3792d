#!/usr/bin/env bash
# RESTCONF (RFC 8040) on meshgate-mgmtd against the live lab (tests/integration/mgmt/mgmt_lib.sh):
# the discovery resources; GET of the datastore and of list entries by RFC 8040 key encoding; PUT,
# POST, PATCH and DELETE of a service and a backend on /restconf/data, each committed at once and
# checked through the new VIP from the client namespace; the candidate resource with the
# operations (diff, validate, commit, history, rollback, confirmed commit with persist id, cancel,
# discard); and the errors: 401 without credentials, 403 for the read-only user (running
# unchanged), 400 malformed-message and 400 invalid-value naming the path, 404, 405, 409, 413.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/../l4/l4_lib.sh"
# shellcheck source=tests/integration/mgmt/mgmt_lib.sh
source "$(dirname "$0")/mgmt_lib.sh"
mgmt_setup python3

BASE=https://127.0.0.1:$MGMTD_RESTCONF_PORT
DATA=/restconf/data/meshgate-config:meshgate
CAND=/restconf/ds/ietf-datastores:candidate/meshgate-config:meshgate
OPS=/restconf/operations/meshgate-config

# rc METHOD PATH [BODY]: sets RC_BODY and RC_STATUS (admin unless RC_USER is set).
rc() {
  local out
  out=$(rc_curl "$@")
  RC_STATUS=$(tail -n1 <<<"$out" | sed -n 's/^HTTP //p')
  RC_BODY=$(sed '$d' <<<"$out")
}

# expect LABEL STATUS: RC_STATUS must be STATUS.
expect() {
  if [ "$RC_STATUS" = "$2" ]; then
    mg_pass "$1: HTTP $2"
  else
    mg_fail "$1: HTTP $RC_STATUS, want $2: $RC_BODY"
  fi
}

# jq_py EXPR: evaluates a Python expression on the JSON RC_BODY (as `d`); prints the result.
jq_py() { "$MGMT_PY" -c "import json,sys; d=json.load(sys.stdin); print($1)" <<<"$RC_BODY" 2>&1; }

# expect_error LABEL STATUS TAG [PATH_SUBSTRING]: an RFC 8040 errors document.
expect_error() {
  local label=$1 st=$2 tag=$3 path=${4-} got_tag got_path
  got_tag=$(jq_py 'd["ietf-restconf:errors"]["error"][0]["error-tag"]')
  got_path=$(jq_py 'd["ietf-restconf:errors"]["error"][0].get("error-path","") + " " + d["ietf-restconf:errors"]["error"][0].get("error-message","")')
  if [ "$RC_STATUS" = "$st" ] && [ "$got_tag" = "$tag" ] && [[ -z $path || $got_path == *"$path"* ]]; then
    mg_pass "$label: HTTP $st $tag${path:+ naming $path}"
  else
    mg_fail "$label: HTTP $RC_STATUS tag '$got_tag' ($got_path), want $st $tag${path:+ naming $path}: $RC_BODY"
  fi
}

# vip_answers VIP [want=1]: a GET through the VIP answers (or, want=0, stops answering) within 5 s.
# shellcheck disable=SC2317 # called through check
vip_answers() {
  local vip=$1 want=${2:-1} _
  for _ in $(seq 25); do
    if mgmt_vip_ok "$vip"; then [ "$want" = 1 ] && return 0; else [ "$want" = 0 ] && return 0; fi
    sleep 0.2
  done
  return 1
}

running() { rc GET "$DATA?content=config"; RUNNING=$RC_BODY; }

echo "== discovery"
host_meta=$(curl -sk --max-time 10 "$BASE/.well-known/host-meta")
check "host-meta names /restconf" grep -q "rel='restconf' href='/restconf'" <<<"$host_meta"
rc GET /restconf
expect "GET /restconf" 200
check "root lists data and operations" test "$(jq_py '"data" in d["ietf-restconf:restconf"] and "operations" in d["ietf-restconf:restconf"]')" = True
rc GET /restconf/yang-library-version
check "yang-library-version" test "$(jq_py 'd["ietf-restconf:yang-library-version"]')" = 2019-01-04

echo "== authentication"
out=$(curl -sk --max-time 10 -D - -o /dev/null "$BASE/restconf/data")
check "no credentials: 401 with WWW-Authenticate: Basic" grep -qi '^WWW-Authenticate: Basic' <<<"$out"
check "no credentials: status 401" grep -q '^HTTP/1.1 401' <<<"$out"
RC_USER=admin:wrong rc GET /restconf/data
expect "wrong password" 401
out=$(curl -sk --max-time 10 --tls-max 1.1 -u admin:adminpw -o /dev/null -w '%{http_code}' "$BASE/restconf" 2>&1)
check "TLS 1.1 refused" test "$out" = 000

echo "== GET"
rc GET /restconf/data
expect "GET the datastore" 200
check "datastore holds config and state" test "$(jq_py '"meshgate-config:meshgate" in d["ietf-restconf:data"] and "meshgate-config:operational" in d["ietf-restconf:data"]')" = True
rc GET "/restconf/data?content=config"
check "content=config has no state" test "$(jq_py '"meshgate-config:operational" in d["ietf-restconf:data"]')" = False
rc GET "/restconf/data?content=nonconfig"
check "content=nonconfig has no config" test "$(jq_py '"meshgate-config:meshgate" in d["ietf-restconf:data"]')" = False
rc GET "$DATA/service=web4"
check "GET service=web4" test "$(jq_py 'd["meshgate-config:service"][0]["vip"]')" = 198.18.50.10
rc GET "$DATA/service=web4/backend=198.18.2.2,8080"
check "GET a backend by its two keys" test "$(jq_py 'd["meshgate-config:backend"][0]["port"]')" = 8080
rc GET "$DATA/route=198.18.100.0%2F24/next-hop"
check "GET with a percent-encoded '/' in the key" test "$(jq_py 'd["meshgate-config:next-hop"]')" = 198.18.2.2
rc GET "$DATA/service=web4/health-check/rise?with-defaults=report-all"
check "with-defaults=report-all shows a default" test "$(jq_py 'd["meshgate-config:rise"]')" = 2
rc GET "$DATA/service=web4?depth=1"
check "depth=1 leaves out the backends" test "$(jq_py '"backend" in d["meshgate-config:service"][0]')" = False
rc GET "$DATA/service=nosuch"
expect_error "missing list entry" 404 invalid-value "service[name='nosuch']"
rc GET "$DATA/no-such-node"
expect "unknown resource" 404
rc GET "/restconf/nothing"
expect "unknown RESTCONF resource" 404

echo "== writes on /restconf/data (committed at once)"
check "web9's VIP does not answer yet" vip_answers 198.18.50.20 0
rc PUT "$DATA/service=web9" '{"meshgate-config:service":[{"name":"web9","vip":"198.18.50.20","protocol":"tcp","port":80,"backend":[{"address":"198.18.2.2","port":8080}]}]}'
expect "PUT a new service" 201
check "the new VIP answers through the data plane" vip_answers 198.18.50.20
rc PUT "$DATA/service=web9" '{"meshgate-config:service":[{"name":"web9","vip":"198.18.50.20","protocol":"tcp","port":80,"backend":[{"address":"198.18.3.2","port":8080}]}]}'
expect "PUT replaces the service" 204
rc GET "$DATA/service=web9"
check "PUT replaced the backend list" test "$(jq_py '[b["address"] for b in d["meshgate-config:service"][0]["backend"]]')" = "['198.18.3.2']"
rc POST "$DATA/service=web9" '{"meshgate-config:backend":[{"address":"198.18.2.2","port":8080}]}'
expect "POST a backend" 201
loc=$(curl -sk --max-time 10 -u admin:adminpw -X POST -D - -o /dev/null -H 'Content-Type: application/yang-data+json' \
  --data-binary '{"meshgate-config:backend":[{"address":"198.18.2.2","port":8081}]}' "$BASE$DATA/service=web9" | tr -d '\r' | sed -n 's/^Location: //ip')
check "POST answers a Location of the new entry" test "$loc" = "$DATA/service=web9/backend=198.18.2.2,8081"
rc POST "$DATA/service=web9" '{"meshgate-config:backend":[{"address":"198.18.2.2","port":8080}]}'
expect_error "POST of an existing backend" 409 data-exists
rc PATCH "$DATA/service=web9/backend=198.18.2.2,8080" '{"meshgate-config:backend":[{"weight":5}]}'
expect "PATCH (merge) a backend" 204
rc GET "$DATA/service=web9/backend=198.18.2.2,8080/weight"
check "PATCH took" test "$(jq_py 'd["meshgate-config:weight"]')" = 5
rc PATCH "$DATA/service=web9/backend=198.18.9.9,8080" '{"meshgate-config:backend":[{"weight":5}]}'
expect "PATCH of a missing entry" 404
rc DELETE "$DATA/service=web9/backend=198.18.2.2,8081"
expect "DELETE a backend" 204
rc DELETE "$DATA/service=web9/backend=198.18.2.2,8081"
expect_error "DELETE of a missing backend" 404 data-missing
rc GET "$DATA/service=web9"
check "web9 has backends 198.18.2.2 and 198.18.3.2" test "$(jq_py 'sorted(b["address"] for b in d["meshgate-config:service"][0]["backend"])')" = "['198.18.2.2', '198.18.3.2']"
check "the VIP still answers" vip_answers 198.18.50.20
rc DELETE "$DATA/service=web9"
expect "DELETE the service" 204
check "the VIP stops answering" vip_answers 198.18.50.20 0

echo "== errors leave running unchanged"
running
before=$RUNNING
rc PUT "$DATA/service=web4/port" '{"meshgate-config:port": 80'
expect_error "malformed JSON" 400 malformed-message
rc PUT "$DATA/service=web4/port" '{"meshgate-config:port": 70000}'
expect_error "schema violation" 400 invalid-value "port"
rc PUT "$DATA/service=web4/backend=198.18.2.2,8080/weight" '{"meshgate-config:weight": 0}'
expect_error "out-of-range weight" 400 invalid-value "weight"
rc PUT "$DATA/service=web4" '{"meshgate-config:service":[{"name":"web4","vip":"198.18.50.10","protocol":"tcp","port":80,"backend":[{"address":"198.18.2.2","port":8080}],"maglev-table-size":5}]}'
expect_error "model constraint (must)" 400 invalid-value "maglev-table-size"
rc PUT "$DATA/service=web4" '{"meshgate-config:service":[{"name":"other","vip":"198.18.50.10","protocol":"tcp","port":80}]}'
expect_error "body key differs from the URI" 400 invalid-value
rc PUT "$DATA/service=web4/nosuch" '{"meshgate-config:nosuch": 1}'
expect "write to an unknown resource" 404
RC_USER=viewer:viewerpw rc GET "$DATA/service=web4"
expect "read-only user may read" 200
RC_USER=viewer:viewerpw rc PUT "$DATA/service=web4/port" '{"meshgate-config:port": 81}'
expect_error "read-only user PUT" 403 access-denied
RC_USER=viewer:viewerpw rc DELETE "$DATA/service=web4"
expect_error "read-only user DELETE" 403 access-denied
RC_USER=viewer:viewerpw rc POST "$OPS:commit"
expect_error "read-only user commit" 403 access-denied
rc DELETE /restconf
expect "method not allowed" 405
big=$MG_TMP/big.json
head -c 5000000 /dev/zero | tr '\0' ' ' >"$big"
code=$(curl -sk --max-time 30 -u admin:adminpw -X PUT -H 'Content-Type: application/yang-data+json' \
  --data-binary @"$big" -o "$MG_TMP/big.out" -w '%{http_code}' "$BASE$DATA/service=web4/port")
check "oversized body: 413" test "$code" = 413
check "oversized body: too-big error" grep -q '"error-tag":"too-big"' "$MG_TMP/big.out"
running
check "running unchanged after the refused writes" test "$RUNNING" = "$before"
check "web4 still answers" vip_answers 198.18.50.10

echo "== candidate and operations"
rc POST "$OPS:history"
gen0=$(jq_py 'd["meshgate-config:output"]["running-generation"]')
rc PUT "$CAND/service=web8" '{"meshgate-config:service":[{"name":"web8","vip":"198.18.50.30","protocol":"tcp","port":80,"backend":[{"address":"198.18.3.2","port":8080}]}]}'
expect "PUT on the candidate" 201
rc GET "$CAND/service=web8"
expect "GET from the candidate" 200
rc GET "$DATA/service=web8"
expect "running does not have it yet" 404
check "the VIP does not answer before commit" vip_answers 198.18.50.30 0
rc POST "$OPS:diff"
check "diff shows web8" grep -q "service\[name='web8'\]" <<<"$(jq_py 'd["meshgate-config:output"]["diff"]')"
rc POST "$OPS:validate"
expect "validate" 204
rc POST "$OPS:commit" '{"meshgate-config:input":{"comment":"add web8"}}'
expect "commit" 204
check "the VIP answers after commit" vip_answers 198.18.50.30
rc POST "$OPS:history"
check "history records the commit by admin over restconf" test "$(jq_py '[(e["user"],e["transport"],e.get("comment")) for e in d["meshgate-config:output"]["entry"]][-1]')" = "('admin', 'restconf', 'add web8')"
rc POST "$OPS:rollback" "{\"meshgate-config:input\":{\"id\":\"$gen0\"}}"
expect "rollback to the generation before" 204
check "web8 gone after rollback" vip_answers 198.18.50.30 0
rc POST "$OPS:rollback" '{"meshgate-config:input":{"id":"99999"}}'
check "rollback to an unknown id fails" test "${RC_STATUS:0:1}" = 4

# Confirmed commit: the request's session ends at once, so the server holds it by a persist id.
rc PUT "$CAND/service=web8" '{"meshgate-config:service":[{"name":"web8","vip":"198.18.50.30","protocol":"tcp","port":80,"backend":[{"address":"198.18.3.2","port":8080}]}]}'
rc POST "$OPS:commit" '{"meshgate-config:input":{"confirmed":true,"confirm-timeout":60}}'
expect "confirmed commit" 200
pid=$(jq_py 'd["meshgate-config:output"]["persist-id"]')
check "confirmed commit returns a persist-id" test -n "$pid"
sleep 1
check "the confirmed commit survives its request" vip_answers 198.18.50.30
rc POST "$OPS:cancel-commit" "{\"meshgate-config:input\":{\"persist-id\":\"$pid\"}}"
expect "cancel-commit with the persist-id" 204
check "cancel rolled web8 back" vip_answers 198.18.50.30 0
rc PUT "$CAND/service=web8" '{"meshgate-config:service":[{"name":"web8","vip":"198.18.50.30","protocol":"tcp","port":80,"backend":[{"address":"198.18.3.2","port":8080}]}]}'
rc POST "$OPS:commit" '{"meshgate-config:input":{"confirmed":true,"confirm-timeout":60,"persist":"it-1"}}'
check "confirmed commit with the client's persist id" test "$(jq_py 'd["meshgate-config:output"]["persist-id"]')" = it-1
rc POST "$OPS:commit"
expect_error "plain commit while a persisted confirmed commit is pending" 400 invalid-value
rc POST "$OPS:commit" '{"meshgate-config:input":{"persist-id":"it-1"}}'
expect "confirm with persist-id" 204
rc POST "$OPS:history"
check "no confirmed commit pending after confirm" test "$(jq_py 'd["meshgate-config:output"]["confirmed-commit-pending"]')" = False
check "web8 stays after confirm" vip_answers 198.18.50.30
rc PUT "$CAND/service=web8/port" '{"meshgate-config:port": 8088}'
rc POST "$OPS:discard-changes"
expect "discard-changes" 204
rc GET "$CAND/service=web8/port"
check "discard restored the candidate" test "$(jq_py 'd["meshgate-config:port"]')" = 80
rc POST "$OPS:commit" '{"meshgate-config:input":{"bogus":1}}'
expect_error "unknown operation input" 400 invalid-value bogus
rc POST "$OPS:nosuch"
expect "unknown operation" 404
rc GET "$OPS:commit"
expect "GET on an operation" 405
rc DELETE "$DATA/service=web8"
expect "clean up web8" 204

mg_finish
