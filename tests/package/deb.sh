#!/usr/bin/env bash
# The Debian packages from this build: lintian finds no error in them; their dependencies are
# computed (the program's shared libraries) and their conffiles declared; the unit passes
# systemd-analyze verify; and the ringlog extracted from the package (dpkg-deb -x into a scratch
# root) serves its packaged configuration, pointed at scratch directories: it starts, a
# publisher's events become durable, /metrics answers, it stops cleanly; and the Python reader
# extracted from python3-ringlog imports and reads that journal.
# usage: deb.sh <build dir>
set -euo pipefail
build_dir=$1
for tool in lintian dpkg-deb systemd-analyze curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: no $tool (scripts/deps installs it)"; exit 77; }
done
scratch=$(mktemp -d)
serve_pid=""
trap 'kill -9 $serve_pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; cat "$scratch/serve.log" 2>/dev/null || true; exit 1; }
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/packages.sh"
make_packages

lintian --fail-on error "$runtime_deb" "$dev_deb" "$python_deb" || fail "lintian reports errors"
python_depends=$(dpkg-deb -f "$python_deb" Depends)
[[ "$python_depends" == *python3-numpy* ]] || fail "python3-ringlog does not depend on numpy: $python_depends"
depends=$(dpkg-deb -f "$runtime_deb" Depends)
for library in libcivetweb1 libsystemd0 libnats liburing2 libhwloc15 libc6; do
  [[ "$depends" == *"$library"* ]] || fail "Depends lacks $library: $depends"
done
dev_files=$(dpkg-deb -c "$dev_deb")
grep -q '/usr/share/doc/libringlog-dev/README.md$' <<<"$dev_files" ||
  fail "libringlog-dev lacks the API contract (include/ringlog/README.md)"
conffiles=$(dpkg-deb -I "$runtime_deb" conffiles)
for conffile in /etc/ringlog/ringlog.toml /etc/logrotate.d/ringlog; do
  grep -qx "$conffile" <<<"$conffiles" || fail "$conffile is no conffile: $conffiles"
done

root=$scratch/root
dpkg-deb -x "$runtime_deb" "$root"
verify_unit "$root"
ringlog=$root/usr/bin/ringlog
packaged=$root/etc/ringlog/ringlog.toml
grep -q '^runtime_dir = "/run/ringlog"$' "$packaged" || fail "packaged runtime_dir is not /run/ringlog"
port=$(free_port)
sed -e "s|^runtime_dir = .*|runtime_dir = \"$scratch/run\"|" \
    -e "s|^directory = .*|directory = \"$scratch/journal\"|" \
    -e "s|^group = .*|group = \"\"|" -e "s|^listen = .*|listen = \"$port\"|" \
    "$packaged" >"$scratch/ringlog.toml"
"$ringlog" check-config "$scratch/ringlog.toml" >/dev/null || fail "check-config refuses it"
"$ringlog" serve --config "$scratch/ringlog.toml" >"$scratch/serve.log" 2>&1 &
serve_pid=$!
eventually "$ringlog" status --runtime-dir "$scratch/run" >/dev/null 2>&1 ||
  fail "the extracted ringlog serve did not answer"
"$ringlog" publish --runtime-dir "$scratch/run" --count 20000 --rate 0 >/dev/null ||
  fail "the extracted ringlog publish failed"
# Read whole before grep -q looks: it stops at the first match, and curl, still writing into the
# pipe, would fail.
metrics=$(curl -sf "http://127.0.0.1:$port/metrics") || fail "/metrics did not answer"
grep -q '^ringlog_journal_durable_events_total 20000$' <<<"$metrics" ||
  fail "/metrics does not show 20000 durable events"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "the extracted ringlog serve did not stop cleanly"
serve_pid=""
grep -q "^stopped: journal holds sequences up to 20000, all durable" "$scratch/serve.log" ||
  fail "no clean stop line"

dpkg-deb -x "$python_deb" "$root"
read_back=$(cd / && PYTHONPATH="$root/usr/lib/python3/dist-packages" /usr/bin/python3 -c "
import ringlog, sys
print(ringlog.__file__)
arrays = ringlog.Journal(sys.argv[1]).read()
print(sum(len(a) for a in arrays.values()))" "$scratch/journal") ||
  fail "the extracted python3-ringlog does not import and read: $read_back"
[ "$(sed -n 1p <<<"$read_back")" = "$root/usr/lib/python3/dist-packages/ringlog/__init__.py" ] ||
  fail "python3 imported another ringlog: $read_back"
[ "$(sed -n 2p <<<"$read_back")" = 20000 ] || fail "the Python reader read $read_back events"
echo "OK: lintian clean, unit verified, the extracted ringlog served and stopped, its journal read from Python"
