// Tasks.WatchTask / WaitTask with the gateway in real mode against pve-mock's HTTPS server
// (its request handling, authentication and fault rules, served in-process on 127.0.0.1:0):
// the lifecycle of the mock-mode tests, per-call credentials with pollers per identity,
// and recovery from upstream faults within the poll schedule.
#include <grpcpp/create_channel.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/mock_mode_backend.h"
#include "gateway/upstream/upstream_backend.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "proxmox/gateway/v1/tasks.grpc.pb.h"
#include "pvemock/rest_frontend.h"
#include "pvemock/rest_server.h"
#include "pvemock/tls_cert.h"
#include "tests/e2e/e2e_util.h"
#include "tests/e2e/task_streams.h"

namespace pvegw::e2e {
namespace {

namespace json = boost::json;
namespace v1 = proxmox::gateway::v1;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kTaskMs = 1500;
constexpr char kStatusFault[] = "GET /nodes/*/tasks/*/status";

// pve-mock as the binary runs it (RestFrontend + RestServer over a mock world, Proxmox's
// authentication, the given fault rules), on 127.0.0.1:0 with a self-signed certificate.
class PveMock {
 public:
  explicit PveMock(const std::vector<std::string>& faults = {}, std::int64_t task_ms = kTaskMs) {
    TestGatewayOptions world_options;
    world_options.mock.task_duration_ms = task_ms;
    world_ = std::make_unique<GatewayFixture>(world_options);
    if (!world_->ok()) {
      error_ = world_->start_error();
      return;
    }
    mock_ = &dynamic_cast<gateway::MockModeBackend&>(world_->server().backend()).mock();
    pvemock::FrontendOptions frontend_options;
    for (const std::string& text : faults) {
      auto rule = pvemock::ParseFaultRule(text);
      if (!rule.ok()) {
        error_ = std::string(rule.status().message());
        return;
      }
      frontend_options.faults.push_back(*std::move(rule));
    }
    frontend_ = std::make_unique<pvemock::RestFrontend>(*mock_, std::move(frontend_options));
    auto identity = pvemock::MakeSelfSignedIdentity("pve-mock", {"localhost"}, {"127.0.0.1"});
    if (!identity.ok()) {
      error_ = std::string(identity.status().message());
      return;
    }
    fingerprint_ = identity->fingerprint;
    pvemock::RestServerOptions server_options;
    server_options.listen = "127.0.0.1:0";
    server_options.identity = *std::move(identity);
    server_options.access_log = [this](const pvemock::AccessLogEntry& e) {
      std::lock_guard<std::mutex> lock(mu_);
      log_.push_back(e);
    };
    auto server = pvemock::RestServer::Start(*frontend_, server_options);
    if (!server.ok()) {
      error_ = std::string(server.status().message());
      return;
    }
    server_ = *std::move(server);
    gateway_token_ = NewToken("gateway");
  }
  ~PveMock() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::milliseconds(0));
  }

  bool ok() const { return server_ != nullptr && !gateway_token_.empty(); }
  const std::string& error() const { return error_; }

  // A new API token of root@pam: its Authorization value "PVEAPIToken=root@pam!NAME=SECRET".
  std::string NewToken(const std::string& name) {
    RestRequest r{"POST", absl::StrCat("/access/users/root@pam/token/", name), {{"privsep", "0"}}};
    RestResponse answer = mock_->Call(r);
    if (answer.status != 200) {
      error_ = absl::StrCat("token ", name, ": ", answer.status, " ", answer.reason);
      return "";
    }
    const std::string secret(json::parse(answer.body).at("data").at("value").as_string().c_str());
    return absl::StrCat("PVEAPIToken=root@pam!", name, "=", secret);
  }

  // Waits until `user` has at least `count` requests on `suffix` with `status` logged.
  bool Logged(absl::string_view suffix, int status, const std::string& user, int count) const {
    return WaitFor([&] { return Served(suffix, status)[user] >= count; });
  }

