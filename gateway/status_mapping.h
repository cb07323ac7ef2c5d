// The one place where Proxmox/HTTP answers and internal errors become gRPC status codes.
#ifndef PVEGW_GATEWAY_STATUS_MAPPING_H_
#define PVEGW_GATEWAY_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/rest_call.h"

namespace pvegw::gateway {

// One rejected parameter, by its Proxmox name.
struct FieldViolation {
  std::string field;
  std::string description;
};

// Maps a non-200 Proxmox answer (DESIGN.md §3): 400 -> INVALID_ARGUMENT with a
// google.rpc.BadRequest listing Proxmox's per-parameter `errors`; 401 -> UNAUTHENTICATED;
// 403 -> PERMISSION_DENIED; 404 -> NOT_FOUND; 501 -> UNIMPLEMENTED;
// 502/503/504/595/596 -> UNAVAILABLE. Proxmox answers most failures with 500 and its
// message; those map by meaning: "does not exist"/"no such" -> NOT_FOUND, "already exists"
// -> ALREADY_EXISTS, a changed config digest -> ABORTED, a guest in the wrong state or a
// non-empty pool -> FAILED_PRECONDITION, a full mock store -> RESOURCE_EXHAUSTED, anything
// else -> INTERNAL. The Proxmox message is always kept as the status message.
grpc::Status StatusFromRest(const RestResponse& response);

// INVALID_ARGUMENT with a google.rpc.BadRequest detail.
grpc::Status InvalidArgument(const std::string& message,
                             const std::vector<FieldViolation>& violations);

// absl::Status -> grpc::Status with the same canonical code and message.
grpc::Status StatusFromAbsl(const absl::Status& status);

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_STATUS_MAPPING_H_
