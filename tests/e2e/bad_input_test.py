#!/usr/bin/python3
"""Bad input, end to end, against the real binaries: every nasty case gets a clear answer,
the process keeps answering correctly afterwards, and nothing leaks (descriptors and
threads of the server process, from /proc, settle back to the baseline; resident memory
growth is bounded).

- GrpcBadInput: pve-gateway in mock mode, called with raw bytes (empty, truncated,
  oversized, wrong-type, deeply nested, huge repeated fields and maps, invalid UTF-8) and
  every unary method of the descriptor set with a random valid message (seeded).
- PveMockBadInput: pve-mock over HTTPS with raw TLS sockets (request smuggling shapes,
  header floods, a million tiny chunks, slow-loris, a 64 KiB path, `..` and percent-encoded
  separators).

Usage: bad_input_test.py --gateway build/bin/pve-gateway --pve-mock build/bin/pve-mock
           --descriptors build/share/pve-api.desc [GrpcBadInput | PveMockBadInput ...]
"""
import json
import os
import random
import re
import socket
import ssl
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402

import grpc  # noqa: E402
from google.protobuf import descriptor as pb_descriptor  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool  # noqa: E402

ARGS = None
SEED = 20  # the random valid messages are the same on every run
RANDOM_CALLS_BUDGET_S = 60


# --- the server process, from /proc ---------------------------------------------------------
# Threads gRPC core starts and sizes itself (its executors, timer and event-engine pools,
# the callback completion queue's poller). They are not ours to count call by call, but
# they must stay bounded: at most GRPC_POOL_THREADS_CAP of them, whatever was sent.
GRPC_POOL_THREADS = ("default-executo", "grpc_global_tim", "event_engine", "resolver-execut",
                     "timer_manager", "nexting_thread")
GRPC_POOL_THREADS_CAP = 24


class Usage:
    """Open descriptors, threads (ours, and gRPC core's pools) and resident KiB of a process."""

    def __init__(self, pid):
        self.fds = len(os.listdir("/proc/%d/fd" % pid))
        self.threads = 0  # ours: every thread not of a gRPC core pool
        self.grpc_threads = 0
        for task in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/comm" % (pid, task)) as f:
                    name = f.read().strip()
            except FileNotFoundError:
                continue  # ended meanwhile
            if name.startswith(GRPC_POOL_THREADS):
                self.grpc_threads += 1
            else:
                self.threads += 1
        self.rss_kib = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    self.rss_kib = int(line.split()[1])

    def __repr__(self):
        return "fds=%d threads=%d (+%d of gRPC core) rss=%d KiB" % (
            self.fds, self.threads, self.grpc_threads, self.rss_kib)


def assert_settles(test, proc, before, rss_growth_kib, timeout=30):
    """Waits (deadline) until the process holds no more descriptors and threads than
    `before`; then bounds its resident memory growth."""
    last = []

    def settled():
        now = Usage(proc.pid)
        last[:] = [now]
        return (now.fds <= before.fds and now.threads <= before.threads and
                now.grpc_threads <= GRPC_POOL_THREADS_CAP)

    try:
        pvetest.wait_until(settled, timeout, interval=0.05, what="descriptors and threads to settle")
    except AssertionError:
        test.fail("leaked: before %r, after %r" % (before, last[0]))
    # Under AddressSanitizer freed memory stays in its quarantine: resident memory says
    # nothing there (the leak checker covers it), so only the plain build bounds it.
    with open("/proc/%d/maps" % proc.pid) as maps:
        sanitized = "libasan" in maps.read()
    if not sanitized:
        test.assertLess(last[0].rss_kib - before.rss_kib, rss_growth_kib,
                        "resident memory grew: before %r, after %r" % (before, last[0]))
    print("before %r, after %r" % (before, last[0]), file=sys.stderr)


# --- protobuf wire format by hand ----------------------------------------------------------
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(number, wire_type):
    return varint((number << 3) | wire_type)


