#!/usr/bin/env bash
# L4 services with two workers (tests/integration/l4/l4_multiworker.json): every port has two
# af_packet queues (kernel fanout), so a connection's packets to the VIP and the backend's
# replies to the gateway's NAT address often reach different workers. NAT source ports are
# partitioned (port % workers) and a reply on the wrong worker is handed to the owner: every
# full-NAT connection (IPv4, IPv6, NAT46) must work, and no hand-off may overflow. The same for
# tcp-proxy services: a client's connection stays on the worker its packets reach, and that
# worker's backend connection uses a source port it owns, so the backend's replies are handed to
# it when they reach the other worker.
export MG_EAL_CORES="--lcores 0@0,1@1,2@1"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/l4/l4_lib.sh
source "$(dirname "$0")/l4/l4_lib.sh"
l4_setup l4_multiworker.json dpdk-telemetry.py

check "data plane started two workers" grep -q '2 workers' "$MG_LOG"
l4_backend mg-srv1 198.18.2.10 b1
l4_backend mg-srv1 198.18.2.11 b2
l4_backend mg-srv2 198.18.3.10 b3
l4_backend mg-srv1 fd00:2::10 b1-6
l4_backend mg-srv1 fd00:2::11 b2-6
l4_backend mg-srv2 fd00:3::10 b3-6
l4_warm mg-client 198.18.2.10 198.18.2.11 198.18.3.10 fd00:2::10 fd00:2::11 fd00:3::10

for vip in 198.18.50.1 fd00:50::1 198.18.50.3 198.18.50.4 fd00:50::4; do
  spread=$(l4_spread mg-client "$(l4_url "$vip" 80 /)" 60)
  answered=$(awk '$1 != "failed" { n += $2 } END { print n + 0 }' <<<"$spread")
  echo "   $vip: $(tr '\n' ' ' <<<"$spread")"
  # shellcheck disable=SC2016 # expanded by the inner shell
  check "60 connections through $vip with two workers all answered ($answered)" bash -c '[ "$1" -eq 60 ]' x "$answered"
done
handoff_full=$(l4_stat drops worker_handoff_full)
check "no hand-off ring overflow (worker_handoff_full ${handoff_full:-?})" test "${handoff_full:-1}" -eq 0
echo "   /meshgate/l4: $(l4_tel /meshgate/l4)"
mg_finish
