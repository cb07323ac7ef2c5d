#!/usr/bin/python3
"""Starts what deploy/k8s describes the way a kubelet would, with the real binaries.

Each overlay is rendered with `kubectl kustomize`; every pod holding a pve-gateway or pve-mock
container gets a network namespace of its own (loopback and a pod IP that the probes dial,
so that what listens on 127.0.0.1 alone fails them, as on a node) and a mount
namespace with /dev/shm as a memory volume of the pod's sizeLimit. In it every such container
is started from its `command`/`args`, with the environment a kubelet gives it (`envFrom`
ConfigMaps, then `env`, `$(VAR)` expanded as the kubelet does, Secrets replaced by test
values), mounted Secret volumes written into a temporary directory (paths in the settings
remapped to it), and then its startup, liveness and readiness probes (gRPC, TCP, HTTP; named
ports resolved) are run until each passes within its budget (initialDelaySeconds +
periodSeconds x failureThreshold). A container that exits, or a probe that never passes,
fails the test; at the end every process must stop cleanly on SIGTERM within the pod's
terminationGracePeriodSeconds. Real-mode pods get a started pve-mock as their Proxmox host
(PROXMOX_API_URL and its certificate's fingerprint, and an API token made on it).

The README's `docker run` line is run the same way: the image's entrypoint with its arguments.

Usage: kubelet_test.py --gateway BIN --pve-mock BIN --protoc BIN [unittest arguments]
"""
import argparse
import fcntl
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
K8S = os.path.join(REPO, "deploy", "k8s")
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import pvetest  # noqa: E402

OVERLAYS = ["base", "standalone", "sidecar", "mock"]
OUR_BINARIES = ("pve-gateway", "pve-mock")
OUR_IMAGE = "pve-grpc-gateway"
# The Dockerfile's ENTRYPOINT: what a container of the image runs without a command.
with open(os.path.join(REPO, "Dockerfile"), encoding="utf-8") as _f:
    IMAGE_ENTRYPOINT = re.search(r'^ENTRYPOINT \["([^"]+)"\]', _f.read(), re.M).group(1)
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HEALTH_PROTO = "/usr/share/grpc-proto/grpc/health/v1/health.proto"
RUN_POD_TIMEOUT_S = 240
POD_IP = "10.244.0.2"  # in the pod's own network namespace only
PROBE_KINDS = ("grpc", "tcpSocket", "httpGet")
# Test values for every Secret the manifests reference. PROXMOX_API_TOKEN_* are made on the
# started pve-mock for real mode; tls.crt/tls.key are generated.
MOCK_ROOT_PASSWORD = "kubelet-test-root"
CLIENT_TOKEN = "kubelet-test-client-token"
ARGS = None


# ---- inside the pod's namespaces ----------------------------------------------------------

def set_up_pod_network():
    """The pod's network, without iproute2: loopback up (a new network namespace starts with
    it down) and the pod IP as a second address on it, so that, as with a kubelet, a probe
    reaches only what listens on the pod IP, never what listens on 127.0.0.1 alone."""
    siocgifflags, siocsifflags, siocsifaddr, siocsifnetmask, iff_up = (
        0x8913, 0x8914, 0x8916, 0x891C, 0x1)

    def with_address(name, ip):
        return struct.pack("16sH2s4s8x", name, socket.AF_INET, b"\0\0", socket.inet_aton(ip))

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for name in (b"lo", b"lo:1"):
            if name == b"lo:1":
                fcntl.ioctl(s, siocsifaddr, with_address(name, POD_IP))
                fcntl.ioctl(s, siocsifnetmask, with_address(name, "255.255.255.255"))
            ifreq = struct.pack("16sH14x", name, 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(s, siocgifflags, ifreq))[1]
            fcntl.ioctl(s, siocsifflags, struct.pack("16sH14x", name, flags | iff_up))


def image_repository(image):
    """'registry:5000/team/pve-grpc-gateway:1.0@sha256:...' -> 'pve-grpc-gateway'."""
    return image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]


def health_module():
    """health_pb2 as protoc wrote it into $PVEGW_HEALTH_STUBS (loaded from its file: its
    package path grpc.health.v1 would collide with the installed grpc package)."""
    import importlib.util
    path = os.path.join(os.environ["PVEGW_HEALTH_STUBS"], "grpc/health/v1/health_pb2.py")
    spec = importlib.util.spec_from_file_location("health_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quantity_bytes(q):
    m = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|k|M|G)?", str(q))
    scale = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 10**3, "M": 10**6,
             "G": 10**9}[m.group(2)]
    return int(float(m.group(1)) * scale)


