#!/usr/bin/env bash
# The performance tables of docs/performance.md, regenerated in one run on this machine:
#  1. mock mode: pve-loadgen against pve-gateway, each call compared with the bare
#     grpc.health.v1.Health/Check measured right after it by the same tool;
#  2. real mode: pve-gateway -> pve-mock over HTTPS (API token, pinned certificate), against
#     wrk calling the same pve-mock paths directly, with 32 callers and with one;
#  3. pve-mock over HTTPS under wrk: GET /version against GET /nodes/pve1/qemu;
#  4. world size: the mock-mode reads and pve-mock's listing with WORLD_SIZES guests in the
#     world (the extra ones on pve2, so pve1's listing keeps its size and only the world grows).
# Starts every process it needs on 127.0.0.1 port 0 and stops them (and removes its state in
# /dev/shm) at the end, also when interrupted.
#
# Usage: bench/perf.sh [build/bin] > table.md
#   DURATION=5s WARMUP=1s  measured time and warm-up of each row
#   CONCURRENCY=128 CONNECTIONS=4  mock-mode load (calls in flight, HTTP/2 connections)
#   CALLERS=32  real-mode and wrk load (calls in flight / HTTP connections)
#   WORLD_SIZES="10 100000"  guests in the world for table 4 (empty: skip it)
set -euo pipefail
bin=${1:-build/bin}
duration=${DURATION:-5s}
warmup=${WARMUP:-1s}
concurrency=${CONCURRENCY:-128}
connections=${CONNECTIONS:-4}
callers=${CALLERS:-32}
world_sizes=${WORLD_SIZES-10 100000}
for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "perf.sh needs $tool (apt-get install $tool)" >&2; exit 1; }
done
script=perf.sh
source "$(dirname "$0")/lib.sh"
need_binaries pve-gateway pve-mock pve-loadgen

loadgen() {  # loadgen TARGET METHOD DATA [flags...] -> JSON report
  local target=$1 method=$2 data=$3
  shift 3
  "$bin/pve-loadgen" --target="$target" --method="$method" --data="$data" --json \
    --duration="$duration" --warmup="$warmup" "$@"
}

wrk_run() {  # wrk_run CONNECTIONS URL TOKEN -> "requests/s p50_us"
  wrk -t1 -c"$1" -d"$duration" --latency -H "Authorization: PVEAPIToken=$3" "$2" |
    awk '/Requests\/sec/ {rps=$2}
         /^ +50%/ {v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                   f = (u=="us") ? 1 : (u=="ms") ? 1000 : (u=="s") ? 1000000 : 1; p50=v*f}
         END {printf "%.0f %.0f\n", rps, p50}'
}

fmt() { printf "%.0f" "$1" | sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta'; }

echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(uname -m)), commit" \
  "$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown); load" \
  "tool on the same machine, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start." \
  "Every row: $duration after $warmup warm-up."
echo

# --- 1. Mock mode --------------------------------------------------------------------------
PROXMOX_MOCK_STATE_DIR=$state PROXMOX_MOCK_STATE_NAMESPACE=perf start_gateway "$state/gw-mock.log"
mock_gw=$gw_address
mock_pid=$gw_pid

