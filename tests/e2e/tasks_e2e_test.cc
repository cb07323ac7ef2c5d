// Tasks.WatchTask / WaitTask over real gRPC against mock mode: short tasks, a fast schedule.
#include <grpcpp/create_channel.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "proxmox/gateway/v1/tasks.grpc.pb.h"
#include "tests/e2e/e2e_util.h"
#include "tests/e2e/task_streams.h"

namespace pvegw::e2e {
namespace {

namespace json = boost::json;
namespace v1 = proxmox::gateway::v1;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kTaskMs = 1500;

TestGatewayOptions FastTasks() {
  TestGatewayOptions o;
  o.mock.task_duration_ms = kTaskMs;
  o.tasks.poll_initial = std::chrono::milliseconds(50);
  o.tasks.poll_max = std::chrono::milliseconds(200);
  return o;
}

class TasksE2eTest : public ::testing::Test {
 protected:
  TasksE2eTest() : gw_(FastTasks()) {}
  void SetUp() override {
    ASSERT_TRUE(gw_.ok()) << gw_.start_error();
    stub_ = v1::Tasks::NewStub(gw_.channel());
  }

  std::string CreateVm(int vmid) { return e2e::CreateVm(gw_, vmid); }

  Watched Watch(const v1::WatchTaskRequest& request,
                std::chrono::milliseconds deadline = std::chrono::milliseconds(30000)) {
    return Stream(*stub_, request, "", deadline).Finish();
  }