def expand(value, env):
    """Kubernetes' $(VAR) expansion: $$ escapes, unknown references stay as written."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, value)


def self_signed(dirpath):
    """A certificate and key for the gateway's TLS Secret (kubernetes.io/tls keys)."""
    crt, key = os.path.join(dirpath, "tls.crt"), os.path.join(dirpath, "tls.key")
    pvetest.self_signed_cert(crt, key, "pve-gateway", "DNS:localhost,IP:127.0.0.1")
    with open(crt) as c, open(key) as k:
        return c.read(), k.read()


class Pod:
    """One pod's containers of ours, started and probed in this process's namespaces."""

    def __init__(self, workload, configmaps, secrets, binaries, workdir):
        self.name = f"{workload['kind']}/{workload['metadata']['name']}"
        self.spec = workload["spec"] if workload["kind"] == "Pod" else \
            workload["spec"]["template"]["spec"]
        self.configmaps, self.secrets, self.binaries = configmaps, secrets, binaries
        self.workdir = workdir
        self.procs = {}
        self.shm_mounted = False
        self.envs = {}
        self.volumes = {v["name"]: v for v in self.spec.get("volumes") or []}
        self.containers = []
        for c in self.spec.get("containers") or []:
            if not c.get("command") and image_repository(c.get("image", "")) == OUR_IMAGE:
                c = dict(c, command=[IMAGE_ENTRYPOINT])  # the image's ENTRYPOINT
            if os.path.basename((c.get("command") or [""])[0]) in OUR_BINARIES:
                self.containers.append(c)

    def volume_path(self, name):
        """A pod volume as a directory: Secret and ConfigMap volumes hold their keys."""
        path = os.path.join(self.workdir, self.name.replace("/", "-"), "volumes", name)
        if os.path.isdir(path):
            return path
        os.makedirs(path)
        vol = self.volumes[name]
        if "secret" in vol:
            items = self.secrets[vol["secret"]["secretName"]]
            mode = vol["secret"].get("defaultMode", 0o644)
        elif "configMap" in vol:
            items = self.configmaps[vol["configMap"]["name"]]
            mode = vol["configMap"].get("defaultMode", 0o644)
        elif "emptyDir" in vol:
            return path
        else:
            raise AssertionError(f"{self.name}: volume {name} of a kind this test cannot make")
        for key, value in items.items():
            with open(os.path.join(path, key), "w") as f:
                f.write(value)
            os.chmod(os.path.join(path, key), mode)
        return path

    def mount_shm(self, container):
        for m in container.get("volumeMounts") or []:
            if m["mountPath"] == "/dev/shm":
                empty = self.volumes[m["name"]].get("emptyDir") or {}
                assert empty.get("medium") == "Memory", "/dev/shm must be a memory emptyDir"
                size = quantity_bytes(empty.get("sizeLimit", "64Mi"))
                if not self.shm_mounted:  # one volume, shared by the pod's containers
                    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=1777",
                                    "tmpfs", "/dev/shm"], check=True)
                    self.shm_mounted = True

    def environment(self, c):
        env = {"PATH": IMAGE_PATH, "HOSTNAME": self.name.split("/")[1]}
        for source in c.get("envFrom") or []:
            if "configMapRef" in source:
                env.update(self.configmaps[source["configMapRef"]["name"]])
            elif "secretRef" in source:
                env.update(self.secrets[source["secretRef"]["name"]])
        for e in c.get("env") or []:
            if "value" in e:
                env[e["name"]] = expand(str(e["value"]), env)
                continue
            ref = (e.get("valueFrom") or {}).get("secretKeyRef") or \
                (e.get("valueFrom") or {}).get("configMapKeyRef")
            assert ref, f"{self.name}: env {e['name']} from a source this test cannot fill"
            source = self.secrets if "secretKeyRef" in e["valueFrom"] else self.configmaps
            value = source.get(ref["name"], {}).get(ref["key"])
            if value is None:
                # The kubelet starts the container only if the reference is optional.
                assert ref.get("optional"), f"{self.name}: {ref['name']}/{ref['key']} missing"
                continue
            env[e["name"]] = value
        return env

    def remap(self, c, value):
        """A mounted path in a setting, pointed at the volume's directory here."""
        for m in c.get("volumeMounts") or []:
            mount = m["mountPath"].rstrip("/")
            if mount == "/dev/shm":
                continue  # mounted for real in this mount namespace
            if value == mount or value.startswith(mount + "/"):
                return self.volume_path(m["name"]) + value[len(mount):]
        return value

    def start(self):
        for c in self.containers:
            self.mount_shm(c)
            env = {k: self.remap(c, v) for k, v in self.environment(c).items()}
            command = [expand(str(a), env) for a in c["command"] + (c.get("args") or [])]
            command = [re.sub(r"^(--[a-z_]+=)(/.*)$",
                              lambda m: m.group(1) + self.remap(c, m.group(2)), a)
                       for a in command]
            command[0] = self.binaries[os.path.basename(command[0])]
            log = open(os.path.join(self.workdir, c["name"] + ".log"), "w+")
            proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, cwd="/")
            self.procs[c["name"]] = (proc, log, command)
            self.envs[c["name"]] = env

    def log(self, name):
        log = self.procs[name][1]
        if not log.closed:
            log.flush()
        with open(log.name) as f:
            return f.read()

    def port(self, c, port):
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for p in c.get("ports") or []:
            if p.get("name") == port:
                return int(p["containerPort"])
        raise AssertionError(f"{self.name} container {c['name']}: no port named {port}")

    def attempt(self, c, probe):
        """One probe attempt as the kubelet makes it, against the pod IP."""
        timeout = probe.get("timeoutSeconds", 1)
        if "grpc" in probe:
            import grpc
            health_pb2 = health_module()
            port = self.port(c, probe["grpc"]["port"])
            with grpc.insecure_channel(f"{POD_IP}:{port}") as channel:
                check = channel.unary_unary(
                    "/grpc.health.v1.Health/Check",
                    request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                    response_deserializer=health_pb2.HealthCheckResponse.FromString)
                try:
                    answer = check(health_pb2.HealthCheckRequest(
                        service=probe["grpc"].get("service") or ""), timeout=timeout)
                except grpc.RpcError as e:
                    return f"gRPC health: {e.code().name} {e.details()}"
                if answer.status != health_pb2.HealthCheckResponse.SERVING:
                    return "gRPC health: " + health_pb2.HealthCheckResponse.ServingStatus.Name(
                        answer.status)
                return None
        if "tcpSocket" in probe:
            try:
                socket.create_connection((POD_IP, self.port(c, probe["tcpSocket"]["port"])),
                                         timeout=timeout).close()
                return None
            except OSError as e:
                return f"TCP: {e}"
        if "httpGet" in probe:
            h = probe["httpGet"]
            scheme = h.get("scheme", "HTTP").lower()
            url = f"{scheme}://{POD_IP}:{self.port(c, h['port'])}{h.get('path', '/')}"
            request = urllib.request.Request(
                url, headers={x["name"]: x["value"] for x in h.get("httpHeaders") or []})
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # as the kubelet
            try:
                with urllib.request.urlopen(request, timeout=timeout, context=context) as r:
                    return None if 200 <= r.status < 400 else f"HTTP {r.status}"
            except urllib.error.HTTPError as e:
                return None if 200 <= e.code < 400 else f"HTTP {e.code}"
            except OSError as e:
                return f"HTTP: {e}"
        raise AssertionError(f"{self.name} container {c['name']}: probe {probe} is of a kind "
                             "this test does not run")

    def run_probe(self, c, kind):
        probe = c.get(kind)
        if not probe:
            return None
        budget = probe.get("initialDelaySeconds", 0) + \
            probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)
        started = time.monotonic()
        deadline = started + budget
        proc = self.procs[c["name"]][0]
        last = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return f"exited with status {proc.returncode} during its {kind}"
            last = self.attempt(c, probe)
            if last is None:
                print(f"{self.name} container {c['name']}: {kind} "
                      f"{json.dumps({k: v for k, v in probe.items() if k in PROBE_KINDS})} "
                      f"passed after {time.monotonic() - started:.2f} s (budget {budget} s)")
                return None
            time.sleep(min(0.2, probe.get("periodSeconds", 10)))
        return f"{kind} did not pass within {budget} s: {last}"

    def check_api_port(self, c):
        """What a client of the gateway's API port meets, as the manifest configured it: TLS
        (verified against the Secret's certificate) and bearer tokens when set. One
        Gateway/GetInfo call with what a client needs, one without the token. None if fine."""
        import grpc
        # Flags win over the environment, as in pve-gateway.
        env = dict(self.envs[c["name"]])
        flags = {"listen": "PVE_GATEWAY_LISTEN", "tls_cert": "PVE_GATEWAY_TLS_CERT",
                 "auth_tokens_file": "PVE_GATEWAY_AUTH_TOKENS_FILE"}
        for arg in self.procs[c["name"]][2][1:]:
            m = re.fullmatch(r"--([a-z_]+)=(.*)", arg)
            if m and m.group(1) in flags:
                env[flags[m.group(1)]] = m.group(2)
        host, _, port = env.get("PVE_GATEWAY_LISTEN", "127.0.0.1:50051").rpartition(":")
        # A client in another pod dials the pod IP; on loopback, only the pod's own containers
        # can call (a sidecar's application).
        target = f"{'127.0.0.1' if host.startswith('127.') else POD_IP}:{port}"
        if env.get("PVE_GATEWAY_TLS_CERT"):
            with open(env["PVE_GATEWAY_TLS_CERT"], "rb") as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            channel = grpc.secure_channel(target, creds,
                                          options=[("grpc.ssl_target_name_override", "localhost")])
        else:
            channel = grpc.insecure_channel(target)
        token = "authorization", "Bearer " + CLIENT_TOKEN
        get_info = channel.unary_unary("/proxmox.gateway.v1.Gateway/GetInfo",
                                       request_serializer=lambda _: b"",
                                       response_deserializer=lambda b: b)
        with channel:
            try:
                get_info(None, timeout=10, metadata=[token])
            except grpc.RpcError as e:
                return f"API port {target}: GetInfo failed: {e.code().name} {e.details()}"
            if env.get("PVE_GATEWAY_AUTH_TOKENS_FILE"):
                try:
                    get_info(None, timeout=10)
                    return f"API port {target}: GetInfo without a bearer token succeeded"
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.UNAUTHENTICATED:
                        return f"API port {target}: no token gave {e.code().name}"
        how = " over TLS" if env.get("PVE_GATEWAY_TLS_CERT") else ""
        if env.get("PVE_GATEWAY_AUTH_TOKENS_FILE"):
            how += ", refuses a call without a bearer token"
        print(f"{self.name} container {c['name']}: API port {target} answers GetInfo{how}")
        return None

    def probe_all(self):
        problems = []
        # The kubelet runs liveness and readiness once the startup probe has passed.
        failed = set()
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            for c in self.containers:
                if c["name"] in failed:
                    continue
                problem = self.run_probe(c, kind)
                if problem:
                    failed.add(c["name"])
                    problems.append(f"{self.name} container {c['name']}: {problem}")
        for c in self.containers:
            if c["name"] not in failed and os.path.basename(c["command"][0]) == "pve-gateway":
                problem = self.check_api_port(c)
                if problem:
                    problems.append(f"{self.name} container {c['name']}: {problem}")
        for name, (proc, _, _) in self.procs.items():
            if proc.poll() is not None:
                problems.append(f"{self.name} container {name} exited ({proc.returncode})")
        return problems

    def stop(self):
        grace = self.spec.get("terminationGracePeriodSeconds", 30)
        problems = []
        for proc, _, _ in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for name, (proc, log, _) in self.procs.items():
            try:
                code = proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = "killed after the grace period"
            if code != 0:
                problems.append(f"{self.name} container {name}: SIGTERM gave exit status {code}")
            log.close()
        return problems


