#include "common/status_mapping.h"

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

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
grpc::StatusCode CodeFor500(absl::string_view message) {
  if (ContainsAny(message, {"does not exist", "no such ", "not found"})) {
    return grpc::StatusCode::NOT_FOUND;
  }
  if (ContainsAny(message, {"already exists", "already defined"})) {
    return grpc::StatusCode::ALREADY_EXISTS;
  }
  if (ContainsAny(message, {"detected modified configuration"})) return grpc::StatusCode::ABORTED;
  if (ContainsAny(message, {"already running", "not running", "is running", "not paused",
                            "if it's a template", "is not empty", "belongs to pool", "is locked",
                            "target is local node", "can't migrate"})) {
    return grpc::StatusCode::FAILED_PRECONDITION;
  }
  if (ContainsAny(message, {"is full"})) return grpc::StatusCode::RESOURCE_EXHAUSTED;
  return grpc::StatusCode::INTERNAL;
}

grpc::StatusCode CodeFor(int http_status, absl::string_view message) {
  switch (http_status) {
    case 400:
      // Proxmox answers a well-formed UPID of an unknown task 400 "no such task".
      if (absl::StrContains(message, "no such task")) return grpc::StatusCode::NOT_FOUND;
      return grpc::StatusCode::INVALID_ARGUMENT;
    case 401:
      return grpc::StatusCode::UNAUTHENTICATED;
    case 403:
      return grpc::StatusCode::PERMISSION_DENIED;
    case 404:
      return grpc::StatusCode::NOT_FOUND;
    case 408:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case 429:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case 499:  // the caller went away (nginx's "client closed request")
      return grpc::StatusCode::CANCELLED;
    case 500:
      return CodeFor500(message);
    case 501:
      return grpc::StatusCode::UNIMPLEMENTED;
    case 502:
    case 503:
    case 504:
    case 595:  // pveproxy: no connection to the target node
    case 596:  // pveproxy: connection to the target node broken
      return grpc::StatusCode::UNAVAILABLE;
    default:
      return http_status >= 500 ? grpc::StatusCode::INTERNAL : grpc::StatusCode::UNKNOWN;
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

grpc::Status WithDetails(grpc::StatusCode code, const std::string& message,
                         const google::protobuf::Message* detail) {
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(code));
  rich.set_message(message);
  if (detail != nullptr) rich.add_details()->PackFrom(*detail);
  return grpc::Status(code, message, rich.SerializeAsString());
}

}  // namespace

absl::Status HttpError(int http_status, absl::string_view message) {
  absl::Status status(AbslCodeFor(http_status), message);
  status.SetPayload(kHttpPayload, absl::Cord(absl::StrCat(http_status)));
  return status;
}

absl::Status HttpParamError(const std::vector<FieldViolation>& violations) {
  json::object errors;
  for (const FieldViolation& v : violations) errors[v.field] = v.description;
  absl::Status status = HttpError(400, "Parameter verification failed.");
  status.SetPayload(kErrorsPayload, absl::Cord(json::serialize(errors)));
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

RestResponse RestResponseFromTransportError(const absl::Status& status) {
  RestResponse r;
  switch (status.code()) {
    case absl::StatusCode::kDeadlineExceeded:
      r.status = 408;
      break;
    case absl::StatusCode::kCancelled:
      r.status = 499;
      break;
    case absl::StatusCode::kUnavailable:
      r.status = 503;
      break;
    case absl::StatusCode::kResourceExhausted:
      r.status = 429;
      break;
    case absl::StatusCode::kUnauthenticated:
      r.status = 401;
      break;
    case absl::StatusCode::kPermissionDenied:
      r.status = 403;
      break;
    case absl::StatusCode::kInvalidArgument:
      r.status = 400;
      break;
    default:
      r.status = 502;
      break;
  }
  r.reason = std::string(status.message());
  json::object body;
  body["data"] = nullptr;
  body["message"] = r.reason + "\n";
  r.body = json::serialize(body);
  return r;
}

grpc::Status InvalidArgument(const std::string& message,
                             const std::vector<FieldViolation>& violations) {
  google::rpc::BadRequest bad;
  for (const FieldViolation& v : violations) {
    auto* fv = bad.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  return WithDetails(grpc::StatusCode::INVALID_ARGUMENT, message, &bad);
}

grpc::Status StatusFromRest(const RestResponse& response) {
  if (response.status == 200) return grpc::Status::OK;
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
  const grpc::StatusCode code = CodeFor(response.status, message);
  if (!violations.empty()) {
    std::string full = message;
    for (const FieldViolation& v : violations)
      absl::StrAppend(&full, " ", v.field, ": ", v.description, ";");
    full.pop_back();
    if (code == grpc::StatusCode::INVALID_ARGUMENT) return InvalidArgument(full, violations);
  }
  return grpc::Status(code, message);
}

}  // namespace pvegw
