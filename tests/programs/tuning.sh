#!/usr/bin/env bash
# The tuning scripts plan without changing anything, apply with --apply, and leave a host that
# ringlog doctor passes on every item they cover. They run against a host built as files
# (RINGLOG_HOST_ROOT); the hugepage reservation also runs on this host, where root may.
# usage: tuning.sh <ringlog binary> <source dir>
set -euo pipefail
ringlog=$1
tuning=$2/tuning
scratch=$(mktemp -d)
host=$scratch/host
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
put() { mkdir -p "$(dirname "$host/$1")"; echo "$2" >"$host/$1"; }

# A 4-CPU, one-node host as installed; CPUs 2 and 3 are the hot pair.
put sys/devices/system/cpu/online 0-3
for cpu in 0 1 2 3; do
  dir=sys/devices/system/cpu/cpu$cpu
  put $dir/topology/thread_siblings_list $cpu
  put $dir/cpufreq/scaling_governor powersave
  put $dir/power/pm_qos_resume_latency_us 0
  put $dir/cpuidle/state0/name POLL; put $dir/cpuidle/state0/latency 0
  put $dir/cpuidle/state0/disable 0
  put $dir/cpuidle/state1/name C6; put $dir/cpuidle/state1/latency 133
  put $dir/cpuidle/state1/disable 0
  mkdir -p "$host/$dir/node0"
done
put sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages 0
put sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages 0
put proc/irq/default_smp_affinity f
put proc/irq/24/smp_affinity_list 0-3
put proc/irq/25/smp_affinity_list 3
put proc/irq/26/smp_affinity_list 1
put proc/self/mountinfo "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/sda1 rw"
export RINGLOG_HOST_ROOT=$host

# Planning changes nothing.
before=$(cd "$host" && find . -type f -exec cat {} + | md5sum)
"$tuning/irq-affinity" --avoid 2-3 | tee "$scratch/plan"
"$tuning/cpu-performance" --cpus 2,3 >>"$scratch/plan"
"$tuning/reserve-hugepages" --node 0 --pages 4 >>"$scratch/plan"
[ "$(cd "$host" && find . -type f -exec cat {} + | md5sum)" = "$before" ] ||
  fail "a script changed the host without --apply"
grep -q "would /proc/irq/25/smp_affinity_list: 3 → 0-1" "$scratch/plan" || fail "IRQ 25 plan"
grep -q "26/smp_affinity_list" "$scratch/plan" && fail "IRQ 26 is already off the hot cores"
grep -q "cpu1/cpuidle/state1" "$scratch/plan" && fail "idle states of a housekeeping CPU"

"$tuning/irq-affinity" --avoid 2-3 --apply
"$tuning/cpu-performance" --cpus 2,3 --apply
"$tuning/reserve-hugepages" --node 0 --pages 4 --apply
[ "$(cat "$host/proc/irq/24/smp_affinity_list")" = 0-1 ] || fail "IRQ 24 not moved"
[ "$(cat "$host/proc/irq/26/smp_affinity_list")" = 1 ] || fail "IRQ 26 moved for nothing"
[ "$(cat "$host/proc/irq/default_smp_affinity")" = 3 ] || fail "default affinity not 0-1"
[ "$(cat "$host/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")" = performance ] ||
  fail "governor"
[ "$(cat "$host/sys/devices/system/cpu/cpu3/cpuidle/state1/disable")" = 1 ] || fail "C6 of 3"
[ "$(cat "$host/sys/devices/system/cpu/cpu0/cpuidle/state1/disable")" = 0 ] || fail "C6 of 0"
[ "$(cat "$host/sys/devices/system/cpu/cpu2/power/pm_qos_resume_latency_us")" = 2 ] ||
  fail "wake-up limit of 2"
[ "$(cat "$host/sys/devices/system/cpu/cpu1/power/pm_qos_resume_latency_us")" = 0 ] ||
  fail "wake-up limit of 1, a housekeeping CPU"

# What the sysctl file and the kernel command line set, as the booted kernel shows it.
grep -E '^[a-z]' "$tuning/sysctl.d/90-ringlog.conf" | while IFS=' =' read -r key value; do
  put "proc/sys/${key//.//}" "${value# }"
done
cmdline=$(sh -c ". '$tuning/kernel-cmdline.conf'; echo \"\$GRUB_CMDLINE_LINUX_DEFAULT\"")
grep -q "isolcpus=managed_irq,domain,2-3" <<<"$cmdline" || fail "cmdline: $cmdline"
put proc/cmdline "$cmdline"
put sys/devices/system/cpu/isolated 2-3
put sys/devices/system/cpu/nohz_full 2-3
put sys/kernel/mm/transparent_hugepage/enabled "always [madvise] never"
put sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages 4
unset RINGLOG_HOST_ROOT
"$ringlog" doctor --root "$host" --cpus 2,3 --ring-bytes 8388608 --journal /srv/j >"$scratch/doc" ||
  true
cat "$scratch/doc"
for item in isolation nohz_full rcu_nocbs irqs governor c-states hugepages thp numa-balancing \
            swappiness dirty-writeback io_uring; do
  grep -qE "^PASS  $item " "$scratch/doc" || fail "doctor does not pass $item after tuning"
done

# This host, as root: reserve two more pages on node 0, read back, put the reservation back.
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED the live reservation: needs root"
else
  file=/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages
  was=$(cat "$file")
  trap 'echo "$was" >"$file"; rm -rf "$scratch"' EXIT
  "$tuning/reserve-hugepages" --node 0 --pages $((was + 2)) --apply ||
    echo "SHORT: memory too fragmented here for 2 more pages (the script said so)"
  got=$(cat "$file")
  [ "$got" -ge "$was" ] || fail "the reservation shrank: $was → $got"
  "$tuning/reserve-hugepages" --node 0 --pages "$was" --apply
  [ "$(cat "$file")" = "$was" ] || fail "the reservation was not put back"
fi
echo OK
