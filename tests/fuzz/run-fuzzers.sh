#!/usr/bin/env bash
# Fuzzes every target with libFuzzer (clang-14, ASan + UBSan) for FUZZ_SECONDS each (default 60),
# growing the committed corpora in tests/fuzz/corpus/<target> with what finds new coverage.
# Crashes are left as crash-* files in the current directory and fail the script.
#
#   tests/fuzz/run-fuzzers.sh [target...]     (default: all)
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse pipeline nat l4 http push mgmt_edit restconf netconf)

if [ ! -d "$BUILD" ]; then
  CC=clang-14 CXX=clang++-14 meson setup "$BUILD" "$ROOT" -Dfuzzing=true -Dbuildtype=debugoptimized -Db_lto=false >/dev/null
fi
ninja -C "$BUILD" $(printf 'tests/fuzz/%s_fuzzer ' "${targets[@]}") >/dev/null

rc=0
for t in "${targets[@]}"; do
  corpus=$ROOT/tests/fuzz/corpus/$t
  work=$(mktemp -d)
  echo "== $t: ${SECONDS_EACH}s from $(ls "$corpus" | wc -l) inputs"
  if ! "$BUILD/tests/fuzz/${t}_fuzzer" -max_total_time="$SECONDS_EACH" -max_len=2048 -print_final_stats=1 \
      "$work" "$corpus" 2>"$work.log"; then
    rc=1
    tail -n 40 "$work.log"
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added)|^#[0-9]+.*DONE' "$work.log" || true
  # Keep only inputs that add coverage to the committed corpus.
  "$BUILD/tests/fuzz/${t}_fuzzer" -merge=1 "$corpus" "$work" >/dev/null 2>&1 || true
  echo "   corpus now $(ls "$corpus" | wc -l) inputs"
  rm -rf "$work" "$work.log"
done
exit $rc
