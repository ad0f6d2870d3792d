#!/usr/bin/env bash
# A second kind of port: net_tap. The data plane creates two tap interfaces, which move into two
# namespaces as hosts; pings in both families cross the gateway between them.
# shellcheck source=tests/integration/lib.sh
MG_TAPCFG=$(mktemp /tmp/meshgate-tap.XXXXXX.json)
cat >"$MG_TAPCFG" <<'JSON'
{ "workers": { "lcores": [1] },
  "interfaces": [
    { "name": "tap-a", "device": "net_tap0,iface=mg-tapa", "mac": "02:00:00:00:aa:01",
      "ipv4Addresses": ["198.18.9.1/24"], "ipv6Addresses": ["fd00:9::1/64"] },
    { "name": "tap-b", "device": "net_tap1,iface=mg-tapb", "mac": "02:00:00:00:bb:01",
      "ipv4Addresses": ["198.18.10.1/24"], "ipv6Addresses": ["fd00:10::1/64"] } ] }
JSON
export MESHGATE_CONFIG=$MG_TAPCFG
source "$(dirname "$0")/lib.sh"

tap_cleanup() {
  ip netns del mg-tapa 2>/dev/null
  ip netns del mg-tapb 2>/dev/null
  rm -f "$MG_TAPCFG"
  mg_cleanup
}

[ "$(id -u)" -eq 0 ] || mg_skip "needs root (namespaces, tap)"
[ -x "$MESHGATE_DATAPLANE" ] || mg_skip "no data plane binary at $MESHGATE_DATAPLANE"
[ -e /dev/net/tun ] || mg_skip "no /dev/net/tun"
mkdir -p /run/lock
exec 9>/run/lock/meshgate-lab.lock
flock -w 300 9 || { echo "could not lock the lab"; exit 1; }
MG_TMP=$(mktemp -d "/tmp/meshgate-$MG_TEST.XXXXXX")
trap tap_cleanup EXIT
trap 'exit 1' INT TERM
mg_start_dataplane

# host NS IFACE V4 V6 GW4 GW6: move the tap into its own namespace as a dual-stack host.
host() {
  ip netns add "$1" || mg_die "cannot create namespace $1"
  ip link set "$2" netns "$1" || mg_die "cannot move $2 into $1"
  nsx "$1" ip link set lo up
  nsx "$1" ip link set "$2" address "$7"
  nsx "$1" ip link set "$2" up
  nsx "$1" ip addr add "$3" dev "$2"
  nsx "$1" ip -6 addr add "$4" dev "$2" nodad
  nsx "$1" ip route add default via "$5"
  nsx "$1" ip -6 route add default via "$6"
}
host mg-tapa mg-tapa 198.18.9.2/24 fd00:9::2/64 198.18.9.1 fd00:9::1 02:00:00:00:aa:02
host mg-tapb mg-tapb 198.18.10.2/24 fd00:10::2/64 198.18.10.1 fd00:10::1 02:00:00:00:bb:02

check "data plane runs on two net_tap ports" grep -q '2 interfaces on 2 ports' "$MG_LOG"
check_ping mg-tapa 198.18.10.2 "tap-a host -> tap-b host v4"
check_ping mg-tapa fd00:10::2 "tap-a host -> tap-b host v6"
check_ping mg-tapb 198.18.9.1 "tap-b host -> the gateway's far address v4"
check_ping_error mg-tapa 198.18.10.2 "TTL 1 -> time exceeded from 198.18.9.1" \
  '^From 198\.18\.9\.1 .*Time to live exceeded' -t 1 -c 1

mg_finish
