#!/usr/bin/python3
"""A Python client following Proxmox tasks through pve-gateway's Tasks service.

Generates stubs from tasks.proto and the generated nodes.proto, starts the real pve-gateway
binary in mock mode (short tasks, a fast poll schedule, a private state directory, a free
port on 127.0.0.1), creates VMs and follows their tasks with WatchTask (a plain `for` loop
over the stream) and WaitTask. With --pve-mock, the same with the gateway in real mode
against the pve-mock binary over HTTPS: per-call tokens, an invalid token, and pve-mock's
fault rules (503 for a while, then OK; 503 for good).

Run by ctest; by hand:
  /usr/bin/python3 tests/e2e/python_tasks_test.py --gateway build/bin/pve-gateway \
      --proto-dir build/gen/proto --import-root proto \
      --import-root /usr/share/gocode/src/github.com/gogo/googleapis --import-root /usr/include
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402

ARGS = None
ADDRESS = None
WORK = None


def generate_stubs(out_dir):
    roots = [ARGS.proto_dir] + ARGS.import_root
    # nodes.proto imports property_strings.proto (the typed property-string messages).
    protos = ["proxmox/ve/v1/nodes.proto", "proxmox/ve/v1/property_strings.proto",
              "proxmox/gateway/v1/tasks.proto", "proxmox/gateway/v1/options.proto",
              "google/api/annotations.proto", "google/api/http.proto"]
    cmd = [ARGS.protoc] + ["-I" + r for r in roots] + [
        "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
        "--plugin=protoc-gen-grpc_python=" + ARGS.grpc_python_plugin] + protos
    subprocess.run(cmd, check=True)


def start_gateway(state_dir):
    env = dict(os.environ, PROXMOX_MOCK_STATE_DIR=state_dir, PROXMOX_MOCK_STATE_NAMESPACE="python-tasks",
               PROXMOX_MOCK_TASK_DURATION_MS="1500", PVE_GATEWAY_TASK_POLL_INITIAL_MS="50")
    proc = subprocess.Popen([ARGS.gateway, "--listen=127.0.0.1:0", "--task_poll_max_ms=200"], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        match = re.search(r"listen=(127\.0\.0\.1:\d+)", line)
        if match:
            # Keep draining stderr so the gateway never blocks on a full pipe.
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, match.group(1)
    proc.kill()
    raise RuntimeError("pve-gateway did not report its address")


class PythonTasksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import grpc
        from proxmox.ve.v1 import nodes_pb2, nodes_pb2_grpc
        from proxmox.gateway.v1 import tasks_pb2, tasks_pb2_grpc
        cls.grpc = grpc
        cls.nodes_pb = nodes_pb2
        cls.pb = tasks_pb2
        cls.channel = grpc.insecure_channel(ADDRESS)
        cls.nodes = nodes_pb2_grpc.NodesStub(cls.channel)
        cls.tasks = tasks_pb2_grpc.TasksStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def create_vm(self, vmid):
        return self.nodes.PostNodesNodeQemu(
            self.nodes_pb.PostNodesNodeQemuRequest(node="pve1", vmid=vmid, name="py-task", memory="512"),
            timeout=10).data

    def test_watch_task_streams_to_the_end(self):
        upid = self.create_vm(180)
        events, lines = [], []
        for event in self.tasks.WatchTask(self.pb.WatchTaskRequest(upid=upid, include_log=True), timeout=30):
            events.append(event)
            lines.extend(line.n for line in event.log)
        self.assertEqual(events[0].status, "running")
        self.assertTrue(events[-1].final)
        self.assertEqual(events[-1].exitstatus, "OK")
        self.assertTrue(events[-1].succeeded)
        self.assertFalse(any(e.final for e in events[:-1]))
        self.assertEqual(lines, [1, 2, 3, 4])
        self.assertEqual(events[-1].log[-1].t, "TASK OK")

    def test_wait_task_and_log_start(self):
        upid = self.create_vm(181)
        done = self.tasks.WaitTask(self.pb.WaitTaskRequest(upid=upid, include_log=True), timeout=30)
        self.assertTrue(done.final)
        self.assertEqual([line.n for line in done.log], [1, 2, 3, 4])
        again = list(self.tasks.WatchTask(self.pb.WatchTaskRequest(upid=upid, include_log=True, log_start=3),
                                          timeout=10))
        self.assertEqual(len(again), 1)
        self.assertEqual([line.t for line in again[0].log], ["TASK OK"])

    def test_errors(self):
        with self.assertRaises(self.grpc.RpcError) as err:
            list(self.tasks.WatchTask(self.pb.WatchTaskRequest(upid="UPID:pve1:12:x"), timeout=10))
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("UPID", err.exception.details())
        with self.assertRaises(self.grpc.RpcError) as err:
            list(self.tasks.WatchTask(self.pb.WatchTaskRequest(
                upid="UPID:pve1:0000FFFF:0152D4A1:6561F0A0:qmstart:999:root@pam:"), timeout=10))
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.NOT_FOUND)
        self.assertIn("no such task", err.exception.details())

    def test_timeout_ends_with_deadline_exceeded_after_the_last_status(self):
        upid = self.create_vm(182)
        request = self.pb.WatchTaskRequest(upid=upid)
        request.timeout.FromMilliseconds(300)
        events = []
        with self.assertRaises(self.grpc.RpcError) as err:
            for event in self.tasks.WatchTask(request, timeout=30):
                events.append(event)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertGreaterEqual(len(events), 2)
        self.assertEqual(events[-1].status, "running")


class RealModeTasksTest(unittest.TestCase):
    """pve-gateway in real mode against the pve-mock binary, following tasks over HTTPS."""
    ROOT_PASSWORD = "tasks-root-pw-41"
    STATUS_FAULT = "--fault=GET /nodes/*/tasks/*/status=status:503:busy"

    @classmethod
    def setUpClass(cls):
        if not ARGS.pve_mock:
            raise unittest.SkipTest("real mode needs --pve-mock")
        import grpc
        from proxmox.ve.v1 import nodes_pb2, nodes_pb2_grpc
        from proxmox.gateway.v1 import tasks_pb2, tasks_pb2_grpc
        cls.grpc, cls.nodes_pb, cls.nodes_grpc = grpc, nodes_pb2, nodes_pb2_grpc
        cls.pb, cls.tasks_grpc = tasks_pb2, tasks_pb2_grpc
        # Whatever fails below, nothing stays behind in /dev/shm or running.
        cls.state = pvetest.StateDir()
        cls.addClassCleanup(cls.state.cleanup)
        cls.ns = "realtasks-%d" % os.getpid()
        cls.mock = cls.start_mock(["--reset"])
        auth = cls.mock.login(password=cls.ROOT_PASSWORD)
        headers = {"Cookie": "PVEAuthCookie=" + auth["ticket"],
                   "CSRFPreventionToken": auth["CSRFPreventionToken"]}

        def token(name):
            status, reason, _, body = cls.mock.request(
                "POST", "/access/users/root@pam/token/" + name, {"privsep": 0}, headers=headers)
            if status != 200:
                raise AssertionError("token %s: %d %s" % (name, status, reason))
            import json
            return json.loads(body)["data"]["value"]
        cls.gw_secret = token("gw")
        cls.alice = "PVEAPIToken=root@pam!alice=" + token("alice")
        cls.gw, cls.nodes, cls.tasks = cls.start_gateway(cls.mock)

    @classmethod
    def start_mock(cls, args=()):
        mock = pvetest.PveMock(ARGS.pve_mock, cls.state.path, cls.ns, list(args),
                               env={"PVE_MOCK_ROOT_PASSWORD": cls.ROOT_PASSWORD,
                                    "PROXMOX_MOCK_TASK_DURATION_MS": "1500"})
        cls.addClassCleanup(lambda: mock.proc.poll() is None and mock.terminate())
        return mock

    @classmethod
    def start_gateway(cls, mock, env=None):
        full = {"PROXMOX_API_MODE": "real", "PROXMOX_API_URL": "https://127.0.0.1:%d" % mock.port,
                "PROXMOX_API_TLS_FINGERPRINT": mock.fingerprint,
                "PROXMOX_API_TOKEN_ID": "root@pam!gw", "PROXMOX_API_TOKEN_SECRET": cls.gw_secret}
        full.update(env or {})
        gw = pvetest.Gateway(ARGS.gateway, cls.state.path, cls.ns + "-unused",
                             ["--task_poll_initial_ms=50", "--task_poll_max_ms=200"], env=full)
        cls.addClassCleanup(lambda: gw.proc.poll() is None and gw.terminate())
        channel = cls.grpc.insecure_channel(gw.address)
        cls.addClassCleanup(channel.close)
        return gw, cls.nodes_grpc.NodesStub(channel), cls.tasks_grpc.TasksStub(channel)

    @classmethod
    def tearDownClass(cls):
        # SIGTERM: the gateway must stop cleanly (exit 0; a sanitizer report fails it).
        code = cls.gw.terminate()
        assert code == 0, "pve-gateway exited %s:\n%s" % (code, cls.gw.log())

    def create_vm(self, vmid, nodes=None):
        return (nodes or self.nodes).PostNodesNodeQemu(
            self.nodes_pb.PostNodesNodeQemuRequest(node="pve1", vmid=vmid, name="py-real", memory="512"),
            timeout=10).data

    def follow(self, tasks, upid, metadata=()):
        events, lines = [], []
        for event in tasks.WatchTask(self.pb.WatchTaskRequest(upid=upid, include_log=True), timeout=30,
                                     metadata=list(metadata)):
            events.append(event)
            lines.extend(line.n for line in event.log)
        return events, lines

    def test_watch_task_as_the_gateway_and_with_a_per_call_token(self):
        upid = self.create_vm(190)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            mine = pool.submit(self.follow, self.tasks, upid)
            alices = pool.submit(self.follow, self.tasks, upid, [("authorization", self.alice)])
            for events, lines in (mine.result(), alices.result()):
                self.assertEqual(events[0].status, "running")
                self.assertTrue(events[-1].final)
                self.assertEqual(events[-1].exitstatus, "OK")
                self.assertFalse(any(e.final for e in events[:-1]))
                self.assertEqual(lines, [1, 2, 3, 4])
        done = self.tasks.WaitTask(self.pb.WaitTaskRequest(upid=upid, include_log=True), timeout=30)
        self.assertTrue(done.succeeded)
        self.assertEqual(done.log[-1].t, "TASK OK")

    def test_errors(self):
        with self.assertRaises(self.grpc.RpcError) as err:
            list(self.tasks.WatchTask(self.pb.WatchTaskRequest(upid="UPID:pve1:12:x"), timeout=10))
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(self.grpc.RpcError) as err:
            list(self.tasks.WatchTask(self.pb.WatchTaskRequest(
                upid="UPID:pve1:0000FFFF:0152D4A1:6561F0A0:qmstart:999:root@pam:"), timeout=10))
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.NOT_FOUND)
        self.assertIn("no such task", err.exception.details())
        upid = self.create_vm(191)
        wrong = "PVEAPIToken=root@pam!alice=00000000-0000-0000-0000-0000000f00d5"
        with self.assertRaises(self.grpc.RpcError) as err:
            self.follow(self.tasks, upid, [("authorization", wrong)])
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("Authentication failed!", err.exception.details())
        self.assertNotIn("f00d5", err.exception.details())

    def test_status_503_for_a_while_is_recovered(self):
        # Every poll is one request (no retries inside the backend): three failed polls of the
        # six the schedule tolerates, then OK.
        mock = self.start_mock([self.STATUS_FAULT + ",times=3"])
        gw, nodes, tasks = self.start_gateway(mock, {"PROXMOX_API_RETRIES": "0"})
        events, lines = self.follow(tasks, self.create_vm(192, nodes))
        self.assertTrue(events[-1].final)
        self.assertEqual(events[-1].exitstatus, "OK")
        self.assertEqual(lines, [1, 2, 3, 4])
        self.assertEqual(gw.terminate(), 0)

    def test_status_503_for_good_ends_unavailable(self):
        mock = self.start_mock([self.STATUS_FAULT])
        gw, nodes, tasks = self.start_gateway(mock, {"PROXMOX_API_RETRIES": "0"})
        upid = self.create_vm(193, nodes)
        with self.assertRaises(self.grpc.RpcError) as err:
            self.follow(tasks, upid)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.UNAVAILABLE)
        self.assertIn("busy", err.exception.details())
        self.assertEqual(gw.terminate(), 0)


class ShutdownTest(unittest.TestCase):
    def test_shutdown_ends_open_streams_unavailable_logged_at_debug(self):
        """A restart ends every open watch UNAVAILABLE (clients watch again elsewhere): an
        expected end, logged at debug with its request id, not one warning per stream."""
        import grpc
        from proxmox.ve.v1 import nodes_pb2, nodes_pb2_grpc
        from proxmox.gateway.v1 import tasks_pb2, tasks_pb2_grpc
        gw = pvetest.Gateway(ARGS.gateway, WORK, "python-tasks-stop-%d" % os.getpid(),
                             ["--log_level=debug"], env={"PROXMOX_MOCK_TASK_DURATION_MS": "600000"})
        self.addCleanup(lambda: gw.proc.poll() is None and gw.kill())
        channel = grpc.insecure_channel(gw.address)
        self.addCleanup(channel.close)
        upid = nodes_pb2_grpc.NodesStub(channel).PostNodesNodeQemu(
            nodes_pb2.PostNodesNodeQemuRequest(node="pve1", vmid=183, name="py-stop"), timeout=10).data
        stream = tasks_pb2_grpc.TasksStub(channel).WatchTask(
            tasks_pb2.WatchTaskRequest(upid=upid), timeout=60, metadata=[("x-request-id", "watch-stop-1")])
        self.assertEqual(next(stream).status, "running")
        self.assertEqual(gw.terminate(), 0)
        with self.assertRaises(grpc.RpcError) as err:
            next(stream)
        self.assertEqual(err.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("shutting down", err.exception.details())
        log = gw.log()
        self.assertRegex(log, r"debug call method=/proxmox.gateway.v1.Tasks/WatchTask "
                              r"code=UNAVAILABLE .*request_id=watch-stop-1")
        self.assertNotIn("call failed", log)


class BadScheduleTest(unittest.TestCase):
    def run_gateway(self, args, env_extra):
        env = dict(os.environ, PROXMOX_MOCK_STATE_DIR=WORK, PROXMOX_MOCK_STATE_NAMESPACE="python-tasks-bad",
                   **env_extra)
        return subprocess.run([ARGS.gateway, "--listen=127.0.0.1:0"] + args, env=env, capture_output=True,
                              text=True, timeout=30)

    def test_bad_schedules_exit_2_naming_the_setting(self):
        for args, env, text in [
                (["--task_poll_initial_ms=0"], {}, "task_poll_initial_ms=0"),
                ([], {"PVE_GATEWAY_TASK_POLL_MAX_MS": "soon"}, "task_poll_max_ms=soon"),
                (["--task_poll_initial_ms=5000", "--task_poll_max_ms=100"], {}, "below")]:
            result = self.run_gateway(args, env)
            self.assertEqual(result.returncode, 2, (args, env, result.stderr))
            self.assertIn(text, result.stderr)


def main():
    global ARGS, ADDRESS, WORK
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--pve-mock", help="run the real-mode tests against this pve-mock binary")
    parser.add_argument("--import-root", action="append", default=[])
    parser.add_argument("--protoc", default="protoc")
    parser.add_argument("--grpc-python-plugin", default=shutil.which("grpc_python_plugin") or "grpc_python_plugin")
    ARGS, rest = parser.parse_known_args()
    work = WORK = tempfile.mkdtemp(prefix="pvegw-python-tasks-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        stubs = os.path.join(work, "stubs")
        os.makedirs(stubs)
        generate_stubs(stubs)
        sys.path.insert(0, stubs)
        if ARGS.pve_mock:
            suite = unittest.defaultTestLoader.loadTestsFromTestCase(RealModeTasksTest)
            result = unittest.TextTestRunner(verbosity=2).run(suite)
            return 0 if result.wasSuccessful() and result.testsRun > 0 else 1
        gateway, ADDRESS = start_gateway(work)
        try:
            program = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
            ok = program.result.wasSuccessful() and program.result.testsRun > 0
        finally:
            gateway.terminate()
            code = gateway.wait(timeout=30)
        if code != 0:
            print("pve-gateway exited %s on SIGTERM" % code)
            ok = False
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
