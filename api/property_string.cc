#include "api/property_string.h"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <shared_mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/param_validator.h"

namespace pvegw::api {
namespace {

namespace json = boost::json;

// Cached formats are few (one per distinct format object of the schema, ~60 for PVE 9);
// the bound only protects against a caller feeding arbitrary text.
constexpr std::size_t kMaxCachedFormats = 4096;

std::string Text(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_int64()) return absl::StrCat(v.get_int64());
  if (v.is_uint64()) return absl::StrCat(v.get_uint64());
  if (v.is_double()) return absl::StrCat(v.get_double());
  if (v.is_bool()) return v.get_bool() ? "1" : "0";
  return json::serialize(v);
}

bool Flag(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return false;
  if (v->is_bool()) return v->get_bool();
  if (v->is_int64()) return v->get_int64() != 0;
  if (v->is_string()) return ParseBool(std::string(v->get_string())).value_or(false);
  return false;
}

std::optional<double> Number(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number()) return v->to_number<double>();
  double d = 0;
  if (v->is_string() && absl::SimpleAtod(std::string(v->get_string()), &d)) return d;
  return std::nullopt;
}

std::string StringOf(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

absl::StatusOr<PropertyFormat> BuildFormat(absl::string_view text) {
  json::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !root.is_object()) {
    return absl::InvalidArgumentError("property_format is not a JSON object");
  }
  PropertyFormat format;
  for (const auto& kv : root.get_object()) {
    if (!kv.value().is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("property_format key '", std::string(kv.key()), "' is not an object"));
    }
    const json::object& o = kv.value().get_object();
    PropertyKey key;
    key.type = StringOf(o, "type");
    key.optional = Flag(o, "optional");
    key.default_key = Flag(o, "default_key");
    key.alias = StringOf(o, "alias");
    key.key_alias = StringOf(o, "keyAlias");
    if (const json::value* e = o.if_contains("enum"); e != nullptr && e->is_array()) {
      for (const auto& item : e->get_array()) key.enum_values.push_back(Text(item));
    }
    key.format = StringOf(o, "format");
    key.pattern = StringOf(o, "pattern");
    key.minimum = Number(o, "minimum");
    key.maximum = Number(o, "maximum");
    if (auto n = Number(o, "minLength"); n && *n >= 0)
      key.min_length = static_cast<std::size_t>(*n);
    if (auto n = Number(o, "maxLength"); n && *n >= 0)
      key.max_length = static_cast<std::size_t>(*n);
    key.requires_key = StringOf(o, "requires");
    if (const json::value* d = o.if_contains("default"); d != nullptr && !d->is_null()) {
      key.default_value = Text(*d);
    }
    // Perl walks its hash in random order; one default key is all any format has.
    if (key.default_key && format.default_key.empty()) format.default_key = std::string(kv.key());
    format.keys.emplace(std::string(kv.key()), std::move(key));
  }
  return format;
}

std::string FormatLimit(double d) {
  if (d == std::trunc(d) && std::fabs(d) < 1e18) return absl::StrCat(static_cast<long long>(d));
  return absl::StrCat(d);
}

