#!/usr/bin/python3
"""Runs one client example (examples/python, examples/go or examples/node) against the real
pve-gateway binary in mock mode and checks what it printed and the world it left.

The gateway gets a private state directory, its own namespace, 127.0.0.1 port 0, 1.5 s tasks
and a fast poll schedule. The example must list the nodes, create the next free VM and follow
its task to OK with every log line once and in order, read its config, see ALREADY_EXISTS
with Proxmox's text and INVALID_ARGUMENT with a BadRequest detail, delete the VM and wait for
that task; afterwards the VM must be gone and both tasks stopped OK. Then the same example,
pointed at the stopped gateway, must fail with a non-zero exit status.

Run by ctest (tests/examples/CMakeLists.txt); by hand:
  /usr/bin/python3 tests/examples/examples_test.py --language go --gateway build/bin/pve-gateway \\
      --stubs build/examples/python/gen -- build/bin/pvegw-example-go
"""
import argparse
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import pvetest  # noqa: E402

ARGS = None
COMMAND = None
RUN_TIMEOUT = 60  # seconds one run of an example may take

# How each language prints a gRPC code (Go: codes.Code.String()).
CODE_NAMES = {
    "ALREADY_EXISTS": "AlreadyExists", "INVALID_ARGUMENT": "InvalidArgument",
    "NOT_FOUND": "NotFound", "UNAVAILABLE": "Unavailable",
}


def code(name):
    return CODE_NAMES[name] if ARGS.language == "go" else name


def run_example(address):
    env = dict(os.environ, PVE_GATEWAY_ADDRESS=address, PYTHONPATH=ARGS.stubs)
    return subprocess.run(COMMAND, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)


