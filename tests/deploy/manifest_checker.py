#!/usr/bin/python3
"""Checks rendered Kubernetes manifests (kubectl kustomize output) against the invariants
deploy/k8s promises for every container of every object: native gRPC probes for the gateway,
non-root with a fixed UID, read-only root filesystem, no capabilities, RuntimeDefault seccomp,
requests and limits, /dev/shm as a bounded memory volume, secrets only by reference, no
service-account token, a NetworkPolicy that opens only the declared ports.

Usage: manifest_checker.py FILE... (or - for stdin); exit status 1 lists every violation.
"""
import re
import sys

import yaml

# The UID the image's user has (Dockerfile) and every container runs as.
EXPECTED_UID = 10001
UPSTREAM_HEALTH_SERVICE = "proxmox.gateway.v1.Upstream"
OUR_BINARIES = ("pve-gateway", "pve-mock")
OUR_IMAGE = "pve-grpc-gateway"
# Settings that hold secrets: only ever from a Secret, never a literal, a ConfigMap or a flag.
SECRET_SETTINGS = {
    "PROXMOX_API_TOKEN_SECRET": "api_token_secret",
    "PROXMOX_API_PASSWORD": "api_password",
    "PROXMOX_API_OTP": "api_otp",
    "PVE_MOCK_ROOT_PASSWORD": "root_password",
}
# The flags of pve-gateway the checker needs, and their environment names.
GATEWAY_FLAGS = {
    "listen": "PVE_GATEWAY_LISTEN",
    "mode": "PROXMOX_API_MODE",
    "metrics_listen": "PVE_GATEWAY_METRICS_LISTEN",
    "health_listen": "PVE_GATEWAY_HEALTH_LISTEN",
    "tls_cert": "PVE_GATEWAY_TLS_CERT",
    "auth_tokens_file": "PVE_GATEWAY_AUTH_TOKENS_FILE",
    "insecure_listen": "PVE_GATEWAY_INSECURE_LISTEN",
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def load(paths):
    docs = []
    for path in paths:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def quantity_bytes(q):
    """Kubernetes quantity ("64Mi", "1G", "1048576") in bytes; None if malformed."""
    m = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(q))
    if not m:
        return None
    scale = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
             "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}[m.group(2)]
    return int(float(m.group(1)) * scale)


def pod_spec(obj):
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get(
            "spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def pod_labels(obj):
    if obj.get("kind") == "Pod":
        return (obj.get("metadata") or {}).get("labels") or {}
    return (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "labels") or {}


def selects(selector, labels):
    if not selector:
        return False
    match = selector.get("matchLabels") or {}
    if selector.get("matchExpressions"):
        return False  # not used by our manifests; treat as not matching (stricter)
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def role(container):
    """pve-gateway, pve-mock, or None for someone else's container."""
    command = container.get("command") or []
    if command:
        binary = str(command[0]).rsplit("/", 1)[-1]
        if binary in OUR_BINARIES:
            return binary
    if image_repository(str(container.get("image", ""))) == OUR_IMAGE:
        return "pve-gateway"  # the image's entrypoint
    return None


def image_repository(image):
    """'registry:5000/team/pve-grpc-gateway:1.0@sha256:...' -> 'pve-grpc-gateway'."""
    return image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]


