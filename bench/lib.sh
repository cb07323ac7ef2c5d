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

# start_gateway LOG [FLAG...]: pve-gateway on a free loopback port (settings from the caller's
# environment, e.g. `PROXMOX_API_MODE=real start_gateway ...`), its stderr in LOG. Sets
# gw_pid and gw_address.
start_gateway() {
  local log=$1
  shift
  "$bin/pve-gateway" --listen=127.0.0.1:0 --max_concurrent_calls=100000 "$@" 2>"$log" &
  gw_pid=$!
  pids+=("$gw_pid")
  gw_address=$(wait_line "$log" 'listen=127\.0\.0\.1:[0-9]*' | cut -d= -f2)
}

# start_pve_mock LOG TOKEN_NAME [FLAG...]: pve-mock over HTTPS on a free loopback port, its
# certificate in LOG.pem, and an API token root@pam!TOKEN_NAME made through its API as a
# client would (log in, then POST the token with the ticket and CSRF token). Sets mock_api
# (https://…/api2/json), mock_fingerprint, mock_secret and mock_token (for PVEAPIToken=).
start_pve_mock() {
  local log=$1 name=$2 line auth
  shift 2
  "$bin/pve-mock" --listen=127.0.0.1:0 --tls_cert_out="$log.pem" "$@" 2>"$log" &
  pids+=($!)
  line=$(wait_line "$log" 'serving https://127.0.0.1:[0-9]*/api2/json fingerprint=[^ ]*')
  mock_api=$(sed -E 's/serving ([^ ]*) .*/\1/' <<<"$line")
  mock_fingerprint=${line##*fingerprint=}
  auth=$(curl -sf --cacert "$log.pem" -d username=root@pam -d password=pve-mock \
    "$mock_api/access/ticket")
  mock_secret=$(curl -sf --cacert "$log.pem" \
    -b "PVEAuthCookie=$(json 'r["data"]["ticket"]' <<<"$auth")" \
    -H "CSRFPreventionToken: $(json 'r["data"]["CSRFPreventionToken"]' <<<"$auth")" \
    -d privsep=0 "$mock_api/access/users/root@pam/token/$name" | json 'r["data"]["value"]')
  mock_token="root@pam!$name=$mock_secret"
}
