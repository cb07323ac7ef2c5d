// The one place that turns Proxmox/HTTP answers into absl::Status and back. gRPC never
// appears here: gateway/grpc_status.h turns the result into a grpc::Status.
#ifndef PVEGW_COMMON_STATUS_MAPPING_H_
#define PVEGW_COMMON_STATUS_MAPPING_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/rest_call.h"

namespace pvegw {

// One rejected parameter, by its Proxmox name.
struct FieldViolation {
  std::string field;
  std::string description;
};

// --- absl::Status -> Proxmox/HTTP: how the mock answers REST ------------------------------

// A Proxmox answer other than 200, carried in an absl::Status until it is rendered: the
// HTTP status travels in a payload next to a matching canonical code.
absl::Status HttpError(int http_status, absl::string_view message);
// 400 "Parameter verification failed." with Proxmox's per-parameter `errors`.
absl::Status HttpParamError(const std::vector<FieldViolation>& violations);
// The REST answer for a failed status: the HTTP status of HttpError (else by canonical
// code: INVALID_ARGUMENT 400, NOT_FOUND 404, UNIMPLEMENTED 501, anything else 500), the
// message as reason, and the body {"data": null, "message": ..., "errors": {...}}.
RestResponse RestResponseFromStatus(const absl::Status& status);

// --- Proxmox/HTTP -> absl::Status: how the gateway reads Proxmox's answers -----------------

// Maps a non-200 Proxmox answer (DESIGN.md §3): 400 -> INVALID_ARGUMENT carrying Proxmox's
// per-parameter `errors` (FieldViolationsOf); 401 -> UNAUTHENTICATED; 403 ->
// PERMISSION_DENIED; 404 -> NOT_FOUND; 501 -> UNIMPLEMENTED; 502/503/504/595/596 ->
// UNAVAILABLE. Proxmox answers most failures with 500 and its message; those map by
// meaning: "does not exist"/"no such" -> NOT_FOUND, "already exists" -> ALREADY_EXISTS, a
// changed config digest -> ABORTED, a guest in the wrong state or a non-empty pool ->
// FAILED_PRECONDITION, a full mock store -> RESOURCE_EXHAUSTED, anything else -> INTERNAL.
// The Proxmox message is always kept as the status message. 200 is OK.
//
// Failures that never produced an answer (connect, TLS, timeout, cancel) are not answers:
// backends report them as their own absl codes (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED,
// ...) and never through here.
absl::Status StatusFromRest(const RestResponse& response);

// INVALID_ARGUMENT with per-parameter violations attached (FieldViolationsOf reads them).
absl::Status InvalidArgumentWithViolations(absl::string_view message,
                                           const std::vector<FieldViolation>& violations);
// The violations attached by InvalidArgumentWithViolations, HttpParamError or
// StatusFromRest; empty when there are none.
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);

}  // namespace pvegw

#endif  // PVEGW_COMMON_STATUS_MAPPING_H_
