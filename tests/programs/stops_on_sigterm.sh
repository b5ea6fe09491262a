#!/usr/bin/env bash
# The demo runs until signalled, stops on SIGTERM, drains and replays everything, and exits 0.
# usage: stops_on_sigterm.sh <ringlog binary> <journal dir>
set -euo pipefail
ringlog=$1
journal=$2
output=$(mktemp)
trap 'rm -f "$output"' EXIT

"$ringlog" --duration 0 --rate 100000 --dir "$journal" >"$output" 2>&1 &
pid=$!
# Signal only once it is demonstrably running: its first status line, or give up after 30 s.
for _ in $(seq 300); do
  grep -q "events" "$output" && grep -q '^\[' "$output" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
cat "$output"
[ "$status" -eq 0 ] || { echo "FAIL: exit status $status after SIGTERM"; exit 1; }
grep -q "stopped by signal" "$output" || { echo "FAIL: did not report the signal"; exit 1; }
grep -Eq "lost +0 events" "$output" || { echo "FAIL: events were lost"; exit 1; }
echo "PASS: stopped on SIGTERM with every event persisted"