echo "### Mock mode ($concurrency calls in flight over $connections connections)"
echo
echo "| call | calls/s | p50 µs | p99 µs | bare Health/Check calls/s | vs bare | gateway CPU µs per call (bare) |"
echo "|---|---|---|---|---|---|---|"
rows=(
  "grpc.health.v1.Health/Check|{}|Health/Check (bare)"
  "proxmox.ve.v1.Version/GetVersion|{}|Version/GetVersion"
  'proxmox.ve.v1.Nodes/GetNodesNodeQemuVmidConfig|{"node":"pve1","vmid":100}|Nodes/GetNodesNodeQemuVmidConfig'
  'proxmox.ve.v1.Nodes/GetNodesNodeQemu|{"node":"pve1"}|Nodes/GetNodesNodeQemu (4 VMs)'
  "proxmox.ve.v1.Cluster/GetClusterResources|{}|Cluster/GetClusterResources"
)
bare_cpu=""
for row in "${rows[@]}"; do
  IFS='|' read -r method data label <<<"$row"
  # Warm-up as a run of its own, so the CPU time below covers only the measured calls.
  if ! [[ $warmup =~ ^0+(s|ms)?$ ]]; then
    loadgen "$mock_gw" "$method" "$data" --concurrency="$concurrency" \
      --connections="$connections" --duration="$warmup" --warmup=0s >/dev/null
  fi
  cpu0=$(cpu_us "$mock_pid")
  report=$(loadgen "$mock_gw" "$method" "$data" --concurrency="$concurrency" \
    --connections="$connections" --compare=grpc.health.v1.Health/Check --warmup=0s)
  cpu1=$(cpu_us "$mock_pid")
  read -r rps p50 p99 bare ratio errors calls bare_calls < <(json '"%d %d %d %d %.2f %d %d %d" % (r["result"]["calls_per_second"], r["result"]["latency_us"]["p50"], r["result"]["latency_us"]["p99"], r["compare"]["calls_per_second"], r["throughput_ratio"], r["result"]["errors"] + r["compare"]["errors"], r["result"]["calls"], r["compare"]["calls"])' <<<"$report")
  [[ $errors == 0 ]] || echo "perf.sh: $method: $errors failed calls" >&2
  # The gateway's CPU time over both runs; the bare call's share is known from the first
  # row (the bare call against itself), the rest is this call's.
  if [[ -z $bare_cpu ]]; then
    bare_cpu=$(/usr/bin/python3 -c "print(($cpu1 - $cpu0) / max($calls + $bare_calls, 1))")
  fi
  call_cpu=$(/usr/bin/python3 -c "print('%.0f (%.0f)' % (($cpu1 - $cpu0 - $bare_calls * $bare_cpu) / max($calls, 1), $bare_cpu))")
  echo "| \`$label\` | $(fmt "$rps") | $p50 | $p99 | $(fmt "$bare") | $ratio | $call_cpu |"
done
echo

# --- 2. Real mode: pve-mock over HTTPS, an API token, the certificate pinned -----------------
PROXMOX_MOCK_STATE_DIR=$state start_pve_mock "$state/mock.log" perf --namespace=perf-real --reset
api=$mock_api
token=$mock_token

PROXMOX_API_MODE=real PROXMOX_API_URL=${api%/api2/json} PROXMOX_API_TLS_FINGERPRINT=$mock_fingerprint \
  PROXMOX_API_TOKEN_ID='root@pam!perf' PROXMOX_API_TOKEN_SECRET=$mock_secret \
  start_gateway "$state/gw-real.log"
real_gw=$gw_address

echo "### Real mode: gateway → pve-mock over HTTPS (token, pinned certificate) vs wrk straight to pve-mock"
echo
echo "| call | direct calls/s ($callers conns) | via gateway calls/s ($callers in flight) | ratio | direct p50 µs (1 caller) | via gateway p50 µs (1 caller) | added µs |"
echo "|---|---|---|---|---|---|---|"
real_rows=(
  "proxmox.ve.v1.Version/GetVersion|{}|/version"
  'proxmox.ve.v1.Nodes/GetNodesNodeQemuVmidConfig|{"node":"pve1","vmid":100}|/nodes/pve1/qemu/100/config'
  'proxmox.ve.v1.Nodes/GetNodesNodeQemu|{"node":"pve1"}|/nodes/pve1/qemu'
)
declare -A direct_rps
for row in "${real_rows[@]}"; do
  IFS='|' read -r method data path <<<"$row"
  read -r d_rps _ < <(wrk_run "$callers" "$api$path" "$token")
  read -r _ d_p50 < <(wrk_run 1 "$api$path" "$token")
  direct_rps[$path]=$d_rps
  many=$(loadgen "$real_gw" "$method" "$data" --concurrency="$callers" --connections=1)
  one=$(loadgen "$real_gw" "$method" "$data" --concurrency=1 --connections=1)
  read -r g_rps errs1 < <(json '"%d %d" % (r["result"]["calls_per_second"], r["result"]["errors"])' <<<"$many")
  read -r g_p50 errs2 < <(json '"%d %d" % (r["result"]["latency_us"]["p50"], r["result"]["errors"])' <<<"$one")
  [[ $errs1 == 0 && $errs2 == 0 ]] || echo "perf.sh: real mode $method: failed calls" >&2
  ratio=$(/usr/bin/python3 -c "print('%.2f' % ($g_rps / max($d_rps, 1)))")
  echo "| \`GET $path\` | $(fmt "$d_rps") | $(fmt "$g_rps") | $ratio | $d_p50 | $g_p50 | $((g_p50 - d_p50)) |"
