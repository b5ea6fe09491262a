#!/usr/bin/env bash
# `ringlog check-config` passes exactly what `ringlog serve` starts with: on each configuration
# below both refuse (exit 2) with the same words, or both accept.
# usage: check_config_agrees_with_serve.sh <ringlog binary>
set -euo pipefail
ringlog=$1
scratch=$(mktemp -d)
chmod 755 "$scratch"  # the unprivileged case below reads its files
serve_pid=""
trap 'kill -9 $serve_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"

# write NAME [EXTRA TOML]: a configuration whose journal and runtime directories are its own.
write() {
  printf '[service]\nname = "%s"\nruntime_dir = "%s"\n[journal]\ndirectory = "%s"\n%s\n' \
    "$1" "$scratch/run" "$scratch/$1-journal" "${2:-}" >"$scratch/$1.toml"
}
# both_refuse NAME [COMMAND PREFIX...]: check-config and serve both exit 2, with the same words.
both_refuse() {
  local name=$1 checked=0 served=0
  shift
  "$@" "$ringlog" check-config "$scratch/$name.toml" >/dev/null 2>"$scratch/$name.check" ||
    checked=$?
  "$@" "$ringlog" serve --config "$scratch/$name.toml" >/dev/null 2>"$scratch/$name.serve" ||
    served=$?
  [ "$checked" -eq 2 ] || fail "$name: check-config exited $checked: $(cat "$scratch/$name.check")"
  [ "$served" -eq 2 ] || fail "$name: serve exited $served: $(cat "$scratch/$name.serve")"
  local words  # what follows the program's name
  words=$(sed -nE 's/^ringlog check-config: //p' "$scratch/$name.check")
  [ -n "$words" ] && grep -qF "$words" "$scratch/$name.serve" ||
    fail "$name: check-config said '$(cat "$scratch/$name.check")', serve '$(cat "$scratch/$name.serve")'"
  echo "both refuse $name: $words"
}

write too_large "segment_bytes = 1099511627776"
both_refuse too_large
grep -q "above the largest allowed" "$scratch/too_large.check" ||
  fail "too large is not said as too large: $(cat "$scratch/too_large.check")"

echo "a file" >"$scratch/plain-file"
write under_a_file
sed -i "s|^directory = .*|directory = \"$scratch/plain-file/journal\"|" "$scratch/under_a_file.toml"
both_refuse under_a_file

write not_a_journal
mkdir -p "$scratch/not_a_journal-journal" && echo notes >"$scratch/not_a_journal-journal/notes.txt"
both_refuse not_a_journal

# A journal a writer refuses: a segment in the middle lost, durable ones after it.
write gap
"$ringlog" --count 100000 --rate 0 --segment-bytes 1048576 --dir "$scratch/gap-journal" >/dev/null
rm "$(ls "$scratch"/gap-journal/*.evtl | sed -n 2p)"
both_refuse gap
grep -q "holds durable events; refusing to append" "$scratch/gap.check" ||
  fail "the gap is not the reason: $(cat "$scratch/gap.check")"

write no_group
sed -i 's|^\[journal\]|group = "no-such-group-here"\n[journal]|' "$scratch/no_group.toml"
both_refuse no_group

write long_socket
sed -i "s|^runtime_dir = .*|runtime_dir = \"$scratch/$(printf 'r%.0s' $(seq 120))\"|" \
  "$scratch/long_socket.toml"
both_refuse long_socket

printf '[service]\nname = "cpu"\nruntime_dir = "%s"\n[journal]\ndirectory = "%s"\n[placement]\nconsumer_cpu = 4000\n' \
  "$scratch/run" "$scratch/cpu-journal" >"$scratch/cpu.toml"
both_refuse cpu

# A journal directory this process may not write: as an unprivileged user (root writes anywhere).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 &&
   getent group nogroup >/dev/null; then
  write read_only
  mkdir -m 0555 "$scratch/read_only-journal"
  mkdir -m 0777 "$scratch/run-nobody"
  sed -i "s|^runtime_dir = .*|runtime_dir = \"$scratch/run-nobody\"|" "$scratch/read_only.toml"
  both_refuse read_only setpriv --reuid=nobody --regid=nogroup --clear-groups
else
  echo "SKIPPED the read-only journal directory: needs root, setpriv, user nobody, group nogroup"
fi

# A configuration check-config passes, serve starts with.
write fine
"$ringlog" check-config "$scratch/fine.toml" >/dev/null || fail "check-config refused fine.toml"
"$ringlog" serve --config "$scratch/fine.toml" >"$scratch/fine.log" 2>&1 &
serve_pid=$!
answers() { "$ringlog" status --service fine --runtime-dir "$scratch/run" >/dev/null 2>&1; }
eventually answers || fail "serve did not start with what check-config passed"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "serve did not stop cleanly"
serve_pid=""
echo "OK: check-config and serve agree"
