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
