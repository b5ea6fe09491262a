#!/usr/bin/env bash
# ringlog doctor on this host: text and JSON agree, and the exit status is the verdict.
# usage: doctor.sh <ringlog binary>
set -euo pipefail
ringlog=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

text_status=0; "$ringlog" doctor --journal "$scratch/journal" >"$scratch/text" || text_status=$?
cat "$scratch/text"
json_status=0; "$ringlog" doctor --json --journal "$scratch/journal" >"$scratch/json" ||
  json_status=$?
[ "$text_status" -eq "$json_status" ] || fail "text exited $text_status, JSON $json_status"
items=$(grep -cE '^(PASS|WARN|FAIL)  ' "$scratch/text")
[ "$items" -eq "$(grep -o '"verdict":' "$scratch/json" | wc -l)" ] || fail "text and JSON differ"
fails=$(grep -c '^FAIL  ' "$scratch/text" || true)
grep -q "\"fail\":$fails," "$scratch/json" || fail "JSON does not count $fails FAIL"
if [ "$fails" -eq 0 ]; then
  [ "$text_status" -eq 0 ] && grep -q '"fit_for_production":true' "$scratch/json" ||
    fail "no FAIL, yet not fit (exit $text_status)"
else
  [ "$text_status" -eq 1 ] && grep -q '"fit_for_production":false' "$scratch/json" ||
    fail "$fails FAIL, yet exit $text_status"
fi
# Every FAIL and WARN comes with its fix on the next line.
fixes=$(grep -cE '^      +fix: ' "$scratch/text")
[ "$fixes" -eq "$(grep -cE '^(WARN|FAIL)  ' "$scratch/text")" ] || fail "an item without its fix"

status=0; "$ringlog" doctor --root "$scratch" >"$scratch/out" 2>&1 || status=$?
[ "$status" -eq 2 ] && grep -q -- "--root needs --cpus" "$scratch/out" ||
  fail "--root without --cpus: exit $status, $(cat "$scratch/out")"
echo "OK"
