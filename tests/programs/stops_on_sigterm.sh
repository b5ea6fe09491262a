#!/usr/bin/env bash
# The demo runs until signalled, stops on SIGTERM, drains and replays everything, and exits 0.
# usage: stops_on_sigterm.sh <ringlog binary> <journal dir>
set -euo pipefail
ringlog=$1
journal=$2
output=$(mktemp)
trap 'rm -f "$output"' EXIT
. "$(dirname "$0")/../../scripts/lib.sh"

"$ringlog" --duration 0 --rate 100000 --dir "$journal" >"$output" 2>&1 &
pid=$!
# Signalled only once it is demonstrably running: its first status line.
running() { grep -q '^\[.*events' "$output" || ! kill -0 "$pid" 2>/dev/null; }
eventually running || { cat "$output"; echo "FAIL: no status line from the demo in 60 s"; exit 1; }
kill -TERM "$pid" 2>/dev/null || true  # gone already: its exit status tells why
status=0
wait "$pid" || status=$?
cat "$output"
[ "$status" -eq 0 ] || { echo "FAIL: exit status $status after SIGTERM"; exit 1; }
grep -q "stopped by signal" "$output" || { echo "FAIL: did not report the signal"; exit 1; }
grep -Eq "lost +0 events" "$output" || { echo "FAIL: events were lost"; exit 1; }
echo "PASS: stopped on SIGTERM with every event persisted"
