// Maps the normalised Proxmox API onto proto services, messages and field numbers.
#ifndef PVEGW_CODEGEN_PROTO_BUILDER_H_
#define PVEGW_CODEGEN_PROTO_BUILDER_H_

#include <string>

#include "absl/status/statusor.h"
#include "codegen/api_model.h"
#include "codegen/field_lock.h"
#include "codegen/proto_model.h"
#include "codegen/warnings.h"

namespace pvegw::codegen {

// The generated file holding the property-string messages (next to the service files).
inline constexpr char kPropertyStringsFile[] = "property_strings.proto";

// Builds the ProtoApi for one schema following DESIGN.md §3: one service per top-level
// path segment, RPC = UpperCamel(operationId), <Rpc>Request/<Rpc>Response{data}, explicit
// presence everywhere, schema facts as proxmox.gateway.v1 options. Field numbers come
// from `lock`, which is updated in place (new numbers, reserved removals); `changes`
// says what moved. Schema content errors are INVALID_ARGUMENT naming `file_name`, the
// operation and the parameter; unmappable constructs are counted in `warnings`.
absl::StatusOr<ProtoApi> BuildProtoApi(const ApiSchema& schema, const std::string& package,
                                       const std::string& file_name, FieldLock& lock,
                                       LockChanges& changes, Warnings& warnings);

// The lock's type signature of a field (see SameWireType in field_lock.h).
std::string TypeSignature(const ProtoField& field);

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_PROTO_BUILDER_H_
