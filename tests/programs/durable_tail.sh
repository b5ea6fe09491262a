#!/usr/bin/env bash
# scripts/durable-tail, one short round: fio and the journal traced flush by flush, and the
# summary sets the journal beside fio on preallocated and on written blocks, and their floors,
# and the service's commit -> durable beside fio on written blocks. Tier: suite.
# usage: durable_tail.sh <source dir>
#   exit 77: no perf, not root, the scratch not on ext4, or no tracepoints for perf to record
set -euo pipefail
command -v perf >/dev/null || { echo "SKIP: perf is not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: tracing ext4's flushes needs root"; exit 77; }
scratch=$(mktemp -d "${TMPDIR:-/var/tmp}/durable-tail-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
[ "$(stat -f -c %T "$scratch")" = ext2/ext3 ] ||
  { echo "SKIP: $scratch is not on ext4, whose flushes the script traces"; exit 77; }
perf record -q -a -o "$scratch/probe.perf" -e ext4:ext4_sync_file_enter -- true >/dev/null 2>&1 ||
  { echo "SKIP: perf cannot record ext4's tracepoints here"; exit 77; }
fail() { echo "FAIL: $*"; cat "$scratch/out/summary.md" 2>/dev/null; exit 1; }

"$1/scripts/durable-tail" --runs 1 --seconds 1 --out "$scratch/out"
[ -s "$scratch/out/fio-1.syncs" ] || fail "no flush of fio's was traced"
[ -s "$scratch/out/fio-written-1.syncs" ] || fail "no flush of fio's over written blocks was traced"
[ -s "$scratch/out/journal-1.syncs" ] || fail "no flush of the journal's was traced"
n='[0-9]+\.[0-9]+'
grep -qE "^\| 1 \| $n / $n / $n; $n \| $n / $n; $n \| $n / $n \| $n / $n \| $n / $n / $n \| ${n}x, ${n}x \| $n% / $n% \|$" \
  "$scratch/out/summary.md" || fail "no round in the summary"
grep -qE "^Medians of the rounds' ratios against fio on written blocks: append->durable p50 ${n}x its fdatasync p50 \(target <= 2.5x\), p99 ${n}x" \
  "$scratch/out/summary.md" || fail "no medians"
grep -qE "^\| 1 \| $n / $n / $n \| ${n}x \| $n us / $n ms \|$" "$scratch/out/summary.md" ||
  fail "no round of the service in the summary"
grep -qE "^Median of the rounds' commit->durable p99 against fio's fdatasync p99 on written blocks: ${n}x" \
  "$scratch/out/summary.md" || fail "no median for the service"
echo "OK: $(grep '^Median' "$scratch/out/summary.md")"