  // A real-mode gateway pinned to this pve-mock, with the "gateway" token and a fast task
  // schedule (50 ms doubling to 200 ms).
  TestGatewayOptions Gateway() const {
    TestGatewayOptions o;
    o.mode = "real";
    o.upstream.url = absl::StrCat("https://127.0.0.1:", server_->port());
    o.upstream.fingerprint = fingerprint_;
    const std::string token = gateway_token_.substr(std::string("PVEAPIToken=").size());
    o.upstream.token_id = token.substr(0, token.find('='));
    o.upstream.token_secret = token.substr(token.find('=') + 1);
    o.upstream.retry_backoff = std::chrono::milliseconds(5);
    o.upstream.retry_backoff_cap = std::chrono::milliseconds(20);
    o.tasks.poll_initial = std::chrono::milliseconds(50);
    o.tasks.poll_max = std::chrono::milliseconds(200);
    return o;
  }

  // Requests served so far whose path ends in `suffix`, by authenticated user. An entry is
  // logged once its answer is written, so the gateway may have read the answer a moment
  // before: wait with Logged() for the entries a test expects.
  std::map<std::string, int> Served(absl::string_view suffix, int status = 0) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, int> out;
    for (const auto& e : log_) {
      if (absl::EndsWith(e.path, suffix) && (status == 0 || e.status == status)) ++out[e.user];
    }
    return out;
  }

 private:
  std::string error_;
  std::unique_ptr<GatewayFixture> world_;
  mockstate::MockBackend* mock_ = nullptr;
  std::unique_ptr<pvemock::RestFrontend> frontend_;
  std::unique_ptr<pvemock::RestServer> server_;
  std::string fingerprint_;
  std::string gateway_token_;
  mutable std::mutex mu_;
  std::vector<pvemock::AccessLogEntry> log_;
};

class RealModeTasksTest : public ::testing::Test {
 protected:
  // Starts pve-mock with `faults` and a real-mode gateway in front of it.
  void Start(const std::vector<std::string>& faults = {}, std::int64_t task_ms = kTaskMs,
             std::function<void(TestGatewayOptions&)> tune = nullptr) {
    pve_ = std::make_unique<PveMock>(faults, task_ms);
    ASSERT_TRUE(pve_->ok()) << pve_->error();
    TestGatewayOptions o = pve_->Gateway();
    if (tune) tune(o);
    gw_ = std::make_unique<GatewayFixture>(o);
    ASSERT_TRUE(gw_->ok()) << gw_->start_error();
    stub_ = v1::Tasks::NewStub(gw_->channel());
  }

  std::string CreateVm(int vmid) { return e2e::CreateVm(*gw_, vmid); }

  Watched Watch(const v1::WatchTaskRequest& request,
                std::chrono::milliseconds deadline = std::chrono::milliseconds(30000),
                const std::string& authorization = "") {
    return Stream(*stub_, request, authorization, deadline).Finish();
  }

  gateway::TaskWatchers::Stats Stats() { return gw_->server().task_watchers().stats(); }

  std::unique_ptr<PveMock> pve_;
  std::unique_ptr<GatewayFixture> gw_;
  std::unique_ptr<v1::Tasks::Stub> stub_;
};

TEST_F(RealModeTasksTest, FollowsAVmCreateToOkWithItsLogInOrder) {
  Start();
  const std::string upid = CreateVm(401);
  ASSERT_THAT(upid, HasSubstr(":qmcreate:401:"));
  ExpectFollowedToOk(Watch(Request(upid)), upid, 401);
  // Every poll went over HTTPS as the configured token.
  ASSERT_TRUE(pve_->Logged("/status", 200, "root@pam!gateway", 2));
  const auto polls = pve_->Served("/status");
  ASSERT_EQ(polls.size(), 1u);
  EXPECT_EQ(polls.begin()->first, "root@pam!gateway");
  ASSERT_TRUE(WaitFor([&] { return Stats().pollers == 0; }));

  // WaitTask answers the final event of the stopped task.
  ExpectWaitedToOk(*stub_, upid);
}

