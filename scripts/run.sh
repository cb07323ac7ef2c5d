#!/usr/bin/env bash
# Main command: installs what is missing, builds, and runs pve-gateway in mock mode.
# Arguments are passed to pve-gateway (e.g. --listen=0.0.0.0:50051 --insecure_listen on a
# trusted network); see --help.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/schema-path.sh

bash scripts/install-deps.sh
cmake --preset default -DPROXMOX_SCHEMA="$PROXMOX_SCHEMA" >/dev/null
cmake --build --preset default --target pve-gateway pve-protogen

build/bin/pve-protogen --schema="$PROXMOX_SCHEMA" --out=build/gen/proto --lock=build/gen/pve-api.lock.json
echo "protos: build/gen/proto/proxmox/ve/v1/   descriptor set: build/share/pve-api.desc"
exec build/bin/pve-gateway "$@"
