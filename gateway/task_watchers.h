// Following Proxmox tasks: every watcher of one UPID (per upstream identity) is fed by one
// shared poller with a backoff schedule, on one timer thread (DESIGN.md §6).
#ifndef PVEGW_GATEWAY_TASK_WATCHERS_H_
#define PVEGW_GATEWAY_TASK_WATCHERS_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/backoff.h"
#include "gateway/backend/backend.h"
#include "proxmox/gateway/v1/tasks.pb.h"

namespace pvegw::gateway {

inline constexpr std::chrono::milliseconds kDefaultTaskPollInitial{1000};
inline constexpr std::chrono::milliseconds kDefaultTaskPollMax{30000};
// The slowest schedule a client may ask for.
inline constexpr std::chrono::milliseconds kTaskPollCeiling{600000};

struct TaskWatchersOptions {
  // First interval after the immediate first poll; it doubles up to `poll_max`. Also the
  // fastest a client may ask for.
  std::chrono::milliseconds poll_initial = kDefaultTaskPollInitial;
  std::chrono::milliseconds poll_max = kDefaultTaskPollMax;
  // Each interval is multiplied by a uniform factor in [1 - jitter, 1 + jitter].
  double jitter = 0.1;
  // Transient upstream failures (UNAVAILABLE, timeouts, 5xx) in a row before the watchers
  // end UNAVAILABLE. With the default schedule six attempts span about a minute.
  int max_consecutive_failures = 6;
  // Lines asked for per log call (Proxmox's `limit`).
  int log_page_lines = 500;
  // A stream's unsent log lines are bounded: beyond either limit its position stops
  // advancing and the lines are fetched again once the reader catches up (never dropped).
  // A WaitTask answer keeps the last `max_pending_log_lines` lines instead.
  int max_pending_log_lines = 1000;
  std::size_t max_pending_log_bytes = 256 << 10;
  // Longer log lines are cut (at a UTF-8 boundary).
  std::size_t max_log_line_bytes = 8 << 10;
  // Tests and metrics: every delay a poller schedules (`base` before jitter), timer thread.
  std::function<void(const std::string& upid, std::chrono::nanoseconds delay,
                     std::chrono::nanoseconds base)>
      on_schedule;
  // Uniform in [0, 1) for the jitter; unset: a seeded PRNG.
  std::function<double()> random;
};

// One watch, validated (tasks_service.cc builds it from a request).
struct WatchSpec {
  std::string upid;       // canonical spelling
  std::string node;       // node to ask
  CallIdentity identity;  // Backend::Identity of the caller
  // The caller's request id: the poller this watch starts sends it with its calls.
  std::string request_id;
  bool include_log = false;
  std::int64_t log_start = 0;  // lines to skip
  // Requested schedule; zero: the server's. Clamped to the server's limits.
  std::chrono::milliseconds poll_initial{0};
  std::chrono::milliseconds poll_max{0};
  // Monotonic; the watch ends DEADLINE_EXCEEDED there if the task still runs.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // WaitTask: no events, only the final answer.
  bool unary = false;
};

// Where one watcher's events go (a gRPC reactor). Called on the timer thread only.
class TaskEventSink {
 public:
  virtual ~TaskEventSink() = default;
  // One event. At most one is in flight: the next waits for TaskWatchers::WriteDone.
  virtual void SendEvent(const proxmox::gateway::v1::TaskEvent& event) = 0;
  // Ends the watch, never while an event is in flight; `last` is the answer of a unary watch
  // (null otherwise, or when there is none). Nothing is called on the sink afterwards.
  virtual void End(const proxmox::gateway::v1::TaskEvent* last, const absl::Status& status) = 0;
};

// Owns the pollers and their timer thread (one small asio io_context). Pollers call the
// backend through Backend::CallAs from that thread and never wait for it: answers are posted
// back whenever and wherever the backend completes them. Thread-safe.
class TaskWatchers {
 public:
  class Watcher;
  using Handle = std::shared_ptr<Watcher>;

  struct Stats {
    std::int64_t watchers = 0;  // open watches
    std::int64_t pollers = 0;   // running pollers
    std::uint64_t pollers_started = 0;
    std::uint64_t backend_calls = 0;  // status and log calls made
  };

  TaskWatchers(Backend& backend, TaskWatchersOptions options);
  ~TaskWatchers();
  TaskWatchers(const TaskWatchers&) = delete;
  TaskWatchers& operator=(const TaskWatchers&) = delete;

  // Starts a watch. `sink` must stay valid until its End() has been called.
  Handle Watch(WatchSpec spec, TaskEventSink* sink);
  // The sink's event was written (`ok`) or could not be (the client is gone).
  void WriteDone(const Handle& watcher, bool ok);
  // The client went away: the watcher leaves its poller at once and ends CANCELLED.
  void Cancel(const Handle& watcher);
  // Ends every watch with `status` and every later one too (server shutdown).
  void Close(const absl::Status& status);
  // Whether Close() has been called (the server is shutting down).
  bool closing() const;
  // Stops the timer thread. Call once every watch has ended and before the backend goes.
  void Stop();

  Stats stats() const;
  const TaskWatchersOptions& options() const;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_TASK_WATCHERS_H_
