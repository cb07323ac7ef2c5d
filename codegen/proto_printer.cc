#include "codegen/proto_printer.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/json_util.h"

namespace pvegw::codegen {
namespace {

constexpr char kOptionsPackage[] = "proxmox.gateway.v1";

void PrintComment(const std::vector<std::string>& lines, const std::string& indent,
                  std::string& out) {
  for (const std::string& line : lines) {
    absl::StrAppend(&out, indent, line.empty() ? "//" : "// ", line, "\n");
  }
}

// Text-format body of a FieldRules option; empty when there is nothing to say.
std::string FieldRulesText(const FieldRules& r) {
  std::vector<std::string> parts;
  if (r.required) parts.push_back("required: true");
  if (r.path_param) parts.push_back("path_param: true");
  if (r.default_value)
    parts.push_back(absl::StrCat("default_value: ", ProtoStringLiteral(*r.default_value)));
  if (!r.enum_values.empty()) {
    std::vector<std::string> quoted;
    for (const std::string& v : r.enum_values) quoted.push_back(ProtoStringLiteral(v));
    parts.push_back(absl::StrCat("enum_values: [", absl::StrJoin(quoted, ", "), "]"));
  }
  if (r.minimum) parts.push_back(absl::StrCat("minimum: ", FormatNumber(*r.minimum)));
  if (r.maximum) parts.push_back(absl::StrCat("maximum: ", FormatNumber(*r.maximum)));
  if (r.min_length) parts.push_back(absl::StrCat("min_length: ", *r.min_length));
  if (r.max_length) parts.push_back(absl::StrCat("max_length: ", *r.max_length));
  if (!r.pattern.empty()) parts.push_back(absl::StrCat("pattern: ", ProtoStringLiteral(r.pattern)));
  if (!r.format.empty()) parts.push_back(absl::StrCat("format: ", ProtoStringLiteral(r.format)));
  if (!r.property_format.empty()) {
    parts.push_back(absl::StrCat("property_format: ", ProtoStringLiteral(r.property_format)));
  }
  if (!r.typetext.empty())
    parts.push_back(absl::StrCat("typetext: ", ProtoStringLiteral(r.typetext)));
  if (!r.indexed.empty()) parts.push_back(absl::StrCat("indexed: ", ProtoStringLiteral(r.indexed)));
  if (r.additional_properties) parts.push_back("additional_properties: true");
  if (r.declared_open) parts.push_back("declared_open: true");
  if (!r.typed_of.empty())
    parts.push_back(absl::StrCat("typed_of: ", ProtoStringLiteral(r.typed_of)));
  if (r.other_keys) parts.push_back("other_keys: true");
  return absl::StrJoin(parts, " ");
}

std::string MethodRulesText(const MethodRules& r, const std::string& indent) {
  std::vector<std::string> parts;
  parts.push_back(absl::StrCat("path: ", ProtoStringLiteral(r.path)));
  parts.push_back(absl::StrCat("verb: ", ProtoStringLiteral(r.verb)));
  if (!r.name.empty()) parts.push_back(absl::StrCat("name: ", ProtoStringLiteral(r.name)));
  if (!r.child_link.empty()) {
    parts.push_back(absl::StrCat("child_link: ", ProtoStringLiteral(r.child_link)));
  }
  if (r.returns_upid) parts.push_back("returns_upid: true");
  if (!r.proxyto.empty()) parts.push_back(absl::StrCat("proxyto: ", ProtoStringLiteral(r.proxyto)));
  if (r.is_protected) parts.push_back("protected: true");
  if (r.allowtoken) parts.push_back("allowtoken: true");
  if (!r.permissions.empty()) {
    parts.push_back(absl::StrCat("permissions: ", ProtoStringLiteral(r.permissions)));
  }
  if (!r.permission_check.empty()) {
    parts.push_back(absl::StrCat("permission_check: ", ProtoStringLiteral(r.permission_check)));
  }
  if (!r.permission_user.empty()) {
    parts.push_back(absl::StrCat("permission_user: ", ProtoStringLiteral(r.permission_user)));
  }
  return absl::StrJoin(parts, absl::StrCat("\n", indent));
}

void PrintMessage(const ProtoMessage& msg, const std::string& indent, std::string& out) {
  PrintComment(msg.comment, indent, out);
  absl::StrAppend(&out, indent, "message ", msg.name, " {\n");
  const std::string inner = indent + "  ";
  bool first = true;
  for (const ProtoMessage& nested : msg.nested) {
    if (!first) out += "\n";
    first = false;
    PrintMessage(nested, inner, out);
  }
  if (!msg.reserved_numbers.empty() || !msg.reserved_names.empty()) {
    if (!first) out += "\n";
    first = false;
    if (!msg.reserved_numbers.empty()) {
      absl::StrAppend(&out, inner, "reserved ", absl::StrJoin(msg.reserved_numbers, ", "), ";\n");
    }
    if (!msg.reserved_names.empty()) {
      std::vector<std::string> quoted;
      for (const std::string& n : msg.reserved_names) quoted.push_back(ProtoStringLiteral(n));
      absl::StrAppend(&out, inner, "reserved ", absl::StrJoin(quoted, ", "), ";\n");
    }
  }
  for (const ProtoField& f : msg.fields) {
    if (!first) out += "\n";
    first = false;
    PrintComment(f.comment, inner, out);
    std::string decl;
    switch (f.label) {
      case ProtoField::Label::kOptional:
        decl = absl::StrCat("optional ", f.type);
        break;
      case ProtoField::Label::kRepeated:
        decl = absl::StrCat("repeated ", f.type);
        break;
      case ProtoField::Label::kMap:
        decl = absl::StrCat("map<uint32, ", f.type, ">");
        break;
      case ProtoField::Label::kMessage:
        decl = f.type;
        break;
      case ProtoField::Label::kStringMap:
        decl = "map<string, string>";
        break;
    }
    std::vector<std::string> options;
    if (!f.json_name.empty()) {
      options.push_back(absl::StrCat("json_name = ", ProtoStringLiteral(f.json_name)));
    }
    const std::string rules = FieldRulesText(f.rules);
    if (!rules.empty()) {
      options.push_back(absl::StrCat("(", kOptionsPackage, ".field) = {", rules, "}"));
    }
    absl::StrAppend(&out, inner, decl, " ", f.name, " = ", f.number);
    if (!options.empty()) absl::StrAppend(&out, " [", absl::StrJoin(options, ", "), "]");
    out += ";\n";
  }
  absl::StrAppend(&out, indent, "}\n");
}

}  // namespace

std::string ProtoStringLiteral(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          absl::StrAppend(&out, "\\", std::string(1, static_cast<char>('0' + ((u >> 6) & 7))),
                          std::string(1, static_cast<char>('0' + ((u >> 3) & 7))),
                          std::string(1, static_cast<char>('0' + (u & 7))));
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

namespace {

// What every generated file starts with, up to its imports.
std::string FileHeader(const ProtoApi& api) {
  return absl::StrCat(
      "// Code generated by pve-protogen from the Proxmox API schema. DO NOT EDIT.\n"
      "// Field numbers are pinned by the lock file; see README.md.\n\n"
      "syntax = \"proto3\";\n\n"
      "package ",
      api.package, ";\n\n");
}

}  // namespace

std::string PrintProtoFile(const ProtoApi& api, const ProtoService& service) {
  std::string out = FileHeader(api);
  for (const std::string& import : service.imports) {
    absl::StrAppend(&out, "import \"", import, "\";\n");
  }
  absl::StrAppend(&out, "\n// Proxmox API calls under /", service.segment, ".\n");
  absl::StrAppend(&out, "service ", service.name, " {\n");
  bool first = true;
  for (const ProtoRpc& rpc : service.rpcs) {
    if (!first) out += "\n";
    first = false;
    PrintComment(rpc.comment, "  ", out);
    absl::StrAppend(&out, "  rpc ", rpc.name, "(", rpc.name, "Request) returns (", rpc.name,
                    "Response) {\n");
    absl::StrAppend(&out, "    option (google.api.http) = {\n      ", rpc.http_verb, ": ",
                    ProtoStringLiteral(rpc.http_path), "\n");
    if (rpc.http_verb == "post" || rpc.http_verb == "put") out += "      body: \"*\"\n";
    out += "    };\n";
    absl::StrAppend(&out, "    option (", kOptionsPackage, ".method) = {\n      ",
                    MethodRulesText(rpc.rules, "      "), "\n    };\n");
    out += "  }\n";
  }
  out += "}\n";
  for (const ProtoMessage& msg : service.messages) {
    out += "\n";
    PrintMessage(msg, "", out);
  }
  return out;
}

std::string PrintPropertyStringsFile(const ProtoApi& api) {
  std::string out = FileHeader(api);
  out += "import \"proxmox/gateway/v1/options.proto\";\n\n";
  out +=
      "// Proxmox property strings (\"virtio=BC:24:11:2A:7E:01,bridge=vmbr0\") as messages: one\n"
      "// per distinct format. Fields that carry a property string have a typed companion\n"
      "// (<field>_typed) of one of these types; see docs/typed-property-strings.md.\n";
  for (const ProtoMessage& msg : api.property_messages) {
    out += "\n";
    PrintMessage(msg, "", out);
  }
  return out;
}

}  // namespace pvegw::codegen
