# shellcheck shell=bash
# Tests that push snapshots to the data plane's mgmt socket with tests/tools/push_tool (no
# mgmtd). Source after lib.sh and l4/l4_lib.sh, before l4_setup:
#
#   push ARGS...        push_tool on the socket (prepare-activate FILE GEN, status, state, ...)
#   snap GEN PYTHON     $PUSH_SNAP_SRC (default: the config the data plane started with) edited
#                       by PYTHON (a dict `c`), written to $MG_TMP/snap-GEN.json with generation
#                       GEN; prints the path
PUSH_TOOL=${PUSH_TOOL:-$(dirname "$MESHGATE_DATAPLANE")/../tests/push_tool}
[ -x "$PUSH_TOOL" ] || mg_skip "no push_tool at $PUSH_TOOL"
MG_SOCK_DIR=/run/meshgate-it-$$
MG_SOCK=$MG_SOCK_DIR/mgmt.sock
MG_DP_EXTRA_ARGS="--mgmt-socket $MG_SOCK" # read by lib.sh

push() { "$PUSH_TOOL" "$MG_SOCK" "$@"; }

snap() {
  local gen=$1 code=$2 out=$MG_TMP/snap-$1.json
  "$L4_PY" - "${PUSH_SNAP_SRC:-$MG_CONFIG}" "$out" "$gen" "$code" <<'PY' || mg_die "cannot write snapshot $gen"
import json, sys
src, out, gen, code = sys.argv[1:5]
with open(src) as f:
    c = json.load(f)
exec(code)
c["generation"] = gen
with open(out, "w") as f:
    json.dump(c, f, indent=2)
PY
  echo "$out"
}
