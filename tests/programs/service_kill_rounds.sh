#!/usr/bin/env bash
# `ringlog serve` SIGKILLed again and again, with a publisher feeding it, on a journal small
# enough that the kills land in segment rolls and recycling too. Each round starts the service
# on the journal the last kill left, publishes a random number of events, and kills the service
# (and its publisher) at a random point: most rounds mid-stream, some right after it answers,
# while it has just recovered. After each kill a copy of the journal is checked with
# powercut_check: every event the service reported durable before the kill is there, in order
# and intact, no damage below a durable checkpoint, and a writer reopening it continues right
# after the last intact event (or after the events of a segment whose rename the kill
# interrupted, which recovery adopts: the round says so).
#
# usage: service_kill_rounds.sh BIN_DIR ROUNDS
#   BIN_DIR  holds ringlog and powercut_check
# Prints one line a round, then a summary; exits 1 on the first round that fails.
set -euo pipefail
bin=$1 rounds=$2
scratch=$(mktemp -d)
serve_pid="" publish_pid=""
trap 'kill -9 $serve_pid $publish_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: round $round: $*"; tail -n 5 "$scratch"/*.log; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"
cat >"$scratch/ringlog.toml" <<TOML
[service]
name = "kill-rounds"
runtime_dir = "$scratch/run"
[journal]
directory = "$scratch/journal"
segment_bytes = 1048576
keep_segments = 4
recycle = true
TOML
status() { "$bin/ringlog" status --service kill-rounds --runtime-dir "$scratch/run" "$@"; }
journal_field() { status --json | sed -nE "s/.*\"journal_$1\":([0-9]+).*/\1/p"; }
durable_at_least() { [ "$(journal_field durable_sequence)" -ge "$1" ] 2>/dev/null; }

reported_durable=0 events_published=0
for round in $(seq 1 "$rounds"); do
  "$bin/ringlog" serve --config "$scratch/ringlog.toml" >"$scratch/serve.log" 2>&1 &
  serve_pid=$!
  eventually status >/dev/null 2>&1 || fail "the service did not answer on its socket"
  durable_at_least "$reported_durable" ||
    fail "restarted durable below $(journal_field durable_sequence); below $reported_durable was reported before the kill"
  start=$(journal_field next_sequence)
  count=$((RANDOM % 20000 + 1))
  "$bin/ringlog" publish --service kill-rounds --runtime-dir "$scratch/run" --count "$count" \
    --rate 0 >"$scratch/publish.log" 2>&1 &
  publish_pid=$!
  if [ $((RANDOM % 4)) -ne 0 ]; then
    eventually durable_at_least $((start + RANDOM % count)) ||
      fail "the service made no events durable"
  fi
  reported_durable=$(journal_field durable_sequence)
  kill -9 "$serve_pid" "$publish_pid" 2>/dev/null || true
  wait "$serve_pid" "$publish_pid" 2>/dev/null || true
  serve_pid="" publish_pid=""
  [ "$reported_durable" -le "$start" ] || events_published=$((events_published + reported_durable - start))
  # The checker reopens and appends: it gets a copy, the service keeps its own journal.
  rm -rf "$scratch/check"
  cp -r "$scratch/journal" "$scratch/check"
  "$bin/powercut_check" "$scratch/check" "$reported_durable" --any-events >"$scratch/check.log" ||
    fail "after the kill: $(cat "$scratch/check.log")"
  adopted=$(sed -n 's/^recovery adopted \(.*\)/; recovery adopted \1/p' "$scratch/check.log")
  echo "round $round: killed with durable below $reported_durable: intact$adopted"
done
echo "OK: $rounds SIGKILLs of ringlog serve; $events_published events made durable between" \
     "them, every one reported durable found intact after its kill"
