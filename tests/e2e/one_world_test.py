#!/usr/bin/python3
"""One world: pve-gateway (mock mode) and pve-mock on one namespace see the same state.

A VM created over gRPC is visible over REST; deleted over REST, it is gone over gRPC.
Both real binaries, stubs generated from the protos like any Python client would.

Run by ctest (see tests/e2e/CMakeLists.txt for the arguments).
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402

ARGS = None


class OneWorldTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pvetest.mock_for_class(cls, ARGS.pve_mock, "oneworld", ["--reset", "--plain_http"], "ow")
        pvetest.load_stubs(ARGS, cls.state.path)
        import grpc
        from proxmox.ve.v1 import nodes_pb2, nodes_pb2_grpc
        cls.grpc, cls.pb = grpc, nodes_pb2
        cls.gateway = pvetest.Gateway(ARGS.gateway, cls.state.path, "oneworld")
        cls.addClassCleanup(pvetest.stop, cls.gateway)
        cls.nodes = cls.gateway.stubs(cls.addClassCleanup, nodes_pb2_grpc.NodesStub)
        _, cls.headers = cls.mock.login_headers(password="ow")

    def rest(self, method, path, params=None):
        status, reason, _, body = self.mock.request(method, path, params, headers=self.headers)
        return status, reason, json.loads(body) if body else None

    def test_created_over_grpc_deleted_over_rest(self):
        self.nodes.PostNodesNodeQemu(self.pb.PostNodesNodeQemuRequest(
            node="pve1", vmid=460, name="one-world", memory="1024", net={0: "virtio,bridge=vmbr0"}), timeout=10)
        status, _, body = self.rest("GET", "/nodes/pve1/qemu/460/config")
        self.assertEqual(status, 200)
        self.assertEqual(body["data"]["name"], "one-world")
        self.assertIn(460, [vm["vmid"] for vm in self.rest("GET", "/nodes/pve1/qemu")[2]["data"]])

        status, _, body = self.rest("DELETE", "/nodes/pve1/qemu/460")
        self.assertEqual(status, 200)
        self.assertTrue(body["data"].startswith("UPID:pve1:"))
        with self.assertRaises(self.grpc.RpcError) as err:
            self.nodes.GetNodesNodeQemuVmidConfig(
                self.pb.GetNodesNodeQemuVmidConfigRequest(node="pve1", vmid=460), timeout=10)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.NOT_FOUND)
        listed = self.nodes.GetNodesNodeQemu(self.pb.GetNodesNodeQemuRequest(node="pve1"), timeout=10)
        self.assertNotIn(460, [vm.vmid for vm in listed.data])

    def test_created_over_rest_read_over_grpc(self):
        status, _, _ = self.rest("POST", "/nodes/pve2/qemu", {"vmid": 461, "name": "from-rest", "cores": 3})
        self.assertEqual(status, 200)
        config = self.nodes.GetNodesNodeQemuVmidConfig(
            self.pb.GetNodesNodeQemuVmidConfigRequest(node="pve2", vmid=461), timeout=10).data
        self.assertEqual((config.name, config.cores), ("from-rest", 3))
        # Both sides refuse the same duplicate with the same words.
        status, reason, _ = self.rest("POST", "/nodes/pve1/qemu", {"vmid": 461})
        with self.assertRaises(self.grpc.RpcError) as err:
            self.nodes.PostNodesNodeQemu(self.pb.PostNodesNodeQemuRequest(node="pve1", vmid=461), timeout=10)
        self.assertEqual(status, 500)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.ALREADY_EXISTS)
        self.assertEqual(err.exception.details(), reason)


if __name__ == "__main__":
    sys.exit(pvetest.run_tests(globals()))
