#include "common/metrics.h"

#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace pvegw::metrics {

namespace {

std::string SanitizeName(std::string name) {
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) name[i] = '_';
  }
  if (name.empty()) name = "_";
  return name;
}

const char* TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// {a="x",b="y"} (with `extra` appended, e.g. le="0.5"); "" without labels.
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     absl::string_view extra_name = "", absl::string_view extra_value = "") {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", names[i], "=\"",
                    EscapeLabelValue(i < values.size() ? values[i] : ""), "\"");
  }
  if (!extra_name.empty()) {
    absl::StrAppend(&out, names.empty() ? "" : ",", extra_name, "=\"", extra_value, "\"");
  }
  out += "}";
  return out;
}

}  // namespace

struct Registry::Entry {
  std::string name;
  std::string help;
  Type type;
  std::vector<std::string> label_names;
  std::variant<std::monostate, std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>>
      family;
  Collect collect;  // callback families
};

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_->size() + 1)) {
  for (std::size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double value) {
  // Bucket i counts bounds[i-1] < value <= bounds[i]; the last one is +Inf.
  const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), value);
  counts_[static_cast<std::size_t>(it - bounds_->begin())].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
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

std::string EscapeLabelValue(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<std::int64_t>(value));
  }
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Entry* Registry::Find(const std::string& name) const {
  for (const auto& e : entries_) {
    if (e->name == name) return e.get();
  }
  return nullptr;
}

Registry::Entry& Registry::Add(std::string name, std::string help, Type type,
                               std::vector<std::string> labels) {
  auto e = std::make_unique<Entry>();
  e->name = SanitizeName(std::move(name));
  e->help = std::move(help);
  e->type = type;
  for (std::string& l : labels) e->label_names.push_back(SanitizeName(std::move(l)));
  entries_.push_back(std::move(e));
  return *entries_.back();
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = Find(SanitizeName(name))) {
    if (auto* f = std::get_if<std::unique_ptr<Family<Counter>>>(&e->family)) return **f;
  }
  Entry& e = Add(std::move(name), std::move(help), Type::kCounter, std::move(label_names));
  auto family = std::unique_ptr<Family<Counter>>(
      new Family<Counter>(e.label_names, [] { return std::make_unique<Counter>(); }));
  Family<Counter>& out = *family;
  e.family = std::move(family);
  if (e.label_names.empty()) out.Get();  // shown as 0 before the first increment
  return out;
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = Find(SanitizeName(name))) {
    if (auto* f = std::get_if<std::unique_ptr<Family<Gauge>>>(&e->family)) return **f;
  }
  Entry& e = Add(std::move(name), std::move(help), Type::kGauge, std::move(label_names));
  auto family = std::unique_ptr<Family<Gauge>>(
      new Family<Gauge>(e.label_names, [] { return std::make_unique<Gauge>(); }));
  Family<Gauge>& out = *family;
  e.family = std::move(family);
  if (e.label_names.empty()) out.Get();
  return out;
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = Find(SanitizeName(name))) {
    if (auto* f = std::get_if<std::unique_ptr<Family<Histogram>>>(&e->family)) return **f;
  }
  Entry& e = Add(std::move(name), std::move(help), Type::kHistogram, std::move(label_names));
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  bounds.erase(std::remove_if(bounds.begin(), bounds.end(),
                              [](double b) { return std::isnan(b) || std::isinf(b); }),
               bounds.end());
  auto shared = std::make_shared<const std::vector<double>>(std::move(bounds));
  auto family = std::unique_ptr<Family<Histogram>>(new Family<Histogram>(
      e.label_names, [shared] { return std::make_unique<Histogram>(shared); }));
  Family<Histogram>& out = *family;
  e.family = std::move(family);
  if (e.label_names.empty()) out.Get();
  return out;
}

void Registry::AddCallback(std::string name, std::string help, Type type,
                           std::vector<std::string> label_names, Collect collect) {
  std::lock_guard<std::mutex> lock(mu_);
  if (type == Type::kHistogram) type = Type::kGauge;  // callbacks report single values
  Entry& e = Add(std::move(name), std::move(help), type, std::move(label_names));
  e.collect = std::move(collect);
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& e : entries_) {
    absl::StrAppend(&out, "# HELP ", e->name, " ", EscapeHelp(e->help), "\n# TYPE ", e->name, " ",
                    TypeName(e->type), "\n");
    const auto& names = e->label_names;
    if (e->collect) {
      std::vector<Sample> samples;
      e->collect(samples);
      for (const Sample& s : samples) {
        absl::StrAppend(&out, e->name, LabelSet(names, s.labels), " ", FormatValue(s.value), "\n");
      }
    } else if (auto* c = std::get_if<std::unique_ptr<Family<Counter>>>(&e->family)) {
      (*c)->ForEach([&](const std::vector<std::string>& values, const Counter& counter) {
        absl::StrAppend(&out, e->name, LabelSet(names, values), " ", counter.value(), "\n");
      });
    } else if (auto* g = std::get_if<std::unique_ptr<Family<Gauge>>>(&e->family)) {
      (*g)->ForEach([&](const std::vector<std::string>& values, const Gauge& gauge) {
        absl::StrAppend(&out, e->name, LabelSet(names, values), " ", gauge.value(), "\n");
      });
    } else if (auto* h = std::get_if<std::unique_ptr<Family<Histogram>>>(&e->family)) {
      (*h)->ForEach([&](const std::vector<std::string>& values, const Histogram& histogram) {
        const Histogram::Snapshot s = histogram.Read();
        const std::vector<double>& bounds = histogram.bounds();
        for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
          const std::string le = i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
          absl::StrAppend(&out, e->name, "_bucket", LabelSet(names, values, "le", le), " ",
                          s.cumulative[i], "\n");
        }
        absl::StrAppend(&out, e->name, "_sum", LabelSet(names, values), " ", FormatValue(s.sum),
                        "\n", e->name, "_count", LabelSet(names, values), " ", s.cumulative.back(),
                        "\n");
      });
    }
  }
  return out;
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