def ld(number, payload):
    """A length-delimited field."""
    return tag(number, 2) + varint(len(payload)) + payload


def load_pool(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.Add(file)
    services = []
    for file in fds.file:
        for svc in file.service:
            services.append(pool.FindServiceByName(
                (file.package + "." if file.package else "") + svc.name))
    return pool, services


# --- random valid messages -----------------------------------------------------------------
WORDS = ["pve1", "pve2", "local", "local-lvm", "100", "101", "vm-100-disk-0", "root@pam",
         "vmbr0", "", "a" * 40, "x=1,y=2", "virtio=BC:24:11:2A:7E:01,bridge=vmbr0",
         "UPID:pve1:00001234:00005678:5F000000:qmstart:100:root@pam:", "äöü", "../..", "%2F"]

F = pb_descriptor.FieldDescriptor


def random_scalar(rng, field):
    t = field.type
    if t == F.TYPE_STRING:
        return rng.choice(WORDS) if rng.random() < 0.7 else "".join(
            chr(rng.randrange(0x20, 0x7F)) for _ in range(rng.randrange(0, 20)))
    if t == F.TYPE_BYTES:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 16)))
    if t == F.TYPE_BOOL:
        return rng.random() < 0.5
    if t == F.TYPE_ENUM:
        return rng.choice(field.enum_type.values).number
    if t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return rng.choice([0.0, 1.5, -3.25, 1e9, rng.uniform(-1e6, 1e6)])
    if t in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return rng.choice([0, 1, 100, 4294967295, rng.randrange(2 ** 32)])
    if t in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return rng.choice([0, 1, 100, 2 ** 64 - 1, rng.randrange(2 ** 64)])
    if t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return rng.choice([0, 1, -1, 100, 2 ** 31 - 1, -2 ** 31, rng.randrange(-2 ** 31, 2 ** 31)])
    return rng.choice([0, 1, -1, 100, 2 ** 63 - 1, -2 ** 63, rng.randrange(-2 ** 63, 2 ** 63)])


def encode_scalar(field, value):
    """One value of a scalar field, on the wire, as a (wire_type, payload) pair."""
    import struct
    t = field.type
    if t in (F.TYPE_STRING, F.TYPE_BYTES):
        data = value.encode("utf-8") if isinstance(value, str) else value
        return 2, varint(len(data)) + data
    if t in (F.TYPE_DOUBLE,):
        return 1, struct.pack("<d", value)
    if t in (F.TYPE_FLOAT,):
        return 5, struct.pack("<f", value)
    if t in (F.TYPE_FIXED64, F.TYPE_SFIXED64):
        return 1, struct.pack("<Q", value & (2 ** 64 - 1))
    if t in (F.TYPE_FIXED32, F.TYPE_SFIXED32):
        return 5, struct.pack("<I", value & (2 ** 32 - 1))
    if t in (F.TYPE_SINT32, F.TYPE_SINT64):
        return 0, varint(((value << 1) ^ (value >> 63)) & (2 ** 64 - 1))
    if t == F.TYPE_BOOL:
        return 0, varint(1 if value else 0)
    return 0, varint(value & (2 ** 64 - 1))  # int32/int64 negatives: ten bytes, as protobuf


def random_message(rng, msg_type, depth=0):
    """A random but wire-valid message of `msg_type`, encoded by hand."""
    out = bytearray()
    for field in msg_type.fields:
        if rng.random() < 0.5:
            continue
        count = 1
        if field.label == F.LABEL_REPEATED:
            count = rng.randrange(0, 4)
        for _ in range(count):
            if field.type == F.TYPE_MESSAGE:
                if depth > 3:
                    continue
                out += ld(field.number, random_message(rng, field.message_type, depth + 1))
            else:
                wire, payload = encode_scalar(field, random_scalar(rng, field))
                out += tag(field.number, wire) + payload
    return bytes(out)


