// TaskWatchers against a fake Backend: schedules, shared pollers, log paging, slow readers,
// failures and shutdown (one file: the fake Backend and sinks serve every case).
#include "gateway/task_watchers.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/upid.h"
#include "gateway/transcoder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pvegw::gateway {
namespace {

using proxmox::gateway::v1::TaskEvent;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Waits for `pred` with a deadline (never a fixed sleep that hopes).
template <typename Pred>
bool WaitFor(Pred pred, milliseconds timeout = milliseconds(20000)) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

std::string Upid(int pid, const std::string& node = "pve1") {
  api::Upid u;
  u.node = node;
  u.pid = static_cast<std::uint32_t>(pid);
  u.pstart = 0x1234ABCD;
  u.starttime = 0x6561F0A0;
  u.type = "qmcreate";
  u.id = absl::StrCat(100 + pid);
  u.user = "root@pam";
  return api::FormatUpid(u);
}

// A scripted Proxmox host: tasks whose log grows and which stop when the test says so.
// Answers inline, or (async) later from its own thread as a network backend would.
struct FakeTask {
  int lines = 0;
  bool stopped = false;
  std::string exitstatus = "OK";
  int numbering_offset = 0;  // a broken log: line i is numbered i + 1 + offset
};

class FakeTaskBackend : public Backend {
 public:
  using Task = FakeTask;
  struct CallRecord {
    std::string upid;  // escaped, as on the wire
    std::string what;  // status | log
    std::string start;
    Clock::time_point at;
    std::string request_id = {};
  };

  explicit FakeTaskBackend(bool async = false) : async_(async) {
    if (async_) worker_ = std::thread([this] { Run(); });
  }
  ~FakeTaskBackend() override {
    if (async_) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        quit_ = true;
      }
      cv_.notify_all();
      worker_.join();
    }
  }

  void AddTask(const std::string& upid, Task task = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_[EscapePathSegment(upid)] = task;
  }
  void Change(const std::string& upid, const std::function<void(Task&)>& fn) {
    std::lock_guard<std::mutex> lock(mu_);
    fn(tasks_[EscapePathSegment(upid)]);
  }
  void FailNext(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_next_ = n;
  }
  // Runs before each status answer (under the lock), with the number of that status call.
  void OnStatusCall(std::function<void(int, Task&)> hook) {
    std::lock_guard<std::mutex> lock(mu_);
    hook_ = std::move(hook);
  }
  std::vector<CallRecord> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::size_t call_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.size();
  }
  std::size_t StatusCalls(const std::string& upid) const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::count_if(calls_.begin(), calls_.end(), [&](const CallRecord& c) {
      return c.what == "status" && c.upid == EscapePathSegment(upid);
    });
  }

  void Call(RestRequest request, RestCallback done) override {
    RestResponse response = Answer(request);
    if (!async_) {
      done(std::move(response));
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    queue_.emplace_back(std::move(done), std::move(response));
    cv_.notify_all();
  }
  std::string mode() const override { return "fake"; }

 private:
  RestResponse Answer(const RestRequest& request) {
    std::lock_guard<std::mutex> lock(mu_);
    // /nodes/{node}/tasks/{upid}/{status|log}
    std::vector<std::string> parts = absl::StrSplit(request.path, '/');
    RestResponse r;
    if (parts.size() != 6 || parts[3] != "tasks") {
      r.status = 501;
      r.reason = "unexpected path";
      return r;
    }
    CallRecord record{parts[4], parts[5], "", Clock::now(), request.request_id};
    for (const auto& [k, v] : request.params) {
      if (k == "start") record.start = v;
    }
    calls_.push_back(record);
    if (fail_next_ > 0) {
      --fail_next_;
      r.status = 503;
      r.reason = "Service Unavailable";
      return r;
    }
    auto it = tasks_.find(parts[4]);
    if (it == tasks_.end()) {
      r.status = 400;
      r.reason = "no such task";
      return r;
    }
    Task& t = it->second;
    if (record.what == "status") {
      ++status_calls_;
      if (hook_) hook_(status_calls_, t);
      r.body = absl::StrCat(R"({"data":{"status":")", t.stopped ? "stopped" : "running", "\"",
                            t.stopped ? absl::StrCat(R"(,"exitstatus":")", t.exitstatus, "\"") : "",
                            R"(,"type":"qmcreate","id":"100","user":"root@pam","node":"pve1",)",
                            R"("pid":42,"pstart":305441741,"starttime":1700000000}})");
      return r;
    }
    int start = 0;
    int limit = 50;
    for (const auto& [k, v] : request.params) {
      if (k == "start") start = std::stoi(v);
      if (k == "limit") limit = std::stoi(v);
    }
    std::string rows;
    for (int i = start; i < t.lines && i < start + limit; ++i) {
      absl::StrAppend(&rows, rows.empty() ? "" : ",", R"({"n":)", i + 1 + t.numbering_offset,
                      R"(,"t":"line )", i + 1, "\"}");
    }
    if (t.lines == 0 && start == 0) rows = R"({"n":1,"t":"no content"})";
    r.body = absl::StrCat(R"({"data":[)", rows, "]}");
    return r;
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return quit_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto [done, response] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      done(std::move(response));
      lock.lock();
    }
  }

  const bool async_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Task> tasks_;
  std::vector<CallRecord> calls_;
  int fail_next_ = 0;
  int status_calls_ = 0;
  std::function<void(int, Task&)> hook_;
  std::deque<std::pair<RestCallback, RestResponse>> queue_;
  bool quit_ = false;
  std::thread worker_;
};

