// What changes for a client between two versions of the generated API (pve-protogen --diff).
#ifndef PVEGW_CODEGEN_API_DIFF_H_
#define PVEGW_CODEGEN_API_DIFF_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "codegen/field_lock.h"
#include "codegen/proto_model.h"

namespace pvegw::codegen {

// The client-visible surface of a generated API: its RPCs and every message's fields.
struct ApiSurface {
  struct Rpc {
    std::string service;  // empty when read from a lock (the lock knows messages only)
    std::string verb;
    std::string path;
  };
  struct Field {
    int number = 0;
    std::string type;  // lock signature ("int64", "repeated string", "message:DataItem")
    std::string proto_name;
    bool required_param = false;  // a required request parameter
  };
  std::string package;
  std::map<std::string, Rpc> rpcs;  // by RPC name, "GetNodesNodeQemu"
  // message name without the package ("GetNodesNodeQemuResponse.DataItem") -> Proxmox
  // field name -> field
  std::map<std::string, std::map<std::string, Field>> messages;
};

ApiSurface SurfaceOf(const ProtoApi& api);
// From a lock: every message it pins (RPCs of `package` inferred from <Rpc>Request names).
// A lock never forgets a message, so RPCs removed before it was written still count.
ApiSurface SurfaceOfLock(const FieldLock& lock, const std::string& package);

struct ApiChange {
  enum class Kind { kRpcAdded, kRpcRemoved, kFieldAdded, kFieldRemoved, kTypeChanged, kRenamed };
  Kind kind = Kind::kRpcAdded;
  std::string rpc;  // RPC changes
  ApiSurface::Rpc rpc_info;
  std::string message;  // field changes: message name without the package
  std::string field;    // Proxmox name (the JSON key)
  std::string old_proto_name;
  std::string new_proto_name;
  std::string old_type;  // lock signatures; empty for added/removed
  std::string new_type;
  int old_number = 0;
  int new_number = 0;
  bool required_param = false;
  // Old clients still exchange the same bytes (binary protobuf) / the same JSON (proto3
  // JSON: int64 is a string, int32 a number) for what they use.
  bool wire_compatible = true;
  bool json_compatible = true;

  // "compatible", "wire-compatible", "JSON-compatible" or "breaking".
  std::string Compatibility() const;
};

struct ApiDiff {
  std::string old_source;  // what was compared, for the report
  std::string new_source;
  std::vector<ApiChange> changes;  // RPCs first, then fields, each sorted by name
  int Count(ApiChange::Kind kind) const;
  int Breaking() const;  // changes that are neither wire- nor JSON-compatible
};

// Compares two surfaces; field changes of RPCs that were added or removed are not listed
// one by one.
ApiDiff DiffSurfaces(const ApiSurface& old_api, const ApiSurface& new_api);

// `old_path` is a lock (pve-api.lock.json) or a schema (either rendering); `new_schema_path`
// a schema. The new schema is numbered with the old lock (or with the lock the old schema
// produces, starting from `lock_path` when given), exactly as a regeneration would, so
// retyped fields show their new numbers and int64 never narrows. Writes nothing.
absl::StatusOr<ApiDiff> RunDiff(const std::string& old_path, const std::string& new_schema_path,
                                const std::string& package, const std::string& lock_path);

std::string DiffText(const ApiDiff& diff);
std::string DiffJson(const ApiDiff& diff);  // one JSON object, see docs/protogen-and-schemas.md "--diff"

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_API_DIFF_H_
