// --health_listen: a second port with nothing but gRPC health, so the kubelet's native
// probes work while the API listens on loopback only (the sidecar deployment).
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>

#include <future>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_util.h"

namespace pvegw::e2e {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

TestGatewayOptions WithHealthPort() {
  TestGatewayOptions options;
  options.health_listen = "127.0.0.1:0";
  return options;
}

class HealthListenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(gw_.ok()) << gw_.start_error();
    ASSERT_NE(gw_.server().health_port(), 0);
    ASSERT_NE(gw_.server().health_port(), gw_.server().port());
    health_channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", gw_.server().health_port()),
                                          grpc::InsecureChannelCredentials());
  }
  HealthCheckResponse::ServingStatus Check(const std::shared_ptr<grpc::Channel>& channel,
                                           const std::string& service,
                                           grpc::StatusCode* code = nullptr) {
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    HealthCheckRequest req;
    req.set_service(service);
    HealthCheckResponse resp;
    grpc::Status st = stub->Check(&ctx, req, &resp);
    if (code != nullptr) *code = st.error_code();
    return st.ok() ? resp.status() : HealthCheckResponse::UNKNOWN;
  }

  GatewayFixture gw_{WithHealthPort()};
  std::shared_ptr<grpc::Channel> health_channel_;
};

TEST_F(HealthListenTest, ServesTheSameHealthAsTheApiPort) {
  for (const char* service :
       {"", "proxmox.ve.v1.Nodes", "proxmox.gateway.v1.Gateway", gateway::kUpstreamHealthService}) {
    EXPECT_EQ(Check(health_channel_, service), HealthCheckResponse::SERVING) << service;
    EXPECT_EQ(Check(gw_.channel(), service), HealthCheckResponse::SERVING) << service;
  }
  grpc::StatusCode code;
  Check(health_channel_, "no.such.Service", &code);
  EXPECT_EQ(code, grpc::StatusCode::NOT_FOUND);
}

TEST_F(HealthListenTest, ServesNothingButHealth) {
  grpc::GenericStub stub(health_channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), reply;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/proxmox.ve.v1.Nodes/GetNodes", grpc::StubOptions(), &request, &reply,
                 [&](grpc::Status st) { done.set_value(std::move(st)); });
  EXPECT_EQ(done.get_future().get().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(HealthListenTest, ServiceStatusAndShutdownReachBothPorts) {
  const std::string upstream = gateway::kUpstreamHealthService;
  gw_.server().SetServingStatus(upstream, false);
  EXPECT_EQ(Check(health_channel_, upstream), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(gw_.channel(), upstream), HealthCheckResponse::NOT_SERVING);
  gw_.server().SetServingStatus(upstream, true);
  EXPECT_EQ(Check(health_channel_, upstream), HealthCheckResponse::SERVING);

  gw_.server().BeginShutdown();
  EXPECT_EQ(Check(health_channel_, ""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(gw_.channel(), ""), HealthCheckResponse::NOT_SERVING);
}

TEST(HealthListenStartTest, UnusableAddressIsAStartError) {
  TestGatewayOptions options;
  options.health_listen = "not-an-address";
  GatewayFixture gw(options);
  ASSERT_FALSE(gw.ok());
  EXPECT_THAT(gw.start_error(), ::testing::HasSubstr("not-an-address for health"));
}

}  // namespace
}  // namespace pvegw::e2e
