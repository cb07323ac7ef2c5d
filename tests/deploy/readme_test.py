#!/usr/bin/python3
"""The README's sessions, run: every `$ scripts/grpc-call.py ...` command of "A session in
mock mode" (and of docs/api.md's "A session") against a fresh pve-gateway in mock mode (its
shown output lines must appear in order; `...` marks cuts), and the lines of "Real mode in five lines" with a started pve-mock
standing for the Proxmox host (its URL, API token and certificate fingerprint in place of
the placeholders; every other value as written).

Usage: readme_test.py --gateway BIN --pve-mock BIN [unittest arguments]
"""
import os
import re
import shlex
import socket
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import pvetest  # noqa: E402

README_ADDRESS = "127.0.0.1:50051"
CALL_TIMEOUT_S = 60
ROOT_PASSWORD = "readme-test"
ARGS = None


def section_block(title, page="README.md"):
    """The first ```sh block after the heading `title` of `page`, as lines."""
    with open(os.path.join(REPO, page), encoding="utf-8") as f:
        text = f.read()
    start = re.search(r"\n#+ " + re.escape(title) + "\n", text).start()
    m = re.compile(r"```sh\n(.*?)```", re.S).search(text, start)
    return m.group(1).rstrip("\n").split("\n")


def grpc_call(command_line, address):
    """Runs one README grpc-call.py command against `address`: (exit status, output lines)."""
    argv = shlex.split(command_line.replace(README_ADDRESS, address))
    assert argv[0] == "scripts/grpc-call.py", argv
    out = subprocess.run([sys.executable, os.path.join(REPO, argv[0])] + argv[1:],
                         capture_output=True, text=True, timeout=CALL_TIMEOUT_S)
    return out.returncode, (out.stdout + out.stderr).rstrip("\n").split("\n")


class ReadmeSession(unittest.TestCase):
    def setUp(self):
        self.state = pvetest.StateDir()
        self.addCleanup(self.state.cleanup)

    def assertShown(self, shown, actual):
        """Every shown line (but `...`) appears in the actual output, in this order; `...`
        within a line stands for any text."""
        i = 0
        for line in shown:
            if line.strip() == "...":
                continue
            pattern = re.compile(".*".join(re.escape(p) for p in line.rstrip().split("...")))
            while i < len(actual) and not pattern.fullmatch(actual[i].rstrip()):
                i += 1
            self.assertLess(i, len(actual), f"README line {line!r} not in the output (in order):\n"
                            + "\n".join(actual))
            i += 1

    def run_session(self, page, title):
        gateway = pvetest.Gateway(ARGS.gateway, self.state.path, "readme-" + title.split()[-1])
        self.addCleanup(gateway.terminate)
        commands = []
        for line in section_block(title, page):
            if line.startswith("$ "):
                commands.append((line[2:], []))
            elif commands and line:
                commands[-1][1].append(line)
        self.assertGreaterEqual(len(commands), 5)
        for command, shown in commands:
            with self.subTest(command=command):
                code, actual = grpc_call(command, gateway.address)
                failing = bool(re.match(r"[A-Z_]+: ", shown[0]))
                self.assertEqual(code, 1 if failing else 0, "\n".join(actual))
                self.assertShown(shown, actual)

    def test_mock_mode_session(self):
        self.run_session("README.md", "A session in mock mode")

    def test_the_api_pages_session(self):
        self.run_session("docs/api.md", "A session")

    def test_grpc_call_answers_bad_input_with_a_clear_error(self):
        gateway = pvetest.Gateway(ARGS.gateway, self.state.path, "readme-bad-input")
        self.addCleanup(gateway.terminate)
        unused = socket.socket()
        unused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        self.addCleanup(unused.close)
        cases = {
            "proxmox.ve.v1.Nodes/NoSuchMethod": "proxmox.ve.v1.Nodes has no method 'NoSuchMethod'",
            "no.such.Service/Call": "symbol not found: no.such.Service",
            "describe proxmox.ve.v1.Nodes.Nope": "is neither a service nor a method",
            "-d {bad proxmox.ve.v1.Version/GetVersion": "-d: Failed to load JSON",
            "-d '{\"nodex\": 1}' proxmox.ve.v1.Nodes/GetNodesNodeQemu": "has no field named",
        }
        for args, message in cases.items():
            with self.subTest(args=args):
                code, out = grpc_call("scripts/grpc-call.py " + README_ADDRESS + " " + args,
                                      gateway.address)
                self.assertEqual(code, 1, "\n".join(out))
                self.assertIn(message, "\n".join(out))
                self.assertNotIn("Traceback", "\n".join(out))
        code, out = grpc_call("scripts/grpc-call.py " + README_ADDRESS + " list",
                              "127.0.0.1:%d" % unused.getsockname()[1])
        self.assertEqual(code, 1)
        self.assertTrue(out[-1].startswith("UNAVAILABLE: "), out)

    def test_real_mode_in_five_lines(self):
        mock = pvetest.PveMock(ARGS.pve_mock, self.state.path, "readme-upstream",
                               env={"PVE_MOCK_ROOT_PASSWORD": ROOT_PASSWORD})
        self.addCleanup(mock.terminate)
        _, headers = mock.login_headers(password=ROOT_PASSWORD)
        # Only what names the reader's own host is replaced (the mode stays as written).
        host = mock.real_mode_env("root@pam!readme", mock.create_token(headers, "readme"))
        del host["PROXMOX_API_MODE"]
        lines = section_block("Real mode in five lines")
        self.assertLessEqual(len(lines), 5)
        env, gateway = {}, None
        for line in lines:
            words = shlex.split(line, comments=True)
            if words[0] == "export":
                for assignment in words[1:]:
                    name, _, value = assignment.partition("=")
                    env[name] = host.get(name, value)
            elif words[0] == "build/bin/pve-gateway":
                self.assertEqual(set(host) - set(env), set(), "the README sets these")
                self.assertEqual(env.get("PROXMOX_API_MODE"), "real")
                # Port 0 instead of the default 50051, so that the test never collides.
                gateway = pvetest.Gateway(ARGS.gateway, self.state.path, "readme", args=words[1:],
                                          env=env)
                self.addCleanup(gateway.terminate)
                self.assertIn("mode=real", gateway.log())
                self.assertIn("tls=fingerprint-pin", gateway.log())
            else:
                self.assertIsNotNone(gateway, "the gateway starts before the call")
                code, actual = grpc_call(line.split("#")[0], gateway.address)
                self.assertEqual(code, 0, "\n".join(actual))
                self.assertIn('"version"', "\n".join(actual))
        self.assertIsNotNone(gateway)


if __name__ == "__main__":
    sys.exit(pvetest.run_tests(globals(), protos=False))
