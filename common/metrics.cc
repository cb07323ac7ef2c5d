#include "common/metrics.h"

#include <dirent.h>
#include <prometheus/check_names.h>
#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <unordered_map>

#include "absl/strings/str_split.h"

namespace pvegw::metrics {

namespace {

std::string SanitizeName(std::string name, bool colon_allowed) {
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (colon_allowed && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) name[i] = '_';
  }
  // "__" is reserved (prometheus-cpp refuses it); "" is no name.
  if (name.empty() || name.compare(0, 2, "__") == 0) name.insert(0, "x");
  return name;
}

std::string MetricName(std::string name) { return SanitizeName(std::move(name), true); }

std::vector<std::string> LabelNames(std::vector<std::string> names) {
  for (std::string& n : names) n = SanitizeName(std::move(n), false);
  return names;
}

prometheus::MetricType PrometheusType(Type type) {
  switch (type) {
    case Type::kCounter:
      return prometheus::MetricType::Counter;
    case Type::kGauge:
      return prometheus::MetricType::Gauge;
    case Type::kHistogram:
      return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

}  // namespace

// The registry's state, shared with the Collectable an exposer holds (weakly).
struct Registry::State : prometheus::Collectable {
  struct Callback {
    std::string name;
    std::string help;  // escaped
    Type type;
    std::vector<std::string> label_names;
    metrics::Collect collect;
  };
  struct Entry {
    Type type;
    void* family;  // Family<Counter>*, Family<Gauge>* or Family<Histogram>* by type
  };

  // The families' order of registration, by name: the page lists them in that order.
  std::size_t Order(const std::string& name) const {
    const auto it = order.find(name);
    return it == order.end() ? order.size() : it->second;
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out = exposed->Collect();
    std::lock_guard<std::mutex> lock(mu);
    std::vector<Sample> samples;
    for (const Callback& c : callbacks) {
      samples.clear();
      c.collect(samples);
      prometheus::MetricFamily family;
      family.name = c.name;
      family.help = c.help;
      family.type = PrometheusType(c.type);
      family.metric.reserve(samples.size());
      for (const Sample& s : samples) {
        prometheus::ClientMetric metric;
        for (std::size_t i = 0; i < c.label_names.size(); ++i) {
          metric.label.push_back({c.label_names[i], i < s.labels.size() ? s.labels[i] : ""});
        }
        if (c.type == Type::kCounter) {
          metric.counter.value = s.value;
        } else {
          metric.gauge.value = s.value;
        }
        family.metric.push_back(std::move(metric));
      }
      out.push_back(std::move(family));
    }
    std::stable_sort(out.begin(), out.end(),
                     [this](const prometheus::MetricFamily& a, const prometheus::MetricFamily& b) {
                       return Order(a.name) < Order(b.name);
                     });
    return out;
  }

  // Families and children are owned here; prometheus-cpp's registries own the series.
  const std::shared_ptr<prometheus::Registry> exposed = std::make_shared<prometheus::Registry>();
  // Families whose name was taken by another type, one registry each: they count, nothing
  // shows them.
  std::vector<std::unique_ptr<prometheus::Registry>> hidden;
  mutable std::mutex mu;
  std::unordered_map<std::string, Entry> by_name;
  std::unordered_map<std::string, std::size_t> order;
  std::vector<std::unique_ptr<Family<Counter>>> counters;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms;
  std::vector<Callback> callbacks;

  // The facade family of `name`: the existing one if the type agrees, else a new one made
  // by `make(registry)` in `exposed` (new name) or a hidden registry (name taken by another
  // type).
  template <typename T, typename Make>
  Family<T>& Find(const std::string& name, Type type,
                  std::vector<std::unique_ptr<Family<T>>>& store, Make make) {
    std::lock_guard<std::mutex> lock(mu);
    const auto it = by_name.find(name);
    if (it != by_name.end() && it->second.type == type) {
      return *static_cast<Family<T>*>(it->second.family);
    }
    const bool taken = it != by_name.end();
    if (taken) hidden.push_back(std::make_unique<prometheus::Registry>());
    store.push_back(make(taken ? *hidden.back() : *exposed));
    Family<T>& family = *store.back();
    if (!taken) {
      by_name[name] = Entry{type, &family};
      order.emplace(name, order.size());
    }
    return family;
  }
};

Histogram::Snapshot Histogram::Read() const {
  const prometheus::ClientMetric m = histogram_->Collect();
  Snapshot s;
  for (const auto& bucket : m.histogram.bucket) s.cumulative.push_back(bucket.cumulative_count);
  s.sum = m.histogram.sample_sum;
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::string EscapeHelp(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Registry::Registry() : state_(std::make_shared<State>()) {}
Registry::~Registry() = default;

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  name = MetricName(std::move(name));
  help = EscapeHelp(help);
  label_names = LabelNames(std::move(label_names));
  Family<Counter>& family = state_->Find<Counter>(
      name, Type::kCounter, state_->counters, [&](prometheus::Registry& registry) {
        auto& p = prometheus::BuildCounter().Name(name).Help(help).Register(registry);
        return std::unique_ptr<Family<Counter>>(
            new Family<Counter>(label_names, [&p](const prometheus::Labels& labels) {
              return std::make_unique<Counter>(p.Add(labels));
            }));
      });
  if (family.label_count() == 0) family.Get();  // shown as 0 before the first increment
  return family;
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  name = MetricName(std::move(name));
  help = EscapeHelp(help);
  label_names = LabelNames(std::move(label_names));
  Family<Gauge>& family =
      state_->Find<Gauge>(name, Type::kGauge, state_->gauges, [&](prometheus::Registry& registry) {
        auto& p = prometheus::BuildGauge().Name(name).Help(help).Register(registry);
        return std::unique_ptr<Family<Gauge>>(
            new Family<Gauge>(label_names, [&p](const prometheus::Labels& labels) {
              return std::make_unique<Gauge>(p.Add(labels));
            }));
      });
  if (family.label_count() == 0) family.Get();
  return family;
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  name = MetricName(std::move(name));
  help = EscapeHelp(help);
  label_names = LabelNames(std::move(label_names));
  // prometheus-cpp wants strictly ascending, finite bounds (it throws otherwise).
  bounds.erase(std::remove_if(bounds.begin(), bounds.end(),
                              [](double b) { return std::isnan(b) || std::isinf(b); }),
               bounds.end());
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  auto shared = std::make_shared<const std::vector<double>>(std::move(bounds));
  Family<Histogram>& family = state_->Find<Histogram>(
      name, Type::kHistogram, state_->histograms, [&](prometheus::Registry& registry) {
        auto& p = prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
        return std::unique_ptr<Family<Histogram>>(
            new Family<Histogram>(label_names, [&p, shared](const prometheus::Labels& labels) {
              return std::make_unique<Histogram>(p.Add(labels, *shared), shared);
            }));
      });
  if (family.label_count() == 0) family.Get();
  return family;
}

void Registry::AddCallback(std::string name, std::string help, Type type,
                           std::vector<std::string> label_names, Collect collect) {
  if (type == Type::kHistogram) type = Type::kGauge;  // callbacks report single values
  State::Callback c{MetricName(std::move(name)), EscapeHelp(help), type,
                    LabelNames(std::move(label_names)), std::move(collect)};
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->order.emplace(c.name, state_->order.size());
  state_->callbacks.push_back(std::move(c));
}

std::shared_ptr<prometheus::Collectable> Registry::collectable() const { return state_; }

std::string Registry::Render() const {
  return prometheus::TextSerializer().Serialize(state_->Collect());
}

namespace {

// Fields of /proc/self/stat after the command name (which may hold spaces and parentheses).
std::vector<std::string> ProcStat() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  return absl::StrSplit(line.substr(close + 1), ' ', absl::SkipEmpty());
}

double ParseOr(const std::vector<std::string>& fields, std::size_t index, double fallback) {
  if (index >= fields.size()) return fallback;
  char* end = nullptr;
  const double v = std::strtod(fields[index].c_str(), &end);
  return end == fields[index].c_str() ? fallback : v;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && (in >> value)) return value;
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

void AddProcessMetrics(Registry& registry) {
  // After the ')' of /proc/self/stat, field 3 (state) is index 0: utime is field 14,
  // stime 15, starttime 22, rss 24 (pages).
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const double start =
      BootTimeSeconds() + ParseOr(ProcStat(), 22 - 3, 0) / (ticks > 0 ? ticks : 100);
  registry.AddCallback("process_start_time_seconds",
                       "Start time of the process since the Unix epoch, in seconds.", Type::kGauge,
                       {}, [start](std::vector<Sample>& out) {
                         out.push_back({{}, start});
                       });
  registry.AddCallback(
      "process_cpu_seconds_total", "User and system CPU time spent by the process, in seconds.",
      Type::kCounter, {}, [ticks](std::vector<Sample>& out) {
        const auto f = ProcStat();
        out.push_back({{}, (ParseOr(f, 14 - 3, 0) + ParseOr(f, 15 - 3, 0)) / ticks});
      });
  registry.AddCallback("process_resident_memory_bytes", "Resident memory of the process, in bytes.",
                       Type::kGauge, {}, [page](std::vector<Sample>& out) {
                         out.push_back({{}, ParseOr(ProcStat(), 24 - 3, 0) * page});
                       });
  registry.AddCallback("process_open_fds", "Open file descriptors of the process.", Type::kGauge,
                       {}, [](std::vector<Sample>& out) {
                         double n = 0;
                         if (DIR* d = opendir("/proc/self/fd")) {
                           while (dirent* entry = readdir(d)) {
                             if (entry->d_name[0] != '.') ++n;
                           }
                           closedir(d);
                           n -= 1;  // the directory stream's own descriptor
                         }
                         out.push_back({{}, n});
                       });
}

}  // namespace pvegw::metrics
