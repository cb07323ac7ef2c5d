# Sourced by the scripts: sets PROXMOX_SCHEMA to the Proxmox API schema to build against.
# Under CI (CI=true) it is always the full PVE schema in ../shared/schema/pve/, and a
# missing file is a hard error: CI never falls back to a smaller schema.
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared_schema="$repo_root/../shared/schema/pve/openapi.json"

if [ "${CI:-}" = "true" ]; then
  if [ ! -f "$shared_schema" ]; then
    echo "ERROR: CI needs the full Proxmox schema at $shared_schema, and it is missing." >&2
    exit 1
  fi
  PROXMOX_SCHEMA=$(cd "$(dirname "$shared_schema")" && pwd)/openapi.json
elif [ -z "${PROXMOX_SCHEMA:-}" ]; then
  if [ -f "$shared_schema" ]; then
    PROXMOX_SCHEMA=$(cd "$(dirname "$shared_schema")" && pwd)/openapi.json
  else
    cat >&2 <<MSG
ERROR: no Proxmox API schema. Fetch it from one of your hosts and point PROXMOX_SCHEMA at it:
  curl -k https://HOST:8006/pve-docs/api-viewer/apidoc.js -o apidoc.js
  PROXMOX_SCHEMA=\$PWD/apidoc.js $0
MSG
    exit 1
  fi
fi
if [ ! -f "$PROXMOX_SCHEMA" ]; then
  echo "ERROR: PROXMOX_SCHEMA=$PROXMOX_SCHEMA does not exist" >&2
  exit 1
fi
PROXMOX_SCHEMA=$(cd "$(dirname "$PROXMOX_SCHEMA")" && pwd)/$(basename "$PROXMOX_SCHEMA")
export PROXMOX_SCHEMA
