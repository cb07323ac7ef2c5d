// Command vm-lifecycle walks a VM through its life via pve-gateway, from Go.
//
// It lists the nodes, asks for a free VMID, creates a VM and follows its task with
// proxmox.gateway.v1.Tasks/WatchTask, reads the VM's configuration, shows how errors arrive
// (a duplicate VMID is ALREADY_EXISTS with Proxmox's text; a bad parameter is
// INVALID_ARGUMENT with a google.rpc.BadRequest detail), then deletes the VM and waits for
// that task with WaitTask.
//
// The Go packages are generated from the protos by protoc-gen-go and protoc-gen-go-grpc, with
// the import paths given on protoc's command line (--go_opt=Mproxmox/ve/v1/nodes.proto=...),
// so the .proto files need no go_package option; see docs/api.md "Client examples". Against a gateway in
// mock mode:
//
//	scripts/run.sh &
//	build/bin/pvegw-example-go -address 127.0.0.1:50051
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatewayv1 "pvegw.example/proxmox/gateway/v1"
	pvev1 "pvegw.example/proxmox/ve/v1"
)

const (
	callTimeout = 30 * time.Second // every unary call
	taskTimeout = 10 * time.Minute // how long a task may take
)

type client struct {
	nodes   pvev1.NodesClient
	cluster pvev1.ClusterClient
	tasks   gatewayv1.TasksClient
}

// describeError prints `Code: message`, then one line per google.rpc error detail.
func describeError(w io.Writer, err error) {
	st, _ := status.FromError(err)
	fmt.Fprintf(w, "%s: %s\n", st.Code(), st.Message())
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fmt.Fprintf(w, "  BadRequest: %s: %s\n", v.GetField(), v.GetDescription())
			}
		case *errdetails.ErrorInfo:
			fmt.Fprintf(w, "  ErrorInfo: %s %s %v\n", d.GetReason(), d.GetDomain(), d.GetMetadata())
		default:
			fmt.Fprintf(w, "  detail: %v\n", d)
		}
	}
}

// expectError reports how an error arrived; it fails unless the error has the wanted code.
func expectError(want codes.Code, err error) error {
	if err == nil {
		return fmt.Errorf("expected %s, the call succeeded", want)
	}
	describeError(os.Stdout, err)
	if status.Code(err) != want {
		return err
	}
	return nil
}

func printFinal(ev *gatewayv1.TaskEvent) {
	result := "failed"
	if ev.Succeeded {
		result = "succeeded"
	}
	fmt.Printf("  task %s: %s (%s)\n", ev.Status, ev.Exitstatus, result)
}

// followTask prints the task's events and log lines until it stops; returns the final event.
func (c *client) followTask(ctx context.Context, upid string) (*gatewayv1.TaskEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, taskTimeout)
	defer cancel()
	stream, err := c.tasks.WatchTask(ctx, &gatewayv1.WatchTaskRequest{Upid: upid, IncludeLog: true})
	if err != nil {
		return nil, err
	}
	var final *gatewayv1.TaskEvent
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			break // after the final event
		}
		if err != nil {
			return nil, err // NotFound, DeadlineExceeded, Unavailable...
		}
		if !ev.Final {
			fmt.Printf("  task %s\n", ev.Status)
		}
		for _, l := range ev.Log {
			fmt.Printf("  log %d: %s\n", l.N, l.T)
		}
		if ev.Final {
			final = ev
		}
	}
	if final == nil {
		return nil, errors.New("the stream ended without a final event")
	}
	printFinal(final)
	return final, nil
}

