#include "common/json_text.h"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>

#include "absl/strings/str_cat.h"

namespace pvegw {

std::optional<std::string> JsonScalarText(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_int64()) return absl::StrCat(v.get_int64());
  if (v.is_uint64()) return absl::StrCat(v.get_uint64());
  if (v.is_double()) return fmt::format("{}", v.get_double());
  if (v.is_bool()) return std::string(v.get_bool() ? "1" : "0");
  return std::nullopt;
}

std::string JsonText(const boost::json::value& v) {
  if (std::optional<std::string> s = JsonScalarText(v)) return *std::move(s);
  if (v.is_null()) return "";
  return boost::json::serialize(v);
}

}  // namespace pvegw
