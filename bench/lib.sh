# Shared by bench/perf.sh and bench/soak.sh (sourced, not run): a private state directory in
# /dev/shm, the processes a script starts (stopped and removed on exit, Ctrl-C or SIGTERM),
# and two helpers. The sourcing script sets `bin` and `script` (its name, for messages).

# need_binaries NAME...: each in $bin, executable.
need_binaries() {
  local b
  for b in "$@"; do
    [[ -x $bin/$b ]] || { echo "$script: $bin/$b is missing (cmake --build build --target $b)" >&2; exit 1; }
  done
}

state=$(mktemp -d "/dev/shm/pvegw-${script%.sh}-XXXXXX")
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_all
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_line LOG PATTERN: the first match of PATTERN (grep -o) in LOG, waiting up to 30 s.
wait_line() {
  local found
  for _ in $(seq 1 3000); do
    if found=$(grep -o -m1 "$2" "$1" 2>/dev/null); then
      echo "$found"
      return
    fi
    sleep 0.01
  done
  echo "$script: no '$2' in $1 after 30 s:" >&2
  cat "$1" >&2
  exit 1
}

# json EXPR < report: a value from pve-loadgen's --json report (`r` is the report).
json() { /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# cpu_us PID: user + system CPU time the process has used so far, in microseconds.
cpu_us() { awk -v t="$(getconf CLK_TCK)" '{printf "%.0f", ($14 + $15) * 1000000 / t}' "/proc/$1/stat"; }
