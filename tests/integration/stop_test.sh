#!/usr/bin/env bash
# Lifecycle: traffic flows, SIGUSR1 prints counters and keeps running, SIGTERM stops the data
# plane cleanly (exit 0 within 5 s) and traffic stops with it.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mg_setup

echo "== traffic while running"
check_ping mg-client 198.18.2.2 "client -> srv1 198.18.2.2"
check_ping mg-client fd00:2::2 "client -> srv1 fd00:2::2"

echo "== SIGUSR1: counters, keeps running"
lines=$(wc -l <"$MG_LOG")
kill -USR1 "$MG_PID"
sleep 1
new=$(($(wc -l <"$MG_LOG") - lines))
if [ "$new" -gt 0 ]; then
  mg_pass "SIGUSR1 printed $new lines"
  tail -n +"$((lines + 1))" "$MG_LOG" | head -n 20 | mg_indent
else
  mg_fail "SIGUSR1 printed nothing"
fi
if mg_dataplane_alive; then mg_pass "still running after SIGUSR1"; else mg_fail "data plane gone after SIGUSR1"; fi

echo "== SIGTERM"
lines=$(wc -l <"$MG_LOG")
mg_stop_dataplane TERM 5
if [ "$MG_STOP_RC" = 0 ]; then
  mg_pass "exited with status 0 after ${MG_STOP_SECS}s"
elif [ "$MG_STOP_RC" = 124 ]; then
  mg_fail "still running 5 s after SIGTERM (killed)"
else
  mg_fail "exited with status $MG_STOP_RC after ${MG_STOP_SECS}s"
fi
new=$(($(wc -l <"$MG_LOG") - lines))
if [ "$new" -gt 0 ]; then
  mg_pass "printed $new lines on shutdown (counters)"
  tail -n +"$((lines + 1))" "$MG_LOG" | head -n 20 | mg_indent
else
  mg_fail "printed nothing on shutdown (expected counters)"
fi

echo "== traffic after stop"
check_ping_fails mg-client 198.18.2.2 "client -> srv1 198.18.2.2 unanswered"
check_ping_fails mg-client fd00:2::2 "client -> srv1 fd00:2::2 unanswered"

mg_finish
