#!/usr/bin/env bash
# 10,000 concurrent Tasks.WatchTask streams on 100 long-running mock tasks, from one client
# process: the gateway's resident memory with the streams open and its backend polls/s.
# Usage: [SETTLE_SECONDS=5] bench/task_watch.sh [build/bin] [streams] [tasks] [measure_seconds]
#        [extra pve-gateway flags...]
set -euo pipefail
bin=${1:-build/bin}
streams=${2:-10000}
tasks=${3:-100}
measure=${4:-60}
shift $(( $# < 4 ? $# : 4 ))
dir=$(mktemp -d /dev/shm/pvegw-taskwatch-XXXXXX)
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
# Tasks that outlive the measurement.
PROXMOX_MOCK_STATE_DIR=$dir PROXMOX_MOCK_TASK_DURATION_MS=3600000 \
  "$bin/pve-gateway" --listen=127.0.0.1:0 --max_concurrent_calls=100000 "$@" 2> "$dir/log" &
pid=$!
for _ in $(seq 1 1000); do grep -q serving "$dir/log" 2>/dev/null && break; sleep 0.01; done
addr=$(grep -o 'listen=[0-9.:]*' "$dir/log" | cut -d= -f2)
"$bin/task_watch_load" --target="$addr" --gateway_pid=$pid --streams="$streams" --tasks="$tasks" \
  --measure_seconds="$measure" --settle_seconds="${SETTLE_SECONDS:-5}"