def real_mode_upstream(workdir, mock_binary):
    """A pve-mock standing for the Proxmox host, with an API token for the gateway."""
    mock = pvetest.PveMock(mock_binary, os.path.join(workdir, "upstream-state"), "upstream",
                           env={"PVE_MOCK_ROOT_PASSWORD": MOCK_ROOT_PASSWORD})
    _, headers = mock.login_headers(password=MOCK_ROOT_PASSWORD)
    return mock, "root@pam!gateway", mock.create_token(headers, "gateway")


def run_pods(docs_file, binaries):
    """Runs every pod of ours in the rendered objects; prints one line per problem."""
    set_up_pod_network()
    docs = [d for d in yaml.safe_load_all(open(docs_file)) if d]
    workdir = tempfile.mkdtemp(prefix="pvegw-kubelet-")
    os.makedirs(os.path.join(workdir, "upstream-state"))
    configmaps = {d["metadata"]["name"]: {k: str(v) for k, v in (d.get("data") or {}).items()}
                  for d in docs if d["kind"] == "ConfigMap"}
    crt, key = self_signed(workdir)
    secrets = {
        "pve-mock-root": {"password": MOCK_ROOT_PASSWORD},
        "pve-gateway-tls": {"tls.crt": crt, "tls.key": key},
        "pve-gateway-client-tokens": {"tokens": CLIENT_TOKEN + "\n"},
    }
    upstream = None
    if any(cm.get("PROXMOX_API_MODE") == "real" for cm in configmaps.values()):
        # In place of the Proxmox hosts the overlay names: the started pve-mock, verified by
        # its certificate's fingerprint (Proxmox's idiom for self-signed hosts).
        upstream, token_id, token_secret = real_mode_upstream(workdir, binaries["pve-mock"])
        secrets["pve-gateway-credentials"] = {"PROXMOX_API_TOKEN_ID": token_id,
                                              "PROXMOX_API_TOKEN_SECRET": token_secret}
        for cm in configmaps.values():
            if cm.get("PROXMOX_API_MODE") == "real":
                cm["PROXMOX_API_URL"] = f"https://127.0.0.1:{upstream.port}"
                cm["PROXMOX_API_TLS_FINGERPRINT"] = upstream.fingerprint
    pods = [Pod(d, configmaps, secrets, binaries, workdir) for d in docs
            if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Pod")]
    pods = [p for p in pods if p.containers]
    problems = [] if pods else ["no pod holds a pve-gateway or pve-mock container"]
    # One pod at a time: each pod has the namespace's loopback to itself, as on a node.
    for pod in pods:
        pod.start()
        found = pod.probe_all()
        found += pod.stop()
        for c in pod.containers:
            print(f"--- {pod.name} container {c['name']}: {shlex.join(pod.procs[c['name']][2])}")
            print(pod.log(c["name"]).rstrip())
        problems += found
        print()
        if pod.shm_mounted:
            subprocess.run(["umount", "/dev/shm"], check=True)
    if upstream:
        upstream.terminate()
    shutil.rmtree(workdir, ignore_errors=True)
    for p in problems:
        print("PROBLEM: " + p)
    return 1 if problems else 0


# ---- the tests, outside ----------------------------------------------------------------------

def render(path):
    out = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path}:\n{out.stderr}")
    return out.stdout


