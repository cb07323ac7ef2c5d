#include "codegen/api_diff.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "codegen/proto_builder.h"
#include "codegen/protogen.h"
#include "common/status_macros.h"

namespace pvegw::codegen {
namespace {

namespace json = boost::json;

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The RPC a message belongs to: "GetNodesResponse.DataItem" -> "GetNodes".
std::string RpcOfMessage(absl::string_view message) {
  absl::string_view top = message.substr(0, message.find('.'));
  if (absl::ConsumeSuffix(&top, "Request") || absl::ConsumeSuffix(&top, "Response")) {
    return std::string(top);
  }
  return std::string();
}

// How proto3 JSON writes a value of this signature: int64 is a string, int32 a number.
std::string JsonKind(absl::string_view sig) {
  std::string wrap;
  if (absl::ConsumePrefix(&sig, "repeated ")) wrap = "array of ";
  if (absl::ConsumePrefix(&sig, "map<uint32,")) {
    absl::ConsumeSuffix(&sig, ">");
    wrap = "object of ";
  }
  std::string kind;
  if (sig == "int" || sig == "double") {
    kind = "number";
  } else if (sig == "int64" || sig == "string") {
    kind = "string";
  } else if (sig == "bool") {
    kind = "bool";
  } else if (sig == ".google.protobuf.Value") {
    kind = "any";
  } else if (sig == ".google.protobuf.ListValue") {
    kind = "array";
  } else {
    kind = "object";  // messages, Struct, Empty
  }
  return wrap + kind;
}

// A signature as a proto type: "int" -> "int32", "message:DataItem" -> "DataItem".
std::string ShowType(absl::string_view sig) {
  std::string prefix;
  std::string suffix;
  if (absl::ConsumePrefix(&sig, "repeated ")) prefix = "repeated ";
  if (absl::ConsumePrefix(&sig, "map<uint32,")) {
    absl::ConsumeSuffix(&sig, ">");
    prefix = "map<uint32, ";
    suffix = ">";
  }
  std::string base(sig);
  if (base == "int") base = "int32";
  if (absl::ConsumePrefix(&sig, "message:")) base = std::string(sig);
  if (absl::ConsumePrefix(&sig, ".")) base = std::string(sig);
  return prefix + base + suffix;
}

}  // namespace

std::string ApiChange::Compatibility() const {
  if (wire_compatible && json_compatible) return "compatible";
  if (wire_compatible) return "wire-compatible";
  if (json_compatible) return "JSON-compatible";
  return "breaking";
}

int ApiDiff::Count(ApiChange::Kind kind) const {
  return static_cast<int>(std::count_if(changes.begin(), changes.end(),
                                        [&](const ApiChange& c) { return c.kind == kind; }));
}

int ApiDiff::Breaking() const {
  return static_cast<int>(std::count_if(changes.begin(), changes.end(), [](const ApiChange& c) {
    return !c.wire_compatible && !c.json_compatible;
  }));
}

ApiSurface SurfaceOf(const ProtoApi& api) {
  ApiSurface surface;
  surface.package = api.package;
  std::function<void(const ProtoMessage&, const std::string&, bool)> add =
      [&](const ProtoMessage& m, const std::string& name, bool request) {
        auto& fields = surface.messages[name];
        for (const ProtoField& f : m.fields) {
          fields[f.wire_name] =
              ApiSurface::Field{f.number, TypeSignature(f), f.name, request && f.rules.required};
        }
        for (const ProtoMessage& nested : m.nested) {
          add(nested, absl::StrCat(name, ".", nested.name), request);
        }
      };
  for (const ProtoService& svc : api.services) {
    for (const ProtoRpc& rpc : svc.rpcs) {
      surface.rpcs[rpc.name] = ApiSurface::Rpc{svc.name, rpc.rules.verb, rpc.rules.path};
    }
    for (const ProtoMessage& m : svc.messages) {
      add(m, m.name, absl::EndsWith(m.name, "Request"));
    }
  }
  for (const ProtoMessage& m : api.property_messages) add(m, m.name, false);
  return surface;
}

ApiSurface SurfaceOfLock(const FieldLock& lock, const std::string& package) {
  ApiSurface surface;
  surface.package = package;
  const std::string prefix = package + ".";
  for (const auto& [full, m] : lock.messages()) {
    if (!absl::StartsWith(full, prefix)) continue;
    const std::string name = full.substr(prefix.size());
    auto& fields = surface.messages[name];
    for (const auto& [wire, e] : m.fields) {
      fields[wire] = ApiSurface::Field{e.number, e.type, e.proto_name, false};
    }
    if (name.find('.') == std::string::npos && absl::EndsWith(name, "Request")) {
      surface.rpcs[RpcOfMessage(name)] = ApiSurface::Rpc{};
    }
  }
  return surface;
}

ApiDiff DiffSurfaces(const ApiSurface& old_api, const ApiSurface& new_api) {
  ApiDiff diff;
  std::set<std::string> rpcs_gone_or_new;
  for (const auto& [name, rpc] : new_api.rpcs) {
    if (old_api.rpcs.count(name) != 0) continue;
    ApiChange c;
    c.kind = ApiChange::Kind::kRpcAdded;
    c.rpc = name;
    c.rpc_info = rpc;
    diff.changes.push_back(c);
    rpcs_gone_or_new.insert(name);
  }
  for (const auto& [name, rpc] : old_api.rpcs) {
    if (new_api.rpcs.count(name) != 0) continue;
    ApiChange c;
    c.kind = ApiChange::Kind::kRpcRemoved;
    c.rpc = name;
    c.rpc_info = rpc;
    c.wire_compatible = c.json_compatible = false;
    diff.changes.push_back(c);
    rpcs_gone_or_new.insert(name);
  }
  std::sort(diff.changes.begin(), diff.changes.end(), [](const ApiChange& a, const ApiChange& b) {
    return std::tie(a.rpc, a.kind) < std::tie(b.rpc, b.kind);
  });

  static const std::map<std::string, ApiSurface::Field> kNone;
  std::set<std::string> names;
  for (const auto& [name, fields] : old_api.messages) names.insert(name);
  for (const auto& [name, fields] : new_api.messages) names.insert(name);
  for (const std::string& message : names) {
    if (rpcs_gone_or_new.count(RpcOfMessage(message)) != 0) continue;
    auto o = old_api.messages.find(message);
    auto n = new_api.messages.find(message);
    const auto& old_fields = o == old_api.messages.end() ? kNone : o->second;
    const auto& new_fields = n == new_api.messages.end() ? kNone : n->second;
    std::set<std::string> wires;
    for (const auto& [wire, f] : old_fields) wires.insert(wire);
    for (const auto& [wire, f] : new_fields) wires.insert(wire);
    for (const std::string& wire : wires) {
      auto of = old_fields.find(wire);
      auto nf = new_fields.find(wire);
      ApiChange c;
      c.message = message;
      c.field = wire;
      if (of != old_fields.end()) {
        c.old_type = of->second.type;
        c.old_number = of->second.number;
        c.old_proto_name = of->second.proto_name;
      }
      if (nf != new_fields.end()) {
        c.new_type = nf->second.type;
        c.new_number = nf->second.number;
        c.new_proto_name = nf->second.proto_name;
        c.required_param = nf->second.required_param;
      }
      if (of == old_fields.end()) {
        c.kind = ApiChange::Kind::kFieldAdded;
        // A new required parameter fails every old caller's request.
        if (c.required_param) c.wire_compatible = c.json_compatible = false;
      } else if (nf == new_fields.end()) {
        c.kind = ApiChange::Kind::kFieldRemoved;
        c.wire_compatible = c.json_compatible = false;
      } else if (c.old_type != c.new_type || c.old_number != c.new_number) {
        c.kind = ApiChange::Kind::kTypeChanged;
        c.wire_compatible = c.old_number == c.new_number && SameWireType(c.old_type, c.new_type);
        c.json_compatible = JsonKind(c.old_type) == JsonKind(c.new_type);
      } else if (c.old_proto_name != c.new_proto_name) {
        c.kind = ApiChange::Kind::kRenamed;  // same number and JSON key; generated code differs
      } else {
        continue;
      }
      diff.changes.push_back(std::move(c));
    }
  }
  return diff;
}

absl::StatusOr<ApiDiff> RunDiff(const std::string& old_path, const std::string& new_schema_path,
                                const std::string& package, const std::string& lock_path) {
  if (old_path.empty()) return absl::InvalidArgumentError("--diff needs an old lock or schema");
  if (new_schema_path.empty()) {
    return absl::InvalidArgumentError(
        "--diff compares against the new schema: pass --schema=PATH or set PROXMOX_SCHEMA");
  }
  absl::StatusOr<std::string> old_text = ReadText(old_path);
  if (!old_text.ok()) return old_text.status();
  PVEGW_ASSIGN_OR_RETURN(std::string new_text, ReadText(new_schema_path));

  FieldLock lock;
  ApiSurface old_surface;
  json::error_code ec;
  const json::value probe = json::parse(*old_text, ec);
  const bool is_lock = !ec && probe.is_object() && probe.get_object().contains("lock_version");
  if (is_lock) {
    PVEGW_ASSIGN_OR_RETURN(lock, FieldLock::Parse(*old_text, old_path));
    old_surface = SurfaceOfLock(lock, package);
  } else {
    if (!lock_path.empty()) {
      PVEGW_ASSIGN_OR_RETURN(lock, FieldLock::Load(lock_path));
    }
    PVEGW_ASSIGN_OR_RETURN(ProtogenResult old_result,
                           GenerateFromText(*old_text, old_path, package, lock));
    old_surface = SurfaceOf(old_result.api);
  }
  PVEGW_ASSIGN_OR_RETURN(ProtogenResult new_result,
                         GenerateFromText(new_text, new_schema_path, package, lock));
  ApiDiff diff = DiffSurfaces(old_surface, SurfaceOf(new_result.api));
  diff.old_source = absl::StrCat(old_path, is_lock ? " (lock)" : " (schema)");
  diff.new_source = absl::StrCat(new_schema_path, " (schema)");
  return diff;
}

std::string DiffText(const ApiDiff& diff) {
  using Kind = ApiChange::Kind;
  std::string out = absl::StrCat(
      "API changes from ", diff.old_source, " to ", diff.new_source, ":\n",
      "  RPCs: ", diff.Count(Kind::kRpcAdded), " added, ", diff.Count(Kind::kRpcRemoved),
      " removed; fields: ", diff.Count(Kind::kFieldAdded), " added, ",
      diff.Count(Kind::kFieldRemoved), " removed, ", diff.Count(Kind::kTypeChanged), " retyped, ",
      diff.Count(Kind::kRenamed), " renamed; ", diff.Breaking(), " breaking\n");
  for (const ApiChange& c : diff.changes) {
    std::string line;
    switch (c.kind) {
      case Kind::kRpcAdded:
      case Kind::kRpcRemoved: {
        const std::string where = c.rpc_info.path.empty() ? std::string()
                                                          : absl::StrCat(" (", c.rpc_info.verb, " ",
                                                                         c.rpc_info.path, ")");
        line =
            absl::StrCat(c.kind == Kind::kRpcAdded ? "+ rpc " : "- rpc ",
                         c.rpc_info.service.empty() ? "" : c.rpc_info.service + ".", c.rpc, where);
        break;
      }
      case Kind::kFieldAdded:
        line = absl::StrCat("+ field ", c.message, ".", c.new_proto_name, " = ", c.new_number, " (",
                            ShowType(c.new_type), c.required_param ? ", required" : "", ")");
        break;
      case Kind::kFieldRemoved:
        line = absl::StrCat("- field ", c.message, ".", c.old_proto_name, " = ", c.old_number, " (",
                            ShowType(c.old_type), ")");
        break;
      case Kind::kTypeChanged:
        line =
            absl::StrCat("~ field ", c.message, ".", c.new_proto_name, ": ", ShowType(c.old_type),
                         " = ", c.old_number, " -> ", ShowType(c.new_type), " = ", c.new_number);
        break;
      case Kind::kRenamed:
        line = absl::StrCat("~ field ", c.message, ".", c.old_proto_name, " renamed to ",
                            c.new_proto_name, " (= ", c.new_number, ", JSON key '", c.field,
                            "' unchanged)");
        break;
    }
    absl::StrAppend(&out, "  ", line, "  [", c.Compatibility(), "]\n");
  }
  return out;
}

std::string DiffJson(const ApiDiff& diff) {
  using Kind = ApiChange::Kind;
  static const std::map<Kind, const char*> kNames = {
      {Kind::kRpcAdded, "rpc_added"},       {Kind::kRpcRemoved, "rpc_removed"},
      {Kind::kFieldAdded, "field_added"},   {Kind::kFieldRemoved, "field_removed"},
      {Kind::kTypeChanged, "type_changed"}, {Kind::kRenamed, "renamed"}};
  json::object top;
  top["old"] = diff.old_source;
  top["new"] = diff.new_source;
  json::object summary;
  for (const auto& [kind, name] : kNames) summary[name] = diff.Count(kind);
  summary["breaking"] = diff.Breaking();
  top["summary"] = std::move(summary);
  json::array changes;
  for (const ApiChange& c : diff.changes) {
    json::object o;
    o["change"] = kNames.at(c.kind);
    if (c.kind == Kind::kRpcAdded || c.kind == Kind::kRpcRemoved) {
      o["rpc"] = c.rpc;
      if (!c.rpc_info.service.empty()) o["service"] = c.rpc_info.service;
      if (!c.rpc_info.path.empty()) {
        o["verb"] = c.rpc_info.verb;
        o["path"] = c.rpc_info.path;
      }
    } else {
      o["message"] = c.message;
      o["field"] = c.field;
      if (!c.old_type.empty()) {
        o["old_name"] = c.old_proto_name;
        o["old_type"] = ShowType(c.old_type);
        o["old_number"] = c.old_number;
      }
      if (!c.new_type.empty()) {
        o["new_name"] = c.new_proto_name;
        o["new_type"] = ShowType(c.new_type);
        o["new_number"] = c.new_number;
      }
      if (c.required_param) o["required"] = true;
    }
    o["wire_compatible"] = c.wire_compatible;
    o["json_compatible"] = c.json_compatible;
    o["compatibility"] = c.Compatibility();
    changes.push_back(std::move(o));
  }
  top["changes"] = std::move(changes);
  return json::serialize(top) + "\n";
}

}  // namespace pvegw::codegen
