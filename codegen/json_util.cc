#include "codegen/json_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"

namespace pvegw::codegen {
namespace {

namespace json = boost::json;

void AppendCanonical(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      const json::object& obj = v.get_object();
      std::vector<const json::key_value_pair*> items;
      items.reserve(obj.size());
      for (const auto& kv : obj) items.push_back(&kv);
      std::sort(items.begin(), items.end(),
                [](const auto* a, const auto* b) { return a->key() < b->key(); });
      out.push_back('{');
      bool first = true;
      for (const auto* kv : items) {
        if (!first) out.push_back(',');
        first = false;
        out += json::serialize(json::value(kv->key()));
        out.push_back(':');
        AppendCanonical(kv->value(), out);
      }
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        AppendCanonical(item, out);
      }
      out.push_back(']');
      return;
    }
    case json::kind::string:
      out += json::serialize(v);
      return;
    case json::kind::bool_:
      out += v.get_bool() ? "1" : "0";
      return;
    case json::kind::null:
      out += "null";
      return;
    default:
      out += ScalarText(v);
      return;
  }
}

}  // namespace

std::optional<bool> AsBoolish(const json::value& v) {
  if (v.is_bool()) return v.get_bool();
  if (v.is_int64()) return v.get_int64() != 0;
  if (v.is_uint64()) return v.get_uint64() != 0;
  if (v.is_string()) {
    if (v.get_string() == "1") return true;
    if (v.get_string() == "0") return false;
  }
  return std::nullopt;
}

std::optional<double> AsNumber(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  // Perl stringifies some numbers: Proxmox writes e.g. "minimum": "1".
  if (v.is_string()) {
    double d = 0;
    if (absl::SimpleAtod(Sv(v.get_string()), &d) && std::isfinite(d)) return d;
  }
  return std::nullopt;
}

absl::string_view KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      return "object";
    case json::kind::array:
      return "array";
    case json::kind::string:
      return "string";
    case json::kind::bool_:
      return "boolean";
    case json::kind::null:
      return "null";
    default:
      return "number";
  }
}

std::string FormatNumber(double d) {
  if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e18) {
    return fmt::format("{}", static_cast<long long>(d));
  }
  return fmt::format("{}", d);
}

std::string ScalarText(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return std::string(v.get_string());
    case json::kind::bool_:
      return v.get_bool() ? "1" : "0";
    case json::kind::int64:
      return fmt::format("{}", v.get_int64());
    case json::kind::uint64:
      return fmt::format("{}", v.get_uint64());
    case json::kind::double_:
      return FormatNumber(v.get_double());
    case json::kind::null:
      return "null";
    default:
      return CanonicalJson(v);
  }
}

std::string CanonicalJson(const json::value& v) {
  std::string out;
  AppendCanonical(v, out);
  return out;
}

}  // namespace pvegw::codegen
