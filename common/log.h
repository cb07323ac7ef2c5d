// Process logging on spdlog: text (the default) or JSON, one object per line, with
// structured fields (method, code, latency_ms, request_id, ...).
#ifndef PVEGW_COMMON_LOG_H_
#define PVEGW_COMMON_LOG_H_

#include <spdlog/spdlog.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace pvegw::log {

// One structured field. Numbers stay numbers in JSON.
class Field {
 public:
  Field(absl::string_view key, absl::string_view value) : key_(key), text_(value) {}
  Field(absl::string_view key, const char* value) : key_(key), text_(value) {}
  Field(absl::string_view key, const std::string& value) : key_(key), text_(value) {}
  Field(absl::string_view key, double value) : key_(key), number_(value), is_number_(true) {}
  Field(absl::string_view key, std::int64_t value)
      : key_(key), number_(static_cast<double>(value)), is_number_(true) {}
  Field(absl::string_view key, int value) : Field(key, static_cast<std::int64_t>(value)) {}

  absl::string_view key() const { return key_; }
  absl::string_view text() const { return text_; }
  double number() const { return number_; }
  bool is_number() const { return is_number_; }

 private:
  absl::string_view key_;
  std::string text_;
  double number_ = 0;
  bool is_number_ = false;
};

// Installs the process's default logger `name` on stderr with `level` (trace, debug, info,
// warn, error, critical, off) and `format` (text or json). INVALID_ARGUMENT names a bad
// value; the logger is installed (text, info) either way so the error can be logged.
absl::Status Configure(absl::string_view name, absl::string_view level, absl::string_view format);

// Logs `message` with `fields`: in JSON as keys of the line's object, in text as key=value
// after the message (values with spaces or quotes are quoted).
void Log(spdlog::level::level_enum level, absl::string_view message,
         std::initializer_list<Field> fields);
// The same with a field list built at run time (fields present only sometimes).
void Log(spdlog::level::level_enum level, absl::string_view message,
         absl::Span<const Field> fields);

// The text rendering of `fields` (what Log appends in text format), for tests.
std::string TextFields(std::initializer_list<Field> fields);
std::string TextFields(absl::Span<const Field> fields);

}  // namespace pvegw::log

#endif  // PVEGW_COMMON_LOG_H_
