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
grep -q '"name": "BM_' "$out/ringlog_bench.json" || fail "ringlog_bench.json has no benchmark"
grep -q '"lost":0,' "$out/stress.jsonl" || fail "stress lost events or did not run"
grep -q '"part":"latency"' "$out/journal_bench.txt" || fail "journal_bench did not finish"
[ ! -e "$out/journal-scratch" ] || fail "the journal's scratch files were left behind"
echo OK
