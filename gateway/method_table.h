// O(1) lookup from a gRPC method name to its Proxmox operation and message prototypes.
#ifndef PVEGW_GATEWAY_METHOD_TABLE_H_
#define PVEGW_GATEWAY_METHOD_TABLE_H_

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "api/api_index.h"

namespace pvegw::gateway {

struct MethodEntry {
  const api::ApiOperation* op = nullptr;
  const google::protobuf::Message* request = nullptr;   // prototype
  const google::protobuf::Message* response = nullptr;  // prototype
};

// Built once from the API index; read-only (and so thread-safe) afterwards.
class MethodTable {
 public:
  explicit MethodTable(const api::ApiIndex& api);
  // `method` as gRPC spells it: "/proxmox.ve.v1.Nodes/GetNodesNodeQemu". nullptr if unknown.
  const MethodEntry* Find(absl::string_view method) const;
  std::size_t size() const { return methods_.size(); }

 private:
  google::protobuf::DynamicMessageFactory factory_;
  absl::flat_hash_map<std::string, MethodEntry> methods_;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_METHOD_TABLE_H_
