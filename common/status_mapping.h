// The one place that converts between Proxmox/HTTP answers, absl::Status and grpc::Status.
#ifndef PVEGW_COMMON_STATUS_MAPPING_H_
#define PVEGW_COMMON_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

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

// --- Proxmox/HTTP <-> absl::Status: how the mock answers REST -----------------------------

// A Proxmox answer other than 200, carried in an absl::Status until it is rendered: the
// HTTP status travels in a payload next to a matching canonical code.
absl::Status HttpError(int http_status, absl::string_view message);
// 400 "Parameter verification failed." with Proxmox's per-parameter `errors`.
absl::Status HttpParamError(const std::vector<FieldViolation>& violations);
// The REST answer for a failed status: the HTTP status of HttpError (else by canonical
// code: INVALID_ARGUMENT 400, NOT_FOUND 404, UNIMPLEMENTED 501, anything else 500), the
// message as reason, and the body {"data": null, "message": ..., "errors": {...}}.
RestResponse RestResponseFromStatus(const absl::Status& status);

// --- Gateway-side failures talking to Proxmox -> the REST answer they stand for ------------

// A call that never got a usable Proxmox answer (real mode: connect, TLS, timeout, cancel,
// pool full, garbage on the wire), as the REST answer a proxy would give, so StatusFromRest
// maps it like any other: DEADLINE_EXCEEDED -> 408, CANCELLED -> 499, UNAVAILABLE -> 503,
// RESOURCE_EXHAUSTED -> 429, UNAUTHENTICATED -> 401, PERMISSION_DENIED -> 403,
// INVALID_ARGUMENT -> 400, anything else -> 502 (bad gateway, also UNAVAILABLE). The
// message is the reason phrase; the canonical code survives the round trip.
RestResponse RestResponseFromTransportError(const absl::Status& status);

// --- Proxmox/HTTP -> grpc::Status: how the gateway answers gRPC ---------------------------

// Maps a non-200 Proxmox answer (DESIGN.md §3): 400 -> INVALID_ARGUMENT with a
// google.rpc.BadRequest listing Proxmox's per-parameter `errors`; 401 -> UNAUTHENTICATED;
// 403 -> PERMISSION_DENIED; 404 -> NOT_FOUND; 501 -> UNIMPLEMENTED;
// 408 -> DEADLINE_EXCEEDED; 429 -> RESOURCE_EXHAUSTED; 499 -> CANCELLED;
// 502/503/504/595/596 -> UNAVAILABLE. Proxmox answers most failures with 500 and its
// message; those map by meaning: "does not exist"/"no such" -> NOT_FOUND, "already exists"
// -> ALREADY_EXISTS, a changed config digest -> ABORTED, a guest in the wrong state or a
// non-empty pool -> FAILED_PRECONDITION, a full mock store -> RESOURCE_EXHAUSTED, anything
// else -> INTERNAL. The Proxmox message is always kept as the status message.
grpc::Status StatusFromRest(const RestResponse& response);

// INVALID_ARGUMENT with a google.rpc.BadRequest detail.
grpc::Status InvalidArgument(const std::string& message,
                             const std::vector<FieldViolation>& violations);

}  // namespace pvegw

#endif  // PVEGW_COMMON_STATUS_MAPPING_H_
