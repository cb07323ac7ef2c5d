#include "api/param_validator.h"

#include <boost/json/array.hpp>
#include <boost/regex.hpp>
#include <cmath>
#include <map>
#include <memory>
#include <shared_mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/property_string.h"

namespace pvegw::api {
namespace {

namespace json = boost::json;
using ::google::protobuf::FieldDescriptor;

constexpr std::size_t kMaxPatternInput = 64 * 1024;

std::string FormatLimit(double d) {
  if (d == std::trunc(d) && std::fabs(d) < 1e18) return absl::StrCat(static_cast<long long>(d));
  return absl::StrCat(d);
}

// Proxmox writes Perl 5.14 "(?^flags:" groups; Boost understands "(?flags:".
std::string TranslatePattern(const std::string& pattern) {
  std::string out;
  out.reserve(pattern.size());
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.compare(i, 3, "(?^") == 0) {
      out += "(?";
      i += 2;
      continue;
    }
    out.push_back(pattern[i]);
  }
  return out;
}

// Patterns come from the schema (a few hundred); every call reads the cache, so readers
// share the lock and only a first use of a pattern writes.
const boost::regex* CompiledPattern(const std::string& pattern) {
  static std::shared_mutex mu;
  static auto* cache = new absl::flat_hash_map<std::string, std::unique_ptr<boost::regex>>();
  {
    std::shared_lock<std::shared_mutex> lock(mu);
    if (auto it = cache->find(pattern); it != cache->end()) return it->second.get();
  }
  std::unique_lock<std::shared_mutex> lock(mu);
  if (auto it = cache->find(pattern); it != cache->end()) return it->second.get();
  std::unique_ptr<boost::regex> compiled;
  try {
    compiled = std::make_unique<boost::regex>(TranslatePattern(pattern), boost::regex::perl);
  } catch (const std::exception&) {
    compiled = nullptr;  // Proxmox itself will judge the value
  }
  return cache->emplace(pattern, std::move(compiled)).first->second.get();
}

// Validates one scalar value for `field` (the element type for repeated/map fields) and
// returns its typed JSON form, or records a violation.
std::optional<json::value> CheckValue(const FieldDescriptor* field, const std::string& name,
                                      const std::string& raw,
                                      std::vector<ParamViolation>& violations) {
  const auto& rules = Rules(field);
  const FieldDescriptor* value_field = field->is_map() ? field->message_type()->map_value() : field;
  auto fail = [&](std::string message) {
    violations.push_back({name, std::move(message)});
    return std::nullopt;
  };
  switch (value_field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      std::int64_t v = 0;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(raw), &v)) {
        return fail(absl::StrCat("type check ('integer') failed - got '", raw, "'"));
      }
      if (rules.has_minimum() && static_cast<double>(v) < rules.minimum()) {
        return fail(
            absl::StrCat("value must have a minimum value of ", FormatLimit(rules.minimum())));
      }
      if (rules.has_maximum() && static_cast<double>(v) > rules.maximum()) {
        return fail(
            absl::StrCat("value must have a maximum value of ", FormatLimit(rules.maximum())));
      }
      return json::value(v);
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v = 0;
      if (!absl::SimpleAtod(absl::StripAsciiWhitespace(raw), &v) || !std::isfinite(v)) {
        return fail(absl::StrCat("type check ('number') failed - got '", raw, "'"));
      }
      if (rules.has_minimum() && v < rules.minimum()) {
        return fail(
            absl::StrCat("value must have a minimum value of ", FormatLimit(rules.minimum())));
      }
      if (rules.has_maximum() && v > rules.maximum()) {
        return fail(
            absl::StrCat("value must have a maximum value of ", FormatLimit(rules.maximum())));
      }
      return json::value(v);
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      std::optional<bool> b = ParseBool(raw);
      if (!b) return fail(absl::StrCat("type check ('boolean') failed - got '", raw, "'"));
      return json::value(*b ? 1 : 0);
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      // JSONSchema.pm check_prop's order: format, pattern, lengths, enum.
      if (!rules.property_format().empty()) {
        absl::StatusOr<std::shared_ptr<const PropertyFormat>> format =
            ParsePropertyFormat(rules.property_format());
        if (format.ok()) {
          if (auto error = CheckPropertyString(**format, raw, name)) return fail(*error);
        }
      } else if (!rules.format().empty()) {
        if (auto error = FormatError(rules.format(), raw)) {
          return fail(absl::StrCat("invalid format - ", *error, "\n"));
        }
      }
      if (!rules.pattern().empty() && !MatchesProxmoxPattern(rules.pattern(), raw)) {
        return fail("value does not match the regex pattern");
      }
      if (rules.has_max_length() && raw.size() > rules.max_length()) {
        return fail(absl::StrCat("value may only be ", rules.max_length(), " characters long"));
      }
      if (rules.has_min_length() && raw.size() < rules.min_length()) {
        return fail(
            absl::StrCat("value must be at least ", rules.min_length(), " characters long"));
      }
      if (!rules.enum_values().empty()) {
        bool found = false;
        for (const std::string& e : rules.enum_values()) found = found || e == raw;
        if (!found) {
          return fail(absl::StrCat("value '", raw, "' does not have a value in the enumeration '",
                                   absl::StrJoin(rules.enum_values(), ", "), "'"));
        }
      }
      return json::value(raw);
    }
    default:
      // google.protobuf.Struct/Value/ListValue parameters: Proxmox takes them as text.
      return json::value(raw);
  }
}

