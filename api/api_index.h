// The Proxmox API as the compiled descriptor set describes it: operations, a path router,
// and each operation's parameters by their Proxmox names.
#ifndef PVEGW_API_API_INDEX_H_
#define PVEGW_API_API_INDEX_H_

#include <google/protobuf/descriptor.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proxmox/gateway/v1/options.pb.h"

namespace pvegw::api {

// One generated RPC and the Proxmox operation behind it.
struct ApiOperation {
  const google::protobuf::MethodDescriptor* method = nullptr;
  proxmox::gateway::v1::MethodRules rules;
  std::string verb;                   // GET, POST, PUT, DELETE
  std::string path;                   // "/nodes/{node}/qemu", Proxmox names
  std::vector<std::string> segments;  // {"nodes", "{node}", "qemu"}
  const google::protobuf::Descriptor* request = nullptr;
  const google::protobuf::FieldDescriptor* data = nullptr;                 // Response.data
  std::map<std::string, const google::protobuf::FieldDescriptor*> params;  // by Proxmox name
  std::vector<const google::protobuf::FieldDescriptor*> indexed_params;    // net[n], ...
};

// The Proxmox name of a field: json_name, or the wire prefix of an indexed map.
// No copy: this sits on the per-field hot path of every answer.
const std::string& WireName(const google::protobuf::FieldDescriptor* field);
const proxmox::gateway::v1::FieldRules& Rules(const google::protobuf::FieldDescriptor* field);
// The field of `message` whose Proxmox name is `wire`, or nullptr.
const google::protobuf::FieldDescriptor* FieldByWireName(
    const google::protobuf::Descriptor* message, absl::string_view wire);

// A concrete path matched to an operation.
struct Route {
  const ApiOperation* op = nullptr;
  std::string template_path;
  std::vector<std::pair<std::string, std::string>> path_params;  // Proxmox name -> value
  std::vector<std::string> segments;                             // percent-decoded
};

class ApiIndex {
 public:
  // Indexes every service of `files` (from `pool`, which must outlive the index).
  static absl::StatusOr<std::unique_ptr<ApiIndex>> Build(
      const google::protobuf::DescriptorPool* pool,
      const std::vector<const google::protobuf::FileDescriptor*>& files);
  // Builds a private pool from serialized FileDescriptorSet bytes.
  static absl::StatusOr<std::unique_ptr<ApiIndex>> FromDescriptorSet(
      absl::string_view bytes, absl::string_view package = "proxmox.ve.v1");

  // NOT_FOUND when no path template matches; UNIMPLEMENTED when the path exists but not
  // for `verb` (Proxmox answers both with 501). Path segments are percent-decoded.
  absl::StatusOr<Route> Match(absl::string_view verb, absl::string_view path) const;

  const ApiOperation* Find(absl::string_view verb, absl::string_view template_path) const;
  bool HasPath(absl::string_view template_path) const;
  // Literal child segments of a template that are paths of their own, sorted.
  std::vector<std::string> LiteralChildren(absl::string_view template_path) const;
  // The template of a parameter child ("/nodes/{node}/qemu" -> "/nodes/{node}/qemu/{vmid}").
  std::optional<std::string> ParamChild(absl::string_view template_path) const;

  const std::vector<std::unique_ptr<ApiOperation>>& operations() const { return operations_; }
  const google::protobuf::DescriptorPool* pool() const { return pool_; }

 private:
  struct Node {
    std::map<std::string, std::unique_ptr<Node>> literal;
    std::unique_ptr<Node> param;
    std::string param_name;
    std::string template_path;
    std::map<std::string, const ApiOperation*> ops;  // by verb
  };
  const Node* FindNode(absl::string_view template_path) const;

  std::unique_ptr<google::protobuf::DescriptorPool> owned_pool_;
  const google::protobuf::DescriptorPool* pool_ = nullptr;
  std::vector<std::unique_ptr<ApiOperation>> operations_;
  Node root_;
};

// Splits "/a/b/c" into {"a","b","c"} (empty segments dropped).
std::vector<std::string> SplitPath(absl::string_view path);
// Percent-decoding of one path segment; nullopt on a malformed escape.
std::optional<std::string> PercentDecode(absl::string_view s);
// Percent-escapes everything but A-Z a-z 0-9 - . _ ~ (a path segment, or a form key or
// value: pveproxy splits pairs on ';' as well as '&', so nothing else may stay raw).
std::string PercentEncode(absl::string_view s);

}  // namespace pvegw::api

#endif  // PVEGW_API_API_INDEX_H_