// A client stream: records events; acknowledges each write at once, or when told (a slow
// reader).
class RecordingSink : public TaskEventSink {
 public:
  explicit RecordingSink(TaskWatchers& watchers, bool auto_ack = true)
      : watchers_(watchers), auto_ack_(auto_ack) {}

  void Start(WatchSpec spec) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    handle_ = watchers_.Watch(std::move(spec), this);
  }
  void Cancel() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    watchers_.Cancel(handle_);
  }
  // Acknowledges the write in flight, if any.
  bool Ack() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (!in_flight_) return false;
    in_flight_ = false;
    watchers_.WriteDone(handle_, true);
    return true;
  }

  void SendEvent(const TaskEvent& event) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    EXPECT_FALSE(in_flight_) << "two writes in flight";
    EXPECT_FALSE(ended_) << "an event after the end";
    events_.push_back(event);
    in_flight_ = true;
    if (auto_ack_) Ack();
  }
  void End(const TaskEvent* last, const absl::Status& status) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    EXPECT_FALSE(in_flight_) << "ended while a write was in flight";
    EXPECT_FALSE(ended_) << "ended twice";
    if (last != nullptr) last_ = *last;
    status_ = status;
    ended_ = true;
  }

  bool ended() const {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return ended_;
  }
  bool in_flight() const {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return in_flight_;
  }
  absl::Status status() const {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return status_;
  }
  std::vector<TaskEvent> events() const {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return events_;
  }
  std::optional<TaskEvent> last() const {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return last_;
  }
  // Every log line number received, in order.
  std::vector<std::int64_t> Lines() const {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    std::vector<std::int64_t> out;
    for (const auto& e : events_)
      for (const auto& l : e.log()) out.push_back(l.n());
    return out;
  }

 private:
  TaskWatchers& watchers_;
  const bool auto_ack_;
  mutable std::recursive_mutex mu_;
  TaskWatchers::Handle handle_;
  bool in_flight_ = false;
  bool ended_ = false;
  absl::Status status_;
  std::vector<TaskEvent> events_;
  std::optional<TaskEvent> last_;
};

std::vector<std::int64_t> Range(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = from; i <= to; ++i) out.push_back(i);
  return out;
}

WatchSpec Spec(const std::string& upid, bool include_log = true) {
  WatchSpec spec;
  spec.upid = upid;
  spec.node = "pve1";
  spec.include_log = include_log;
  return spec;
}

