// An in-process pve-gateway on 127.0.0.1:0 and a client that speaks to it with dynamic
// messages built from the API descriptors, as any generic client does.
#ifndef PVEGW_TESTS_E2E_E2E_UTIL_H_
#define PVEGW_TESTS_E2E_E2E_UTIL_H_

#include <google/protobuf/dynamic_message.h>
#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <memory>
#include <string>

#include "gateway/gateway_server.h"
#include "gateway/mock_mode_backend.h"
#include "gateway/upstream/upstream_backend.h"

namespace pvegw::e2e {

class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The API as a client sees it: descriptors from the build's descriptor set.
class ClientApi {
 public:
  ClientApi();
  const google::protobuf::MethodDescriptor* Method(const std::string& service_dot_method) const;
  std::unique_ptr<google::protobuf::Message> New(const google::protobuf::Descriptor* d) const;
  const google::protobuf::DescriptorPool& pool() const { return pool_; }

 private:
  google::protobuf::DescriptorPool pool_;
  mutable google::protobuf::DynamicMessageFactory factory_{&pool_};
};

struct CallResult {
  grpc::Status status;
  std::string json;  // response as JSON (Proxmox spellings), when OK
};

// A gateway as pve-gateway's main() wires it: mock mode (a private mock world) or real
// mode, with the server's own options beside.
struct TestGatewayOptions : gateway::GatewayOptions {
  std::string mode = "mock";
  gateway::MockOptions mock;
  gateway::upstream::UpstreamOptions upstream;
};

// GatewayServer::Start with the backend `options.mode` names (mock or real).
absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> StartGateway(
    const TestGatewayOptions& options);

class GatewayFixture {
 public:
  // `backend` replaces the one options.mode would create (e.g. canned Proxmox answers).
  explicit GatewayFixture(TestGatewayOptions options = {},
                          std::unique_ptr<gateway::Backend> backend = nullptr);
  ~GatewayFixture();
  bool ok() const { return server_ != nullptr; }
  const std::string& start_error() const { return error_; }
  gateway::GatewayServer& server() { return *server_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  const ClientApi& api() const { return api_; }

  // "Nodes.GetNodesNodeQemu" with a JSON request (json_name spellings).
  CallResult Call(const std::string& method, const std::string& request_json);
  // Raw bytes to any method name.
  grpc::Status CallRaw(const std::string& full_method, const std::string& bytes,
                       std::string* response);

 private:
  ScratchDir dir_;
  ClientApi api_;
  std::unique_ptr<gateway::GatewayServer> server_;
  std::string error_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

}  // namespace pvegw::e2e

#endif  // PVEGW_TESTS_E2E_E2E_UTIL_H_
