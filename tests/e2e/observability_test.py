#!/usr/bin/python3
"""pve-gateway as users run it: settings from PROXMOX_CONFIG_FILE under the environment and
flags, JSON log lines (parsed here), request ids, quiet cancellations, secrets kept out of
the logs, and clear exit-2 errors for bad configuration files.

Usage: observability_test.py --gateway build/bin/pve-gateway [unittest arguments]
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import grpc

GATEWAY = None
WAIT_S = 30
SECRET = "tok-secret-" + uuid.uuid4().hex


class Gateway:
    """A pve-gateway process whose stderr is collected line by line."""

    def __init__(self, args=(), env=None, config=None, mode=0o600):
        self.dir = tempfile.mkdtemp(prefix="pvegw-obs-", dir="/dev/shm")
        self.lines = []
        self.cond = threading.Condition()
        run_env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PVE_GATEWAY_", "PROXMOX_"))}
        run_env["PROXMOX_MOCK_STATE_DIR"] = self.dir
        if config is not None:
            path = os.path.join(self.dir, "gateway.yaml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(config)
            os.chmod(path, mode)
            run_env["PROXMOX_CONFIG_FILE"] = path
        run_env.update(env or {})
        self.proc = subprocess.Popen([GATEWAY] + list(args), env=run_env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, predicate, what):
        deadline = time.monotonic() + WAIT_S
        with self.cond:
            while True:
                for line in self.lines:
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError(f"no log line {what}; got:\n" + "\n".join(self.lines))
                self.cond.wait(left)

    def json_lines(self):
        with self.cond:
            return [json.loads(line) for line in self.lines]

    def wait_json(self, predicate, what):
        def match(line):
            try:
                obj = json.loads(line)
            except ValueError:
                return False
            return predicate(obj)
        return json.loads(self.wait_line(match, what))

    def address(self):
        line = self.wait_line(lambda l: "serving mode=" in l, "with the start-up summary")
        return re.search(r"listen=(\S+)", line).group(1)

    def exit_code(self):
        self.proc.wait(timeout=WAIT_S)
        self.reader.join(timeout=WAIT_S)
        return self.proc.returncode

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.exit_code()
        shutil.rmtree(self.dir, ignore_errors=True)
        return code


def config(ns, extra=""):
    return ("listen: 127.0.0.1:0\n"
            "log_format: json\n"
            "log_level: warn\n"
            f"mock_state_namespace: {ns}\n"
            "api_token_id: 'gw@pve!grpc'\n"
            f"api_token_secret: {SECRET}\n" + extra)


class ConfigFileAndJsonLogs(unittest.TestCase):
    def setUp(self):
        self.ns = "obs-" + uuid.uuid4().hex[:12]
        # The file says warn; the environment (above the file) says debug; the flag (above
        # both) names another namespace than the file.
        self.gw = Gateway(args=[f"--mock_namespace={self.ns}-flag"],
                          env={"PVE_GATEWAY_LOG_LEVEL": "debug"}, config=config(self.ns))
        self.addCleanup(self.gw.stop)  # also when setUp fails after this
        self.channel = grpc.insecure_channel(self.gw.address())

    def tearDown(self):
        self.channel.close()
        self.assertEqual(self.gw.stop(), 0)
        everything = "\n".join(self.gw.lines)
        self.assertNotIn(SECRET, everything, "a secret reached the log")

    def call(self, method, body=b"", metadata=None, timeout=10):
        rpc = self.channel.unary_unary(method)
        return rpc.with_call(body, metadata=metadata, timeout=timeout)

    def test_every_line_is_a_json_object_and_precedence_holds(self):
        start = self.gw.wait_json(lambda o: "serving mode=" in o.get("message", ""),
                                  "start-up summary")
        self.assertEqual(start["level"], "info")
        self.assertRegex(start["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertIn(f"namespace={self.ns}-flag", start["message"], "flag over file")
        self.assertIn("config=", start["message"])
        # debug lines exist: the environment's level won over the file's.
        self.call("/proxmox.ve.v1.Version/GetVersion")
        self.gw.wait_json(lambda o: o.get("level") == "debug", "at debug level")
        for obj in self.gw.json_lines():
            self.assertTrue({"time", "level", "message"} <= set(obj), obj)

    def test_request_id_from_the_caller_is_logged_and_echoed(self):
        _, call = self.call("/proxmox.ve.v1.Nodes/GetNodes",
                            metadata=[("x-request-id", "req-42.a")])
        self.assertIn(("x-request-id", "req-42.a"), call.initial_metadata())
        line = self.gw.wait_json(lambda o: o.get("request_id") == "req-42.a", "with req-42.a")
        self.assertEqual(line["method"], "/proxmox.ve.v1.Nodes/GetNodes")
        self.assertEqual(line["code"], "OK")
        self.assertEqual(line["level"], "debug")
        self.assertIsInstance(line["latency_ms"], (int, float))

    def test_generated_request_id_when_missing_or_unusable(self):
        for metadata in (None, [("x-request-id", "bad id with spaces")],
                         [("x-request-id", "x" * 200)]):
            _, call = self.call("/proxmox.ve.v1.Version/GetVersion", metadata=metadata)
            ids = [v for k, v in call.initial_metadata() if k == "x-request-id"]
            self.assertEqual(len(ids), 1)
            self.assertRegex(ids[0], r"^[0-9a-f]{32}$")
            self.gw.wait_json(lambda o, i=ids[0]: o.get("request_id") == i, f"with {ids[0]}")

    def test_failed_call_is_a_warning_with_code_and_error(self):
        with self.assertRaises(grpc.RpcError) as err:
            self.call("/proxmox.ve.v1.Nodes/GetNodesNodeQemu",
                      metadata=[("x-request-id", "req-fail")])
        self.assertEqual(err.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        line = self.gw.wait_json(lambda o: o.get("request_id") == "req-fail", "for req-fail")
        self.assertEqual(line["level"], "warning")
        self.assertEqual(line["code"], "INVALID_ARGUMENT")
        self.assertIn("node", line["error"])

    def test_cancelled_and_expired_calls_are_debug_not_warnings(self):
        stuck = threading.Event()

        def never():  # the request message never comes
            stuck.wait(WAIT_S)
            return
            yield b""

        rpc = self.channel.stream_unary("/proxmox.ve.v1.Nodes/GetNodes")
        cancel = rpc.future(never(), metadata=[("x-request-id", "req-cancel")])
        expire = rpc.future(never(), timeout=1.0, metadata=[("x-request-id", "req-deadline")])
        # Both calls' headers went out before this call's on the same connection: once it is
        # answered, the gateway holds both, waiting for request messages.
        self.call("/proxmox.ve.v1.Version/GetVersion")
        cancel.cancel()
        cancelled = self.gw.wait_json(lambda o: o.get("request_id") == "req-cancel",
                                      "for the cancelled call")
        self.assertEqual(expire.exception(timeout=WAIT_S).code(),
                         grpc.StatusCode.DEADLINE_EXCEEDED)
        expired = self.gw.wait_json(lambda o: o.get("request_id") == "req-deadline",
                                    "for the expired call")
        stuck.set()
        self.assertEqual((cancelled["level"], cancelled["code"]), ("debug", "CANCELLED"))
        self.assertEqual((expired["level"], expired["code"]), ("debug", "DEADLINE_EXCEEDED"))
        for obj in self.gw.json_lines():
            self.assertNotIn("no request message arrived", json.dumps(obj))
            self.assertNotEqual(obj.get("level"), "warning", obj)


class BadConfigFiles(unittest.TestCase):
    def run_gateway(self, text, mode=0o600, args=()):
        gw = Gateway(args=args, config=text, mode=mode)
        self.addCleanup(gw.stop)  # even when an assertion fails first
        return gw

    def test_unknown_key_exits_2_naming_key_and_line(self):
        gw = self.run_gateway("listen: 127.0.0.1:0\nlog_format: json\napi_urll: x\n")
        self.assertEqual(gw.exit_code(), 2)
        text = "\n".join(gw.lines)
        self.assertIn("line 3: unknown key 'api_urll'", text)
        gw.stop()

    def test_json_file_errors_name_the_line_too(self):
        gw = self.run_gateway('{\n  "listen": "127.0.0.1:0",\n  "api_verify": false\n}\n')
        self.assertEqual(gw.exit_code(), 2)
        self.assertIn("line 3: unknown key 'api_verify'", "\n".join(gw.lines))
        gw.stop()

    def test_secret_in_a_readable_file_is_refused_or_warned_about(self):
        ns = "obs-" + uuid.uuid4().hex[:12]
        refused = self.run_gateway(config(ns), mode=0o644)
        self.assertEqual(refused.exit_code(), 2)
        text = "\n".join(refused.lines)
        self.assertIn("holds api_token_secret but group or others can access it", text)
        self.assertIn("chmod 600", text)
        self.assertNotIn(SECRET, text)
        refused.stop()

        allowed = Gateway(args=["--allow_insecure_config_file_permissions", "--log_level=info"],
                          config=config(ns), mode=0o644)
        self.addCleanup(allowed.stop)
        warning = allowed.wait_json(lambda o: "group or others" in o.get("message", ""),
                                    "warning about the file")
        self.assertEqual(warning["level"], "warning")
        allowed.address()
        self.assertEqual(allowed.stop(), 0)
        self.assertNotIn(SECRET, "\n".join(allowed.lines))

    def test_bad_log_format_exits_2(self):
        gw = Gateway(args=["--log_format=xml", "--listen=127.0.0.1:0"])
        self.addCleanup(gw.stop)
        self.assertEqual(gw.exit_code(), 2)
        self.assertIn("log format 'xml' is not one of: text, json", "\n".join(gw.lines))
        gw.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    args, rest = parser.parse_known_args()
    GATEWAY = args.gateway
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
