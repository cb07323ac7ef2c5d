// The Proxmox API as pve-protogen sees it, whichever rendering it was read from.
#ifndef PVEGW_CODEGEN_API_MODEL_H_
#define PVEGW_CODEGEN_API_MODEL_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

namespace pvegw::codegen {

// One parameter of an operation. `schema` is Proxmox's JSON-schema dialect
// (type, optional, format, enum, minimum, ...), exactly as the input carries it.
struct ApiParameter {
  std::string name;  // Proxmox spelling, e.g. "net[n]", "running-machine"
  bool in_path = false;
  boost::json::object schema;
};

// One HTTP operation of the Proxmox API, normalised so that apidoc.js and OpenAPI
// inputs of the same API compare equal field by field.
struct ApiOperation {
  std::string path;         // "/nodes/{node}/qemu", no trailing slash
  std::string verb;         // GET, POST, PUT or DELETE
  std::string name;         // Proxmox handler name ("vmlist"); OpenAPI carries it as `summary`
  std::string description;  // trimmed
  std::vector<ApiParameter> parameters;  // sorted by name
  boost::json::value returns;            // the `returns` schema; null when absent
  boost::json::value permissions;        // Proxmox permissions object or null
  bool allowtoken = false;
  bool is_protected = false;
  std::string proxyto;  // empty when not proxied (OpenAPI renderings usually lack it)
};

// A whole schema document.
struct ApiSchema {
  std::string source_format;             // "openapi" or "apidoc"
  std::vector<ApiOperation> operations;  // sorted by (path, verb)
};

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_API_MODEL_H_
