#!/usr/bin/env bash
# Start-up time to serving and resident memory of pve-gateway in mock mode, over N runs.
# Usage: bench/startup.sh [build/bin/pve-gateway] [runs]
set -euo pipefail
gateway=${1:-build/bin/pve-gateway}
runs=${2:-10}
dir=$(mktemp -d /dev/shm/pvegw-startup-XXXXXX)
trap 'rm -rf "$dir"' EXIT
times=()
rss=()
for i in $(seq 1 "$runs"); do
  PROXMOX_MOCK_STATE_DIR=$dir "$gateway" --listen=127.0.0.1:0 2> "$dir/log" &
  pid=$!
  for _ in $(seq 1 1000); do grep -q serving "$dir/log" 2>/dev/null && break; sleep 0.005; done
  times+=("$(grep -o 'startup_ms=[0-9.]*' "$dir/log" | cut -d= -f2)")
  rss+=("$(awk '/VmRSS/ {print $2}' /proc/$pid/status)")
  kill -TERM $pid
  wait $pid
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "start-up to serving: median $(median "${times[@]}") ms over $runs runs (process start to listening)"
echo "resident memory after start-up: median $(( $(median "${rss[@]}") / 1024 )) MiB"
