#!/usr/bin/env bash
# The meshgate YANG model (mgmt/yang) against yanglint: the module compiles with no warnings, the
# lab configuration validates, and bad instances are rejected with an error naming the path.
set -uo pipefail

root=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
yang="$root/mgmt/yang"
module="$yang/meshgate-config.yang"
ex="$yang/examples"

if ! command -v yanglint >/dev/null 2>&1; then
  echo "yanglint not found (apt-get install libyang2-tools); skipping"
  exit 77
fi

passed=0
failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/    /'; failed=$((failed + 1)); }

# The module itself: exit 0 and nothing at all on stdout or stderr (warnings count as failure).
out=$(yanglint "$module" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "module compiles with no warnings"; else bad "module compiles with no warnings" "rc=$rc $out"; fi

# Good instances: accepted, with no output.
good() {  # name type files...
  local name=$1 type=$2
  shift 2
  local out rc
  out=$(yanglint -t "$type" -m "$module" "$@" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "$name"; else bad "$name" "rc=$rc $out"; fi
}
good "lab-l4 config (deploy/lab/meshgate-lab-l4.json) validates" config "$ex/lab-l4.json"
good "full config (every container and list, a tcp-proxy service) validates" config "$ex/full.json"
good "operational state validates as data beside the config" data "$ex/lab-l4.json" "$ex/operational.json"

# Bad instances: rejected, and the error names the offending node's path and says why.
reject() {  # name type file path-substring message-substring
  local name=$1 type=$2 file=$3 path=$4 msg=$5
  local out rc
  out=$(yanglint -t "$type" "$module" "$file" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then
    bad "$name" "accepted, expected an error at $path"
  elif [[ "$out" != *"Data location \"$path"* && "$out" != *"Schema location \"$path"* ]]; then
    bad "$name" "error does not name $path: $out"
  elif [[ "$out" != *"$msg"* ]]; then
    bad "$name" "error does not say \"$msg\": $out"
  else
    ok "$name"
  fi
}
mg=/meshgate-config:meshgate
reject "route to a missing interface: leafref error" config "$ex/bad-route-interface.json" \
  "$mg/route[prefix='198.18.100.0/24']/interface" 'Invalid leafref value "srv9"'
reject "firewall rule on a missing interface: leafref error" config "$ex/bad-rule-interface.json" \
  "$mg/firewall/rule[name='from-x']/in-interface" 'Invalid leafref value "nowhere"'
reject "IPv6 backend of an IPv4 VIP in dnat mode: must violation" config "$ex/bad-backend-family-dnat.json" \
  "$mg/service[name='web4']/backend[address='fd00:3::2'][port='8080']/address" "NAT46/NAT64 needs mode full-nat"
reject "port range with lower > upper" config "$ex/bad-port-range.json" \
  "$mg/firewall/rule[name='web-in']/destination-port/upper-port" "the upper port is below the lower port"
reject "unknown enum value" config "$ex/bad-enum.json" \
  "$mg/tap[name='vip-web']/direction" 'Invalid enumeration value "sideways"'
reject "tap with neither directory nor mirror collector" config "$ex/bad-tap-no-output.json" \
  "$mg/tap[name='vip-web']" "neither a directory"
reject "UDP timeout above a week" config "$ex/bad-timeout.json" \
  "$mg/flows/udp-timeout" "out of the allowed range"
reject "SNAT pool of fewer than 64 ports" config "$ex/bad-snat-ports.json" \
  "$mg/snat-pool[name='srv-egress']/port-max" "fewer than 64 ports"
reject "IPv4 prefix length 33" config "$ex/bad-prefix-length.json" \
  "$mg/route/prefix" '"198.18.100.0/33"'
reject "tcp-proxy over UDP: must violation on mode" config "$ex/bad-tcp-proxy-udp.json" \
  "$mg/service[name='proxy-udp']/mode" "mode tcp-proxy needs protocol tcp"
reject "tcp-proxy settings on a full-nat service: when violation" config "$ex/bad-tcp-proxy-not-proxy.json" \
  "$mg/service[name='web6']/tcp-proxy" "When condition \"../mode = 'tcp-proxy'\" not satisfied"
reject "tcp-proxy min-mss below 64" config "$ex/bad-tcp-proxy-mss.json" \
  "$mg/service[name='web4']/tcp-proxy/min-mss" "out of the allowed range"
reject "state data refused in a config datastore" config "$ex/operational.json" \
  "/meshgate-config:operational" "Unexpected data state node"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
