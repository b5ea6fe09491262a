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
grep -q '"lost":0,' "$out/stress.jsonl" || fail "stress lost events or did not run"
grep -q '"part":"latency"' "$out/journal_bench-1.txt" || fail "journal_bench did not finish"
grep -q "^#\[Max" "$out/append_to_durable-1.hgrm" || fail "no append → durable .hgrm"
grep -q "^ringlog round trip" "$out/latency-1.txt" || fail "ringlog_latency did not finish"
for run in raw_round_trip ring_round_trip one_way_1000000 raw_one_way_1000000; do
  grep -q "^#\[Max" "$out/latency-1/$run.hgrm" || fail "no $run.hgrm"
done
[ -s "$out/latency-1/latency.png" ] || fail "no latency plot (gnuplot-nox is in scripts/deps)"
[ ! -e "$out/journal-scratch" ] || fail "the journal's scratch files were left behind"
echo OK
