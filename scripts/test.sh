#!/usr/bin/env bash
# Test command (what CI runs): installs what is missing, then builds and runs every test
# twice: a normal build (build/) and an AddressSanitizer+UBSan build (build-asan/); then the
# concurrency tests (ctest label `tsan`) once more under ThreadSanitizer (build-tsan/, only
# the test binaries they need; docs/testing.md says which and why).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/schema-path.sh
echo "test.sh: schema $PROXMOX_SCHEMA"

bash scripts/install-deps.sh

for preset in default asan tsan; do
  echo "=== $preset build ==="
  cmake --preset "$preset" -DPROXMOX_SCHEMA="$PROXMOX_SCHEMA" >/dev/null
  cmake --build --preset "$preset"
  ctest --preset "$preset"
done
