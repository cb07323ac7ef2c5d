#!/usr/bin/env bash
# Main command: installs what is missing, builds, and generates the Proxmox API protos
# and descriptor set from PROXMOX_SCHEMA, printing the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/schema-path.sh

bash scripts/install-deps.sh
cmake --preset default -DPROXMOX_SCHEMA="$PROXMOX_SCHEMA" >/dev/null
cmake --build --preset default --target pve-protogen pve_api_descriptors

echo
build/bin/pve-protogen --schema="$PROXMOX_SCHEMA" --out=build/gen/proto --lock=build/gen/pve-api.lock.json
echo "protos:          build/gen/proto/proxmox/ve/v1/"
echo "descriptor set:  build/share/pve-api.desc"
