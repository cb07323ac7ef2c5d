// One file on purpose (~760 lines): requests (message -> Proxmox parameters) and answers
// (Proxmox JSON -> message) share the field maps, property-string companions and error paths
// of one Transcoder; split, each half would need the other's private helpers.
#include "gateway/transcoder.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <optional>
#include <tuple>

#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/api_index.h"
#include "api/param_validator.h"
#include "common/json_text.h"
#include "common/status_mapping.h"

namespace pvegw::gateway {

namespace json = boost::json;
using api::Rules;
using api::WireName;
using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

namespace {

bool IsWellKnown(const Descriptor* d) {
  const std::string& n = d->full_name();
  return n == "google.protobuf.Struct" || n == "google.protobuf.Value" ||
         n == "google.protobuf.ListValue" || n == "google.protobuf.Empty";
}

std::string ScalarText(const Message& msg, const Reflection* r, const FieldDescriptor* f,
                       int index) {
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(msg, f, index) : r->GetBool(msg, f)) ? "1" : "0";
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(msg, f, index) : r->GetInt32(msg, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(msg, f, index) : r->GetInt64(msg, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(msg, f, index) : r->GetUInt32(msg, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(msg, f, index) : r->GetUInt64(msg, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return fmt::format("{}", rep ? r->GetRepeatedDouble(msg, f, index) : r->GetDouble(msg, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return fmt::format("{}", rep ? r->GetRepeatedFloat(msg, f, index) : r->GetFloat(msg, f));
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(msg, f, index) : r->GetString(msg, f);
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      // google.protobuf.Value/Struct/ListValue parameters travel as their JSON text.
      const Message& sub = rep ? r->GetRepeatedMessage(msg, f, index) : r->GetMessage(msg, f);
      std::string text;
      (void)google::protobuf::util::MessageToJsonString(sub, &text);
      return text;
    }
    default:
      return "";
  }
}

}  // namespace

std::string EscapePathSegment(absl::string_view segment) { return api::PercentEncode(segment); }

Transcoder::Transcoder(const api::ApiIndex& api, TranscoderOptions options) : options_(options) {
  for (const auto& op : api.operations()) {
    IndexMessage(op->method->output_type());
    IndexMessage(op->method->input_type());  // for the typed companions of requests
  }
}

void Transcoder::IndexMessage(const Descriptor* message) {
  if (index_.contains(message) || IsWellKnown(message)) return;
  FieldIndex& idx = index_[message];
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    const auto& rules = api::Rules(f);
    if (!rules.typed_of().empty()) {
      const FieldDescriptor* raw = message->FindFieldByName(rules.typed_of());
      const Descriptor* typed =
          f->is_map() ? f->message_type()->map_value()->message_type() : f->message_type();
      if (raw == nullptr || typed == nullptr ||
          (raw->is_map() ? raw->message_type()->map_value() : raw)->cpp_type() !=
              FieldDescriptor::CPPTYPE_STRING ||
          raw->is_map() != f->is_map() || raw->is_repeated() != f->is_repeated()) {
        spdlog::warn("descriptor set: {} is no typed companion of a property-string field; ignored",
                     f->full_name());
        continue;
      }
      absl::StatusOr<std::shared_ptr<const api::TypedProperty>> bound =
          api::TypedProperty::Bind(typed, api::Rules(raw).property_format());
      if (!bound.ok()) {
        spdlog::warn("descriptor set: {}: {}; the companion stays empty", f->full_name(),
                     std::string(bound.status().message()));
        continue;
      }
      idx.companion_raws.push_back(raw);
      idx.companions.push_back(Companion{raw, f, *std::move(bound)});
    } else if (rules.additional_properties()) {
      idx.additional = f;
    } else if (!rules.indexed().empty()) {
      idx.indexed.emplace_back(rules.indexed(), f);
    } else {
      idx.by_wire[api::WireName(f)] = f;
    }
  }
  // Recurse after this message's entry is complete (the map may rehash).
  std::vector<const Descriptor*> nested;
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (!api::Rules(f).typed_of().empty()) continue;  // filled from the raw string, not JSON
    const Descriptor* sub =
        f->is_map() ? f->message_type()->map_value()->message_type() : f->message_type();
    if (sub != nullptr) nested.push_back(sub);
  }
  for (const Descriptor* sub : nested) IndexMessage(sub);
}

const Transcoder::FieldIndex* Transcoder::IndexOf(const Descriptor* message) const {
  auto it = index_.find(message);
  return it == index_.end() ? nullptr : &it->second;
}

absl::Status Transcoder::Encode(const api::ApiOperation& op, const Message& request,
                                RestRequest* out) const {
  const Reflection* r = request.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(request, &fields);
  const FieldIndex* idx = IndexOf(request.GetDescriptor());
  auto companion_of = [&](const FieldDescriptor* f) -> const Companion* {
    if (idx == nullptr || api::Rules(f).typed_of().empty()) return nullptr;
    for (const Companion& c : idx->companions) {
      if (c.typed == f) return &c;
    }
    return nullptr;
  };
  // A typed companion is sent where its raw field would be, so a typed request and the
  // equivalent raw one make the same REST call.
  std::stable_sort(
      fields.begin(), fields.end(), [&](const FieldDescriptor* a, const FieldDescriptor* b) {
        const Companion* ca = companion_of(a);
        const Companion* cb = companion_of(b);
        return (ca != nullptr ? ca->raw : a)->number() < (cb != nullptr ? cb->raw : b)->number();
      });
  RestParams params;
  std::vector<std::pair<std::string, std::string>> path_params;
  for (const FieldDescriptor* f : fields) {
    const auto& rules = api::Rules(f);
    if (!rules.typed_of().empty()) {
      const Companion* c = companion_of(f);
      if (c == nullptr) {
        return absl::InternalError(absl::StrCat(f->full_name(), " has no usable property format"));
      }
      const bool raw_set =
          c->raw->is_repeated() ? r->FieldSize(request, c->raw) > 0 : r->HasField(request, c->raw);
      if (raw_set) {
        const std::string text =
            absl::StrCat("set either '", c->raw->name(), "' or '", f->name(), "', not both");
        return InvalidArgumentWithViolations(
            absl::StrCat("Parameter verification failed. ", f->name(), ": ", text),
            {{f->name(), text}});
      }
      const std::string& wire = api::WireName(c->raw);
      auto print = [&](const Message& typed, const std::string& where,
                       std::string* out) -> absl::Status {
        absl::StatusOr<std::string> text = c->property->Print(typed);
        if (!text.ok()) {
          const std::string why(text.status().message());
          return InvalidArgumentWithViolations(
              absl::StrCat("Parameter verification failed. ", where, ": ", why), {{where, why}});
        }
        *out = *std::move(text);
        return absl::OkStatus();
      };
      if (f->is_map()) {
        const FieldDescriptor* key = f->message_type()->map_key();
        const FieldDescriptor* value = f->message_type()->map_value();
        for (int i = 0; i < r->FieldSize(request, f); ++i) {
          const Message& entry = r->GetRepeatedMessage(request, f, i);
          const std::string n = ScalarText(entry, entry.GetReflection(), key, -1);
          std::string text;
          absl::Status st = print(entry.GetReflection()->GetMessage(entry, value),
                                  absl::StrCat(f->name(), "[", n, "]"), &text);
          if (!st.ok()) return st;
          params.emplace_back(absl::StrCat(wire, n), std::move(text));
        }
      } else if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(request, f); ++i) {
          std::string text;
          absl::Status st = print(r->GetRepeatedMessage(request, f, i),
                                  absl::StrCat(f->name(), "[", i, "]"), &text);
          if (!st.ok()) return st;
          params.emplace_back(wire, std::move(text));
        }
      } else {
        std::string text;
        absl::Status st = print(r->GetMessage(request, f), f->name(), &text);
        if (!st.ok()) return st;
        params.emplace_back(wire, std::move(text));
      }
      continue;
    }
    const std::string wire = api::WireName(f);
    if (f->is_map()) {
      // Indexed parameter: map key n is sent as <wire><n>.
      const FieldDescriptor* key = f->message_type()->map_key();
      const FieldDescriptor* value = f->message_type()->map_value();
      for (int i = 0; i < r->FieldSize(request, f); ++i) {
        const Message& entry = r->GetRepeatedMessage(request, f, i);
        const Reflection* er = entry.GetReflection();
        params.emplace_back(absl::StrCat(wire, ScalarText(entry, er, key, -1)),
                            ScalarText(entry, er, value, -1));
      }
    } else if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(request, f); ++i) {
        params.emplace_back(wire, ScalarText(request, r, f, i));
      }
    } else if (rules.path_param()) {
      path_params.emplace_back(wire, ScalarText(request, r, f, -1));
    } else {
      params.emplace_back(wire, ScalarText(request, r, f, -1));
    }
  }
  std::size_t encoded_bytes = 0;
  for (const auto& [k, v] : params) encoded_bytes += k.size() + v.size() + 2;
  // Parameters above pveproxy's body limit can never succeed, in either mode. Refusing them
  // before validation also bounds what one request costs (a 4 MiB message of 100,000 map
  // entries would otherwise become 100,000 parameters and as many violations).
  if (encoded_bytes > kProxmoxMaxBodyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request's ", params.size(), " parameters take ", encoded_bytes,
                     " bytes; Proxmox accepts at most 512 KiB of parameters"));
  }
  api::ValidatedParams validated = api::ValidateParams(op, params, path_params);
  if (!validated.ok()) {
    std::vector<pvegw::FieldViolation> violations;
    std::string message = "Parameter verification failed.";
    for (const auto& v : validated.violations) {
      // Proxmox ends some texts (property-string errors) with a newline; gRPC gets none.
      const std::string text(absl::StripTrailingAsciiWhitespace(v.message));
      violations.push_back({v.param, text});
      absl::StrAppend(&message, " ", v.param, ": ", text, ";");
    }
    message.pop_back();
    return InvalidArgumentWithViolations(message, violations);
  }
  out->verb = op.verb;
  out->path.clear();
  for (const std::string& seg : op.segments) {
    out->path += "/";
    if (seg.size() > 2 && seg.front() == '{') {
      const std::string name = seg.substr(1, seg.size() - 2);
      for (const auto& [k, v] : path_params) {
        if (k == name) out->path += EscapePathSegment(v);
      }
    } else {
      out->path += seg;
    }
  }
  out->params = std::move(params);
  return absl::OkStatus();
}

