// Rate limit for repeated identical log lines, so an outage under load writes the state
// changes and a count, not one line per failed call.
#ifndef PVEGW_COMMON_LOG_LIMITER_H_
#define PVEGW_COMMON_LOG_LIMITER_H_

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/log.h"

namespace pvegw::log {

// Lines are grouped by a caller-chosen key (what makes two failures "the same": an
// upstream and its error, a gRPC code and its message). The first line of a key is written;
// more of that key within `window` are only counted. The next one written after the window
// A window that held lines back ends with one summary line, the first line again with
// "(and 2,311 more in the last 10 s)" and a field `repeated`, written by the next Log() call
// of any key after the window, or by Flush(). So a key writes at most two lines per window.
// When the logger runs at debug (or trace) level nothing is held back. Thread-safe; at most
// `max_keys` keys are tracked (beyond, lines are written).
class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogLimiter(Clock::duration window = std::chrono::seconds(10),
                      std::size_t max_keys = 256);
  ~LogLimiter();  // flushes pending counts

  // Writes `message` with `fields` at `level` unless held back (see the class comment).
  // Returns true when the line was written.
  bool Log(spdlog::level::level_enum level, absl::string_view key, absl::string_view message,
           absl::Span<const Field> fields);
  bool Log(spdlog::level::level_enum level, absl::string_view key, absl::string_view message) {
    return Log(level, key, message, {});
  }
  // Writes the summary line of every key with held-back lines and forgets every key. For a
  // state change, so the count lands before the line that ends it.
  void Flush();

  // For tests: a clock to read instead of the steady clock.
  void SetClockForTest(Clock::time_point (*now)()) { now_ = now; }

 private:
  struct Entry {
    Clock::time_point window_start;
    std::uint64_t held = 0;  // lines of this key not written since window_start
    spdlog::level::level_enum level = spdlog::level::warn;
    // The first written line of the window, repeated by its summary line.
    std::string message;
    std::vector<std::pair<std::string, Field>> fields;  // owned keys (Field only views its key)
  };
  // Writes the summary lines of expired windows; called with mu_ held.
  void FlushExpiredLocked(Clock::time_point now, bool all);

  const Clock::duration window_;
  const std::size_t max_keys_;
  Clock::time_point (*now_)() = &Clock::now;
  std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
};

// "2311" -> "2,311": counts in log lines, read by people.
std::string WithThousands(std::uint64_t n);

}  // namespace pvegw::log

#endif  // PVEGW_COMMON_LOG_LIMITER_H_
