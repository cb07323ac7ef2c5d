#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (clang-14, ASan + UBSan; the `fuzz` preset).
#   scripts/fuzz.sh [TARGET|all] [SECONDS]
# TARGET is a name under fuzz/ without _fuzz.cc (schema_loader, transcoder_decode, ...);
# `all` (the default) runs every target one after another, SECONDS each (default 60).
# Each run starts from the seeds in fuzz/corpus/TARGET and keeps what it finds in
# build-fuzz/corpus/TARGET (reused by the next run). A crash leaves its input in
# build-fuzz/crashes/TARGET/; add it to fuzz/corpus/TARGET/ once fixed, so ctest replays it.
# The last line per target is libFuzzer's summary: executions, coverage (cov), features (ft).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-all}"
seconds="${2:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
  echo "fuzz.sh: SECONDS must be a positive whole number, got '$seconds'" >&2
  exit 2
fi
targets=()
for f in fuzz/*_fuzz.cc; do
  name="$(basename "$f" _fuzz.cc)"
  if [[ "$target" == all || "$target" == "$name" ]]; then targets+=("$name"); fi
done
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz.sh: no fuzz target '$target'; one of: all $(ls fuzz/*_fuzz.cc | xargs -n1 basename | sed 's/_fuzz.cc//' | tr '\n' ' ')" >&2
  exit 2
fi
command -v clang++-14 >/dev/null || { echo "fuzz.sh: clang-14 is missing (apt-get install clang-14; it brings libFuzzer)" >&2; exit 2; }

source scripts/schema-path.sh
cmake --preset fuzz -DPROXMOX_SCHEMA="$PROXMOX_SCHEMA" >/dev/null
cmake --build --preset fuzz --target "${targets[@]/%/_fuzz}"

status=0
for name in "${targets[@]}"; do
  corpus="build-fuzz/corpus/$name"
  crashes="build-fuzz/crashes/$name"
  mkdir -p "$corpus" "$crashes"
  echo "=== $name: $seconds s ==="
  log="build-fuzz/fuzz-$name.log"
  # -rss_limit_mb: the full-API targets hold the descriptor set (~100 MB under ASan).
  if ! "build-fuzz/bin/${name}_fuzz" -max_total_time="$seconds" -print_final_stats=1 \
      -rss_limit_mb=4096 -max_len=65536 -artifact_prefix="$crashes/" \
      "$corpus" "fuzz/corpus/$name" >"$log" 2>&1; then
    echo "$name: FAILED, see $log and $crashes/" >&2
    status=1
  fi
  grep -E '^#[0-9]+[[:space:]]+DONE|^Done ' "$log" | tail -2 || true
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" || true
done
exit $status
