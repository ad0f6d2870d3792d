#!/usr/bin/env bash
# meshgate lab: three network namespaces acting as hosts around the DPDK gateway.
#
#   lab.sh up       create (or re-create) the lab; idempotent, tears down leftovers first
#   lab.sh down     remove everything; never fails if nothing is there
#   lab.sh status   show the lab; exit 0 if it is complete, 1 otherwise
#
# Topology (one veth pair per host; matches deploy/lab/meshgate-lab.json):
#
#   root namespace                       namespace (host)
#   mg-client  (DPDK af_packet port) <-> eth0 in mg-client  198.18.1.2/24 fd00:1::2/64
#   mg-srv1    (DPDK af_packet port) <-> eth0 in mg-srv1    198.18.2.2/24 fd00:2::2/64
#                                                           lo: 198.18.100.1/32 fd00:100::1/128
#   mg-srv2    (DPDK af_packet port) <-> eth0 in mg-srv2    198.18.3.2/24 fd00:3::2/64
#
# The srv2 link has MTU 1280 on both ends (the gateway's srv2 port is configured with mtu 1280;
# a veth drops frames larger than the receiving end's MTU, so the host end must match).
#
# The gateway (meshgate-dataplane) owns .1 / ::1 of each subnet; each host routes by default
# through it. The root-side ends carry no addresses and have IPv6 disabled, so the root
# namespace's kernel neither sends on them nor forwards what arrives on them.
set -euo pipefail

# name  v4-host        v6-host      v4-gw        v6-gw
HOSTS=(
  "mg-client 198.18.1.2/24 fd00:1::2/64 198.18.1.1 fd00:1::1"
  "mg-srv1   198.18.2.2/24 fd00:2::2/64 198.18.2.1 fd00:2::1"
  "mg-srv2   198.18.3.2/24 fd00:3::2/64 198.18.3.1 fd00:3::1"
)
# Extra addresses on srv1's loopback (the lab config routes 198.18.100.0/24 and fd00:100::/64 to it).
SRV1_LO_V4=198.18.100.1/32
SRV1_LO_V6=fd00:100::1/128
SRV2_MTU=1280

OFFLOADS=(tx off tso off gso off gro off)

log() { echo "lab: $*"; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "lab: must run as root" >&2
    exit 1
  fi
}

# Write a sysctl under /proc/sys directly (interface names may contain characters sysctl(8) treats specially).
set_sysctl() { # path value
  if [ -w "/proc/sys/$1" ]; then
    echo "$2" >"/proc/sys/$1"
  else
    echo "lab: warning: cannot set /proc/sys/$1" >&2
  fi
}

quiet_offloads() { # [ip netns exec NS] IF
  # Not every veth feature can be toggled on every kernel; ethtool exits non-zero then, which is fine.
  "$@" "${OFFLOADS[@]}" >/dev/null 2>&1 || true
}

lab_down() {
  local entry ns
  for entry in "${HOSTS[@]}"; do
    read -r ns _ <<<"$entry"
    # Deleting the root-side end removes its peer too (synchronously, unlike netns deletion).
    ip link del "$ns" >/dev/null 2>&1 || true
    ip link del "${ns}-ns" >/dev/null 2>&1 || true   # temporary peer name, if an up was interrupted
    ip netns del "$ns" >/dev/null 2>&1 || true
  done
}

lab_up() {
  lab_down
  local entry ns v4 v6 gw4 gw6 tmp
  for entry in "${HOSTS[@]}"; do
    read -r ns v4 v6 gw4 gw6 <<<"$entry"
    tmp="${ns}-ns"
    ip netns add "$ns"
    ip link add "$ns" type veth peer name "$tmp"

    # Root-side end: the DPDK af_packet port. Keep the kernel silent and passive on it
    # (set before the link comes up, so not even a router solicitation goes out).
    set_sysctl "net/ipv6/conf/$ns/disable_ipv6" 1
    set_sysctl "net/ipv4/conf/$ns/forwarding" 0
    set_sysctl "net/ipv4/conf/$ns/arp_ignore" 8
    ip link set "$ns" arp off
    quiet_offloads ethtool -K "$ns"
    ip link set "$ns" up

    # Host end: move into the namespace and name it eth0 there.
    ip link set "$tmp" netns "$ns"
    ip -n "$ns" link set "$tmp" name eth0
    # No router advertisements expected; no DAD delay on the link-local address either.
    ip netns exec "$ns" sh -c 'echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_ra;
                               echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad' 2>/dev/null || true
    quiet_offloads ip netns exec "$ns" ethtool -K eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$v4" dev eth0
    ip -n "$ns" -6 addr add "$v6" dev eth0 nodad
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$gw4" dev eth0
    ip -n "$ns" -6 route add default via "$gw6" dev eth0
    log "$ns: eth0 $v4 $v6, default via $gw4 / $gw6; root-side end $ns"
  done
  ip link set mg-srv2 mtu "$SRV2_MTU"
  ip -n mg-srv2 link set eth0 mtu "$SRV2_MTU"
  log "mg-srv2: link mtu $SRV2_MTU on both ends"
  ip -n mg-srv1 addr add "$SRV1_LO_V4" dev lo
  ip -n mg-srv1 -6 addr add "$SRV1_LO_V6" dev lo
  log "mg-srv1: lo $SRV1_LO_V4 $SRV1_LO_V6"
  log "up"
}

lab_status() {
  local entry ns ok=0
  for entry in "${HOSTS[@]}"; do
    read -r ns _ <<<"$entry"
    if ip netns list | grep -qw "^$ns"; then
      echo "== namespace $ns"
      ip -n "$ns" -br addr show 2>/dev/null | sed 's/^/   /'
      ip -n "$ns" route show default 2>/dev/null | sed 's/^/   v4 /'
      ip -n "$ns" -6 route show default 2>/dev/null | sed 's/^/   v6 /'
    else
      echo "== namespace $ns: missing"
      ok=1
    fi
    if ip link show "$ns" >/dev/null 2>&1; then
      echo "   root-side end: $(ip -br link show "$ns")"
    else
      echo "   root-side end $ns: missing"
      ok=1
    fi
  done
  if [ "$ok" -eq 0 ]; then echo "lab: up"; else echo "lab: not (fully) up"; fi
  return "$ok"
}

case "${1:-}" in
  up) need_root; lab_up ;;
  down) need_root; lab_down; log "down" ;;
  status) lab_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