bool IsInteger(absl::string_view v) {
  std::size_t i = 0;
  if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
  if (i == v.size()) return false;
  for (; i < v.size(); ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  return true;
}

// Perl's is_number: ^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$
bool IsNumber(absl::string_view v) {
  return MatchesProxmoxPattern(R"([+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?)", std::string(v));
}

// check_prop of JSONSchema.pm for one present value: type, format, pattern, lengths,
// range, enum — the first failure wins, as in Proxmox.
std::optional<std::string> CheckKey(const PropertyKey& key, const std::string& value) {
  if (key.type == "boolean" && value != "0" && value != "1") {
    return absl::StrCat("type check ('boolean') failed - got '", value, "'");
  }
  if (key.type == "integer" && !IsInteger(value)) {
    return absl::StrCat("type check ('integer') failed - got '", value, "'");
  }
  if (key.type == "number" && !IsNumber(value)) {
    return absl::StrCat("type check ('number') failed - got '", value, "'");
  }
  if (!key.format.empty()) {
    if (auto error = FormatError(key.format, value)) {
      return absl::StrCat("invalid format - ", *error, "\n");
    }
  }
  if (!key.pattern.empty() && !MatchesProxmoxPattern(key.pattern, value)) {
    return std::string("value does not match the regex pattern");
  }
  if (key.max_length && value.size() > *key.max_length) {
    return absl::StrCat("value may only be ", *key.max_length, " characters long");
  }
  if (key.min_length && value.size() < *key.min_length) {
    return absl::StrCat("value must be at least ", *key.min_length, " characters long");
  }
  if (IsNumber(value)) {
    double d = 0;
    if (absl::SimpleAtod(value, &d)) {
      if (key.maximum && d > *key.maximum) {
        return absl::StrCat("value must have a maximum value of ", FormatLimit(*key.maximum));
      }
      if (key.minimum && d < *key.minimum) {
        return absl::StrCat("value must have a minimum value of ", FormatLimit(*key.minimum));
      }
    }
  }
  if (!key.enum_values.empty() &&
      std::find(key.enum_values.begin(), key.enum_values.end(), value) == key.enum_values.end()) {
    return absl::StrCat("value '", value, "' does not have a value in the enumeration '",
                        absl::StrJoin(key.enum_values, ", "), "'");
  }
  return std::nullopt;
}

// --- Named string formats: Proxmox's validators and their texts ---------------------------

bool Matches(const char* pattern, absl::string_view value) {
  return MatchesProxmoxPattern(pattern, std::string(value));
}

bool IsIpv4(absl::string_view v) {
  in_addr a;
  return inet_pton(AF_INET, std::string(v).c_str(), &a) == 1;
}

bool IsIpv6(absl::string_view v) {
  in6_addr a;
  return inet_pton(AF_INET6, std::string(v).c_str(), &a) == 1;
}

bool IsCidr(absl::string_view v, bool v6) {
  const std::size_t slash = v.rfind('/');
  if (slash == absl::string_view::npos) return false;
  int bits = 0;
  const absl::string_view digits = v.substr(slash + 1);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(digits, &bits)) {
    return false;
  }
  const absl::string_view addr = v.substr(0, slash);
  return v6 ? IsIpv6(addr) && bits > 7 && bits <= 128 : IsIpv4(addr) && bits > 7 && bits <= 32;
}

bool IsDnsName(absl::string_view v) {
  return Matches(
      R"(([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?\.)*([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?))",
      v);
}

bool IsVolumeId(absl::string_view v) { return Matches(R"((?i)[a-z][a-z0-9\-_.]*[a-z0-9]:.+)", v); }

