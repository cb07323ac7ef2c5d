#!/usr/bin/env bash
# Builds the container image (Dockerfile) with Debian's podman and runs it: pve-gateway in
# mock mode and pve-mock, called from the host over gRPC (reflection, then an API call) and
# REST (curl), their UID checked, the image size reported.
#
# No registry is needed: the base images come from Debian's archive (debootstrap, minbase)
# and are imported as debian:12 and debian:12-slim; the build never pulls. Everything podman
# keeps (storage, run state, configuration) lives in a temporary directory that is removed
# at the end, as is every container this script started (by id), also on Ctrl-C.
#
# Usage: scripts/image-test.sh [--keep-image FILE]   (FILE: save the image as an OCI archive)
# Needs root (debootstrap), podman, runc, debootstrap, curl, protoc, python3-grpcio (install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
source scripts/schema-path.sh
keep_image=""
if [ "${1:-}" = "--keep-image" ]; then keep_image=$2; fi

start=$(date +%s)
step() { echo "image-test: [$(( $(date +%s) - start ))s] $*"; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/pvegw-image-test.XXXXXX")
containers=()
pm() { podman --root "$work/storage" --runroot "$work/run" --storage-driver overlay "$@"; }
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for id in "${containers[@]}"; do pm rm --force --time 5 "$id" >/dev/null 2>&1 || true; done
  pm rmi --all --force >/dev/null 2>&1 || true
  # Layers podman still has mounted under the temporary storage, then the directory itself.
  # (debootstrap mounts /proc and /sys in the root it builds, should it be interrupted.)
  grep -o " $work/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# podman's configuration: Debian's defaults, with runc (crun 1.8 refuses hosts whose cgroups
# are in hybrid mode) and the highest file and process limits such hosts let a container set.
export CONTAINERS_CONF="$work/containers.conf"
/usr/bin/python3 - /usr/share/containers/containers.conf "$CONTAINERS_CONF" <<'EOF'
import sys
text = open(sys.argv[1]).read()
add = {"[containers]": 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
       "[engine]": 'runtime = "runc"'}
out = []
for line in text.splitlines():
    out.append(line)
    if line.strip() in add:
        out.append(add.pop(line.strip()))
if add:
    sys.exit("containers.conf: no %s table in %s" % (", ".join(add), sys.argv[1]))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
EOF
export CONTAINERS_STORAGE_CONF="$work/storage.conf"
printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' \
  "$work/storage" "$work/run" >"$CONTAINERS_STORAGE_CONF"

# The Debian mirror this machine's apt uses (its main archive, not the security one).
mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' 'Codename: bookworm' \
  | head -n1)
mirror=${mirror:-http://deb.debian.org/debian/}
step "debootstrap --variant=minbase bookworm from $mirror"
debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 20 "$work/debootstrap.log" >&2
  exit 1
}
tar -C "$work/rootfs" -c . | pm import - debian:12 >/dev/null
pm tag debian:12 debian:12-slim
rm -rf "$work/rootfs"
step "imported debian:12 and debian:12-slim ($(pm image inspect debian:12 --format '{{.Size}}') bytes)"

schema_dir=$(dirname "$PROXMOX_SCHEMA")
schema_file=$(basename "$PROXMOX_SCHEMA")
step "podman build (schema $PROXMOX_SCHEMA)"
# Host network while building: the build stage's apt reaches the mirror as the host does.
pm build --pull=never --network=host -t pve-grpc-gateway:0.1.0 \
  --build-context schema="$schema_dir" --build-arg PROXMOX_SCHEMA_FILE="$schema_file" \
  -f Dockerfile . >"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2
  exit 1
}
size=$(pm image inspect pve-grpc-gateway:0.1.0 --format '{{.Size}}')
step "built pve-grpc-gateway:0.1.0: $(( size / 1024 / 1024 )) MiB ($size bytes)"
if [ -n "$keep_image" ]; then pm save --format oci-archive -o "$keep_image" pve-grpc-gateway:0.1.0; fi

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() {  # wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds, or fail
  local what=$1 deadline=$(( $(date +%s) + $2 )); shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "image-test: $what never came" >&2; return 1; fi
    sleep 0.2
  done
}

# The README's line: published on the host's loopback only, so the container's plaintext
# listener is reachable from this host alone (--insecure_listen says that is intended).
grpc_port=$(free_port)
step "podman run pve-gateway (mock mode) on 127.0.0.1:$grpc_port"
id=$(pm run -d -p "127.0.0.1:$grpc_port:50051" pve-grpc-gateway:0.1.0 \
  --listen=0.0.0.0:50051 --insecure_listen)
containers+=("$id")

rest_port=$(free_port)
step "podman run pve-mock on 127.0.0.1:$rest_port"
mock_id=$(pm run -d -p "127.0.0.1:$rest_port:8006" -e PVE_MOCK_ROOT_PASSWORD=image-test \
  --entrypoint pve-mock pve-grpc-gateway:0.1.0 --listen=0.0.0.0:8006)
containers+=("$mock_id")

logs_have() { pm logs "$1" 2>&1 | grep -q "$2"; }
wait_for "pve-gateway's start-up line" 60 logs_have "$id" "serving mode=mock"
wait_for "pve-mock's start-up line" 60 logs_have "$mock_id" "serving https://"
pm logs "$id" 2>&1 | sed 's/^/  pve-gateway: /'
pm logs "$mock_id" 2>&1 | sed 's/^/  pve-mock: /'

for c in "$id" "$mock_id"; do
  uid=$(pm exec "$c" id -u)
  user=$(pm inspect "$c" --format '{{.Config.User}}')
  if [ "$uid" != 10001 ]; then echo "image-test: container runs as UID $uid, not 10001" >&2; exit 1; fi
  step "container ${c:0:12} runs as UID $uid (image user $user)"
done

step "gRPC from the host: reflection, then Nodes/GetNodes"
/usr/bin/python3 scripts/grpc-call.py "127.0.0.1:$grpc_port" list
/usr/bin/python3 scripts/grpc-call.py "127.0.0.1:$grpc_port" proxmox.ve.v1.Version/GetVersion
/usr/bin/python3 scripts/grpc-call.py "127.0.0.1:$grpc_port" proxmox.ve.v1.Nodes/GetNodes \
  | head -n 12

step "REST from the host: log in to pve-mock, then GET /nodes"
ticket=$(curl -sS -k --fail -d 'username=root@pam' -d 'password=image-test' \
  "https://127.0.0.1:$rest_port/api2/json/access/ticket" \
  | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["ticket"])')
curl -sS -k --fail -b "PVEAuthCookie=$ticket" "https://127.0.0.1:$rest_port/api2/json/nodes"
echo

for c in "$id" "$mock_id"; do
  pm stop --time 20 "$c" >/dev/null
  code=$(pm inspect "$c" --format '{{.State.ExitCode}}')
  if [ "$code" != 0 ]; then echo "image-test: ${c:0:12} exited $code on SIGTERM" >&2; exit 1; fi
done
step "both containers stopped cleanly on SIGTERM"
step "passed: image $(( size / 1024 / 1024 )) MiB, $(( $(date +%s) - start )) s in all"
