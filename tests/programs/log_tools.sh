#!/usr/bin/env bash
# ringlog verify and dump on an intact log, a damaged one and a file that is no log at all.
# usage: log_tools.sh <ringlog binary>
set -euo pipefail
ringlog=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$ringlog" --duration 0.3 --rate 100000 --file-bytes 4194304 --dir "$scratch/journal" >/dev/null
log=$(ls "$scratch"/journal/*.evtl | head -n 1)

status=0; "$ringlog" verify "$log" >"$scratch/verify" || status=$?
cat "$scratch/verify"
[ "$status" -eq 0 ] || fail "verify of an intact log exited $status"
events=$(sed -nE 's/.*: ([0-9]+) intact events.*/\1/p' "$scratch/verify")
[ "$events" -gt 1000 ] || fail "expected the demo's events, found '$events'"
"$ringlog" dump --json "$log" >"$scratch/dump"
[ "$(grep -c '^{"sequence":' "$scratch/dump")" -eq "$events" ] || fail "dump and verify disagree"
[ "$("$ringlog" dump "$log" | wc -l)" -eq "$events" ] || fail "text dump has the wrong length"

# Flip one payload byte of event 100 (48-byte records after the 64-byte header).
printf '\xff' | dd of="$log" bs=1 seek=$((64 + 100 * 48 + 20)) conv=notrunc status=none
status=0; "$ringlog" verify "$log" >"$scratch/verify" || status=$?
cat "$scratch/verify"
[ "$status" -eq 1 ] || fail "verify of a damaged log exited $status"
grep -q "DAMAGED: the record at offset $((64 + 100 * 48)) fails its checksum, below the durable" \
  "$scratch/verify" ||
  fail "verify did not name the damaged offset"
status=0; "$ringlog" dump --json "$log" >"$scratch/dump" 2>/dev/null || status=$?
[ "$status" -eq 1 ] || fail "dump of a damaged log exited $status"
[ "$(wc -l <"$scratch/dump")" -eq 100 ] || fail "dump showed events past the damage"

head -c 4096 /dev/urandom >"$scratch/random.bin"
status=0; "$ringlog" verify "$scratch/random.bin" || status=$?
[ "$status" -eq 2 ] || fail "verify of a non-log exited $status"
echo "PASS: verify and dump tell intact, damaged and foreign files apart"
