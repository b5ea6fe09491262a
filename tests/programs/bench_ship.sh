#!/usr/bin/env bash
# scripts/bench-ship --quick: shipping in each form into one server and into a cluster of three,
# and the producer's write latency with and without shipping, each measured and summarized.
# usage: bench_ship.sh <source dir>   (exit 77: nats-server is not installed)
set -euo pipefail
[ -x /usr/sbin/nats-server ] || { echo "SKIP: nats-server is not installed"; exit 77; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; cat "$scratch/out/summary.txt" 2>/dev/null; exit 1; }

"$1/scripts/bench-ship" --quick --no-build --out "$scratch/out"
for setup in single-blocks-none single-blocks-lz4 single-blocks-zstd single-events-none single-blocks-zstd-market \
             cluster-blocks-none cluster-events-none; do
  grep -qE "^ship into $setup: [1-9][0-9]* events/s, [0-9.]+ MB/s, compression [0-9.]+, CPU [0-9.]+ µs" \
    "$scratch/out/summary.txt" || fail "no shipping rate into $setup"
done
grep -qE "^greatest ship lag during the 1 M events/s runs: median [0-9.e+-]+ s" \
  "$scratch/out/summary.txt" || fail "no ship lag"
for setup in without with; do
  grep -qE "^producer write at 1 M events/s, $setup shipping: p50 [0-9]+ ns, p99 [0-9]+ ns" \
    "$scratch/out/summary.txt" || fail "no write latency $setup shipping"
done
echo "OK: $(paste -sd';' "$scratch/out/summary.txt")"