func run(address, node string, vmid int) error {
	// Plaintext, as the gateway listens on loopback by default. gRPC-Go 1.34 and later spell
	// it grpc.WithTransportCredentials(insecure.NewCredentials()); for a gateway serving TLS
	// use credentials.NewClientTLSFromFile.
	conn, err := grpc.Dial(address, grpc.WithInsecure())
	if err != nil {
		return err
	}
	defer conn.Close()
	c := &client{pvev1.NewNodesClient(conn), pvev1.NewClusterClient(conn), gatewayv1.NewTasksClient(conn)}
	ctx := context.Background()
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, callTimeout) }

	cctx, cancel := call()
	listed, err := c.nodes.GetNodes(cctx, &pvev1.GetNodesRequest{})
	cancel()
	if err != nil {
		return err
	}
	var names []string
	for _, n := range listed.Data {
		names = append(names, fmt.Sprintf("%s (%s)", n.GetNode(), n.GetStatus()))
		if node == "" && n.GetStatus() == "online" {
			node = n.GetNode()
		}
	}
	fmt.Println("nodes: " + strings.Join(names, ", "))
	if node == "" {
		return errors.New("no online node")
	}

	if vmid == 0 {
		cctx, cancel = call()
		next, err := c.cluster.GetClusterNextid(cctx, &pvev1.GetClusterNextidRequest{})
		cancel()
		if err != nil {
			return err
		}
		vmid = int(next.GetData())
	}
	fmt.Printf("next free vmid: %d\n", vmid)

	create := &pvev1.PostNodesNodeQemuRequest{
		Node:   proto.String(node),
		Vmid:   proto.Int32(int32(vmid)),
		Name:   proto.String("example-go"),
		Memory: proto.String("512"),
		Cores:  proto.Int64(1),
		// The NIC and the disk as typed messages; the gateway prints them as Proxmox property
		// strings ("virtio,bridge=vmbr0", "local-lvm:8"). The raw Net/Scsi maps work too.
		NetTyped:  map[uint32]*pvev1.QemuNet{0: {Model: proto.String("virtio"), Bridge: proto.String("vmbr0")}},
		ScsiTyped: map[uint32]*pvev1.QemuScsi{0: {File: proto.String("local-lvm:8")}},
	}
	cctx, cancel = call()
	created, err := c.nodes.PostNodesNodeQemu(cctx, create)
	cancel()
	if err != nil {
		return err
	}
	fmt.Printf("create VM %d on %s: %s\n", vmid, node, created.GetData())
	final, err := c.followTask(ctx, created.GetData())
	if err != nil {
		return err
	}
	if !final.Succeeded {
		return fmt.Errorf("create failed: %s", final.Exitstatus)
	}

	cctx, cancel = call()
	config, err := c.nodes.GetNodesNodeQemuVmidConfig(cctx,
		&pvev1.GetNodesNodeQemuVmidConfigRequest{Node: proto.String(node), Vmid: proto.Int32(int32(vmid))})
	cancel()
	if err != nil {
		return err
	}
	d := config.GetData()
	fmt.Printf("config of VM %d: name=%s memory=%s cores=%d net0=%s\n",
		vmid, d.GetName(), d.GetMemory(), d.GetCores(), d.GetNet()[0])
	// Answers carry both the raw string and its typed companion.
	fmt.Printf("typed config of VM %d: net0 model=%s bridge=%s, scsi0 size=%s\n",
		vmid, d.GetNetTyped()[0].GetModel(), d.GetNetTyped()[0].GetBridge(), d.GetScsiTyped()[0].GetSize())

	fmt.Printf("create VM %d again:\n", vmid)
	cctx, cancel = call()
	_, err = c.nodes.PostNodesNodeQemu(cctx, create)
	cancel()
	if err := expectError(codes.AlreadyExists, err); err != nil {
		return err
	}
	fmt.Println("create VM 5:")
	cctx, cancel = call()
	_, err = c.nodes.PostNodesNodeQemu(cctx,
		&pvev1.PostNodesNodeQemuRequest{Node: proto.String(node), Vmid: proto.Int32(5)})
	cancel()
	if err := expectError(codes.InvalidArgument, err); err != nil {
		return err
	}

	cctx, cancel = call()
	deleted, err := c.nodes.DeleteNodesNodeQemuVmid(cctx,
		&pvev1.DeleteNodesNodeQemuVmidRequest{Node: proto.String(node), Vmid: proto.Int32(int32(vmid))})
	cancel()
	if err != nil {
		return err
	}
	fmt.Printf("delete VM %d: %s\n", vmid, deleted.GetData())
	wctx, cancel := context.WithTimeout(ctx, taskTimeout)
	done, err := c.tasks.WaitTask(wctx, &gatewayv1.WaitTaskRequest{Upid: deleted.GetData()})
	cancel()
	if err != nil {
		return err
	}
	printFinal(done)
	if !done.Succeeded {
		return fmt.Errorf("delete failed: %s", done.Exitstatus)
	}

	fmt.Printf("VM %d afterwards:\n", vmid)
	cctx, cancel = call()
	_, err = c.nodes.GetNodesNodeQemuVmidConfig(cctx,
		&pvev1.GetNodesNodeQemuVmidConfigRequest{Node: proto.String(node), Vmid: proto.Int32(int32(vmid))})
	cancel()
	return expectError(codes.NotFound, err)
}

func main() {
	defaultAddress := os.Getenv("PVE_GATEWAY_ADDRESS")
	if defaultAddress == "" {
		defaultAddress = "127.0.0.1:50051"
	}
	address := flag.String("address", defaultAddress, "pve-gateway's address (env PVE_GATEWAY_ADDRESS)")
	node := flag.String("node", "", "node to create the VM on (default: the first online node)")
	vmid := flag.Int("vmid", 0, "VMID to use (default: the next free one)")
	flag.Parse()
	if err := run(*address, *node, *vmid); err != nil {
		fmt.Fprint(os.Stderr, "unexpected error: ")
		if _, ok := status.FromError(err); ok {
			describeError(os.Stderr, err)
		} else {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
}
