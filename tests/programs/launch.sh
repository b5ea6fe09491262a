#!/usr/bin/env bash
# scripts/launch: hands ringlog programs the pair, confines other programs to it, and with
# --require-fit starts nothing on a host ringlog doctor finds unfit.
# usage: launch.sh <source dir>
set -euo pipefail
launch=$1/scripts/launch
stress=$1/build/bin/stress
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
if [ "$(nproc)" -lt 2 ]; then
  echo "SKIPPED: needs 2 CPUs, this process may use $(nproc)"
  exit 77  # ctest: skipped
fi

"$launch" --cpus 1,0 "$stress" --count 1000000 | tee "$scratch/asked"
grep -q "placement  producer on CPU 1, consumer on CPU 0: as asked" "$scratch/asked" ||
  fail "stress did not get the pair"
grep -qE "^written +1000000 events" "$scratch/asked" || fail "stress did not write its count"
grep -qE "^lost +0 events" "$scratch/asked" || fail "stress lost events"

# Without --cpus: doctor's pair, which is the one the program would choose itself.
"$launch" -- sh -c 'taskset -pc $$' | tee "$scratch/other"
pair=$(sed -nE 's/^launch: sh on CPUs ([0-9]+) \(producer\) and ([0-9]+) .*/\1 \2/p' \
  "$scratch/other")
[ -n "$pair" ] || fail "no pair announced"
allowed=$(sed -nE 's/.*current affinity list: (.*)/\1/p' "$scratch/other")
read -r producer consumer <<<"$pair"
expected=$(printf '%s\n' "$producer" "$consumer" | sort -n | paste -sd,)
[ "$allowed" = "$expected" ] || [ "$allowed" = "${expected/,/-}" ] ||
  fail "confined to $allowed, not $expected"

# --require-fit follows doctor's verdict.
fit=0; "$1/build/bin/ringlog" doctor --cpus "$producer,$consumer" >/dev/null || fit=$?
status=0; "$launch" --require-fit --cpus "$producer,$consumer" -- true 2>"$scratch/refusal" ||
  status=$?
if [ "$fit" -eq 0 ]; then
  [ "$status" -eq 0 ] || fail "refused on a fit host"
else
  [ "$status" -eq 3 ] && grep -q "refusing to start" "$scratch/refusal" ||
    fail "started on an unfit host (exit $status)"
  grep -q "^FAIL " "$scratch/refusal" || fail "the refusal does not say what failed"
fi
status=0; "$launch" --cpus 0 true 2>/dev/null || status=$?
[ "$status" -eq 2 ] || fail "--cpus 0 accepted"
echo OK
