#!/usr/bin/env bash
# Where publishers run (tier: suite). ringlog serve's status names the CPU a publisher best
# uses (publisher_cpu: the other CPU of its pair, never the drain thread's; null on one CPU);
# `ringlog publish` pins its writing thread there unless --cpu names another, or -1 none.
# usage: publisher_cpu.sh <ringlog binary>
set -euo pipefail
ringlog=$1
scratch=$(mktemp -d)
serve_pid="" publish_pid=""
trap 'kill -9 $serve_pid $publish_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; tail -n 5 "$scratch"/*.log; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"
printf '[service]\nname = "cpu-test"\nruntime_dir = "%s"\n[journal]\ndirectory = "%s"\n' \
  "$scratch/run" "$scratch/journal" >"$scratch/ringlog.toml"
"$ringlog" serve --config "$scratch/ringlog.toml" >"$scratch/serve.log" 2>&1 &
serve_pid=$!
status() { "$ringlog" status --service cpu-test --runtime-dir "$scratch/run" "$@"; }
eventually status >/dev/null 2>&1 || fail "the service did not answer on its socket"
publish() {
  "$ringlog" publish --service cpu-test --runtime-dir "$scratch/run" "$@"
}

json=$(status --json)
suggested=$(sed -nE 's/.*"publisher_cpu":(null|[0-9]+).*/\1/p' <<<"$json")
[ -n "$suggested" ] || fail "no publisher_cpu in the status: $json"
if [ "$(nproc)" -lt 2 ]; then
  [ "$suggested" = null ] || fail "one CPU, yet publisher_cpu is $suggested"
  publish --count 1000 --rate 0 >"$scratch/publish.log" || fail "publish failed"
  grep -q "^publisher  on CPU" "$scratch/publish.log" && fail "pinned with no CPU to spare"
  echo "OK: one CPU, publisher_cpu null, the publisher unpinned"
  exit 0
fi
drain_cpu=$(sed -nE 's/^placement  consumer on CPU ([0-9]+).*/\1/p' <<<"$(status)")
[ -n "$drain_cpu" ] || fail "no consumer CPU in the status: $(status)"
[ "$suggested" != "$drain_cpu" ] || fail "publisher_cpu $suggested is the drain thread's"

# By default on the suggested CPU: said, and so while it writes (a paced run of 10 s at most:
# it is stopped once seen).
"$ringlog" publish --service cpu-test --runtime-dir "$scratch/run" --count 10000000 \
  --rate 1000000 >"$scratch/paced.log" 2>&1 &
publish_pid=$!
pinned_there() {
  grep -q "^publisher  on CPU $suggested (the service's publisher_cpu)$" "$scratch/paced.log" &&
    [ "$(sed -n 's/^Cpus_allowed_list:\s*//p' /proc/$publish_pid/status)" = "$suggested" ]
}
eventually pinned_there ||
  fail "the publisher is not on CPU $suggested: $(cat "$scratch/paced.log"; grep Cpus_allowed_list /proc/$publish_pid/status)"
kill -TERM "$publish_pid"
wait "$publish_pid" 2>/dev/null || true
publish_pid=""

# As asked: another CPU, or none.
publish --count 1000 --rate 0 --cpu "$drain_cpu" >"$scratch/asked.log" || fail "publish --cpu failed"
grep -qx "publisher  on CPU $drain_cpu" "$scratch/asked.log" ||
  fail "--cpu $drain_cpu not obeyed: $(cat "$scratch/asked.log")"
publish --count 1000 --rate 0 --cpu -1 >"$scratch/unpinned.log" || fail "publish --cpu -1 failed"
! grep -q "^publisher  on CPU" "$scratch/unpinned.log" || fail "--cpu -1 pinned it"
if publish --count 1000 --rate 0 --cpu 100000 >"$scratch/refused.log" 2>&1; then
  fail "--cpu 100000 was accepted"
fi
echo "OK: publisher_cpu $suggested (drain thread on $drain_cpu); pinned there by default, as asked otherwise"
