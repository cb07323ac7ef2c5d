// The one place that turns an absl::Status into the grpc::Status a client receives.
#ifndef PVEGW_GATEWAY_GRPC_STATUS_H_
#define PVEGW_GATEWAY_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace pvegw::gateway {

// Same code and message. Per-parameter violations (common/status_mapping.h
// FieldViolationsOf) on an INVALID_ARGUMENT become a google.rpc.BadRequest detail in
// grpc-status-details-bin, which grpcurl and the language SDKs decode. Message and
// details are cut to fit gRPC's default trailer limit (8 KiB), saying what was left out.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_GRPC_STATUS_H_
