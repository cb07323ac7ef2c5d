// O(1) lookup from a gRPC method name to its Proxmox operation and message prototypes.
#ifndef PVEGW_GATEWAY_METHOD_TABLE_H_
#define PVEGW_GATEWAY_METHOD_TABLE_H_

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "api/api_index.h"

namespace pvegw::gateway {

struct MethodEntry {
  const api::ApiOperation* op = nullptr;
  const google::protobuf::Message* request = nullptr;   // prototype
  const google::protobuf::Message* response = nullptr;  // prototype
  std::size_t index = 0;  // 0 .. size()-1, for per-method arrays (metrics)
};

// Built once from the API index; read-only (and so thread-safe) afterwards.
class MethodTable {
 public:
  explicit MethodTable(const api::ApiIndex& api);
  // `method` as gRPC spells it: "/proxmox.ve.v1.Nodes/GetNodesNodeQemu". nullptr if unknown.
  const MethodEntry* Find(absl::string_view method) const;
  std::size_t size() const { return methods_.size(); }
  // The gRPC name of entry `index` ("/proxmox.ve.v1.Nodes/GetNodes").
  const std::string& name(std::size_t index) const { return names_[index]; }

 private:
  google::protobuf::DynamicMessageFactory factory_;
  absl::flat_hash_map<std::string, MethodEntry> methods_;
  std::vector<std::string> names_;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_METHOD_TABLE_H_
