# shellcheck shell=bash
# Shared set-up of the tap lab tests (capture_test.sh, mirror_test.sh). Source after lib.sh:
#
#   cap_setup TAPS_JSON [tools...]   the lab config plus the taps in capture/TAPS_JSON (writing
#                                    under $MG_TMP), the data plane started, background peers in
#                                    BG_PIDS killed on exit
#   tel ARGS...                      capture/tel.py on this data plane's telemetry socket
#   tap_field TAP FIELD              a field of /meshgate/taps,TAP
CAP=$MG_ROOT/tests/integration/capture
CAP_TAPS=""
BG_PIDS=()  # background peers (ip netns exec execs `timeout`, which passes a signal on to its child)

eval "lib_$(declare -f mg_start_dataplane)"
mg_start_dataplane() {
  /usr/bin/python3 "$CAP/mkconfig.py" "$MG_CONFIG" "$CAP/$CAP_TAPS" "$MG_TMP" >"$MG_TMP/config.json" ||
    mg_die "cannot write the test config"
  MG_CONFIG=$MG_TMP/config.json
  lib_mg_start_dataplane
}

# shellcheck disable=SC2317 # run by the EXIT trap
cap_cleanup() {
  local rc=$? p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  (exit "$rc")
  mg_cleanup
}

cap_setup() {
  CAP_TAPS=$1
  shift
  mg_setup "$@"
  trap cap_cleanup EXIT
}

tel() { timeout 10 /usr/bin/python3 "$CAP/tel.py" "$MG_PREFIX" "$@"; }
tap_field() { tel --get "/meshgate/taps,$1" "d['$1']['$2']"; }
