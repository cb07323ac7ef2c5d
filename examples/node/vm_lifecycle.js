#!/usr/bin/env node
// A VM's life through pve-gateway, from Node.js.
//
// Lists the nodes, asks for a free VMID, creates a VM and follows its task with
// proxmox.gateway.v1.Tasks/WatchTask, reads the VM's configuration, shows how errors arrive
// (a duplicate VMID is ALREADY_EXISTS with Proxmox's text; a bad parameter is
// INVALID_ARGUMENT with a google.rpc.BadRequest detail), then deletes the VM and waits for
// that task with WaitTask.
//
// @grpc/proto-loader reads the .proto files at run time: the generated API protos
// (build/gen/proto), the project's proto/ and the googleapis and protobuf import roots.
// Against a gateway in mock mode, from the repository root:
//
//   scripts/run.sh &
//   node examples/node/vm_lifecycle.js --address 127.0.0.1:50051
'use strict';

const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const CALL_TIMEOUT_MS = 30 * 1000;
const TASK_TIMEOUT_MS = 10 * 60 * 1000;

const repo = path.resolve(__dirname, '..', '..');
const DEFAULT_PROTO_PATH = [
  path.join(repo, 'build', 'gen', 'proto'), // the generated API
  path.join(repo, 'proto'), // proxmox/gateway/v1: options, tasks
  '/usr/share/gocode/src/github.com/gogo/googleapis', // google/api, google/rpc
  '/usr/include', // google/protobuf
].join(path.delimiter);

const { values: args } = parseArgs({
  options: {
    address: { type: 'string', default: process.env.PVE_GATEWAY_ADDRESS || '127.0.0.1:50051' },
    'proto-path': { type: 'string', default: process.env.PVEGW_PROTO_PATH || DEFAULT_PROTO_PATH },
    node: { type: 'string' },
    vmid: { type: 'string' },
  },
});
const includeDirs = args['proto-path'].split(path.delimiter);

const definition = protoLoader.loadSync(
  ['proxmox/ve/v1/nodes.proto', 'proxmox/ve/v1/cluster.proto', 'proxmox/gateway/v1/tasks.proto'],
  { includeDirs, keepCase: true, longs: String, enums: String, defaults: false, oneofs: true });
const api = grpc.loadPackageDefinition(definition);

// google.rpc.Status and its detail types, to read the details an error carries.
const rpcTypes = new protobuf.Root();
rpcTypes.resolvePath = (origin, target) => {
  for (const dir of includeDirs) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  return target;
};
rpcTypes.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
const Status = rpcTypes.lookupType('google.rpc.Status');

// Promisified unary call with a deadline.
function unary(client, method, request, timeoutMs = CALL_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutMs }, (err, reply) =>
      err ? reject(err) : resolve(reply));
  });
}

// `CODE: message`, then one line per google.rpc error detail.
function describeError(err) {
  const lines = [`${grpc.status[err.code]}: ${err.details}`];
  for (const raw of err.metadata ? err.metadata.get('grpc-status-details-bin') : []) {
    for (const detail of Status.decode(raw).details) {
      const typeName = detail.type_url.slice(detail.type_url.lastIndexOf('/') + 1);
      const type = rpcTypes.lookupType(typeName);
      const message = type.decode(detail.value);
      if (typeName === 'google.rpc.BadRequest') {
        for (const v of message.field_violations) lines.push(`  BadRequest: ${v.field}: ${v.description}`);
      } else {
        lines.push(`  ${typeName}: ${JSON.stringify(type.toObject(message))}`);
      }
    }
  }
  return lines.join('\n');
}

async function expectError(code, promise) {
  try {
    await promise;
  } catch (err) {
    console.log(describeError(err));
    if (err.code !== code) throw err;
    return;
  }
  throw new Error(`expected ${grpc.status[code]}, the call succeeded`);
}

function printFinal(event) {
  console.log(`  task ${event.status}: ${event.exitstatus} (${event.succeeded ? 'succeeded' : 'failed'})`);
}

// Prints the task's events and log lines until it stops; resolves to the final event.
async function followTask(tasks, upid) {
  const stream = tasks.WatchTask({ upid, include_log: true }, { deadline: Date.now() + TASK_TIMEOUT_MS });
  let final = null;
  for await (const event of stream) { // the stream ends after the final event
    if (!event.final) console.log(`  task ${event.status}`);
    for (const line of event.log || []) console.log(`  log ${line.n}: ${line.t}`);
    if (event.final) final = event;
  }
  if (!final) throw new Error('the stream ended without a final event');
  printFinal(final);
  return final;
}

async function main() {
  const credentials = grpc.credentials.createInsecure();
  const nodes = new api.proxmox.ve.v1.Nodes(args.address, credentials);
  const cluster = new api.proxmox.ve.v1.Cluster(args.address, credentials);
  const tasks = new api.proxmox.gateway.v1.Tasks(args.address, credentials);
  try {
    const listed = (await unary(nodes, 'GetNodes', {})).data;
    console.log('nodes: ' + listed.map((n) => `${n.node} (${n.status})`).join(', '));
    const node = args.node || listed.find((n) => n.status === 'online').node;

    const vmid = args.vmid ? Number(args.vmid) : Number((await unary(cluster, 'GetClusterNextid', {})).data);
    console.log(`next free vmid: ${vmid}`);

    // The NIC and the disk as typed messages; the gateway prints them as Proxmox property
    // strings ("virtio,bridge=vmbr0", "local-lvm:8"). The raw net/scsi maps work too.
    const create = {
      node, vmid, name: 'example-node', memory: '512', cores: 1,
      net_typed: { 0: { model: 'virtio', bridge: 'vmbr0' } },
      scsi_typed: { 0: { file: 'local-lvm:8' } },
    };
    let upid = (await unary(nodes, 'PostNodesNodeQemu', create)).data;
    console.log(`create VM ${vmid} on ${node}: ${upid}`);
    if (!(await followTask(tasks, upid)).succeeded) return 1;

    const config = (await unary(nodes, 'GetNodesNodeQemuVmidConfig', { node, vmid })).data;
    console.log(`config of VM ${vmid}: name=${config.name} memory=${config.memory} ` +
                `cores=${config.cores} net0=${config.net[0]}`);
    // Answers carry both the raw string and its typed companion.
    console.log(`typed config of VM ${vmid}: net0 model=${config.net_typed[0].model} ` +
                `bridge=${config.net_typed[0].bridge}, scsi0 size=${config.scsi_typed[0].size}`);

    console.log(`create VM ${vmid} again:`);
    await expectError(grpc.status.ALREADY_EXISTS, unary(nodes, 'PostNodesNodeQemu', create));
    console.log('create VM 5:');
    await expectError(grpc.status.INVALID_ARGUMENT, unary(nodes, 'PostNodesNodeQemu', { node, vmid: 5 }));

    upid = (await unary(nodes, 'DeleteNodesNodeQemuVmid', { node, vmid })).data;
    console.log(`delete VM ${vmid}: ${upid}`);
    const done = await unary(tasks, 'WaitTask', { upid }, TASK_TIMEOUT_MS);
    printFinal(done);
    if (!done.succeeded) return 1;

    console.log(`VM ${vmid} afterwards:`);
    await expectError(grpc.status.NOT_FOUND, unary(nodes, 'GetNodesNodeQemuVmidConfig', { node, vmid }));
    return 0;
  } finally {
    for (const client of [nodes, cluster, tasks]) client.close();
  }
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => {
    console.error('unexpected error: ' + (err.code !== undefined ? describeError(err) : err.stack));
    process.exitCode = 1;
  });
