#!/usr/bin/env bash
# Installs the Debian 12 packages pve-grpc-gateway builds and tests with.
# Idempotent: packages already installed are skipped; nothing is fetched when all are present.
# --build: only what building needs (the container image's build stage), no test clients,
# linters or client examples (configure with -DPVEGW_EXAMPLES=OFF then).
# Without --build it also installs the Node example's npm packages (npm ci in examples/node).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  protobuf-compiler libprotobuf-dev libprotoc-dev
  libgrpc++-dev protobuf-compiler-grpc grpc-proto
  libabsl-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev liblmdb-dev
  prometheus-cpp-dev libcivetweb-dev  # metrics: registry and the /metrics exposer
  golang-github-gogo-googleapis-dev
  python3  # configuring registers the Python tests
)
if [ "${1:-}" != "--build" ]; then
  packages+=(
    python3-grpcio python3-protobuf python3-proxmoxer python3-requests python3-yaml
    python3-prometheus-client  # the metrics tests parse /metrics with its text parser
    curl wrk
    openssl  # tests make throw-away TLS certificates with its command line (Deploy.Kubelet, Loadgen)
    # scripts/image-test.sh: the image built and run with Debian's podman. runc, not crun:
    # crun 1.8 refuses hosts whose cgroups are in hybrid mode. It runs podman as root
    # (debootstrap needs root), so no rootless helpers; netavark + iptables publish ports.
    podman runc debootstrap netavark iptables
    clang-format clang-tidy
    # examples/go: built offline from Debian's Go libraries
    golang-go protoc-gen-go protoc-gen-go-grpc
    golang-google-grpc-dev golang-google-protobuf-dev golang-google-genproto-dev
    golang-github-golang-protobuf-1-5-dev  # gRPC's codec needs the v1.5 shim (1.3 panics)
  )
  # examples/node: Debian's Node.js and npm, unless the machine already has both.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    packages+=(nodejs npm)
  fi
  # deploy/k8s is rendered by `kubectl kustomize` (kustomize v4 or later, kubectl >= 1.21).
  # Debian 12's own kubectl (kubernetes-client 1.20) embeds kustomize v2, too old for it, so
  # kubectl is not installed from Debian: get it from the Kubernetes project's repository
  # (https://pkgs.k8s.io, package kubectl) or your cloud SDK. Without it the manifest tests
  # are skipped.
  if ! command -v kubectl >/dev/null 2>&1 && ! command -v kustomize >/dev/null 2>&1; then
    echo "install-deps: kubectl not found; the deploy/k8s render tests will be skipped." >&2
    echo "  Install kubectl >= 1.21 from https://pkgs.k8s.io (see scripts/install-deps.sh)." >&2
  fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -q
  $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}"
fi

# examples/node: exactly the versions in package-lock.json, into examples/node/node_modules.
# Skipped when node_modules already holds what this lock file says.
if [ "${1:-}" != "--build" ]; then
  node_dir="$(cd "$(dirname "$0")/.." && pwd)/examples/node"
  installed_lock="$node_dir/node_modules/.pvegw-package-lock.json"
  if cmp -s "$node_dir/package-lock.json" "$installed_lock"; then
    echo "install-deps: examples/node/node_modules up to date"
  else
    echo "install-deps: npm ci in examples/node"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$node_dir/package-lock.json" "$installed_lock"
  fi
fi
