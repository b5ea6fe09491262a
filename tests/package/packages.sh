# What the two package tests share; each sources it. Needs $build_dir and $scratch.

# make_packages: the three .deb files of the build in $build_dir, into $scratch/packages; exits 77
# (skip) for a build not configured for /usr, whose paths a package cannot carry.
make_packages() {
  local prefix
  prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build_dir/CMakeCache.txt")
  if [ "$prefix" != /usr ]; then
    echo "SKIP: $build_dir is configured for $prefix, not /usr (scripts/build configures /usr)"
    exit 77
  fi
  cpack --config "$build_dir/CPackConfig.cmake" -B "$scratch/packages" >/dev/null ||
    fail "cpack could not build the packages"
  runtime_deb=$(echo "$scratch"/packages/ringlog_*.deb)
  dev_deb=$(echo "$scratch"/packages/libringlog-dev_*.deb)
  python_deb=$(echo "$scratch"/packages/python3-ringlog_*.deb)
  [ -f "$runtime_deb" ] && [ -f "$dev_deb" ] && [ -f "$python_deb" ] ||
    fail "cpack made: $(ls "$scratch/packages")"
}

# verify_unit ROOT: systemd-analyze verify on ringlog.service as installed under ROOT ("" for
# this host), which must print nothing: it reports a bad line on stderr and still exits 0.
verify_unit() {
  local root=$1 output
  if [ -n "$root" ]; then
    # A root it can resolve the unit's dependencies and commands in: this host's own units,
    # a /bin/sh for ExecReload, a /tmp of its own.
    mkdir -p "$root/tmp" "$root/bin"
    cp -an /lib/systemd/system/. "$root/lib/systemd/system/"
    cp /bin/sh "$root/bin/sh"
    output=$(systemd-analyze verify --man=no --root="$root" ringlog.service 2>&1) ||
      fail "systemd-analyze verify failed: $output"
  else
    output=$(systemd-analyze verify --man=no ringlog.service 2>&1) ||
      fail "systemd-analyze verify failed: $output"
  fi
  [ -z "$output" ] || fail "systemd-analyze verify complains: $output"
}
