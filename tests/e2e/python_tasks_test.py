#!/usr/bin/python3
"""A Python client following Proxmox tasks through pve-gateway's Tasks service.

Generates stubs from tasks.proto and the generated nodes.proto, starts the real pve-gateway
binary in mock mode (short tasks, a fast poll schedule, a private state directory, a free
port on 127.0.0.1), creates VMs and follows their tasks with WatchTask (a plain `for` loop
over the stream) and WaitTask. With --pve-mock, the same with the gateway in real mode
against the pve-mock binary over HTTPS: per-call tokens, an invalid token, and pve-mock's
fault rules (503 for a while, then OK; 503 for good).

Run by ctest (see tests/e2e/CMakeLists.txt for the arguments); by hand with the arguments
of python_client_test.py, and --pve-mock build/bin/pve-mock for the real-mode tests.
"""
import concurrent.futures
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402

ARGS = None
GATEWAY = None
WORK = None


def check_bad_and_unknown_upids(test):
    """WatchTask refuses a malformed UPID (INVALID_ARGUMENT) and an unknown task (NOT_FOUND);
    answers the first refusal."""
    with test.assertRaises(test.grpc.RpcError) as bad:
        list(test.tasks.WatchTask(test.pb.WatchTaskRequest(upid="UPID:pve1:12:x"), timeout=10))
    test.assertEqual(bad.exception.code(), test.grpc.StatusCode.INVALID_ARGUMENT)
    with test.assertRaises(test.grpc.RpcError) as err:
        list(test.tasks.WatchTask(test.pb.WatchTaskRequest(
            upid="UPID:pve1:0000FFFF:0152D4A1:6561F0A0:qmstart:999:root@pam:"), timeout=10))
    test.assertEqual(err.exception.code(), test.grpc.StatusCode.NOT_FOUND)
    test.assertIn("no such task", err.exception.details())
    return bad.exception


class PythonTasksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import grpc
        from proxmox.ve.v1 import nodes_pb2, nodes_pb2_grpc
        from proxmox.gateway.v1 import tasks_pb2, tasks_pb2_grpc
        cls.grpc = grpc
        cls.nodes_pb = nodes_pb2
        cls.pb = tasks_pb2
        cls.nodes, cls.tasks = GATEWAY.stubs(cls.addClassCleanup, nodes_pb2_grpc.NodesStub,
                                             tasks_pb2_grpc.TasksStub)

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
        self.assertIn("UPID", check_bad_and_unknown_upids(self).details())

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
        _, headers = cls.mock.login_headers(password=cls.ROOT_PASSWORD)
        cls.gw_secret = cls.mock.create_token(headers, "gw")
        cls.alice = "PVEAPIToken=root@pam!alice=" + cls.mock.create_token(headers, "alice")
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
        full = mock.real_mode_env("root@pam!gw", cls.gw_secret)
        full.update(env or {})
        gw = pvetest.Gateway(ARGS.gateway, cls.state.path, cls.ns + "-unused",
                             ["--task_poll_initial_ms=50", "--task_poll_max_ms=200"], env=full)
        cls.addClassCleanup(lambda: gw.proc.poll() is None and gw.terminate())
        return (gw,) + gw.stubs(cls.addClassCleanup, cls.nodes_grpc.NodesStub,
                                cls.tasks_grpc.TasksStub)

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
        check_bad_and_unknown_upids(self)
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
        nodes, tasks = gw.stubs(self.addCleanup, nodes_pb2_grpc.NodesStub, tasks_pb2_grpc.TasksStub)
        upid = nodes.PostNodesNodeQemu(
            nodes_pb2.PostNodesNodeQemuRequest(node="pve1", vmid=183, name="py-stop"), timeout=10).data
        stream = tasks.WatchTask(
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
    global GATEWAY, WORK
    rest = pvetest.parse_args(
        globals(), ["--gateway"],
        {"--pve-mock": "run the real-mode tests against this pve-mock binary"}, protos=True)
    state = pvetest.StateDir()
    WORK = state.path
    try:
        pvetest.load_stubs(ARGS, WORK, ["proxmox/gateway/v1/tasks.proto"])
        if ARGS.pve_mock:
            suite = unittest.defaultTestLoader.loadTestsFromTestCase(RealModeTasksTest)
            result = unittest.TextTestRunner(verbosity=2).run(suite)
            return 0 if result.wasSuccessful() and result.testsRun > 0 else 1
        GATEWAY = pvetest.Gateway(ARGS.gateway, WORK, "python-tasks", ["--task_poll_max_ms=200"],
                                  env={"PROXMOX_MOCK_TASK_DURATION_MS": "1500",
                                       "PVE_GATEWAY_TASK_POLL_INITIAL_MS": "50"})
        return 0 if pvetest.passed_then_stopped(rest, GATEWAY) else 1
    finally:
        state.cleanup()


if __name__ == "__main__":
    sys.exit(main())