def readme_docker_run():
    """The arguments of the README's `docker run` line for the image."""
    with open(os.path.join(REPO, "README.md")) as f:
        for line in f:
            m = re.match(r"\s*(?:\$ )?docker run (.*?)pve-grpc-gateway:\S+(.*)$", line)
            if m:
                return shlex.split(m.group(1)), shlex.split(m.group(2).split("#")[0])
    raise AssertionError("README.md has no `docker run ... pve-grpc-gateway:TAG` line")


class KubeletStart(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("kubectl", "unshare", "openssl"):
            if not shutil.which(tool):
                raise unittest.SkipTest(f"{tool} not found (scripts/install-deps.sh)")
        cls.stubs = tempfile.mkdtemp(prefix="pvegw-health-stubs-")
        subprocess.run([ARGS.protoc, "-I/usr/share/grpc-proto", "--python_out=" + cls.stubs,
                        HEALTH_PROTO], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.stubs, ignore_errors=True)

    def run_in_pod_namespaces(self, manifests, expect_problems=False):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(manifests)
        try:
            # A network namespace with only loopback and a mount namespace for /dev/shm, as
            # a pod has; unprivileged users get them inside a user namespace.
            ns = ["unshare", "--net", "--mount", "--propagation", "private"]
            if os.geteuid() != 0:
                ns[1:1] = ["--user", "--map-root-user"]
            env = dict(os.environ, PVEGW_HEALTH_STUBS=self.stubs)
            out = subprocess.run(
                ns + [sys.executable, os.path.abspath(__file__), "--run-pods", f.name,
                      "--gateway", ARGS.gateway, "--pve-mock", ARGS.pve_mock,
                      "--protoc", ARGS.protoc],
                capture_output=True, text=True, env=env, timeout=RUN_POD_TIMEOUT_S)
        finally:
            os.unlink(f.name)
        report = out.stdout + out.stderr
        print(report)
        if expect_problems:
            self.assertEqual(out.returncode, 1, report)
            self.assertIn("PROBLEM:", report)
        else:
            self.assertEqual(out.returncode, 0, report)
            self.assertNotIn("PROBLEM:", report)
        return report

    def test_every_overlay_starts_and_passes_its_probes(self):
        for overlay in OVERLAYS:
            with self.subTest(overlay=overlay):
                path = os.path.join(K8S, "base" if overlay == "base" else "overlays/" + overlay)
                self.run_in_pod_namespaces(render(path))

    @staticmethod
    def one_container_pod(container):
        container = dict({"name": "pve-gateway", "command": ["pve-gateway"],
                          "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}]}, **container)
        return yaml.safe_dump({
            "kind": "Pod", "metadata": {"name": "probes"},
            "spec": {"terminationGracePeriodSeconds": 30, "containers": [container],
                     "volumes": [{"name": "shm",
                                  "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}]}})

    def test_http_and_tcp_probes_with_named_ports(self):
        report = self.run_in_pod_namespaces(self.one_container_pod({
            "args": ["--listen=0.0.0.0:50051", "--insecure_listen",
                     "--metrics_listen=0.0.0.0:9090"],
            "ports": [{"name": "metrics", "containerPort": 9090}],
            "startupProbe": {"tcpSocket": {"port": 50051}, "periodSeconds": 1,
                             "failureThreshold": 30},
            "readinessProbe": {"httpGet": {"path": "/metrics", "port": "metrics"},
                               "periodSeconds": 1, "failureThreshold": 5}}))
        self.assertIn('readinessProbe {"httpGet": {"path": "/metrics", "port": "metrics"}} passed',
                      report)

    def test_a_probe_that_never_passes_or_an_exit_fails(self):
        # The gateway's default listener is loopback, which the kubelet's probes of the pod IP
        # never reach: the budget (2 x 1 s) runs out.
        report = self.run_in_pod_namespaces(self.one_container_pod({
            "startupProbe": {"grpc": {"port": 50051}, "periodSeconds": 1,
                             "failureThreshold": 2}}), expect_problems=True)
        self.assertIn("startupProbe did not pass within 2 s", report)
        # The gateway refuses plaintext on a pod IP unless told the network is trusted.
        report = self.run_in_pod_namespaces(self.one_container_pod({
            "args": ["--listen=0.0.0.0:50051"],
            "startupProbe": {"grpc": {"port": 50051}, "periodSeconds": 1,
                             "failureThreshold": 30}}), expect_problems=True)
        self.assertIn("exited with status 2 during its startupProbe", report)

    def test_the_readme_docker_run_line_starts(self):
        docker_args, image_args = readme_docker_run()
        ports = [a for a in docker_args if re.fullmatch(r"[0-9.:]+", a)]
        container_port = int(ports[0].rsplit(":", 1)[1]) if ports else 50051
        env = [{"name": v.split("=", 1)[0], "value": v.split("=", 1)[1]}
               for flag, v in zip(docker_args, docker_args[1:]) if flag in ("-e", "--env")]
        # The image's entrypoint with the line's arguments and no environment of its own,
        # probed on the published container port like the kubelet's gRPC probe would.
        pod = {"kind": "Pod", "metadata": {"name": "docker-run"},
               "spec": {"containers": [{
                   "name": "pve-gateway", "image": "pve-grpc-gateway:0.1.0", "args": image_args,
                   "env": env,
                   "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}],
                   "startupProbe": {"grpc": {"port": container_port}, "periodSeconds": 1,
                                    "failureThreshold": 30}}],
                   "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory",
                                                            "sizeLimit": "64Mi"}}]}}
        self.run_in_pod_namespaces(yaml.safe_dump(pod))


def main():
    rest = pvetest.parse_args(globals(), ["--gateway", "--pve-mock", "--protoc"],
                              {"--run-pods": argparse.SUPPRESS})
    ARGS.gateway, ARGS.pve_mock = os.path.abspath(ARGS.gateway), os.path.abspath(ARGS.pve_mock)
    if ARGS.run_pods:
        return run_pods(ARGS.run_pods, {"pve-gateway": ARGS.gateway, "pve-mock": ARGS.pve_mock})
    return 0 if pvetest.unittest_passed(rest) else 1


if __name__ == "__main__":
    sys.exit(main())
