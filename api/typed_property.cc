#include "api/typed_property.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/api_index.h"
#include "api/param_validator.h"
#include "common/bool_text.h"

namespace pvegw::api {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

std::string DoubleText(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  if (ec != std::errc()) return absl::StrCat(d);
  return std::string(buf, end);
}

// The text of one set scalar field, as Proxmox writes it (booleans 1/0).
std::string FieldText(const Message& msg, const Reflection* r, const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(msg, f) ? "1" : "0";
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(r->GetInt32(msg, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(r->GetInt64(msg, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(r->GetUInt32(msg, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(r->GetUInt64(msg, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return DoubleText(r->GetDouble(msg, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return DoubleText(r->GetFloat(msg, f));
    default:
      return r->GetString(msg, f);
  }
}

// `text` into scalar field `f`; false when it does not fit the field's type.
bool SetFieldText(Message* msg, const Reflection* r, const FieldDescriptor* f,
                  absl::string_view text) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL: {
      std::optional<bool> b = ParseBool(text);
      if (!b) return false;
      r->SetBool(msg, f, *b);
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      std::int32_t n = 0;
      if (!absl::SimpleAtoi(text, &n)) return false;
      r->SetInt32(msg, f, n);
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      std::int64_t n = 0;
      if (!absl::SimpleAtoi(text, &n)) return false;
      r->SetInt64(msg, f, n);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      std::uint32_t n = 0;
      if (!absl::SimpleAtoi(text, &n)) return false;
      r->SetUInt32(msg, f, n);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      std::uint64_t n = 0;
      if (!absl::SimpleAtoi(text, &n)) return false;
      r->SetUInt64(msg, f, n);
      return true;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double d = 0;
      if (!absl::SimpleAtod(text, &d) || !std::isfinite(d)) return false;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        r->SetDouble(msg, f, d);
      } else {
        r->SetFloat(msg, f, static_cast<float>(d));
      }
      return true;
    }
    case FieldDescriptor::CPPTYPE_STRING:
      r->SetString(msg, f, std::string(text));
      return true;
    default:
      return false;
  }
}

const char* TypeWord(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      return "a boolean";
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return "a number";
    case FieldDescriptor::CPPTYPE_STRING:
      return "text";
    default:
      return "an integer";
  }
}

}  // namespace

std::optional<std::string> CanonicalDiskSize(absl::string_view value) {
  // parse_size: /^(\d+(\.\d+)?)([KMGT](?:iB)?)?$/, then int(number * unit).
  std::size_t i = 0;
  while (i < value.size() && absl::ascii_isdigit(static_cast<unsigned char>(value[i]))) ++i;
  if (i == 0) return std::nullopt;
  if (i < value.size() && value[i] == '.') {
    const std::size_t frac = ++i;
    while (i < value.size() && absl::ascii_isdigit(static_cast<unsigned char>(value[i]))) ++i;
    if (i == frac) return std::nullopt;
  }
  double number = 0;
  if (!absl::SimpleAtod(value.substr(0, i), &number)) return std::nullopt;
  absl::string_view unit = value.substr(i);
  double scale = 1;
  if (!unit.empty()) {
    const char u = unit[0];
    if (unit.size() != 1 && unit.substr(1) != "iB") return std::nullopt;
    if (u == 'K') {
      scale = 1024.0;
    } else if (u == 'M') {
      scale = 1024.0 * 1024;
    } else if (u == 'G') {
      scale = 1024.0 * 1024 * 1024;
    } else if (u == 'T') {
      scale = 1024.0 * 1024 * 1024 * 1024;
    } else {
      return std::nullopt;
    }
  }
  const double bytes = std::trunc(number * scale);
  if (!(bytes < 9e18)) return std::nullopt;
  // format_size: the largest unit that divides the size exactly.
  std::int64_t size = static_cast<std::int64_t>(bytes);
  static constexpr char kUnits[] = {'K', 'M', 'G', 'T'};
  std::string suffix;
  for (char next : kUnits) {
    if (size % 1024 != 0) break;
    size /= 1024;
    suffix = std::string(1, next);
  }
  return absl::StrCat(size, suffix);
}

absl::StatusOr<std::shared_ptr<const TypedProperty>> TypedProperty::Bind(
    const Descriptor* message, absl::string_view format_json) {
  absl::StatusOr<std::shared_ptr<const PropertyFormat>> format = ParsePropertyFormat(format_json);
  if (!format.ok()) return format.status();
  std::shared_ptr<TypedProperty> bound(new TypedProperty());
  bound->format_ = *std::move(format);
  bound->message_ = message;
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    if (Rules(f).other_keys()) {
      if (!f->is_map() ||
          f->message_type()->map_key()->cpp_type() != FieldDescriptor::CPPTYPE_STRING ||
          f->message_type()->map_value()->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
        return absl::InvalidArgumentError(
            absl::StrCat(f->full_name(), ": the unknown-keys field must be a map<string, string>"));
      }
      bound->other_keys_ = f;
      continue;
    }
    if (f->is_repeated() || f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ||
        f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      return absl::InvalidArgumentError(
          absl::StrCat(f->full_name(), ": a property-string field must be a singular scalar"));
    }
    bound->by_key_.emplace_back(WireName(f), f);
  }
  for (const auto& [name, key] : bound->format_->keys) {
    if (!key.alias.empty() && !key.key_alias.empty()) {
      bound->key_alias_props_[key.key_alias] = key.alias;
    }
    if (!key.alias.empty()) bound->aliases_[name] = Alias{key.alias, key.key_alias};
  }
  return std::shared_ptr<const TypedProperty>(std::move(bound));
}

absl::Status TypedProperty::Parse(absl::string_view value, Message* out) const {
  // parse_property_string, reading straight into the message: this runs for every property
  // string of every answer, so no intermediate maps. `out` starts empty, so a set field is a
  // key seen before.
  const Reflection* r = out->GetReflection();
  auto error = [](absl::string_view a, absl::string_view b = {}) {
    return absl::InvalidArgumentError(absl::StrCat(a, b));
  };
  std::vector<absl::string_view> unknown_seen;
  auto set = [&](absl::string_view key, const FieldDescriptor* f,
                 absl::string_view text) -> absl::Status {
    if (f == nullptr) {  // a key the format (or this older message) does not list
      if (std::find(unknown_seen.begin(), unknown_seen.end(), key) != unknown_seen.end()) {
        return error("duplicate key in comma-separated list property: ", key);
      }
      if (other_keys_ == nullptr)
        return error("invalid key in comma-separated list property: ", key);
      unknown_seen.push_back(key);
      Message* entry = r->AddMessage(out, other_keys_);
      const Descriptor* ed = entry->GetDescriptor();
      entry->GetReflection()->SetString(entry, ed->map_key(), std::string(key));
      entry->GetReflection()->SetString(entry, ed->map_value(), std::string(text));
      return absl::OkStatus();
    }
    if (!SetFieldText(out, r, f, text)) {
      return absl::InvalidArgumentError(
          absl::StrCat("value '", text, "' of key '", key, "' is not ", TypeWord(f)));
    }
    return absl::OkStatus();
  };
  auto field_of = [&](absl::string_view key) -> const FieldDescriptor* {
    for (const auto& [name, f] : by_key_) {
      if (name.size() == key.size() && name == key) return f;
    }
    return static_cast<const FieldDescriptor*>(nullptr);
  };
  bool default_used = false;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    if (absl::StripAsciiWhitespace(part).empty()) continue;
    const std::size_t eq = part.find('=');
    if (eq != absl::string_view::npos && eq > 0 && eq + 1 < part.size()) {
      // Perl's /^([^=]+)=(.+)$/: the key runs to the first '='.
      absl::string_view key = part.substr(0, eq);
      const absl::string_view text = part.substr(eq + 1);
      const FieldDescriptor* f = field_of(key);
      if (f != nullptr && r->HasField(*out, f)) {
        return error("duplicate key in comma-separated list property: ", key);
      }
      // Alias keys ("virtio") have no field of their own.
      if (auto alias = f != nullptr ? aliases_.end() : aliases_.find(key);
          alias != aliases_.end()) {
        // "virtio=MAC": the key itself goes to `model`, the value to `macaddr`.
        if (!alias->second.key_alias.empty()) {
          const FieldDescriptor* ka = field_of(alias->second.key_alias);
          if (ka != nullptr && r->HasField(*out, ka)) {
            return absl::InvalidArgumentError(
                absl::StrCat("key alias '", alias->second.key_alias, "' is already defined"));
          }
          if (absl::Status st = set(alias->second.key_alias, ka, key); !st.ok()) return st;
        }
        key = alias->second.alias;
        f = field_of(key);
        if (f != nullptr && r->HasField(*out, f)) {
          return absl::InvalidArgumentError(
              absl::StrCat("key '", key, "' is already defined (via alias)"));
        }
      }
      if (absl::Status st = set(key, f, text); !st.ok()) return st;
    } else if (eq == absl::string_view::npos) {
      if (format_->default_key.empty()) {
        return error("value without key, but schema does not define a default key");
      }
      const FieldDescriptor* f = field_of(format_->default_key);
      if (default_used || (f != nullptr && r->HasField(*out, f))) {
        return error("duplicate key in comma-separated list property: ", format_->default_key);
      }
      default_used = true;
      if (absl::Status st = set(format_->default_key, f, part); !st.ok()) return st;
    } else {
      return error("missing key in comma-separated list property");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TypedProperty::Print(const Message& typed) const {
  // The data hash print_property_string gets, keys sorted as Perl's `sort keys` does.
  std::map<std::string, std::string> data;
  const Reflection* r = typed.GetReflection();
  for (const auto& [key, f] : by_key_) {
    if (r->HasField(typed, f)) data.emplace(key, FieldText(typed, r, f));
  }
  if (other_keys_ != nullptr) {
    for (int i = 0; i < r->FieldSize(typed, other_keys_); ++i) {
      const Message& entry = r->GetRepeatedMessage(typed, other_keys_, i);
      const Descriptor* ed = entry.GetDescriptor();
      std::string key = entry.GetReflection()->GetString(entry, ed->map_key());
      if (key.empty() || key.find_first_of("=,") != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid key '", key, "' in ", other_keys_->name()));
      }
      if (!data.emplace(key, entry.GetReflection()->GetString(entry, ed->map_value())).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("key '", key, "' is set both as a field and in ", other_keys_->name()));
      }
    }
  }

  std::string out;
  bool add_sep = false;
  std::set<std::string> done;
  auto value_text = [&](const std::string& key,
                        const std::string& value) -> absl::StatusOr<std::string> {
    auto k = format_->keys.find(key);
    if (k != format_->keys.end() && k->second.format == "disk-size") {
      if (std::optional<std::string> size = CanonicalDiskSize(value)) return *size;
    }
    if (value.find(',') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("illegal value with commas for ", key));
    }
    return value;
  };
  auto add = [&](const std::string& key, bool is_default) -> absl::Status {
    if (!done.insert(key).second) return absl::OkStatus();
    auto it = data.find(key);
    if (it == data.end()) return absl::OkStatus();
    if (add_sep) out += ',';
    add_sep = true;
    absl::StatusOr<std::string> text = value_text(key, it->second);
    if (!text.ok()) return text.status();
    // "virtio=MAC": the default key joined with the key its aliases fill.
    if (auto combine = key_alias_props_.find(key); combine != key_alias_props_.end()) {
      if (auto other = data.find(combine->second); other != data.end()) {
        absl::StatusOr<std::string> other_text = value_text(other->first, other->second);
        if (!other_text.ok()) return other_text.status();
        absl::StrAppend(&out, *text, "=", *other_text);
        done.insert(other->first);
        return absl::OkStatus();
      }
    }
    if (is_default) {
      out += *text;
    } else {
      absl::StrAppend(&out, key, "=", *text);
    }
    return absl::OkStatus();
  };
  if (!format_->default_key.empty()) {
    if (absl::Status st = add(format_->default_key, true); !st.ok()) return st;
  }
  for (const auto& [key, value] : data) {
    auto k = format_->keys.find(key);
    if (k == format_->keys.end() || k->second.optional) continue;
    if (absl::Status st = add(key, false); !st.ok()) return st;
  }
  for (const auto& [key, value] : data) {
    if (absl::Status st = add(key, false); !st.ok()) return st;
  }
  return out;
}

}  // namespace pvegw::api