TaskWatchersOptions Fast(int initial_ms = 20, int max_ms = 160) {
  TaskWatchersOptions o;
  o.poll_initial = milliseconds(initial_ms);
  o.poll_max = milliseconds(max_ms);
  return o;
}

// The fast schedule with at most 10 log lines held per watcher, the log read in pages.
TaskWatchersOptions PendingBoundedAt10(int log_page_lines) {
  TaskWatchersOptions o = Fast();
  o.max_pending_log_lines = 10;
  o.log_page_lines = log_page_lines;
  return o;
}

// The base delays (ms, before jitter) of the polls TaskWatchers plans, from on_schedule.
class ScheduleBases {
 public:
  void Attach(TaskWatchersOptions& o) {
    o.on_schedule = [this](const std::string&, std::chrono::nanoseconds,
                           std::chrono::nanoseconds base) {
      std::lock_guard<std::mutex> lock(mu_);
      bases_.push_back(std::chrono::duration_cast<milliseconds>(base).count());
    };
  }
  // The first `n`, once that many are planned; `sink`'s watch is then cancelled and ended.
  std::vector<std::int64_t> First(std::size_t n, RecordingSink& sink) {
    EXPECT_TRUE(WaitFor([&] {
      std::lock_guard<std::mutex> lock(mu_);
      return bases_.size() >= n;
    }));
    sink.Cancel();
    EXPECT_TRUE(WaitFor([&] { return sink.ended(); }));
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::int64_t> out = bases_;
    out.resize(n);
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::int64_t> bases_;
};

TEST(TaskWatchersTest, PollsFollowTheScheduleWithinJitter) {
  FakeTaskBackend backend;
  const std::string upid = Upid(1);
  backend.AddTask(upid);
  std::mutex mu;
  std::vector<std::pair<std::chrono::nanoseconds, milliseconds>> planned;
  TaskWatchersOptions o = Fast(20, 160);
  o.jitter = 0.2;
  o.on_schedule = [&](const std::string&, std::chrono::nanoseconds delay,
                      std::chrono::nanoseconds base) {
    std::lock_guard<std::mutex> lock(mu);
    planned.emplace_back(delay, std::chrono::duration_cast<milliseconds>(base));
  };
  TaskWatchers watchers(backend, o);
  RecordingSink sink(watchers);
  const auto start = Clock::now();
  sink.Start(Spec(upid, /*include_log=*/false));
  ASSERT_TRUE(WaitFor([&] { return backend.StatusCalls(upid) >= 7; }));
  sink.Cancel();
  ASSERT_TRUE(WaitFor([&] { return sink.ended(); }));

  const auto calls = backend.calls();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GE(planned.size(), 6u);
  std::vector<std::int64_t> bases;
  for (std::size_t i = 0; i < 6; ++i) bases.push_back(planned[i].second.count());
  EXPECT_THAT(bases, testing::ElementsAre(20, 40, 80, 160, 160, 160));
  for (std::size_t i = 0; i < planned.size(); ++i) {
    const double ratio = static_cast<double>(planned[i].first.count()) /
                         static_cast<double>(std::chrono::nanoseconds(planned[i].second).count());
    EXPECT_GE(ratio, 0.8) << i;
    EXPECT_LE(ratio, 1.2) << i;
  }
  // The first poll at once; each next one no sooner than its planned delay.
  EXPECT_LT(calls[0].at - start, milliseconds(2000));
  for (std::size_t i = 1; i < 7; ++i) {
    EXPECT_GE(calls[i].at - calls[i - 1].at, planned[i - 1].first - milliseconds(1)) << i;
  }
  // Only status calls: nobody wants the log.
  for (const auto& c : calls) EXPECT_EQ(c.what, "status");
}

// Requested schedules: never faster than the server's, slower if asked.
TEST(TaskWatchersTest, ClientSchedulesStayWithinTheServersLimits) {
  for (const auto& [initial, max, expected] :
       std::vector<std::tuple<int, int, std::vector<std::int64_t>>>{
           {1, 2, {20, 20, 20}}, {50, 100, {50, 100, 100}}, {0, 0, {20, 40, 80}}}) {
    FakeTaskBackend backend;
    const std::string upid = Upid(20);
    backend.AddTask(upid);
    ScheduleBases bases;
    TaskWatchersOptions o = Fast(20, 160);
    bases.Attach(o);
    TaskWatchers watchers(backend, o);
    RecordingSink sink(watchers);
    WatchSpec spec = Spec(upid, /*include_log=*/false);
    spec.poll_initial = milliseconds(initial);
    spec.poll_max = milliseconds(max);
    sink.Start(spec);
    EXPECT_EQ(bases.First(3, sink), expected) << initial << "/" << max;
  }
}

TEST(TaskWatchersTest, LogGrowthStartsTheScheduleOver) {
  FakeTaskBackend backend;
  const std::string upid = Upid(2);
  backend.AddTask(upid);
  backend.OnStatusCall([](int n, FakeTaskBackend::Task& t) {
    if (n == 4) t.lines = 1;
  });
  ScheduleBases bases;
  TaskWatchersOptions o = Fast(20, 320);
  bases.Attach(o);
  TaskWatchers watchers(backend, o);
  RecordingSink sink(watchers);
  sink.Start(Spec(upid));
  EXPECT_THAT(bases.First(6, sink), testing::ElementsAre(20, 40, 80, 20, 40, 80));
  EXPECT_EQ(sink.Lines(), Range(1, 1));  // "no content" was not a line
}

TEST(TaskWatchersTest, ThousandWatchersOfOneTaskShareOnePoller) {
  FakeTaskBackend backend;
  const std::string upid = Upid(3);
  backend.AddTask(upid);
  TaskWatchers watchers(backend, Fast(50, 200));
  std::vector<std::unique_ptr<RecordingSink>> sinks;
  const auto start = Clock::now();
  for (int i = 0; i < 1000; ++i) {
    sinks.push_back(std::make_unique<RecordingSink>(watchers));
    sinks.back()->Start(Spec(upid));
  }
  ASSERT_TRUE(WaitFor([&] {
    return std::all_of(sinks.begin(), sinks.end(),
                       [](const auto& s) { return !s->events().empty(); });
  }));
  EXPECT_EQ(watchers.stats().pollers, 1);
  EXPECT_EQ(watchers.stats().watchers, 1000);
  for (int line = 1; line <= 3; ++line) {
    backend.Change(upid, [&](auto& t) { t.lines = line; });
    ASSERT_TRUE(WaitFor([&] {
      return std::all_of(sinks.begin(), sinks.end(),
                         [&](const auto& s) { return s->Lines().size() == std::size_t(line); });
    }));
  }
  backend.Change(upid, [](auto& t) {
    t.lines = 4;
    t.stopped = true;
  });
  ASSERT_TRUE(WaitFor([&] {
    return std::all_of(sinks.begin(), sinks.end(), [](const auto& s) { return s->ended(); });
  }));
  const double elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  for (const auto& s : sinks) {
    EXPECT_TRUE(s->status().ok()) << std::string(s->status().message());
    EXPECT_EQ(s->Lines(), Range(1, 4));
    const auto events = s->events();
    ASSERT_FALSE(events.empty());
    EXPECT_TRUE(events.back().final());
    EXPECT_EQ(events.back().exitstatus(), "OK");
    EXPECT_TRUE(events.back().succeeded());
    for (std::size_t i = 0; i + 1 < events.size(); ++i) EXPECT_FALSE(events[i].final());
  }
  const auto stats = watchers.stats();
  EXPECT_EQ(stats.pollers_started, 1u);
  EXPECT_EQ(stats.pollers, 0);
  EXPECT_EQ(stats.watchers, 0);
  // One poller's polls: at most one per 45 ms (initial less jitter) plus the first, however
  // many watchers.
  const std::size_t status_calls = backend.StatusCalls(upid);
  EXPECT_LE(status_calls, 2 + static_cast<std::size_t>(elapsed_ms / 45)) << elapsed_ms;
  EXPECT_LT(status_calls, 100u);
  EXPECT_EQ(stats.backend_calls, backend.call_count());
}

TEST(TaskWatchersTest, HundredTasksHundredPollersAndCancellingStopsPolling) {
  FakeTaskBackend backend;
  TaskWatchers watchers(backend, Fast(20, 80));
  std::vector<std::unique_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 100; ++i) {
    backend.AddTask(Upid(1000 + i));
    sinks.push_back(std::make_unique<RecordingSink>(watchers));
    sinks.back()->Start(Spec(Upid(1000 + i)));
  }
  ASSERT_TRUE(WaitFor([&] {
    return std::all_of(sinks.begin(), sinks.end(),
                       [](const auto& s) { return !s->events().empty(); });
  }));
  EXPECT_EQ(watchers.stats().pollers, 100);
  EXPECT_EQ(watchers.stats().pollers_started, 100u);
  std::set<std::string> polled;
  for (const auto& c : backend.calls()) polled.insert(c.upid);
  EXPECT_EQ(polled.size(), 100u);

