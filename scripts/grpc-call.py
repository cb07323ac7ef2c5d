#!/usr/bin/python3
"""A grpcurl-style client for pve-gateway from Debian's Python packages, through the server's
reflection service (no .proto files needed):

  grpc-call.py HOST:PORT list                      # the services
  grpc-call.py HOST:PORT describe SERVICE|METHOD   # a service's methods, a method's types
  grpc-call.py HOST:PORT SERVICE/METHOD [-d JSON] [-H 'authorization: Bearer TOKEN']

Answers print as JSON (proto3 JSON mapping, JSON names: Proxmox's own); a streaming method
prints one object per message. An error prints `CODE: message` and exits 1. Plaintext, unless
--cacert names the PEM CA of a TLS listener. Needs protoc, python3-grpcio, python3-protobuf.
"""
import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

REFLECTION_PROTO_ROOT = "/usr/share/grpc-proto"  # Debian's grpc-proto
REFLECTION_METHOD = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
TIMEOUT_S = 30


def reflection_module():
    """reflection_pb2, compiled from grpc-proto's reflection.proto (Debian's python3-grpcio
    ships no grpc_reflection package)."""
    out = tempfile.mkdtemp(prefix="grpc-call-")
    subprocess.run(["protoc", "-I" + REFLECTION_PROTO_ROOT, "--python_out=" + out,
                    "grpc/reflection/v1alpha/reflection.proto"], check=True)
    # Loaded from its file: the package path grpc.reflection would collide with grpc's own.
    path = os.path.join(out, "grpc/reflection/v1alpha/reflection_pb2.py")
    spec = importlib.util.spec_from_file_location("reflection_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shutil.rmtree(out)
    return module


class Reflection:
    def __init__(self, channel, metadata):
        self.pb = reflection_module()
        self.call = channel.stream_stream(
            REFLECTION_METHOD, request_serializer=self.pb.ServerReflectionRequest.SerializeToString,
            response_deserializer=self.pb.ServerReflectionResponse.FromString)
        self.metadata = metadata
        self.pool = descriptor_pool.DescriptorPool()
        self.files = {}
        self.added = set()

    def ask(self, **request):
        answer = next(self.call(iter([self.pb.ServerReflectionRequest(**request)]),
                                metadata=self.metadata, timeout=TIMEOUT_S))
        if answer.HasField("error_response"):
            raise SystemExit("reflection: %s" % answer.error_response.error_message)
        return answer

    def services(self):
        return sorted(s.name for s in self.ask(list_services="").list_services_response.service)

    def load(self, symbol=None, filename=None):
        """Adds the file defining `symbol` (or named `filename`) and every file it imports to
        the pool."""
        answer = self.ask(file_containing_symbol=symbol) if symbol else \
            self.ask(file_by_filename=filename)
        new = []
        for raw in answer.file_descriptor_response.file_descriptor_proto:
            f = descriptor_pb2.FileDescriptorProto.FromString(raw)
            if f.name not in self.files:
                self.files[f.name] = f
                new.append(f)
        for f in new:
            for dep in f.dependency:
                if dep not in self.files:
                    self.load(filename=dep)
        progress = True
        while progress:  # each file after the files it imports
            progress = False
            for name, f in self.files.items():
                if name not in self.added and all(d in self.added for d in f.dependency):
                    self.pool.Add(f)
                    self.added.add(name)
                    progress = True

    def comments(self, method):
        """The method's leading comment as `// ` lines, when the server sent source info."""
        f = self.files[method.containing_service.file.name]
        path = [6, method.containing_service.index, 2, method.index]  # service, method
        for loc in f.source_code_info.location:
            if list(loc.path) == path and loc.leading_comments:
                return "".join("//%s\n" % l for l in loc.leading_comments.rstrip().split("\n"))
        return ""

    def is_service(self, name):
        return name in self.services()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("address")
    parser.add_argument("what", help="list, describe, or SERVICE/METHOD")
    parser.add_argument("symbol", nargs="?")
    parser.add_argument("-d", dest="data", default="{}", help="the request as JSON")
    parser.add_argument("-H", dest="headers", action="append", default=[],
                        help="metadata 'name: value' (repeatable)")
    parser.add_argument("--cacert", help="PEM CA file: call over TLS")
    args = parser.parse_args()

    metadata = [tuple(x.strip() for x in h.split(":", 1)) for h in args.headers]
    if args.cacert:
        with open(args.cacert, "rb") as f:
            channel = grpc.secure_channel(args.address, grpc.ssl_channel_credentials(f.read()))
    else:
        channel = grpc.insecure_channel(args.address)
    reflection = Reflection(channel, metadata)
    try:
        if args.what == "list":
            print("\n".join(reflection.services()))
            return 0
        if args.what == "describe":
            name = args.symbol
            if reflection.is_service(name):
                reflection.load(symbol=name)
                service = reflection.pool.FindServiceByName(name)
                print("%s is a service:" % name)
                for m in service.methods:
                    print("  rpc %s ( %s ) returns ( %s )" % (m.name, m.input_type.full_name,
                                                              m.output_type.full_name))
                return 0
            service_name, _, method_name = name.rpartition(".")
            reflection.load(symbol=service_name)
            m = reflection.pool.FindServiceByName(service_name).methods_by_name.get(method_name)
            if m is None:
                raise SystemExit("%s is neither a service nor a method" % name)
            print("%s is a method:" % name)
            print(reflection.comments(m), end="")
            print("rpc %s ( .%s ) returns ( .%s )" % (m.name, m.input_type.full_name,
                                                      m.output_type.full_name))
            return 0
        service_name, _, method_name = args.what.partition("/")
        reflection.load(symbol=service_name)
        method = reflection.pool.FindServiceByName(service_name).methods_by_name.get(method_name)
        if method is None:
            raise SystemExit("%s has no method %r" % (service_name, method_name))
        factory = message_factory.MessageFactory(reflection.pool)
        request_type = factory.GetPrototype(method.input_type)
        response_type = factory.GetPrototype(method.output_type)
        try:
            request = json_format.Parse(args.data, request_type())
        except json_format.ParseError as e:
            raise SystemExit("-d: %s" % e)
        path = "/%s/%s" % (service_name, method_name)
        proto = descriptor_pb2.MethodDescriptorProto()
        method.CopyToProto(proto)
        if proto.client_streaming:
            raise SystemExit("client-streaming methods are not supported")
        server_streaming = proto.server_streaming
        call = (channel.unary_stream if server_streaming else channel.unary_unary)(
            path, request_serializer=request_type.SerializeToString,
            response_deserializer=response_type.FromString)
        answers = call(request, metadata=metadata, timeout=None if server_streaming else TIMEOUT_S)
        for answer in (answers if server_streaming else [answers]):
            print(json_format.MessageToJson(answer, indent=2))
        return 0
    except grpc.RpcError as e:
        print("%s: %s" % (e.code().name, e.details()), file=sys.stderr)
        return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into head
        sys.exit(0)
