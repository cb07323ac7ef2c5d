// pve-gateway in real mode over gRPC, against an in-process HTTPS upstream that answers from
// a mock world exactly as pveproxy would (status, reason phrase, JSON body, connection
// rules): the same calls must give the same answers as in mock mode.
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <boost/json.hpp>
#include <future>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "proxmox/gateway/v1/gateway.grpc.pb.h"
#include "tests/e2e/e2e_util.h"
#include "tests/gateway/upstream/test_https_server.h"

namespace pvegw::e2e {
namespace {

using ::pvegw::testing::TestCa;
using ::pvegw::testing::TestCert;
using ::pvegw::testing::TestHttpsServer;
using ::pvegw::testing::TestReply;
using ::pvegw::testing::TestRequest;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTokenId[] = "root@pam!gateway";
constexpr char kTokenSecret[] = "7d3c5e1a-real-mode-secret";

std::string Decode(absl::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      if (absl::SimpleHexAtoi(s.substr(i + 1, 2), &v)) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

RestParams DecodeForm(absl::string_view form) {
  RestParams out;
  // pveproxy splits on ';' as well as '&': a raw ';' in a value would corrupt it here too.
  for (absl::string_view pair : absl::StrSplit(form, absl::ByAnyChar("&;"), absl::SkipEmpty())) {
    std::vector<absl::string_view> kv = absl::StrSplit(pair, '=');
    out.emplace_back(Decode(kv[0]), kv.size() > 1 ? Decode(kv[1]) : "");
  }
  return out;
}

// A pveproxy in miniature over a mock world: token auth, Proxmox's answers, close on >= 400.
class FakePve {
 public:
  FakePve() : cert_(TestCa::SelfSigned("IP:127.0.0.1")) {
    TestGatewayOptions options;
    world_ = std::make_unique<GatewayFixture>(options);
    auto* mock = dynamic_cast<gateway::MockModeBackend*>(&world_->server().backend());
    server_ = std::make_unique<TestHttpsServer>(
        cert_, [this, mock](const TestRequest& r) { return Handle(*mock, r); });
  }
  const TestCert& cert() const { return cert_; }
  TestHttpsServer& server() { return *server_; }
  std::atomic<bool> hang{false};
  std::atomic<int> fail_503{0};

  gateway::upstream::UpstreamOptions Upstream() const {
    gateway::upstream::UpstreamOptions o;
    o.url = server_->url();
    o.fingerprint = cert_.fingerprint;
    o.token_id = kTokenId;
    o.token_secret = kTokenSecret;
    o.health_interval = std::chrono::milliseconds(100);
    return o;
  }

 private:
  TestReply Handle(gateway::MockModeBackend& mock, const TestRequest& r) {
    const std::string auth = r.Header("authorization");
    if (auth != absl::StrCat("PVEAPIToken=", kTokenId, "=", kTokenSecret) &&
        auth != "PVEAPIToken=alice@pve!ci=alice-secret") {
      TestReply denied = TestReply::Error(401, "Authentication failed!");
      denied.body.clear();
      return denied;
    }
    if (hang) return TestReply::Of(TestReply::kHang);
    // The gateway's own health probe (GET /version) is left alone: only calls count.
    if (r.method == "GET" && !absl::EndsWith(r.target, "/version") && fail_503.fetch_sub(1) > 0) {
      return TestReply::Error(503, "busy");
    }
    RestRequest rest;
    rest.verb = r.method;
    std::string target = r.target.substr(std::string("/api2/json").size());
    const auto q = target.find('?');
    rest.path = Decode(target.substr(0, q));
    rest.params = DecodeForm(q == std::string::npos ? r.body : target.substr(q + 1));
    RestResponse answer = mock.mock().Call(rest);
    TestReply reply;
    reply.status = answer.status;
    reply.reason = answer.reason;
    reply.body = answer.body;
    reply.close_after = answer.status >= 400;
    return reply;
  }

  TestCert cert_;
  std::unique_ptr<GatewayFixture> world_;
  std::unique_ptr<TestHttpsServer> server_;
};

TestGatewayOptions RealOptions(const FakePve& pve) {
  TestGatewayOptions o;
  o.mode = "real";
  o.upstream = pve.Upstream();
  return o;
}

// UPIDs carry a start time and a running guest a process id; everything else must be
// identical.
std::string Normalized(const CallResult& r) {
  static const std::regex kUpid("UPID:[^\"]*");
  static const std::regex kPidUptime("\"(pid|uptime)\":\"?[0-9]+\"?");
  return absl::StrCat(
      r.status.error_code(), " ", r.status.error_message(), " ",
      std::regex_replace(std::regex_replace(r.json, kUpid, "UPID"), kPidUptime, "\"$1\":0"));
}

TEST(RealModeTest, VmLifecycleAnswersMatchMockMode) {
  FakePve pve;
  GatewayFixture real(RealOptions(pve));
  ASSERT_TRUE(real.ok()) << real.start_error();
  GatewayFixture mock;
  ASSERT_TRUE(mock.ok()) << mock.start_error();
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"Nodes.GetNodes", "{}"},
      {"Nodes.PostNodesNodeQemu",
       R"({"node":"pve1","vmid":150,"name":"real-vm","memory":"2048","cores":2,
           "net":{"0":"virtio,bridge=vmbr0"},"description":"a;b=c&d e+f"})"},
      {"Nodes.GetNodesNodeQemuVmidConfig", R"({"node":"pve1","vmid":150})"},
      {"Nodes.PutNodesNodeQemuVmidConfig", R"({"node":"pve1","vmid":150,"cores":4})"},
      {"Nodes.PostNodesNodeQemuVmidStatusStart", R"({"node":"pve1","vmid":150})"},
      {"Nodes.GetNodesNodeQemuVmidStatusCurrent", R"({"node":"pve1","vmid":150})"},
      {"Nodes.PostNodesNodeQemuVmidStatusStart", R"({"node":"pve1","vmid":150})"},
      {"Nodes.PostNodesNodeQemuVmidStatusStop", R"({"node":"pve1","vmid":150})"},
      {"Nodes.PostNodesNodeQemu", R"({"node":"pve1","vmid":100})"},
      {"Nodes.GetNodesNodeQemu", R"({"node":"pve1"})"},
      {"Nodes.DeleteNodesNodeQemuVmid", R"({"node":"pve1","vmid":150})"},
      {"Nodes.GetNodesNodeQemuVmidConfig", R"({"node":"pve1","vmid":150})"},
      {"Access.GetAccessUsersUserid", R"({"userid":"admin@pve"})"},
  };
  for (const auto& [method, json] : calls) {
    CallResult a = real.Call(method, json);
    CallResult b = mock.Call(method, json);
    EXPECT_EQ(Normalized(a), Normalized(b)) << method << " " << json;
  }

