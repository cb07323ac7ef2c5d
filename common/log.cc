#include "common/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pvegw::log {
namespace {

constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v";

std::atomic<bool> json_format{false};

// The fields of the Log() call being formatted on this thread. spdlog's synchronous
// loggers format on the calling thread, inside the call, so this never leaks between calls.
thread_local const absl::Span<const Field>* current_fields = nullptr;

void AppendJsonString(absl::string_view s, spdlog::memory_buf_t& dest) {
  const std::string quoted = boost::json::serialize(boost::json::string(s.data(), s.size()));
  dest.append(quoted.data(), quoted.data() + quoted.size());
}

void AppendJsonNumber(double v, spdlog::memory_buf_t& dest) {
  // JSON has no NaN or infinity.
  const std::string text = std::isfinite(v) ? absl::StrFormat("%.15g", v) : "null";
  dest.append(text.data(), text.data() + text.size());
}

void AppendRaw(absl::string_view s, spdlog::memory_buf_t& dest) {
  dest.append(s.data(), s.data() + s.size());
}

// {"time":"2026-11-26T07:40:00.123Z","level":"info","logger":"pve-gateway","message":"...",
//  <fields>}
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    const int millis = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000);
    std::tm utc;
    gmtime_r(&secs, &utc);
    const std::string time_text =
        absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                        utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
    AppendRaw("{\"time\":\"", dest);
    AppendRaw(time_text, dest);
    AppendRaw("\",\"level\":", dest);
    const auto level = spdlog::level::to_string_view(msg.level);
    AppendJsonString(absl::string_view(level.data(), level.size()), dest);
    AppendRaw(",\"logger\":", dest);
    AppendJsonString(absl::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
    AppendRaw(",\"message\":", dest);
    AppendJsonString(absl::string_view(msg.payload.data(), msg.payload.size()), dest);
    if (current_fields != nullptr) {
      for (const Field& f : *current_fields) {
        AppendRaw(",", dest);
        AppendJsonString(f.key(), dest);
        AppendRaw(":", dest);
        if (f.is_number()) {
          AppendJsonNumber(f.number(), dest);
        } else {
          AppendJsonString(f.text(), dest);
        }
      }
    }
    AppendRaw("}\n", dest);
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

bool NeedsQuotes(absl::string_view s) {
  if (s.empty()) return true;
  for (char c : s) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || absl::ascii_iscntrl(c)) return true;
  }
  return false;
}

std::string Quoted(absl::string_view s) {
  // C escapes (\" \\ \n, octal for control bytes); UTF-8 stays readable.
  return absl::StrCat("\"", absl::Utf8SafeCEscape(s), "\"");
}

}  // namespace

absl::Status Configure(absl::string_view name, absl::string_view level, absl::string_view format) {
  spdlog::drop(std::string(name));  // Configure may run again (tests)
  auto logger = spdlog::stderr_color_mt(std::string(name));
  spdlog::set_default_logger(logger);
  spdlog::set_pattern(kTextPattern);
  spdlog::set_level(spdlog::level::info);
  json_format = false;
  const spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for anything it does not know.
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "log level '", level, "' is not one of: trace, debug, info, warn, error, critical, off"));
  }
  if (format == "json") {
    json_format = true;
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
  } else if (format != "text") {
    return absl::InvalidArgumentError(
        absl::StrCat("log format '", format, "' is not one of: text, json"));
  }
  spdlog::set_level(parsed);
  return absl::OkStatus();
}

std::string TextFields(std::initializer_list<Field> fields) {
  return TextFields(absl::Span<const Field>(fields.begin(), fields.size()));
}

std::string TextFields(absl::Span<const Field> fields) {
  std::string out;
  for (const Field& f : fields) {
    absl::StrAppend(&out, out.empty() ? "" : " ", f.key(), "=");
    if (f.is_number()) {
      absl::StrAppendFormat(&out, "%.15g", f.number());
    } else {
      absl::StrAppend(&out, NeedsQuotes(f.text()) ? Quoted(f.text()) : std::string(f.text()));
    }
  }
  return out;
}

void Log(spdlog::level::level_enum level, absl::string_view message,
         std::initializer_list<Field> fields) {
  Log(level, message, absl::Span<const Field>(fields.begin(), fields.size()));
}

void Log(spdlog::level::level_enum level, absl::string_view message,
         absl::Span<const Field> fields) {
  if (!spdlog::should_log(level)) return;
  const fmt::string_view text(message.data(), message.size());
  if (json_format) {
    current_fields = &fields;
    spdlog::log(level, "{}", text);
    current_fields = nullptr;
  } else {
    spdlog::log(level, "{} {}", text, TextFields(fields));
  }
}

}  // namespace pvegw::log