  for (auto& s : sinks) s->Cancel();
  ASSERT_TRUE(WaitFor([&] {
    return watchers.stats().pollers == 0 &&
           std::all_of(sinks.begin(), sinks.end(), [](const auto& s) { return s->ended(); });
  }));
  for (const auto& s : sinks) EXPECT_EQ(s->status().code(), absl::StatusCode::kCancelled);
  // No poller left, so no call after a few maximum intervals either.
  const std::size_t calls = backend.call_count();
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(backend.call_count(), calls);
}

TEST(TaskWatchersTest, SlowReaderIsBoundedAndMissesNothing) {
  FakeTaskBackend backend;
  const std::string upid = Upid(4);
  backend.AddTask(upid, {95, true, "OK"});
  TaskWatchers watchers(backend, PendingBoundedAt10(/*log_page_lines=*/7));
  RecordingSink sink(watchers, /*auto_ack=*/false);
  sink.Start(Spec(upid));
  ASSERT_TRUE(WaitFor([&] { return sink.in_flight(); }));
  // Unread: the poller holds back at the bound instead of fetching on; no busy polling.
  ASSERT_TRUE(WaitFor([&] {
    const std::size_t before = backend.call_count();
    std::this_thread::sleep_for(milliseconds(100));
    return backend.call_count() == before;
  }));
  EXPECT_LE(backend.call_count(), 6u);
  EXPECT_EQ(sink.events().size(), 1u);
  while (!sink.ended()) {
    ASSERT_TRUE(WaitFor([&] { return sink.in_flight() || sink.ended(); }));
    sink.Ack();
  }
  EXPECT_TRUE(sink.status().ok());
  EXPECT_EQ(sink.Lines(), Range(1, 95));
  for (const auto& e : sink.events()) EXPECT_LE(e.log_size(), 10);
  EXPECT_TRUE(sink.events().back().final());
}

