#include "common/backoff.h"

#include <cstdint>

namespace pvegw {

using std::chrono::milliseconds;

milliseconds ExponentialDelay(milliseconds base, milliseconds cap, int attempt) {
  if (base <= milliseconds(0)) return milliseconds(0);
  milliseconds d = base;
  for (int i = 0; i < attempt && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

std::chrono::nanoseconds FullJitter(milliseconds ceiling, double u) {
  u = std::clamp(u, 0.0, 1.0);
  return std::chrono::nanoseconds(static_cast<std::int64_t>(
      static_cast<double>(std::chrono::nanoseconds(ceiling).count()) * u));
}

std::chrono::nanoseconds Jittered(milliseconds base, double jitter, double u) {
  jitter = std::clamp(jitter, 0.0, 1.0);
  u = std::clamp(u, 0.0, 1.0);
  const double factor = 1.0 - jitter + 2.0 * jitter * u;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(
      static_cast<double>(std::chrono::nanoseconds(base).count()) * factor));
}

BackoffSchedule::BackoffSchedule(milliseconds initial, milliseconds max)
    : initial_(std::max(initial, milliseconds(1))),
      max_(std::max(max, initial_)),
      next_(initial_) {}

milliseconds BackoffSchedule::Next() {
  const milliseconds now = next_;
  next_ = std::min(next_ * 2, max_);
  return now;
}

void BackoffSchedule::Tighten(milliseconds initial, milliseconds max) {
  initial_ = std::max(std::min(initial_, initial), milliseconds(1));
  max_ = std::max(std::min(max_, max), initial_);
  next_ = std::clamp(next_, initial_, max_);
}

}  // namespace pvegw
