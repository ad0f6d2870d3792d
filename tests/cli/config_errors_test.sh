#!/usr/bin/env bash
# What an operator sees when the data plane is given a bad config: one line naming the field,
# exit status 1, nothing started. Runs the real binary (--check, and a full start for the checks
# that need EAL). Ends with "N passed, N failed".
set -uo pipefail
BIN=${MESHGATE_DATAPLANE:?set MESHGATE_DATAPLANE}
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
LAB=$ROOT/deploy/lab/meshgate-lab.json
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0 failed=0

# expect_error NAME EXPECTED_SUBSTRING BIN_ARGS...: exit 1 and stderr containing the substring.
expect_error() {
  local name=$1 want=$2
  shift 2
  local err rc
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -eq 1 ] && grep -qF -- "$want" <<<"$err"; then
    passed=$((passed + 1))
    echo "PASS: $name: $(grep -F -- "$want" <<<"$err" | head -n1)"
  else
    failed=$((failed + 1))
    echo "FAIL: $name: exit $rc, wanted a line with: $want"
    sed 's/^/      /' <<<"$err"
  fi
}

# bad_config NAME SED_EXPR: the lab config with one edit.
bad_config() { sed -e "$2" "$LAB" >"$TMP/$1.json"; echo "$TMP/$1.json"; }

if out=$("$BIN" -- --config "$LAB" --check 2>&1); then
  passed=$((passed + 1)); echo "PASS: lab config is valid: $out"
else
  failed=$((failed + 1)); echo "FAIL: lab config rejected: $out"
fi

expect_error "bad address" 'config rejected: '"$TMP"'/addr.json: interfaces[0].ipv4Addresses[0]: "198.18.1.300/24" is not an IPv4 address' \
  "$BIN" -- --config "$(bad_config addr 's|198.18.1.1/24|198.18.1.300/24|')" --check
expect_error "route to an unknown interface" 'routes[0].interface: "nowhere" names no interface' \
  "$BIN" -- --config "$(bad_config iface '0,/"interface": "srv1"/s//"interface": "nowhere"/')" --check
expect_error "next hop off the interface's subnets" 'routes[1].nextHop: "fd00:3::2" is not on a subnet of interface "srv1"' \
  "$BIN" -- --config "$(bad_config nh 's|"nextHop": "fd00:2::2"|"nextHop": "fd00:3::2"|')" --check
expect_error "IPv6 MTU below 1280" 'interfaces[2].mtu: 1200 is below 1280' \
  "$BIN" -- --config "$(bad_config mtu 's|"mtu": 1280|"mtu": 1200|')" --check
expect_error "unknown field" 'not a valid Snapshot in proto3 JSON' \
  "$BIN" -- --config "$(bad_config field 's|"generation"|"generashun"|')" --check
expect_error "missing file" 'config rejected: /nonexistent/meshgate.json: cannot be read' \
  "$BIN" -- --config /nonexistent/meshgate.json --check
expect_error "no --config" '--config FILE is required' "$BIN" --
expect_error "unknown option" 'unknown option "--frobnicate"' "$BIN" -- --config "$LAB" --frobnicate

# Checks that need EAL: a worker lcore EAL was not given, a device that cannot be probed.
eal=(--no-pci --no-huge -m 256 --no-shconf --file-prefix "mgcli$$" -l 0 --log-level='*:error')
expect_error "worker lcore not enabled in EAL" 'config rejected: workers.lcores[0]: lcore 1 is not a worker lcore enabled in EAL' \
  "$BIN" "${eal[@]}" -- --config "$LAB"
cat >"$TMP/dev.json" <<'JSON'
{ "interfaces": [ { "name": "x", "device": "net_nosuchpmd0", "ipv4Addresses": ["198.18.1.1/24"] } ] }
JSON
expect_error "device that cannot be probed" 'interfaces[0].device: cannot probe "net_nosuchpmd0"' \
  "$BIN" --no-pci --no-huge -m 256 --no-shconf --file-prefix "mgcli2$$" -l 0,1 --log-level='*:error' -- --config "$TMP/dev.json"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
