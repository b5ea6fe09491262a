#!/usr/bin/env bash
# ringlog serve with [ship]: publishers' events reach a NATS JetStream stream exactly once and in
# order while the service is SIGKILLed and restarted, and while the NATS server is SIGKILLed and
# restarted; `ringlog status` reports the shipper; `ringlog fetch` rebuilds a journal that
# `ringlog verify` passes and whose events are the service journal's, byte for byte, with the
# schema it is given, and a report of the events by type, decoded.
# usage: service_ship.sh <ringlog binary> [blocks|events]   (the form of the stream; exit 77:
# nats-server is not installed)
set -euo pipefail
ringlog=$1 format=${2:-blocks}
nats_server=/usr/sbin/nats-server
[ -x "$nats_server" ] || { echo "SKIP: $nats_server is not installed"; exit 77; }
scratch=$(mktemp -d)
serve_pid="" publish_pid="" nats_pid=""
trap 'kill -9 $serve_pid $publish_pid $nats_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; tail -n 20 "$scratch"/*.log; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"

nats_port=""
start_nats() {  # on a port of the kernel's choosing the first time, on the same one after
  "$nats_server" -js -sd "$scratch/nats" -a 127.0.0.1 -p "${nats_port:--1}" \
    >>"$scratch/nats.log" 2>&1 &
  nats_pid=$!
  listening() { grep -qE "Listening for client connections on 127.0.0.1:[0-9]+" "$scratch/nats.log"; }
  eventually listening || fail "nats-server did not start"
  nats_port=$(sed -nE 's/.*client connections on 127.0.0.1:([0-9]+).*/\1/p' "$scratch/nats.log" |
    tail -n 1)
}
start_nats
cat >"$scratch/ringlog.toml" <<TOML
[service]
name = "ship-test"
runtime_dir = "$scratch/run"
[journal]
directory = "$scratch/journal"
segment_bytes = 4194304
[ship]
nats = ["nats://127.0.0.1:$nats_port"]
stream = "SHIPSERVICE"
subject = "ship.test"
format = "$format"
TOML
status() { "$ringlog" status --service ship-test --runtime-dir "$scratch/run" "$@"; }
serve() {
  "$ringlog" serve --config "$scratch/ringlog.toml" >>"$scratch/serve.log" 2>&1 &
  serve_pid=$!
  eventually status >/dev/null 2>&1 || fail "the service did not come up"
}
metric() { status --prometheus | sed -nE "s/^$1\\{[^}]*\\} ([0-9.]+)$/\\1/p"; }
durable() { status --json | sed -nE 's/.*"journal_durable_sequence":([0-9]+).*/\1/p'; }
at_least() { [ "$("$1")" -ge "$2" ] 2>/dev/null; }

serve
# Tier: suite (300,000 events); soak (RINGLOG_TEST_TIER=soak: 1,200,000).
scale=1
[ "${RINGLOG_TEST_TIER:-}" = soak ] && scale=4
"$ringlog" publish --service ship-test --runtime-dir "$scratch/run" --count $((scale * 300000)) \
  --rate 200000 >"$scratch/publish.log" 2>&1 &
publish_pid=$!
eventually at_least durable $((scale * 75000)) ||
  fail "the service did not make $((scale * 75000)) events durable"
kill -9 "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
serve
shipped() { metric ringlog_ship_shipped_events_total | cut -d. -f1; }
eventually at_least shipped $((scale * 150000)) ||
  fail "the shipper did not get past event $((scale * 150000))"
kill -9 "$nats_pid"
wait "$nats_pid" 2>/dev/null || true
start_nats
wait "$publish_pid" || fail "the publisher did not finish (exit $?)"
publish_pid=""

caught_up() {
  [ "$(metric ringlog_ship_lag_events)" = 0 ] &&
    [ "$(shipped)" = "$(status --json | sed -nE 's/.*"journal_next_sequence":([0-9]+).*/\1/p')" ]
}
eventually caught_up || fail "the shipper did not catch up: $(status)"
grep -qE "^ship +stream SHIPSERVICE \(ship.test, $format\): shipped [0-9]+ of [0-9]+, lag 0 " \
  <<<"$(status)" ||
  fail "ringlog status does not report the shipper: $(status)"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "the service did not stop cleanly"
serve_pid=""

# The fetch puts the demo's schema into the copy and reports what it brought by type, decoded.
schema=$(dirname "$0")/../../src/programs/ringlog/market_data.toml
"$ringlog" fetch "$scratch/copy" --nats "nats://127.0.0.1:$nats_port" --stream SHIPSERVICE \
  --subject ship.test --schema "$schema" >"$scratch/fetch.log" 2>&1 || fail "ringlog fetch failed"
"$ringlog" verify "$scratch/copy" >"$scratch/verify.log" || fail "the fetched journal is damaged"
cmp -s "$schema" "$scratch/copy/schema.toml" || fail "fetch --schema did not put it into the copy"
grep -qE '^ringlog fetch: last event: +[0-9]+  ts +[0-9]+  (quote|trade)  publisher_sequence=' \
  "$scratch/fetch.log" || fail "the fetch report does not decode its last event"
by_type=$(sed -nE 's/^ringlog fetch: by type: ([0-9]+) quote, ([0-9]+) trade$/\1 + \2/p' "$scratch/fetch.log")
[ -n "$by_type" ] && [ $((by_type)) -eq "$(sed -nE 's/^ringlog fetch: ([0-9]+) event.*/\1/p' "$scratch/fetch.log")" ] ||
  fail "the fetch report's counts by type: $(cat "$scratch/fetch.log")"
"$ringlog" dump --json --raw "$scratch/journal" >"$scratch/original"
"$ringlog" dump --json --raw "$scratch/copy" >"$scratch/fetched"
cmp -s "$scratch/original" "$scratch/fetched" ||
  fail "the stream's events differ from the journal's: $(diff "$scratch/original" \
    "$scratch/fetched" | head -n 4)"
echo "OK: $(wc -l <"$scratch/original") events shipped as $format exactly once across a service and a" \
  "NATS server SIGKILL; $(tail -n 1 "$scratch/verify.log")"