// Where a value sits in Proxmox's answer ("GetVersion.data.release", "…data[3].vmid"),
// rendered only for error and log text: building it for every key and element would cost
// more than decoding the value. Lives on the stack of the walk that names it.
struct JsonPath {
  const JsonPath* parent = nullptr;
  absl::string_view key;  // a key of the parent object (the root: the method's name)
  int index = -1;         // an element of the parent array when >= 0

  std::string Text() const {
    if (parent == nullptr) return std::string(key);
    std::string out = parent->Text();
    if (index >= 0) {
      absl::StrAppend(&out, "[", index, "]");
    } else {
      absl::StrAppend(&out, ".", key);
    }
    return out;
  }
};

// Walks Proxmox JSON into a message through the transcoder's field indexes. Conversions
// are "safe" ones only; anything else is kept verbatim in the enclosing object's
// additional_properties (or, with strict_decoding, fails the call).
class JsonReader {
 public:
  JsonReader(const Transcoder& t, const google::protobuf::MethodDescriptor* method)
      : t_(t), method_(method) {}

  // `v` into `msg` (never a well-known type). Non-OK only for strict-mode failures and
  // internal errors.
  absl::Status Object(const json::object& o, ::google::protobuf::Message* msg,
                      const JsonPath& where) {
    const Descriptor* d = msg->GetDescriptor();
    const Transcoder::FieldIndex* idx = t_.IndexOf(d);
    if (idx == nullptr) {
      return absl::InternalError("no field index for " + d->full_name());
    }
    const Reflection* r = msg->GetReflection();
    json::object extra;
    absl::InlinedVector<std::size_t, 8> pending;  // companions whose raw field was set
    for (const auto& kv : o) {
      const absl::string_view key(kv.key().data(), kv.key().size());
      const FieldDescriptor* field = nullptr;
      if (auto it = idx->by_wire.find(key); it != idx->by_wire.end()) field = it->second;
      const FieldDescriptor* map_field = nullptr;
      std::uint32_t index = 0;
      if (field == nullptr) {
        for (const auto& [prefix, f] : idx->indexed) {
          if (key.size() > prefix.size() && absl::StartsWith(key, prefix) &&
              absl::ascii_isdigit(static_cast<unsigned char>(key[prefix.size()])) &&
              absl::SimpleAtoi(key.substr(prefix.size()), &index)) {
            map_field = f;
            break;
          }
        }
      }
      if (field == nullptr && map_field == nullptr) {
        // Not in the schema: kept as sent.
        if (idx->additional != nullptr) {
          extra[kv.key()] = kv.value();
          t_.unlisted_.fetch_add(1, std::memory_order_relaxed);
        } else {
          t_.unknown_.fetch_add(1, std::memory_order_relaxed);
        }
        continue;
      }
      const JsonPath at{&where, key};
      const char* want = nullptr;
      if (field != nullptr) {
        absl::Status st = Field(kv.value(), msg, field, at, &want);
        if (!st.ok()) return st;
        if (want != nullptr) r->ClearField(msg, field);
      } else {
        if (LeavesUnset(kv.value(), map_field->message_type()->map_value())) continue;
        ::google::protobuf::Message* entry = r->AddMessage(msg, map_field);
        const Descriptor* ed = entry->GetDescriptor();
        entry->GetReflection()->SetUInt32(entry, ed->map_key(), index);
        absl::Status st = Field(kv.value(), entry, ed->map_value(), at, &want);
        if (!st.ok()) return st;
        if (want != nullptr) r->RemoveLast(msg, map_field);
        field = map_field;
      }
      if (want == nullptr) {
        // A property string: its typed companion is filled once the object is read.
        // A linear scan: a message has few companions, and most keys are no property string.
        if (!t_.options_.fill_typed_companions) continue;
        const auto& raws = idx->companion_raws;
        if (auto c = std::find(raws.begin(), raws.end(), field); c != raws.end()) {
          const std::size_t i = static_cast<std::size_t>(c - raws.begin());
          if (std::find(pending.begin(), pending.end(), i) == pending.end()) pending.push_back(i);
        }
        continue;
      }
      if (t_.options_.strict_decoding || idx->additional == nullptr) {
        return Bad(at.Text(), want, kv.value());
      }
      extra[kv.key()] = kv.value();
      if (t_.CountFallback(method_, field)) {
        std::string shown = json::serialize(kv.value());
        if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
        spdlog::debug(
            "decode {}: '{}' is not {} ({}); kept under '{}' in additional_properties (logged "
            "once per field)",
            method_->full_name(), at.Text(), want, shown, std::string(key));
      }
    }
    if (!extra.empty()) SetStruct(extra, r->MutableMessage(msg, idx->additional));
    for (std::size_t i : pending) {
      absl::Status st = FillCompanion(idx->companions[i], msg, where);
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

 private:
  // The typed companion from its raw property string(s). A value that does not parse leaves
  // its entry unset (a list: the whole list), keeps the raw string and counts as a fallback.
  absl::Status FillCompanion(const Transcoder::Companion& c, ::google::protobuf::Message* msg,
                             const JsonPath& where) {
    const Reflection* r = msg->GetReflection();
    std::string scratch;
    auto failed = [&](const std::string& at, const std::string& raw,
                      const absl::Status& why) -> absl::Status {
      if (t_.options_.strict_decoding) {
        return absl::InternalError(absl::StrCat("cannot read Proxmox's property string '", at,
                                                "' (", raw, ") as ", c.property->message()->name(),
                                                ": ", why.message()));
      }
      if (t_.CountFallback(method_, c.typed)) {
        spdlog::debug(
            "decode {}: '{}' does not parse as {} ({}); the raw string is kept, {} left unset "
            "(logged once per field)",
            method_->full_name(), at, c.property->message()->name(), std::string(why.message()),
            c.typed->name());
      }
      return absl::OkStatus();
    };
    if (c.raw->is_map()) {
      const int n = r->FieldSize(*msg, c.raw);
      for (int i = 0; i < n; ++i) {
        const ::google::protobuf::Message& entry = r->GetRepeatedMessage(*msg, c.raw, i);
        const Reflection* er = entry.GetReflection();
        const Descriptor* ed = entry.GetDescriptor();
        const std::uint32_t key = er->GetUInt32(entry, ed->map_key());
        const std::string& raw = er->GetStringReference(entry, ed->map_value(), &scratch);
        ::google::protobuf::Message* typed_entry = r->AddMessage(msg, c.typed);
        const Descriptor* td = typed_entry->GetDescriptor();
        typed_entry->GetReflection()->SetUInt32(typed_entry, td->map_key(), key);
        absl::Status st = c.property->Parse(
            raw, typed_entry->GetReflection()->MutableMessage(typed_entry, td->map_value()));
        if (!st.ok()) {
          r->RemoveLast(msg, c.typed);
          absl::Status out =
              failed(absl::StrCat(where.Text(), ".", api::WireName(c.raw), key), raw, st);
          if (!out.ok()) return out;
        }
      }
    } else if (c.raw->is_repeated()) {
      const int n = r->FieldSize(*msg, c.raw);
      for (int i = 0; i < n; ++i) {
        const std::string& raw = r->GetRepeatedStringReference(*msg, c.raw, i, &scratch);
        absl::Status st = c.property->Parse(raw, r->AddMessage(msg, c.typed));
        if (!st.ok()) {
          r->ClearField(msg, c.typed);
          return failed(absl::StrCat(where.Text(), ".", api::WireName(c.raw), "[", i, "]"), raw,
                        st);
        }
      }
    } else if (r->HasField(*msg, c.raw)) {
      const std::string& raw = r->GetStringReference(*msg, c.raw, &scratch);
      absl::Status st = c.property->Parse(raw, r->MutableMessage(msg, c.typed));
      if (!st.ok()) {
        r->ClearField(msg, c.typed);
        return failed(absl::StrCat(where.Text(), ".", api::WireName(c.raw)), raw, st);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Bad(const std::string& where, absl::string_view want, const json::value& got) {
    std::string shown = json::serialize(got);
    if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
    return absl::InternalError(
        absl::StrCat("cannot convert Proxmox's value for '", where, "' to ", want, ": ", shown));
  }

  // google.protobuf.Value / Struct / ListValue written through reflection: the messages are
  // dynamic ones of the runtime pool, not the generated classes.
  static void SetValue(const json::value& v, ::google::protobuf::Message* value) {
    const Descriptor* d = value->GetDescriptor();
    const Reflection* r = value->GetReflection();
    switch (v.kind()) {
      case json::kind::null:
        r->SetEnumValue(value, d->FindFieldByNumber(1), 0);
        break;
      case json::kind::bool_:
        r->SetBool(value, d->FindFieldByNumber(4), v.get_bool());
        break;
      case json::kind::int64:
      case json::kind::uint64:
      case json::kind::double_:
        r->SetDouble(value, d->FindFieldByNumber(2), v.to_number<double>());
        break;
      case json::kind::string:
        r->SetString(value, d->FindFieldByNumber(3), std::string(v.get_string()));
        break;
      case json::kind::array:
        SetList(v.get_array(), r->MutableMessage(value, d->FindFieldByNumber(6)));
        break;
      case json::kind::object:
        SetStruct(v.get_object(), r->MutableMessage(value, d->FindFieldByNumber(5)));
        break;
    }
  }
  static void SetStruct(const json::object& o, ::google::protobuf::Message* st) {
    const FieldDescriptor* fields = st->GetDescriptor()->FindFieldByNumber(1);
    const Reflection* r = st->GetReflection();
    for (const auto& kv : o) {
      ::google::protobuf::Message* entry = r->AddMessage(st, fields);
      const Descriptor* ed = entry->GetDescriptor();
      entry->GetReflection()->SetString(entry, ed->map_key(), std::string(kv.key()));
      SetValue(kv.value(), entry->GetReflection()->MutableMessage(entry, ed->map_value()));
    }
  }
  static void SetList(const json::array& a, ::google::protobuf::Message* list) {
    const FieldDescriptor* values = list->GetDescriptor()->FindFieldByNumber(1);
    const Reflection* r = list->GetReflection();
    for (const auto& e : a) SetValue(e, r->AddMessage(list, values));
  }

  // A well-known-type field; false when `v` is of a kind it cannot hold.
  static bool WellKnown(const json::value& v, ::google::protobuf::Message* msg) {
    const std::string& n = msg->GetDescriptor()->full_name();
    if (n == "google.protobuf.Value") {
      SetValue(v, msg);
      return true;
    }
    if (n == "google.protobuf.Struct" && v.is_object()) {
      SetStruct(v.get_object(), msg);
      return true;
    }
    if (n == "google.protobuf.ListValue" && v.is_array()) {
      SetList(v.get_array(), msg);
      return true;
    }
    return false;  // Empty holds nothing; Struct/ListValue of another kind
  }

  static std::optional<std::int64_t> ToInt(const json::value& v) {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64() &&
        v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(v.get_uint64());
    }
    if (v.is_double() && std::trunc(v.get_double()) == v.get_double() &&
        std::fabs(v.get_double()) < 9.2e18) {
      return static_cast<std::int64_t>(v.get_double());
    }
    if (v.is_bool()) return v.get_bool() ? 1 : 0;
    if (v.is_string()) {
      std::int64_t n = 0;
      if (absl::SimpleAtoi(absl::string_view(v.get_string().data(), v.get_string().size()), &n)) {
        return n;
      }
    }
    return std::nullopt;
  }
  static std::optional<double> ToDouble(const json::value& v) {
    if (v.is_number()) return v.to_number<double>();
    if (v.is_bool()) return v.get_bool() ? 1.0 : 0.0;
    if (v.is_string()) {
      double d = 0;
      // "nan" and "inf" are words, not numbers Proxmox meant.
      if (absl::SimpleAtod(absl::string_view(v.get_string().data(), v.get_string().size()), &d) &&
          std::isfinite(d)) {
        return d;
      }
    }
    return std::nullopt;
  }
  static std::optional<bool> ToBool(const json::value& v) {
    if (v.is_bool()) return v.get_bool();
    if (v.is_int64() || v.is_uint64()) {
      const std::optional<std::int64_t> n = ToInt(v);
      if (n && (*n == 0 || *n == 1)) return *n == 1;
      return std::nullopt;
    }
    if (v.is_string()) {
      return ParseBool(absl::string_view(v.get_string().data(), v.get_string().size()));
    }
    return std::nullopt;
  }
  // One value into a singular field, or appended to a repeated one. On a value the field
  // cannot hold, sets `*want` (what was expected) and writes nothing.
  absl::Status Scalar(const json::value& v, ::google::protobuf::Message* msg,
                      const FieldDescriptor* f, const JsonPath& where, const char** want) {
    const Reflection* r = msg->GetReflection();
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64: {
        std::optional<std::int64_t> n = ToInt(v);
        if (!n) {
          *want = "an integer";
        } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT32) {
          if (*n < std::numeric_limits<std::int32_t>::min() ||
              *n > std::numeric_limits<std::int32_t>::max()) {
            *want = "a 32-bit integer";
          } else {
            rep ? r->AddInt32(msg, f, static_cast<std::int32_t>(*n))
                : r->SetInt32(msg, f, static_cast<std::int32_t>(*n));
          }
        } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
          rep ? r->AddInt64(msg, f, *n) : r->SetInt64(msg, f, *n);
        } else if (*n < 0) {
          *want = "an unsigned integer";
        } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
          if (*n > std::numeric_limits<std::uint32_t>::max()) {
            *want = "a 32-bit unsigned integer";
          } else {
            rep ? r->AddUInt32(msg, f, static_cast<std::uint32_t>(*n))
                : r->SetUInt32(msg, f, static_cast<std::uint32_t>(*n));
          }
        } else {
          rep ? r->AddUInt64(msg, f, static_cast<std::uint64_t>(*n))
              : r->SetUInt64(msg, f, static_cast<std::uint64_t>(*n));
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        std::optional<double> d = ToDouble(v);
        if (!d) {
          *want = "a number";
        } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
          rep ? r->AddDouble(msg, f, *d) : r->SetDouble(msg, f, *d);
        } else {
          rep ? r->AddFloat(msg, f, static_cast<float>(*d))
              : r->SetFloat(msg, f, static_cast<float>(*d));
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        std::optional<bool> b = ToBool(v);
        if (!b) {
          *want = "a boolean";
        } else {
          rep ? r->AddBool(msg, f, *b) : r->SetBool(msg, f, *b);
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::optional<std::string> s = JsonScalarText(v);
        if (!s) {
          *want = "text";
        } else {
          rep ? r->AddString(msg, f, *std::move(s)) : r->SetString(msg, f, *std::move(s));
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        const Descriptor* md = f->message_type();
        if (IsWellKnown(md)) {
          if (md->full_name() == "google.protobuf.Empty" || !WellKnownFits(md, v)) {
            *want = WantFor(md);
            return absl::OkStatus();
          }
          WellKnown(v, rep ? r->AddMessage(msg, f) : r->MutableMessage(msg, f));
          return absl::OkStatus();
        }
        if (!v.is_object()) {
          *want = "an object";
          return absl::OkStatus();
        }
        return Object(v.get_object(), rep ? r->AddMessage(msg, f) : r->MutableMessage(msg, f),
                      where);
      }
      default:
        *want = f->cpp_type_name();
        return absl::OkStatus();
    }
  }

  // Proxmox's null, and "" where no text is expected (PVE 5/6 send `"template": ""`).
  static bool LeavesUnset(const json::value& v, const FieldDescriptor* f) {
    if (v.is_null()) return true;
    if (!v.is_string() || !v.get_string().empty()) return false;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) return false;
    return f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
           f->message_type()->full_name() != "google.protobuf.Value";
  }

  static bool WellKnownFits(const Descriptor* d, const json::value& v) {
    const std::string& n = d->full_name();
    return n == "google.protobuf.Value" || (n == "google.protobuf.Struct" && v.is_object()) ||
           (n == "google.protobuf.ListValue" && v.is_array());
  }
  static const char* WantFor(const Descriptor* d) {
    const std::string& n = d->full_name();
    if (n == "google.protobuf.Struct") return "an object";
    if (n == "google.protobuf.ListValue") return "a list";
    return "null";
  }

  // `v` into field `f` (singular, repeated or a map entry's value). null, and "" in a field
  // that is not text, leave it unset. A value the field cannot hold sets `*want`; the caller
  // then clears the field and keeps the value elsewhere.
  absl::Status Field(const json::value& v, ::google::protobuf::Message* msg,
                     const FieldDescriptor* f, const JsonPath& where, const char** want) {
    if (LeavesUnset(v, f)) return absl::OkStatus();
    const bool text = f->cpp_type() == FieldDescriptor::CPPTYPE_STRING;
    if (f->is_repeated() && !f->is_map()) {
      if (v.is_array()) {
        int i = 0;
        for (const auto& e : v.get_array()) {
          if (e.is_null()) {  // a list cannot hold a gap: keep the whole list as sent
            *want = "a list without nulls";
            return absl::OkStatus();
          }
          absl::Status st = Scalar(e, msg, f, JsonPath{&where, {}, i++}, want);
          if (!st.ok() || *want != nullptr) return st;
        }
        return absl::OkStatus();
      }
      if (v.is_string() && text) {
        // Proxmox sometimes sends a list as "a,b,c".
        for (absl::string_view part :
             absl::StrSplit(absl::string_view(v.get_string().data(), v.get_string().size()), ',',
                            absl::SkipEmpty())) {
          msg->GetReflection()->AddString(msg, f, std::string(part));
        }
        return absl::OkStatus();
      }
      return Scalar(v, msg, f, where, want);  // a single value where a list was expected
    }
    return Scalar(v, msg, f, where, want);
  }

  const Transcoder& t_;
  const google::protobuf::MethodDescriptor* method_;
};

bool Transcoder::CountFallback(const google::protobuf::MethodDescriptor* method,
                               const FieldDescriptor* field) const {
  absl::MutexLock lock(&fallback_mu_);
  return fallbacks_[{method, field}]++ == 0;
}

std::vector<DecodeFallbackCount> Transcoder::DecodeFallbacks() const {
  std::vector<DecodeFallbackCount> out;
  {
    absl::MutexLock lock(&fallback_mu_);
    out.reserve(fallbacks_.size());
    for (const auto& [key, count] : fallbacks_) {
      out.push_back({key.first->full_name(), key.second->full_name(), count});
    }
  }
  std::sort(out.begin(), out.end(), [](const DecodeFallbackCount& a, const DecodeFallbackCount& b) {
    return std::tie(a.method, a.field) < std::tie(b.method, b.field);
  });
  return out;
}

absl::Status Transcoder::Decode(const api::ApiOperation& op, const RestResponse& response,
                                Message* out) const {
  if (response.status != 200) return StatusFromRest(response);
  json::error_code ec;
  // The parsed answer lives only for this call: one arena instead of a malloc per node.
  json::monotonic_resource arena;
  json::value body = json::parse(response.body, ec, json::storage_ptr(&arena));
  if (ec || !body.is_object()) {
    return absl::InternalError(absl::StrCat("Proxmox answered a body that is not a JSON object (",
                                            ec ? ec.message() : "wrong kind", ")"));
  }
  // The whole envelope: `data` into its field, `total` and the like into the response's
  // additional_properties.
  JsonReader reader(*this, op.method);
  return reader.Object(body.get_object(), out, JsonPath{nullptr, op.method->name()});
}

}  // namespace pvegw::gateway
