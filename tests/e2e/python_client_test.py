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
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402

ARGS = None
GATEWAY = None


def start_pve_mock(state_dir):
    """pve-mock on the namespace, plus an API token; returns (process, real-mode environment)."""
    mock = pvetest.PveMock(ARGS.pve_mock, state_dir, "python", ["--reset"],
                           env={"PVE_MOCK_ROOT_PASSWORD": "py-root"})
    _, headers = mock.login_headers(password="py-root")
    return mock, mock.real_mode_env("root@pam!py", mock.create_token(headers, "py"))


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import grpc
        from proxmox.ve.v1 import nodes_pb2, nodes_pb2_grpc
        cls.grpc = grpc
        cls.pb = nodes_pb2
        cls.nodes = GATEWAY.stubs(cls.addClassCleanup, nodes_pb2_grpc.NodesStub)

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
    global GATEWAY
    rest = pvetest.parse_args(
        globals(), ["--gateway"],
        {"--pve-mock": "run the gateway in real mode against this pve-mock binary"}, protos=True)
    state = pvetest.StateDir()
    try:
        pvetest.load_stubs(ARGS, state.path)
        mock, real_env = start_pve_mock(state.path) if ARGS.pve_mock else (None, None)
        gateway = GATEWAY = pvetest.Gateway(ARGS.gateway, state.path, "python", env=real_env)
        try:
            # SIGTERM: a clean shutdown within the grace period, exit status 0.
            return 0 if pvetest.passed_then_stopped(rest, gateway, "pve-gateway stopped") else 1
        finally:
            if mock is not None:
                mock.terminate()
    finally:
        state.cleanup()


if __name__ == "__main__":
    sys.exit(main())
