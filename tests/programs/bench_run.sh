#!/usr/bin/env bash
# scripts/bench-run --quick: every part of the suite runs, and its results are stored with the
# environment they ran in.
# usage: bench_run.sh <source dir>
set -euo pipefail
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
out=$scratch/results

"$1/scripts/bench-run" --quick --no-build --out "$out"
for key in date revision dirty kernel cmdline cpu cpus memory; do
  grep -qE "^$key: .+" "$out/environment.txt" || fail "environment.txt lacks $key"
done
grep -q '"items":\[{"name":"smt-pair"' "$out/doctor.json" || fail "doctor.json"
grep -q '"name": "BM_moodycamel' "$out/ringlog_bench.json" || fail "no peer in ringlog_bench.json"
grep -q '"name": "BM_journal_append' "$out/ringlog_ops_bench.json" || fail "ringlog_ops_bench.json"
# --quick sizes stress by count: every event of it written, persisted and none lost.
every_event='"written":2000000,"persisted":2000000,"lost":0,'
grep -q "$every_event" "$out/stress.jsonl" || fail "stress lost events or did not run"
grep -q "$every_event" "$out/stress-warm.jsonl" || fail "the warm stress run lost events or did not run"
grep -q "us a page" "$out/first_touch.txt" || fail "first_touch did not warm the memory"
# Four laps over one journal, the later ones on recycled segments, none losing an event.
[ "$(grep -c '"written":600000,"persisted":600000,"lost":0,' "$out/stress-laps.jsonl")" = 4 ] ||
  fail "a lap of the recycled-segment stress lost events or did not run"
grep -q '"bw_bytes"' "$out/fio-1.json" || fail "fio did not run (it is in scripts/deps)"
[ ! -e "$out/fio-scratch" ] || fail "fio's scratch file was left behind"
grep -q '"part":"latency"' "$out/journal_bench-1.txt" || fail "journal_bench did not finish"
grep -q "^#\[Max" "$out/append_to_durable-1.hgrm" || fail "no append → durable .hgrm"
grep -q "^ringlog round trip" "$out/latency-1.txt" || fail "ringlog_latency did not finish"
for run in raw_round_trip ring_round_trip one_way_1000000 raw_one_way_1000000; do
  grep -q "^#\[Max" "$out/latency-1/$run.hgrm" || fail "no $run.hgrm"
done
[ -s "$out/latency-1/latency.png" ] || fail "no latency plot (gnuplot-nox is in scripts/deps)"
[ ! -e "$out/journal-scratch" ] || fail "the journal's scratch files were left behind"

# The README's tables from these results: printed, and put between the markers of a README.
"$1/scripts/bench-report" "$out" >"$scratch/tables"
for heading in "| 1 MiB |" "| producer \`write_event\` |" "| ringlog round trip (two rings) |" \
               "Ring → journal" "right after" "third and fourth laps" "| durable bandwidth" \
               "| fio, 1 MiB writes"; do
  grep -qF "$heading" "$scratch/tables" || fail "the report lacks '$heading'"
done
printf '%s\n' "prose before" "<!-- bench-report:begin -->" "old tables" \
  "<!-- bench-report:end -->" "prose after" >"$scratch/README.md"
"$1/scripts/bench-report" "$out" --update-readme "$scratch/README.md"
[ "$(head -n 1 "$scratch/README.md")" = "prose before" ] || fail "the prose before was touched"
[ "$(tail -n 1 "$scratch/README.md")" = "prose after" ] || fail "the prose after was touched"
grep -q "old tables" "$scratch/README.md" && fail "the old tables are still there"
grep -qF "| 1 MiB |" "$scratch/README.md" || fail "the new tables are not there"
echo OK
