#!/usr/bin/env bash
# [metrics] listen: ringlog serve answers GET /metrics over HTTP with what `ringlog status
# --prometheus` prints, which promtool (Prometheus' own checker) accepts; civetweb's threads run
# on the housekeeping CPUs only; any other path is a 404 and a POST a 405; a second service
# asking for the same address does not start, and says which address.
# usage: metrics_endpoint.sh <ringlog binary>
set -euo pipefail
ringlog=$1
command -v promtool >/dev/null || { echo "SKIP: no promtool (Debian's prometheus package)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
scratch=$(mktemp -d)
serve_pid=""
trap 'kill -9 $serve_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; cat "$scratch"/serve*.log 2>/dev/null || true; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"

port=$(free_port)
placement=""
# The last CPU for the consumer, the rest for housekeeping; one CPU shares it.
last_cpu=$(($(nproc) - 1))
if [ "$last_cpu" -gt 0 ]; then
  placement="[placement]
consumer_cpu = $last_cpu
housekeeping_cpus = [$(seq -s, 0 $((last_cpu - 1)))]"
fi
cat >"$scratch/ringlog.toml" <<TOML
[service]
name = "metrics-test"
runtime_dir = "$scratch/run"
[journal]
directory = "$scratch/journal"
$placement
[metrics]
listen = "$port"
[[channels]]
name = "orders"
TOML
"$ringlog" serve --config "$scratch/ringlog.toml" >"$scratch/serve.log" 2>&1 &
serve_pid=$!
eventually curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" || fail "no /metrics on port $port"
"$ringlog" publish --service metrics-test --runtime-dir "$scratch/run" --channel orders \
  --count 100000 --rate 0 >"$scratch/publish.log" || fail "publish failed"

curl -sf "http://127.0.0.1:$port/metrics" >"$scratch/metrics.txt" || fail "scrape failed"
promtool check metrics <"$scratch/metrics.txt" || fail "promtool rejects the exposition"
grep -q '^ringlog_publisher_durable_events_total{channel="orders"} 100000$' "$scratch/metrics.txt" ||
  fail "the channel's durable events are not 100000: $(grep durable_events "$scratch/metrics.txt")"
grep -q '^ringlog_publisher_durable_latency_seconds_count{channel="orders"} [1-9]' \
  "$scratch/metrics.txt" || fail "the durable latency histogram is empty"
grep -q '^ringlog_journal_events_total 100000$' "$scratch/metrics.txt" ||
  fail "the journal's events are not 100000"

code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/etc/passwd")
[ "$code" = 404 ] || fail "another path answered $code, not 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics")
[ "$code" = 405 ] || fail "a POST answered $code, not 405"

if [ -n "$placement" ]; then
  web_threads=0
  for task in /proc/$serve_pid/task/*; do
    grep -q '^civetweb' "$task/comm" || continue
    web_threads=$((web_threads + 1))
    cpus=$(sed -n 's/^Cpus_allowed_list:\s*//p' "$task/status")
    expected=$([ "$last_cpu" -eq 1 ] && echo 0 || echo "0-$((last_cpu - 1))")
    [ "$cpus" = "$expected" ] || fail "$(cat "$task/comm") runs on CPUs $cpus, not $expected"
  done
  [ "$web_threads" -gt 0 ] || fail "no civetweb thread found to check its CPUs"
fi
grep -q "127.0.0.1:$port" <<<"$(ss -ltn "sport = :$port")" || fail "not listening on loopback alone"

# The same address for a second service (a name and runtime directory of its own).
sed "s|metrics-test|metrics-test-2|; s|$scratch/run|$scratch/run2|; s|$scratch/journal|$scratch/journal2|" \
  "$scratch/ringlog.toml" >"$scratch/second.toml"
if "$ringlog" serve --config "$scratch/second.toml" --duration 5 >"$scratch/serve2.log" 2>&1; then
  fail "a second service started on a port in use"
fi
grep -q "listen = \"127.0.0.1:$port\"" "$scratch/serve2.log" ||
  fail "the refusal does not name the address: $(cat "$scratch/serve2.log")"

kill -TERM "$serve_pid"
wait "$serve_pid" || fail "the service did not stop cleanly"
serve_pid=""
echo "OK: /metrics served on 127.0.0.1:$port, promtool accepts it"
