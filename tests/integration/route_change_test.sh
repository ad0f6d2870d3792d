#!/usr/bin/env bash
# Static routes change at run time, hitlessly, on the l4_lb lab config with the mgmtd link
# (tests/tools/push_tool) and SIGHUP. 198.18.110.10 is an address of both mg-srv1 and mg-srv2,
# each with an HTTP peer naming its namespace, so the peer that answers shows where the gateway's
# route points:
# - no route: curl fails, ping draws "Destination Net Unreachable" from the gateway, no_route
#   drops are counted;
# - a pushed route via srv1 (198.18.2.2) -> srv1 answers; moved to srv2 (198.18.3.2) -> srv2
#   answers; removed -> unreachable again;
# - a route with a next hop on no subnet of its interface is nacked naming the field;
# - a prepared route change with a fresh gateway pins it in the neighbor table; aborting it
#   unpins it;
# - SIGHUP with a route change in the file works both ways, and drops a snapshot mgmtd prepared
#   against the routes it replaced;
# - a rate-limited 3 MB download through the web4 VIP runs across 10 route changes (among them
#   host routes to its backends and client, so its own packets change next-hop entries) and
#   completes intact on its one connection.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"

# shellcheck source=tests/integration/push_lib.sh
source "$(dirname "$0")/push_lib.sh"
l4_setup l4_lb.json
PUSH_SNAP_SRC=$MG_TMP/config-start.json
cp "$MG_CONFIG" "$MG_TMP/config-start.json"

VIA_SRV1='c["routes"].append({"prefix": "198.18.110.0/24", "nextHop": "198.18.2.2", "interface": "srv1"})'
VIA_SRV2='c["routes"].append({"prefix": "198.18.110.0/24", "nextHop": "198.18.3.2", "interface": "srv2"})'
# Host routes over the same links as the connected subnets, through other next-hop entries: the
# web4 backends and the client (both directions of the download).
HOST_ROUTES='c["routes"] += [
  {"prefix": "198.18.2.10/32", "nextHop": "198.18.2.10", "interface": "srv1"},
  {"prefix": "198.18.2.11/32", "nextHop": "198.18.2.11", "interface": "srv1"},
  {"prefix": "198.18.3.10/32", "nextHop": "198.18.3.10", "interface": "srv2"},
  {"prefix": "198.18.1.2/32", "nextHop": "198.18.1.2", "interface": "client"}]'

TARGET=$(l4_url 198.18.110.10 8080 /)

# check_get WHAT URL NAME_REGEX: one GET answered by a peer named NAME_REGEX.
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

# check_no_route WHAT: the target is unreachable: curl fails, ping draws net unreachable from the
# gateway, and the no_route drop counter grows.
check_no_route() {
  local before after body
  before=$(l4_stat drops no_route)
  if body=$(l4_get mg-client "$TARGET" --max-time 2 2>&1); then
    mg_fail "$1: $TARGET answered '$body'"
  else
    mg_pass "$1: $TARGET does not answer"
  fi
  check_ping_error mg-client 198.18.110.10 "$1: ping" 'From 198\.18\.1\.1 .*Destination Net Unreachable' -c 2 -i 0.2
  after=$(l4_stat drops no_route)
  check "$1: no_route drops counted ($before -> $after)" test "$after" -gt "$before"
}

l4_backend mg-srv1 198.18.2.10 b1
l4_backend mg-srv1 198.18.2.11 b2
l4_backend mg-srv2 198.18.3.10 b3
l4_backend mg-srv1 198.18.110.10 r-srv1
l4_backend mg-srv2 198.18.110.10 r-srv2
l4_warm mg-client 198.18.2.10 198.18.2.11 198.18.3.10
[ -S "$MG_SOCK" ] || mg_die "no socket at $MG_SOCK"

echo "== no route to 198.18.110.0/24 at start"
check_no_route "before any route"

echo "== a pushed route via srv1"
check "push generation 2 (198.18.110.0/24 via 198.18.2.2 on srv1)" push prepare-activate "$(snap 2 "$VIA_SRV1")"
check_status "2 mgmtd" "after the route push"
check "the log says config.routes.applied" grep -qE '"event":"config\.routes\.applied".*"generation":2' "$MG_LOG"
check_get "route via srv1" "$TARGET" r-srv1
check_ping mg-client 198.18.110.10 "ping via srv1"
check_get "VIP after the route change" "$(l4_url 198.18.50.1 80 /)" 'b1|b2|b3'

echo "== the route moved to srv2"
check "push generation 3 (via 198.18.3.2 on srv2)" push prepare-activate "$(snap 3 "$VIA_SRV2")"
check_get "route via srv2" "$TARGET" r-srv2
check_ping mg-client 198.18.110.10 "ping via srv2"

echo "== the route removed"
check "push generation 4 (no route)" push prepare-activate "$(snap 4 '')"
check_no_route "after the removal"

