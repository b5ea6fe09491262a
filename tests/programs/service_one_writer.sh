#!/usr/bin/env bash
# Two `ringlog serve` under different names on one journal directory: the second is refused
# with the process that holds the journal named, and the first goes on and loses nothing.
# usage: service_one_writer.sh <ringlog binary>
set -euo pipefail
ringlog=$1
scratch=$(mktemp -d)
first_pid="" second_pid=""
trap 'kill -9 $first_pid $second_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; tail -n 5 "$scratch"/*.log; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"
events=300000
config() {  # NAME: a service of that name on the shared journal
  printf '[service]\nname = "%s"\nruntime_dir = "%s"\n[journal]\ndirectory = "%s"\n' \
    "$1" "$scratch/run" "$scratch/journal" >"$scratch/$1.toml"
}
config first
config second

"$ringlog" serve --config "$scratch/first.toml" >"$scratch/first.log" 2>&1 &
first_pid=$!
answers() { "$ringlog" status --service first --runtime-dir "$scratch/run" >/dev/null 2>&1; }
eventually answers || fail "the first service did not answer on its socket"

status=0
"$ringlog" serve --config "$scratch/second.toml" >"$scratch/second.log" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "the second service exited $status, not 2 (could not start)"
grep -q "journal $scratch/journal is being written by process $first_pid" "$scratch/second.log" ||
  fail "the refusal does not name the journal and process $first_pid: $(cat "$scratch/second.log")"

# check-config sees the same: what serve would refuse now.
status=0
"$ringlog" check-config "$scratch/second.toml" >/dev/null 2>"$scratch/check.log" || status=$?
[ "$status" -eq 2 ] && grep -q "is being written by process $first_pid" "$scratch/check.log" ||
  fail "check-config passed a journal another service writes: exit $status, $(cat "$scratch/check.log")"

"$ringlog" publish --service first --runtime-dir "$scratch/run" --count $events --rate 0 \
  >"$scratch/publish.log" 2>&1 || fail "the publisher into the first service failed"
kill -TERM "$first_pid"
wait "$first_pid" || fail "the first service did not stop cleanly"
first_pid=""
grep -q "^stopped: journal holds sequences up to $events, all durable" "$scratch/first.log" ||
  fail "the first service's stop line: $(tail -n 1 "$scratch/first.log")"
"$ringlog" verify "$scratch/journal" >"$scratch/verify.log" || fail "the journal is damaged"
grep -q ": $events intact events" "$scratch/verify.log" || fail "$(cat "$scratch/verify.log")"
echo "OK: the second writer was refused; $events events intact"