  GatewayFixture gw_;
  std::unique_ptr<v1::Tasks::Stub> stub_;
};

TEST_F(TasksE2eTest, FollowsAVmCreateToOkWithItsLogInOrder) {
  const std::string upid = CreateVm(301);
  ExpectFollowedToOk(Watch(Request(upid)), upid, 301);
  EXPECT_EQ(gw_.server().task_watchers().stats().pollers, 0);
}

TEST_F(TasksE2eTest, AStoppedTaskGivesOneFinalEventAndLogStartSkipsLines) {
  const std::string upid = CreateVm(302);
  v1::WaitTaskRequest wait;
  wait.set_upid(upid);
  grpc::ClientContext ctx;
  v1::TaskEvent done;
  ASSERT_TRUE(stub_->WaitTask(&ctx, wait, &done).ok());
  EXPECT_TRUE(done.final());
  EXPECT_EQ(done.exitstatus(), "OK");
  EXPECT_EQ(done.log_size(), 0);  // include_log not asked

  const Watched w = Watch(Request(upid, /*include_log=*/false));
  ASSERT_TRUE(w.status.ok());
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_TRUE(w.events[0].final());
  EXPECT_EQ(w.events[0].log_size(), 0);

  v1::WatchTaskRequest skip = Request(upid);
  skip.set_log_start(2);
  const Watched s = Watch(skip);
  ASSERT_TRUE(s.status.ok());
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.Lines(), (std::vector<std::int64_t>{3, 4}));
}

TEST_F(TasksE2eTest, WaitTaskAnswersTheFinalEventWithTheLog) {
  ExpectWaitedToOk(*stub_, CreateVm(303));
}

TEST_F(TasksE2eTest, MalformedUpidIsInvalidArgumentNamingThePart) {
  for (const auto& [upid, part] : std::vector<std::pair<std::string, std::string>>{
           {"UPID:pve1:12:0152D4A1:6561F0A0:qmcreate:100:root@pam:", "pid"},
           {"UPID:pve1:000A1B2C:0152D4A1:6561F0A0::100:root@pam:", "type"},
           {"not a upid", "UPID"}}) {
    const Watched w = Watch(Request(upid));
    EXPECT_EQ(w.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << upid;
    EXPECT_THAT(w.status.error_message(), HasSubstr(part)) << upid;
    EXPECT_TRUE(w.events.empty());
    google::rpc::Status rich;
    ASSERT_TRUE(rich.ParseFromString(w.status.error_details()));
    google::rpc::BadRequest bad;
    ASSERT_TRUE(rich.details_size() == 1 && rich.details(0).UnpackTo(&bad));
    EXPECT_EQ(bad.field_violations(0).field(), "upid");
  }
  v1::WatchTaskRequest bad_node = Request(CreateVm(304));
  bad_node.set_node("no/such");
  EXPECT_EQ(Watch(bad_node).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::WatchTaskRequest negative = Request("UPID:pve1:000A1B2C:0152D4A1:6561F0A0:x:1:root@pam:");
  negative.set_log_start(-1);
  EXPECT_EQ(Watch(negative).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(TasksE2eTest, UnknownTaskIsNotFoundWithProxmoxText) { ExpectUnknownTaskNotFound(*stub_); }

TEST_F(TasksE2eTest, TimeoutShorterThanTheTaskEndsDeadlineExceededAfterTheLastStatus) {
  ExpectDeadlineEndsAfterLastStatus(*stub_, CreateVm(305), std::chrono::milliseconds(300),
                                    std::chrono::milliseconds(600));
  ASSERT_TRUE(WaitFor([&] { return gw_.server().task_watchers().stats().pollers == 0; }));
}

TEST_F(TasksE2eTest, CancellingTheStreamStopsThePoller) {
  const std::string upid = CreateVm(306);
  grpc::ClientContext ctx;
  auto reader = stub_->WatchTask(&ctx, Request(upid));
  v1::TaskEvent first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_EQ(gw_.server().task_watchers().stats().pollers, 1);
  ctx.TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(WaitFor([&] {
    const auto s = gw_.server().task_watchers().stats();
    return s.pollers == 0 && s.watchers == 0;
  }));
}

// One client, many streams: the async reactor API, as the benchmark uses it.
class StreamCounter : public grpc::ClientReadReactor<v1::TaskEvent> {
 public:
  StreamCounter(v1::Tasks::Stub* stub, const v1::WatchTaskRequest& request, std::atomic<int>* first,
                std::atomic<int>* done)
      : first_(first), done_(done) {
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stub->async()->WatchTask(&ctx_, &request, this);
    StartRead(&event_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (events_++ == 0) first_->fetch_add(1);
    for (const auto& l : event_.log()) lines_.push_back(l.n());
    final_ = event_.final();
    StartRead(&event_);
  }
  void OnDone(const grpc::Status& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = s;
    finished_ = true;
    done_->fetch_add(1);
  }
  grpc::Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  const std::vector<std::int64_t>& lines() const { return lines_; }
  bool final() const { return final_; }

 private:
  grpc::ClientContext ctx_;
  v1::TaskEvent event_;
  std::atomic<int>* first_;
  std::atomic<int>* done_;
  int events_ = 0;
  std::vector<std::int64_t> lines_;
  bool final_ = false;
  std::mutex mu_;
  grpc::Status status_;
  bool finished_ = false;
};

TEST_F(TasksE2eTest, ThousandStreamsOfOneTaskCostOnePoller) {
  const std::string upid = CreateVm(307);
  const auto before = gw_.server().task_watchers().stats();
  std::atomic<int> first{0};
  std::atomic<int> done{0};
  std::vector<std::unique_ptr<StreamCounter>> streams;
  for (int i = 0; i < 1000; ++i) {
    streams.push_back(std::make_unique<StreamCounter>(stub_.get(), Request(upid), &first, &done));
  }
  ASSERT_TRUE(WaitFor([&] { return done.load() == 1000; }, std::chrono::seconds(60)));
  const auto after = gw_.server().task_watchers().stats();
  EXPECT_EQ(after.pollers_started - before.pollers_started, 1u);
  // The polls of one poller over one ~1.5 s task (status + log per round at 50-200 ms,
  // plus catch-up rounds for late joiners at most every 50 ms): far below one per stream.
  EXPECT_LT(after.backend_calls - before.backend_calls, 200u);
  for (const auto& s : streams) {
    EXPECT_TRUE(s->status().ok()) << s->status().error_message();
    EXPECT_TRUE(s->final());
    EXPECT_EQ(s->lines(), (std::vector<std::int64_t>{1, 2, 3, 4}));
  }
}

TEST_F(TasksE2eTest, ShutdownEndsOpenStreamsUnavailableWithoutWaitingForTheGrace) {
  const std::string upid = CreateVm(308);
  grpc::ClientContext ctx;
  auto reader = stub_->WatchTask(&ctx, Request(upid));
  v1::TaskEvent first;
  ASSERT_TRUE(reader->Read(&first));
  // Had shutdown waited for the task, the stream would end OK; for the grace, CANCELLED.
  std::thread stopper([&] { gw_.server().Shutdown(); });
  v1::TaskEvent more;
  while (reader->Read(&more)) {
  }
  const grpc::Status st = reader->Finish();
  stopper.join();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(st.error_message(), HasSubstr("shutting down"));
}

TEST_F(TasksE2eTest, TasksServiceIsServingAndReflected) {
  auto health = grpc::health::v1::Health::NewStub(gw_.channel());
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("proxmox.gateway.v1.Tasks");
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

}  // namespace
}  // namespace pvegw::e2e
