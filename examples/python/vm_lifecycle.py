#!/usr/bin/python3
"""A VM's life through pve-gateway, from Python.

Lists the nodes, asks for a free VMID, creates a VM with a typed NIC and disk and follows its
task with proxmox.gateway.v1.Tasks/WatchTask, reads the VM's configuration (raw and typed),
shows how errors arrive (a duplicate VMID is ALREADY_EXISTS with Proxmox's text; a bad
parameter is INVALID_ARGUMENT with a google.rpc.BadRequest detail), then deletes the VM and
waits for that task with WaitTask.

The stubs are generated from the protos by protoc and grpc_python_plugin (the build puts them
in build/examples/python/gen; see docs/api.md "Client examples"). Run against a gateway in mock mode:

  scripts/run.sh &
  PYTHONPATH=build/examples/python/gen /usr/bin/python3 examples/python/vm_lifecycle.py
"""
import argparse
import os
import sys

import grpc

from google.rpc import error_details_pb2, status_pb2
from proxmox.gateway.v1 import tasks_pb2, tasks_pb2_grpc
from proxmox.ve.v1 import cluster_pb2, cluster_pb2_grpc, nodes_pb2, nodes_pb2_grpc, property_strings_pb2

TIMEOUT = 30  # seconds, for every unary call
TASK_TIMEOUT = 600  # seconds a task may take


def describe_error(err):
    """`CODE: message`, then one line per google.rpc error detail the server attached."""
    lines = ["%s: %s" % (err.code().name, err.details())]
    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            bad_request = error_details_pb2.BadRequest()
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(bad_request):
                for violation in bad_request.field_violations:
                    lines.append("  BadRequest: %s: %s" % (violation.field, violation.description))
            elif detail.Unpack(info):
                lines.append("  ErrorInfo: %s %s %s" % (info.reason, info.domain, dict(info.metadata)))
            else:
                lines.append("  detail: %s" % detail.type_url)
    return "\n".join(lines)


def follow_task(tasks, upid):
    """Prints the task's events and log lines until it stops; returns the final event."""
    final = None
    request = tasks_pb2.WatchTaskRequest(upid=upid, include_log=True)
    for event in tasks.WatchTask(request, timeout=TASK_TIMEOUT):  # ends after the final event
        if not event.final:
            print("  task %s" % event.status)
        for line in event.log:
            print("  log %d: %s" % (line.n, line.t))
        if event.final:
            final = event
    print("  task %s: %s (%s)" % (final.status, final.exitstatus,
                                  "succeeded" if final.succeeded else "failed"))
    return final


def expect_error(code, call, *args, **kwargs):
    """Runs a call that must fail with `code`; prints how the error arrived."""
    try:
        call(*args, **kwargs)
    except grpc.RpcError as err:
        print(describe_error(err))
        if err.code() != code:
            raise
        return
    raise RuntimeError("expected %s, the call succeeded" % code.name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=os.environ.get("PVE_GATEWAY_ADDRESS", "127.0.0.1:50051"),
                        help="pve-gateway's address (env PVE_GATEWAY_ADDRESS; default %(default)s)")
    parser.add_argument("--node", help="node to create the VM on (default: the first online node)")
    parser.add_argument("--vmid", type=int, help="VMID to use (default: the next free one)")
    args = parser.parse_args()

    with grpc.insecure_channel(args.address) as channel:
        nodes = nodes_pb2_grpc.NodesStub(channel)
        cluster = cluster_pb2_grpc.ClusterStub(channel)
        tasks = tasks_pb2_grpc.TasksStub(channel)

        listed = nodes.GetNodes(nodes_pb2.GetNodesRequest(), timeout=TIMEOUT).data
        print("nodes: " + ", ".join("%s (%s)" % (n.node, n.status) for n in listed))
        node = args.node or next(n.node for n in listed if n.status == "online")

        vmid = args.vmid or cluster.GetClusterNextid(cluster_pb2.GetClusterNextidRequest(), timeout=TIMEOUT).data
        print("next free vmid: %d" % vmid)

        # The NIC and the disk as typed messages; the gateway prints them as Proxmox property
        # strings ("virtio,bridge=vmbr0", "local-lvm:8"). The raw `net`/`scsi` maps work too.
        create = nodes_pb2.PostNodesNodeQemuRequest(
            node=node, vmid=vmid, name="example-python", memory="512", cores=1,
            net_typed={0: property_strings_pb2.QemuNet(model="virtio", bridge="vmbr0")},
            scsi_typed={0: property_strings_pb2.QemuScsi(file="local-lvm:8")})
        upid = nodes.PostNodesNodeQemu(create, timeout=TIMEOUT).data
        print("create VM %d on %s: %s" % (vmid, node, upid))
        if not follow_task(tasks, upid).succeeded:
            return 1

        config = nodes.GetNodesNodeQemuVmidConfig(
            nodes_pb2.GetNodesNodeQemuVmidConfigRequest(node=node, vmid=vmid), timeout=TIMEOUT).data
        print("config of VM %d: name=%s memory=%s cores=%d net0=%s" %
              (vmid, config.name, config.memory, config.cores, config.net[0]))
        # Answers carry both the raw string and its typed companion.
        print("typed config of VM %d: net0 model=%s bridge=%s, scsi0 size=%s" %
              (vmid, config.net_typed[0].model, config.net_typed[0].bridge, config.scsi_typed[0].size))

        print("create VM %d again:" % vmid)
        expect_error(grpc.StatusCode.ALREADY_EXISTS, nodes.PostNodesNodeQemu, create, timeout=TIMEOUT)
        print("create VM 5:")
        expect_error(grpc.StatusCode.INVALID_ARGUMENT, nodes.PostNodesNodeQemu,
                     nodes_pb2.PostNodesNodeQemuRequest(node=node, vmid=5), timeout=TIMEOUT)

        upid = nodes.DeleteNodesNodeQemuVmid(
            nodes_pb2.DeleteNodesNodeQemuVmidRequest(node=node, vmid=vmid), timeout=TIMEOUT).data
        print("delete VM %d: %s" % (vmid, upid))
        done = tasks.WaitTask(tasks_pb2.WaitTaskRequest(upid=upid), timeout=TASK_TIMEOUT)
        print("  task %s: %s (%s)" % (done.status, done.exitstatus, "succeeded" if done.succeeded else "failed"))
        if not done.succeeded:
            return 1

        print("VM %d afterwards:" % vmid)
        expect_error(grpc.StatusCode.NOT_FOUND, nodes.GetNodesNodeQemuVmidConfig,
                     nodes_pb2.GetNodesNodeQemuVmidConfigRequest(node=node, vmid=vmid), timeout=TIMEOUT)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as err:
        print("unexpected error: " + describe_error(err), file=sys.stderr)
        sys.exit(1)
