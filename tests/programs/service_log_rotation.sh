#!/usr/bin/env bash
# ringlog serve --log FILE reopens FILE on SIGHUP: after a rotation (mv, then SIGHUP) the old
# file keeps what came before and a new one takes what follows, up to the clean stop.
# usage: service_log_rotation.sh <ringlog binary>
set -euo pipefail
ringlog=$1
scratch=$(mktemp -d)
serve_pid=""
trap 'kill -9 $serve_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; cat "$scratch"/service.log* 2>/dev/null || true; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"
printf '[service]\nname = "rotation-test"\nruntime_dir = "%s"\n[journal]\ndirectory = "%s"\n' \
  "$scratch/run" "$scratch/journal" >"$scratch/ringlog.toml"
log=$scratch/service.log
"$ringlog" serve --config "$scratch/ringlog.toml" --log "$log" &
serve_pid=$!
# Waited for by what it writes.
wait_for() { eventually grep -q "$1" "$2" 2>/dev/null || fail "no '$1' in $2"; }
wait_for "ringlog serve:" "$log"
mv "$log" "$log.1"
kill -HUP "$serve_pid"
wait_for "log reopened (SIGHUP)" "$log"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "the service did not stop cleanly"
serve_pid=""
grep -q "^ringlog serve:" "$log.1" || fail "the rotated log lost the start"
grep -q "^stopped:" "$log" || fail "the new log lacks the stop"
grep -q "^stopped:" "$log.1" && fail "the rotated log was written after the rotation"
echo "OK: rotated on SIGHUP"
