"""Helpers for the end-to-end tests that drive the real binaries (pve-mock, pve-gateway).

Every server binds 127.0.0.1 port 0 and reports its address on its start-up line; every
wait has a deadline. Mock state lives in a private directory under /dev/shm.
"""
import argparse
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import sys
import unittest
import urllib.parse

MOCK_LINE = re.compile(r"serving (https?)://([0-9.]+):(\d+)/api2/json fingerprint=(\S+)")
GATEWAY_LINE = re.compile(r"listen=(127\.0\.0\.1:\d+)")


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls `predicate` until it returns a true value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def wait_task_stopped(px, node, upid, timeout=15, interval=0.1):
    """Polls a task's status through a proxmoxer ProxmoxAPI `px` until it has stopped;
    answers that status."""
    def stopped():
        status = px.nodes(node).tasks(upid).status.get()
        return status if status["status"] == "stopped" else None
    return wait_until(stopped, timeout, interval, what="task " + upid)


def read_all(sock, ends=()):
    """Everything `sock` receives until the peer closes it or a read raises one of `ends`."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ends:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


class StateDir:
    """A private mock state directory (PROXMOX_MOCK_STATE_DIR), removed at the end."""

    def __init__(self):
        base = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.path = tempfile.mkdtemp(prefix="pvegw-e2e-", dir=base)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Process:
    """A server process whose stderr is collected by a thread (so it never blocks)."""

    def __init__(self, argv, env, ready_pattern, timeout=30):
        self.argv = argv
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self.match = wait_until(lambda: self._find(ready_pattern) or self._dead(), timeout,
                                    what="start-up line of %s" % argv[0])
        except AssertionError:
            self.kill()
            raise
        if not isinstance(self.match, re.Match):
            raise AssertionError("%s exited (%s) before serving:\n%s" %
                                 (argv[0], self.proc.returncode, self.log()))

    def _read(self):
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line)

    def _find(self, pattern):
        with self._lock:
            for line in self.lines:
                m = pattern.search(line)
                if m:
                    return m
        return None

    def _dead(self):
        return self.proc.poll() is not None and not self._reader.is_alive()

    def log(self):
        with self._lock:
            return "".join(self.lines)

    def wait_for_log(self, text, timeout=10):
        return wait_until(lambda: text in self.log(), timeout, what="log line %r" % text)

    def terminate(self, timeout=30):
        """SIGTERM, then the exit status (killed after `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=5)
        self.proc.stderr.close()
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        self.proc.stderr.close()


def stop(process):
    """SIGTERM (unless it has exited already); the process must have exited 0 (a crash or a
    sanitizer report fails). For addCleanup and addClassCleanup: an assertion there fails
    the test run."""
    code = process.terminate()
    assert code == 0, "%s exited %s:\n%s" % (process.argv[0], code, process.log()[-4000:])


class PveMock(Process):
    """The real pve-mock binary. `url` is https://127.0.0.1:PORT/api2/json."""

    def __init__(self, binary, state_dir, namespace, args=(), env=None, workdir=None):
        self.workdir = workdir or state_dir
        self.cert_file = os.path.join(self.workdir, "pve-mock-%s-%d.pem" % (namespace, time.monotonic_ns()))
        argv = [binary, "--listen=127.0.0.1:0", "--namespace=" + namespace]
        if "--plain_http" not in args:
            argv.append("--tls_cert_out=" + self.cert_file)
        argv += list(args)
        full_env = dict(os.environ, PROXMOX_MOCK_STATE_DIR=state_dir)
        full_env.update(env or {})
        super().__init__(argv, full_env, MOCK_LINE)
        self.scheme, self.host, self.port, self.fingerprint = (
            self.match.group(1), self.match.group(2), int(self.match.group(3)), self.match.group(4))
        self.url = "%s://%s:%d/api2/json" % (self.scheme, self.host, self.port)

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.cert_file)
        return ctx

    def connection(self, timeout=10):
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, context=self.ssl_context(),
                                               timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, params=None, headers=None, body=None, content_type=None,
                conn=None):
        """One API call; returns (status, reason, headers dict, body bytes)."""
        own = conn is None
        conn = conn or self.connection()
        try:
            target = "/api2/json" + path
            hdrs = dict(headers or {})
            if params is not None and method in ("GET", "DELETE"):
                target += "?" + urllib.parse.urlencode(params, doseq=True)
            elif params is not None:
                body = urllib.parse.urlencode(params, doseq=True)
                content_type = content_type or "application/x-www-form-urlencoded"
            if content_type:
                hdrs["Content-Type"] = content_type
            conn.request(method, target, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            if own:
                conn.close()

    def login(self, username="root@pam", password="pve-mock"):
        status, reason, _, body = self.request("POST", "/access/ticket",
                                               {"username": username, "password": password})
        if status != 200:
            raise AssertionError("login failed: %d %s" % (status, reason))
        return json.loads(body)["data"]

    def login_headers(self, username="root@pam", password="pve-mock"):
        """Logs in; answers (the ticket data, the headers that authenticate a write with it)."""
        auth = self.login(username, password)
        return auth, {"Cookie": "PVEAuthCookie=" + auth["ticket"],
                      "CSRFPreventionToken": auth["CSRFPreventionToken"]}

    def create_token(self, headers, name, userid="root@pam"):
        """An API token without privilege separation, created with `headers` (login_headers);
        answers its secret."""
        status, reason, _, body = self.request(
            "POST", "/access/users/%s/token/%s" % (userid, name), {"privsep": 0}, headers=headers)
        if status != 200:
            raise AssertionError("token %s!%s: %d %s" % (userid, name, status, reason))
        return json.loads(body)["data"]["value"]

    def real_mode_env(self, token_id=None, token_secret=None):
        """The environment of a real-mode pve-gateway against this pve-mock (its port, its
        pinned certificate) with the API token, if given."""
        env = {"PROXMOX_API_MODE": "real", "PROXMOX_API_URL": "https://127.0.0.1:%d" % self.port,
               "PROXMOX_API_TLS_FINGERPRINT": self.fingerprint}
        if token_id is not None:
            env.update(PROXMOX_API_TOKEN_ID=token_id, PROXMOX_API_TOKEN_SECRET=token_secret)
        return env

    def proxmoxer(self, **auth):
        """A proxmoxer (python3-proxmoxer) client of this pve-mock, its certificate as the CA
        file; `auth`: user and password, or user, token_name and token_value."""
        from proxmoxer import ProxmoxAPI
        return ProxmoxAPI(self.host, port=self.port, verify_ssl=self.cert_file, timeout=10,
                          **auth)

    def raw(self, payload, timeout=10, tls=None):
        """Sends raw bytes on a fresh connection; returns everything read until close/timeout."""
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        if tls if tls is not None else self.scheme == "https":
            sock = self.ssl_context().wrap_socket(sock, server_hostname="localhost")
        try:
            if payload:
                sock.sendall(payload)
            return read_all(sock, (socket.timeout, ConnectionResetError, ssl.SSLError))
        finally:
            sock.close()


class Gateway(Process):
    """The real pve-gateway binary in mock mode on 127.0.0.1:0."""

    def __init__(self, binary, state_dir, namespace, args=(), env=None):
        full_env = dict(os.environ, PROXMOX_MOCK_STATE_DIR=state_dir,
                        PROXMOX_MOCK_STATE_NAMESPACE=namespace)
        full_env.update(env or {})
        super().__init__([binary, "--listen=127.0.0.1:0"] + list(args), full_env, GATEWAY_LINE)
        self.address = self.match.group(1)

    def channel(self, add_cleanup, options=None):
        """A new gRPC channel to the gateway; `add_cleanup` (a test's addCleanup or
        addClassCleanup) closes it."""
        import grpc
        channel = grpc.insecure_channel(self.address, options=options)
        add_cleanup(channel.close)
        return channel

    def stubs(self, add_cleanup, *stub_classes):
        """One stub of each of `stub_classes` on a new channel (see channel())."""
        channel = self.channel(add_cleanup)
        stubs = tuple(cls(channel) for cls in stub_classes)
        return stubs[0] if len(stubs) == 1 else stubs


def state_for_class(cls):
    """A private state directory for a test class (cls.state), removed after its last test."""
    cls.state = StateDir()
    cls.addClassCleanup(cls.state.cleanup)
    return cls.state


def mock_for_class(cls, binary, namespace, args=(), root_password=None, env=None):
    """For a test class: a private state directory (cls.state) and pve-mock on it (cls.mock),
    root@pam's password `root_password` (PVE_MOCK_ROOT_PASSWORD), stopped after its last test
    (it must exit 0) and the directory removed."""
    state_for_class(cls)
    env = dict(env or {})
    if root_password is not None:
        env["PVE_MOCK_ROOT_PASSWORD"] = root_password
    cls.mock = PveMock(binary, cls.state.path, namespace, list(args), env=env)
    cls.addClassCleanup(stop, cls.mock)
    return cls.mock


def self_signed_cert(cert, key, cn, san):
    """A throw-away EC certificate (one day) and its key, written to the paths `cert`, `key`."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=" + cn, "-addext", "subjectAltName=" + san,
                    "-keyout", key, "-out", cert], check=True, capture_output=True)


def generate_stubs(protoc, grpc_python_plugin, proto_dir, import_roots, out_dir, extra=()):
    """Python stubs for the generated API protos (and the `extra` ones, e.g.
    "proxmox/gateway/v1/tasks.proto"), by protoc and grpc_python_plugin."""
    roots = [proto_dir] + list(import_roots)
    api = sorted(os.path.relpath(p, proto_dir)
                 for p in glob.glob(os.path.join(proto_dir, "proxmox/ve/v1/*.proto")))
    support = ["proxmox/gateway/v1/options.proto", "google/api/annotations.proto",
               "google/api/http.proto"]
    cmd = [protoc] + ["-I" + r for r in roots] + [
        "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
        "--plugin=protoc-gen-grpc_python=" + grpc_python_plugin] + api + support + list(extra)
    subprocess.run(cmd, check=True)


def load_stubs(args, work_dir, extra=()):
    """Generates the stubs (generate_stubs, with the protos' paths parsed by parse_args) in a
    new directory under `work_dir` and puts it on the import path; answers the directory."""
    stubs = tempfile.mkdtemp(prefix="stubs-", dir=work_dir)
    generate_stubs(args.protoc, args.grpc_python_plugin, args.proto_dir, args.import_root, stubs,
                   extra)
    sys.path.insert(0, stubs)
    return stubs


def parse_args(module_globals, required=(), optional=None, protos=False):
    """Parses the command line into the module's ARGS: every option of `required` (e.g.
    "--gateway") must be given, those of `optional` ({option: help}) may be; `protos` adds
    where the protos and their compilers are (--proto-dir, --import-root, --protoc,
    --grpc-python-plugin). Answers the arguments left for unittest (e.g. a test name)."""
    parser = argparse.ArgumentParser(description=module_globals.get("__doc__"))
    for option in required:
        parser.add_argument(option, required=True)
    for option, text in (optional or {}).items():
        parser.add_argument(option, help=text)
    if protos:
        parser.add_argument("--proto-dir", required=True)
        parser.add_argument("--import-root", action="append", default=[])
        parser.add_argument("--protoc", default="protoc")
        parser.add_argument("--grpc-python-plugin",
                            default=shutil.which("grpc_python_plugin") or "grpc_python_plugin")
    module_globals["ARGS"], rest = parser.parse_known_args()
    return rest


def unittest_passed(rest):
    """Runs the tests of __main__ (`rest`: unittest's arguments); true if at least one ran and
    all passed."""
    program = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    return program.result.wasSuccessful() and program.result.testsRun > 0


def passed_then_stopped(rest, process, stopped_line=None):
    """Runs the tests (unittest_passed), then stops `process` with SIGTERM: true if they passed
    and it exited 0 (having logged `stopped_line`, if given); says how it stopped."""
    try:
        ok = unittest_passed(rest)
    finally:
        code = process.terminate()
    name = os.path.basename(process.argv[0])
    if code != 0 or (stopped_line is not None and stopped_line not in process.log()):
        print("%s did not stop cleanly on SIGTERM (exit %s):\n%s" % (name, code, process.log()))
        return False
    print("%s stopped cleanly on SIGTERM" % name)
    return ok


def run_tests(module_globals, pve_mock=True, gateway=True, protos=None, required=()):
    """The main() of a test module run by ctest: parses the binaries' (and, with the gateway
    unless `protos` says otherwise, the protos') paths and the `required` options into the
    module's ARGS, runs its tests and answers the exit status (1 unless at least one test ran
    and all passed). Unknown arguments go to unittest (e.g. a test name)."""
    options = (["--pve-mock"] if pve_mock else []) + (["--gateway"] if gateway else [])
    rest = parse_args(module_globals, options + list(required),
                      protos=gateway if protos is None else protos)
    return 0 if unittest_passed(rest) else 1