echo "== route changes the data plane refuses, or that are aborted"
bad=$(snap 5 'c["routes"].append({"prefix": "198.18.110.0/24", "nextHop": "198.18.9.9", "interface": "srv2"})')
check_nack "a next hop off the interface's subnets" 'routes\[2\]\.nextHop: .*198\.18\.9\.9.* is not on a subnet' \
  prepare-activate "$bad"
check_status "4 mgmtd" "the nack changed nothing"
fresh=$(snap 6 'c["routes"].append({"prefix": "198.18.110.0/24", "nextHop": "198.18.3.77", "interface": "srv2"})')
check "prepare generation 6 (via 198.18.3.77, a gateway nobody uses yet)" push prepare "$fresh" 6
check "the prepared route's gateway is pinned (SIGUSR1 lists it)" grep -q 'neighbor srv2 198\.18\.3\.77 ' <<<"$(l4_usr1)"
check_no_route "while generation 6 is only prepared"
check "abort generation 6" push abort 6
# shellcheck disable=SC2317 # called through check
not_listed() { ! grep -q 'neighbor srv2 198\.18\.3\.77 ' <<<"$1"; }
check "the aborted route's gateway is unpinned (SIGUSR1 no longer lists it)" not_listed "$(l4_usr1)"
check_status "4 mgmtd" "the abort changed nothing"

echo "== SIGHUP with a route change"
check "prepare generation 7 (the running routes)" push prepare "$(snap 7 '')" 7
l4_cfg_edit "$VIA_SRV2"
l4_check_reload "SIGHUP adding the route via srv2"
check "the snapshot prepared against the old routes is dropped (config.prepare.dropped)" \
  grep -qE '"event":"config\.prepare\.dropped".*"dropped_generation":7' "$MG_LOG"
check_nack "activate 7 after the routes changed under it" 'no prepared snapshot with generation 7' activate 7
check_get "route via srv2 after SIGHUP" "$TARGET" r-srv2
l4_cfg_edit 'c["routes"][-1] = {"prefix": "198.18.110.0/24", "nextHop": "198.18.2.2", "interface": "srv1"}'
l4_check_reload "SIGHUP moving it to srv1"
check_get "route via srv1 after SIGHUP" "$TARGET" r-srv1

echo "== a slow download through a VIP across 10 route changes"
# 3 MB at 120 kB/s: about 25 s, one TCP connection through web4 (198.18.50.1:80).
nsx mg-client curl -sS --max-time 90 --limit-rate 120k -o /dev/null -w '%{size_download} %{num_connects}' \
  "$(l4_url 198.18.50.1 80 /bytes/3000000)" >"$MG_TMP/slow.out" 2>&1 &
slow=$!
sleep 1
ok=0
answered=0
t0=$SECONDS
for i in $(seq 1 10); do
  gen=$((100 + i))
  case $((i % 3)) in
    1) code="$VIA_SRV1"$'\n'"$HOST_ROUTES" want=r-srv1 ;;
    2) code="$VIA_SRV2" want=r-srv2 ;;
    0) code="$HOST_ROUTES" want="" ;;
  esac
  push prepare-activate "$(snap "$gen" "$code")" >>"$MG_TMP/cycles.log" 2>&1 && ok=$((ok + 1))
  body=$(l4_get mg-client "$TARGET" --max-time 2 2>/dev/null)
  if [ -n "$want" ] && [ "${body%% *}" = "$want" ]; then
    answered=$((answered + 1))
  elif [ -z "$want" ] && [ -z "$body" ]; then
    answered=$((answered + 1))
  else
    echo "cycle $i: want '${want:-no answer}', got '$body'" >>"$MG_TMP/cycles.log"
  fi
  sleep 0.5
done
check "10 route changes acked ($ok, in $((SECONDS - t0)) s)" test "$ok" = 10
check "after each change the target answered from where the route pointed ($answered of 10)" test "$answered" = 10
mg_say "timings: $(grep -o 'activate_us=[0-9]*' "$MG_TMP/cycles.log" | cut -d= -f2 | sort -n | tail -n 1) us slowest activate," \
  "$(grep -o 'prepare_us=[0-9]*' "$MG_TMP/cycles.log" | cut -d= -f2 | sort -n | tail -n 1) us slowest prepare"
check "the download was still running after the changes" kill -0 "$slow"
wait "$slow"
rc=$?
read -r got conns <"$MG_TMP/slow.out"
check "the download completed on its one connection (exit $rc, $got bytes, $conns connection)" \
  test "$rc" = 0 -a "$got" = 3000000 -a "$conns" = 1
check_status "110 mgmtd" "after the changes"
check_get "VIP after the changes" "$(l4_url 198.18.50.1 80 /)" 'b1|b2|b3'
# shellcheck disable=SC2317 # called through check
no_error_lines() { ! grep -q '"level":"error"' "$MG_LOG"; }
check "no error-level line in the log" no_error_lines
check "data plane alive" mg_dataplane_alive

mg_stop_dataplane TERM 10
check "stopped cleanly (exit $MG_STOP_RC)" test "$MG_STOP_RC" = 0
rm -rf "$MG_SOCK_DIR"

mg_finish
