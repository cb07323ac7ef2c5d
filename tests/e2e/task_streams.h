// Following tasks over gRPC in the e2e tests, the same in mock mode (tasks_e2e_test.cc) and
// in real mode against pve-mock (real_mode_tasks_test.cc): streams read on threads of their
// own, a VM create that starts a task, and the expectations both modes share.
#ifndef PVEGW_TESTS_E2E_TASK_STREAMS_H_
#define PVEGW_TESTS_E2E_TASK_STREAMS_H_

#include <grpcpp/grpcpp.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxmox/gateway/v1/tasks.grpc.pb.h"
#include "tests/e2e/e2e_util.h"

namespace pvegw::e2e {

// Waits until `pred` holds, polling every 2 ms; false after `timeout`.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout = std::chrono::milliseconds(20000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// What one WatchTask stream delivered, and how it ended.
struct Watched {
  std::vector<proxmox::gateway::v1::TaskEvent> events;
  grpc::Status status;
  // The log line numbers of all events, in the order they came.
  std::vector<std::int64_t> Lines() const {
    std::vector<std::int64_t> out;
    for (const auto& e : events)
      for (const auto& l : e.log()) out.push_back(l.n());
    return out;
  }
};

inline proxmox::gateway::v1::WatchTaskRequest Request(const std::string& upid,
                                                      bool include_log = true) {
  proxmox::gateway::v1::WatchTaskRequest r;
  r.set_upid(upid);
  r.set_include_log(include_log);
  return r;
}

// One stream read on a thread of its own, so several can be open at once.
class Stream {
 public:
  Stream(proxmox::gateway::v1::Tasks::Stub& stub,
         const proxmox::gateway::v1::WatchTaskRequest& request,
         const std::string& authorization = "",
         std::chrono::milliseconds deadline = std::chrono::milliseconds(30000)) {
    ctx_.set_deadline(std::chrono::system_clock::now() + deadline);
    if (!authorization.empty()) ctx_.AddMetadata("authorization", authorization);
    reader_ = stub.WatchTask(&ctx_, request);
    thread_ = std::thread([this] {
      proxmox::gateway::v1::TaskEvent event;
      while (reader_->Read(&event)) {
        std::lock_guard<std::mutex> lock(mu_);
        watched_.events.push_back(event);
      }
      grpc::Status st = reader_->Finish();
      std::lock_guard<std::mutex> lock(mu_);
      watched_.status = st;
    });
  }
  ~Stream() {
    if (thread_.joinable()) {
      ctx_.TryCancel();
      thread_.join();
    }
  }
  std::size_t events() {
    std::lock_guard<std::mutex> lock(mu_);
    return watched_.events.size();
  }
  Watched Finish() {
    thread_.join();
    return watched_;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<proxmox::gateway::v1::TaskEvent>> reader_;
  std::mutex mu_;
  Watched watched_;
  std::thread thread_;
};

// Creates VM `vmid` on pve1 through the gateway and answers its task's UPID ("" on failure).
inline std::string CreateVm(GatewayFixture& gw, int vmid) {
  CallResult r = gw.Call(
      "Nodes.PostNodesNodeQemu",
      absl::StrCat(R"({"node":"pve1","vmid":)", vmid, R"(,"name":"watch-me","memory":"512"})"));
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  if (!r.status.ok()) return "";
  return std::string(boost::json::parse(r.json).as_object().at("data").as_string().c_str());
}

// A VM create's task followed from "running" to "stopped"/"OK": every log line once, in
// order, the last one Proxmox's verdict.
inline void ExpectFollowedToOk(const Watched& w, const std::string& upid, int vmid) {
  ASSERT_TRUE(w.status.ok()) << w.status.error_message();
  ASSERT_GE(w.events.size(), 2u);
  EXPECT_EQ(w.events.front().status(), "running");
  EXPECT_EQ(w.events.front().upid(), upid);
  EXPECT_EQ(w.events.front().type(), "qmcreate");
  EXPECT_EQ(w.events.front().id(), absl::StrCat(vmid));
  EXPECT_EQ(w.events.front().node(), "pve1");
  EXPECT_GT(w.events.front().starttime(), 0);
  const proxmox::gateway::v1::TaskEvent& last = w.events.back();
  EXPECT_TRUE(last.final());
  EXPECT_EQ(last.status(), "stopped");
  EXPECT_EQ(last.exitstatus(), "OK");
  EXPECT_TRUE(last.succeeded());
  for (std::size_t i = 0; i + 1 < w.events.size(); ++i) EXPECT_FALSE(w.events[i].final());
  EXPECT_EQ(w.Lines(), (std::vector<std::int64_t>{1, 2, 3, 4}));
  ASSERT_FALSE(last.log().empty());
  EXPECT_EQ(last.log(last.log_size() - 1).t(), "TASK OK");
}

// A watch whose timeout (and, second, whose call deadline) ends before the running task
// does: DEADLINE_EXCEEDED after at least one more status, the last one still "running".
inline void ExpectDeadlineEndsAfterLastStatus(proxmox::gateway::v1::Tasks::Stub& stub,
                                              const std::string& upid,
                                              std::chrono::milliseconds timeout,
                                              std::chrono::milliseconds deadline) {
  proxmox::gateway::v1::WatchTaskRequest r = Request(upid);
  r.mutable_timeout()->set_nanos(static_cast<std::int32_t>(timeout.count() * 1000 * 1000));
  const Watched w = Stream(stub, r).Finish();
  EXPECT_EQ(w.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_GE(w.events.size(), 2u);
  EXPECT_EQ(w.events.back().status(), "running");
  EXPECT_FALSE(w.events.back().final());

  // The call's own deadline works the same way: the last status arrives before it.
  const Watched d = Stream(stub, Request(upid), "", deadline).Finish();
  EXPECT_EQ(d.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_GE(d.events.size(), 2u);
  EXPECT_EQ(d.events.back().status(), "running");
}

// WaitTask with the log on a VM create's task: its final event, succeeded, all four lines.
inline void ExpectWaitedToOk(proxmox::gateway::v1::Tasks::Stub& stub, const std::string& upid) {
  proxmox::gateway::v1::WaitTaskRequest wait;
  wait.set_upid(upid);
  wait.set_include_log(true);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  proxmox::gateway::v1::TaskEvent done;
  const grpc::Status st = stub.WaitTask(&ctx, wait, &done);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(done.final());
  EXPECT_TRUE(done.succeeded());
  ASSERT_EQ(done.log_size(), 4);
  EXPECT_EQ(done.log(0).n(), 1);
  EXPECT_EQ(done.log(3).t(), "TASK OK");
}

// An unknown task: WatchTask and WaitTask both NOT_FOUND with Proxmox's text, no event.
inline void ExpectUnknownTaskNotFound(proxmox::gateway::v1::Tasks::Stub& stub) {
  const std::string unknown = "UPID:pve1:0000FFFF:0152D4A1:6561F0A0:qmstart:999:root@pam:";
  const Watched w = Stream(stub, Request(unknown)).Finish();
  EXPECT_EQ(w.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(w.status.error_message(), ::testing::HasSubstr("no such task"));
  EXPECT_TRUE(w.events.empty());
  proxmox::gateway::v1::WaitTaskRequest wait;
  wait.set_upid(unknown);
  grpc::ClientContext ctx;
  proxmox::gateway::v1::TaskEvent done;
  const grpc::Status st = stub.WaitTask(&ctx, wait, &done);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("no such task"));
}

}  // namespace pvegw::e2e

#endif  // PVEGW_TESTS_E2E_TASK_STREAMS_H_
