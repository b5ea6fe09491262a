#!/usr/bin/env bash
# Typed events through the tools (tier: suite). The demo's journal carries its schema: dump and
# tail print quotes and trades field by field, as text and JSON, and the decoded fields are the
# payload's bytes; --type and --where select; --raw and a journal without a schema show hex;
# --schema decodes one; a payload shorter than its schema says is shown damaged, never decoded;
# a broken schema is refused with its file and line, by the tools and by check-config; `ringlog
# serve --schema` puts the schema into its journal.
# usage: typed_events.sh <ringlog binary> <source dir>
set -euo pipefail
ringlog=$1
source_dir=$2
schema=$source_dir/src/programs/ringlog/market_data.toml
scratch=$(mktemp -d)
serve_pid=""
trap 'kill -9 $serve_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
. "$source_dir/scripts/lib.sh"
journal=$scratch/journal

# Sized by count, never by time.
"$ringlog" --count 20000 --rate 0 --segment-bytes 1048576 --dir "$journal" >/dev/null
cmp -s "$schema" "$journal/schema.toml" || fail "the demo's journal does not carry its schema"
"$ringlog" dump --json "$journal" >"$scratch/typed"
"$ringlog" dump --json --raw "$journal" >"$scratch/raw"

# Every decoded event's fields are the bytes of its raw payload, read as the schema says.
python3 - "$scratch/typed" "$scratch/raw" <<'PY'
import json, struct, sys
typed = [json.loads(line) for line in open(sys.argv[1])]
raw = [json.loads(line) for line in open(sys.argv[2])]
assert len(typed) == len(raw) == 20000, (len(typed), len(raw))
names = {1: "quote", 2: "trade"}
for t, r in zip(typed, raw):
    assert t["sequence"] == r["sequence"] and t["timestamp"] == r["timestamp"], (t, r)
    payload = bytes.fromhex(r["payload"])
    publisher_sequence, instrument, quantity, price, side = struct.unpack_from("<QIIqB", payload)
    expected = {"sequence": r["sequence"], "timestamp": r["timestamp"],
                "type": names[r["event_type"]], "publisher_sequence": publisher_sequence,
                "instrument": instrument, "quantity": quantity, "price_ticks": price, "side": side}
    assert t == expected, (t, expected)
print("decoded fields agree with the raw payloads of", len(typed), "events")
PY

# --type and --where select exactly the events that match.
count() { python3 -c "import json,sys; print(sum(1 for l in open(sys.argv[1]) if eval(sys.argv[2], {}, json.loads(l))))" "$@"; }
"$ringlog" dump --json --type trade "$journal" >"$scratch/trades"
[ "$(wc -l <"$scratch/trades")" -eq "$(count "$scratch/typed" 'type == "trade"')" ] ||
  fail "--type trade printed $(wc -l <"$scratch/trades") events"
[ "$(count "$scratch/trades" 'type != "trade"')" -eq 0 ] || fail "--type trade printed others"
"$ringlog" dump --json --type trade --where instrument=40 "$journal" >"$scratch/selected"
# (The demo picks a trade and its instrument from one hash: a trade's instrument is a multiple of 10.)
wanted=$(count "$scratch/typed" 'type == "trade" and instrument == 40')
[ "$wanted" -gt 0 ] || fail "the demo wrote no trade of instrument 40 to select"
[ "$(wc -l <"$scratch/selected")" -eq "$wanted" ] ||
  fail "--type trade --where instrument=40 printed $(wc -l <"$scratch/selected") of $wanted"
[ "$("$ringlog" dump --json --type 2 "$journal" | wc -l)" -eq "$(wc -l <"$scratch/trades")" ] ||
  fail "--type 2 and --type trade disagree"

# Text: names and units; tail decodes as dump does.
"$ringlog" tail -n 3 "$journal" >"$scratch/tail"
[ "$(grep -cE '  (quote|trade)  publisher_sequence=[0-9]+  instrument=[0-9]+  quantity=[0-9]+ shares  price_ticks=-?[0-9]+ ticks  side=[01]$' "$scratch/tail")" -eq 3 ] ||
  fail "tail did not decode: $(cat "$scratch/tail")"
