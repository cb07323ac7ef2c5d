"""bench/soak.sh in miniature: both modes end with their table and no failed call, and an
interrupted run stops what it started and removes its state from /dev/shm."""
import glob
import os
import re
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import pvetest  # noqa: E402

ARGS = None
TINY = {"CALLS": "600", "READS_PER_ROUND": "150", "CREATES_PER_ROUND": "3",
        "WATCH_STREAMS": "2", "SAMPLE_SECONDS": "1", "MAX_SECONDS": "60"}


# Each run of this test gets a base directory of its own (STATE_BASE), so that other soak
# runs on the machine cannot look like state this one left behind.
BASE = None


def soak_dirs():
    return set(glob.glob(os.path.join(BASE, "pvegw-soak-*")))


class SoakScriptTest(unittest.TestCase):
    def test_tiny_soak_in_both_modes(self):
        before = soak_dirs()
        proc = subprocess.run([ARGS.soak, ARGS.bin],
                              env=dict(os.environ, STATE_BASE=BASE, **TINY),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        for mode in ("mock", "real"):
            m = re.search(r"### %s mode: (\d+) calls in \d+ s \(\d+ rounds\), (\d+) failed" % mode,
                          proc.stdout)
            self.assertIsNotNone(m, proc.stdout)
            self.assertGreaterEqual(int(m.group(1)), 600)
            self.assertEqual(int(m.group(2)), 0, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r"\| last \| \d+ \| \d+ \| [0-9.]+ \| \d+ \| \d+ \|")
        self.assertEqual(soak_dirs() - before, set())

    def test_interrupted_soak_cleans_up(self):
        before = soak_dirs()
        proc = subprocess.Popen([ARGS.soak, ARGS.bin],
                                env=dict(os.environ, CALLS="100000000", MODES="mock",
                                         STATE_BASE=BASE),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            # Its gateway is up once the start-up line is in the state directory's log.
            def gateway_address():
                for d in soak_dirs() - before:
                    try:
                        with open(os.path.join(d, "gw-mock.log")) as f:
                            m = pvetest.GATEWAY_LINE.search(f.read())
                    except OSError:
                        continue
                    if m:
                        return m.group(1)
                return None
            address = pvetest.wait_until(gateway_address, timeout=30, what="soak's gateway")
            # Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
            os.killpg(proc.pid, signal.SIGINT)
            # 130, or 1 when the interrupted command's failure ends the script first.
            self.assertIn(proc.wait(timeout=30), (1, 130))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.assertEqual(soak_dirs() - before, set())
        host, port = address.split(":")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=5).close()


if __name__ == "__main__":
    BASE = tempfile.mkdtemp(prefix="pvegw-soaktest-", dir="/dev/shm")
    try:
        code = pvetest.run_tests(globals(), pve_mock=False, gateway=False,
                                 required=["--soak", "--bin"])
        left = os.listdir(BASE)
    finally:
        shutil.rmtree(BASE, ignore_errors=True)
    sys.exit(code if not left else 1)
