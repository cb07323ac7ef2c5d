# syntax=docker/dockerfile:1
# pve-gateway and pve-mock on Debian 12, running as the non-root UID 10001 that the
# manifests in deploy/k8s use. Build from the repository root; the Proxmox API schema is an
# input, given as a named build context (a directory holding openapi.json or apidoc.js):
#
#   podman build -t pve-grpc-gateway:0.1.0 --build-context schema=DIR .   (DIR holds openapi.json)
#   podman build ... --build-arg PROXMOX_SCHEMA_FILE=apidoc.js --build-context schema=DIR .
# (docker build takes the same arguments.) scripts/image-test.sh builds and runs it.

# Replaced by --build-context schema=DIR; empty otherwise (the build then stops with a hint).
FROM scratch AS schema

FROM debian:12 AS build
# The project's own dependency script, build packages only (no linters, no test clients).
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN bash /src/scripts/install-deps.sh --build
COPY . /src
COPY --from=schema / /schema/
ARG PROXMOX_SCHEMA_FILE=openapi.json
WORKDIR /src
RUN test -f "/schema/${PROXMOX_SCHEMA_FILE}" || { \
      echo "No Proxmox API schema: docker build --build-context schema=DIR (holding ${PROXMOX_SCHEMA_FILE}) ." >&2; \
      exit 1; }
RUN cmake --preset default -DPROXMOX_SCHEMA="/schema/${PROXMOX_SCHEMA_FILE}" -DPVEGW_EXAMPLES=OFF \
    && cmake --build --preset default --target pve-gateway pve-mock \
    && mkdir -p /out \
    && strip --strip-debug -o /out/pve-gateway build/bin/pve-gateway \
    && strip --strip-debug -o /out/pve-mock build/bin/pve-mock

FROM debian:12-slim AS runtime
# Exactly the shared libraries the binaries load (tests/deploy/dockerfile_test.py maps every
# library `ldd` shows to one of these packages), plus the CA certificates real mode verifies
# Proxmox hosts with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       ca-certificates \
       libabsl20220623 \
       libboost-json1.81.0 \
       libc-ares2 \
       libc6 \
       libcivetweb1 \
       libfmt9 \
       libgcc-s1 \
       libgrpc++1.51 \
       libgrpc29 \
       liblmdb0 \
       libprometheus-cpp-core1.0 \
       libprometheus-cpp-pull1.0 \
       libprotobuf32 \
       libre2-9 \
       libspdlog1.10 \
       libssl3 \
       libstdc++6 \
       libyaml-cpp0.7 \
       zlib1g \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 pvegw \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin pvegw
COPY --from=build /out/pve-gateway /out/pve-mock /usr/local/bin/
USER 10001:10001
# gRPC, metrics, pve-mock's REST API.
EXPOSE 50051 9090 8006
# The gateway listens on loopback unless told otherwise, and off loopback only with TLS, bearer
# tokens or --insecure_listen: docker run -p 127.0.0.1:50051:50051 IMAGE --listen=0.0.0.0:50051
# --insecure_listen (Kubernetes sets PVE_GATEWAY_* in its ConfigMap).
ENTRYPOINT ["pve-gateway"]