class ExampleTest(unittest.TestCase):
    def setUp(self):
        import grpc
        from proxmox.gateway.v1 import tasks_pb2, tasks_pb2_grpc
        from proxmox.ve.v1 import cluster_pb2, cluster_pb2_grpc, nodes_pb2, nodes_pb2_grpc
        self.grpc, self.nodes_pb, self.cluster_pb, self.tasks_pb = grpc, nodes_pb2, cluster_pb2, tasks_pb2
        self.state = pvetest.StateDir()
        self.addCleanup(self.state.cleanup)
        namespace = "examples-%s-%d" % (ARGS.language, os.getpid())
        self.gateway = pvetest.Gateway(ARGS.gateway, self.state.path, namespace,
                                       args=["--task_poll_initial_ms=50", "--task_poll_max_ms=200"],
                                       env={"PROXMOX_MOCK_TASK_DURATION_MS": "1500"})
        self.addCleanup(self.gateway.kill)
        self.nodes, self.cluster, self.tasks = self.gateway.stubs(
            self.addCleanup, nodes_pb2_grpc.NodesStub, cluster_pb2_grpc.ClusterStub,
            tasks_pb2_grpc.TasksStub)

    def guests(self):
        return {node: sorted(vm.vmid for vm in self.nodes.GetNodesNodeQemu(
                    self.nodes_pb.GetNodesNodeQemuRequest(node=node), timeout=10).data)
                for node in ("pve1", "pve2")}

    def test_vm_lifecycle(self):
        before = self.guests()
        vmid = self.cluster.GetClusterNextid(self.cluster_pb.GetClusterNextidRequest(), timeout=10).data

        result = run_example(self.gateway.address)
        out = result.stdout
        self.assertEqual(result.returncode, 0, "stdout:\n%s\nstderr:\n%s\ngateway log:\n%s" %
                         (out, result.stderr, self.gateway.log()))
        lines = out.splitlines()

        def line(pattern):
            matches = [m for m in (re.fullmatch(pattern, l) for l in lines) if m]
            self.assertEqual(len(matches), 1, "one line matching %r in:\n%s" % (pattern, out))
            return matches[0]

        line(r"nodes: pve1 \(online\), pve2 \(online\)")
        self.assertEqual(int(line(r"next free vmid: (\d+)").group(1)), vmid)
        create_upid = line(r"create VM %d on pve1: (UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:"
                           r"qmcreate:%d:root@pam:)" % (vmid, vmid)).group(1)

        # The create task followed with WatchTask: running events, then every log line once
        # and in order, then the final status.
        start = lines.index(line(r"create VM \d+ on .*").group(0))
        # The NIC was sent without a MAC: the mock fills one in with Proxmox's prefix, as a
        # real host does (qemu-server add_random_macs).
        end = lines.index(line(r"config of VM %d: name=example-%s memory=512 cores=1 "
                               r"net0=virtio=BC:24:11(:[0-9A-F]{2}){3},bridge=vmbr0"
                               % (vmid, ARGS.language)).group(0))
        watched = lines[start + 1:end]
        # The VM was created with a typed NIC and disk; the answer's typed companions show them.
        self.assertEqual(lines[end + 1], "typed config of VM %d: net0 model=virtio bridge=vmbr0, scsi0 size=8G"
                         % vmid, out)
        self.assertEqual(watched[0], "  task running", out)
        self.assertEqual(watched[-1], "  task stopped: OK (succeeded)", out)
        log = [re.fullmatch(r"  log (\d+): (.*)", l) for l in watched if l.startswith("  log ")]
        self.assertEqual([int(m.group(1)) for m in log], list(range(1, len(log) + 1)), out)
        self.assertGreaterEqual(len(log), 2, out)
        self.assertEqual(log[-1].group(2), "TASK OK")
        self.assertTrue(all(l == "  task running" or l.startswith("  log ") for l in watched[:-1]), out)

        line(r"%s: unable to create VM %d - VM %d already exists on node 'pve1'"
             % (code("ALREADY_EXISTS"), vmid, vmid))
        line(r"%s: Parameter verification failed\. vmid: value must have a minimum value of 100"
             % code("INVALID_ARGUMENT"))
        line(r"  BadRequest: vmid: value must have a minimum value of 100")
        delete_upid = line(r"delete VM %d: (UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmdestroy:%d:root@pam:)"
                           % (vmid, vmid)).group(1)
        self.assertEqual(lines[lines.index(line(r"delete VM .*").group(0)) + 1], "  task stopped: OK (succeeded)")
        line(r"%s: Configuration file 'nodes/pve1/qemu-server/%d.conf' does not exist" % (code("NOT_FOUND"), vmid))
        self.assertEqual(result.stderr, "", "nothing on stderr")

        # The world afterwards: the VM is gone, both tasks stopped OK, nothing else changed.
        with self.assertRaises(self.grpc.RpcError) as err:
            self.nodes.GetNodesNodeQemuVmidConfig(
                self.nodes_pb.GetNodesNodeQemuVmidConfigRequest(node="pve1", vmid=vmid), timeout=10)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.NOT_FOUND)
        self.assertEqual(self.guests(), before)
        for upid in (create_upid, delete_upid):
            done = self.tasks.WaitTask(self.tasks_pb.WaitTaskRequest(upid=upid), timeout=10)
            self.assertEqual((done.status, done.exitstatus, done.succeeded), ("stopped", "OK", True), upid)
        self.assertEqual(self.cluster.GetClusterNextid(self.cluster_pb.GetClusterNextidRequest(), timeout=10).data,
                         vmid)

        # An unexpected failure (no gateway any more) is a non-zero exit status.
        address = self.gateway.address
        self.assertEqual(self.gateway.terminate(), 0, self.gateway.log())
        failed = run_example(address)
        self.assertNotEqual(failed.returncode, 0, failed.stdout)
        self.assertIn("unexpected error: " + code("UNAVAILABLE"), failed.stderr)


def main():
    global ARGS, COMMAND
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("usage: examples_test.py --language L --gateway BIN --stubs DIR -- COMMAND...")
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--language", required=True, choices=["python", "go", "node"])
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--stubs", required=True, help="Python stubs (build/examples/python/gen)")
    ARGS = parser.parse_args(argv[:split])
    COMMAND = argv[split + 1:]
    sys.path.insert(0, ARGS.stubs)
    return 0 if pvetest.unittest_passed([]) else 1


if __name__ == "__main__":
    sys.exit(main())
