#!/usr/bin/env bash
# `ringlog serve` on a file system that fills up: the service says what failed, tells its
# publisher, keeps answering `ringlog status` with the failure until it is stopped, stops with a
# line that is exact about what is durable, and keeps every durable event. Started again, its
# first lines and its status say why the run before failed.
# usage: service_full_disk.sh <ringlog binary>   (exit 77: no root to mount a small tmpfs)
set -euo pipefail
ringlog=$1
scratch=$(mktemp -d)
disk=$scratch/disk
serve_pid=""
mkdir "$disk"
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=12m ringlog-full-disk "$disk" 2>/dev/null; then
  rm -rf "$scratch"
  echo "SKIP: needs root to mount a 12 MiB tmpfs as the full disk"
  exit 77
fi
trap 'kill -9 $serve_pid 2>/dev/null || true; umount "$disk"; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; tail -n 5 "$scratch"/*.log; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"
printf '[service]\nname = "full"\nruntime_dir = "%s"\n[journal]\ndirectory = "%s"\nsegment_bytes = 4194304\n' \
  "$scratch/run" "$disk/journal" >"$scratch/ringlog.toml"
status() { "$ringlog" status --service full --runtime-dir "$scratch/run" "$@"; }
serve() {
  "$ringlog" serve --config "$scratch/ringlog.toml" >>"$scratch/serve.log" 2>&1 &
  serve_pid=$!
  eventually status >/dev/null 2>&1 || fail "the service did not answer on its socket"
}

serve
# 48-byte events: far more than 12 MiB. The publisher learns of the failure and gives up.
published=0
"$ringlog" publish --service full --runtime-dir "$scratch/run" --count 2000000 --rate 0 \
  >"$scratch/publish.log" 2>&1 || published=$?
[ "$published" -eq 1 ] || fail "the publisher exited $published on a full disk"
grep -q "it has failed (.*No space left on device" "$scratch/publish.log" ||
  fail "the publisher was not told why: $(tail -n 2 "$scratch/publish.log")"

failed() { grep -q "^FAILED .*No space left on device" <<<"$(status)"; }
eventually failed || fail "ringlog status does not show the failure: $(status)"
grep -q '"failure":"[^"]*No space left on device' <<<"$(status --json)" || fail "no failure in JSON"
grep -q '^ringlog_failed 1$' <<<"$(status --prometheus)" || fail "ringlog_failed is not 1"
said() { grep -q "^FAILED: .*No space left on device" "$scratch/serve.log"; }
eventually said || fail "the log does not say"
durable=$(status --json | sed -nE 's/.*"journal_durable_sequence":([0-9]+).*/\1/p')
failed || fail "the failure went away before the stop"

kill -TERM "$serve_pid"
code=0
wait "$serve_pid" || code=$?
serve_pid=""
[ "$code" -eq 1 ] || fail "the failed service exited $code, not 1"
stop=$(grep "^stopped:" "$scratch/serve.log" | tail -n 1)
grep -q "all durable" <<<"$stop" && fail "the stop line claims all is durable: $stop"
grep -qE "^stopped: the journal FAILED \(.*No space left on device.*\): sequences below [0-9]+ are durable" <<<"$stop" ||
  fail "the stop line is not exact: $stop"

intact=$("$ringlog" verify "$disk/journal" | sed -nE 's/.*: ([0-9]+) intact events.*/\1/p')
[ "$intact" -ge "$durable" ] || fail "$intact intact events, fewer than the $durable durable ones"

serve
said_before() { grep -q "^previously FAILED (an earlier run): .*No space left" "$scratch/serve.log"; }
eventually said_before || fail "the restart's first lines do not say why the last run failed"
grep -q "^previously FAILED" <<<"$(status)" || fail "ringlog status does not say the last run failed"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "the restarted service did not stop cleanly"
serve_pid=""
[ ! -e "$scratch/run/full.failed" ] || fail "a clean stop left the failure record"
echo "OK: failed on a full disk, said so until stopped, kept $intact events ($durable durable)"