TEST(TaskWatchersTest, WaitKeepsTheLastLinesOfTheLog) {
  FakeTaskBackend backend;
  const std::string upid = Upid(5);
  backend.AddTask(upid, {95, true, "WARNINGS: 2"});
  TaskWatchers watchers(backend, PendingBoundedAt10(/*log_page_lines=*/30));
  RecordingSink sink(watchers);
  WatchSpec spec = Spec(upid);
  spec.unary = true;
  sink.Start(spec);
  ASSERT_TRUE(WaitFor([&] { return sink.ended(); }));
  ASSERT_TRUE(sink.status().ok()) << std::string(sink.status().message());
  EXPECT_TRUE(sink.events().empty());
  ASSERT_TRUE(sink.last().has_value());
  const TaskEvent last = *sink.last();
  EXPECT_TRUE(last.final());
  EXPECT_TRUE(last.succeeded());
  ASSERT_EQ(last.log_size(), 10);
  EXPECT_EQ(last.log(0).n(), 86);
  EXPECT_EQ(last.log(9).t(), "line 95");
}

TEST(TaskWatchersTest, LogStartSkipsLinesAndAStoppedTaskGivesOneFinalEvent) {
  FakeTaskBackend backend;
  const std::string upid = Upid(6);
  backend.AddTask(upid, {8, true, "some error"});
  TaskWatchers watchers(backend, Fast());
  RecordingSink sink(watchers);
  WatchSpec spec = Spec(upid);
  spec.log_start = 5;
  sink.Start(spec);
  ASSERT_TRUE(WaitFor([&] { return sink.ended(); }));
  EXPECT_TRUE(sink.status().ok());
  ASSERT_EQ(sink.events().size(), 1u);
  EXPECT_TRUE(sink.events()[0].final());
  EXPECT_FALSE(sink.events()[0].succeeded());
  EXPECT_EQ(sink.events()[0].exitstatus(), "some error");
  EXPECT_EQ(sink.Lines(), Range(6, 8));
}

