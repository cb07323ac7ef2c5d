#!/usr/bin/env bash
# Test command (what CI runs): installs what is missing, then builds and runs every test
# twice: a normal build (build/) and an AddressSanitizer+UBSan build (build-asan/); with
# PVEGW_IMAGE_TEST=1 also builds and runs the container image (scripts/image-test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/schema-path.sh
echo "test.sh: schema $PROXMOX_SCHEMA"

bash scripts/install-deps.sh

for preset in default asan; do
  echo "=== $preset build ==="
  cmake --preset "$preset" -DPROXMOX_SCHEMA="$PROXMOX_SCHEMA" >/dev/null
  cmake --build --preset "$preset"
  ctest --preset "$preset"
done

# The image, built from the Dockerfile and run with podman (scripts/image-test.sh). It compiles
# the project a third time inside the build stage: 33 minutes on a busy 2-core machine, more
# than CI's 40-minute budget leaves after the two builds above, so it runs only when asked
# (PVEGW_IMAGE_TEST=1, as root with podman and debootstrap; see docs/deploy.md).
if [ "${PVEGW_IMAGE_TEST:-0}" = 1 ]; then
  echo "=== image ==="
  bash scripts/image-test.sh
else
  echo "test.sh: image test not run (PVEGW_IMAGE_TEST=1 scripts/test.sh runs it; docs/deploy.md)"
fi