# --- gRPC ----------------------------------------------------------------------------------
CRASH_CODES = (grpc.StatusCode.UNKNOWN,)


def in_parallel(call, threads=8):
    """`call` from `threads` threads at once; returns when all have ended."""
    running = [threading.Thread(target=call) for _ in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()


class GrpcBadInput(unittest.TestCase):
    """pve-gateway (mock mode) against malformed and hostile request bytes."""

    @classmethod
    def setUpClass(cls):
        cls.gw = pvetest.Gateway(ARGS.gateway, pvetest.state_for_class(cls).path, "bad-" + uuid.uuid4().hex[:8])
        cls.addClassCleanup(pvetest.stop, cls.gw)
        cls.channel = cls.gw.channel(cls.addClassCleanup, options=[
            ("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)])
        cls.pool, cls.services = load_pool(ARGS.descriptors)
        # Warm up (thread pools, the mock world) before the baseline: a few parallel calls.
        in_parallel(cls.normal_call_ok)
        cls.before = Usage(cls.gw.proc.pid)

    @classmethod
    def normal_call_ok(cls):
        reply = cls.raw("/proxmox.ve.v1.Version/GetVersion", b"")
        assert b"version" in reply or len(reply) > 0, reply
        return reply

    @classmethod
    def raw(cls, method, payload, timeout=30):
        rpc = cls.channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        return rpc(payload, timeout=timeout)

    def call(self, method, payload, timeout=30):
        """(code, details) of a call with raw request bytes."""
        try:
            self.raw(method, payload, timeout)
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            return e.code(), e.details() or ""

    def assertClear(self, method, payload, codes, text=None):
        code, details = self.call(method, payload)
        self.assertIn(code, codes, "%s: %s %s" % (method, code, details))
        if code != grpc.StatusCode.OK:
            self.assertTrue(details, "%s: %s without a message" % (method, code))
        if text:
            self.assertIn(text, details)
        return code, details

    def tearDown(self):
        # After every case the process answers a normal call.
        self.assertEqual(self.gw.proc.poll(), None, "the gateway exited:\n" + self.gw.log())
        self.normal_call_ok()

    def method(self, full_name):
        return self.pool.FindMethodByName(full_name)

    # --- the cases -------------------------------------------------------------------------
    def test_empty_message(self):
        self.assertClear("/proxmox.ve.v1.Version/GetVersion", b"", [grpc.StatusCode.OK])
        self.assertClear("/proxmox.ve.v1.Nodes/GetNodesNodeQemuVmidConfig", b"",
                         [grpc.StatusCode.INVALID_ARGUMENT], "node")

    def test_truncated_messages(self):
        m = "/proxmox.ve.v1.Nodes/GetNodesNodeQemuVmidConfig"
        good = ld(2, b"pve1") + tag(4, 0) + varint(100)
        self.assertClear(m, good, [grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND])
        for payload in (good[:3], good[:-1], b"\x12", b"\x20\xff", b"\x12\x7fabc",
                        b"\x12\xff\xff\xff\xff\x0f", tag(2, 2)[:0] + b"\xff" * 11):
            self.assertClear(m, payload, [grpc.StatusCode.INVALID_ARGUMENT],
                             "not a valid proxmox.ve.v1.GetNodesNodeQemuVmidConfigRequest")

    def test_oversized_message_is_resource_exhausted(self):
        # docs/configuration.md: --max_message_bytes, 4194304 by default.
        payload = ld(2, b"p" * (4 * 1024 * 1024 + 1024))
        code, details = self.call("/proxmox.ve.v1.Nodes/GetNodesNodeQemuVmidConfig", payload)
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED, details)

    def test_message_of_another_method_and_wrong_wire_types(self):
        rng = random.Random(SEED)
        create = self.method("proxmox.ve.v1.Nodes.PostNodesNodeQemu").input_type
        other = random_message(rng, create) + ld(2, b"pve1")  # field 2 is a string there
        ok_or_bad = [grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT,
                     grpc.StatusCode.NOT_FOUND]
        for target in ("/proxmox.ve.v1.Version/GetVersion",
                       "/proxmox.ve.v1.Nodes/GetNodesNodeQemuVmidConfig",
                       "/proxmox.ve.v1.Pools/PostPools"):
            self.assertClear(target, other, ok_or_bad)
        # Right numbers, wrong wire types: node (string) as a varint, vmid (int32) as a
        # string, as fixed64 and as a group; protobuf keeps them as unknown fields.
        m = "/proxmox.ve.v1.Nodes/GetNodesNodeQemuVmidConfig"
        for payload in (tag(2, 0) + varint(7) + tag(4, 0) + varint(100),
                        ld(2, b"pve1") + ld(4, b"100"),
                        ld(2, b"pve1") + tag(4, 1) + b"\x64" + b"\0" * 7,
                        ld(2, b"pve1") + tag(4, 3) + tag(4, 4),
                        ld(2, b"pve1") + tag(4, 0) + varint(2 ** 64 - 1)):
            self.assertClear(m, payload, ok_or_bad)
        # A group end that was never opened, and wire types 6 and 7, are not protobuf.
        for payload in (tag(9, 4), tag(9, 6) + b"\0", tag(9, 7)):
            self.assertClear(m, payload, [grpc.StatusCode.INVALID_ARGUMENT])

    def test_deeply_nested_messages_are_invalid_argument(self):
        # No request carries a google.protobuf.Struct (requests are Proxmox parameters), so
        # depth comes from what every message accepts: unknown fields. Groups nested 10,000
        # deep, at the top and inside a typed (message) field, must meet protobuf's
        # recursion limit (100) as INVALID_ARGUMENT, not as a stack overflow.
        deep = tag(999, 3) * 10000 + tag(999, 4) * 10000
        self.assertClear("/proxmox.ve.v1.Version/GetVersion", deep,
                         [grpc.StatusCode.INVALID_ARGUMENT])
        create = self.method("proxmox.ve.v1.Nodes.PostNodesNodeQemu").input_type
        typed = [f for f in create.fields if f.type == F.TYPE_MESSAGE and
                 not f.message_type.GetOptions().map_entry]
        self.assertTrue(typed, "PostNodesNodeQemuRequest has typed property-string fields")
        self.assertClear("/proxmox.ve.v1.Nodes/PostNodesNodeQemu",
                         ld(typed[0].number, deep), [grpc.StatusCode.INVALID_ARGUMENT])
        # Length-delimited unknown fields nested 10,000 deep are opaque bytes to protobuf.
        nested = b""
        for _ in range(10000):
            nested = ld(999, nested)
        self.assertClear("/proxmox.ve.v1.Version/GetVersion", nested,
                         [grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT])

    def test_huge_repeated_fields_and_maps(self):
        start = time.monotonic()
        bulk = self.method("proxmox.ve.v1.Cluster.PostClusterBulkActionGuestStart").input_type
        vms = bulk.fields_by_name["vms"]
        packed = b"".join(varint(100 + i) for i in range(100000))
        unpacked = b"".join(tag(vms.number, 0) + varint(100 + i) for i in range(100000))
        answers = [grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT,
                   grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
                   grpc.StatusCode.UNIMPLEMENTED]
        for payload in (ld(vms.number, packed), unpacked):
            self.assertClear("/proxmox.ve.v1.Cluster/PostClusterBulkActionGuestStart", payload,
                             answers)
        create = self.method("proxmox.ve.v1.Nodes.PostNodesNodeQemu").input_type
        net = create.fields_by_name["net"]
        self.assertTrue(net.message_type.GetOptions().map_entry)
        head = ld(create.fields_by_name["node"].number, b"pve1") + tag(
            create.fields_by_name["vmid"].number, 0) + varint(4242)

        def entries(count, first, value):
            return b"".join(ld(net.number, tag(1, 0) + varint(first + i) + ld(2, value))
                            for i in range(count))

        # 100,000 entries (2.8 MB): more than pveproxy's 512 KiB of parameters, refused
        # before validation (gateway/transcoder.cc).
        self.assertClear("/proxmox.ve.v1.Nodes/PostNodesNodeQemu",
                         head + entries(100000, 0, b"virtio,bridge=vmbr0"),
                         [grpc.StatusCode.INVALID_ARGUMENT], "at most 512 KiB of parameters")
        # 40,000 entries under that limit whose keys (net10000 ...) Proxmox does not know:
        # 40,000 violations, cut to fit the trailers (gateway/grpc_status.cc) so that the
        # client reads its INVALID_ARGUMENT rather than "metadata size exceeds limit".
        code, details = self.assertClear("/proxmox.ve.v1.Nodes/PostNodesNodeQemu",
                                         head + entries(40000, 10000, b"e"),
                                         [grpc.StatusCode.INVALID_ARGUMENT],
                                         "Parameter verification failed. net10000:")
        self.assertIn("of 40000 invalid parameters", details)
        self.assertLess(len(details), 2048)
        self.assertLess(time.monotonic() - start, 60, "bounded time for 100k entries")

    def test_invalid_utf8_in_string_fields(self):
        m = "/proxmox.ve.v1.Nodes/GetNodesNodeQemuVmidConfig"
        for bad in (b"\xff\xfe", b"pve\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"pve1\x00"):
            code, _ = self.assertClear(m, ld(2, bad) + tag(4, 0) + varint(100),
                                       [grpc.StatusCode.INVALID_ARGUMENT,
                                        grpc.StatusCode.NOT_FOUND])
            if bad != b"pve1\x00":  # NUL is valid UTF-8; Proxmox's node format refuses it
                self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, bad)

    def test_every_unary_method_with_a_random_valid_message(self):
        rng = random.Random(SEED)
        methods = [m for s in self.services for m in s.methods
                   if not m.client_streaming and not m.server_streaming]
        self.assertGreater(len(methods), 600)
        deadline = time.monotonic() + RANDOM_CALLS_BUDGET_S
        seen = {}
        internal = []
        calls = 0
        for rounds in range(10):
            for m in methods:
                if time.monotonic() > deadline:
                    break
                payload = random_message(rng, m.input_type)
                path = "/%s/%s" % (m.containing_service.full_name, m.name)
                code, details = self.call(path, payload, timeout=10)
                calls += 1
                seen[code] = seen.get(code, 0) + 1
                self.assertNotIn(code, CRASH_CODES, "%s: %s %s" % (path, code, details))
                self.assertNotEqual(code, grpc.StatusCode.UNAVAILABLE,
                                    "%s: %s (the gateway went away?)" % (path, details))
                if code != grpc.StatusCode.OK:
                    self.assertTrue(details, "%s: %s without a message" % (path, code))
                if code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL):
                    print("  %s: %s %s" % (path, code.name, details[:200]), file=sys.stderr)
                if code == grpc.StatusCode.INTERNAL:
                    # Proxmox's own 500 texts the mock repeats are INTERNAL with that text; a
                    # caught exception in the gateway says "internal error:".
                    self.assertNotIn("internal error", details, path)
                    internal.append((path, details))
        self.assertGreaterEqual(calls, len(methods), "every unary method was called")
        print("random calls: %d, answers %s" % (calls, {k.name: v for k, v in seen.items()}),
              file=sys.stderr)
        self.assertIsNone(self.gw.proc.poll())

    # Runs last (unittest sorts by name): everything above has been sent.
    def test_zz_nothing_leaked(self):
        # The heaviest cases once more, three times: memory may stay at its high-water mark
        # (the allocator keeps freed pages) but must not grow with every repetition.
        marks = []
        for _ in range(4):
            self.test_huge_repeated_fields_and_maps()
            self.test_oversized_message_is_resource_exhausted()
            self.test_deeply_nested_messages_are_invalid_argument()
            marks.append(Usage(self.gw.proc.pid).rss_kib)
        self.assertLess(marks[-1] - marks[1], 32 * 1024, "RSS per repetition: %r KiB" % marks)
        in_parallel(self.normal_call_ok)
        assert_settles(self, self.gw.proc, self.before, rss_growth_kib=256 * 1024)


# --- pve-mock over HTTPS -------------------------------------------------------------------
STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ([^\r\n]*)\r\n")


class PveMockBadInput(unittest.TestCase):
    """pve-mock against hostile HTTP bytes on raw TLS sockets."""

    @classmethod
    def setUpClass(cls):
        pvetest.mock_for_class(cls, ARGS.pve_mock, "bad", ["--reset"], root_password="s3cret")
        cls.ticket = cls.mock.login(password="s3cret")
        cls.cookie = "Cookie: PVEAuthCookie=%s\r\n" % cls.ticket["ticket"]
        cls.csrf = "CSRFPreventionToken: %s\r\n" % cls.ticket["CSRFPreventionToken"]
        for _ in range(4):
            cls.normal_call_ok()
        cls.before = Usage(cls.mock.proc.pid)

    @classmethod
    def normal_call_ok(cls):
        status, _, _, body = cls.mock.request(
            "GET", "/version", headers={"Cookie": "PVEAuthCookie=" + cls.ticket["ticket"]})
        assert status == 200 and json.loads(body)["data"]["version"], (status, body)

    def tearDown(self):
        self.assertIsNone(self.mock.proc.poll(), "pve-mock exited:\n" + self.mock.log())
        self.normal_call_ok()

    def connect(self, timeout=15):
        sock = socket.create_connection((self.mock.host, self.mock.port), timeout=timeout)
        return self.mock.ssl_context().wrap_socket(sock, server_hostname="localhost")

    def read_all(self, sock):
        """Everything until the server closes (or a read times out: then None)."""
        try:
            return pvetest.read_all(sock, (ConnectionResetError, ssl.SSLError, BrokenPipeError))
        except socket.timeout:
            return None

    def exchange(self, payload, timeout=15):
        """Sends `payload`, answers (status, reason, everything read); the server must close."""
        sock = self.connect(timeout)
        try:
            try:
                sock.sendall(payload)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass  # closed while we were still sending: what it answered is still there
            reply = self.read_all(sock)
        finally:
            sock.close()
        self.assertIsNotNone(reply, "the connection was not closed: %r" % payload[:200])
        m = STATUS_LINE.match(reply)
        if not m:
            return None, None, reply
        return int(m.group(1)), m.group(2).decode("latin-1"), reply

    def answers_in(self, reply):
        return len(re.findall(rb"HTTP/1\.[01] \d{3} ", reply))

    def get(self, target, extra=""):
        return ("GET %s HTTP/1.1\r\nHost: x\r\n%s%sConnection: close\r\n\r\n" % (
            target, self.cookie, extra)).encode("latin-1")

    # --- request smuggling shapes ------------------------------------------------------------
    def test_content_length_with_transfer_encoding_is_400_and_closed(self):
        smuggled = b"GET /api2/json/access/users HTTP/1.1\r\nHost: x\r\n\r\n"
        body = b"0\r\n\r\n" + smuggled
        for te in (b"chunked", b" chunked", b"identity, chunked", b"Chunked"):
            payload = (b"POST /api2/json/pools HTTP/1.1\r\nHost: x\r\n" + self.cookie.encode() +
                       self.csrf.encode() + b"Content-Type: application/x-www-form-urlencoded\r\n"
                       b"Content-Length: %d\r\nTransfer-Encoding: %s\r\n\r\n" % (len(body), te) +
                       body)
            status, reason, reply = self.exchange(payload)
            self.assertEqual(status, 400, (te, reply[:300]))
            self.assertEqual(self.answers_in(reply), 1, "one answer, nothing smuggled: %r" % reply)
            # Transfer-Encoding first, then Content-Length.
            payload = (b"POST /api2/json/pools HTTP/1.1\r\nHost: x\r\n" + self.cookie.encode() +
                       self.csrf.encode() + b"Transfer-Encoding: %s\r\n"
                       b"Content-Length: %d\r\n\r\n" % (te, len(body)) + body)
            status, reason, reply = self.exchange(payload)
            self.assertEqual(status, 400, (te, reply[:300]))
            self.assertEqual(self.answers_in(reply), 1, reply)

    def test_two_different_content_lengths_are_400_and_closed(self):
        for lengths in ((b"5", b"6"), (b"5, 6", None), (b"5", b"5, 5")):
            head = b"POST /api2/json/pools HTTP/1.1\r\nHost: x\r\n" + self.cookie.encode() + \
                self.csrf.encode() + b"Content-Type: application/x-www-form-urlencoded\r\n"
            for n in lengths:
                if n is not None:
                    head += b"Content-Length: " + n + b"\r\n"
            status, _, reply = self.exchange(head + b"\r\npoolid=" + b"GET / HTTP/1.1\r\n\r\n")
            self.assertEqual(status, 400, (lengths, reply[:300]))
            self.assertEqual(self.answers_in(reply), 1, reply)

    # --- header floods -------------------------------------------------------------------------
    def test_ten_thousand_headers(self):
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(10000))
        status, reason, reply = self.exchange(
            b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        self.assertEqual(status, 431, reply[:300])
        self.assertEqual(self.answers_in(reply), 1)

    def test_one_mebibyte_header(self):
        status, reason, reply = self.exchange(
            b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) +
            b"\r\n\r\n")
        self.assertEqual((status, reason), (431, "request header too large"), reply[:300])

    # --- bodies --------------------------------------------------------------------------------
    def test_a_million_tiny_chunks_are_refused_without_buffering(self):
        # pveproxy refuses chunked bodies outright (501, at the head); the server must not
        # read, let alone buffer, the million chunks that follow. The client reads the
        # answer as soon as it is there, as HTTP clients do while uploading.
        import select
        sock = self.connect()
        reply = None
        try:
            sock.sendall(b"POST /api2/json/pools HTTP/1.1\r\nHost: x\r\n" + self.cookie.encode() +
                         self.csrf.encode() +
                         b"Content-Type: application/x-www-form-urlencoded\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            piece = b"1\r\na\r\n" * 10000
            for _ in range(100):  # 100 x 10,000 = a million chunks
                if sock.pending() or select.select([sock], [], [], 0)[0]:
                    break
                try:
                    sock.sendall(piece)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    break
            select.select([sock], [], [], 10)
            reply = self.read_all(sock)
        finally:
            sock.close()
        self.assertIsNotNone(reply)
        m = STATUS_LINE.match(reply)
        self.assertTrue(m, reply[:200])
        self.assertEqual(m.group(1), b"501")
        self.assertIn(b"chunked transfer encoding not supported", reply)
        self.assertEqual(self.answers_in(reply), 1)

    def test_bodies_above_the_limit_are_refused(self):
        status, reason, _ = self.exchange(
            b"POST /api2/json/pools HTTP/1.1\r\nHost: x\r\n" + self.cookie.encode() +
            self.csrf.encode() + b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 1073741824\r\n\r\npoolid=x")
        self.assertEqual((status, reason), (501, "for data too large"))

    # --- slow-loris ----------------------------------------------------------------------------
    def test_slow_loris_is_dropped_at_the_header_timeout(self):
        # One byte every 100 ms: the head must be complete within --idle_timeout_ms (5 s,
        # pveproxy's), however steadily bytes trickle in.
        sock = self.connect(timeout=2)
        start = time.monotonic()
        closed_after = None
        request = b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 400
        try:
            for b in request:
                try:
                    sock.sendall(bytes([b]))
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                    closed_after = time.monotonic() - start
                    break
                # Anything to read (the close) ends it.
                sock.settimeout(0.1)
                try:
                    data = sock.recv(1)
                    if not data:
                        closed_after = time.monotonic() - start
                        break
                except socket.timeout:
                    pass
                except (ConnectionResetError, ssl.SSLError, OSError):
                    closed_after = time.monotonic() - start
                    break
                if time.monotonic() - start > 20:
                    break
        finally:
            sock.close()
        self.assertIsNotNone(closed_after, "a slow-loris client was never dropped")
        self.assertGreater(closed_after, 4.0)
        self.assertLess(closed_after, 8.0, "dropped at the 5 s header timeout")

    # --- paths ---------------------------------------------------------------------------------
    def test_a_64_kib_path(self):
        status, reason, reply = self.exchange(self.get("/api2/json/" + "a" * 65536))
        self.assertIn(status, (400, 414, 431), reply[:300])
        self.assertTrue(reason, "a reason phrase says what is wrong")

    def test_dot_segments_and_encoded_separators_reach_no_other_resource(self):
        # pveproxy percent-decodes the path, splits it on '/' and drops empty segments
        # (RESTHandler find_handler): `//` and a trailing '/' are harmless, and `.` and `..`
        # are segments like any other, never resolved. None of these names an existing
        # resource, so each is an error in Proxmox's shape, never another resource's data.
        cases = [
            "/api2/json/nodes/../access/users",
            "/api2/json/nodes/pve1/../../access/users",
            "/api2/json/access/../version",
            "/api2/json/./version",
            "/api2/json/nodes/pve1%2F..%2F..%2Faccess%2Fusers",
            "/api2/json/nodes/%2E%2E/access/users",
            "/api2/json/%2E%2E/json/version",
            "/api2/json/nodes/pve1%00/status",
            "/api2/json/version%00",
            "/api2/json/nodes/pve1/storage/local/content/local%3Aiso%2F..%2F..%2Fetc",
            "/api2/json/nodes/pve1/qemu/100%00/config",
            "/api2/json%2F..%2F..%2Fversion",
            "/api2/json/nodes/pve1/qemu/%2E%2E%2F%2E%2E%2Fversion",
            "/api2/json/nodes/%252E%252E/access/users",
        ]
        users = self.exchange(self.get("/api2/json/access/users"))[2]
        version = self.exchange(self.get("/api2/json/version"))[2]
        users_body = users.split(b"\r\n\r\n", 1)[1]
        version_body = version.split(b"\r\n\r\n", 1)[1]
        self.assertIn(b'"data":[', users_body)
        for target in cases:
            status, reason, reply = self.exchange(self.get(target))
            self.assertIsNotNone(status, (target, reply[:300]))
            body = reply.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in reply else b""
            self.assertNotEqual(body, users_body, target)
            self.assertNotEqual(body, version_body, target)
            self.assertIn(status, (400, 500, 501), (target, reply[:300]))
            self.assertTrue(reason, target)
            if body and status != 501 or body.startswith(b"{"):
                # Proxmox's error shape: {"data": null, "message": ...}
                answer = json.loads(body)
                self.assertIsNone(answer["data"], (target, body))
                self.assertTrue(answer["message"], (target, body))
        # What pveproxy treats as the same path is the same resource.
        for target in ("/api2/json//version", "/api2/json/version/", "/api2//json/version"):
            status, _, reply = self.exchange(self.get(target))
            self.assertEqual(status, 200, (target, reply[:300]))
            self.assertEqual(reply.split(b"\r\n\r\n", 1)[1], version_body, target)

    def test_zz_nothing_leaked(self):
        for _ in range(4):
            self.normal_call_ok()
        assert_settles(self, self.mock.proc, self.before, rss_growth_kib=64 * 1024)


if __name__ == "__main__":
    sys.exit(pvetest.run_tests(globals(), protos=False, required=["--descriptors"]))