done
bare_one=$(loadgen "$real_gw" grpc.health.v1.Health/Check '{}' --concurrency=1 --connections=1 |
  json '"%d" % r["result"]["latency_us"]["p50"]')
echo
echo "The bare \`grpc.health.v1.Health/Check\` through the same gateway, 1 caller: p50 $bare_one µs."
echo

# --- 3. pve-mock over HTTPS under wrk ------------------------------------------------------
echo "### pve-mock over HTTPS (wrk, $callers connections, API token)"
echo
echo "| GET /version req/s | GET /nodes/pve1/qemu req/s | ratio |"
echo "|---|---|---|"
read -r v_rps _ < <(wrk_run "$callers" "$api/version" "$token")
read -r q_rps _ < <(wrk_run "$callers" "$api/nodes/pve1/qemu" "$token")
echo "| $(fmt "$v_rps") | $(fmt "$q_rps") | $(/usr/bin/python3 -c "print('%.2f' % ($q_rps / max($v_rps, 1)))") |"

# --- 4. World size: the same reads with 10 and 100,000 guests -------------------------------
[[ -n $world_sizes ]] || exit 0
echo
echo "### World size: mock mode ($concurrency in flight) and pve-mock over HTTPS (wrk, $callers connections)"
echo
echo "| guests in the world | mock \`GetNodesNodeQemuVmidConfig\` calls/s | mock \`GetNodesNodeQemu\` (pve1) calls/s | pve-mock \`/version\` req/s | pve-mock \`/nodes/pve1/qemu\` req/s | listing vs /version |"
echo "|---|---|---|---|---|---|"
for n in $world_sizes; do
  data=$state/world-$n.json
  # Outside pve2's VM list (which the data replaces) the seeded world has 4 guests;
  # the rest are VMs on pve2.
  /usr/bin/python3 - "$n" "$data" <<'PY'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
rows = [{"vmid": 1000 + i, "name": "bench-%d" % i, "status": "stopped"} for i in range(max(0, n - 4))]
json.dump({"/nodes/pve2/qemu": rows} if rows else {}, open(path, "w"))
PY
  PROXMOX_MOCK_STATE_DIR=$state PROXMOX_MOCK_STATE_NAMESPACE=world-$n \
    start_gateway "$state/gw-world-$n.log" --mock_data="$data"
  gw=$gw_address
  PROXMOX_MOCK_STATE_DIR=$state start_pve_mock "$state/mock-world-$n.log" world \
    --namespace=world-$n --mock_data="$data"
  url=$mock_api
  w_token=$mock_token
  count=$(curl -sfk -H "Authorization: PVEAPIToken=$w_token" "$url/cluster/resources?type=vm" |
    json 'len(r["data"])')
  cfg=$(loadgen "$gw" proxmox.ve.v1.Nodes/GetNodesNodeQemuVmidConfig '{"node":"pve1","vmid":100}' \
    --concurrency="$concurrency" --connections="$connections" | json '"%d" % r["result"]["calls_per_second"]')
  list=$(loadgen "$gw" proxmox.ve.v1.Nodes/GetNodesNodeQemu '{"node":"pve1"}' \
    --concurrency="$concurrency" --connections="$connections" | json '"%d" % r["result"]["calls_per_second"]')
  read -r v_rps _ < <(wrk_run "$callers" "$url/version" "$w_token")
  read -r q_rps _ < <(wrk_run "$callers" "$url/nodes/pve1/qemu" "$w_token")
  echo "| $(fmt "$count") | $(fmt "$cfg") | $(fmt "$list") | $(fmt "$v_rps") | $(fmt "$q_rps") | $(/usr/bin/python3 -c "print('%.2f' % ($q_rps / max($v_rps, 1)))") |"
  stop_all
done
