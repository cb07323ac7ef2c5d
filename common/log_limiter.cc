#include "common/log_limiter.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace pvegw::log {
namespace {

std::string HeldText(std::uint64_t held, LogLimiter::Clock::duration span) {
  const double seconds = std::chrono::duration<double>(span).count();
  return absl::StrCat(WithThousands(held), " more in the last ",
                      static_cast<std::int64_t>(std::ceil(seconds)), " s");
}

}  // namespace

std::string WithThousands(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

LogLimiter::LogLimiter(Clock::duration window, std::size_t max_keys)
    : window_(window), max_keys_(max_keys) {}

LogLimiter::~LogLimiter() { Flush(); }

bool LogLimiter::Log(spdlog::level::level_enum level, absl::string_view key,
                     absl::string_view message, absl::Span<const Field> fields) {
  if (!spdlog::should_log(level)) return false;
  // At debug level an operator asked for every line.
  if (spdlog::should_log(spdlog::level::debug)) {
    log::Log(level, message, fields);
    return true;
  }
  std::unique_lock<std::mutex> lock(mu_);
  const Clock::time_point now = now_();
  FlushExpiredLocked(now, false);
  if (entries_.count(key) != 0) {  // within its window: FlushExpiredLocked erased the others
    ++entries_.find(key)->second.held;
    return false;
  }
  if (entries_.size() < max_keys_) {
    Entry fresh;
    fresh.window_start = now;
    fresh.level = level;
    fresh.message = std::string(message);
    for (const Field& f : fields) {
      fresh.fields.emplace_back(std::string(f.key()), f);
    }
    entries_.emplace(std::string(key), std::move(fresh));
  }
  lock.unlock();
  log::Log(level, message, fields);
  return true;
}

void LogLimiter::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  FlushExpiredLocked(now_(), true);
}

void LogLimiter::FlushExpiredLocked(Clock::time_point now, bool all) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    const bool expired = now - e.window_start >= window_;
    if (!all && !expired) {
      ++it;
      continue;
    }
    if (e.held > 0) {
      std::vector<Field> fields;
      fields.reserve(e.fields.size() + 1);
      for (const auto& [name, f] : e.fields) {
        fields.push_back(f.is_number() ? Field(name, f.number()) : Field(name, f.text()));
      }
      fields.emplace_back("repeated", static_cast<std::int64_t>(e.held));
      // Written with mu_ held: spdlog's sinks have their own lock and never call back here.
      log::Log(e.level,
               absl::StrCat(e.message, " (and ", HeldText(e.held, now - e.window_start), ")"),
               fields);
    }
    it = entries_.erase(it);
  }
}

}  // namespace pvegw::log
