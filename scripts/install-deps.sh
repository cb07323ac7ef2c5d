#!/usr/bin/env bash
# Installs the Debian 12 packages pve-grpc-gateway builds and tests with.
# Idempotent: packages already installed are skipped; nothing is fetched when all are present.
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
  golang-github-gogo-googleapis-dev
  python3-grpcio python3-protobuf python3-proxmoxer python3-requests
  curl wrk
  clang-format clang-tidy
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -q
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}"
