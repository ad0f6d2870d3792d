#!/usr/bin/env bash
# Reachability through the gateway: routed pings between the lab hosts (v4 and v6), the static
# routes to srv1's loopback prefixes, and pings to the gateway's own addresses.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mg_setup

echo "== routed, client -> servers"
check_ping mg-client 198.18.2.2 "client -> srv1 198.18.2.2"
check_ping mg-client fd00:2::2 "client -> srv1 fd00:2::2"
check_ping mg-client 198.18.3.2 "client -> srv2 198.18.3.2"
check_ping mg-client fd00:3::2 "client -> srv2 fd00:3::2"

echo "== static routes (198.18.100.0/24, fd00:100::/64 via srv1)"
check_ping mg-client 198.18.100.1 "client -> 198.18.100.1 (srv1 lo)"
check_ping mg-client fd00:100::1 "client -> fd00:100::1 (srv1 lo)"

echo "== the gateway's own addresses"
check_ping mg-client 198.18.1.1 "client -> gateway 198.18.1.1"
check_ping mg-client fd00:1::1 "client -> gateway fd00:1::1"
check_ping mg-client 198.18.2.1 "client -> gateway far side 198.18.2.1"
check_ping mg-client fd00:2::1 "client -> gateway far side fd00:2::1"

echo "== routed, srv1 -> srv2"
check_ping mg-srv1 198.18.3.2 "srv1 -> srv2 198.18.3.2"
check_ping mg-srv1 fd00:3::2 "srv1 -> srv2 fd00:3::2"

mg_finish