  proxmox::gateway::v1::Gateway::Stub info_stub(real.channel());
  grpc::ClientContext ctx;
  proxmox::gateway::v1::GetInfoResponse info;
  ASSERT_TRUE(info_stub.GetInfo(&ctx, {}, &info).ok());
  EXPECT_EQ(info.mode(), "real");
  EXPECT_EQ(info.upstream().auth(), "token");
  EXPECT_EQ(info.upstream().tls(), "fingerprint-pin");
  ASSERT_EQ(info.upstream().endpoints_size(), 1);
  EXPECT_EQ(info.upstream().endpoints(0).url(), pve.server().url() + "/api2/json");
  EXPECT_GT(info.upstream().endpoints(0).reused(), 0u);
  EXPECT_THAT(info.DebugString(), Not(HasSubstr(kTokenSecret)));
}

TEST(RealModeTest, PerCallTokenFromMetadataAndBadOne) {
  FakePve pve;
  GatewayFixture real(RealOptions(pve));
  ASSERT_TRUE(real.ok()) << real.start_error();
  const auto* m = real.api().Method("Nodes.GetNodes");
  grpc::GenericStub stub(real.channel());
  auto call = [&](const std::string& token) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto req = real.api().New(m->input_type());
    grpc::Slice slice(req->SerializeAsString());
    grpc::ByteBuffer in(&slice, 1), out;
    std::promise<grpc::Status> p;
    stub.UnaryCall(&ctx, "/proxmox.ve.v1.Nodes/GetNodes", grpc::StubOptions(), &in, &out,
                   [&](grpc::Status s) { p.set_value(s); });
    return p.get_future().get();
  };
  EXPECT_TRUE(call("PVEAPIToken=alice@pve!ci=alice-secret").ok());
  grpc::Status bad = call("PVEAPIToken=alice@pve!ci=wrong-secret");
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(bad.error_message(), Not(HasSubstr("wrong-secret")));
  // Only the two GetNodes calls: the background health probe (GET /version, the configured
  // identity) may come between them.
  std::vector<std::string> sent;
  for (const auto& r : pve.server().seen()) {
    if (absl::StrContains(r.target, "/api2/json/nodes")) sent.push_back(r.Header("authorization"));
  }
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], "PVEAPIToken=alice@pve!ci=alice-secret");
  EXPECT_EQ(sent[1], "PVEAPIToken=alice@pve!ci=wrong-secret");
}

TEST(RealModeTest, DenyRefusesMetadataCredentials) {
  FakePve pve;
  TestGatewayOptions o = RealOptions(pve);
  o.upstream.client_credentials = "deny";
  GatewayFixture real(o);
  ASSERT_TRUE(real.ok()) << real.start_error();
  grpc::GenericStub stub(real.channel());
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-proxmox-ticket", "PVE:alice@pve:1::x");
  ctx.AddMetadata("x-proxmox-csrf-token", "csrf");
  grpc::Slice slice(std::string{});
  grpc::ByteBuffer in(&slice, 1), out;
  std::promise<grpc::Status> p;
  stub.UnaryCall(&ctx, "/proxmox.ve.v1.Nodes/GetNodes", grpc::StubOptions(), &in, &out,
                 [&](grpc::Status s) { p.set_value(s); });
  grpc::Status st = p.get_future().get();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("--client_credentials=deny"));
  for (const auto& r : pve.server().seen()) {
    EXPECT_EQ(r.Header("cookie"), "");  // only the gateway's own health probe went out
    EXPECT_EQ(r.target, "/api2/json/version");
  }
}

