# shellcheck shell=bash
# Tests that push snapshots to the data plane's mgmt socket with tests/tools/push_tool (no
# mgmtd). Source after lib.sh and l4/l4_lib.sh, before l4_setup:
#
#   push ARGS...        push_tool on the socket (prepare-activate FILE GEN, status, state, ...)
#   snap GEN PYTHON     $PUSH_SNAP_SRC (default: the config the data plane started with) edited
#                       by PYTHON (a dict `c`), written to $MG_TMP/snap-GEN.json with generation
#                       GEN; prints the path
#   status_gen          the running "GEN SOURCE"; check_status WANT WHAT; check_nack WHAT REGEX ARGS...
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

# status_gen: the running generation and source, "GEN SOURCE".
status_gen() { push status | sed -nE 's/.* generation=([0-9]+) source=([a-z]*).*/\1 \2/p'; }

# check_status WANT WHAT: the data plane's "GEN SOURCE" is WANT.
check_status() {
  local got
  got=$(status_gen)
  if [ "$got" = "$1" ]; then mg_pass "$2: status '$got'"; else mg_fail "$2: status '$got' (want '$1')"; fi
}

# check_nack WHAT REGEX cmd...: push_tool exits 1 and its output matches REGEX.
check_nack() {
  local what=$1 re=$2 out rc
  shift 2
  out=$(push "$@" 2>&1)
  rc=$?
  if [ $rc -eq 1 ] && [[ $out =~ $re ]]; then
    mg_pass "$what: $(tail -n 1 <<<"$out")"
  else
    mg_fail "$what: exit $rc, want a nack matching /$re/"
    printf '%s\n' "$out" | mg_indent
  fi
}
