// In-memory form of the generated .proto files, built before anything is written.
#ifndef PVEGW_CODEGEN_PROTO_MODEL_H_
#define PVEGW_CODEGEN_PROTO_MODEL_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pvegw::codegen {

// Mirrors proxmox.gateway.v1.FieldRules (proto/proxmox/gateway/v1/options.proto).
struct FieldRules {
  bool required = false;
  std::optional<std::string> default_value;
  std::vector<std::string> enum_values;
  std::optional<double> minimum;
  std::optional<double> maximum;
  std::optional<std::int64_t> min_length;
  std::optional<std::int64_t> max_length;
  std::string pattern;
  std::string format;           // Proxmox format name ("pve-vmid")
  std::string property_format;  // canonical JSON of a property-string format object
  std::string typetext;
  std::string indexed;  // wire prefix of an indexed map ("net" for net[n])
  bool path_param = false;
  bool additional_properties = false;
  bool declared_open = false;  // the schema declares additionalProperties
  std::string typed_of;        // typed companion: the proto name of the raw string field
  bool other_keys = false;     // typed property string: the map of keys the format lacks
};

// Mirrors proxmox.gateway.v1.MethodRules.
struct MethodRules {
  std::string path;  // Proxmox spelling, "/nodes/{node}/qemu"
  std::string verb;
  std::string name;        // Proxmox handler name
  std::string child_link;  // collection child key, "{vmid}"
  bool returns_upid = false;
  std::string proxyto;
  bool is_protected = false;
  bool allowtoken = false;
  std::string permissions;       // human description
  std::string permission_check;  // canonical JSON of Proxmox's check expression
  std::string permission_user;
};

struct ProtoField {
  // kStringMap is map<string, string> (the unknown keys of a typed property string).
  enum class Label { kOptional, kRepeated, kMap, kMessage, kStringMap };
  std::string wire_name;  // Proxmox name; the lock key ("*" = additional properties)
  std::string name;
  std::string json_name;  // empty: protoc's default equals the Proxmox spelling
  int number = 0;
  Label label = Label::kOptional;
  std::string type;  // scalar, ".google.protobuf.X" or a nested message name
  std::vector<std::string> comment;
  FieldRules rules;
};

struct ProtoMessage {
  std::string name;
  std::string full_name;
  std::vector<std::string> comment;
  std::vector<ProtoField> fields;  // in number order once numbered
  std::vector<ProtoMessage> nested;
  std::vector<int> reserved_numbers;
  std::vector<std::string> reserved_names;
};

struct ProtoRpc {
  std::string name;
  std::vector<std::string> comment;
  std::string http_verb;  // get/post/put/delete
  std::string http_path;  // google.api.http template, variables are proto field names
  MethodRules rules;
};

struct ProtoService {
  std::string name;       // "Nodes"
  std::string file_name;  // "nodes.proto"
  std::string segment;    // "nodes"
  std::vector<ProtoRpc> rpcs;
  std::vector<ProtoMessage> messages;  // Request/Response per RPC, in RPC order
  std::set<std::string> imports;
};

struct ProtoApi {
  std::string package;
  std::vector<ProtoService> services;
  // One message per distinct property-string format (DESIGN.md §11), sorted by name;
  // printed into property_strings.proto.
  std::vector<ProtoMessage> property_messages;
  int rpc_count = 0;
  int message_count = 0;
  int field_count = 0;
};

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_PROTO_MODEL_H_
