// One file on purpose (~790 lines): the poller state machine (status, log pages, backoff,
// watchers joining and leaving) is one unit whose steps call each other on one timer thread.
#include "gateway/task_watchers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json_text.h"
#include "common/status_mapping.h"
#include "common/utf8.h"
#include "gateway/transcoder.h"

namespace pvegw::gateway {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using proxmox::gateway::v1::TaskEvent;
using proxmox::gateway::v1::TaskLogLine;
using std::chrono::milliseconds;

namespace {

class Poller;

constexpr std::int64_t kUnknown = std::numeric_limits<std::int64_t>::max();

struct LogLine {
  std::int64_t n;
  std::string t;
};

std::int64_t AsInt(const json::value* v) {
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  // Out of range (a garbled answer: "pid": 4.9e107) reads as unknown, as a missing value does.
  if (v->is_uint64()) {
    return v->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? static_cast<std::int64_t>(v->get_uint64())
               : 0;
  }
  if (v->is_double()) {
    const double d = v->get_double();
    return std::isfinite(d) && std::fabs(d) < 9.2e18 ? static_cast<std::int64_t>(d) : 0;
  }
  std::int64_t out = 0;
  if (v->is_string()) (void)absl::SimpleAtoi(std::string(v->get_string()), &out);
  return out;
}

std::string AsText(const json::value* v) { return v == nullptr ? "" : JsonText(*v); }

// UP status_is_error: "OK" and "WARNINGS: <n>" are success.
bool Succeeded(const std::string& exitstatus) {
  if (exitstatus == "OK") return true;
  constexpr absl::string_view kWarnings = "WARNINGS: ";
  if (!absl::StartsWith(exitstatus, kWarnings) || exitstatus.size() == kWarnings.size())
    return false;
  return std::all_of(exitstatus.begin() + kWarnings.size(), exitstatus.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// Transient answers are retried within the schedule; anything else ends the watchers.
bool Transient(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded ||
         code == absl::StatusCode::kInternal || code == absl::StatusCode::kUnknown ||
         code == absl::StatusCode::kResourceExhausted;
}

}  // namespace

// One watch. Touched on the timer thread only (after Watch() hands it over).
class TaskWatchers::Watcher {
 public:
  Watcher(WatchSpec s, TaskEventSink* k) : spec(std::move(s)), sink(k) {}

  WatchSpec spec;
  TaskEventSink* sink;
  std::shared_ptr<Poller> poller;  // while it is fed by one
  std::int64_t position = 0;       // log lines received (the next line is position + 1)
  TaskEvent pending;               // status and log lines not yet written
  bool has_pending = false;
  std::size_t pending_bytes = 0;
  std::string sent_status;  // the status of the last event queued
  bool sent_any = false;
  bool write_in_flight = false;
  bool ending = false;    // decided to end; ends once nothing is in flight
  bool finished = false;  // sink->End() called
  absl::Status end_status;
  std::unique_ptr<asio::steady_timer> deadline_timer;
};

using Watcher = TaskWatchers::Watcher;
using Handle = TaskWatchers::Handle;

struct TaskWatchers::Core : std::enable_shared_from_this<TaskWatchers::Core> {
  Core(Backend& b, TaskWatchersOptions o) : backend(b), options(std::move(o)) {
    options.poll_initial = std::max(options.poll_initial, milliseconds(1));
    options.poll_max = std::max(options.poll_max, options.poll_initial);
    options.log_page_lines = std::max(options.log_page_lines, 1);
    options.max_pending_log_lines = std::max(options.max_pending_log_lines, 1);
    options.max_consecutive_failures = std::max(options.max_consecutive_failures, 1);
    if (!options.random) {
      auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
      options.random = [rng] { return std::uniform_real_distribution<double>(0, 1)(*rng); };
    }
  }

  // Runs `fn` on the timer thread unless stopped (then drops it).
  template <typename Fn>
  void Post(Fn&& fn) {
    std::lock_guard<std::mutex> lock(post_mu);
    if (!accepting) return;
    asio::post(io, std::forward<Fn>(fn));
  }

  // Timer thread: the end of a watch.
  void End(Watcher& w, absl::Status status);
  void Flush(const Handle& w);
  void Join(const Handle& w);
  void Guarded(const char* what, const std::function<void()>& fn);

  Backend& backend;
  TaskWatchersOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  std::mutex post_mu;
  bool accepting = true;
  bool closed = false;
  std::atomic<bool> closing{false};  // Close() was called (read from any thread)
  absl::Status close_status;
  std::unordered_map<std::string, std::shared_ptr<Poller>> pollers;
  std::atomic<std::int64_t> watchers{0};
  std::atomic<std::int64_t> active_pollers{0};
  std::atomic<std::uint64_t> pollers_started{0};
  std::atomic<std::uint64_t> backend_calls{0};
};

using Core = TaskWatchers::Core;

namespace {

// Polls one task for all its watchers: status, then the log from the lowest position any
// watcher needs, then hands each watcher what is new to it. Lives on the timer thread.
class Poller : public std::enable_shared_from_this<Poller> {
 public:
  Poller(Core& core, std::string key, const WatchSpec& spec)
      : core_(core),
        key_(std::move(key)),
        upid_(spec.upid),
        identity_(spec.identity),
        request_id_(spec.request_id),
        base_path_(absl::StrCat("/nodes/", EscapePathSegment(spec.node), "/tasks/",
                                EscapePathSegment(spec.upid))),
        timer_(core.io),
        schedule_(core.options.poll_initial, core.options.poll_max) {}

  void Add(const Handle& w);
  void Remove(Watcher* w);
  void Kick();
  void EndAll(const absl::Status& status);

  const TaskEvent* status() const { return have_status_ ? &status_ : nullptr; }
  // A log watcher behind what this poller knows exists (a slow reader, a newcomer).
  bool NeedsLines(const Watcher& w) const {
    return w.spec.include_log && !w.ending && !w.finished &&
           (w.position < log_seen_ || (task_stopped_ && w.position < complete_from_));
  }
  // Stop(): lets go of the watchers and their timers before the io_context goes.
  void DropWatchers() {
    for (const Handle& w : watchers_) {
      w->deadline_timer.reset();
      w->poller.reset();
    }
    watchers_.clear();
    stopped_ = true;
    timer_.cancel();
  }

 private:
  void StartRound();
  void Send(const std::string& suffix, RestParams params, void (Poller::*next)(const RestResult&));
  void OnStatus(const RestResult& result);
  void OnLog(const RestResult& result);
  // Asks for the next page of the log, or delivers the status alone when no watcher wants one.
  void AskLog();
  void OnFailure(const absl::Status& status);
  void Deliver(const std::vector<LogLine>& lines);
  void Update(const Handle& w, const std::vector<LogLine>& lines);
  bool Accepts(const Watcher& w) const;
  bool Complete(const Watcher& w) const;
  // The lowest log position a watcher still needs and can take now; kUnknown: none.
  std::int64_t LogPosition() const;
  void ScheduleNext();
  void Arm(std::chrono::nanoseconds delay);
  void Stop();

  Core& core_;
  const std::string key_;
  const std::string upid_;
  const CallIdentity identity_;
  const std::string request_id_;  // of the watch that started this poller
  const std::string base_path_;
  std::vector<Handle> watchers_;
  asio::steady_timer timer_;
  std::uint64_t timer_seq_ = 0;
  bool timer_armed_ = false;
  Clock::time_point timer_due_;
  bool started_ = false;
  bool stopped_ = false;
  bool in_flight_ = false;
  bool kick_pending_ = false;
  std::uint64_t generation_ = 0;  // bumped on Stop: late answers are dropped
  BackoffSchedule schedule_;
  Clock::time_point last_round_;
  TaskEvent status_;
  std::string status_bytes_;  // status_ serialized: what "changed" compares
  bool have_status_ = false;
  bool task_stopped_ = false;
  std::int64_t log_seen_ = 0;              // highest line number seen
  std::int64_t complete_from_ = kUnknown;  // after the stop: no lines beyond this position
  std::int64_t log_asked_ = 0;             // `start` of the log call in flight
  bool grew_ = false;
  bool more_pages_ = false;
  bool progress_ = false;  // this round moved a watcher on (lines taken, or its end)
  int failures_ = 0;
};

void Poller::Add(const Handle& w) {
  const auto& o = core_.options;
  // Clients may ask for a slower schedule, never a faster one than the server's.
  const milliseconds initial =
      w->spec.poll_initial.count() > 0
          ? std::clamp(w->spec.poll_initial, o.poll_initial, kTaskPollCeiling)
          : o.poll_initial;
  const milliseconds max = w->spec.poll_max.count() > 0
                               ? std::clamp(w->spec.poll_max, initial, kTaskPollCeiling)
                               : std::max(o.poll_max, initial);
  if (watchers_.empty() && !started_) {
    schedule_ = BackoffSchedule(initial, max);
  } else {
    schedule_.Tighten(initial, max);
  }
  w->poller = shared_from_this();
  w->position = w->spec.log_start;
  watchers_.push_back(w);
  if (w->spec.deadline) {
    w->deadline_timer = std::make_unique<asio::steady_timer>(core_.io, *w->spec.deadline);
    std::weak_ptr<Watcher> weak = w;
    Core* core = &core_;
    w->deadline_timer->async_wait([weak, core](const boost::system::error_code& ec) {
      if (ec) return;
      Handle w = weak.lock();
      if (w == nullptr || w->ending || w->finished) return;
      core->Guarded("deadline", [&] {
        // The last known status goes out before the error, even if unchanged.
        if (w->poller != nullptr && w->poller->status() != nullptr && !w->spec.unary) {
          auto* lines = w->pending.mutable_log();
          TaskEvent event = *w->poller->status();
          event.mutable_log()->Swap(lines);
          w->pending = std::move(event);
          w->has_pending = true;
        }
        core->End(*w, absl::Status(absl::StatusCode::kDeadlineExceeded,
                                   absl::StrCat("task ", w->spec.upid,
                                                " is still running at the deadline")));
        core->Flush(w);
      });
    });
  }
  if (!started_) {
    started_ = true;
    StartRound();  // the first poll at once
    return;
  }
  if (have_status_) {
    Update(w, {});
    // Catch the newcomer up (its log position, a fresher status): rate-limited in Kick.
    if (!w->ending) Kick();
  }
}

void Poller::Remove(Watcher* w) {
  auto it = std::find_if(watchers_.begin(), watchers_.end(),
                         [w](const Handle& h) { return h.get() == w; });
  if (it != watchers_.end()) watchers_.erase(it);
  if (watchers_.empty()) Stop();
}

void Poller::Stop() {
  if (stopped_) return;
  stopped_ = true;
  ++generation_;
  timer_.cancel();
  core_.active_pollers.fetch_sub(1);
  // Last: this may destroy the poller (callers hold a reference while they run).
  core_.pollers.erase(key_);
}

void Poller::Kick() {
  if (stopped_) return;
  if (in_flight_) {
    kick_pending_ = true;
    return;
  }
  const Clock::time_point now = Clock::now();
  // While the task runs, kicks (newcomers) cost at most one extra poll per initial interval.
  Clock::time_point earliest = task_stopped_ ? now : last_round_ + schedule_.initial();
  if (earliest < now) earliest = now;
  if (!timer_armed_ || earliest < timer_due_) Arm(earliest - now);
}

void Poller::Arm(std::chrono::nanoseconds delay) {
  const std::uint64_t seq = ++timer_seq_;
  timer_armed_ = true;
  timer_due_ = Clock::now() + delay;
  timer_.expires_at(timer_due_);
  std::weak_ptr<Poller> weak = weak_from_this();
  timer_.async_wait([weak, seq](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = weak.lock();
    if (self == nullptr || self->stopped_ || self->timer_seq_ != seq) return;
    self->core_.Guarded("poll", [&] { self->StartRound(); });
  });
}

void Poller::StartRound() {
  timer_armed_ = false;
  in_flight_ = true;
  grew_ = false;
  more_pages_ = false;
  progress_ = false;
  last_round_ = Clock::now();
  if (!task_stopped_) {
    Send("/status", {}, &Poller::OnStatus);
    return;
  }
  AskLog();
}

void Poller::Send(const std::string& suffix, RestParams params,
                  void (Poller::*next)(const RestResult&)) {
  core_.backend_calls.fetch_add(1, std::memory_order_relaxed);
  RestRequest request{"GET", base_path_ + suffix, std::move(params)};
  request.request_id = request_id_;
  std::weak_ptr<Poller> weak = weak_from_this();
  const std::uint64_t generation = generation_;
  std::shared_ptr<Core> core = core_.shared_from_this();
  // The answer may come inline (mock) or later on a backend thread (real): either way it is
  // handled on the timer thread, after this round's code has returned.
  auto done = [core, weak, generation, next](RestResult response) {
    core->Post([weak, generation, next, response = std::move(response)] {
      auto self = weak.lock();
      if (self == nullptr || self->stopped_ || self->generation_ != generation) return;
      self->core_.Guarded("task answer", [&] { ((*self).*next)(response); });
    });
  };
  try {
    core_.backend.CallAs(identity_, std::move(request), std::move(done));
  } catch (const std::exception& e) {
    OnFailure(absl::Status(absl::StatusCode::kInternal, absl::StrCat("backend: ", e.what())));
  }
}

// Proxmox's `data` of an answer as the JSON kind a task endpoint sends (`what` and `upid`
// name it in the error), or why there is none: no answer, an error answer, or another shape.
absl::StatusOr<json::value> AnswerData(const RestResult& result, json::kind want,
                                       absl::string_view what, absl::string_view upid) {
  if (!result.ok()) return result.status();
  if (absl::Status st = StatusFromRest(*result); !st.ok()) return st;
  json::error_code ec;
  json::value body = json::parse(result->body, ec);
  const json::value* d = !ec && body.is_object() ? body.get_object().if_contains("data") : nullptr;
  if (d == nullptr || d->kind() != want) {
    return absl::Status(
        absl::StatusCode::kInternal,
        absl::StrCat(what, upid, ": not a JSON ", want == json::kind::object ? "object" : "array"));
  }
  return *d;
}

void Poller::OnStatus(const RestResult& result) {
  absl::StatusOr<json::value> answer =
      AnswerData(result, json::kind::object, "task status of ", upid_);
  if (!answer.ok()) {
    OnFailure(answer.status());
    return;
  }
  const json::object* data = &answer->get_object();
  failures_ = 0;
  TaskEvent st;
  st.set_upid(data->contains("upid") ? AsText(data->if_contains("upid")) : upid_);
  st.set_node(AsText(data->if_contains("node")));
  st.set_status(AsText(data->if_contains("status")));
  st.set_exitstatus(AsText(data->if_contains("exitstatus")));
  st.set_type(AsText(data->if_contains("type")));
  st.set_id(AsText(data->if_contains("id")));
  st.set_user(AsText(data->if_contains("user")));
  st.set_tokenid(AsText(data->if_contains("tokenid")));
  st.set_pid(static_cast<std::uint32_t>(AsInt(data->if_contains("pid"))));
  st.set_pstart(AsInt(data->if_contains("pstart")));
  st.set_starttime(AsInt(data->if_contains("starttime")));
  st.set_endtime(AsInt(data->if_contains("endtime")));
  if (st.status() == "stopped") {
    task_stopped_ = true;
    st.set_succeeded(Succeeded(st.exitstatus()));
  }
  status_ = std::move(st);
  status_bytes_ = status_.SerializeAsString();
  have_status_ = true;
  AskLog();
}

void Poller::AskLog() {
  const std::int64_t position = LogPosition();
  if (position == kUnknown) {
    Deliver({});
    return;
  }
  log_asked_ = position;
  Send("/log",
       {{"start", absl::StrCat(position)}, {"limit", absl::StrCat(core_.options.log_page_lines)}},
       &Poller::OnLog);
}

void Poller::OnLog(const RestResult& result) {
  absl::StatusOr<json::value> answer = AnswerData(result, json::kind::array, "task log of ", upid_);
  if (!answer.ok()) {
    OnFailure(answer.status());
    return;
  }
  const json::array* data = &answer->get_array();
  failures_ = 0;
  std::vector<LogLine> lines;
  lines.reserve(data->size());
  for (const json::value& row : *data) {
    if (!row.is_object()) continue;
    lines.push_back(
        {AsInt(row.get_object().if_contains("n")),
         CutUtf8(AsText(row.get_object().if_contains("t")), core_.options.max_log_line_bytes)});
  }
  // Proxmox answers an empty log as one line "no content"; while the task runs the real
  // first line may still come, so that placeholder is not a line yet.
  if (!task_stopped_ && log_asked_ == 0 && lines.size() == 1 && lines[0].n == 1 &&
      lines[0].t == "no content") {
    lines.clear();
  }
  const bool full = static_cast<int>(data->size()) >= core_.options.log_page_lines;
  for (const LogLine& l : lines) {
    if (l.n > log_seen_) {
      log_seen_ = l.n;
      grew_ = true;
    }
  }
  if (task_stopped_ && !full) {
    // The task had stopped before this call: its log is complete.
    complete_from_ =
        lines.empty() ? std::min(complete_from_, log_asked_) : std::max(lines.back().n, log_asked_);
  }
  more_pages_ = full;
  Deliver(lines);
}

void Poller::OnFailure(const absl::Status& status) {
  in_flight_ = false;
  if (!Transient(status.code())) {
    // Unknown task (NOT_FOUND with Proxmox's text), no permission, ...
    EndAll(status);
    return;
  }
  ++failures_;
  if (failures_ >= core_.options.max_consecutive_failures) {
    EndAll(absl::Status(absl::StatusCode::kUnavailable,
                        absl::StrCat("task ", upid_, ": the upstream failed ", failures_,
                                     " times in a row: ", std::string(status.message()))));
    return;
  }
  spdlog::debug("task poll failed ({} of {}), retrying: {}", failures_,
                core_.options.max_consecutive_failures, std::string(status.message()));
  ScheduleNext();
}

void Poller::EndAll(const absl::Status& status) {
  auto self = shared_from_this();
  const std::vector<Handle> watchers = watchers_;
  for (const Handle& w : watchers) {
    core_.End(*w, status);
    core_.Flush(w);
  }
}

bool Poller::Accepts(const Watcher& w) const {
  if (w.spec.unary) return true;  // keeps the tail instead
  return w.pending.log_size() < core_.options.max_pending_log_lines &&
         w.pending_bytes < core_.options.max_pending_log_bytes;
}

bool Poller::Complete(const Watcher& w) const {
  return task_stopped_ && (!w.spec.include_log || w.position >= complete_from_);
}

std::int64_t Poller::LogPosition() const {
  std::int64_t position = kUnknown;
  for (const Handle& w : watchers_) {
    if (!w->spec.include_log || w->ending || Complete(*w) || !Accepts(*w)) continue;
    position = std::min(position, w->position);
  }
  return position;
}

void Poller::Deliver(const std::vector<LogLine>& lines) {
  auto self = shared_from_this();
  in_flight_ = false;
  const std::vector<Handle> watchers = watchers_;
  for (const Handle& w : watchers) Update(w, lines);
  ScheduleNext();
}

void Poller::Update(const Handle& w, const std::vector<LogLine>& lines) {
  if (w->ending || w->finished || !have_status_) return;
  Watcher& x = *w;
  bool changed = false;
  if (!x.sent_any || status_bytes_ != x.sent_status) {
    x.sent_status = status_bytes_;
    x.sent_any = true;
    changed = true;
  }
  if (x.spec.include_log) {
    const auto& o = core_.options;
    for (const LogLine& l : lines) {
      if (l.n <= x.position) continue;   // it has this one
      if (l.n != x.position + 1) break;  // a gap: never skip a line
      if (!Accepts(x)) break;            // slow reader: fetched again later
      TaskLogLine* out = x.pending.add_log();
      out->set_n(static_cast<std::int32_t>(l.n));
      out->set_t(l.t);
      x.pending_bytes += l.t.size() + 16;
      x.position = l.n;
      changed = true;
      progress_ = true;
      if (x.spec.unary && x.pending.log_size() > o.max_pending_log_lines) {
        x.pending_bytes -= x.pending.log(0).t().size() + 16;
        x.pending.mutable_log()->DeleteSubrange(0, 1);
      }
    }
  }
  if (changed) {
    // The newest status; the log lines not yet written stay.
    TaskEvent event = status_;
    event.mutable_log()->Swap(x.pending.mutable_log());
    x.pending = std::move(event);
    x.has_pending = true;
  }
  if (Complete(x)) {
    progress_ = true;
    x.pending.set_final(true);
    x.has_pending = true;
    core_.End(x, absl::OkStatus());
  }
  core_.Flush(w);
}

void Poller::ScheduleNext() {
  if (stopped_) return;
  if (watchers_.empty()) {
    Stop();
    return;
  }
  const bool wants_more = more_pages_ || (task_stopped_ && LogPosition() != kUnknown);
  if (wants_more && progress_) {
    Arm(std::chrono::nanoseconds(0));  // the rest of the log
    return;
  }
  // Slow readers left after the end are kicked by WriteDone. A round that moved nobody on
  // (a log that does not number its lines as asked) falls back to the schedule rather than
  // asking again at once.
  if (task_stopped_ && !wants_more) return;
  if (grew_) schedule_.Reset();
  const milliseconds base = schedule_.Next();
  const std::chrono::nanoseconds delay =
      Jittered(base, core_.options.jitter, core_.options.random());
  if (core_.options.on_schedule) core_.options.on_schedule(upid_, delay, base);
  Arm(delay);
  if (kick_pending_) {
    kick_pending_ = false;
    Kick();
  }
}

}  // namespace

void Core::Guarded(const char* what, const std::function<void()>& fn) {
  // Nothing thrown may escape into asio; a bug ends up in the log, not in a crash.
  try {
    fn();
  } catch (const std::exception& e) {
    spdlog::error("task watchers: {}: {}", what, e.what());
  }
}

void Core::End(Watcher& w, absl::Status status) {
  if (w.ending || w.finished) return;
  w.ending = true;
  w.end_status = std::move(status);
  w.deadline_timer.reset();
  if (auto poller = std::move(w.poller)) poller->Remove(&w);
}

void Core::Flush(const Handle& w) {
  if (w->finished || w->write_in_flight) return;
  if (w->spec.unary) {
    if (!w->ending) return;
    w->finished = true;
    watchers.fetch_sub(1);
    w->sink->End(w->has_pending && w->end_status.ok() ? &w->pending : nullptr, w->end_status);
    return;
  }
  if (w->has_pending) {
    w->write_in_flight = true;
    w->has_pending = false;
    w->pending_bytes = 0;
    TaskEvent event = std::move(w->pending);
    w->pending.Clear();
    w->sink->SendEvent(event);
    return;
  }
  if (w->ending) {
    w->finished = true;
    watchers.fetch_sub(1);
    w->sink->End(nullptr, w->end_status);
  }
}

void Core::Join(const Handle& w) {
  if (closed) {
    End(*w, close_status);
    Flush(w);
    return;
  }
  const std::string key =
      absl::StrCat(w->spec.identity.ShareKey(), "\n", w->spec.node, "\n", w->spec.upid);
  std::shared_ptr<Poller>& poller = pollers[key];
  if (poller == nullptr) {
    poller = std::make_shared<Poller>(*this, key, w->spec);
    active_pollers.fetch_add(1);
    pollers_started.fetch_add(1);
  }
  std::shared_ptr<Poller> keep = poller;
  keep->Add(w);
}

TaskWatchers::TaskWatchers(Backend& backend, TaskWatchersOptions options)
    : core_(std::make_shared<Core>(backend, std::move(options))) {
  Core* core = core_.get();
  core_->thread = std::thread([core] {
    for (;;) {
      try {
        core->io.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("task watchers: {}", e.what());
      }
    }
  });
}

TaskWatchers::~TaskWatchers() { Stop(); }

TaskWatchers::Handle TaskWatchers::Watch(WatchSpec spec, TaskEventSink* sink) {
  auto w = std::make_shared<Watcher>(std::move(spec), sink);
  core_->watchers.fetch_add(1);
  Core* core = core_.get();
  bool posted = false;
  {
    std::lock_guard<std::mutex> lock(core->post_mu);
    if (core->accepting) {
      asio::post(core->io, [core, w] { core->Guarded("watch", [&] { core->Join(w); }); });
      posted = true;
    }
  }
  if (!posted) {
    core_->watchers.fetch_sub(1);
    w->finished = true;
    sink->End(nullptr, absl::Status(absl::StatusCode::kUnavailable, "the gateway is stopping"));
  }
  return w;
}

void TaskWatchers::WriteDone(const Handle& watcher, bool ok) {
  Core* core = core_.get();
  core->Post([core, w = watcher, ok] {
    core->Guarded("write done", [&] {
      w->write_in_flight = false;
      if (!ok) {
        // The client is gone; what was pending cannot be sent either.
        w->has_pending = false;
        w->pending.Clear();
        core->End(*w, absl::Status(absl::StatusCode::kCancelled, "the client went away"));
      }
      std::shared_ptr<Poller> poller = w->poller;
      core->Flush(w);
      // A slow reader that caught up may need the lines it could not take.
      if (poller != nullptr && poller->NeedsLines(*w)) poller->Kick();
    });
  });
}

void TaskWatchers::Cancel(const Handle& watcher) {
  Core* core = core_.get();
  core->Post([core, w = watcher] {
    core->Guarded("cancel", [&] {
      w->has_pending = false;
      w->pending.Clear();
      core->End(*w, absl::Status(absl::StatusCode::kCancelled, "cancelled by the client"));
      core->Flush(w);
    });
  });
}

void TaskWatchers::Close(const absl::Status& status) {
  Core* core = core_.get();
  core->closing = true;
  core->Post([core, status] {
    core->Guarded("close", [&] {
      core->closed = true;
      core->close_status = status;
      std::vector<std::shared_ptr<Poller>> pollers;
      for (auto& [key, p] : core->pollers) pollers.push_back(p);
      for (auto& p : pollers) p->EndAll(status);
    });
  });
}

bool TaskWatchers::closing() const { return core_->closing.load(); }

void TaskWatchers::Stop() {
  {
    std::lock_guard<std::mutex> lock(core_->post_mu);
    if (!core_->accepting) return;
    core_->accepting = false;
  }
  core_->work.reset();
  core_->io.stop();
  if (core_->thread.joinable()) core_->thread.join();
  // Asio objects must go before the io_context; watchers may outlive this (their handles).
  std::vector<std::shared_ptr<Poller>> pollers;
  for (auto& [key, p] : core_->pollers) pollers.push_back(p);
  core_->pollers.clear();
  for (auto& p : pollers) p->DropWatchers();
  core_->active_pollers.store(0);
}

TaskWatchers::Stats TaskWatchers::stats() const {
  Stats s;
  s.watchers = core_->watchers.load();
  s.pollers = core_->active_pollers.load();
  s.pollers_started = core_->pollers_started.load();
  s.backend_calls = core_->backend_calls.load();
  return s;
}

const TaskWatchersOptions& TaskWatchers::options() const { return core_->options; }

}  // namespace pvegw::gateway
