#!/usr/bin/env bash
# Power cuts: a journal writer runs in a virtual machine (QEMU's software emulation: no KVM
# needed), the VM is killed at a random moment, and the disk image it leaves is checked on the
# host. Killing the VM takes its RAM, the guest's page cache, with it, while what the guest
# flushed is on the image: unlike SIGKILL, this shows a skipped fdatasync or a rename never made
# durable.
#
# usage: powercut.sh BUILD_DIR WORK_DIR ROUNDS [--lie | --eio | --serve-eio]
#   BUILD_DIR  holds bin/powercut_writer, bin/powercut_check and bin/ringlog
#   --lie      the negative control: the writer reports durable what it never flushed; then
#              at least one round must fail its check, and this exits 0 only if one did.
#   --eio      the disk fails a flush (QEMU's blkdebug) after a random number have passed: the
#              journal must stop naming the error (the EIO, or the read-only file system ext4
#              turns into when its own commit met it first), report nothing durable past the
#              last flush that worked, and the image must hold everything it did report.
#   --serve-eio  the same through `ringlog serve`, fed by `ringlog publish`: `ringlog status`
#              shows the failure, the service exits 1 on SIGTERM with a stop line exact about
#              what is durable, and the image holds that.
# Exit status: 0 every round held (or, with --lie, the lie was caught), 1 not, 77 skipped
# (no QEMU, busybox or kernel package to be had).
set -euo pipefail
build=$1 work=$2 rounds=$3 mode=${4:-}
here="$(cd "$(dirname "$0")" && pwd)"
cache="$build/powercut-cache"  # the kernel and the initramfs, kept between runs

