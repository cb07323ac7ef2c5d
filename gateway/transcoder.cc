#include "gateway/transcoder.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/param_validator.h"
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

std::string EscapePathSegment(absl::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (unsigned char c : segment) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Transcoder::Transcoder(const api::ApiIndex& api) {
  for (const auto& op : api.operations()) {
    IndexMessage(op->method->output_type());
  }
}

void Transcoder::IndexMessage(const Descriptor* message) {
  if (index_.contains(message) || IsWellKnown(message)) return;
  FieldIndex& idx = index_[message];
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    const auto& rules = api::Rules(f);
    if (rules.additional_properties()) {
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

grpc::Status Transcoder::Encode(const api::ApiOperation& op, const Message& request,
                                RestRequest* out) const {
  const Reflection* r = request.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(request, &fields);
  RestParams params;
  std::vector<std::pair<std::string, std::string>> path_params;
  for (const FieldDescriptor* f : fields) {
    const auto& rules = api::Rules(f);
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
    return InvalidArgument(message, violations);
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
  return grpc::Status::OK;
}

// Walks Proxmox JSON into a message through the transcoder's field indexes.
class JsonReader {
 public:
  explicit JsonReader(const Transcoder& t) : t_(t) {}

  grpc::Status Message(const json::value& v, ::google::protobuf::Message* msg,
                       const std::string& where) {
    const Descriptor* d = msg->GetDescriptor();
    if (IsWellKnown(d)) return WellKnown(v, msg, where);
    if (v.is_null() || (v.is_string() && v.get_string().empty())) return grpc::Status::OK;
    if (!v.is_object()) return Bad(where, "an object", v);
    const Transcoder::FieldIndex* idx = t_.IndexOf(d);
    if (idx == nullptr)
      return grpc::Status(grpc::StatusCode::INTERNAL, "no field index for " + d->full_name());
    const Reflection* r = msg->GetReflection();
    json::object extra;
    for (const auto& kv : v.get_object()) {
      const std::string key(kv.key());
      const std::string at = where + "." + key;
      if (auto it = idx->by_wire.find(key); it != idx->by_wire.end()) {
        grpc::Status st = Field(kv.value(), msg, it->second, at);
        if (!st.ok()) return st;
        continue;
      }
      const FieldDescriptor* map_field = nullptr;
      std::uint32_t index = 0;
      for (const auto& [prefix, f] : idx->indexed) {
        if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0 &&
            absl::SimpleAtoi(key.substr(prefix.size()), &index) &&
            absl::ascii_isdigit(static_cast<unsigned char>(key[prefix.size()]))) {
          map_field = f;
          break;
        }
      }
      if (map_field != nullptr) {
        ::google::protobuf::Message* entry = r->AddMessage(msg, map_field);
        const Descriptor* ed = entry->GetDescriptor();
        entry->GetReflection()->SetUInt32(entry, ed->map_key(), index);
        grpc::Status st = Field(kv.value(), entry, ed->map_value(), at);
        if (!st.ok()) return st;
        continue;
      }
      if (idx->additional != nullptr) {
        extra[kv.key()] = kv.value();
        continue;
      }
      t_.unknown_.fetch_add(1, std::memory_order_relaxed);
    }
    if (idx->additional != nullptr && !extra.empty()) {
      return WellKnown(json::value(std::move(extra)), r->MutableMessage(msg, idx->additional),
                       where);
    }
    return grpc::Status::OK;
  }

 private:
  grpc::Status Bad(const std::string& where, absl::string_view want, const json::value& got) {
    std::string shown = json::serialize(got);
    if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
    return grpc::Status(
        grpc::StatusCode::INTERNAL,
        absl::StrCat("cannot convert Proxmox's value for '", where, "' to ", want, ": ", shown));
  }

  grpc::Status WellKnown(const json::value& v, ::google::protobuf::Message* msg,
                         const std::string& where) {
    const std::string& n = msg->GetDescriptor()->full_name();
    if (n == "google.protobuf.Empty") return grpc::Status::OK;
    if (n == "google.protobuf.Struct" && !v.is_object()) {
      if (v.is_null() || (v.is_string() && v.get_string().empty())) return grpc::Status::OK;
      return Bad(where, "an object", v);
    }
    if (n == "google.protobuf.ListValue" && !v.is_array()) {
      if (v.is_null()) return grpc::Status::OK;
      return Bad(where, "a list", v);
    }
    auto st = google::protobuf::util::JsonStringToMessage(json::serialize(v), msg);
    if (!st.ok()) return Bad(where, n, v);
    return grpc::Status::OK;
  }

  std::optional<std::int64_t> ToInt(const json::value& v) {
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
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(std::string(v.get_string())), &n)) return n;
    }
    return std::nullopt;
  }
  std::optional<double> ToDouble(const json::value& v) {
    if (v.is_number()) return v.to_number<double>();
    if (v.is_bool()) return v.get_bool() ? 1.0 : 0.0;
    if (v.is_string()) {
      double d = 0;
      if (absl::SimpleAtod(absl::StripAsciiWhitespace(std::string(v.get_string())), &d)) return d;
    }
    return std::nullopt;
  }
  std::optional<bool> ToBool(const json::value& v) {
    if (v.is_bool()) return v.get_bool();
    if (v.is_int64()) {
      if (v.get_int64() == 0 || v.get_int64() == 1) return v.get_int64() == 1;
      return std::nullopt;
    }
    if (v.is_string()) return api::ParseProxmoxBool(std::string(v.get_string()));
    return std::nullopt;
  }
  std::optional<std::string> ToText(const json::value& v) {
    if (v.is_string()) return std::string(v.get_string());
    if (v.is_int64()) return absl::StrCat(v.get_int64());
    if (v.is_uint64()) return absl::StrCat(v.get_uint64());
    if (v.is_double()) return fmt::format("{}", v.get_double());
    if (v.is_bool()) return std::string(v.get_bool() ? "1" : "0");
    return std::nullopt;
  }

  // One scalar into a singular field (index < 0) or appended to a repeated one.
  grpc::Status Scalar(const json::value& v, ::google::protobuf::Message* msg,
                      const FieldDescriptor* f, const std::string& where) {
    const Reflection* r = msg->GetReflection();
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64: {
        std::optional<std::int64_t> n = ToInt(v);
        if (!n) return Bad(where, "an integer", v);
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT32) {
          if (*n < std::numeric_limits<std::int32_t>::min() ||
              *n > std::numeric_limits<std::int32_t>::max()) {
            return Bad(where, "a 32-bit integer", v);
          }
          rep ? r->AddInt32(msg, f, static_cast<std::int32_t>(*n))
              : r->SetInt32(msg, f, static_cast<std::int32_t>(*n));
        } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
          rep ? r->AddInt64(msg, f, *n) : r->SetInt64(msg, f, *n);
        } else {
          if (*n < 0) return Bad(where, "an unsigned integer", v);
          if (f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
            rep ? r->AddUInt32(msg, f, static_cast<std::uint32_t>(*n))
                : r->SetUInt32(msg, f, static_cast<std::uint32_t>(*n));
          } else {
            rep ? r->AddUInt64(msg, f, static_cast<std::uint64_t>(*n))
                : r->SetUInt64(msg, f, static_cast<std::uint64_t>(*n));
          }
        }
        return grpc::Status::OK;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        std::optional<double> d = ToDouble(v);
        if (!d) return Bad(where, "a number", v);
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
          rep ? r->AddDouble(msg, f, *d) : r->SetDouble(msg, f, *d);
        } else {
          rep ? r->AddFloat(msg, f, static_cast<float>(*d))
              : r->SetFloat(msg, f, static_cast<float>(*d));
        }
        return grpc::Status::OK;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        std::optional<bool> b = ToBool(v);
        if (!b) return Bad(where, "a boolean", v);
        rep ? r->AddBool(msg, f, *b) : r->SetBool(msg, f, *b);
        return grpc::Status::OK;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::optional<std::string> s = ToText(v);
        if (!s) return Bad(where, "text", v);
        rep ? r->AddString(msg, f, *s) : r->SetString(msg, f, *s);
        return grpc::Status::OK;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return Message(v, rep ? r->AddMessage(msg, f) : r->MutableMessage(msg, f), where);
      default:
        return Bad(where, f->cpp_type_name(), v);
    }
  }

  grpc::Status Field(const json::value& v, ::google::protobuf::Message* msg,
                     const FieldDescriptor* f, const std::string& where) {
    if (v.is_null()) return grpc::Status::OK;  // Proxmox's null: the field stays unset
    if (f->is_repeated() && !f->is_map()) {
      if (v.is_array()) {
        int i = 0;
        for (const auto& e : v.get_array()) {
          if (e.is_null()) continue;
          grpc::Status st = Scalar(e, msg, f, absl::StrCat(where, "[", i++, "]"));
          if (!st.ok()) return st;
        }
        return grpc::Status::OK;
      }
      if (v.is_string() && f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        // Proxmox sometimes sends a list as "a,b,c".
        for (absl::string_view part :
             absl::StrSplit(std::string(v.get_string()), ',', absl::SkipEmpty())) {
          msg->GetReflection()->AddString(msg, f, std::string(part));
        }
        return grpc::Status::OK;
      }
      return Scalar(v, msg, f, where);  // a single value where a list was expected
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return Message(v, msg->GetReflection()->MutableMessage(msg, f), where);
    }
    return Scalar(v, msg, f, where);
  }

  const Transcoder& t_;
};

grpc::Status Transcoder::Decode(const api::ApiOperation& op, const RestResponse& response,
                                Message* out) const {
  if (response.status != 200) return StatusFromRest(response);
  json::error_code ec;
  json::value body = json::parse(response.body, ec);
  if (ec || !body.is_object()) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat("Proxmox answered a body that is not a JSON object (",
                                     ec ? ec.message() : "wrong kind", ")"));
  }
  const json::value* data = body.get_object().if_contains("data");
  if (data == nullptr || data->is_null() || op.data == nullptr) return grpc::Status::OK;
  JsonReader reader(*this);
  const FieldDescriptor* f = out->GetDescriptor()->FindFieldByName("data");
  if (f == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "response has no data field");
  // Reuse the field walker: the response is a message with one field.
  json::object wrapper;
  wrapper["data"] = *data;
  return reader.Message(json::value(std::move(wrapper)), out, op.method->name());
}

}  // namespace pvegw::gateway