TEST(TaskWatchersTest, ALogThatSkipsLinesIsNotAskedInALoop) {
  FakeTaskBackend backend;
  const std::string upid = Upid(21);
  FakeTask broken{5, true, "OK"};
  broken.numbering_offset = 10;
  backend.AddTask(upid, broken);
  TaskWatchers watchers(backend, Fast(20, 80));
  RecordingSink sink(watchers);
  WatchSpec spec = Spec(upid);
  spec.deadline = Clock::now() + milliseconds(400);
  sink.Start(spec);
  ASSERT_TRUE(WaitFor([&] { return sink.ended(); }));
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(sink.Lines().empty());  // never a line out of order
  // On the schedule (20, 40, 80, 80... ms), not back to back.
  EXPECT_LT(backend.call_count(), 30u);
}

TEST(TaskWatchersTest, DeadlineSendsTheLastStatusThenDeadlineExceeded) {
  FakeTaskBackend backend;
  const std::string upid = Upid(7);
  backend.AddTask(upid, {2, false, ""});
  TaskWatchers watchers(backend, Fast(1000, 30000));
  RecordingSink sink(watchers);
  WatchSpec spec = Spec(upid);
  spec.deadline = Clock::now() + milliseconds(300);
  sink.Start(spec);
  ASSERT_TRUE(WaitFor([&] { return sink.ended(); }));
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kDeadlineExceeded);
  const auto events = sink.events();
  ASSERT_EQ(events.size(), 2u);  // the first at once, the last known status at the deadline
  EXPECT_EQ(events.back().status(), "running");
  EXPECT_FALSE(events.back().final());
  EXPECT_EQ(sink.Lines(), Range(1, 2));
  ASSERT_TRUE(WaitFor([&] { return watchers.stats().pollers == 0; }));
}

TEST(TaskWatchersTest, UnknownTaskIsNotFoundWithProxmoxText) {
  FakeTaskBackend backend;
  TaskWatchers watchers(backend, Fast());
  RecordingSink sink(watchers);
  sink.Start(Spec(Upid(8)));
  ASSERT_TRUE(WaitFor([&] { return sink.ended(); }));
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(sink.status().message()), "no such task");
  EXPECT_TRUE(sink.events().empty());
}

TEST(TaskWatchersTest, TransientFailuresAreRetriedWithinTheSchedule) {
  FakeTaskBackend backend;
  const std::string upid = Upid(9);
  backend.AddTask(upid, {3, true, "OK"});
  backend.FailNext(2);
  TaskWatchersOptions o = Fast();
  o.max_consecutive_failures = 3;
  TaskWatchers watchers(backend, o);
  RecordingSink sink(watchers);
  sink.Start(Spec(upid));
  ASSERT_TRUE(WaitFor([&] { return sink.ended(); }));
  EXPECT_TRUE(sink.status().ok()) << std::string(sink.status().message());
  EXPECT_EQ(sink.Lines(), Range(1, 3));
  EXPECT_EQ(backend.StatusCalls(upid), 3u);
}

