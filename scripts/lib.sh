# What the scripts and the program tests share; each sources it.

# eventually CMD...: runs CMD until it succeeds, every 20 ms, for at most 60 s; 1 if it never
# did. The limit is generous on purpose: hosts differ in speed many times over, and a fast one
# returns at once anyway. The caller says what was awaited when it fails.
eventually() {
  local deadline=$((SECONDS + 60))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.02
  done
}

# write_environment FILE: what a stored result ran on: git revision and dirty state, kernel,
# /proc/cmdline, CPU model and count, memory.
write_environment() {
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "revision: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "dirty: $(git status --porcelain 2>/dev/null | wc -l) changed file(s)"
    echo "kernel: $(uname -srvm)"
    echo "cmdline: $(cat /proc/cmdline)"
    echo "cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
    echo "cpus: $(nproc) usable of $(grep -c ^processor /proc/cpuinfo)"
    echo "memory: $(sed -n 's/^MemTotal:\s*//p' /proc/meminfo)"
  } >"$1"
}

# free_port: a TCP port nothing on this host listens on now (the kernel's choice).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
