"""Helpers for the end-to-end tests that drive the real binaries (pve-mock, pve-gateway).

Every server binds 127.0.0.1 port 0 and reports its address on its start-up line; every
wait has a deadline. Mock state lives in a private directory under /dev/shm.
"""
import argparse
import http.client
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
        import json
        return json.loads(body)["data"]

    def raw(self, payload, timeout=10, tls=None):
        """Sends raw bytes on a fresh connection; returns everything read until close/timeout."""
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        if tls if tls is not None else self.scheme == "https":
            sock = self.ssl_context().wrap_socket(sock, server_hostname="localhost")
        try:
            if payload:
                sock.sendall(payload)
            chunks = []
            while True:
                try:
                    chunk = sock.recv(65536)
                except (socket.timeout, ConnectionResetError, ssl.SSLError):
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
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


def generate_stubs(protoc, grpc_python_plugin, proto_dir, import_roots, out_dir):
    """Python stubs for the generated API protos, by protoc and grpc_python_plugin."""
    import glob
    roots = [proto_dir] + list(import_roots)
    api = sorted(os.path.relpath(p, proto_dir)
                 for p in glob.glob(os.path.join(proto_dir, "proxmox/ve/v1/*.proto")))
    support = ["proxmox/gateway/v1/options.proto", "google/api/annotations.proto",
               "google/api/http.proto"]
    cmd = [protoc] + ["-I" + r for r in roots] + [
        "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
        "--plugin=protoc-gen-grpc_python=" + grpc_python_plugin] + api + support
    subprocess.run(cmd, check=True)


def run_tests(module_globals, pve_mock=True, gateway=True):
    """The main() of a test module run by ctest: parses the binaries' and protos' paths into
    the module's ARGS, runs its tests and answers the exit status (1 unless at least one test
    ran and all passed). Unknown arguments go to unittest (e.g. a test name)."""
    parser = argparse.ArgumentParser(description=module_globals.get("__doc__"))
    if pve_mock:
        parser.add_argument("--pve-mock", required=True)
    if gateway:
        parser.add_argument("--gateway", required=True)
        parser.add_argument("--proto-dir", required=True)
        parser.add_argument("--import-root", action="append", default=[])
        parser.add_argument("--protoc", required=True)
        parser.add_argument("--grpc-python-plugin", required=True)
    module_globals["ARGS"], rest = parser.parse_known_args()
    program = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    return 0 if program.result.wasSuccessful() and program.result.testsRun > 0 else 1