[ "$("$ringlog" tail -n 50 --json --type quote "$journal" | grep -c '"type":"quote"')" -gt 0 ] ||
  fail "tail --type quote printed no quote"

# Without a schema: hex, and --where needs one; --schema decodes a journal that has none.
rm "$journal/schema.toml"
grep -q '"payload":"' <<<"$("$ringlog" dump --json "$journal" | head -n 1)" || fail "no hex without a schema"
status=0; "$ringlog" dump --where instrument=42 "$journal" 2>"$scratch/err" >/dev/null || status=$?
[ "$status" -eq 2 ] && grep -q "no schema found" "$scratch/err" || fail "--where without a schema: $status"
"$ringlog" dump --json --schema "$schema" "$journal" | cmp -s - "$scratch/typed" ||
  fail "--schema decoded otherwise than the journal's own schema.toml"

# A payload shorter than its schema says: damaged, shown raw, the journal still intact.
sed 's/payload_len = 32/payload_len = 40/' "$schema" >"$scratch/long.toml"
status=0; "$ringlog" dump --schema "$scratch/long.toml" "$journal" >"$scratch/damaged" || status=$?
[ "$status" -eq 0 ] || fail "dump exited $status on short payloads"
[ "$(grep -c "DAMAGED: payload_len 32 is shorter than the schema's 40" "$scratch/damaged")" -eq 20000 ] ||
  fail "short payloads were not all shown damaged: $(head -n 2 "$scratch/damaged")"

# A broken schema names its file and line, in the tools and in check-config.
sed 's/type = "i64"/type = "i65"/' "$schema" >"$scratch/broken.toml"
line=$(grep -n '"i65"' "$scratch/broken.toml" | head -n 1 | cut -d: -f1)
status=0; "$ringlog" dump --schema "$scratch/broken.toml" "$journal" 2>"$scratch/err" >/dev/null || status=$?
[ "$status" -eq 2 ] || fail "dump with a broken schema exited $status"
grep -qF "$scratch/broken.toml:$line: field \"price_ticks\": unknown type \"i65\"" "$scratch/err" ||
  fail "the refusal does not name the file and line: $(cat "$scratch/err")"
printf '[journal]\ndirectory = "%s"\nschema = "%s"\n' "$scratch/svc" "$scratch/broken.toml" >"$scratch/bad.toml"
status=0; "$ringlog" check-config "$scratch/bad.toml" >/dev/null 2>"$scratch/err" || status=$?
[ "$status" -eq 2 ] && grep -qF "journal.schema: $scratch/broken.toml:$line:" "$scratch/err" ||
  fail "check-config took a broken schema ($status): $(cat "$scratch/err")"

# The service puts the schema it is given into its journal.
cat >"$scratch/serve.toml" <<TOML
[service]
name = "typed-events-test"
runtime_dir = "$scratch/run"
[journal]
directory = "$scratch/svc"
segment_bytes = 1048576
TOML
"$ringlog" serve --config "$scratch/serve.toml" --schema "$schema" >"$scratch/serve.log" 2>&1 &
serve_pid=$!
eventually "$ringlog" status --service typed-events-test --runtime-dir "$scratch/run" >/dev/null 2>&1 ||
  fail "the service did not answer: $(cat "$scratch/serve.log")"
"$ringlog" publish --service typed-events-test --runtime-dir "$scratch/run" --count 1000 \
  --rate 0 >/dev/null || fail "the publisher failed"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "the service did not stop cleanly: $(cat "$scratch/serve.log")"
serve_pid=""
cmp -s "$schema" "$scratch/svc/schema.toml" || fail "serve --schema did not put it into the journal"
[ "$("$ringlog" dump --json "$scratch/svc" | grep -cE '"type":"(quote|trade)"')" -eq 1000 ] ||
  fail "the service's journal does not decode"
echo "PASS: dump and tail decode by the journal's schema, select by type and field, show short payloads damaged"
