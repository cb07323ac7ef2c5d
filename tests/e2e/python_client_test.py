#!/usr/bin/python3
"""A Python client of pve-gateway, built only from the generated .proto files.

Generates stubs with protoc and grpc_python_plugin, starts the real pve-gateway binary in
mock mode on 127.0.0.1 (a free port, a private state directory), then lists nodes,
creates, reads and deletes a VM. Proves the protos work for polyglot clients. With
--pve-mock, the gateway runs in real mode against that pve-mock binary over HTTPS (API
token, pinned certificate) and the same client must see the same behaviour.

Run by ctest; by hand:
  /usr/bin/python3 tests/e2e/python_client_test.py --gateway build/bin/pve-gateway \
      --proto-dir build/gen/proto --import-root proto \
      --import-root /usr/share/gocode/src/github.com/gogo/googleapis --import-root /usr/include
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None
STUBS = None
GATEWAY = None
ADDRESS = None


def generate_stubs(out_dir):
    roots = [ARGS.proto_dir] + ARGS.import_root
    api = sorted(os.path.relpath(p, ARGS.proto_dir)
                 for p in glob.glob(os.path.join(ARGS.proto_dir, "proxmox/ve/v1/*.proto")))
    support = ["proxmox/gateway/v1/options.proto", "google/api/annotations.proto", "google/api/http.proto"]
    cmd = [ARGS.protoc] + ["-I" + r for r in roots] + [
        "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
        "--plugin=protoc-gen-grpc_python=" + ARGS.grpc_python_plugin] + api + support
    subprocess.run(cmd, check=True)


def start_pve_mock(state_dir):
    """pve-mock on the namespace, plus an API token; returns (process, real-mode environment)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import json
    import pvetest
    mock = pvetest.PveMock(ARGS.pve_mock, state_dir, "python", ["--reset"],
                           env={"PVE_MOCK_ROOT_PASSWORD": "py-root"})
    auth = mock.login(password="py-root")
    headers = {"Cookie": "PVEAuthCookie=" + auth["ticket"],
               "CSRFPreventionToken": auth["CSRFPreventionToken"]}
    status, reason, _, body = mock.request("POST", "/access/users/root@pam/token/py",
                                           {"privsep": 0}, headers=headers)
    if status != 200:
        raise RuntimeError("cannot create a token: %d %s" % (status, reason))
    env = {"PROXMOX_API_MODE": "real", "PROXMOX_API_URL": "https://127.0.0.1:%d" % mock.port,
           "PROXMOX_API_TLS_FINGERPRINT": mock.fingerprint, "PROXMOX_API_TOKEN_ID": "root@pam!py",
           "PROXMOX_API_TOKEN_SECRET": json.loads(body)["data"]["value"]}
    return mock, env


def start_gateway(state_dir, extra_env=None):
    env = dict(os.environ, PROXMOX_MOCK_STATE_DIR=state_dir, PROXMOX_MOCK_STATE_NAMESPACE="python")
    env.update(extra_env or {})
    proc = subprocess.Popen([ARGS.gateway, "--listen=127.0.0.1:0"], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        match = re.search(r"listen=(127\.0\.0\.1:\d+)", line)
        if match:
            return proc, match.group(1)
    proc.kill()
    raise RuntimeError("pve-gateway did not report its address")


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import grpc
        from proxmox.ve.v1 import nodes_pb2, nodes_pb2_grpc
        cls.grpc = grpc
        cls.pb = nodes_pb2
        cls.channel = grpc.insecure_channel(ADDRESS)
        cls.nodes = nodes_pb2_grpc.NodesStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def test_lists_nodes(self):
        reply = self.nodes.GetNodes(self.pb.GetNodesRequest(), timeout=10)
        self.assertEqual(sorted(n.node for n in reply.data), ["pve1", "pve2"])
        self.assertTrue(all(n.status == "online" for n in reply.data))

    def test_vm_create_read_delete(self):
        upid = self.nodes.PostNodesNodeQemu(
            self.pb.PostNodesNodeQemuRequest(node="pve1", vmid=170, name="from-python", memory="1024",
                                             cores=2, net={0: "virtio,bridge=vmbr0"}),
            timeout=10).data
        self.assertRegex(upid, r"^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmcreate:170:root@pam(!py)?:$")
        listed = self.nodes.GetNodesNodeQemu(self.pb.GetNodesNodeQemuRequest(node="pve1"), timeout=10)
        self.assertIn(170, [vm.vmid for vm in listed.data])
        config = self.nodes.GetNodesNodeQemuVmidConfig(
            self.pb.GetNodesNodeQemuVmidConfigRequest(node="pve1", vmid=170), timeout=10).data
        self.assertEqual(config.name, "from-python")
        self.assertEqual(config.cores, 2)
        # Stored as Proxmox stores a NIC: with a MAC of its prefix BC:24:11.
        self.assertRegex(config.net[0], r"^virtio=BC:24:11(:[0-9A-F]{2}){3},bridge=vmbr0$")
        self.assertTrue(config.HasField("memory"))
        self.assertFalse(config.HasField("sockets"), "unset keys stay unset")
        self.nodes.DeleteNodesNodeQemuVmid(self.pb.DeleteNodesNodeQemuVmidRequest(node="pve1", vmid=170), timeout=10)
        with self.assertRaises(self.grpc.RpcError) as err:
            self.nodes.GetNodesNodeQemuVmidConfig(
                self.pb.GetNodesNodeQemuVmidConfigRequest(node="pve1", vmid=170), timeout=10)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.NOT_FOUND)
        self.assertIn("does not exist", err.exception.details())

    def test_invalid_arguments_are_reported_by_proxmox_name(self):
        with self.assertRaises(self.grpc.RpcError) as err:
            self.nodes.PostNodesNodeQemu(self.pb.PostNodesNodeQemuRequest(node="pve1", vmid=5), timeout=10)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("vmid: value must have a minimum value of 100", err.exception.details())


def main():
    global ARGS, STUBS, GATEWAY, ADDRESS
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--import-root", action="append", default=[])
    parser.add_argument("--protoc", default="protoc")
    parser.add_argument("--grpc-python-plugin", default=shutil.which("grpc_python_plugin") or "grpc_python_plugin")
    parser.add_argument("--pve-mock", help="run the gateway in real mode against this pve-mock binary")
    ARGS, rest = parser.parse_known_args()
    work = tempfile.mkdtemp(prefix="pvegw-python-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        STUBS = os.path.join(work, "stubs")
        os.makedirs(STUBS)
        generate_stubs(STUBS)
        sys.path.insert(0, STUBS)
        mock, real_env = start_pve_mock(work) if ARGS.pve_mock else (None, None)
        GATEWAY, ADDRESS = start_gateway(work, real_env)
        try:
            program = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
            ok = program.result.wasSuccessful() and program.result.testsRun > 0
        finally:
            # SIGTERM: a clean shutdown within the grace period, exit status 0.
            GATEWAY.terminate()
            rest_of_log = GATEWAY.stderr.read()
            code = GATEWAY.wait(timeout=30)
            if mock is not None:
                mock.terminate()
        if code != 0 or "pve-gateway stopped" not in rest_of_log:
            print("pve-gateway did not stop cleanly on SIGTERM (exit %s):\n%s" % (code, rest_of_log))
            ok = False
        else:
            print("pve-gateway stopped cleanly on SIGTERM")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