TEST_F(RealModeTasksTest, MalformedAndUnknownUpids) {
  Start();
  const Watched bad = Watch(Request("UPID:pve1:12:0152D4A1:6561F0A0:qmcreate:100:root@pam:"));
  EXPECT_EQ(bad.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.status.error_message(), HasSubstr("pid"));
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(bad.status.error_details()));
  google::rpc::BadRequest violations;
  ASSERT_TRUE(rich.details_size() == 1 && rich.details(0).UnpackTo(&violations));
  EXPECT_EQ(violations.field_violations(0).field(), "upid");
  EXPECT_TRUE(pve_->Served("/status").empty());

  ExpectUnknownTaskNotFound(*stub_);
}

TEST_F(RealModeTasksTest, DeadlineShorterThanTheTaskEndsAfterTheLastStatus) {
  Start({}, /*task_ms=*/4000);
  ExpectDeadlineEndsAfterLastStatus(*stub_, CreateVm(402), std::chrono::milliseconds(400),
                                    std::chrono::milliseconds(700));
  ASSERT_TRUE(WaitFor([&] { return Stats().pollers == 0; }));
}

// pve-mock answers the task status 503 twelve times: with three retries per poll that is
// three failed polls, within the six the schedule tolerates; the stream then reaches the end.
TEST_F(RealModeTasksTest, TransientStatusFailuresAreRecoveredWithinTheSchedule) {
  Start({absl::StrCat(kStatusFault, "=status:503:busy,times=12")});
  const std::string upid = CreateVm(403);
  const Watched w = Watch(Request(upid));
  ASSERT_TRUE(w.status.ok()) << w.status.error_message();
  ASSERT_FALSE(w.events.empty());
  EXPECT_TRUE(w.events.back().final());
  EXPECT_EQ(w.events.back().exitstatus(), "OK");
  EXPECT_EQ(w.Lines(), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(pve_->Logged("/status", 503, "root@pam!gateway", 12));
  EXPECT_EQ(pve_->Served("/status", 503)["root@pam!gateway"], 12);
  EXPECT_TRUE(pve_->Logged("/status", 200, "root@pam!gateway", 1));
}

TEST_F(RealModeTasksTest, PersistentFailureEndsEveryWatcherUnavailable) {
  Start({absl::StrCat(kStatusFault, "=status:503:maintenance")}, /*task_ms=*/60000);
  const std::string upid = CreateVm(404);
  Stream a(*stub_, Request(upid));
  Stream b(*stub_, Request(upid, /*include_log=*/false));
  const Watched wa = a.Finish();
  const Watched wb = b.Finish();
  for (const Watched* w : {&wa, &wb}) {
    EXPECT_EQ(w->status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(w->status.error_message(), HasSubstr("maintenance"));
    EXPECT_TRUE(w->events.empty());
  }
  // One poller for both: six polls of four attempts (three retries) each.
  EXPECT_EQ(Stats().pollers_started, 1u);
  EXPECT_TRUE(pve_->Logged("/status", 503, "root@pam!gateway", 6 * 4));
  EXPECT_EQ(Stats().pollers, 0);
}

// Callers with their own tokens are polled for as themselves: a poller per identity, and
// watchers of one identity share theirs.
TEST_F(RealModeTasksTest, PerCallTokensGetPollersOfTheirOwn) {
  Start({}, /*task_ms=*/5000);
  const std::string alice = pve_->NewToken("alice");
  const std::string bob = pve_->NewToken("bob");
  ASSERT_TRUE(pve_->ok()) << pve_->error();
  const std::string upid = CreateVm(405);
  std::vector<std::unique_ptr<Stream>> streams;
  for (const std::string& who : {alice, alice, bob, bob, std::string()}) {
    streams.push_back(std::make_unique<Stream>(*stub_, Request(upid), who));
  }
  ASSERT_TRUE(WaitFor([&] {
    for (auto& s : streams)
      if (s->events() == 0) return false;
    return true;
  }));
  // One poller per identity (configured, alice, bob), however quickly the task then ends.
  EXPECT_EQ(Stats().pollers_started, 3u);
  for (auto& s : streams) {
    const Watched w = s->Finish();
    ASSERT_TRUE(w.status.ok()) << w.status.error_message();
    EXPECT_TRUE(w.events.back().final());
    EXPECT_EQ(w.Lines(), (std::vector<std::int64_t>{1, 2, 3, 4}));
  }
  for (const char* user : {"root@pam!alice", "root@pam!bob", "root@pam!gateway"}) {
    EXPECT_TRUE(pve_->Logged("/status", 200, user, 1)) << user;
  }
  const auto polls = pve_->Served("/status", 200);
  EXPECT_EQ(polls.size(), 3u);
  EXPECT_GT(polls.count("root@pam!alice"), 0u);
  EXPECT_GT(polls.count("root@pam!bob"), 0u);
  EXPECT_GT(polls.count("root@pam!gateway"), 0u);
  EXPECT_EQ(Stats().pollers_started, 3u);
}

TEST_F(RealModeTasksTest, BadCallerCredentialsEndTheWatch) {
  Start();
  const std::string upid = CreateVm(406);
  // Well-formed but unknown to Proxmox: its 401 ends the stream with Proxmox's text.
  const Watched wrong = Watch(Request(upid), std::chrono::milliseconds(30000),
                              "PVEAPIToken=root@pam!nobody=00000000-0000-0000-0000-00000000dead");
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(wrong.status.error_message(), HasSubstr("Authentication failed!"));
  EXPECT_THAT(wrong.status.error_message(), Not(HasSubstr("dead")));
  EXPECT_TRUE(wrong.events.empty());
  // Malformed: refused before anything is sent, without repeating the secret.
  const Watched malformed =
      Watch(Request(upid), std::chrono::milliseconds(30000), "PVEAPIToken=root@pam=s3cr3t-value");
  EXPECT_EQ(malformed.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(malformed.status.error_message(), HasSubstr("USER@REALM!TOKENID"));
  EXPECT_THAT(malformed.status.error_message(), Not(HasSubstr("s3cr3t")));
  // Only the unknown token's one poll (401, logged as no user).
  EXPECT_TRUE(pve_->Logged("/status", 401, "-", 1));
  EXPECT_EQ(pve_->Served("/status"), (std::map<std::string, int>{{"-", 1}}));
}

TEST_F(RealModeTasksTest, ClientCredentialsDenyAndRequireApplyToWatchers) {
  Start({}, kTaskMs, [](TestGatewayOptions& o) { o.upstream.client_credentials = "deny"; });
  const std::string upid = CreateVm(407);
  const std::string alice = pve_->NewToken("alice");
  const Watched denied = Watch(Request(upid), std::chrono::milliseconds(30000), alice);
  EXPECT_EQ(denied.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.status.error_message(), HasSubstr("--client_credentials=deny"));
  EXPECT_TRUE(Watch(Request(upid)).status.ok());

  TestGatewayOptions o = pve_->Gateway();
  o.upstream.client_credentials = "require";
  o.upstream.token_id.clear();
  o.upstream.token_secret.clear();
  GatewayFixture require(o);
  ASSERT_TRUE(require.ok()) << require.start_error();
  auto stub = v1::Tasks::NewStub(require.channel());
  const Watched missing = Stream(*stub, Request(upid)).Finish();
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(missing.status.error_message(), HasSubstr("--client_credentials=require"));
  const Watched own = Stream(*stub, Request(upid), alice).Finish();
  ASSERT_TRUE(own.status.ok()) << own.status.error_message();
  EXPECT_TRUE(own.events.back().final());
}

}  // namespace
}  // namespace pvegw::e2e
