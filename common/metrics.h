// Prometheus metrics on prometheus-cpp (Debian's prometheus-cpp-dev): a thin facade that
// keeps the gateway's small interface (families with fixed label names, children reached
// through stable references, callbacks read at scrape time) over prometheus-cpp's registry,
// counters, gauges and histograms. A child is created once per label values (under a lock)
// and then used through its reference: the per-call path is prometheus-cpp's own atomic
// update, with no label lookup. Values kept elsewhere (pool sizes, statistics) are read at
// scrape time by callbacks, exposed through a prometheus::Collectable.
#ifndef PVEGW_COMMON_METRICS_H_
#define PVEGW_COMMON_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

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

// Monotonic count (name ends in _total). prometheus-cpp keeps a double: exact up to 2^53.
class Counter {
 public:
  explicit Counter(prometheus::Counter& counter) : counter_(&counter) {}
  void Increment(std::uint64_t n = 1) { counter_->Increment(static_cast<double>(n)); }
  std::uint64_t value() const { return static_cast<std::uint64_t>(counter_->Value()); }

 private:
  prometheus::Counter* counter_;
};

// A value that goes up and down (whole numbers: calls in flight, open streams).
class Gauge {
 public:
  explicit Gauge(prometheus::Gauge& gauge) : gauge_(&gauge) {}
  void Add(std::int64_t n) { gauge_->Increment(static_cast<double>(n)); }
  void Set(std::int64_t v) { gauge_->Set(static_cast<double>(v)); }
  std::int64_t value() const { return static_cast<std::int64_t>(gauge_->Value()); }

 private:
  prometheus::Gauge* gauge_;
};

// Observations in fixed buckets (upper bounds, ascending); +Inf is implicit.
class Histogram {
 public:
  Histogram(prometheus::Histogram& histogram, std::shared_ptr<const std::vector<double>> bounds)
      : histogram_(&histogram), bounds_(std::move(bounds)) {}
  void Observe(double value) { histogram_->Observe(value); }

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  prometheus::Histogram* histogram_;
  std::shared_ptr<const std::vector<double>> bounds_;
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
  std::size_t label_count() const { return label_names_.size(); }

 private:
  friend class Registry;
  // `make` creates the prometheus-cpp child for a label set and wraps it.
  Family(std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>(const prometheus::Labels&)> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<T>(const prometheus::Labels&)> make_;
  std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// What a callback metric reports at scrape time: label values (one per label name) and value.
struct Sample {
  std::vector<std::string> labels;
  double value = 0;
};
using Collect = std::function<void(std::vector<Sample>& out)>;

// Metric families, exposed in registration order. Thread-safe: families and children may be
// added while another thread scrapes.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Names follow Prometheus' rules ([a-zA-Z_:][a-zA-Z0-9_:]*, not starting with "__"); a
  // character outside them becomes '_'. Registering a name twice returns the first family;
  // a name registered before with another type gets a family that counts but is not exposed.
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

  // Everything registered, for a prometheus::Exposer (metrics_server.h) or a serializer. It
  // stays valid while the registry lives; an exposer holds it weakly.
  std::shared_ptr<prometheus::Collectable> collectable() const;
  // The text exposition format 0.0.4 of collectable() (prometheus::TextSerializer).
  std::string Render() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// HELP text escaped for the text format (backslash, newline): prometheus-cpp 1.0.1 writes
// HELP as it is given.
std::string EscapeHelp(absl::string_view text);

// process_start_time_seconds, process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds (Prometheus' standard process metrics), read from /proc/self at scrape.
void AddProcessMetrics(Registry& registry);

// --- templates ---------------------------------------------------------------------------

template <typename T>
T& Family<T>::Labels(std::vector<std::string> values) {
  // Our own code passes the values; a wrong count must still never crash a scrape.
  values.resize(label_names_.size());
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<T>& child = children_[values];
  if (child == nullptr) {
    prometheus::Labels labels;
    for (std::size_t i = 0; i < values.size(); ++i) labels[label_names_[i]] = values[i];
    child = make_(labels);
  }
  return *child;
}

}  // namespace pvegw::metrics

#endif  // PVEGW_COMMON_METRICS_H_