TEST(TaskWatchersTest, PersistentFailureIsUnavailable) {
  FakeTaskBackend backend;
  const std::string upid = Upid(10);
  backend.AddTask(upid);
  backend.FailNext(1000);
  TaskWatchersOptions o = Fast();
  o.max_consecutive_failures = 3;
  TaskWatchers watchers(backend, o);
  RecordingSink sink(watchers);
  sink.Start(Spec(upid));
  ASSERT_TRUE(WaitFor([&] { return sink.ended(); }));
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(sink.status().message()), testing::HasSubstr("Service Unavailable"));
  EXPECT_EQ(backend.StatusCalls(upid), 3u);
}

TEST(TaskWatchersTest, AnswersCompletedOnAnotherThreadWork) {
  FakeTaskBackend backend(/*async=*/true);
  const std::string upid = Upid(11);
  backend.AddTask(upid, {1, false, ""});
  TaskWatchers watchers(backend, Fast());
  std::vector<std::unique_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 50; ++i) {
    sinks.push_back(std::make_unique<RecordingSink>(watchers));
    sinks.back()->Start(Spec(upid));
  }
  ASSERT_TRUE(WaitFor([&] {
    return std::all_of(sinks.begin(), sinks.end(),
                       [](const auto& s) { return s->Lines().size() == 1; });
  }));
  backend.Change(upid, [](auto& t) {
    t.lines = 5;
    t.stopped = true;
  });
  ASSERT_TRUE(WaitFor([&] {
    return std::all_of(sinks.begin(), sinks.end(), [](const auto& s) { return s->ended(); });
  }));
  for (const auto& s : sinks) {
    EXPECT_TRUE(s->status().ok());
    EXPECT_EQ(s->Lines(), Range(1, 5));
  }
  EXPECT_EQ(watchers.stats().pollers_started, 1u);
}

TEST(TaskWatchersTest, CloseEndsEveryWatchAndRefusesNewOnes) {
  FakeTaskBackend backend;
  const std::string upid = Upid(12);
  backend.AddTask(upid);
  TaskWatchers watchers(backend, Fast());
  RecordingSink a(watchers);
  a.Start(Spec(upid));
  ASSERT_TRUE(WaitFor([&] { return !a.events().empty(); }));
  watchers.Close(absl::Status(absl::StatusCode::kUnavailable, "shutting down"));
  ASSERT_TRUE(WaitFor([&] { return a.ended(); }));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kUnavailable);
  RecordingSink b(watchers);
  b.Start(Spec(upid));
  ASSERT_TRUE(WaitFor([&] { return b.ended(); }));
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(watchers.stats().pollers, 0);
}

TEST(TaskWatchersTest, PollerCallsCarryTheRequestIdOfTheWatchThatStartedIt) {
  FakeTaskBackend backend;
  const std::string upid = Upid(13);
  backend.AddTask(upid);
  TaskWatchers watchers(backend, Fast());
  RecordingSink first(watchers);
  RecordingSink second(watchers);
  WatchSpec a = Spec(upid);
  a.request_id = "watch-a";
  first.Start(a);
  ASSERT_TRUE(WaitFor([&] { return !first.events().empty(); }));
  WatchSpec b = Spec(upid);
  b.request_id = "watch-b";
  second.Start(b);  // joins the same poller
  ASSERT_TRUE(WaitFor([&] { return !second.events().empty(); }));
  backend.Change(upid, [](FakeTask& t) { t.stopped = true; });
  ASSERT_TRUE(WaitFor([&] { return first.ended() && second.ended(); }));
  const auto calls = backend.calls();
  ASSERT_FALSE(calls.empty());
  for (const auto& c : calls) EXPECT_EQ(c.request_id, "watch-a") << c.what;
  EXPECT_EQ(watchers.stats().pollers_started, 1u);
}

}  // namespace
}  // namespace pvegw::gateway
