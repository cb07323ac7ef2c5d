#include "tests/e2e/e2e_util.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace pvegw::e2e {

ScratchDir::ScratchDir() {
  std::string templ = "/dev/shm/pvegw-e2e-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp";
  path_ = templ;
}
ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ClientApi::ClientApi() {
  std::ifstream in(PVEGW_API_DESCRIPTORS, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  google::protobuf::FileDescriptorSet set;
  EXPECT_TRUE(set.ParseFromString(buffer.str()));
  for (const auto& f : set.file()) EXPECT_NE(pool_.BuildFile(f), nullptr) << f.name();
}

const google::protobuf::MethodDescriptor* ClientApi::Method(const std::string& name) const {
  const auto* m = pool_.FindMethodByName("proxmox.ve.v1." + name);
  EXPECT_NE(m, nullptr) << name;
  return m;
}

std::unique_ptr<google::protobuf::Message> ClientApi::New(
    const google::protobuf::Descriptor* d) const {
  return std::unique_ptr<google::protobuf::Message>(factory_.GetPrototype(d)->New());
}

absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> StartGateway(
    const TestGatewayOptions& options) {
  if (options.mode != "mock" && options.mode != "real") {
    return absl::InvalidArgumentError(
        absl::StrCat("mode '", options.mode, "' is not one of: mock, real"));
  }
  return gateway::GatewayServer::Start(
      options,
      [options](std::shared_ptr<const api::ApiIndex> api)
          -> absl::StatusOr<std::unique_ptr<gateway::Backend>> {
        if (options.mode == "mock") {
          return gateway::MockModeBackend::Create(std::move(api), options.mock);
        }
        auto real = gateway::upstream::UpstreamBackend::Create(options.upstream);
        if (!real.ok()) return real.status();
        return std::unique_ptr<gateway::Backend>(*std::move(real));
      });
}

GatewayFixture::GatewayFixture(TestGatewayOptions options,
                               std::unique_ptr<gateway::Backend> backend) {
  options.listen = "127.0.0.1:0";
  options.mock.store.dir = dir_.path();
  options.mock.store.ns = "e2e";
  auto server = backend != nullptr ? gateway::GatewayServer::Start(options, std::move(backend))
                                   : StartGateway(options);
  if (!server.ok()) {
    error_ = std::string(server.status().message());
    return;
  }
  server_ = std::move(*server);
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                 grpc::InsecureChannelCredentials());
  stub_ = std::make_unique<grpc::GenericStub>(channel_);
}

GatewayFixture::~GatewayFixture() {
  if (server_ != nullptr) server_->Shutdown();
}

grpc::Status GatewayFixture::CallRaw(const std::string& full_method, const std::string& bytes,
                                     std::string* response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer reply;
  std::promise<grpc::Status> done;
  stub_->UnaryCall(&ctx, full_method, grpc::StubOptions(), &request, &reply,
                   [&](grpc::Status st) { done.set_value(std::move(st)); });
  grpc::Status st = done.get_future().get();
  if (st.ok() && response != nullptr) {
    std::vector<grpc::Slice> slices;
    (void)reply.Dump(&slices);
    response->clear();
    for (const auto& s : slices)
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return st;
}

CallResult GatewayFixture::Call(const std::string& method, const std::string& request_json) {
  CallResult result;
  const auto* m = api_.Method(method);
  if (m == nullptr) {
    result.status = grpc::Status(grpc::StatusCode::INTERNAL, "test: no such method");
    return result;
  }
  auto request = api_.New(m->input_type());
  auto parsed = google::protobuf::util::JsonStringToMessage(request_json, request.get());
  EXPECT_TRUE(parsed.ok()) << method << ": " << parsed.ToString();
  std::string bytes;
  const std::string full = absl::StrCat("/", m->service()->full_name(), "/", m->name());
  result.status = CallRaw(full, request->SerializeAsString(), &bytes);
  if (result.status.ok()) {
    auto response = api_.New(m->output_type());
    EXPECT_TRUE(response->ParseFromString(bytes));
    (void)google::protobuf::util::MessageToJsonString(*response, &result.json);
  }
  return result;
}

}  // namespace pvegw::e2e