// An indexed parameter "net3" for the map field with prefix "net"; nullptr otherwise.
const FieldDescriptor* IndexedField(const ApiOperation& op, absl::string_view name) {
  for (const FieldDescriptor* field : op.indexed_params) {
    const std::string& prefix = Rules(field).indexed();
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) continue;
    const absl::string_view digits = name.substr(prefix.size());
    if (digits.size() > 4) continue;
    if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return field;
    }
  }
  return nullptr;
}

}  // namespace

bool MatchesProxmoxPattern(const std::string& pattern, const std::string& value) {
  if (value.size() > kMaxPatternInput) return true;
  const boost::regex* re = CompiledPattern(pattern);
  if (re == nullptr) return true;
  try {
    return boost::regex_match(value, *re);
  } catch (const std::exception&) {
    return true;  // too complex to decide here; not a reason to reject
  }
}

bool ConformsToFormat(const std::string& format, const std::string& value) {
  return !FormatError(format, value).has_value();
}

ValidatedParams ValidateParams(
    const ApiOperation& op, const RestParams& params,
    const std::vector<std::pair<std::string, std::string>>& path_params) {
  ValidatedParams out;
  // Path parameters first: they are part of the URL and always win.
  std::map<std::string, std::vector<const std::string*>> given;
  for (const auto& [name, value] : path_params) given[name].push_back(&value);
  for (const auto& param : params) {
    if (std::any_of(path_params.begin(), path_params.end(),
                    [&](const auto& p) { return p.first == param.first; })) {
      continue;
    }
    given[param.first].push_back(&param.second);
  }

  for (const auto& [name, values] : given) {
    const FieldDescriptor* field = nullptr;
    if (auto it = op.params.find(name); it != op.params.end()) {
      field = it->second;
    } else {
      field = IndexedField(op, name);
    }
    if (field == nullptr) {
      out.violations.push_back(
          {name,
           "property is not defined in schema and the schema does not allow additional "
           "properties"});
      continue;
    }
    if (field->is_repeated() && !field->is_map()) {
      json::array arr;
      for (const std::string* v : values) {
        if (auto typed = CheckValue(field, name, *v, out.violations)) arr.push_back(*typed);
      }
      out.values[name] = std::move(arr);
      continue;
    }
    if (values.size() > 1) {
      out.violations.push_back({name, "property given more than once"});
      continue;
    }
    if (auto typed = CheckValue(field, name, *values[0], out.violations)) {
      out.values[name] = std::move(*typed);
    }
  }
  for (const auto& [name, field] : op.params) {
    if (Rules(field).required() && given.count(name) == 0) {
      out.violations.push_back({name, "property is missing and it is not optional"});
    }
  }
  return out;
}

}  // namespace pvegw::api
