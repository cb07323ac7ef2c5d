#!/usr/bin/python3
"""pve-gateway in real mode against the real pve-mock binary over HTTPS.

Token and ticket auth (renewal with a short ticket lifetime, CSRF on writes), per-call
credentials from metadata and --client_credentials=deny, every TLS trust mode, failover
between two pve-mock processes on one namespace, deadlines, cancellation and retries with
pve-mock's fault rules, garbage answers, and a check that no credential appears in
anything the gateway wrote or answered.

Run by ctest (see tests/e2e/CMakeLists.txt for the arguments).
"""
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402

ARGS = None
ROOT_PASSWORD = "rm-root-pw-8c1d"
UPID = re.compile(r"UPID:[^\"' ]*")


class RealModeTest(unittest.TestCase):
    gateways = []  # every gateway started, for the credential scan

    @classmethod
    def setUpClass(cls):
        cls.state = pvetest.StateDir()
        cls.ns = "realmode-%d" % os.getpid()
        pvetest.load_stubs(ARGS, cls.state.path, ["proxmox/gateway/v1/gateway.proto"])
        import grpc
        from proxmox.ve.v1 import nodes_pb2, nodes_pb2_grpc, version_pb2, version_pb2_grpc
        from proxmox.gateway.v1 import gateway_pb2, gateway_pb2_grpc
        cls.grpc, cls.pb, cls.nodes_grpc = grpc, nodes_pb2, nodes_pb2_grpc
        cls.version_pb, cls.version_grpc = version_pb2, version_pb2_grpc
        cls.gw_pb, cls.gw_grpc = gateway_pb2, gateway_pb2_grpc
        cls.mock = pvetest.PveMock(ARGS.pve_mock, cls.state.path, cls.ns, ["--reset"],
                                   env={"PVE_MOCK_ROOT_PASSWORD": ROOT_PASSWORD})
        auth, cls.root_headers = cls.mock.login_headers(password=ROOT_PASSWORD)
        cls.token_secret = cls.rest("POST", "/access/users/root@pam/token/gw", {"privsep": 0})["value"]
        cls.rest("POST", "/access/users", {"userid": "alice@pve", "password": "alice-pw-77"})
        cls.alice_secret = cls.rest("POST", "/access/users/alice@pve/token/ci", {"privsep": 0})["value"]
        cls.secrets = [ROOT_PASSWORD, cls.token_secret, cls.alice_secret, auth["ticket"],
                       auth["CSRFPreventionToken"]]

    @classmethod
    def tearDownClass(cls):
        # SIGTERM: every gateway must stop cleanly (exit 0; a sanitizer report fails it).
        codes = [g.terminate() for g in cls.gateways if g.proc.poll() is None]
        codes.append(cls.mock.terminate())
        cls.state.cleanup()
        assert all(c == 0 for c in codes), codes

    @classmethod
    def rest(cls, method, path, params=None, mock=None):
        status, reason, _, body = (mock or cls.mock).request(method, path, params,
                                                             headers=cls.root_headers)
        if status != 200:
            raise AssertionError("%s %s: %d %s" % (method, path, status, reason))
        return json.loads(body)["data"]

    def extra_mock(self, args=(), env=None):
        m = pvetest.PveMock(ARGS.pve_mock, self.state.path, self.ns, list(args),
                            env=dict({"PVE_MOCK_ROOT_PASSWORD": ROOT_PASSWORD}, **(env or {})))
        self.addCleanup(lambda: m.proc.poll() is None and m.terminate())
        return m

    def gateway(self, mock=None, env=None, args=(), auth="token"):
        mock = mock or self.mock
        token = ("root@pam!gw", self.token_secret) if auth == "token" else (None, None)
        full = mock.real_mode_env(*token)
        full.update(PVE_GATEWAY_LOG_LEVEL="debug", PVE_GATEWAY_UPSTREAM_HEALTH_INTERVAL_MS="200")
        if auth == "ticket":
            full.update(PROXMOX_API_USERNAME="root@pam", PROXMOX_API_PASSWORD=ROOT_PASSWORD)
        full.update(env or {})
        g = pvetest.Gateway(ARGS.gateway, self.state.path, self.ns + "-unused", list(args), env=full)
        RealModeTest.gateways.append(g)
        g.nodes, g.version, gateway = g.stubs(self.addCleanup, self.nodes_grpc.NodesStub,
                                              self.version_grpc.VersionStub, self.gw_grpc.GatewayStub)
        g.info = lambda: gateway.GetInfo(self.gw_pb.GetInfoRequest(), timeout=10)
        g.infos = []
        self.addCleanup(lambda: g.infos.append(str(g.info())))  # runs before the channel closes
        return g

    def lifecycle(self, g, vmid):
        """The VM lifecycle; each step as (code, normalized answer)."""
        P = self.pb
        steps = [
            lambda: g.nodes.GetNodes(P.GetNodesRequest(), timeout=10),
            lambda: g.nodes.PostNodesNodeQemu(P.PostNodesNodeQemuRequest(
                node="pve1", vmid=vmid, name="real-vm", memory="1024", cores=2,
                net={0: "virtio,bridge=vmbr0"}, description="a;b=c&d e+f%"), timeout=10),
            lambda: g.nodes.GetNodesNodeQemuVmidConfig(P.GetNodesNodeQemuVmidConfigRequest(
                node="pve1", vmid=vmid), timeout=10),
            lambda: g.nodes.PutNodesNodeQemuVmidConfig(P.PutNodesNodeQemuVmidConfigRequest(
                node="pve1", vmid=vmid, cores=4), timeout=10),
            lambda: g.nodes.PostNodesNodeQemuVmidStatusStart(P.PostNodesNodeQemuVmidStatusStartRequest(
                node="pve1", vmid=vmid), timeout=10),
            lambda: g.nodes.PostNodesNodeQemuVmidStatusStart(P.PostNodesNodeQemuVmidStatusStartRequest(
                node="pve1", vmid=vmid), timeout=10),
            lambda: g.nodes.PostNodesNodeQemuVmidStatusStop(P.PostNodesNodeQemuVmidStatusStopRequest(
                node="pve1", vmid=vmid), timeout=10),
            lambda: g.nodes.PostNodesNodeQemu(P.PostNodesNodeQemuRequest(node="pve1", vmid=5), timeout=10),
            lambda: g.nodes.DeleteNodesNodeQemuVmid(P.DeleteNodesNodeQemuVmidRequest(
                node="pve1", vmid=vmid), timeout=10),
            lambda: g.nodes.GetNodesNodeQemuVmidConfig(P.GetNodesNodeQemuVmidConfigRequest(
                node="pve1", vmid=vmid), timeout=10),
        ]
        out = []
        for step in steps:
            try:
                answer = str(step())
                code = "OK"
            except self.grpc.RpcError as e:
                answer, code = e.details(), e.code().name
            out.append((code, re.sub(r"uptime: \d+", "uptime", UPID.sub("UPID", answer))))
        return out

    def test_lifecycle_with_token_matches_mock_mode(self):
        real = self.lifecycle(self.gateway(), 310)
        mock_gw = pvetest.Gateway(ARGS.gateway, self.state.path, self.ns, [])
        RealModeTest.gateways.append(mock_gw)
        mock_gw.nodes = mock_gw.stubs(self.addCleanup, self.nodes_grpc.NodesStub)
        expected = self.lifecycle(mock_gw, 310)  # same world, same VM id, after it was deleted
        self.assertEqual(real, expected)
        self.assertEqual([c for c, _ in real],
                         ["OK", "OK", "OK", "OK", "OK", "FAILED_PRECONDITION", "OK",
                          "INVALID_ARGUMENT", "OK", "NOT_FOUND"])
        self.assertIn("a;b=c&d e+f%", real[2][1])  # every value percent-encoded on the wire

    def test_ticket_auth_renews_and_sends_csrf(self):
        short = self.extra_mock(["--ticket_lifetime_s=3"])
        g = self.gateway(short, auth="ticket", env={"PVE_GATEWAY_UPSTREAM_TICKET_RENEW_SECONDS": "1"})
        deadline = time.monotonic() + 6  # twice the ticket lifetime
        n = 0
        while time.monotonic() < deadline:
            n += 1
            g.nodes.GetNodes(self.pb.GetNodesRequest(), timeout=10)
            # A write needs the CSRF token that came with the ticket.
            g.nodes.PutNodesNodeQemuVmidConfig(self.pb.PutNodesNodeQemuVmidConfigRequest(
                node="pve1", vmid=100, description="tick %d" % n), timeout=10)
            time.sleep(0.2)
        info = g.info().upstream
        self.assertEqual(info.auth, "ticket")
        self.assertEqual(info.logins, 1)
        self.assertGreaterEqual(info.renewals, 3)
        self.assertEqual([c for c, _ in self.lifecycle(g, 320)][:2], ["OK", "OK"])

    def call_with_metadata(self, g, metadata):
        return g.nodes.GetNodes.with_call(self.pb.GetNodesRequest(), metadata=metadata, timeout=10)

    def test_per_call_credentials_and_deny(self):
        g = self.gateway()
        token = ("authorization", "PVEAPIToken=alice@pve!ci=" + self.alice_secret)
        self.call_with_metadata(g, [token])
        with self.assertRaises(self.grpc.RpcError) as err:
            self.call_with_metadata(g, [("authorization", "PVEAPIToken=alice@pve!ci=wrong-one")])
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.UNAUTHENTICATED)
        # Revoking alice's token fails her calls, not the gateway's own: hers was used.
        self.rest("DELETE", "/access/users/alice@pve/token/ci")
        with self.assertRaises(self.grpc.RpcError) as err:
            self.call_with_metadata(g, [token])
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.UNAUTHENTICATED)
        g.nodes.GetNodes(self.pb.GetNodesRequest(), timeout=10)
        RealModeTest.alice_secret = self.rest("POST", "/access/users/alice@pve/token/ci", {"privsep": 0})["value"]
        self.secrets.append(self.alice_secret)
        # A ticket pair from metadata works too, CSRF included on writes.
        alice = self.mock.login("alice@pve", "alice-pw-77")
        self.secrets += [alice["ticket"], alice["CSRFPreventionToken"]]
        g.nodes.PutNodesNodeQemuVmidConfig.with_call(
            self.pb.PutNodesNodeQemuVmidConfigRequest(node="pve1", vmid=100, description="alice"),
            metadata=[("x-proxmox-ticket", alice["ticket"]),
                      ("x-proxmox-csrf-token", alice["CSRFPreventionToken"])], timeout=10)

        deny = self.gateway(args=["--client_credentials=deny"])
        with self.assertRaises(self.grpc.RpcError) as err:
            self.call_with_metadata(deny, [token])
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn("--client_credentials=deny", err.exception.details())

        require = self.gateway(auth="none", args=["--client_credentials=require"])
        with self.assertRaises(self.grpc.RpcError) as err:
            require.nodes.GetNodes(self.pb.GetNodesRequest(), timeout=10)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.UNAUTHENTICATED)
        self.call_with_metadata(require, [("authorization", "PVEAPIToken=alice@pve!ci=" + self.alice_secret)])

    def test_tls_trust_modes(self):
        ok = lambda g: g.version.GetVersion(self.version_pb.GetVersionRequest(), timeout=10)
        # Pin, any case.
        ok(self.gateway(env={"PROXMOX_API_TLS_FINGERPRINT": self.mock.fingerprint.lower()}))
        # CA file: pve-mock's own certificate.
        ok(self.gateway(env={"PROXMOX_API_TLS_FINGERPRINT": "", "PROXMOX_API_CA_FILE": self.mock.cert_file}))
        # Verification off: works, and says so loudly.
        off = self.gateway(env={"PROXMOX_API_TLS_FINGERPRINT": "", "PROXMOX_API_VERIFY_SSL": "false"})
        ok(off)
        self.assertIn("PROXMOX_API_VERIFY_SSL=false", off.log())
        self.assertEqual(off.info().upstream.tls, "off")
        other = self.extra_mock()
        cases = [
            ({"PROXMOX_API_TLS_FINGERPRINT": other.fingerprint}, "fingerprint mismatch"),
            ({"PROXMOX_API_TLS_FINGERPRINT": "", "PROXMOX_API_CA_FILE": other.cert_file},
             "certificate chain verification failed"),
            ({"PROXMOX_API_TLS_FINGERPRINT": ""}, "certificate chain verification failed"),
        ]
        for env, text in cases:
            g = self.gateway(env=dict(env, PROXMOX_API_RETRIES="0"))
            with self.assertRaises(self.grpc.RpcError) as err:
                ok(g)
            self.assertEqual(err.exception.code(), self.grpc.StatusCode.UNAVAILABLE, env)
            self.assertIn(text, err.exception.details())

    def test_failover_when_the_first_node_dies(self):
        first, second = self.extra_mock(), self.extra_mock()
        g = self.gateway(first, env={
            "PROXMOX_API_URL": "https://127.0.0.1:%d,https://127.0.0.1:%d" % (first.port, second.port),
            "PROXMOX_API_TLS_FINGERPRINT": "", "PROXMOX_API_VERIFY_SSL": "false"})
        for _ in range(5):
            g.nodes.GetNodes(self.pb.GetNodesRequest(), timeout=10)
        first.kill()
        for i in range(20):
            g.nodes.GetNodes(self.pb.GetNodesRequest(), timeout=10)
            g.nodes.PutNodesNodeQemuVmidConfig(self.pb.PutNodesNodeQemuVmidConfigRequest(
                node="pve1", vmid=100, description="failover %d" % i), timeout=10)
        info = g.info().upstream
        self.assertGreaterEqual(info.failovers, 1)
        self.assertFalse(info.endpoints[0].healthy)
        self.assertTrue(info.endpoints[1].healthy)

    def test_deadlines_cancellation_and_retries(self):
        faulty = self.extra_mock([
            "--fault=GET /nodes/pve2/qemu=delay:3000",
            "--fault=GET /nodes/pve1/lxc=hang",
            "--fault=GET /nodes=status:503:busy,times=2",
            "--fault=POST /nodes/pve1/qemu=status:503:busy,times=1",
        ])
        g = self.gateway(faulty)
        start = time.monotonic()
        with self.assertRaises(self.grpc.RpcError) as err:
            g.nodes.GetNodesNodeQemu(self.pb.GetNodesNodeQemuRequest(node="pve2"), timeout=0.5)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(time.monotonic() - start, 2.5)
        # PROXMOX_API_TIMEOUT caps a longer gRPC deadline.
        capped = self.gateway(faulty, env={"PROXMOX_API_TIMEOUT": "0.5"})
        with self.assertRaises(self.grpc.RpcError) as err:
            capped.nodes.GetNodesNodeQemu(self.pb.GetNodesNodeQemuRequest(node="pve2"), timeout=30)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.DEADLINE_EXCEEDED)

        # A cancelled call frees its connection.
        future = g.nodes.GetNodesNodeLxc.future(self.pb.GetNodesNodeLxcRequest(node="pve1"), timeout=30)
        pvetest.wait_until(lambda: g.info().upstream.endpoints[0].open_connections -
                           g.info().upstream.endpoints[0].idle_connections >= 1, what="busy connection")
        future.cancel()
        pvetest.wait_until(lambda: g.info().upstream.endpoints[0].open_connections ==
                           g.info().upstream.endpoints[0].idle_connections, what="connection freed")

        before = g.info().upstream.retries
        g.nodes.GetNodes(self.pb.GetNodesRequest(), timeout=10)
        self.assertEqual(g.info().upstream.retries - before, 2)
        with self.assertRaises(self.grpc.RpcError) as err:
            g.nodes.PostNodesNodeQemu(self.pb.PostNodesNodeQemuRequest(node="pve1", vmid=330), timeout=10)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(g.info().upstream.retries - before, 2)  # a write is never repeated
        with self.assertRaises(self.grpc.RpcError):
            g.nodes.GetNodesNodeQemuVmidConfig(self.pb.GetNodesNodeQemuVmidConfigRequest(
                node="pve1", vmid=330), timeout=10)

    def test_garbage_answers_are_clear_errors(self):
        bad = self.extra_mock([
            "--fault=GET /nodes/pve1/qemu=truncate",
            "--fault=GET /nodes/pve1/lxc=garbage",
            "--fault=GET /nodes/pve2/lxc=close",
            "--fault=GET /pools=hang",
        ])
        g = self.gateway(bad, env={"PROXMOX_API_RETRIES": "0", "PROXMOX_API_TIMEOUT": "1"})
        small = self.gateway(bad, env={"PVE_GATEWAY_UPSTREAM_MAX_RESPONSE_BYTES": "300"})
        P = self.pb
        cases = [
            (lambda: g.nodes.GetNodesNodeQemu(P.GetNodesNodeQemuRequest(node="pve1"), timeout=10),
             "UNAVAILABLE", "truncated"),
            (lambda: g.nodes.GetNodesNodeLxc(P.GetNodesNodeLxcRequest(node="pve1"), timeout=10),
             "INTERNAL", ""),
            (lambda: g.nodes.GetNodesNodeLxc(P.GetNodesNodeLxcRequest(node="pve2"), timeout=10),
             "UNAVAILABLE", "without answering"),
            (lambda: small.nodes.GetNodesNodeQemu(P.GetNodesNodeQemuRequest(node="pve2"), timeout=10),
             "RESOURCE_EXHAUSTED", "PVE_GATEWAY_UPSTREAM_MAX_RESPONSE_BYTES"),
        ]
        from proxmox.ve.v1 import pools_pb2, pools_pb2_grpc
        pools = g.stubs(self.addCleanup, pools_pb2_grpc.PoolsStub)
        cases.append((lambda: pools.GetPools(pools_pb2.GetPoolsRequest(), timeout=10),
                      "DEADLINE_EXCEEDED", ""))
        for call, code, text in cases:
            with self.assertRaises(self.grpc.RpcError, msg=code + " " + text) as err:
                call()
            self.assertEqual(err.exception.code().name, code, err.exception.details())
            self.assertIn(text, err.exception.details())
        self.assertIsNone(g.proc.poll())
        up = g.info().upstream.endpoints[0]
        self.assertEqual(up.open_connections, up.idle_connections)

    def test_refuses_an_open_port_without_protection(self):
        env = dict(os.environ, PROXMOX_API_MODE="real", PROXMOX_API_URL=self.mock.url,
                   PROXMOX_API_TOKEN_ID="root@pam!gw", PROXMOX_API_TOKEN_SECRET=self.token_secret)
        p = subprocess.run([ARGS.gateway, "--listen=0.0.0.0:0"], env=env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--insecure_listen", p.stderr)
        self.assertNotIn(self.token_secret, p.stderr + p.stdout)

    def test_zz_no_credential_in_anything_written(self):
        # Runs last (unittest orders by name): every gateway's whole stderr, and GetInfo.
        self.assertGreater(len(RealModeTest.gateways), 5)
        for g in RealModeTest.gateways:
            text = g.log() + "".join(getattr(g, "infos", []))
            for secret in self.secrets:
                self.assertNotIn(secret, text, "a credential leaked into %s" % g.argv)


if __name__ == "__main__":
    sys.exit(pvetest.run_tests(globals()))
