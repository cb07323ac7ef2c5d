#include "common/status_mapping.h"

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace pvegw {
namespace {

namespace json = boost::json;

bool ContainsAny(absl::string_view text, std::initializer_list<absl::string_view> needles) {
  for (absl::string_view n : needles) {
    if (absl::StrContains(text, n)) return true;
  }
  return false;
}

// Proxmox reports nearly every failure as 500; its words say what kind it is.
absl::StatusCode CodeFor500(absl::string_view message) {
  if (ContainsAny(message, {"does not exist", "no such ", "not found"})) {
    return absl::StatusCode::kNotFound;
  }
  if (ContainsAny(message, {"already exists", "already defined"})) {
    return absl::StatusCode::kAlreadyExists;
  }
  if (ContainsAny(message, {"detected modified configuration"})) return absl::StatusCode::kAborted;
  if (ContainsAny(message, {"already running", "not running", "is running", "not paused",
                            "if it's a template", "is not empty", "belongs to pool", "is locked",
                            "target is local node", "can't migrate"})) {
    return absl::StatusCode::kFailedPrecondition;
  }
  if (ContainsAny(message, {"is full"})) return absl::StatusCode::kResourceExhausted;
  return absl::StatusCode::kInternal;
}

absl::StatusCode CodeFor(int http_status, absl::string_view message) {
  switch (http_status) {
    case 400:
      // Proxmox answers a well-formed UPID of an unknown task 400 "no such task".
      if (absl::StrContains(message, "no such task")) return absl::StatusCode::kNotFound;
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 500:
      return CodeFor500(message);
    case 501:
      return absl::StatusCode::kUnimplemented;
    case 502:
    case 503:
    case 504:
    case 595:  // pveproxy: no connection to the target node
    case 596:  // pveproxy: connection to the target node broken
      return absl::StatusCode::kUnavailable;
    default:
      return http_status >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kUnknown;
  }
}

constexpr char kHttpPayload[] = "pvegw.http_status";
constexpr char kErrorsPayload[] = "pvegw.param_errors";

absl::StatusCode AbslCodeFor(int http_status) {
  switch (http_status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 501:
      return absl::StatusCode::kUnimplemented;
    default:
      return absl::StatusCode::kFailedPrecondition;
  }
}

std::string ErrorsJson(const std::vector<FieldViolation>& violations) {
  json::object errors;
  for (const FieldViolation& v : violations) errors[v.field] = v.description;
  return json::serialize(errors);
}

}  // namespace

absl::Status HttpError(int http_status, absl::string_view message) {
  absl::Status status(AbslCodeFor(http_status), message);
  status.SetPayload(kHttpPayload, absl::Cord(absl::StrCat(http_status)));
  return status;
}

absl::Status HttpParamError(const std::vector<FieldViolation>& violations) {
  absl::Status status = HttpError(400, "Parameter verification failed.");
  status.SetPayload(kErrorsPayload, absl::Cord(ErrorsJson(violations)));
  return status;
}

RestResponse RestResponseFromStatus(const absl::Status& status) {
  RestResponse r;
  r.status = 500;
  if (auto payload = status.GetPayload(kHttpPayload)) {
    (void)absl::SimpleAtoi(std::string(*payload), &r.status);
  } else if (status.code() == absl::StatusCode::kInvalidArgument) {
    r.status = 400;
  } else if (status.code() == absl::StatusCode::kNotFound) {
    r.status = 404;
  } else if (status.code() == absl::StatusCode::kUnimplemented) {
    r.status = 501;
  }
  json::object body;
  body["data"] = nullptr;
  if (auto errors = status.GetPayload(kErrorsPayload)) {
    json::error_code ec;
    json::value parsed = json::parse(std::string(*errors), ec);
    if (!ec) body["errors"] = std::move(parsed);
  }
  r.reason = std::string(status.message());
  body["message"] = r.reason + "\n";
  r.body = json::serialize(body);
  return r;
}

absl::Status InvalidArgumentWithViolations(absl::string_view message,
                                           const std::vector<FieldViolation>& violations) {
  absl::Status status(absl::StatusCode::kInvalidArgument, message);
  if (!violations.empty()) status.SetPayload(kErrorsPayload, absl::Cord(ErrorsJson(violations)));
  return status;
}

std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kErrorsPayload);
  if (!payload.has_value()) return out;
  json::error_code ec;
  json::value parsed = json::parse(std::string(*payload), ec);
  if (ec || !parsed.is_object()) return out;
  for (const auto& kv : parsed.get_object()) {
    out.push_back({std::string(kv.key()), kv.value().is_string()
                                              ? std::string(kv.value().get_string())
                                              : json::serialize(kv.value())});
  }
  return out;
}

absl::Status StatusFromRest(const RestResponse& response) {
  if (response.status == 200) return absl::OkStatus();
  // The reason phrase carries Proxmox's message; the body may repeat it with details.
  std::string message(absl::StripTrailingAsciiWhitespace(response.reason));
  std::vector<FieldViolation> violations;
  json::error_code ec;
  json::value body = json::parse(response.body, ec);
  if (!ec && body.is_object()) {
    const json::object& obj = body.get_object();
    if (const json::value* m = obj.if_contains("message");
        m != nullptr && m->is_string() && message.empty()) {
      message = std::string(absl::StripTrailingAsciiWhitespace(
          absl::string_view(m->get_string().data(), m->get_string().size())));
    }
    if (const json::value* errors = obj.if_contains("errors");
        errors != nullptr && errors->is_object()) {
      for (const auto& kv : errors->get_object()) {
        std::string text = kv.value().is_string() ? std::string(kv.value().get_string())
                                                  : json::serialize(kv.value());
        violations.push_back(
            {std::string(kv.key()), std::string(absl::StripTrailingAsciiWhitespace(text))});
      }
    }
  }
  if (message.empty()) message = absl::StrCat("Proxmox answered HTTP ", response.status);
  const absl::StatusCode code = CodeFor(response.status, message);
  if (!violations.empty()) {
    std::string full = message;
    for (const FieldViolation& v : violations)
      absl::StrAppend(&full, " ", v.field, ": ", v.description, ";");
    full.pop_back();
    if (code == absl::StatusCode::kInvalidArgument) {
      return InvalidArgumentWithViolations(full, violations);
    }
  }
  return absl::Status(code, message);
}

}  // namespace pvegw
