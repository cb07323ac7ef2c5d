// Who may call the gateway (DESIGN.md §7): loopback by default; elsewhere TLS, client
// certificates or bearer tokens, unless the network is declared trusted. Both modes.
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <future>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "proxmox/gateway/v1/gateway.grpc.pb.h"
#include "proxmox/gateway/v1/tasks.grpc.pb.h"
#include "tests/e2e/e2e_util.h"
#include "tests/gateway/upstream/test_https_server.h"

namespace pvegw::e2e {
namespace {

using ::pvegw::testing::TestCa;
using ::pvegw::testing::TestCert;
using ::testing::HasSubstr;

std::string Write(const ScratchDir& dir, const std::string& name, const std::string& content) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

grpc::Status GetInfo(std::shared_ptr<grpc::Channel> channel, const std::string& bearer = "") {
  auto stub = proxmox::gateway::v1::Gateway::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!bearer.empty()) ctx.AddMetadata("authorization", "Bearer " + bearer);
  proxmox::gateway::v1::GetInfoResponse info;
  return stub->GetInfo(&ctx, {}, &info);
}

grpc::Status GetNodes(std::shared_ptr<grpc::Channel> channel, const std::string& bearer = "") {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!bearer.empty()) ctx.AddMetadata("authorization", "Bearer " + bearer);
  grpc::Slice slice(std::string{});
  grpc::ByteBuffer in(&slice, 1), out;
  std::promise<grpc::Status> p;
  stub.UnaryCall(&ctx, "/proxmox.ve.v1.Nodes/GetNodes", grpc::StubOptions(), &in, &out,
                 [&](grpc::Status s) { p.set_value(s); });
  return p.get_future().get();
}

// A WatchTask of a task that does not exist: NOT_FOUND once admitted.
grpc::Status WatchTask(std::shared_ptr<grpc::Channel> channel, const std::string& bearer = "") {
  auto stub = proxmox::gateway::v1::Tasks::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!bearer.empty()) ctx.AddMetadata("authorization", "Bearer " + bearer);
  proxmox::gateway::v1::WatchTaskRequest request;
  request.set_upid("UPID:pve1:0000FFFF:0152D4A1:6561F0A0:qmstart:999:root@pam:");
  auto reader = stub->WatchTask(&ctx, request);
  proxmox::gateway::v1::TaskEvent event;
  while (reader->Read(&event)) {
  }
  return reader->Finish();
}

TestGatewayOptions Options(const ScratchDir& dir, const std::string& listen) {
  TestGatewayOptions o;
  o.listen = listen;
  o.mock.store.dir = dir.path();
  o.mock.store.ns = "listener";
  return o;
}

TEST(ListenerSecurityTest, NonLoopbackNeedsTlsOrTokensOrExplicitInsecure) {
  ScratchDir dir;
  for (const char* listen : {"0.0.0.0:0", "[::]:0"}) {
    auto r = StartGateway(Options(dir, listen));
    ASSERT_FALSE(r.ok()) << listen;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(r.status().message(), HasSubstr("--insecure_listen"));
  }
  TestGatewayOptions real = Options(dir, "0.0.0.0:0");
  real.mode = "real";  // refused before any upstream setting is even looked at
  EXPECT_EQ(StartGateway(real).status().code(), absl::StatusCode::kFailedPrecondition);
  TestGatewayOptions o = Options(dir, "0.0.0.0:0");
  o.security.insecure_listen = true;
  auto r = StartGateway(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(gateway::IsLoopbackListen("127.0.0.1:1"));
  EXPECT_TRUE(gateway::IsLoopbackListen("[::1]:1"));
  EXPECT_TRUE(gateway::IsLoopbackListen("localhost:1"));
  EXPECT_FALSE(gateway::IsLoopbackListen("10.0.0.1:1"));
}

TEST(ListenerSecurityTest, BearerTokensAdmitOnlyKnownTokens) {
  ScratchDir dir;
  TestGatewayOptions o = Options(dir, "0.0.0.0:0");
  o.security.auth_tokens_file = Write(dir, "tokens", "# callers\nalpha-token-1\n\nbeta-token-2\n");
  auto r = StartGateway(o);
  ASSERT_TRUE(r.ok()) << r.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*r)->port()),
                                     grpc::InsecureChannelCredentials());
  EXPECT_TRUE(GetNodes(channel, "beta-token-2").ok());
  EXPECT_TRUE(GetInfo(channel, "alpha-token-1").ok());
  EXPECT_EQ(GetNodes(channel).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetNodes(channel, "beta-token").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetInfo(channel, "nope").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(WatchTask(channel, "alpha-token-1").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(WatchTask(channel).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(WatchTask(channel, "nope").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Kubernetes probes carry no token.
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckResponse resp;
  EXPECT_TRUE(health->Check(&ctx, {}, &resp).ok());

  o.security.auth_tokens_file = Write(dir, "empty", "# nothing\n");
  EXPECT_THAT(StartGateway(o).status().message(), HasSubstr("holds no token"));
}

TEST(ListenerSecurityTest, TlsAndClientCertificates) {
  ScratchDir dir;
  TestCa ca, stranger;
  TestCert server = ca.Issue("DNS:localhost,IP:127.0.0.1");
  TestCert client = ca.Issue("DNS:client");
  TestCert rogue = stranger.Issue("DNS:client");
  TestGatewayOptions o = Options(dir, "0.0.0.0:0");
  o.security.tls_cert = Write(dir, "server.pem", server.cert_pem);
  o.security.tls_key = Write(dir, "server.key", server.key_pem);
  o.security.tls_client_ca = Write(dir, "clients.pem", ca.cert_pem());
  auto r = StartGateway(o);
  ASSERT_TRUE(r.ok()) << r.status();
  // An IP literal: no DNS resolver involved (c-ares keeps a few bytes per lookup).
  const std::string target = absl::StrCat("127.0.0.1:", (*r)->port());
  auto channel_with = [&](const TestCert* cert) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca.cert_pem();
    if (cert != nullptr) {
      ssl.pem_cert_chain = cert->cert_pem;
      ssl.pem_private_key = cert->key_pem;
    }
    return grpc::CreateChannel(target, grpc::SslCredentials(ssl));
  };
  EXPECT_TRUE(GetNodes(channel_with(&client)).ok());
  EXPECT_EQ(GetNodes(channel_with(nullptr)).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GetNodes(channel_with(&rogue)).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GetNodes(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // Server TLS alone (no client certificates) is enough for a non-loopback address.
  TestGatewayOptions tls_only = o;
  tls_only.security.tls_client_ca.clear();
  auto r2 = StartGateway(tls_only);
  ASSERT_TRUE(r2.ok()) << r2.status();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca.cert_pem();
  EXPECT_TRUE(GetInfo(grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*r2)->port()),
                                          grpc::SslCredentials(ssl)))
                  .ok());

  TestGatewayOptions half = o;
  half.security.tls_key.clear();
  EXPECT_THAT(StartGateway(half).status().message(), HasSubstr("go together"));
  half = o;
  half.security.tls_cert = Write(dir, "junk.pem", "not a certificate");
  EXPECT_THAT(StartGateway(half).status().message(), HasSubstr("not PEM"));
}

}  // namespace
}  // namespace pvegw::e2e
