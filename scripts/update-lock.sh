#!/usr/bin/env bash
# Pins the field numbers of every new field in PROXMOX_SCHEMA into the committed lock
# (proto/pve-api.lock.json). Run it after moving to a newer Proxmox schema; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/schema-path.sh
cmake --preset default -DPROXMOX_SCHEMA="$PROXMOX_SCHEMA" >/dev/null
cmake --build --preset default --target update-lock
