// Prometheus metrics: a small registry rendered in the text exposition format 0.0.4.
// Counters, gauges and fixed-bucket histograms are lock-free atomics on the hot path;
// labelled children are created once (under a lock) and then used through a stable
// reference. Values kept elsewhere (pool sizes, statistics) are read at scrape time by
// callbacks.
#ifndef PVEGW_COMMON_METRICS_H_
#define PVEGW_COMMON_METRICS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace pvegw::metrics {

// The Content-Type of Render()'s output.
inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Monotonic count (name ends in _total).
class Counter {
 public:
  void Increment(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down (whole numbers: calls in flight, open streams).
class Gauge {
 public:
  void Add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void Set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Observations in fixed buckets (upper bounds, ascending); +Inf is implicit.
class Histogram {
 public:
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 0.5 ms to 30 s.
std::vector<double> LatencyBuckets();

enum class Type { kCounter, kGauge, kHistogram };

// One metric name with fixed label names and any number of children (one per label values).
template <typename T>
class Family {
 public:
  // The child for `values` (one per label name), created on first use. The reference stays
  // valid as long as the registry. Cheap enough for start-up or a first use, not per call:
  // keep the reference.
  T& Labels(std::vector<std::string> values);
  // The only child of a family without labels.
  T& Get() { return Labels({}); }

  // Label values and child, sorted by values; for rendering.
  void ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& fn) const;
  std::size_t label_count() const { return label_names_.size(); }

 private:
  friend class Registry;
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<T>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// What a callback metric reports at scrape time: label values (one per label name) and value.
struct Sample {
  std::vector<std::string> labels;
  double value = 0;
};
using Collect = std::function<void(std::vector<Sample>& out)>;

// Metric families in registration order. Thread-safe: families and children may be added
// while another thread renders.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Names follow Prometheus' rules ([a-zA-Z_:][a-zA-Z0-9_:]*); a character outside them
  // becomes '_'. Registering a name twice returns the first family (types must agree).
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names, std::vector<double> bounds);
  // A counter or gauge family whose samples `collect` produces on every scrape (it runs on
  // the scraping thread and must not call back into the registry).
  void AddCallback(std::string name, std::string help, Type type,
                   std::vector<std::string> label_names, Collect collect);

  // The text exposition format, version 0.0.4.
  std::string Render() const;

 private:
  struct Entry;
  Entry* Find(const std::string& name) const;
  Entry& Add(std::string name, std::string help, Type type, std::vector<std::string> labels);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

// Escaping of the text format: HELP text (backslash, newline) and label values (backslash,
// double quote, newline).
std::string EscapeHelp(absl::string_view text);
std::string EscapeLabelValue(absl::string_view text);
// A sample value: integers without a fraction, others in the shortest exact form, NaN,
// +Inf, -Inf.
std::string FormatValue(double value);

// process_start_time_seconds, process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds (Prometheus' standard process metrics), read from /proc/self at scrape.
void AddProcessMetrics(Registry& registry);

// --- templates ---------------------------------------------------------------------------

template <typename T>
T& Family<T>::Labels(std::vector<std::string> values) {
  // Our own code passes the values; a wrong count must still never crash a scrape.
  values.resize(label_names_.size());
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<T>& child = children_[std::move(values)];
  if (child == nullptr) child = make_();
  return *child;
}

template <typename T>
void Family<T>::ForEach(
    const std::function<void(const std::vector<std::string>&, const T&)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, child] : children_) fn(values, *child);
}

}  // namespace pvegw::metrics

#endif  // PVEGW_COMMON_METRICS_H_
