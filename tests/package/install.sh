#!/usr/bin/env bash
# The Debian packages installed for real (dpkg -i, as root), then removed and purged: the
# program runs from /usr/bin, the service's user exists, the unit in /lib/systemd/system passes
# systemd-analyze verify, a user project builds against the installed libringlog-dev with
# find_package, and python3 imports the installed ringlog module; removal keeps the configuration (a conffile), purge takes it. The host is left
# as it was: a ringlog user this test created is deleted again.
# usage: install.sh <build dir> <source dir>
set -euo pipefail
build_dir=$1
source_dir=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: installing a package needs root"; exit 77; }
if grep -q "ok installed" <<<"$(dpkg-query -W -f='${Status}' ringlog libringlog-dev python3-ringlog 2>/dev/null)"; then
  echo "SKIP: ringlog is installed on this host already; this test does not replace it"
  exit 77
fi
for tool in dpkg systemd-analyze; do
  command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
scratch=$(mktemp -d)
user_existed=$(getent passwd ringlog >/dev/null && echo yes || echo no)
cleanup() {
  dpkg --purge python3-ringlog libringlog-dev ringlog >/dev/null 2>&1 || true
  if [ "$user_existed" = no ]; then
    userdel ringlog 2>/dev/null || true
    groupdel ringlog 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/packages.sh"
make_packages

dpkg -i "$runtime_deb" "$dev_deb" "$python_deb" >"$scratch/dpkg.log" 2>&1 ||
  fail "dpkg -i: $(cat "$scratch/dpkg.log")"
/usr/bin/ringlog --help >/dev/null || fail "the installed ringlog does not run"
getent passwd ringlog >/dev/null || fail "no ringlog user after the install"
verify_unit ""
cmake -S "$source_dir/tests/package" -B "$scratch/user" >/dev/null ||
  fail "find_package(ringlog) does not find the installed libringlog-dev"
cmake --build "$scratch/user" >/dev/null || fail "a user project does not build against it"
"$scratch/user/user" >/dev/null || fail "the user project's program failed"
imported=$(cd / && /usr/bin/python3 -c "import ringlog; print(ringlog.__file__)") ||
  fail "the installed python3-ringlog does not import"
[ "$imported" = /usr/lib/python3/dist-packages/ringlog/__init__.py ] ||
  fail "python3 imported ringlog from $imported"

dpkg -r python3-ringlog libringlog-dev ringlog >/dev/null || fail "dpkg -r failed"
[ ! -e /usr/bin/ringlog ] || fail "/usr/bin/ringlog outlived the removal"
[ -f /etc/ringlog/ringlog.toml ] || fail "removal took the configuration (a conffile stays)"
dpkg --purge ringlog >/dev/null || fail "dpkg --purge failed"
[ ! -e /etc/ringlog/ringlog.toml ] || fail "purge left /etc/ringlog/ringlog.toml"
echo "OK: installed, verified, built against, removed and purged"
