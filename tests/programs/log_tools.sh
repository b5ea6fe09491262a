#!/usr/bin/env bash
# ringlog verify, dump and tail on an intact journal, a damaged one, and things that are no
# journal at all; tail -f following a demo while it writes.
# usage: log_tools.sh <ringlog binary>
set -euo pipefail
ringlog=$1
scratch=$(mktemp -d)
tail_pid=
trap '[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"
journal=$scratch/journal

# Sized by count (48-byte records: two 1 MiB segments), never by time: hosts differ in speed.
demo_events=40000
"$ringlog" --count $demo_events --rate 100000 --segment-bytes 1048576 --dir "$journal" >/dev/null
status=0; "$ringlog" verify "$journal" >"$scratch/verify" || status=$?
cat "$scratch/verify"
[ "$status" -eq 0 ] || fail "verify of an intact journal exited $status"
events=$(sed -nE 's/.*: ([0-9]+) intact events.*/\1/p' "$scratch/verify")
[ "$events" = $demo_events ] || fail "expected the demo's $demo_events events, found '$events'"
[ "$(grep -c '\.evtl' "$scratch/verify")" -gt 1 ] || fail "the demo filled only one segment"
"$ringlog" dump --json "$journal" >"$scratch/dump"
[ "$(grep -c '^{"sequence":' "$scratch/dump")" -eq "$events" ] || fail "dump and verify disagree"
[ "$(tail -n 1 "$scratch/dump" | sed -nE 's/^\{"sequence":([0-9]+).*/\1/p')" -eq $((events - 1)) ] ||
  fail "the last event dumped is not the last sequence number"
[ "$("$ringlog" tail -n 5 "$journal" | wc -l)" -eq 5 ] || fail "tail -n 5 printed another count"

# By time (the demo writes nanoseconds since the epoch): --since lands on the event whose time
# it names, --until stops before the one it names, --utc shows them as UTC time.
# Whole outputs through sed: a reader that stops early would cut dump off with SIGPIPE.
stamp_of() { "$ringlog" dump --json "$journal" | sed -nE "$(($1 + 1))s/.*\"timestamp\":([0-9]+).*/\1/p"; }
since=$(stamp_of 30000)
until=$(stamp_of 30010)
"$ringlog" dump --json --since "$since" --until "$until" "$journal" >"$scratch/window"
[ "$(head -n 1 "$scratch/window" | sed -E 's/^\{"sequence":([0-9]+).*/\1/')" = 30000 ] ||
  fail "dump --since did not start at event 30000: $(head -n 1 "$scratch/window")"
[ "$(wc -l <"$scratch/window")" -le 10 ] || fail "dump --until went past event 30010"
utc=$("$ringlog" dump --utc --since "$since" "$journal" | awk 'NR == 1 {print $3}')
[ "$("$ringlog" dump --json --since "$utc" "$journal" | sed -nE '1s/^\{"sequence":([0-9]+).*/\1/p')" = 30000 ] ||
  fail "--since $utc (UTC, as --utc printed it) did not land on event 30000"
[ "$("$ringlog" tail --since "$since" "$journal" | wc -l)" -eq $((events - 30000)) ] ||
  fail "tail --since did not print from event 30000 on"
"$ringlog" dump --since yesterday "$journal" 2>/dev/null && fail "dump --since took 'yesterday'"

# A named reader: tail --reader prints from the oldest event, commits, and the next run goes on
# from there; ringlog readers lists it with its position and no lag.
"$ringlog" tail --reader audit --json "$journal" >"$scratch/audit-1"
[ "$(wc -l <"$scratch/audit-1")" -eq "$events" ] || fail "tail --reader did not start at the oldest"
"$ringlog" tail --reader audit "$journal" >"$scratch/audit-2"
[ ! -s "$scratch/audit-2" ] || fail "tail --reader printed again what it had committed"
"$ringlog" readers "$journal" >"$scratch/readers" || fail "readers exited $?: $(cat "$scratch/readers")"
grep -qE "^audit +$events +0 .* ok$" "$scratch/readers" || fail "readers: $(cat "$scratch/readers")"
grep -q "\"position\":$events" <<<"$("$ringlog" readers --json "$journal")" || fail "readers --json"

# A single segment is a log file of its own.
first=$journal/00000000000000000000.evtl
grep -q "OK: every record is intact" <<<"$("$ringlog" verify "$first")" || fail "verify of one segment"
in_first=$("$ringlog" dump "$first" | wc -l)
[ "$in_first" -gt 0 ] && [ "$in_first" -lt "$events" ] || fail "segment dump has $in_first events"

