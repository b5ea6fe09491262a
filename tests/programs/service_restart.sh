#!/usr/bin/env bash
# ringlog serve SIGKILLed mid-stream and started again: the journal recovers, the publisher
# attaches again and writes again what was not durable, and in the end the journal is intact
# and holds every event at least once (each one reported durable before the kill among them).
# usage: service_restart.sh <ringlog binary>
set -euo pipefail
ringlog=$1
scratch=$(mktemp -d)
serve_pid="" publish_pid=""
trap 'kill -9 $serve_pid $publish_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; cat "$scratch"/*.log; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"
# Tier: suite (400,000 events); soak (RINGLOG_TEST_TIER=soak: 2,000,000).
events=400000
[ "${RINGLOG_TEST_TIER:-}" = soak ] && events=2000000
cat >"$scratch/ringlog.toml" <<TOML
[service]
name = "restart-test"
runtime_dir = "$scratch/run"
[journal]
directory = "$scratch/journal"
segment_bytes = 4194304
TOML
status() { "$ringlog" status --service restart-test --runtime-dir "$scratch/run" "$@"; }
serve() {
  "$ringlog" serve --config "$scratch/ringlog.toml" >>"$scratch/serve.log" 2>&1 &
  serve_pid=$!
  eventually status >/dev/null 2>&1 || fail "the service did not answer on its socket"
}
durable() { status --json | sed -nE 's/.*"journal_durable_sequence":([0-9]+).*/\1/p'; }
at_least() { [ "$("$1")" -ge "$2" ] 2>/dev/null; }

serve
"$ringlog" publish --service restart-test --runtime-dir "$scratch/run" --count $events \
  --rate 250000 >"$scratch/publish.log" 2>&1 &
publish_pid=$!
eventually at_least durable 200000 || fail "the service did not make 200000 events durable"
kill -9 "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
serve
wait "$publish_pid" || fail "the publisher did not finish (exit $?)"
publish_pid=""
grep -q "the service went away" "$scratch/publish.log" || fail "the publisher never noticed"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "the restarted service did not stop cleanly"
serve_pid=""

"$ringlog" verify "$scratch/journal" >"$scratch/verify.log" || fail "the journal is damaged"
# Each event's own number is the first 8 bytes of its payload (the publisher's timestamps are
# the time it was written, which a resend does not repeat).
distinct=$("$ringlog" dump --json "$scratch/journal" |
  sed -nE 's/.*"payload":"([0-9a-f]{16}).*/\1/p' | sort -u | wc -l)
[ "$distinct" -eq $events ] || fail "the journal holds $distinct of the $events events"
echo "OK: all $events events journaled across the restart ($(tail -n 1 "$scratch/verify.log"))"
