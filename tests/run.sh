#!/usr/bin/env bash
# Build meshgate and run every test suite (unit, packet, integration, conformance, fuzz).
#
#   tests/run.sh [extra meson test args, e.g. --suite unit]
#
# BUILD_DIR (default build) is configured with meson if needed and reused otherwise.
# Ends with meson's summary and a line "tests: N passed, N failed, N skipped" computed from
# BUILD_DIR/meson-logs/testlog.json; exits non-zero if anything failed.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build}

echo "== dependencies (deploy/install-deps.sh)"
deploy/install-deps.sh
echo "== hugepages (deploy/hugepages.sh)"
deploy/hugepages.sh || true

if [ ! -f "$BUILD_DIR/meson-private/coredata.dat" ]; then
  echo "== meson setup $BUILD_DIR"
  meson setup "$BUILD_DIR"
else
  echo "== reusing $BUILD_DIR"
fi
echo "== ninja -C $BUILD_DIR"
ninja -C "$BUILD_DIR"

TESTLOG=$BUILD_DIR/meson-logs/testlog.json
rm -f "$TESTLOG"   # count only this run
echo "== meson test -C $BUILD_DIR --print-errorlogs --num-processes 2 $*"
rc=0
meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "$@" || rc=$?

passed=0 failed=0 skipped=0
if [ -f "$TESTLOG" ]; then
  while read -r result; do
    case "$result" in
      OK | EXPECTEDFAIL) passed=$((passed + 1)) ;;
      SKIP) skipped=$((skipped + 1)) ;;
      *) failed=$((failed + 1)) ;;   # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS
    esac
  done < <(grep -o '"result": *"[A-Z]*"' "$TESTLOG" | sed -E 's/.*"([A-Z]+)"$/\1/')
else
  echo "tests/run.sh: no $TESTLOG (meson test exited $rc before running tests)" >&2
  [ "$rc" -ne 0 ] || rc=1
fi

echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
  exit 1
fi
exit 0
