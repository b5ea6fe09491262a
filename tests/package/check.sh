#!/usr/bin/env bash
# Installs ringlog from a build tree into a scratch prefix, then builds and runs a user project
# against it with find_package, and again with add_subdirectory on the source tree.
# usage: check.sh <ringlog source dir> <ringlog build dir>
set -euo pipefail
source_dir=$1
build_dir=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The library's component only: the program's system files (/etc, the unit) are the Debian
# package's, at absolute paths in a build for /usr.
cmake --install "$build_dir" --prefix "$scratch/prefix" --component dev >/dev/null
cmake -S "$source_dir/tests/package" -B "$scratch/by-find-package" \
  -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/by-find-package" --parallel 2 >/dev/null
"$scratch/by-find-package/user"

cmake -S "$source_dir/tests/package" -B "$scratch/by-subdirectory" \
  -DRINGLOG_SOURCE_DIR="$source_dir" >/dev/null
cmake --build "$scratch/by-subdirectory" --parallel 2 >/dev/null
"$scratch/by-subdirectory/user"
[ ! -e "$scratch/by-subdirectory/ringlog/tests" ] ||
  { echo "FAIL: tests were built for a project that is not top-level"; exit 1; }
echo "PASS: find_package(ringlog) and add_subdirectory both give ringlog::ringlog"