std::optional<std::string> SingleFormatError(absl::string_view format, absl::string_view v) {
  const std::string value(v);
  auto fail = [](std::string text) { return std::optional<std::string>(std::move(text)); };
  if (format == "pve-configid") {
    if (!Matches(R"((?i)[a-z][a-z0-9_-]+)", v))
      return fail(absl::StrCat("invalid configuration ID '", value, "'"));
  } else if (format == "pve-storage-id") {
    if (!Matches(R"((?i)[a-z][a-z0-9\-_.]*[a-z0-9])", v))
      return fail(absl::StrCat("storage ID '", value, "' contains illegal characters"));
  } else if (format == "pve-bridge-id") {
    if (!Matches(R"([-_.\w\d]+)", v)) return fail(absl::StrCat("invalid bridge ID '", value, "'"));
  } else if (format == "pve-vmid") {
    if (!Matches(R"([1-9][0-9]{2,8})", v)) return fail("value does not look like a valid VM ID");
  } else if (format == "pve-node") {
    if (!Matches(R"([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)", v))
      return fail("value does not look like a valid node name");
  } else if (format == "pve-userid") {
    if (v.size() < 3) return fail(absl::StrCat("user name '", value, "' is too short"));
    if (v.size() > 64) {
      return fail(absl::StrCat("user name '", value, "' is too long (", v.size(), " > 64)"));
    }
    if (!Matches(R"([^\s:/]+@[A-Za-z][A-Za-z0-9\.\-_]+)", v))
      return fail(absl::StrCat("value '", value, "' does not look like a valid user name"));
  } else if (format == "pve-poolid") {
    if (!Matches(R"([A-Za-z0-9\.\-_]+)", v))
      return fail(absl::StrCat("invalid pool ID '", value, "'"));
  } else if (format == "mac-addr") {
    if (!Matches(R"((?i)[a-f0-9][02468ace](?::[a-f0-9]{2}){5})", v))
      return fail("value does not look like a valid unicast MAC address");
  } else if (format == "ipv4") {
    if (!IsIpv4(v)) return fail("value does not look like a valid IPv4 address");
  } else if (format == "ipv6") {
    if (!IsIpv6(v)) return fail("value does not look like a valid IPv6 address");
  } else if (format == "ip") {
    if (!IsIpv4(v) && !IsIpv6(v)) return fail("value does not look like a valid IP address");
  } else if (format == "CIDRv4") {
    if (!IsCidr(v, false)) return fail("value does not look like a valid IPv4 CIDR network");
  } else if (format == "CIDRv6") {
    if (!IsCidr(v, true)) return fail("value does not look like a valid IPv6 CIDR network");
  } else if (format == "CIDR") {
    if (!IsCidr(v, false) && !IsCidr(v, true))
      return fail("value does not look like a valid CIDR network");
  } else if (format == "pve-ipv4-config") {
    if (v != "dhcp" && v != "manual" && !IsCidr(v, false))
      return fail("value does not look like a valid ipv4 network configuration");
  } else if (format == "pve-ipv6-config") {
    if (v != "auto" && v != "dhcp" && v != "manual" && !IsCidr(v, true))
      return fail("value does not look like a valid ipv6 network configuration");
  } else if (format == "dns-name") {
    if (!IsDnsName(v)) return fail("value does not look like a valid DNS name");
  } else if (format == "address") {
    if (!IsIpv4(v) && !IsIpv6(v) && !IsDnsName(v))
      return fail(absl::StrCat("value does not look like a valid address: ", value));
  } else if (format == "disk-size") {
    if (!Matches(R"(\d+(\.\d+)?[KMGT]?)", v))
      return fail(absl::StrCat("value does not look like a valid disk size: ", value));
  } else if (format == "pve-iface") {
    if (!Matches(R"((?i)[a-z][a-z0-9_]{1,20}([:\.]\d+)?)", v))
      return fail(absl::StrCat("invalid network interface name '", value, "'"));
  } else if (format == "urlencoded") {
    if (!Matches(R"([-%a-zA-Z0-9_.!~*'()]*)", v))
      return fail(absl::StrCat("invalid urlencoded string: ", value));
  } else if (format == "pve-volume-id") {
    if (!IsVolumeId(v)) return fail(absl::StrCat("unable to parse volume ID '", value, "'"));
  } else if (format == "pve-volume-id-or-qm-path" || format == "pve-volume-id-or-absolute-path") {
    const bool special = format == "pve-volume-id-or-qm-path" && (v == "none" || v == "cdrom");
    if (!special && !absl::StartsWith(v, "/") && !IsVolumeId(v))
      return fail(absl::StrCat("unable to parse volume ID '", value, "'"));
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const PropertyFormat>> ParsePropertyFormat(absl::string_view text) {
  // Every validated property string looks its format up here: readers share the lock and
  // find by the view (no key string is built per call).
  static std::shared_mutex mu;
  static auto* cache =
      new absl::flat_hash_map<std::string, std::shared_ptr<const PropertyFormat>>();
  {
    std::shared_lock<std::shared_mutex> lock(mu);
    if (auto it = cache->find(text); it != cache->end()) return it->second;
  }
  absl::StatusOr<PropertyFormat> built = BuildFormat(text);
  if (!built.ok()) return built.status();
  auto format = std::make_shared<const PropertyFormat>(*std::move(built));
  std::unique_lock<std::shared_mutex> lock(mu);
  if (cache->size() < kMaxCachedFormats) cache->emplace(std::string(text), format);
  return format;
}

absl::StatusOr<std::map<std::string, std::string>> SplitPropertyString(
    const PropertyFormat& format, absl::string_view value,
    std::map<std::string, std::string>* unknown) {
  std::map<std::string, std::string> res;
  bool default_used = false;
  auto error = [](std::string text) { return absl::InvalidArgumentError(std::move(text)); };
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    if (absl::StripAsciiWhitespace(part).empty()) continue;
    const std::size_t eq = part.find('=');
    if (eq != absl::string_view::npos && eq > 0 && eq + 1 < part.size()) {
      // Perl's /^([^=]+)=(.+)$/: the key runs to the first '='.
      std::string k(part.substr(0, eq));
      std::string v(part.substr(eq + 1));
      if (res.count(k) != 0) {
        return error(absl::StrCat("duplicate key in comma-separated list property: ", k));
      }
      auto it = format.keys.find(k);
      if (it != format.keys.end() && !it->second.alias.empty()) {
        if (!it->second.key_alias.empty()) {
          if (res.count(it->second.key_alias) != 0) {
            return error(absl::StrCat("key alias '", it->second.key_alias, "' is already defined"));
          }
          res[it->second.key_alias] = k;
        }
        k = it->second.alias;
        it = format.keys.find(k);
        if (res.count(k) != 0)
          return error(absl::StrCat("key '", k, "' is already defined (via alias)"));
      }
      if (it == format.keys.end()) {
        if (unknown != nullptr) {
          if (!unknown->emplace(k, std::move(v)).second) {
            return error(absl::StrCat("duplicate key in comma-separated list property: ", k));
          }
          continue;
        }
        return error(absl::StrCat("invalid key in comma-separated list property: ", k));
      }
      if (it->second.type == "boolean") {
        if (auto b = ParseBool(v)) v = *b ? "1" : "0";
      }
      res[k] = std::move(v);
    } else if (eq == absl::string_view::npos) {
      if (default_used) {
        return error(
            absl::StrCat("duplicate key in comma-separated list property: ", format.default_key));
      }
      if (format.default_key.empty()) {
        return error("value without key, but schema does not define a default key");
      }
      default_used = true;
      auto& slot = res[format.default_key];
      if (!slot.empty()) {
        return error(
            absl::StrCat("duplicate key in comma-separated list property: ", format.default_key));
      }
      slot = std::string(part);
    } else {
      return error("missing key in comma-separated list property");
    }
  }
  return res;
}

std::optional<std::string> CheckPropertyString(const PropertyFormat& format,
                                               absl::string_view value, absl::string_view param) {
  absl::StatusOr<std::map<std::string, std::string>> parts = SplitPropertyString(format, value);
  if (!parts.ok()) return absl::StrCat("invalid format - ", parts.status().message(), "\n");
  // check_object: every key of the format, then the `requires` of each given key. Errors
  // are listed by path, sorted (Perl's hash order is random).
  std::map<std::string, std::string> errors;
  auto add = [&](const std::string& path, const std::string& text) {
    auto& slot = errors[path];
    slot = slot.empty() ? text : absl::StrCat(slot, "\\n", text);
  };
  for (const auto& [name, key] : format.keys) {
    const std::string path = absl::StrCat(param, ".", name);
    auto it = parts->find(name);
    if (it == parts->end()) {
      if (!key.optional && key.alias.empty())
        add(path, "property is missing and it is not optional");
      continue;
    }
    if (auto error = CheckKey(key, it->second)) add(path, *error);
  }
  for (const auto& [name, v] : *parts) {
    auto it = format.keys.find(name);
    if (it == format.keys.end() || it->second.requires_key.empty()) continue;
    if (parts->count(it->second.requires_key) == 0) {
      add(absl::StrCat(param, ".", it->second.requires_key),
          absl::StrCat("missing property - '", param, ".", name, "' requires this property"));
    }
  }
  if (errors.empty()) return std::nullopt;
  // PVE::Exception stringified: the message, then "path: text" lines.
  std::string text = "invalid format - format error\n";
  for (const auto& [path, message] : errors) absl::StrAppend(&text, path, ": ", message, "\n");
  return text;
}

std::optional<std::string> FormatError(absl::string_view format, absl::string_view value) {
  if (absl::EndsWith(format, "-list")) {
    const absl::string_view base = format.substr(0, format.size() - 5);
    // PVE::Tools::split_list: separators are ',', ';', spaces and NUL; empty lists pass.
    for (absl::string_view item :
         absl::StrSplit(value, absl::ByAnyChar(std::string(",; \t\n\0", 6)), absl::SkipEmpty())) {
      if (auto error = SingleFormatError(base, item)) return error;
    }
    return std::nullopt;
  }
  if (absl::EndsWith(format, "-opt")) {
    if (value.empty()) return std::nullopt;
    return SingleFormatError(format.substr(0, format.size() - 4), value);
  }
  return SingleFormatError(format, value);
}

}  // namespace pvegw::api
