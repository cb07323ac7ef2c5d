// Backoff with jitter, one implementation for every retry loop: task polls (a doubling
// schedule with proportional jitter), upstream GET retries (full jitter) and resting a
// failed Proxmox node (capped doubling).
#ifndef PVEGW_COMMON_BACKOFF_H_
#define PVEGW_COMMON_BACKOFF_H_

#include <algorithm>
#include <chrono>

namespace pvegw {

// base * 2^attempt, at most `cap` (attempt 0 is `base`).
std::chrono::milliseconds ExponentialDelay(std::chrono::milliseconds base,
                                           std::chrono::milliseconds cap, int attempt);

// Full jitter: a uniform wait in [0, ceiling), u in [0, 1).
std::chrono::nanoseconds FullJitter(std::chrono::milliseconds ceiling, double u);

// `base` scaled by (1 - jitter + 2 * jitter * u), u in [0, 1): within +-jitter of base.
std::chrono::nanoseconds Jittered(std::chrono::milliseconds base, double jitter, double u);

// 1, 2, 4, 8, 16, 30 s: the interval doubles from `initial` up to `max`; Reset() starts over.
class BackoffSchedule {
 public:
  BackoffSchedule(std::chrono::milliseconds initial, std::chrono::milliseconds max);
  std::chrono::milliseconds Next();
  void Reset() { next_ = initial_; }
  // Faster limits take effect from the next interval.
  void Tighten(std::chrono::milliseconds initial, std::chrono::milliseconds max);
  std::chrono::milliseconds initial() const { return initial_; }
  std::chrono::milliseconds max() const { return max_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds next_;
};

}  // namespace pvegw

#endif  // PVEGW_COMMON_BACKOFF_H_
