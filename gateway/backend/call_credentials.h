// Per-call Proxmox credentials from gRPC metadata (DESIGN.md §5), shared by every RPC and
// every task poll so the same metadata means the same identity everywhere.
#ifndef PVEGW_GATEWAY_BACKEND_CALL_CREDENTIALS_H_
#define PVEGW_GATEWAY_BACKEND_CALL_CREDENTIALS_H_

#include <grpcpp/support/string_ref.h>

#include <map>
#include <optional>

#include "absl/status/statusor.h"
#include "common/rest_call.h"

namespace pvegw::gateway {

inline constexpr char kApiTokenPrefix[] = "PVEAPIToken=";
inline constexpr char kTicketMetadata[] = "x-proxmox-ticket";
inline constexpr char kCsrfMetadata[] = "x-proxmox-csrf-token";

// The Proxmox credentials a caller sent as metadata (gRPC keys are lower case): one
// `authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET` value, or `x-proxmox-ticket` (with
// `x-proxmox-csrf-token` for writes). Other `authorization` values (the listener's
// `Bearer ...`) are not Proxmox's and are skipped. Nothing sent: nullopt. Malformed or
// contradictory credentials are UNAUTHENTICATED with a message that never repeats a secret.
absl::StatusOr<std::optional<RestCredentials>> CredentialsFromMetadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata);

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_BACKEND_CALL_CREDENTIALS_H_
