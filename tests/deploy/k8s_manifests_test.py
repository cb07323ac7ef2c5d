#!/usr/bin/python3
"""deploy/k8s: every overlay renders with `kubectl kustomize` (or `kustomize build`) and holds
every invariant manifest_checker.py knows, plus what each overlay is for; and the checker
refuses manifests that render but drop a probe or a security setting.

Usage: k8s_manifests_test.py [unittest arguments, e.g. RenderedOverlays]
Tests that need kubectl are skipped (with the reason) where neither kubectl nor kustomize
exists; see scripts/install-deps.sh.
"""
import copy
import os
import shutil
import subprocess
import sys
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import manifest_checker  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
K8S = os.path.join(REPO, "deploy", "k8s")
OVERLAYS = ["standalone", "sidecar", "mock"]
RENDER_TIMEOUT_S = 60


def renderer():
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


def render(path):
    cmd = renderer()
    out = subprocess.run(cmd + [path], capture_output=True, text=True, timeout=RENDER_TIMEOUT_S)
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} {path} failed:\n{out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def find(docs, kind, name=None):
    return [d for d in docs if d.get("kind") == kind and
            (name is None or d["metadata"]["name"] == name)]


def containers(docs, name):
    return {c["name"]: c for d in docs if d.get("kind") == "Deployment"
            for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == name}


def gateway(docs):
    found = [c for d in find(docs, "Deployment")
             for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "pve-gateway"]
    assert len(found) == 1, f"expected one pve-gateway container, found {len(found)}"
    return found[0]


_cache = {}


def rendered(overlay):
    if overlay not in _cache:
        _cache[overlay] = render(os.path.join(K8S, "overlays", overlay) if overlay != "base"
                                 else os.path.join(K8S, "base"))
    return copy.deepcopy(_cache[overlay])


needs_renderer = unittest.skipIf(renderer() is None,
                                 "neither kubectl nor kustomize found (scripts/install-deps.sh "
                                 "says how to get kubectl)")


@needs_renderer
class RenderedOverlays(unittest.TestCase):
    def assertClean(self, docs):
        errors = manifest_checker.check(docs)
        self.assertEqual(errors, [], "\n".join(errors))

    def test_every_overlay_and_the_base_hold_every_invariant(self):
        for overlay in ["base"] + OVERLAYS:
            with self.subTest(overlay=overlay):
                self.assertClean(rendered(overlay))

    def test_only_mock_mode_listens_without_tls_and_says_so(self):
        for overlay in ("base", "mock"):
            settings = manifest_checker.Checker(rendered(overlay)).settings(
                gateway(rendered(overlay)))
            self.assertEqual(settings["PVE_GATEWAY_INSECURE_LISTEN"], "true", overlay)
            self.assertEqual(settings["PROXMOX_API_MODE"], "mock", overlay)
        docs = rendered("standalone")
        settings = manifest_checker.Checker(docs).settings(gateway(docs))
        self.assertNotIn("PVE_GATEWAY_INSECURE_LISTEN", settings)
        self.assertTrue(settings["PVE_GATEWAY_TLS_CERT"])
        self.assertTrue(settings["PVE_GATEWAY_AUTH_TOKENS_FILE"])
        mounts = {m["mountPath"] for m in gateway(docs)["volumeMounts"]}
        for key in ("PVE_GATEWAY_TLS_CERT", "PVE_GATEWAY_TLS_KEY", "PVE_GATEWAY_AUTH_TOKENS_FILE"):
            self.assertIn(os.path.dirname(settings[key]), mounts, key)

    def test_standalone_is_real_mode_replicated_and_autoscaled_on_cpu(self):
        docs = rendered("standalone")
        checker = manifest_checker.Checker(docs)
        settings = checker.settings(gateway(docs))
        self.assertEqual(settings["PROXMOX_API_MODE"], "real")
        self.assertTrue(settings["PROXMOX_API_URL"].startswith("https://"))
        self.assertEqual(gateway(docs)["readinessProbe"]["grpc"]["service"],
                         "proxmox.gateway.v1.Upstream")
        deployment = find(docs, "Deployment", "pve-gateway")[0]
        self.assertGreaterEqual(deployment["spec"]["replicas"], 2)
        hpa = find(docs, "HorizontalPodAutoscaler")
        self.assertEqual(len(hpa), 1)
        self.assertEqual(hpa[0]["spec"]["scaleTargetRef"]["name"], "pve-gateway")
        self.assertGreaterEqual(hpa[0]["spec"]["minReplicas"], 2)
        self.assertEqual([m["resource"]["name"] for m in hpa[0]["spec"]["metrics"]], ["cpu"])
        # Credentials are required in real mode, and come from the Secret.
        for env in gateway(docs)["env"]:
            if env["name"].startswith("PROXMOX_API_TOKEN"):
                self.assertIs(env["valueFrom"]["secretKeyRef"]["optional"], False)

    def test_base_has_every_object_and_no_secret_in_its_configmap(self):
        docs = rendered("base")
        for kind in ("Deployment", "Service", "ServiceAccount", "ConfigMap",
                     "PodDisruptionBudget", "NetworkPolicy"):
            self.assertEqual(len(find(docs, kind)), 1, kind)
        ports = {p["name"]: p["port"] for p in find(docs, "Service")[0]["spec"]["ports"]}
        self.assertEqual(ports, {"grpc": 50051, "metrics": 9090})
        np = find(docs, "NetworkPolicy")[0]["spec"]
        self.assertEqual(sorted(p["port"] for r in np["ingress"] for p in r["ports"]),
                         ["grpc", "metrics"])
        self.assertEqual(find(docs, "Secret"), [], "the base ships no Secret; it references one")
        settings = manifest_checker.Checker(docs).settings(gateway(docs))
        self.assertTrue(settings["PVE_GATEWAY_METRICS_LISTEN"].endswith(":9090"))
        self.assertEqual(settings["PVE_GATEWAY_LOG_FORMAT"], "json")

    def test_sidecar_serves_grpc_on_loopback_only(self):
        docs = rendered("sidecar")
        app = find(docs, "Deployment", "example-app")
        self.assertEqual(len(app), 1)
        names = [c["name"] for c in app[0]["spec"]["template"]["spec"]["containers"]]
        self.assertEqual(sorted(names), ["app", "pve-gateway"])
        settings = manifest_checker.Checker(docs).settings(gateway(docs))
        self.assertEqual(settings["PVE_GATEWAY_LISTEN"], "127.0.0.1:50051")
        declared = [p["containerPort"] for p in gateway(docs)["ports"]]
        self.assertNotIn(50051, declared, "the API port is not published on the pod IP")
        self.assertEqual(find(docs, "Service"), [])

    def test_mock_runs_pve_mock_on_the_same_world(self):
        docs = rendered("mock")
        pod = find(docs, "Deployment", "pve-gateway")[0]["spec"]["template"]["spec"]
        by_name = {c["name"]: c for c in pod["containers"]}
        self.assertEqual(sorted(by_name), ["pve-gateway", "pve-mock"])
        checker = manifest_checker.Checker(docs)
        self.assertEqual(checker.settings(by_name["pve-gateway"])["PROXMOX_API_MODE"], "mock")
        mock = by_name["pve-mock"]
        self.assertIn("--namespace=$(PROXMOX_MOCK_STATE_NAMESPACE)", mock["args"])
        self.assertIn("PROXMOX_MOCK_STATE_NAMESPACE", checker.settings(mock))
        shm = {c["name"]: [m["name"] for m in c["volumeMounts"] if m["mountPath"] == "/dev/shm"]
               for c in pod["containers"]}
        self.assertEqual(shm["pve-gateway"], shm["pve-mock"], "one /dev/shm, one mock world")
        password = [e for e in mock["env"] if e["name"] == "PVE_MOCK_ROOT_PASSWORD"][0]
        self.assertEqual(password["valueFrom"]["secretKeyRef"]["name"], "pve-mock-root")
        self.assertIn("pve-rest", [p["name"] for p in find(docs, "Service")[0]["spec"]["ports"]])


@needs_renderer
class CheckerRejects(unittest.TestCase):
    """A manifest that renders but loses a probe or a security setting fails the check."""

    def assertRejected(self, docs, *fragments):
        errors = manifest_checker.check(docs)
        self.assertTrue(errors, "the checker accepted a broken manifest")
        joined = "\n".join(errors)
        for f in fragments:
            self.assertIn(f, joined)

    def mutate(self, overlay, container, change, *fragments):
        docs = rendered(overlay)
        for d in find(docs, "Deployment"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                if c["name"] == container:
                    change(c, d["spec"]["template"]["spec"])
        self.assertRejected(docs, f"container {container}", *fragments)

    def test_rendered_fixture_overlays_fail(self):
        fixtures = os.path.join(HERE, "fixtures", "k8s")
        self.assertRejected(render(os.path.join(fixtures, "drops-liveness-probe")),
                            "container pve-gateway: has no livenessProbe")
        self.assertRejected(render(os.path.join(fixtures, "writable-root-filesystem")),
                            "container pve-mock: readOnlyRootFilesystem must be true")

    def test_the_command_line_exits_1_and_names_the_problem(self):
        cmd = renderer() + [os.path.join(HERE, "fixtures", "k8s", "drops-liveness-probe")]
        text = subprocess.run(cmd, capture_output=True, text=True, check=True,
                              timeout=RENDER_TIMEOUT_S).stdout
        out = subprocess.run([sys.executable, os.path.join(HERE, "manifest_checker.py"), "-"],
                             input=text, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 1)
        self.assertIn("has no livenessProbe", out.stdout)

    def test_each_probe(self):
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            with self.subTest(probe=probe):
                self.mutate("standalone", "pve-gateway", lambda c, _: c.pop(probe),
                            f"has no {probe}")
                self.mutate("mock", "pve-mock", lambda c, _: c.pop(probe), f"has no {probe}")
                self.mutate("standalone", "pve-gateway",
                            lambda c, _: c.__setitem__(probe, {"tcpSocket": {"port": 50051}}),
                            f"{probe} must be a native grpc probe")

    def test_probe_targets(self):
        self.mutate("standalone", "pve-gateway",
                    lambda c, _: c["readinessProbe"]["grpc"].pop("service"),
                    'readinessProbe must check health service "proxmox.gateway.v1.Upstream"')
        self.mutate("standalone", "pve-gateway",
                    lambda c, _: c["livenessProbe"]["grpc"].__setitem__("service", "x.Y"),
                    'livenessProbe must check health service ""')
        # The sidecar's API listens on loopback: a probe on it can never succeed.
        self.mutate("sidecar", "pve-gateway",
                    lambda c, _: c["startupProbe"]["grpc"].__setitem__("port", 50051),
                    "startupProbe probes port 50051")

    def test_images_name_a_version(self):
        for overlay, container in (("standalone", "pve-gateway"), ("mock", "pve-mock"),
                                   ("mock", "pve-gateway"), ("sidecar", "pve-gateway")):
            for image in ("pve-grpc-gateway", "registry.example.com:5000/pve-grpc-gateway",
                          "pve-grpc-gateway:latest"):
                with self.subTest(overlay=overlay, container=container, image=image):
                    self.mutate(overlay, container,
                                lambda c, _, image=image: c.__setitem__("image", image),
                                "must name a version")

    def test_each_security_setting(self):
        def drop(key):
            return lambda c, pod: (c["securityContext"].pop(key, None),
                                   (pod.get("securityContext") or {}).pop(key, None))

        cases = [
            (drop("runAsNonRoot"), "runAsNonRoot must be true"),
            (drop("runAsUser"), "runAsUser must be the image's fixed non-root UID"),
            (lambda c, _: c["securityContext"].__setitem__("runAsUser", 0), "runAsUser"),
            (drop("readOnlyRootFilesystem"), "readOnlyRootFilesystem must be true"),
            (drop("allowPrivilegeEscalation"), "allowPrivilegeEscalation must be false"),
            (lambda c, _: c["securityContext"].__setitem__("privileged", True),
             "must not be privileged"),
            (lambda c, _: c["securityContext"]["capabilities"].__setitem__("drop", ["NET_RAW"]),
             "capabilities must drop ALL"),
            (lambda c, _: c["securityContext"]["capabilities"].__setitem__("add", ["NET_ADMIN"]),
             "must not add capabilities"),
            (drop("seccompProfile"), "seccompProfile.type must be RuntimeDefault"),
            (lambda c, _: c["resources"].pop("limits"), "resources.limits.memory missing"),
            (lambda c, _: c["resources"]["requests"].pop("cpu"), "resources.requests.cpu missing"),
        ]
        for overlay, container in (("standalone", "pve-gateway"), ("mock", "pve-mock"),
                                   ("sidecar", "pve-gateway"), ("sidecar", "app")):
            for change, fragment in cases:
                with self.subTest(overlay=overlay, container=container, expect=fragment):
                    self.mutate(overlay, container, change, fragment)

    def test_shm_volume(self):
        def volume(change):
            def apply(c, pod):
                name = [m for m in c["volumeMounts"] if m["mountPath"] == "/dev/shm"][0]["name"]
                change([v for v in pod["volumes"] if v["name"] == name][0]["emptyDir"])
            return apply

        self.mutate("mock", "pve-mock", lambda c, _: c.pop("volumeMounts"),
                    "/dev/shm must be mounted")
        self.mutate("mock", "pve-gateway", volume(lambda e: e.pop("medium")), "medium: Memory")
        self.mutate("mock", "pve-gateway", volume(lambda e: e.pop("sizeLimit")), "sizeLimit")
        self.mutate("mock", "pve-gateway", volume(lambda e: e.__setitem__("sizeLimit", "16Mi")),
                    "exceeds the /dev/shm sizeLimit")

    def test_secrets_only_by_reference(self):
        self.mutate("standalone", "pve-gateway",
                    lambda c, _: c["env"].append({"name": "PROXMOX_API_PASSWORD", "value": "pw"}),
                    "PROXMOX_API_PASSWORD must come from a Secret")
        self.mutate("mock", "pve-mock", lambda c, _: c["args"].append("--root_password=pw"),
                    "--root_password on the command line")
        docs = rendered("base")
        find(docs, "ConfigMap")[0]["data"]["PROXMOX_API_TOKEN_SECRET"] = "s"
        self.assertRejected(docs, "holds the secret PROXMOX_API_TOKEN_SECRET")

    def test_service_account_token_metrics_and_network_policy(self):
        docs = rendered("standalone")
        find(docs, "Deployment")[0]["spec"]["template"]["spec"].pop("automountServiceAccountToken")
        self.assertRejected(docs, "automountServiceAccountToken must be false")
        docs = rendered("standalone")
        find(docs, "ServiceAccount")[0]["automountServiceAccountToken"] = True
        self.assertRejected(docs, "ServiceAccount/pve-gateway")
        docs = rendered("standalone")
        find(docs, "ConfigMap")[0]["data"].pop("PVE_GATEWAY_METRICS_LISTEN")
        self.assertRejected(docs, "metrics listener (PVE_GATEWAY_METRICS_LISTEN) not set")
        docs = rendered("standalone")
        find(docs, "NetworkPolicy")[0]["spec"]["ingress"].append({"from": []})
        self.assertRejected(docs, "opens every port")
        docs = rendered("standalone")
        find(docs, "NetworkPolicy")[0]["spec"]["ingress"][0]["ports"].append({"port": 22})
        self.assertRejected(docs, "opens port 22")
        for kind in ("NetworkPolicy", "PodDisruptionBudget"):
            docs = [d for d in rendered("standalone") if d["kind"] != kind]
            self.assertRejected(docs, f"no {kind} selects its pods")
        docs = rendered("standalone")
        find(docs, "Service")[0]["spec"]["ports"].pop()
        self.assertRejected(docs, "no Service exposes its metrics port")

    def test_listener_security_matches_what_the_gateway_accepts(self):
        # What pve-gateway refuses at start-up (plaintext, no tokens, not told it is trusted).
        docs = rendered("mock")
        find(docs, "ConfigMap")[0]["data"].pop("PVE_GATEWAY_INSECURE_LISTEN")
        self.assertRejected(docs, "pve-gateway refuses to start")
        # Explicitly insecure, but the NetworkPolicy admits anyone to the gRPC port.
        docs = rendered("base")
        find(docs, "NetworkPolicy")[0]["spec"]["ingress"][0].pop("from")
        self.assertRejected(docs, "admits anyone to it")
        # Real mode is never plaintext and anonymous off loopback, even when told to be.
        docs = rendered("standalone")
        data = find(docs, "ConfigMap")[0]["data"]
        for key in ("PVE_GATEWAY_TLS_CERT", "PVE_GATEWAY_TLS_KEY", "PVE_GATEWAY_AUTH_TOKENS_FILE"):
            data.pop(key)
        data["PVE_GATEWAY_INSECURE_LISTEN"] = "true"
        self.assertRejected(docs, "real mode on 0.0.0.0:50051 without TLS or bearer tokens")
        # With TLS on the API port, the kubelet's plaintext gRPC probes cannot use it.
        docs = rendered("standalone")
        for c in find(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"]:
            c["livenessProbe"]["grpc"]["port"] = 50051
        self.assertRejected(docs, "livenessProbe probes port 50051")


if __name__ == "__main__":
    unittest.main(verbosity=2)
