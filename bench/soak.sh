#!/usr/bin/env bash
# Soak: many mixed calls through pve-gateway — reads (version, VM list, VM config), VM creates
# and deletes, and Tasks.WatchTask streams alongside — in mock mode and in real mode against
# pve-mock over HTTPS, with the gateway's resident memory, open file descriptors and threads
# sampled every SAMPLE_SECONDS. Prints the first and last samples (and the extremes) per mode;
# the aim is flat after warm-up and no descriptor or thread growth.
# Bounded by count and by time: a mode ends at CALLS calls or after MAX_SECONDS, whichever
# comes first. Everything it starts is stopped and its /dev/shm state removed at the end, also
# when interrupted.
#
# Usage: bench/soak.sh [build/bin]
#   CALLS=1000000      calls per mode (reads + creates + deletes + WatchTask streams opened)
#   MAX_SECONDS=3600   time bound per mode
#   MODES="mock real"  which modes
#   SAMPLE_SECONDS=10  sampling interval; SAMPLES_DIR=dir keeps every sample as TSV
#   CONCURRENCY=32 WATCH_STREAMS=16 READS_PER_ROUND=20000 CREATES_PER_ROUND=100
set -euo pipefail
bin=${1:-build/bin}
calls_limit=${CALLS:-1000000}
max_seconds=${MAX_SECONDS:-3600}
modes=${MODES:-mock real}
sample_seconds=${SAMPLE_SECONDS:-10}
concurrency=${CONCURRENCY:-32}
watch_streams=${WATCH_STREAMS:-16}
reads=${READS_PER_ROUND:-20000}
creates=${CREATES_PER_ROUND:-100}
script=soak.sh
source "$(dirname "$0")/lib.sh"
need_binaries pve-gateway pve-mock pve-loadgen
# errors_of REPORT: the failed calls' codes and first messages, on stderr.
errors_of() {
  /usr/bin/python3 -c 'import json,sys
r=json.load(sys.stdin)
for e in r["result"]["errors_by_code"] + r.get("watch", {}).get("errors", []):
    print("soak.sh: %s x%d: %s" % (e["code"], e["count"], e["first_message"]), file=sys.stderr)' <<<"$1"
}

# sample PID OUT: every $sample_seconds, "seconds rss_kib fds threads calls" (calls from
# $state/calls, written by the load loop) until PID is gone.
sample() {
  local pid=$1 out=$2 t0=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    local rss threads fds
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
    fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
    printf '%d\t%s\t%s\t%s\t%s\n' $((SECONDS - t0)) "$rss" "$fds" "$threads" \
      "$(cat "$state/calls" 2>/dev/null || echo 0)" >>"$out"
    sleep "$sample_seconds"
  done
}

lg() { "$bin/pve-loadgen" --target="$target" --json --warmup=0s --duration=1h "$@"; }

