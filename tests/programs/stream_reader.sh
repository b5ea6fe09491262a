#!/usr/bin/env bash
# The JavaScript reader (scripts/stream-reader/read.js), written from src/README.md's block format
# alone, reads what `ringlog ship` put into a real stream, in blocks and in events one a
# message, and prints exactly what `ringlog dump --json --raw` prints of the journal, event for event.
# A zstd stream it decodes where its Node.js can, and refuses, saying why, where it cannot.
# usage: stream_reader.sh <ringlog binary> <source dir>
#   (exit 77: nats-server, Node.js or the reader's npm modules are not installed)
set -euo pipefail
ringlog=$1 reader=$2/scripts/stream-reader/read.js
nats_server=/usr/sbin/nats-server
[ -x "$nats_server" ] || { echo "SKIP: $nats_server is not installed"; exit 77; }
command -v node >/dev/null || { echo "SKIP: Node.js is not installed (scripts/deps)"; exit 77; }
[ -d "$2/scripts/stream-reader/node_modules/nats" ] ||
  { echo "SKIP: the reader's npm modules are not installed (scripts/deps runs npm ci)"; exit 77; }
scratch=$(mktemp -d)
nats_pid=""
trap 'kill -9 $nats_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"

"$nats_server" -js -sd "$scratch/nats" -a 127.0.0.1 -p -1 >"$scratch/nats.log" 2>&1 &
nats_pid=$!
listening() { grep -qE "Listening for client connections on 127.0.0.1:[0-9]+" "$scratch/nats.log"; }
eventually listening || fail "nats-server did not start"
url="nats://127.0.0.1:$(sed -nE 's/.*client connections on 127.0.0.1:([0-9]+).*/\1/p' "$scratch/nats.log")"

# Market data of every kind the demo writes: payloads of several sizes, types and timestamps.
"$ringlog" --count 20000 --rate 0 --dir "$scratch/journal" >/dev/null
"$ringlog" dump --json --raw "$scratch/journal" >"$scratch/dump"
[ "$(wc -l <"$scratch/dump")" -eq 20000 ] || fail "the demo journal holds $(wc -l <"$scratch/dump") events"

# ship_and_read FORM COMPRESS: ships the journal into a stream of its own; the reader's output.
ship_and_read() {
  "$ringlog" ship "$scratch/journal" --nats "$url" --stream "READ_$1_$2" --subject "read.$1.$2" \
    --format "$1" --compress "$2" --until-caught-up >/dev/null
  node "$reader" --nats "$url" --stream "READ_$1_$2" --subject "read.$1.$2" \
    >"$scratch/read-$1-$2" 2>"$scratch/read-$1-$2.err"
}
for form in "blocks none" "events none"; do
  set -- $form
  ship_and_read "$1" "$2" || fail "the reader failed on $1: $(cat "$scratch/read-$1-$2.err")"
  cmp -s "$scratch/dump" "$scratch/read-$1-$2" ||
    fail "the reader disagrees with ringlog dump on $1: $(diff "$scratch/dump" "$scratch/read-$1-$2" | head -n 4)"
done

if node -e 'process.exit(typeof require("zlib").zstdDecompressSync === "function" ? 0 : 1)'; then
  ship_and_read blocks zstd || fail "the reader failed on zstd: $(cat "$scratch/read-blocks-zstd.err")"
  cmp -s "$scratch/dump" "$scratch/read-blocks-zstd" || fail "the reader disagrees on zstd blocks"
  zstd="decoded zstd blocks"
else
  ! ship_and_read blocks zstd || fail "a Node.js without zstd read a zstd stream"
  grep -q 'compressed with "zstd", which this Node.js cannot decompress' \
    "$scratch/read-blocks-zstd.err" || fail "the refusal does not say why: $(cat "$scratch/read-blocks-zstd.err")"
  zstd="refused zstd blocks, saying why (Node.js $(node --version) has no zstd)"
fi
echo "OK: the reader agrees with ringlog dump on 20000 events in blocks and in events; $zstd"
