#!/usr/bin/env bash
# Power cuts: a journal writer runs in a virtual machine (QEMU's software emulation: no KVM
# needed), the VM is killed at a random moment, and the disk image it leaves is checked on the
# host. Killing the VM takes its RAM, the guest's page cache, with it, while what the guest
# flushed is on the image: unlike SIGKILL, this shows a skipped fdatasync or a rename never made
# durable.
#
# usage: powercut.sh BUILD_DIR WORK_DIR ROUNDS [--lie]
#   BUILD_DIR  holds bin/powercut_writer, bin/powercut_check and bin/ringlog
#   --lie      the negative control: the writer reports durable what it never flushed; then
#              at least one round must fail its check, and this exits 0 only if one did.
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

# One round: boot, let the writer report `reports` flushes, cut, check. Prints the verdict.
round() {
  local n=$1 reports=$((RANDOM % 40 + 1))
  local image="$work/round$n.img" console="$work/round$n.console"
  cp --sparse=always "$work/pristine.img" "$image"
  qemu-system-x86_64 -accel tcg -m 512 -smp 1 -display none -no-reboot \
    -kernel "$cache/vmlinux" -initrd "$cache/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 quiet ringlog.mode=${mode:-honest}" \
    -drive "file=$image,format=raw,if=virtio,cache=none" \
    -serial "file:$console" >/dev/null 2>&1 &
  local vm=$! waited=0
  # Until the writer has reported enough, or stopped; a boot is seconds, 300 s is broken.
  until [ "$(grep -c '^durable ' "$console" 2>/dev/null)" -ge "$reports" ] 2>/dev/null ||
        grep -q '^failed \|^exited ' "$console" 2>/dev/null; do
    kill -0 "$vm" 2>/dev/null || break
    sleep 0.05
    waited=$((waited + 1))
    [ "$waited" -lt 6000 ] || { kill -9 "$vm"; echo "round $n: the writer reported nothing"; return 1; }
  done
  sleep "0.$((RANDOM % 10))"  # the cut lands anywhere between two reports
  kill -9 "$vm" 2>/dev/null || true
  wait "$vm" 2>/dev/null || true
  local durable
  durable=$(sed -n 's/^durable \([0-9]*\).*/\1/p' "$console" | tail -1)
  if grep -q '^failed ' "$console"; then
    echo "round $n: the writer failed: $(grep '^failed ' "$console")"
    return 1
  fi
  e2fsck -fy "$image" >"$work/round$n.fsck" 2>&1 || [ $? -le 1 ] ||
    { echo "round $n: e2fsck could not repair the file system"; return 1; }
  rm -rf "$work/round$n"
  mkdir -p "$work/round$n"
  debugfs -R "rdump /journal $work/round$n" "$image" >/dev/null 2>&1
  # ringlog verify reads it as a user would: never unreadable or foreign. A torn tail past
  # the last flush it may call damaged; powercut_check decides whether that was durable.
  local verify=0
  "$build/bin/ringlog" verify "$work/round$n/journal" >"$work/round$n.verify" 2>&1 || verify=$?
  if [ "$verify" -ge 2 ] || grep -q '^FOREIGN' "$work/round$n.verify"; then
    echo "round $n: ringlog verify: $(cat "$work/round$n.verify")"
    return 1
  fi
  if ! "$build/bin/powercut_check" "$work/round$n/journal" "${durable:-0}" >"$work/round$n.check"; then
    echo "round $n: cut after $reports report(s), durable below ${durable:-0}: $(cat "$work/round$n.check")"
    return 1
  fi
  echo "round $n: cut after $reports report(s): $(grep '^journal holds' "$work/round$n.check")"
  rm -rf "$work/round$n" "$image"
}

failed=0
for n in $(seq 1 "$rounds"); do
  round "$n" || failed=$((failed + 1))
done
if [ "$mode" = "--lie" ]; then
  [ "$failed" -gt 0 ] || { echo "NEGATIVE CONTROL PASSED: the check cannot see a missing flush"; exit 1; }
  echo "negative control: $failed of $rounds round(s) caught the writer that never flushed"
  exit 0
fi
[ "$failed" -eq 0 ] || { echo "$failed of $rounds round(s) lost durable events or found damage"; exit 1; }
echo "$rounds power cut(s): every event reported durable was on the disk, intact"
