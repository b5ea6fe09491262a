# Shared by the tuning scripts: each prints what it would change and changes it only with
# --apply. Sourced, not run.
#
# RINGLOG_HOST_ROOT (empty by default) is prefixed to every /proc and /sys path, so the tests
# can run the scripts against a host built as files.

host_root=${RINGLOG_HOST_ROOT:-}
apply=false
changes=0
failures=0

# "0-2,5" → "0 1 2 5"
expand_cpus() {
  local item first last out=()
  IFS=, read -ra items <<<"$1"
  for item in "${items[@]}"; do
    [[ $item =~ ^([0-9]+)(-([0-9]+))?$ ]] || { echo "not a CPU list: $1" >&2; return 1; }
    first=${BASH_REMATCH[1]}
    last=${BASH_REMATCH[3]:-$first}
    for ((cpu = first; cpu <= last; cpu++)); do out+=("$cpu"); done
  done
  echo "${out[*]}"
}

# "0 1 2 5" → "0-2,5"
compress_cpus() {
  local out="" start="" prev="" cpu
  for cpu in $(tr ' ' '\n' <<<"$1" | sort -n | uniq) ""; do
    if [ -n "$prev" ] && [ "$cpu" = $((prev + 1)) ]; then prev=$cpu; continue; fi
    if [ -n "$start" ]; then
      out+="${out:+,}$start"
      [ "$prev" != "$start" ] && out+="-$prev"
    fi
    start=$cpu prev=$cpu
  done
  echo "$out"
}

# "0 1 35" → "8,00000003": the hexadecimal mask the kernel reads and prints, in 32-bit words
# from the highest.
cpu_mask() {
  local words=() cpu word top=0 out=""
  for cpu in $1; do
    words[cpu / 32]=$(( ${words[cpu / 32]:-0} | (1 << (cpu % 32)) ))
    if (( cpu / 32 > top )); then top=$((cpu / 32)); fi
  done
  for ((word = top; word >= 0; word--)); do
    if [ -z "$out" ]; then out=$(printf '%x' "${words[word]:-0}")
    else out+=$(printf ',%08x' "${words[word]:-0}"); fi
  done
  echo "$out"
}

# The CPUs the kernel has online, as a list of numbers.
online_cpus() { expand_cpus "$(cat "$host_root/sys/devices/system/cpu/online")"; }

# Sets a /proc or /sys file to a value: prints the change, and makes it with --apply. A file
# that already holds the value is left alone.
set_value() {
  local path=$1 value=$2 why=$3 current
  current=$(cat "$host_root$path" 2>/dev/null) || { echo "skip  $path: not present"; return 0; }
  if [ "$current" = "$value" ]; then
    echo "ok    $path = $value"
    return 0
  fi
  changes=$((changes + 1))
  if ! $apply; then
    echo "would $path: $current → $value  ($why)"
    return 0
  fi
  if { echo "$value" >"$host_root$path"; } 2>/dev/null; then
    echo "set   $path: $current → $(cat "$host_root$path")  ($why)"
  else
    failures=$((failures + 1))
    echo "FAILED $path: stays $current (the kernel refused $value)"
  fi
}

# The last line of every script: what happened, and the exit status (1 if a change failed).
summarise() {
  if ! $apply; then
    echo "$changes change(s) planned; run again with --apply to make them (as root)"
  else
    echo "$((changes - failures)) change(s) made, $failures failed"
  fi
  [ "$failures" -eq 0 ]
}