class Checker:
    def __init__(self, docs):
        self.docs = docs
        self.errors = []
        self.configmaps = {d["metadata"]["name"]: d.get("data") or {}
                           for d in docs if d.get("kind") == "ConfigMap"}
        self.exposed = []  # workloads whose gateway serves gRPC on the pod IP
        self.plaintext_open = []  # of those, the ones without TLS or bearer tokens
        self.service_accounts = {d["metadata"]["name"]: d for d in docs
                                 if d.get("kind") == "ServiceAccount"}

    def error(self, where, what):
        self.errors.append(f"{where}: {what}")

    # Settings of a container: ConfigMaps (envFrom), then env, then --flag=value arguments.
    def settings(self, container):
        values = {}
        for source in container.get("envFrom") or []:
            ref = source.get("configMapRef")
            if ref:
                values.update({k: str(v) for k, v in
                               self.configmaps.get(ref.get("name"), {}).items()})
        for env in container.get("env") or []:
            if "value" in env:
                values[env["name"]] = str(env["value"])
            elif env.get("valueFrom"):
                values[env["name"]] = "<from " + ",".join(env["valueFrom"]) + ">"
        for arg in (container.get("command") or [])[1:] + (container.get("args") or []):
            m = re.fullmatch(r"--?([a-z_]+)(?:=(.*))?", str(arg))
            if m and m.group(1) in GATEWAY_FLAGS:
                values[GATEWAY_FLAGS[m.group(1)]] = "true" if m.group(2) is None else m.group(2)
        return values

    def check(self):
        workloads = [d for d in self.docs if d.get("kind") in WORKLOAD_KINDS]
        ours = 0
        for obj in workloads:
            ours += self.check_workload(obj)
        if ours == 0:
            self.error("manifests", "no pve-gateway or pve-mock container rendered")
        for name, data in self.configmaps.items():
            for key in data:
                if key in SECRET_SETTINGS:
                    self.error(f"ConfigMap/{name}", f"holds the secret {key}; use a Secret")
        for obj in self.docs:
            if obj.get("kind") == "NetworkPolicy":
                self.check_network_policy(obj, workloads)
        for obj in self.exposed:
            self.check_exposed(obj)
        return self.errors

    def check_exposed(self, obj):
        """A gateway serving gRPC on the pod IP comes with its Service (gRPC and metrics
        ports), a PodDisruptionBudget and a NetworkPolicy."""
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        labels = pod_labels(obj)

        def selecting(kind, key):
            return [d for d in self.docs if d.get("kind") == kind and
                    selects(key(d.get("spec") or {}), labels)]

        if not selecting("PodDisruptionBudget", lambda s: s.get("selector")):
            self.error(name, "no PodDisruptionBudget selects its pods")
        if not selecting("NetworkPolicy", lambda s: s.get("podSelector")):
            self.error(name, "no NetworkPolicy selects its pods")
        services = selecting("Service", lambda s: {"matchLabels": s.get("selector")})
        targets = {str(p.get("targetPort")) for s in services
                   for p in (s.get("spec") or {}).get("ports") or []}
        for port in ("grpc", "metrics"):
            if port not in targets:
                self.error(name, f"no Service exposes its {port} port")
        if obj in self.plaintext_open:
            # Neither TLS nor tokens: the NetworkPolicy is all that keeps others off the port.
            for np in selecting("NetworkPolicy", lambda s: s.get("podSelector")):
                for rule in (np.get("spec") or {}).get("ingress") or []:
                    if "grpc" in [str(p.get("port")) for p in rule.get("ports") or []] and \
                            not rule.get("from"):
                        self.error(name, f"serves gRPC without TLS or bearer tokens, and "
                                   f"NetworkPolicy/{np['metadata']['name']} admits anyone to it")

    def check_workload(self, obj):
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        spec = pod_spec(obj)
        pod_sc = spec.get("securityContext") or {}
        if spec.get("automountServiceAccountToken") is not False:
            self.error(name, "automountServiceAccountToken must be false")
        sa = spec.get("serviceAccountName")
        if sa in self.service_accounts and \
                self.service_accounts[sa].get("automountServiceAccountToken") is not False:
            self.error(f"ServiceAccount/{sa}", "automountServiceAccountToken must be false")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            self.error(name, "must not share the host's network, PID or IPC namespace")
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
        if not containers:
            self.error(name, "has no containers")
        ours = 0
        for c in containers:
            where = f"{name} container {c.get('name')}"
            self.check_security(where, c, pod_sc)
            self.check_resources(where, c)
            self.check_secrets(where, c)
            r = role(c)
            if r is None:
                continue
            ours += 1
            self.check_image(where, c)
            self.check_shm(where, c, volumes)
            if r == "pve-gateway":
                self.check_gateway(where, c, obj)
            else:
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    if not c.get(probe):
                        self.error(where, f"has no {probe}")
        return ours

    def check_image(self, where, c):
        # An image without a tag or digest is ':latest': every replica could run another build.
        image = str(c.get("image", ""))
        name = image.split("@")[0].rsplit("/", 1)[-1]  # the last part; a registry port is not a tag
        if "@" not in image and ":" not in name:
            self.error(where, f"image {image!r} must name a version (tag or digest), not :latest")
        elif name.endswith(":latest"):
            self.error(where, f"image {image!r} must name a version, not :latest")

    def check_security(self, where, c, pod_sc):
        sc = c.get("securityContext") or {}

        def effective(key):
            return sc[key] if key in sc else pod_sc.get(key)

        if effective("runAsNonRoot") is not True:
            self.error(where, "runAsNonRoot must be true")
        uid = effective("runAsUser")
        if uid != EXPECTED_UID and not (role(c) is None and isinstance(uid, int) and uid > 0):
            self.error(where, f"runAsUser must be the image's fixed non-root UID {EXPECTED_UID} "
                       f"(is {uid})")
        if sc.get("readOnlyRootFilesystem") is not True:
            self.error(where, "readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            self.error(where, "allowPrivilegeEscalation must be false")
        if sc.get("privileged"):
            self.error(where, "must not be privileged")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            self.error(where, "capabilities must drop ALL")
        if caps.get("add"):
            self.error(where, f"must not add capabilities {caps['add']}")
        seccomp = effective("seccompProfile") or {}
        if seccomp.get("type") != "RuntimeDefault":
            self.error(where, "seccompProfile.type must be RuntimeDefault")

    def check_resources(self, where, c):
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in (res.get(kind) or {}):
                    self.error(where, f"resources.{kind}.{r} missing")

    def check_secrets(self, where, c):
        for env in c.get("env") or []:
            if env.get("name") in SECRET_SETTINGS:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if "value" in env or not ref:
                    self.error(where, f"{env['name']} must come from a Secret (secretKeyRef)")
        for arg in (c.get("command") or []) + (c.get("args") or []):
            for flag in SECRET_SETTINGS.values():
                if str(arg).startswith(f"--{flag}="):
                    self.error(where, f"--{flag} on the command line shows the secret in `ps`")

    def check_shm(self, where, c, volumes):
        mounts = [m for m in c.get("volumeMounts") or [] if m.get("mountPath") == "/dev/shm"]
        if not mounts:
            self.error(where, "/dev/shm must be mounted from a memory emptyDir")
            return
        vol = volumes.get(mounts[0].get("name")) or {}
        empty = vol.get("emptyDir")
        if empty is None or empty.get("medium") != "Memory":
            self.error(where, "/dev/shm must be an emptyDir with medium: Memory")
            return
        limit = quantity_bytes(empty.get("sizeLimit")) if empty.get("sizeLimit") else None
        if limit is None:
            self.error(where, "/dev/shm emptyDir needs a sizeLimit")
            return
        capacity = self.settings(c).get("PROXMOX_MOCK_STATE_CAPACITY_MB")
        # The store's default map size (512 MiB) when unset.
        capacity_bytes = (int(capacity) << 20) if capacity and capacity.isdigit() else 512 << 20
        if capacity_bytes > limit:
            self.error(where, f"mock store capacity {capacity_bytes >> 20} MiB exceeds the "
                       f"/dev/shm sizeLimit {empty['sizeLimit']}")

    def check_gateway(self, where, c, obj):
        s = self.settings(c)
        mode = s.get("PROXMOX_API_MODE", "mock")
        listen = s.get("PVE_GATEWAY_LISTEN", "127.0.0.1:50051")
        health = s.get("PVE_GATEWAY_HEALTH_LISTEN")
        metrics = s.get("PVE_GATEWAY_METRICS_LISTEN")
        listen_host, _, listen_port = listen.rpartition(":")
        tls = bool(s.get("PVE_GATEWAY_TLS_CERT"))
        tokens = bool(s.get("PVE_GATEWAY_AUTH_TOKENS_FILE"))
        insecure = s.get("PVE_GATEWAY_INSECURE_LISTEN", "").lower() in ("true", "1", "yes")
        off_loopback = listen_host not in LOOPBACK_HOSTS and not listen_host.startswith("127.")
        if off_loopback and obj not in self.exposed:
            self.exposed.append(obj)
        if off_loopback and not (tls or tokens):
            # pve-gateway refuses this at start-up (exit 2) unless told the network is trusted.
            if not insecure:
                self.error(where, f"listens on {listen} without TLS or bearer tokens and without "
                           "PVE_GATEWAY_INSECURE_LISTEN: pve-gateway refuses to start")
            elif mode == "real":
                self.error(where, f"real mode on {listen} without TLS or bearer tokens: anyone "
                           "who reaches the pod drives the Proxmox API")
            if obj not in self.plaintext_open:
                self.plaintext_open.append(obj)
        # The kubelet probes the pod IP in plaintext: the port that answers gRPC health there.
        probe_ports = set()
        if off_loopback and not tls:
            probe_ports.add(listen_port)
        if health:
            h_host, _, h_port = health.rpartition(":")
            if h_host not in LOOPBACK_HOSTS:
                probe_ports.add(h_port)
        if not metrics:
            self.error(where, "metrics listener (PVE_GATEWAY_METRICS_LISTEN) not set")
        declared = {str(p.get("containerPort")): p.get("name") for p in c.get("ports") or []}
        for addr in filter(None, [metrics]):
            host, _, port = addr.rpartition(":")
            if host in LOOPBACK_HOSTS:
                self.error(where, f"metrics listener {addr} cannot be scraped on loopback")
            elif port not in declared:
                self.error(where, f"metrics port {port} is not a declared containerPort")
        for port in probe_ports:
            if port not in declared:
                self.error(where, f"health port {port} is not a declared containerPort")
        expected = {"startupProbe": "", "livenessProbe": "",
                    "readinessProbe": UPSTREAM_HEALTH_SERVICE if mode == "real" else ""}
        for probe, service in expected.items():
            p = c.get(probe)
            if not p:
                self.error(where, f"has no {probe}")
                continue
            grpc = p.get("grpc")
            if grpc is None:
                self.error(where, f"{probe} must be a native grpc probe")
                continue
            if str(grpc.get("port")) not in probe_ports:
                self.error(where, f"{probe} probes port {grpc.get('port')}, where no gRPC health "
                           f"listens on the pod IP (listening: {sorted(probe_ports) or 'none'})")
            if (grpc.get("service") or "") != service:
                self.error(where, f"{probe} must check health service \"{service}\" in {mode} "
                           f"mode, not \"{grpc.get('service') or ''}\"")

    def check_network_policy(self, np, workloads):
        name = f"NetworkPolicy/{np['metadata']['name']}"
        spec = np.get("spec") or {}
        if "Ingress" not in (spec.get("policyTypes") or []):
            self.error(name, "policyTypes must include Ingress")
        selected = [w for w in workloads if selects(spec.get("podSelector"), pod_labels(w))]
        if not selected:
            self.error(name, "selects no rendered pod")
        declared = set()
        for w in selected:
            for c in pod_spec(w).get("containers") or []:
                for p in c.get("ports") or []:
                    declared.add(str(p.get("containerPort")))
                    if p.get("name"):
                        declared.add(p["name"])
        for i, rule in enumerate(spec.get("ingress") or []):
            ports = rule.get("ports") or []
            if not ports:
                self.error(name, f"ingress rule {i} opens every port; list the ports")
            for p in ports:
                if str(p.get("port")) not in declared:
                    self.error(name, f"ingress rule {i} opens port {p.get('port')}, which no "
                               "selected container declares")


def check(docs):
    """Every violation in the rendered objects, as 'Kind/name container c: what' lines."""
    return Checker(docs).check()


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    errors = check(load(argv[1:]))
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