TEST(RealModeTest, GrpcDeadlineAndCancellationReachTheUpstream) {
  FakePve pve;
  GatewayFixture real(RealOptions(pve));
  ASSERT_TRUE(real.ok()) << real.start_error();
  pve.hang = true;
  grpc::GenericStub stub(real.channel());
  auto start = [&](grpc::ClientContext& ctx, std::promise<grpc::Status>& p, grpc::ByteBuffer& in,
                   grpc::ByteBuffer& out) {
    stub.UnaryCall(&ctx, "/proxmox.ve.v1.Nodes/GetNodes", grpc::StubOptions(), &in, &out,
                   [&](grpc::Status s) { p.set_value(s); });
  };
  grpc::Slice slice(std::string{});
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(400));
    grpc::ByteBuffer in(&slice, 1), out;
    std::promise<grpc::Status> p;
    const auto t0 = std::chrono::steady_clock::now();
    start(ctx, p, in, out);
    EXPECT_EQ(p.get_future().get().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    // The upstream exchange was aborted with the call: its connection is closed.
    EXPECT_TRUE(pve.server().WaitFor([&] { return pve.server().closed_connections() >= 1; }));
  }
  {
    const int closed = pve.server().closed_connections();
    const int requests = pve.server().requests();
    grpc::ClientContext ctx;
    grpc::ByteBuffer in(&slice, 1), out;
    std::promise<grpc::Status> p;
    start(ctx, p, in, out);
    ASSERT_TRUE(pve.server().WaitFor([&] { return pve.server().requests() > requests; }));
    ctx.TryCancel();
    EXPECT_EQ(p.get_future().get().error_code(), grpc::StatusCode::CANCELLED);
    EXPECT_TRUE(pve.server().WaitFor([&] { return pve.server().closed_connections() > closed; }));
  }
  pve.hang = false;
  EXPECT_TRUE(real.Call("Nodes.GetNodes", "{}").status.ok());
}

TEST(RealModeTest, TransientFailuresOfGetsAreRetried) {
  FakePve pve;
  GatewayFixture real(RealOptions(pve));
  ASSERT_TRUE(real.ok()) << real.start_error();
  pve.fail_503 = 2;
  EXPECT_TRUE(real.Call("Nodes.GetNodes", "{}").status.ok());
  auto* backend = dynamic_cast<gateway::upstream::UpstreamBackend*>(&real.server().backend());
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->counters().retries, 2u);
}

TEST(RealModeTest, UpstreamHealthFollowsReachability) {
  FakePve pve;
  GatewayFixture real(RealOptions(pve));
  ASSERT_TRUE(real.ok()) << real.start_error();
  auto health = grpc::health::v1::Health::NewStub(real.channel());
  auto status_of = [&](const std::string& service) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status st = health->Check(&ctx, req, &resp);
    return st.ok() ? resp.status() : grpc::health::v1::HealthCheckResponse::UNKNOWN;
  };
  auto wait_for = [&](grpc::health::v1::HealthCheckResponse::ServingStatus want) {
    // The health service is polled until it reports `want` (bounded).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      if (status_of("proxmox.gateway.v1.Upstream") == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  EXPECT_TRUE(wait_for(grpc::health::v1::HealthCheckResponse::SERVING));
  EXPECT_EQ(status_of(""), grpc::health::v1::HealthCheckResponse::SERVING);
  pve.server().Stop();
  EXPECT_TRUE(wait_for(grpc::health::v1::HealthCheckResponse::NOT_SERVING));
  EXPECT_EQ(status_of(""), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(RealModeTest, MockModeReportsTheUpstreamServing) {
  GatewayFixture gw;
  ASSERT_TRUE(gw.ok());
  auto health = grpc::health::v1::Health::NewStub(gw.channel());
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("proxmox.gateway.v1.Upstream");
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(RealModeTest, BadUpstreamConfigurationIsAClearStartError) {
  TestGatewayOptions o;
  o.mode = "real";
  o.upstream.url = "http://pve1:8006";
  o.upstream.token_id = kTokenId;
  o.upstream.token_secret = kTokenSecret;
  GatewayFixture gw(o);
  EXPECT_FALSE(gw.ok());
  EXPECT_THAT(gw.start_error(), HasSubstr("https://"));
  EXPECT_THAT(gw.start_error(), Not(HasSubstr(kTokenSecret)));
}

}  // namespace
}  // namespace pvegw::e2e