# soak MODE: the load loop against $target (gateway pid $gw), then its samples.
soak() {
  local mode=$1 total=0 errors=0 round=0 start=$SECONDS seq=100000 report upid
  local samples=$state/samples-$mode.tsv
  : >"$samples"
  echo 0 >"$state/calls"
  sample "$gw" "$samples" &
  local sampler=$!
  while ((total < calls_limit && SECONDS - start < max_seconds)); do
    round=$((round + 1))
    # A task to watch: one create whose UPID the streams follow during the reads.
    local watch=()
    if upid=$(lg --print_response --method=proxmox.ve.v1.Nodes/PostNodesNodeQemu \
      --data="{\"node\":\"pve1\",\"vmid\":$seq,\"name\":\"soak-watch\"}" | json 'r["data"]'); then
      watch=(--watch_tasks="$watch_streams" --watch_upid="$upid")
    else
      errors=$((errors + 1))
    fi
    total=$((total + 1))
    for read in 'proxmox.ve.v1.Nodes/GetNodesNodeQemu|{"node":"pve1"}' \
                'proxmox.ve.v1.Nodes/GetNodesNodeQemuVmidConfig|{"node":"pve1","vmid":100}' \
                'proxmox.ve.v1.Version/GetVersion|{}'; do
      IFS='|' read -r method data <<<"$read"
      report=$(lg --method="$method" --data="$data" --count="$reads" --concurrency="$concurrency" \
        --connections=2 "${watch[@]}") || true
      read -r n e w < <(json '"%d %d %d" % (r["result"]["calls"], r["result"]["errors"] + sum(x["count"] for x in r.get("watch", {}).get("errors", [])), r.get("watch", {}).get("opened", 0))' <<<"$report")
      total=$((total + n + w))
      errors=$((errors + e))
      ((e == 0)) || errors_of "$report"
      echo "$total" >"$state/calls"
    done
    # Creates then deletes of the same VMIDs, one at a time so exactly that range is used.
    local first=$((seq + 1))
    report=$(lg --method=proxmox.ve.v1.Nodes/PostNodesNodeQemu --seq_start="$first" \
      --data='{"node":"pve1","vmid":{{seq}},"name":"soak{{seq}}","memory":"512"}' \
      --count="$creates" --concurrency=1) || true
    read -r n e < <(json '"%d %d" % (r["result"]["calls"], r["result"]["errors"])' <<<"$report")
    total=$((total + n)); errors=$((errors + e))
    ((e == 0)) || errors_of "$report"
    report=$(lg --method=proxmox.ve.v1.Nodes/DeleteNodesNodeQemuVmid --seq_start="$seq" \
      --data='{"node":"pve1","vmid":{{seq}}}' --count=$((creates + 1)) --concurrency=1) || true
    read -r n e < <(json '"%d %d" % (r["result"]["calls"], r["result"]["errors"])' <<<"$report")
    total=$((total + n)); errors=$((errors + e))
    ((e == 0)) || errors_of "$report"
    echo "$total" >"$state/calls"
    seq=$((seq + creates + 1))
  done
  local elapsed=$((SECONDS - start))
  # Stop sampling; one last sample right after the load.
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  printf '%d\t%s\t%s\t%s\t%s\n' "$elapsed" "$(awk '/^VmRSS:/ {print $2}' "/proc/$gw/status")" \
    "$(ls "/proc/$gw/fd" | wc -l)" "$(awk '/^Threads:/ {print $2}' "/proc/$gw/status")" \
    "$total" >>"$samples"
  echo "### $mode mode: $total calls in $elapsed s ($round rounds), $errors failed"
  echo
  echo "| sample | seconds | calls so far | RSS MiB | open fds | threads |"
  echo "|---|---|---|---|---|---|"
  awk -F'\t' 'NR == 1 {first = $0} {last = $0; if ($2 > max) {max = $2; maxrow = $0}}
    function row(name, line,   f) { split(line, f, "\t");
      printf "| %s | %d | %d | %.1f | %d | %d |\n", name, f[1], f[5], f[2] / 1024, f[3], f[4] }
    END { row("first", first); row("largest RSS", maxrow); row("last", last) }' "$samples"
  echo
  if [[ -n ${SAMPLES_DIR:-} ]]; then
    mkdir -p "$SAMPLES_DIR"
    { printf 'seconds\trss_kib\tfds\tthreads\tcalls\n'; cat "$samples"; } >"$SAMPLES_DIR/soak-$mode.tsv"
  fi
}

for mode in $modes; do
  case $mode in
    mock)
      PROXMOX_MOCK_STATE_DIR=$state PROXMOX_MOCK_STATE_NAMESPACE=soak PROXMOX_MOCK_TASK_DURATION_MS=0 \
        start_gateway "$state/gw-mock.log"
      ;;
    real)
      PROXMOX_MOCK_STATE_DIR=$state PROXMOX_MOCK_TASK_DURATION_MS=0 \
        start_pve_mock "$state/mock.log" soak --namespace=soak-real --reset
      PROXMOX_API_MODE=real PROXMOX_API_URL=${mock_api%/api2/json} \
        PROXMOX_API_TLS_FINGERPRINT=$mock_fingerprint PROXMOX_API_TOKEN_ID='root@pam!soak' \
        PROXMOX_API_TOKEN_SECRET=$mock_secret start_gateway "$state/gw-real.log"
      ;;
    *) echo "soak.sh: unknown mode '$mode' (mock, real)" >&2; exit 2 ;;
  esac
  gw=$gw_pid
  target=$gw_address
  soak "$mode"
  stop_all
done
