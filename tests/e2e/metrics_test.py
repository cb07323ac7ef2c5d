#!/usr/bin/python3
"""pve-gateway's Prometheus endpoint (--metrics_listen), scraped and parsed with Debian's
python3-prometheus-client text parser while calls are made: in mock mode (calls by method
and code, latency, bytes, in-flight, unknown methods, WatchTask pollers and polls, mock store,
build info, garbage HTTP) and in real mode against pve-mock (upstream requests, errors by
kind, retries, ticket logins, X-Request-ID in pve-mock's access log, the `upstream` and
`request_id` fields of the JSON call log, no secret in a debug log).

Run by ctest (see tests/e2e/CMakeLists.txt for the arguments).
"""
import json
import os
import re
import socket
import subprocess
import sys
import unittest
import urllib.error
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402

ARGS = None
METRICS_PORT = re.compile(r"metrics_port=(\d+)")
ROOT_PASSWORD = "metrics-root-pw-5e1"


def scrape(port, path="/metrics"):
    """(content type, {(sample name, frozenset(labels)): value}) of one scrape."""
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as resp:
        content_type = resp.headers["Content-Type"]
        text = resp.read().decode("utf-8")
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return content_type, samples, text


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name):
    return sum(v for (n, _), v in samples.items() if n == name)


def scrape_after_calls(port, before, calls):
    """A scrape once `calls` more calls have been counted: a call is counted when the server
    is done with it, which may be just after the client has its answer."""
    def ready():
        samples = scrape(port)[1]
        done = total(samples, "pve_gateway_calls_total") - total(before, "pve_gateway_calls_total")
        return samples if done >= calls else None
    return pvetest.wait_until(ready, what="%d calls counted" % calls)


def raw_http(port, payload):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return pvetest.read_all(sock)
    finally:
        sock.close()


def deltas(before, after):
    """delta(name, **labels): how much a sample moved from the scrape `before` to `after`."""
    return lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)


def load_stubs(work):
    pvetest.load_stubs(ARGS, work, ["proxmox/gateway/v1/tasks.proto"])


class MockModeMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        load_stubs(pvetest.state_for_class(cls).path)
        import grpc
        from proxmox.ve.v1 import nodes_pb2, nodes_pb2_grpc, version_pb2, version_pb2_grpc
        from proxmox.gateway.v1 import tasks_pb2, tasks_pb2_grpc
        cls.grpc, cls.nodes_pb, cls.version_pb, cls.tasks_pb = grpc, nodes_pb2, version_pb2, tasks_pb2
        cls.gw = pvetest.Gateway(
            ARGS.gateway, cls.state.path, "metrics-%s" % uuid.uuid4().hex[:10],
            ["--metrics_listen=127.0.0.1:0", "--task_poll_initial_ms=50", "--task_poll_max_ms=100"],
            env={"PROXMOX_MOCK_TASK_DURATION_MS": "300"})
        cls.addClassCleanup(pvetest.stop, cls.gw)
        cls.port = int(METRICS_PORT.search(cls.gw.log()).group(1))
        cls.channel = cls.gw.channel(cls.addClassCleanup)
        cls.nodes, cls.version, cls.tasks = (stub(cls.channel) for stub in (
            nodes_pb2_grpc.NodesStub, version_pb2_grpc.VersionStub, tasks_pb2_grpc.TasksStub))

    def test_calls_move_the_counters_exactly(self):
        get_version = "/proxmox.ve.v1.Version/GetVersion"
        qemu = "/proxmox.ve.v1.Nodes/GetNodesNodeQemu"
        content_type, before, _ = scrape(self.port)
        # prometheus-cpp's exposer names no version: text/plain is the text format 0.0.4.
        self.assertEqual(content_type, "text/plain; charset=utf-8")
        self.version.GetVersion(self.version_pb.GetVersionRequest(), timeout=10)
        self.version.GetVersion(self.version_pb.GetVersionRequest(), timeout=10)
        with self.assertRaises(self.grpc.RpcError) as err:
            self.nodes.GetNodesNodeQemu(self.nodes_pb.GetNodesNodeQemuRequest(), timeout=10)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.INVALID_ARGUMENT)
        ok = self.nodes.GetNodesNodeQemu(self.nodes_pb.GetNodesNodeQemuRequest(node="pve1"),
                                         timeout=10)
        # A path no descriptor has: one fixed label value, whatever the caller sent.
        unknown = self.channel.unary_unary("/evil.Service/Method\"{x=1}")
        with self.assertRaises(self.grpc.RpcError) as err:
            unknown(b"", timeout=10)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.UNIMPLEMENTED)
        scrape_after_calls(self.port, before, 5)
        _, after, text = scrape(self.port)

        delta = deltas(before, after)

        self.assertEqual(delta("pve_gateway_calls_total", method=get_version, code="OK"), 2)
        self.assertEqual(delta("pve_gateway_calls_total", method=qemu, code="INVALID_ARGUMENT"), 1)
        self.assertEqual(delta("pve_gateway_calls_total", method=qemu, code="OK"), 1)
        self.assertEqual(delta("pve_gateway_calls_total", method="unknown", code="UNIMPLEMENTED"), 1)
        self.assertNotIn("evil", text)
        self.assertEqual(delta("pve_gateway_call_duration_seconds_count", method=get_version), 2)
        self.assertEqual(delta("pve_gateway_call_duration_seconds_count", method=qemu), 2)
        self.assertEqual(value(after, "pve_gateway_call_duration_seconds_bucket", method=qemu, le="+Inf"),
                         value(after, "pve_gateway_call_duration_seconds_count", method=qemu))
        self.assertGreater(delta("pve_gateway_call_duration_seconds_sum", method=qemu), 0)
        # Response bytes are exactly what the client received for the good call.
        self.assertEqual(delta("pve_gateway_response_bytes_total", method=qemu), ok.ByteSize())
        request = self.nodes_pb.GetNodesNodeQemuRequest(node="pve1")
        self.assertEqual(delta("pve_gateway_request_bytes_total", method=qemu), request.ByteSize())
        self.assertEqual(value(after, "pve_gateway_in_flight_calls"), 0)
        self.assertEqual(value(after, "pve_gateway_rejected_calls_total", limit="max_concurrent_calls"), 0)

    def test_watch_task_moves_the_task_counters(self):
        watch = "/proxmox.gateway.v1.Tasks/WatchTask"
        wait = "/proxmox.gateway.v1.Tasks/WaitTask"
        _, before, _ = scrape(self.port)
        upid = self.nodes.PostNodesNodeQemu(self.nodes_pb.PostNodesNodeQemuRequest(
            node="pve1", vmid=771, name="metrics-vm", memory="512"), timeout=10).data
        request = self.tasks_pb.WatchTaskRequest(upid=upid)
        events = list(self.tasks.WatchTask(request, timeout=30))
        self.assertTrue(events[-1].final)
        self.assertEqual(events[-1].exitstatus, "OK")
        # The Tasks service's own calls are counted and logged like the API's.
        with self.assertRaises(self.grpc.RpcError) as err:
            self.tasks.WaitTask(self.tasks_pb.WaitTaskRequest(upid="UPID:broken"), timeout=10,
                                metadata=[("x-request-id", "metrics-wait-1")])
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.INVALID_ARGUMENT)
        after = scrape_after_calls(self.port, before, 3)

        delta = deltas(before, after)

        self.assertEqual(delta("pve_gateway_task_pollers_started_total"), 1)
        self.assertGreaterEqual(delta("pve_gateway_task_polls_total"), 2)
        self.assertEqual(delta("pve_gateway_calls_total",
                               method="/proxmox.ve.v1.Nodes/PostNodesNodeQemu", code="OK"), 1)
        self.assertEqual(delta("pve_gateway_calls_total", method=watch, code="OK"), 1)
        self.assertEqual(delta("pve_gateway_calls_total", method=wait, code="INVALID_ARGUMENT"), 1)
        self.assertEqual(delta("pve_gateway_request_bytes_total", method=watch), request.ByteSize())
        self.assertEqual(delta("pve_gateway_response_bytes_total", method=watch),
                         sum(e.ByteSize() for e in events))
        self.assertEqual(delta("pve_gateway_call_duration_seconds_count", method=watch), 1)
        pvetest.wait_until(lambda: value(scrape(self.port)[1], "pve_gateway_task_watchers") == 0 and
                           value(scrape(self.port)[1], "pve_gateway_task_pollers") == 0,
                           what="watchers and pollers gone")
        pvetest.wait_until(
            lambda: re.search(r"call failed method=%s code=INVALID_ARGUMENT .*"
                              r"request_id=metrics-wait-1" % re.escape(wait), self.gw.log()),
            what="the failed WaitTask in the log")

    def test_build_process_and_mock_store(self):
        _, samples, text = scrape(self.port)
        info = [k for k in samples if k[0] == "pve_gateway_build_info"]
        self.assertEqual(len(info), 1)
        labels = dict(info[0][1])
        self.assertEqual(labels["mode"], "mock")
        self.assertEqual(labels["api"], "proxmox.ve.v1")
        self.assertRegex(labels["version"], r"^\d+\.\d+\.\d+$")
        self.assertEqual(samples[info[0]], 1)
        import time
        start = value(samples, "process_start_time_seconds")
        self.assertLess(abs(start - time.time()), 3600)
        self.assertGreater(value(samples, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(value(samples, "pve_gateway_mock_store_used_bytes"), 0)
        self.assertGreaterEqual(value(samples, "pve_gateway_mock_store_capacity_bytes"),
                                value(samples, "pve_gateway_mock_store_used_bytes"))
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                name, kind = line.split()[2:4]
                if kind == "counter":
                    self.assertTrue(name.endswith("_total"), name)
        self.assertNotIn("pve_gateway_upstream_", text)  # mock mode has no upstream

    def test_in_flight_and_rejected_by_the_concurrency_limit(self):
        import threading
        gw = pvetest.Gateway(ARGS.gateway, self.state.path, "metrics-limit-%s" % uuid.uuid4().hex[:8],
                             ["--metrics_listen=127.0.0.1:0", "--max_concurrent_calls=1"])
        self.addCleanup(pvetest.stop, gw)
        port = int(METRICS_PORT.search(gw.log()).group(1))
        channel = gw.channel(self.addCleanup)
        release = threading.Event()
        self.addCleanup(release.set)

        def held():  # the request message comes only once released: the call stays admitted
            release.wait(30)
            yield self.nodes_pb.GetNodesRequest().SerializeToString()

        get_nodes = channel.stream_unary("/proxmox.ve.v1.Nodes/GetNodes")
        future = get_nodes.future(held(), timeout=30)
        pvetest.wait_until(lambda: value(scrape(port)[1], "pve_gateway_in_flight_calls") == 1,
                           what="one call in flight")
        with self.assertRaises(self.grpc.RpcError) as err:
            channel.unary_unary("/proxmox.ve.v1.Version/GetVersion")(b"", timeout=10)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.RESOURCE_EXHAUSTED)
        # A refused call is never counted as in flight: the gauge stays at the limit.
        self.assertEqual(value(scrape(port)[1], "pve_gateway_in_flight_calls"), 1)
        release.set()
        future.result(timeout=30)
        samples = scrape_after_calls(port, {}, 2)
        self.assertEqual(value(samples, "pve_gateway_rejected_calls_total", limit="max_concurrent_calls"), 1)
        self.assertEqual(value(samples, "pve_gateway_calls_total",
                               method="/proxmox.ve.v1.Version/GetVersion", code="RESOURCE_EXHAUSTED"), 1)
        self.assertEqual(value(samples, "pve_gateway_calls_total",
                               method="/proxmox.ve.v1.Nodes/GetNodes", code="OK"), 1)
        self.assertEqual(value(samples, "pve_gateway_in_flight_calls"), 0)

    def test_bad_metrics_listen_stops_the_start(self):
        env = dict(os.environ, PROXMOX_MOCK_STATE_DIR=self.state.path,
                   PROXMOX_MOCK_STATE_NAMESPACE="metrics-bad-%s" % uuid.uuid4().hex[:8])
        for value_, code, text in (("no-port", 2, "--metrics_listen=no-port is not HOST:PORT"),
                                   ("127.0.0.1:99999", 2, "port is not a number"),
                                   ("127.0.0.1:%d" % self.port, 1, "cannot listen on")):
            p = subprocess.run([ARGS.gateway, "--listen=127.0.0.1:0", "--metrics_listen=" + value_],
                               env=env, capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, code, p.stderr)
            self.assertIn(text, p.stderr)

    def test_http_errors_and_garbage(self):
        with self.assertRaises(urllib.error.HTTPError) as err:
            scrape(self.port, "/")
        self.assertEqual(err.exception.code, 404)
        req = urllib.request.Request("http://127.0.0.1:%d/metrics" % self.port, data=b"x",
                                     method="POST")
        with self.assertRaises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(err.exception.code, 405)
        # civetweb answers HTTP/1.0 when it could not read the request's version, and a
        # request header over 8 KiB as malformed (400). It closes without reading what the
        # client still sends, so that answer may arrive or be lost to a reset.
        bad_request = re.compile(rb"^HTTP/1\.[01] 400 ")
        self.assertRegex(raw_http(self.port, b"\x00\xff garbage\r\n\r\n"), bad_request)
        for oversized in (b"GET /" + b"a" * 20000,
                          b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n"):
            try:
                answer = raw_http(self.port, oversized)
            except OSError:  # reset (ECONNRESET, or ENOTCONN at shutdown)
                answer = None
            self.assertTrue(answer is None or bad_request.match(answer), answer)
        raw_http(self.port, os.urandom(5000))
        self.assertEqual(raw_http(self.port, b""), b"")
        self.assertIsNone(self.gw.proc.poll())
        scrape(self.port)  # still serving


class RealModeMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ns = "metrics-real-%s" % uuid.uuid4().hex[:10]
        pvetest.mock_for_class(cls, ARGS.pve_mock, cls.ns,
                               ["--reset", "--access_log",
                                "--fault=GET /nodes=status:503:busy,times=2"],
                               root_password=ROOT_PASSWORD)
        load_stubs(cls.state.path)
        import grpc
        from proxmox.ve.v1 import nodes_pb2, nodes_pb2_grpc, version_pb2, version_pb2_grpc
        cls.grpc, cls.nodes_pb, cls.version_pb = grpc, nodes_pb2, version_pb2
        cls.nodes_grpc, cls.version_grpc = nodes_pb2_grpc, version_pb2_grpc
        auth, headers = cls.mock.login_headers(password=ROOT_PASSWORD)
        cls.token_secret = cls.mock.create_token(headers, "metrics")
        cls.secrets = [ROOT_PASSWORD, cls.token_secret, auth["ticket"], auth["CSRFPreventionToken"]]

    def gateway(self, auth="token", env=None, url=None):
        if auth == "token":
            full = self.mock.real_mode_env("root@pam!metrics", self.token_secret)
        else:
            full = self.mock.real_mode_env()
            full.update(PROXMOX_API_USERNAME="root@pam", PROXMOX_API_PASSWORD=ROOT_PASSWORD)
        full.update(PVE_GATEWAY_LOG_LEVEL="debug", PVE_GATEWAY_LOG_FORMAT="json",
                    # One start-up probe, then none during the test: deltas stay exact.
                    PVE_GATEWAY_UPSTREAM_HEALTH_INTERVAL_MS="600000")
        if url:
            full["PROXMOX_API_URL"] = url
        full.update(env or {})
        g = pvetest.Gateway(ARGS.gateway, self.state.path, self.ns + "-unused",
                            ["--metrics_listen=127.0.0.1:0"], env=full)
        self.addCleanup(self.check_no_secret, g)
        self.addCleanup(pvetest.stop, g)
        g.port = int(METRICS_PORT.search(g.log()).group(1))
        g.nodes, g.version = g.stubs(self.addCleanup, self.nodes_grpc.NodesStub,
                                     self.version_grpc.VersionStub)
        return g

    def check_no_secret(self, g):
        text = g.log()
        for secret in self.secrets:
            self.assertNotIn(secret, text, "a credential reached the debug log")

    def endpoint(self, port=None):
        return "https://127.0.0.1:%d/api2/json" % (port or self.mock.port)

    def settled(self, g, name, **labels):
        """Waits for the start-up probe to be counted, then returns a scrape."""
        pvetest.wait_until(lambda: value(scrape(g.port)[1], name, **labels) >= 1,
                           what="the start-up probe in " + name)
        return scrape(g.port)[1]

    def test_requests_retries_errors_and_request_ids(self):
        g = self.gateway()
        ep = self.endpoint()
        before = self.settled(g, "pve_gateway_upstream_up")
        g.version.GetVersion.with_call(self.version_pb.GetVersionRequest(), timeout=10,
                                       metadata=[("x-request-id", "metrics-rid-1")])
        # 503 twice (a fault rule), then the answer: two retries, two 5xx errors.
        g.nodes.GetNodes(self.nodes_pb.GetNodesRequest(), timeout=10)
        with self.assertRaises(self.grpc.RpcError) as err:
            g.nodes.GetNodesNodeQemuVmidConfig(self.nodes_pb.GetNodesNodeQemuVmidConfigRequest(
                node="pve1", vmid=9999), timeout=10, metadata=[("x-request-id", "metrics-rid-2")])
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(self.grpc.RpcError) as err:
            g.nodes.GetNodes(self.nodes_pb.GetNodesRequest(), timeout=10,
                             metadata=[("authorization", "PVEAPIToken=root@pam!metrics=wrong")])
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.UNAUTHENTICATED)
        after = scrape_after_calls(g.port, before, 4)

        delta = deltas(before, after)

        self.assertEqual(delta("pve_gateway_upstream_requests_total", endpoint=ep), 6)
        self.assertEqual(delta("pve_gateway_upstream_calls_total"), 4)
        self.assertEqual(delta("pve_gateway_upstream_retries_total"), 2)
        self.assertEqual(delta("pve_gateway_upstream_errors_total", endpoint=ep, kind="http_5xx"), 3)
        self.assertEqual(delta("pve_gateway_upstream_errors_total", endpoint=ep, kind="http_4xx"), 1)
        self.assertEqual(delta("pve_gateway_upstream_errors_total", endpoint=ep, kind="connect"), 0)
        self.assertEqual(value(after, "pve_gateway_upstream_up"), 1)
        self.assertGreaterEqual(value(after, "pve_gateway_upstream_open_connections", endpoint=ep),
                                value(after, "pve_gateway_upstream_idle_connections", endpoint=ep))
        self.assertEqual(value(after, "pve_gateway_upstream_ticket_logins_total"), 0)
        self.assertEqual(delta("pve_gateway_calls_total", method="/proxmox.ve.v1.Nodes/GetNodes",
                               code="UNAUTHENTICATED"), 1)
        build = [dict(k[1]) for k in after if k[0] == "pve_gateway_build_info"]
        self.assertEqual(build[0]["mode"], "real")

        # The request id reached Proxmox's side as X-Request-ID (pve-mock's access log).
        self.mock.wait_for_log("rid=metrics-rid-1")
        self.assertRegex(self.mock.log(), r'"GET /api2/json/version" 200 \d+ [0-9.]+ms rid=metrics-rid-1')
        self.mock.wait_for_log("rid=metrics-rid-2")
        # The JSON call log names the node that answered and the request id.
        line = g.wait_for_log('"request_id":"metrics-rid-2"')
        calls = [json.loads(l) for l in g.log().splitlines() if '"request_id":"metrics-rid-' in l]
        by_id = {c["request_id"]: c for c in calls}
        self.assertEqual(by_id["metrics-rid-1"]["upstream"], ep)
        self.assertEqual(by_id["metrics-rid-1"]["code"], "OK")
        self.assertEqual(by_id["metrics-rid-2"]["upstream"], ep)
        self.assertEqual(by_id["metrics-rid-2"]["level"], "warning")
        self.assertTrue(line)

    def test_ticket_login_is_counted(self):
        g = self.gateway(auth="ticket")
        before = self.settled(g, "pve_gateway_upstream_up")
        g.version.GetVersion(self.version_pb.GetVersionRequest(), timeout=10)
        g.nodes.GetNodesNodeQemu(self.nodes_pb.GetNodesNodeQemuRequest(node="pve1"), timeout=10)
        after = scrape(g.port)[1]
        self.assertEqual(value(after, "pve_gateway_upstream_ticket_logins_total"), 1)
        self.assertEqual(value(before, "pve_gateway_upstream_ticket_logins_total"), 1)
        self.assertEqual(value(after, "pve_gateway_upstream_requests_total", endpoint=self.endpoint()) -
                         value(before, "pve_gateway_upstream_requests_total", endpoint=self.endpoint()), 2)

    def test_connect_and_tls_errors_by_kind(self):
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        down = self.gateway(url="https://127.0.0.1:%d" % closed, env={"PROXMOX_API_RETRIES": "0"})
        before = self.settled(down, "pve_gateway_upstream_errors_total",
                              endpoint=self.endpoint(closed), kind="connect")
        with self.assertRaises(self.grpc.RpcError) as err:
            down.version.GetVersion(self.version_pb.GetVersionRequest(), timeout=10)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.UNAVAILABLE)
        after = scrape(down.port)[1]
        key = dict(endpoint=self.endpoint(closed), kind="connect")
        self.assertEqual(value(after, "pve_gateway_upstream_errors_total", **key) -
                         value(before, "pve_gateway_upstream_errors_total", **key), 1)
        self.assertEqual(value(after, "pve_gateway_upstream_up"), 0)

        wrong_pin = "AA:" * 31 + "AA"
        tls = self.gateway(env={"PROXMOX_API_TLS_FINGERPRINT": wrong_pin, "PROXMOX_API_RETRIES": "0"})
        before = self.settled(tls, "pve_gateway_upstream_errors_total", endpoint=self.endpoint(),
                              kind="tls")
        with self.assertRaises(self.grpc.RpcError):
            tls.version.GetVersion(self.version_pb.GetVersionRequest(), timeout=10)
        after = scrape(tls.port)[1]
        key = dict(endpoint=self.endpoint(), kind="tls")
        self.assertEqual(value(after, "pve_gateway_upstream_errors_total", **key) -
                         value(before, "pve_gateway_upstream_errors_total", **key), 1)


if __name__ == "__main__":
    sys.exit(pvetest.run_tests(globals()))
