#!/usr/bin/env bash
# Throughput of pve-mock under wrk: API-token auth, GET /nodes/pve1/qemu and /version, over
# plain HTTP and HTTPS, with the world holding 10, 1,000 and 100,000 VMs (the extra VMs
# live on pve2, so the pve1 listing keeps its size and only the world grows).
# Usage: bench/pve_mock_wrk.sh [build/bin/pve-mock]   (DURATION=10s CONNECTIONS=32 THREADS=2)
set -euo pipefail
mock=${1:-build/bin/pve-mock}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
threads=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
state=$(mktemp -d /dev/shm/pve-mock-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT

url=""
start() {  # start NAMESPACE LOG ARGS... -> sets $url
  local ns=$1 log=$2
  shift 2
  PROXMOX_MOCK_STATE_DIR=$state "$mock" --listen=127.0.0.1:0 --namespace="$ns" --threads="$threads" \
    "$@" >/dev/null 2>"$log" &
  pids+=($!)
  for _ in $(seq 1 3000); do
    if grep -q ' serving ' "$log"; then
      url=$(grep -o 'https\?://127.0.0.1:[0-9]*/api2/json' "$log")
      return
    fi
    sleep 0.01
  done
  echo "pve-mock did not start:" >&2
  cat "$log" >&2
  exit 1
}

rps() {  # rps URL TOKEN -> requests per second
  wrk -t1 -c"$connections" -d"$duration" -H "Authorization: PVEAPIToken=$2" "$1" |
    awk '/Requests\/sec/ {printf "%.0f", $2}'
}

echo "| VMs in the world | scheme | GET /version (req/s) | GET /nodes/pve1/qemu (req/s) |"
echo "|---|---|---|---|"
for n in 10 1000 100000; do
  ns=bench-$n
  data=$state/data-$n.json
  # The seeded world has 4 VMs (and 2 containers); the rest are VMs on pve2.
  /usr/bin/python3 - "$n" "$data" <<'PY'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
rows = [{"vmid": 1000 + i, "name": "bench-%d" % i, "status": "stopped"} for i in range(max(0, n - 4))]
json.dump({"/nodes/pve2/qemu": rows} if rows else {}, open(path, "w"))
PY
  start "$ns" "$state/plain-$n.log" --reset --plain_http --mock_data="$data"
  plain=$url
  start "$ns" "$state/tls-$n.log"
  tls=$url
  ticket=$(curl -sf -d username=root@pam -d password=pve-mock "$plain/access/ticket")
  cookie=$(printf '%s' "$ticket" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["ticket"])')
  csrf=$(printf '%s' "$ticket" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["CSRFPreventionToken"])')
  secret=$(curl -sf -b "PVEAuthCookie=$cookie" -H "CSRFPreventionToken: $csrf" -d privsep=0 \
    "$plain/access/users/root@pam/token/bench" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["value"])')
  token="root@pam!bench=$secret"
  count=$(curl -sf -H "Authorization: PVEAPIToken=$token" "$plain/cluster/resources?type=vm" |
    /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
  for url in "$plain" "$tls"; do
    scheme=${url%%:*}
    echo "| $count | $scheme | $(rps "$url/version" "$token") | $(rps "$url/nodes/pve1/qemu" "$token") |"
  done
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
done
