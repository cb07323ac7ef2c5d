"""pve-loadgen against pve-gateway in mock mode: what a user reads from its report.

Short runs (a fraction of a second each): the numbers are not judged, only that calls were
made, none failed, the percentiles are ordered and the comparison with the bare health call is
there; and that bad input ends with exit status 2 and a message saying what is wrong.
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import pvetest  # noqa: E402

ARGS = None
SHORT = ["--duration=200ms", "--warmup=50ms"]


def loadgen(*flags, timeout=60):
    """Runs pve-loadgen; answers (exit status, stdout, stderr)."""
    proc = subprocess.run([ARGS.loadgen] + list(flags), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


class LoadgenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = pvetest.StateDir()
        # Tasks end at once, so a VM created by one test can be watched to its end.
        cls.gateway = pvetest.Gateway(ARGS.gateway, cls.state.path, "loadgen",
                                      env={"PROXMOX_MOCK_TASK_DURATION_MS": "200"})
        cls.target = "--target=" + cls.gateway.address

    @classmethod
    def tearDownClass(cls):
        code = cls.gateway.terminate()
        cls.state.cleanup()
        if code != 0:
            raise AssertionError("pve-gateway exited %d:\n%s" % (code, cls.gateway.log()))

    def run_json(self, *flags):
        code, out, err = loadgen(self.target, "--json", *flags)
        self.assertEqual(code, 0, "pve-loadgen failed:\n" + out + err)
        return json.loads(out)

    def assert_clean_result(self, result, method):
        self.assertEqual(result["method"], method)
        self.assertGreater(result["calls"], 0)
        self.assertEqual(result["errors"], 0, result["errors_by_code"])
        self.assertGreater(result["calls_per_second"], 0)
        lat = result["latency_us"]
        self.assertGreater(lat["p50"], 0)
        self.assertLessEqual(lat["p50"], lat["p90"])
        self.assertLessEqual(lat["p90"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["p99.9"])
        self.assertLessEqual(lat["p99.9"], lat["max"] + 1e-9)

    def test_load_through_reflection_with_the_bare_call_compared(self):
        report = self.run_json("--method=proxmox.ve.v1.Nodes/GetNodesNodeQemu",
                               '--data={"node":"pve1"}', "--concurrency=8", "--connections=2",
                               "--compare=grpc.health.v1.Health/Check", *SHORT)
        self.assert_clean_result(report["result"], "proxmox.ve.v1.Nodes/GetNodesNodeQemu")
        self.assert_clean_result(report["compare"], "grpc.health.v1.Health/Check")
        self.assertEqual(report["connections"], 2)
        self.assertGreater(report["throughput_ratio"], 0)
        self.assertAlmostEqual(report["throughput_ratio"],
                               report["result"]["calls_per_second"] /
                               report["compare"]["calls_per_second"], places=6)

    def test_count_bounds_the_run_and_seq_makes_distinct_creates(self):
        report = self.run_json("--method=proxmox.ve.v1.Nodes/PostNodesNodeQemu",
                               '--data={"node":"pve1","vmid":{{seq}},"name":"lg{{seq}}"}',
                               "--seq_start=7100", "--count=5", "--concurrency=1",
                               "--warmup=0s", "--duration=30s")
        self.assertEqual(report["result"]["calls"], 5)
        self.assertEqual(report["result"]["errors"], 0)
        # Each call got its own VMID: all five exist now, and deleting them works the same way.
        code, out, err = loadgen(self.target, "--print_response",
                                 "--method=proxmox.ve.v1.Nodes/GetNodesNodeQemuVmidConfig",
                                 '--data={"node":"pve1","vmid":7104}')
        self.assertEqual(code, 0, err)
        self.assertIn("lg7104", out)

    def test_watch_tasks_streams_run_alongside(self):
        code, out, err = loadgen(self.target, "--print_response",
                                 "--method=proxmox.ve.v1.Nodes/PostNodesNodeQemu",
                                 '--data={"node":"pve1","vmid":7200,"name":"watched"}')
        self.assertEqual(code, 0, err)
        upid = json.loads(out)["data"]
        self.assertTrue(upid.startswith("UPID:pve1:"), upid)
        report = self.run_json("--method=grpc.health.v1.Health/Check", "--watch_tasks=4",
                               "--watch_upid=" + upid, *SHORT)
        watch = report["watch"]
        self.assertEqual(watch["streams"], 4)
        self.assertGreaterEqual(watch["opened"], 4)
        self.assertGreater(watch["events"], 0)
        self.assertEqual(watch["errors"], [])

    def test_descriptors_file_instead_of_reflection(self):
        report = self.run_json("--descriptors=" + ARGS.descriptors,
                               "--method=proxmox.ve.v1.Version.GetVersion", *SHORT)
        self.assert_clean_result(report["result"], "proxmox.ve.v1.Version/GetVersion")

    def test_text_report(self):
        code, out, err = loadgen(self.target, "--method=proxmox.ve.v1.Version/GetVersion",
                                 "--compare=grpc.health.v1.Health/Check", *SHORT)
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"proxmox\.ve\.v1\.Version/GetVersion: \d+ calls in")
        self.assertRegex(out, r"p50 [0-9.]+ +p90 [0-9.]+ +p99 [0-9.]+ +p99\.9")
        self.assertRegex(out, r"ratio: [0-9.]+ of grpc\.health\.v1\.Health/Check")

    def test_failed_calls_are_counted_by_code(self):
        code, out, err = loadgen(self.target, "--json", "--method=proxmox.ve.v1.Nodes/"
                                 "GetNodesNodeQemuVmidConfig",
                                 '--data={"node":"pve1","vmid":999999}', *SHORT)
        self.assertEqual(code, 1, err)
        result = json.loads(out)["result"]
        self.assertEqual(result["calls"], 0)
        self.assertGreater(result["errors"], 0)
        codes = {e["code"] for e in result["errors_by_code"]}
        self.assertEqual(codes, {"NOT_FOUND"}, result["errors_by_code"])

    def test_bad_input_exits_2_with_a_message(self):
        cases = [
            (["--method=proxmox.ve.v1.Nodes/NoSuchMethod"],
             "service proxmox.ve.v1.Nodes has no method NoSuchMethod"),
            (["--method=proxmox.ve.v1.NoSuchService/Get"], "has no service proxmox.ve.v1.NoSuchService"),
            (["--method=nonsense"], "is not package.Service/Method"),
            (["--method=proxmox.ve.v1.Nodes/GetNodesNodeQemu", '--data={"nod":"pve1"}'],
             "does not fit proxmox.ve.v1.GetNodesNodeQemuRequest"),
            (["--method=proxmox.ve.v1.Nodes/GetNodesNodeQemu", "--data={"],
             "does not fit"),
            (["--method=proxmox.gateway.v1.Tasks/WatchTask"], "streams"),
            (["--method=grpc.health.v1.Health/Check", "--duration=soon"], "--duration=soon"),
            (["--method=grpc.health.v1.Health/Check", "--concurrency=0"], "--concurrency"),
            (["--method=grpc.health.v1.Health/Check", "--watch_tasks=3"], "--watch_upid"),
            (["--method=grpc.health.v1.Health/Check", "--no_such_flag=1"],
             "unknown flag --no_such_flag"),
            (["--method=grpc.health.v1.Health/Check", "stray"], "unexpected argument 'stray'"),
            ([], "--method is required"),
        ]
        for flags, message in cases:
            with self.subTest(flags=flags):
                code, out, err = loadgen(self.target, *flags)
                self.assertEqual(code, 2, out + err)
                self.assertIn(message, err)
                self.assertNotIn("Aborted", err)

    def test_unreachable_target_exits_1_at_once(self):
        # A port bound but never listened on: connections to it are refused.
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = "127.0.0.1:%d" % s.getsockname()[1]
            for flags in (["--method=grpc.health.v1.Health/Check"],
                          ["--descriptors=" + ARGS.descriptors,
                           "--method=proxmox.ve.v1.Version/GetVersion"]):
                with self.subTest(flags=flags):
                    code, out, err = loadgen("--target=" + closed, *flags, timeout=15)
                    self.assertEqual(code, 1, out + err)
                    self.assertIn(closed, err)

    def test_help_and_version(self):
        code, out, _ = loadgen("--help")
        self.assertEqual(code, 0)
        for flag in ("--target", "--method", "--compare", "--watch_tasks", "--tls_ca", "--token",
                     "--json"):
            self.assertIn(flag, out)
        code, out, _ = loadgen("--version")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^pve-loadgen \d+\.\d+\.\d+")


class LoadgenTlsTokenTest(unittest.TestCase):
    """The options matching the gateway's TLS listener and bearer tokens."""

    def test_tls_and_bearer_token(self):
        state = pvetest.StateDir()
        try:
            cert = os.path.join(state.path, "cert.pem")
            key = os.path.join(state.path, "key.pem")
            pvetest.self_signed_cert(cert, key, "gateway.test", "DNS:gateway.test")
            tokens = os.path.join(state.path, "tokens")
            with open(tokens, "w") as f:
                f.write("s3cret-token\n")
            os.chmod(tokens, 0o600)
            gw = pvetest.Gateway(ARGS.gateway, state.path, "loadgen-tls",
                                 args=["--tls_cert=" + cert, "--tls_key=" + key,
                                       "--auth_tokens_file=" + tokens])
            try:
                tls = ["--target=" + gw.address, "--tls_ca=" + cert,
                       "--tls_server_name=gateway.test",
                       "--method=proxmox.ve.v1.Version/GetVersion", "--json"] + SHORT
                code, out, err = loadgen(*tls, "--token=s3cret-token")
                self.assertEqual(code, 0, out + err)
                self.assertGreater(json.loads(out)["result"]["calls"], 0)
                # Without the token the gateway refuses the API (reflection included): exit 1.
                code, out, err = loadgen(*tls)
                self.assertEqual(code, 1, out + err)
                self.assertIn("UNAUTHENTICATED", out + err)
            finally:
                self.assertEqual(gw.terminate(), 0, gw.log())
        finally:
            state.cleanup()


if __name__ == "__main__":
    sys.exit(pvetest.run_tests(globals(), pve_mock=False, protos=False,
                               required=["--loadgen", "--descriptors"]))