# Flip every bit of one byte inside the first segment's records.
# Its complement, not a fixed value: the byte may be part of a timestamp, which differs from
# run to run, and may hold that value already.
byte=$(od -An -tu1 -j 5000 -N 1 "$first" | tr -d ' ')
printf "\\$(printf '%03o' $((byte ^ 255)))" | dd of="$first" bs=1 seek=5000 conv=notrunc status=none
[ "$(od -An -tu1 -j 5000 -N 1 "$first" | tr -d ' ')" -eq $((byte ^ 255)) ] || fail "the byte did not change"
status=0; "$ringlog" verify "$journal" >"$scratch/verify" || status=$?
cat "$scratch/verify"
[ "$status" -eq 1 ] || fail "verify of a damaged journal exited $status"
grep -q "DAMAGED: 00000000000000000000.evtl: a record fails its checksum at offset" \
  "$scratch/verify" || fail "verify did not name the damaged segment and offset"
status=0; "$ringlog" dump --json "$journal" >"$scratch/dump" 2>/dev/null || status=$?
[ "$status" -eq 1 ] || fail "dump of a damaged journal exited $status"
[ "$(wc -l <"$scratch/dump")" -lt "$in_first" ] || fail "dump showed events past the damage"

# A segment of another journal, copied over one of this one's: named foreign, with both ids.
# Five segments each, so that this journal's id is the one most of them carry.
for dir in mixed other-journal; do
  "$ringlog" --count 100000 --rate 0 --segment-bytes 1048576 --dir "$scratch/$dir" >/dev/null
done
cp "$scratch/other-journal/00000000000000000000.evtl" "$scratch/mixed/"
status=0; "$ringlog" verify "$scratch/mixed" >"$scratch/verify" || status=$?
[ "$status" -eq 1 ] || fail "verify of a journal with a foreign segment exited $status"
grep -qE "^FOREIGN: .*00000000000000000000.evtl: it belongs to journal [0-9a-f]{32}, not to journal [0-9a-f]{32}" \
  "$scratch/verify" || fail "the foreign segment is not named foreign: $(cat "$scratch/verify")"

# Every exit status is a documented one: 2 for what is no journal, or no command line.
for command in verify dump tail; do
  status=0; "$ringlog" $command "$scratch/no-such-journal" 2>/dev/null || status=$?
  [ "$status" -eq 2 ] || fail "$command of a path that does not exist exited $status"
done
status=0; "$ringlog" verify --no-such-flag "$journal" 2>/dev/null || status=$?
[ "$status" -eq 2 ] || fail "verify with an unknown flag exited $status"

head -c 4096 /dev/urandom >"$scratch/random.bin"
status=0; "$ringlog" verify "$scratch/random.bin" || status=$?
[ "$status" -eq 2 ] || fail "verify of a non-log exited $status"
mkdir "$scratch/other" && echo hello >"$scratch/other/notes.txt"
status=0; "$ringlog" verify "$scratch/other" || status=$?
[ "$status" -eq 2 ] || fail "verify of a directory that is no journal exited $status"

# tail -f follows a demo while it writes, and sees every event once, in order.
live=$scratch/live
"$ringlog" --count 50000 --rate 50000 --segment-bytes 1048576 --dir "$live" >"$scratch/demo" &
demo_pid=$!
eventually test -s "$live/00000000000000000000.evtl" || fail "the demo made no first segment"
"$ringlog" tail -f --from 0 --json "$live" >"$scratch/tailed" &
tail_pid=$!
wait "$demo_pid" || fail "the demo failed"
written=$(sed -nE 's/^written +([0-9]+) events.*/\1/p' "$scratch/demo")
[ "$written" = 50000 ] || fail "the demo wrote '$written' events, not 50000"
tailed_all() { [ "$(wc -l <"$scratch/tailed")" -ge "$written" ]; }
eventually tailed_all || fail "tail -f printed $(wc -l <"$scratch/tailed") of $written events in 60 s"
kill -TERM "$tail_pid"
wait "$tail_pid" || fail "tail -f did not exit cleanly on SIGTERM"
tail_pid=
[ "$(wc -l <"$scratch/tailed")" -eq "$written" ] ||
  fail "tail -f printed $(wc -l <"$scratch/tailed") events of $written"
sed -nE 's/^\{"sequence":([0-9]+).*/\1/p' "$scratch/tailed" | awk '$1 != NR - 1 { exit 1 }' ||
  fail "tail -f printed events out of order"
echo "PASS: verify, dump and tail tell intact, damaged and foreign journals apart; tail -f follows"