skip() { echo "SKIPPED: $*"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
[ -x /bin/busybox ] || skip "busybox-static is not installed"
command -v cpio >/dev/null || skip "cpio is not installed"
command -v debugfs >/dev/null || skip "debugfs (e2fsprogs) is not installed"

"$here/prepare_vm.sh" "$build" "$cache" || skip "no kernel to boot: $(cat "$cache/why" 2>/dev/null)"

rm -rf "$work"
mkdir -p "$work"
mkfs.ext4 -q -F -b 4096 "$work/pristine.img" 64M >/dev/null

# Boots round `n` on a fresh copy of the image, its disk given as `drive` (a file, or a
# blkdebug: chain over it); the writer runs with `writer_mode`. Sets vm to QEMU's pid.
boot() {
  local n=$1 drive=$2 writer_mode=$3
  cp --sparse=always "$work/pristine.img" "$work/round$n.img"
  qemu-system-x86_64 -accel tcg -m 512 -smp 1 -display none -no-reboot \
    -kernel "$cache/vmlinux" -initrd "$cache/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 quiet ringlog.mode=$writer_mode" \
    -drive "file=$drive,format=raw,if=virtio,cache=none,werror=report,rerror=report" \
    -serial "file:$work/round$n.console" >/dev/null 2>&1 &
  vm=$!
}

# Waits until the console of round `n` shows `reports` durable reports, or the writer ended,
# or the VM did; false when it never did within 300 s (a boot takes seconds: it is broken).
wait_for_reports() {
  local console=$work/round$1.console reports=$2 waited=0
  until [ "$(grep -c '^durable ' "$console" 2>/dev/null)" -ge "$reports" ] 2>/dev/null ||
        grep -q '^exited ' "$console" 2>/dev/null; do
    kill -0 "$vm" 2>/dev/null || return 0
    sleep 0.05
    waited=$((waited + 1))
    [ "$waited" -lt 6000 ] || { kill -9 "$vm"; return 1; }
  done
}

# Kills the VM of round `n`, and leaves its console as plain lines (a serial console ends them
# with CR LF).
cut_power() {
  kill -9 "$vm" 2>/dev/null || true
  wait "$vm" 2>/dev/null || true
  sed -i 's/\r$//' "$work/round$1.console"
}

last_durable() { sed -n 's/^durable \([0-9]*\).*/\1/p' "$work/round$1.console" | tail -1; }
last_appended() { sed -n 's/^durable .* appended \([0-9]*\)$/\1/p' "$work/round$1.console" | tail -1; }

# The image of round `n` as the host finds it: repaired, read out, verified, and checked to
# hold every event below `durable` intact (`events` is "--any-events" for those of `ringlog
# publish`). Sets found_end: the sequence after the last intact event.
check_image() {
  local n=$1 durable=$2 events=${3:-} image="$work/round$1.img" out="$work/round$1"
  e2fsck -fy "$image" >"$out.fsck" 2>&1 || [ $? -le 1 ] ||
    { echo "round $n: e2fsck could not repair the file system"; return 1; }
  rm -rf "$out"
  mkdir -p "$out"
  debugfs -R "rdump /journal $out" "$image" >/dev/null 2>&1
  # ringlog verify reads it as a user would: never unreadable or foreign. A torn tail past
  # the last flush it may call damaged; powercut_check decides whether that was durable.
  local verify=0
  "$build/bin/ringlog" verify "$out/journal" >"$out.verify" 2>&1 || verify=$?
  if [ "$verify" -ge 2 ] || grep -q '^FOREIGN' "$out.verify"; then
    echo "round $n: ringlog verify: $(cat "$out.verify")"
    return 1
  fi
  if ! "$build/bin/powercut_check" "$out/journal" "$durable" $events >"$out.check"; then
    echo "round $n: durable below $durable: $(cat "$out.check")"
    return 1
  fi
  found_end=$(sed -n 's/^journal holds events [0-9]* to \([0-9]*\);.*/\1/p' "$out.check")
  found_end=$((${found_end:--1} + 1))
  rm -rf "$out" "$image"
}

# Boot, let the writer report a random number of flushes, cut the power, check.
power_cut_round() {
  local n=$1 reports=$((RANDOM % 40 + 1))
  boot "$n" "$work/round$n.img" "${mode:-honest}"
  wait_for_reports "$n" "$reports" || { echo "round $n: the writer reported nothing"; return 1; }
  sleep "0.$((RANDOM % 10))"  # the cut lands anywhere between two reports
  cut_power "$n"
  if grep -q '^failed ' "$work/round$n.console"; then
    echo "round $n: the writer failed: $(grep '^failed ' "$work/round$n.console")"
    return 1
  fi
  # The writer runs until the cut: one that ended (a crash) or a VM that died first left less
  # to check than the round claims.
  if grep -q '^exited ' "$work/round$n.console"; then
    echo "round $n: the writer ended before the cut: $(grep '^exited ' "$work/round$n.console")"
    return 1
  fi
  if [ "$(grep -c '^durable ' "$work/round$n.console")" -lt "$reports" ]; then
    echo "round $n: the VM ended after fewer than $reports reports"
    return 1
  fi
  local durable appended
  durable=$(last_durable "$n")
  appended=$(last_appended "$n")
  check_image "$n" "${durable:-0}" || return 1
  # What the writer had appended when it last reported, and the cut took: the page cache's
  # share, which a cut must be able to take for the rounds to prove anything.
  local tail_lost=$((${appended:-0} - found_end))
  echo "round $n: cut after $reports report(s), durable below ${durable:-0}, appended" \
       "${appended:-0}, found below $found_end, unsynced tail lost $((tail_lost > 0 ? tail_lost : 0)): intact"
}

# Boots round `n` running `program` (honest, or serve) on a disk that fails flush number
# passes + 1, a random number of flushes in; waits until the program ended, then cuts the power.
# Sets failing_flush to that number.
boot_with_a_failing_flush() {
  local n=$1 program=$2 passes=$((RANDOM % 30 + 10)) rules="$work/round$1.blkdebug"
  : >"$rules"
  for state in $(seq 1 "$passes"); do
    printf '[set-state]\nstate = "%d"\nevent = "flush_to_disk"\nnew_state = "%d"\n\n' \
      "$state" $((state + 1)) >>"$rules"
  done
  printf '[inject-error]\nstate = "%d"\nevent = "flush_to_disk"\niotype = "flush"\nerrno = "5"\n' \
    $((passes + 1)) >>"$rules"
  failing_flush=$((passes + 1))
  boot "$n" "blkdebug:$rules:$work/round$n.img" "$program"
  wait_for_reports "$n" 1000000 || { echo "round $n: the $program run never stopped"; return 1; }
  cut_power "$n"
}

# The writer's own flush meets the EIO, or ext4's journal commit does first and the file system
# turns read-only under it: either way the error is one of these.
failed_flush_error='(Input/output error|Read-only file system)'

# The writer must stop on the failed flush, naming the error, and report nothing durable after.
eio_round() {
  local n=$1 console=$work/round$1.console
  boot_with_a_failing_flush "$n" honest || return 1
  if ! grep -Eq "^failed .*$failed_flush_error" "$console"; then
    echo "round $n: flush $failing_flush failed, and the writer did not stop naming the error:" \
         "$(grep -E '^(opened|failed|exited)' "$console" | tr '\n' ' ')"
    return 1
  fi
  if grep -q '^durable ' <<<"$(sed -n '/^failed /,$p' "$console")"; then
    echo "round $n: durable reported after the failed flush"
    return 1
  fi
  local durable
  durable=$(last_durable "$n")
  check_image "$n" "${durable:-0}" || return 1
  echo "round $n: flush $failing_flush failed; the journal stopped, durable below ${durable:-0}: intact"
}

# The same through `ringlog serve`: its status shows the failure and a durable sequence that
# the stop line repeats (it never moved on), it exits 1, and the image holds what it said.
serve_eio_round() {
  local n=$1 console=$work/round$1.console
  boot_with_a_failing_flush "$n" serve || return 1
  local status stop said_durable durable
  status=$(sed -n 's/^status //p' "$console")
  stop=$(grep -a '^stopped: ' "$console" | tail -1)
  said_durable=$(sed -nE 's/.*"journal_durable_sequence":([0-9]+).*/\1/p' <<<"$status")
  durable=$(sed -nE 's/^stopped: the journal FAILED \(.*\): sequences below ([0-9]+) are durable.*/\1/p' <<<"$stop")
  local problem=""
  grep -Eq "\"failure\":\"[^\"]*$failed_flush_error" <<<"$status" ||
    problem="ringlog status does not show the failure: ${status:-nothing}"
  grep -q '^serve exited 1$' "$console" || problem="the service did not exit 1: $(grep '^serve exited' "$console")"
  [ -n "$durable" ] || problem="the stop line does not say what is durable: ${stop:-none}"
  [ "$durable" = "$said_durable" ] ||
    problem="status said durable below $said_durable, the stop line below $durable"
  if [ -n "$problem" ]; then
    echo "round $n: flush $failing_flush failed; $problem"
    grep -aE '^(FAILED|publish|serve|exited|stopped)' "$console" | sed 's/^/  /'
    return 1
  fi
  check_image "$n" "$durable" --any-events || return 1
  echo "round $n: flush $failing_flush failed; ringlog serve showed it, exited 1, durable below $durable: intact"
}

failed=0
for n in $(seq 1 "$rounds"); do
  case $mode in
    --eio) eio_round "$n" || failed=$((failed + 1)) ;;
    --serve-eio) serve_eio_round "$n" || failed=$((failed + 1)) ;;
    *) power_cut_round "$n" || failed=$((failed + 1)) ;;
  esac
done
if [ "$mode" = "--lie" ]; then
  [ "$failed" -gt 0 ] || { echo "NEGATIVE CONTROL PASSED: the check cannot see a missing flush"; exit 1; }
  echo "negative control: $failed of $rounds round(s) caught the writer that never flushed"
  exit 0
fi
[ "$failed" -eq 0 ] || { echo "$failed of $rounds round(s) failed"; exit 1; }
echo "$rounds round(s): every event reported durable was on the disk, intact"
