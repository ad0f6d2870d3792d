#!/usr/bin/env bash
# Two workers: each port gets two RX queues (af_packet fans flows out across them) and one TX
# queue per worker. This machine has two cores, so both workers share CPU 1 (EAL --lcores);
# the test is about correctness, not speed: pings and TCP in both families through both workers.
# shellcheck source=tests/integration/lib.sh
MG_TMPCFG=$(mktemp /tmp/meshgate-multiworker.XXXXXX.json)
sed -e 's/qpairs=1/qpairs=2/g' -e 's/"lcores": \[1\]/"lcores": [1, 2]/' \
  "$(dirname "$0")/../../deploy/lab/meshgate-lab.json" >"$MG_TMPCFG"
export MESHGATE_CONFIG=$MG_TMPCFG
export MG_EAL_CORES="--lcores 0@0,1@1,2@1"
source "$(dirname "$0")/lib.sh"
trap 'rm -f "$MG_TMPCFG"; mg_cleanup' EXIT
mg_setup iperf3

check "config asks for two workers" grep -q '"lcores": \[1, 2\]' "$MG_TMPCFG"
check "data plane started two workers" grep -q '2 workers' "$MG_LOG"
check_ping mg-client 198.18.2.2 "client -> srv1 v4"
check_ping mg-client fd00:2::2 "client -> srv1 v6"
check_ping mg-client 198.18.3.2 "client -> srv2 v4"
check_ping mg-client fd00:3::2 "client -> srv2 v6"

iperf3_check "v4, 4 streams" 198.18.2.2 5301 -P 4
iperf3_check "v6, 4 streams" fd00:2::2 5302 -P 4

mg_finish
