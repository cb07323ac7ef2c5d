// One file on purpose (~1,200 lines): the schema-to-proto model is one pass whose stages
// (services, messages, fields, options, lock) share the naming and dedup state.
#include "codegen/proto_builder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "codegen/json_util.h"
#include "codegen/named_formats.h"
#include "codegen/naming.h"
#include "common/status_macros.h"

namespace pvegw::codegen {
namespace {

namespace json = boost::json;

constexpr char kStruct[] = ".google.protobuf.Struct";
constexpr char kValue[] = ".google.protobuf.Value";
constexpr char kListValue[] = ".google.protobuf.ListValue";
constexpr char kEmpty[] = ".google.protobuf.Empty";
constexpr char kAdditionalWireName[] = "*";
constexpr std::size_t kMaxLockExamples = 12;
constexpr int kFirstReservedRange = 19000;  // protobuf's own reserved numbers
constexpr int kLastReservedRange = 19999;

// Schema keywords the generator knows (mapped, carried, or deliberately ignored such as
// the API viewer's rendering hints). Anything else is counted as a warning. "min"/"max"
// appear in the cluster next-id format, where Proxmox's validator ignores them too.
const std::set<absl::string_view>& KnownKeywords() {
  static const auto* const kKnown = new std::set<absl::string_view>{"additionalProperties",
                                                                    "alias",
                                                                    "default",
                                                                    "default_key",
                                                                    "description",
                                                                    "enum",
                                                                    "format",
                                                                    "format_description",
                                                                    "instance-types",
                                                                    "items",
                                                                    "keyAlias",
                                                                    "links",
                                                                    "max",
                                                                    "maxLength",
                                                                    "maximum",
                                                                    "min",
                                                                    "minLength",
                                                                    "minimum",
                                                                    "oneOf",
                                                                    "optional",
                                                                    "pattern",
                                                                    "properties",
                                                                    "renderer",
                                                                    "required",
                                                                    "requires",
                                                                    "title",
                                                                    "type",
                                                                    "type-property",
                                                                    "typetext",
                                                                    "verbose_description"};
  return *kKnown;
}

// Backup Server's `/backup/_upgrade_` and `/reader/_upgrade_` switch the connection to its
// HTTP/2 backup protocol: nothing a request/response gateway can call.
bool IsProtocolSwitch(absl::string_view path) {
  for (absl::string_view seg : absl::StrSplit(path, '/')) {
    if (seg == "_upgrade_") return true;
  }
  return false;
}

// Operations that return a plain string that is not a task UPID, although nothing in the
// schema tells them apart from the many that are (QEMU monitor output, an SDN lock token).
bool StringResultIsNotUpid(absl::string_view verb, absl::string_view path) {
  static const auto* const kNotUpid =
      new std::set<std::string>{"POST /nodes/{node}/qemu/{vmid}/monitor", "POST /cluster/sdn/lock"};
  return kNotUpid->count(absl::StrCat(verb, " ", path)) != 0;
}

// Where in the schema we are, for messages: "GET /nodes/{node}/qemu: parameter 'full'".
struct Context {
  absl::string_view file;
  std::string place;

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", place, ": ", what));
  }
  Context Child(absl::string_view suffix) const {
    return Context{file, absl::StrCat(place, suffix)};
  }
};

// protoc's default JSON name: underscores dropped, the next letter upper-cased.
std::string DefaultJsonName(absl::string_view field_name) {
  std::string out;
  bool upper = false;
  for (char c : field_name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? absl::ascii_toupper(c) : c);
    upper = false;
  }
  return out;
}

std::vector<std::string> WrapText(absl::string_view text, std::size_t width) {
  std::vector<std::string> lines;
  for (absl::string_view para : absl::StrSplit(text, '\n')) {
    std::string line;
    for (absl::string_view word : absl::StrSplit(para, ' ', absl::SkipEmpty())) {
      if (!line.empty() && line.size() + 1 + word.size() > width) {
        lines.push_back(line);
        line.clear();
      }
      if (!line.empty()) line.push_back(' ');
      line.append(word.data(), word.size());
    }
    lines.push_back(line);
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// Comment text must never break the file: control characters go, tabs become spaces,
// carriage returns are dropped.
std::string CleanText(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out.push_back('\n');
    } else if (c == '\t') {
      out.push_back(' ');
    } else if (u >= 0x20 && u != 0x7f) {
      out.push_back(c);
    }
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

void AppendComment(std::vector<std::string>& comment, absl::string_view text) {
  const std::string clean = CleanText(text);
  if (clean.empty()) return;
  for (std::string& line : WrapText(clean, 92)) comment.push_back(std::move(line));
}

struct Resolved {
  ProtoField::Label label = ProtoField::Label::kOptional;
  std::string type;
  const json::object* element = nullptr;  // schema the value rules come from
  std::vector<std::string> notes;         // extra comment lines
};

class Builder {
 public:
  Builder(const std::string& package, const std::string& file, FieldLock& lock,
          LockChanges& changes, Warnings& warnings)
      : package_(package), file_(file), lock_(lock), changes_(changes), warnings_(warnings) {}

  absl::StatusOr<ProtoApi> Build(const ApiSchema& schema);

 private:
  // Every distinct property-string format (by canonical JSON) and where it is used.
  struct FormatUse {
    const json::object* format = nullptr;
    std::set<std::string> uses;             // "POST /nodes/{node}/qemu net[n]"
    std::map<std::string, int> candidates;  // name suggested by each use -> count
  };
  void CollectFormats(const json::object& s, const std::string& where, absl::string_view key,
                      absl::string_view context, int depth);
  void NameFormats();
  absl::Status BuildPropertyMessages(ProtoApi& api);

  struct Entry {
    std::string wire_name;
    const json::object* schema = nullptr;  // nullptr for the additional-properties field
    bool in_path = false;
    bool declared_open = false;  // additional-properties field of a declared-open object
  };

  absl::StatusOr<ProtoMessage> BuildMessage(const std::string& name, const std::string& parent_full,
                                            std::vector<Entry> entries, bool top_level_data,
                                            const Context& ctx, std::vector<std::string> enclosing);
  absl::StatusOr<Resolved> Resolve(const json::object& s, const std::string& nested_base,
                                   bool top_level_data, const Context& ctx, ProtoMessage& parent,
                                   std::set<std::string>& type_names,
                                   const std::vector<std::string>& enclosing);
  absl::StatusOr<std::string> NestedMessage(const json::object& s, const std::string& base,
                                            const Context& ctx, ProtoMessage& parent,
                                            std::set<std::string>& type_names,
                                            const std::vector<std::string>& enclosing);
  absl::Status ExtractRules(const json::object& s, const Context& ctx, FieldRules& rules,
                            std::vector<std::string>& comment);
  absl::StatusOr<std::string> TypeOf(const json::object& s, const Context& ctx);
  void CheckKeywords(const json::object& s, const Context& ctx);
  void AssignNumbers(ProtoMessage& msg);
  void NoteChange(const std::string& what) {
    if (changes_.examples.size() < kMaxLockExamples) changes_.examples.push_back(what);
  }
  void CountTypeUse(const std::string& type) {
    if (type == kStruct || type == kValue || type == kListValue) uses_struct_ = true;
    if (type == kEmpty) uses_empty_ = true;
  }

  std::string package_;
  std::string file_;
  FieldLock& lock_;
  LockChanges& changes_;
  Warnings& warnings_;
  bool uses_struct_ = false;
  bool uses_empty_ = false;
  // Building a response: every object message gets the additional-properties Struct.
  bool in_response_ = false;
  // Building a property-string message: scalar fields only, unknown keys as a string map.
  bool building_format_ = false;
  bool uses_typed_ = false;
  std::map<std::string, FormatUse> formats_;         // by canonical JSON
  std::map<std::string, std::string> format_names_;  // canonical JSON -> message name
  int message_count_ = 0;
  int field_count_ = 0;
};

void Builder::CheckKeywords(const json::object& s, const Context& ctx) {
  for (const auto& kv : s) {
    if (KnownKeywords().count(Sv(kv.key())) == 0) {
      warnings_.Add(absl::StrCat("unknown schema keyword '", Sv(kv.key()), "' ignored"), ctx.place);
    }
  }
}

absl::StatusOr<std::string> Builder::TypeOf(const json::object& s, const Context& ctx) {
  const json::value* t = s.if_contains("type");
  if (t == nullptr || t->is_null()) {
    if (s.contains("properties")) return std::string("object");
    if (s.contains("items")) return std::string("array");
    return std::string();
  }
  if (t->is_array()) {
    warnings_.Add("a list of types is not mapped; using google.protobuf.Value", ctx.place);
    return std::string("any");
  }
  if (!t->is_string()) {
    return ctx.Error(absl::StrCat("'type' must be a string, got ", KindName(*t)));
  }
  return std::string(t->get_string());
}

absl::Status Builder::ExtractRules(const json::object& s, const Context& ctx, FieldRules& rules,
                                   std::vector<std::string>& comment) {
  auto want = [&](absl::string_view key, absl::string_view kind, const json::value& v) {
    return ctx.Error(absl::StrCat("'", key, "' must be ", kind, ", got ", KindName(v)));
  };
  if (const json::value* v = s.if_contains("description"); v != nullptr && !v->is_null()) {
    if (!v->is_string()) return want("description", "a string", *v);
    AppendComment(comment, Sv(v->get_string()));
  }
  if (const json::value* v = s.if_contains("optional"); v != nullptr && !v->is_null()) {
    if (!AsBoolish(*v)) return want("optional", "0/1 or a boolean", *v);
  }
  if (const json::value* v = s.if_contains("enum"); v != nullptr && !v->is_null()) {
    if (!v->is_array()) return want("enum", "an array", *v);
    for (const auto& e : v->get_array()) {
      if (e.is_object() || e.is_array()) {
        return ctx.Error("'enum' values must be strings or numbers");
      }
      rules.enum_values.push_back(ScalarText(e));
    }
    if (!rules.enum_values.empty()) {
      AppendComment(comment,
                    absl::StrCat("Allowed values: ", absl::StrJoin(rules.enum_values, ", "), "."));
    }
  }
  for (const char* key : {"minimum", "maximum"}) {
    if (const json::value* v = s.if_contains(key); v != nullptr && !v->is_null()) {
      std::optional<double> n = AsNumber(*v);
      if (!n) return want(key, "a number", *v);
      (absl::string_view(key) == "minimum" ? rules.minimum : rules.maximum) = *n;
    }
  }
  if (rules.minimum && rules.maximum) {
    AppendComment(comment, absl::StrCat("Range: ", FormatNumber(*rules.minimum), " - ",
                                        FormatNumber(*rules.maximum), "."));
  } else if (rules.minimum) {
    AppendComment(comment, absl::StrCat("Minimum: ", FormatNumber(*rules.minimum), "."));
  } else if (rules.maximum) {
    AppendComment(comment, absl::StrCat("Maximum: ", FormatNumber(*rules.maximum), "."));
  }
  for (const char* key : {"minLength", "maxLength"}) {
    if (const json::value* v = s.if_contains(key); v != nullptr && !v->is_null()) {
      std::optional<double> n = AsNumber(*v);
      if (!n || *n < 0 || *n != std::trunc(*n)) return want(key, "a non-negative integer", *v);
      (absl::string_view(key) == "minLength" ? rules.min_length : rules.max_length) =
          static_cast<std::int64_t>(*n);
    }
  }
  if (const json::value* v = s.if_contains("pattern"); v != nullptr && !v->is_null()) {
    if (!v->is_string()) return want("pattern", "a string", *v);
    rules.pattern = std::string(v->get_string());
  }
  if (const json::value* v = s.if_contains("typetext"); v != nullptr && !v->is_null()) {
    if (!v->is_string()) return want("typetext", "a string", *v);
    rules.typetext = std::string(v->get_string());
  }
  if (const json::value* v = s.if_contains("format"); v != nullptr && !v->is_null()) {
    if (v->is_string()) {
      rules.format = std::string(v->get_string());
      AppendComment(comment, absl::StrCat("Format: ", rules.format, "."));
    } else if (v->is_object()) {
      rules.property_format = CanonicalJson(*v);
      std::vector<std::string> keys;
      for (const auto& kv : v->get_object()) keys.emplace_back(kv.key());
      std::sort(keys.begin(), keys.end());
      AppendComment(
          comment, rules.typetext.empty()
                       ? absl::StrCat("Property string with keys: ", absl::StrJoin(keys, ", "), ".")
                       : absl::StrCat("Property string: ", rules.typetext));
    } else {
      return want("format", "a string or an object", *v);
    }
  }
  if (const json::value* v = s.if_contains("default"); v != nullptr && !v->is_null()) {
    rules.default_value = ScalarText(*v);
    AppendComment(comment, absl::StrCat("Default: ", *rules.default_value, "."));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Builder::NestedMessage(const json::object& s, const std::string& base,
                                                   const Context& ctx, ProtoMessage& parent,
                                                   std::set<std::string>& type_names,
                                                   const std::vector<std::string>& enclosing) {
  std::string name = base;
  for (int k = 2; type_names.count(name) != 0 ||
                  std::find(enclosing.begin(), enclosing.end(), name) != enclosing.end();
       ++k) {
    name = absl::StrCat(base, k);
  }
  type_names.insert(name);
  const json::value& props = s.at("properties");
  if (!props.is_object()) {
    return ctx.Error(absl::StrCat("'properties' must be an object, got ", KindName(props)));
  }
  std::vector<Entry> entries;
  for (const auto& kv : props.get_object()) {
    if (!kv.value().is_object()) {
      return ctx.Error(absl::StrCat("property '", Sv(kv.key()), "' must be an object, got ",
                                    KindName(kv.value())));
    }
    entries.push_back(Entry{std::string(kv.key()), &kv.value().get_object(), false});
  }
  // Answers keep what the schema does not list (DESIGN.md §3, lossless answers): every
  // object message of a response has the Struct; in requests only declared-open objects.
  const json::value* ap = s.if_contains("additionalProperties");
  const bool declared_open = ap != nullptr && AsBoolish(*ap).value_or(false);
  if (declared_open || in_response_) {
    entries.push_back(Entry{kAdditionalWireName, nullptr, false, declared_open});
  }
  std::vector<std::string> inner_enclosing = enclosing;
  inner_enclosing.push_back(parent.name);
  PVEGW_ASSIGN_OR_RETURN(
      ProtoMessage nested,
      BuildMessage(name, parent.full_name, std::move(entries), false, ctx, inner_enclosing));
  parent.nested.push_back(std::move(nested));
  return name;
}

absl::StatusOr<Resolved> Builder::Resolve(const json::object& s, const std::string& nested_base,
                                          bool top_level_data, const Context& ctx,
                                          ProtoMessage& parent, std::set<std::string>& type_names,
                                          const std::vector<std::string>& enclosing) {
  CheckKeywords(s, ctx);
  PVEGW_ASSIGN_OR_RETURN(std::string type, TypeOf(s, ctx));
  Resolved r;
  r.element = &s;
  if (building_format_) {
    // A property-string value is text: every key is a scalar. Integers are int64 whatever
    // their bounds, so a widened range in a later Proxmox never changes a type.
    r.type = type == "boolean"   ? "bool"
             : type == "integer" ? "int64"
             : type == "number"  ? "double"
                                 : "string";
    return r;
  }

  // oneOf: Proxmox uses it for values whose shape depends on another property
  // (`type-property`). When every alternative has the same proto type it is that type.
  if (const json::value* one_of = s.if_contains("oneOf");
      one_of != nullptr && !s.contains("items") && !s.contains("properties")) {
    if (!one_of->is_array() || one_of->get_array().empty()) {
      return ctx.Error("'oneOf' must be a non-empty array");
    }
    std::optional<std::string> shared;
    bool agree = true;
    for (const auto& alt : one_of->get_array()) {
      if (!alt.is_object()) return ctx.Error("'oneOf' alternatives must be objects");
      const json::object& a = alt.get_object();
      std::string sig;
      PVEGW_ASSIGN_OR_RETURN(std::string alt_type, TypeOf(a, ctx));
      sig = alt_type;
      if (alt_type == "array") {
        const json::value* items = a.if_contains("items");
        if (items == nullptr || !items->is_object()) {
          agree = false;
          break;
        }
        PVEGW_ASSIGN_OR_RETURN(std::string item_type, TypeOf(items->get_object(), ctx));
        if (item_type != "string" && item_type != "integer" && item_type != "boolean" &&
            item_type != "number") {
          agree = false;
          break;
        }
        sig += ":" + item_type;
      } else if (alt_type != "string" && alt_type != "integer" && alt_type != "boolean" &&
                 alt_type != "number") {
        agree = false;
        break;
      }
      if (shared && *shared != sig) agree = false;
      shared = sig;
    }
    if (agree && shared) {
      const json::object& first = one_of->get_array()[0].get_object();
      if (const json::value* tp = s.if_contains("type-property");
          tp != nullptr && tp->is_string()) {
        r.notes.push_back(
            absl::StrCat("The accepted values depend on '", Sv(tp->get_string()), "'."));
      }
      PVEGW_ASSIGN_OR_RETURN(
          Resolved alt, Resolve(first, nested_base, false, ctx, parent, type_names, enclosing));
      alt.element = nullptr;  // the alternatives' rules do not apply to every value
      alt.notes.insert(alt.notes.begin(), r.notes.begin(), r.notes.end());
      return alt;
    }
    warnings_.Add("'oneOf' with differing alternatives mapped to google.protobuf.Value", ctx.place);
    r.label = ProtoField::Label::kMessage;
    r.type = kValue;
    r.element = nullptr;
    return r;
  }

  if (type == "string") {
    r.type = "string";
  } else if (type == "boolean") {
    r.type = "bool";
  } else if (type == "integer") {
    std::optional<double> lo, hi;
    if (const json::value* v = s.if_contains("minimum")) lo = AsNumber(*v);
    if (const json::value* v = s.if_contains("maximum")) hi = AsNumber(*v);
    const bool fits = lo && hi && *lo >= std::numeric_limits<std::int32_t>::min() &&
                      *hi <= std::numeric_limits<std::int32_t>::max();
    r.type = fits ? "int32" : "int64";
  } else if (type == "number") {
    r.type = "double";
  } else if (type == "null") {
    r.label = ProtoField::Label::kMessage;
    r.type = kEmpty;
  } else if (type == "any") {
    r.label = ProtoField::Label::kMessage;
    r.type = kValue;
  } else if (type == "object" || (type.empty() && top_level_data)) {
    r.label = ProtoField::Label::kMessage;
    const json::value* props = s.if_contains("properties");
    if (props != nullptr && !props->is_null() && !props->is_object()) {
      return ctx.Error(absl::StrCat("'properties' must be an object, got ", KindName(*props)));
    }
    if (props != nullptr && props->is_object() && !props->get_object().empty()) {
      PVEGW_ASSIGN_OR_RETURN(r.type,
                             NestedMessage(s, nested_base, ctx, parent, type_names, enclosing));
    } else {
      r.type = kStruct;
    }
  } else if (type == "array") {
    const json::value* items = s.if_contains("items");
    if (items == nullptr || items->is_null()) {
      r.label = ProtoField::Label::kMessage;
      r.type = kListValue;
    } else {
      if (!items->is_object()) {
        return ctx.Error(absl::StrCat("'items' must be an object, got ", KindName(*items)));
      }
      PVEGW_ASSIGN_OR_RETURN(Resolved elem,
                             Resolve(items->get_object(), nested_base + "Item", false,
                                     ctx.Child(".items"), parent, type_names, enclosing));
      r.label = ProtoField::Label::kRepeated;
      if (elem.label == ProtoField::Label::kRepeated || elem.label == ProtoField::Label::kMap) {
        r.type = kListValue;  // arrays of arrays: proto has no repeated-of-repeated
        r.element = nullptr;
      } else {
        r.type = elem.type;
        r.element = elem.element;
        r.notes = elem.notes;
      }
    }
  } else if (type.empty()) {
    // Untyped below the top level: any JSON value.
    r.label = ProtoField::Label::kMessage;
    r.type = kValue;
  } else {
    warnings_.Add(absl::StrCat("unknown type '", type, "' mapped to google.protobuf.Value"),
                  ctx.place);
    r.label = ProtoField::Label::kMessage;
    r.type = kValue;
  }
  return r;
}

absl::StatusOr<ProtoMessage> Builder::BuildMessage(const std::string& name,
                                                   const std::string& parent_full,
                                                   std::vector<Entry> entries, bool top_level_data,
                                                   const Context& ctx,
                                                   std::vector<std::string> enclosing) {
  ProtoMessage msg;
  msg.name = name;
  msg.full_name = absl::StrCat(parent_full, ".", name);
  ++message_count_;

  // 1. Field names. Exact spellings win over transformed ones, then Proxmox-name order, so
  //    the result does not depend on the input order.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.wire_name < b.wire_name; });
  struct Naming {
    std::vector<std::string> candidates;
    bool exact = false;
    std::size_t entry = 0;
  };
  std::vector<Naming> namings;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::string& wire = entries[i].wire_name;
    Naming n;
    n.entry = i;
    if (wire == kAdditionalWireName) {
      n.candidates = {"additional_properties"};
    } else if (std::string base = IndexedBase(wire); !base.empty()) {
      const std::string f = FieldNameFor(base);
      n.candidates = {f, f + "_n"};
    } else {
      n.candidates = {FieldNameFor(wire)};
      n.exact = n.candidates[0] == wire;
    }
    namings.push_back(std::move(n));
  }
  std::stable_sort(namings.begin(), namings.end(),
                   [](const Naming& a, const Naming& b) { return a.exact && !b.exact; });
  std::vector<std::string> field_names(entries.size());
  std::set<std::string> taken_keys;
  for (const Naming& n : namings) {
    std::string chosen;
    for (const std::string& c : n.candidates) {
      if (taken_keys.count(FieldConflictKey(c)) == 0) {
        chosen = c;
        break;
      }
    }
    for (int k = 2; chosen.empty(); ++k) {
      const std::string c = absl::StrCat(n.candidates.back(), "_", k);
      if (taken_keys.count(FieldConflictKey(c)) == 0) chosen = c;
    }
    taken_keys.insert(FieldConflictKey(chosen));
    field_names[n.entry] = chosen;
  }

  // 2. Types (nested messages are created here) and rules.
  std::set<std::string> type_names;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!IndexedBase(entries[i].wire_name).empty()) {
      type_names.insert(UpperCamel(field_names[i]) + "Entry");  // protoc's map entry type
    }
  }
  std::set<std::string> json_names;
  std::vector<ProtoField> companions;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    ProtoField f;
    f.wire_name = e.wire_name;
    f.name = field_names[i];
    ++field_count_;
    if (e.schema == nullptr && building_format_) {  // keys the format does not list
      f.label = ProtoField::Label::kStringMap;
      f.type = "string";
      f.rules.other_keys = true;
      f.comment.push_back(
          "Keys the format does not list (a newer Proxmox adds keys), with their values as text.");
      f.comment.push_back("Printed after the listed keys, in key order.");
      f.json_name = "additionalProperties";
    } else if (e.schema == nullptr) {  // additional properties of an open object
      f.label = ProtoField::Label::kMessage;
      f.type = kStruct;
      f.rules.additional_properties = true;
      f.rules.declared_open = e.declared_open;
      f.comment.push_back(
          "Keys Proxmox returned that the schema does not list, and values a typed field could");
      f.comment.push_back("not hold, under their Proxmox key.");
      f.json_name = "additionalProperties";
    } else {
      const std::string indexed = IndexedBase(e.wire_name);
      const Context fctx =
          top_level_data
              ? ctx.Child(": returns")
              : ctx.Child(absl::StrCat(": ", enclosing.empty() ? "parameter" : "property", " '",
                                       e.wire_name, "'"));
      PVEGW_ASSIGN_OR_RETURN(Resolved r, Resolve(*e.schema, UpperCamel(f.name), top_level_data,
                                                 fctx, msg, type_names, enclosing));
      f.label = r.label;
      f.type = r.type;
      // Description and optional-ness belong to the field; value rules to the element.
      std::vector<std::string> scratch;
      if (r.element != nullptr && r.element != e.schema) {
        PVEGW_RETURN_IF_ERROR(ExtractRules(*e.schema, fctx, f.rules, f.comment));
        FieldRules element_rules;
        PVEGW_RETURN_IF_ERROR(
            ExtractRules(*r.element, fctx.Child(".items"), element_rules, scratch));
        element_rules.default_value = f.rules.default_value;
        f.rules = element_rules;
        for (std::string& line : scratch) {
          if (!absl::StartsWith(line, "Default:")) f.comment.push_back(std::move(line));
        }
      } else if (r.element == e.schema) {
        PVEGW_RETURN_IF_ERROR(ExtractRules(*e.schema, fctx, f.rules, f.comment));
      } else {
        // Only the description applies (oneOf, arrays of arrays).
        FieldRules ignored;
        PVEGW_RETURN_IF_ERROR(ExtractRules(*e.schema, fctx, ignored, scratch));
        if (const json::value* d = e.schema->if_contains("description");
            d != nullptr && d->is_string()) {
          AppendComment(f.comment, Sv(d->get_string()));
        }
        f.rules.default_value = ignored.default_value;
        f.rules.typetext = ignored.typetext;
      }
      for (std::string& note : r.notes) AppendComment(f.comment, note);
      const json::value* optional = e.schema->if_contains("optional");
      f.rules.required = e.in_path || optional == nullptr || !AsBoolish(*optional).value_or(false);
      f.rules.path_param = e.in_path;
      if (!indexed.empty()) {
        if (f.label == ProtoField::Label::kRepeated) f.type = kListValue;
        f.label = ProtoField::Label::kMap;
        f.rules.indexed = indexed;
        AppendComment(f.comment, absl::StrCat("Indexed: the map key n is sent as '", indexed,
                                              "<n>' (", e.wire_name, ")."));
        // The Proxmox spelling "net[n]" is no JSON key anyone wants; use the field name.
        if (DefaultJsonName(f.name) != f.name) f.json_name = f.name;
      } else if (DefaultJsonName(f.name) != e.wire_name) {
        f.json_name = e.wire_name;
      }
    }
    if (e.schema != nullptr && building_format_) {
      if (const json::value* fd = e.schema->if_contains("format_description");
          fd != nullptr && fd->is_string() && fd->get_string() != e.wire_name) {
        AppendComment(f.comment, absl::StrCat("Written as: ", Sv(fd->get_string()), "."));
      }
      if (const json::value* dk = e.schema->if_contains("default_key");
          dk != nullptr && AsBoolish(*dk).value_or(false)) {
        AppendComment(f.comment, absl::StrCat("Default key: Proxmox writes it first, without \"",
                                              e.wire_name, "=\"."));
      }
    }
    const std::string effective_json = f.json_name.empty() ? DefaultJsonName(f.name) : f.json_name;
    if (!json_names.insert(effective_json).second) f.json_name = f.name;
    CountTypeUse(f.type);
    // A property string gets its typed companion beside it (DESIGN.md §11).
    if (!building_format_ && !f.rules.property_format.empty() && f.type == "string" &&
        f.label != ProtoField::Label::kStringMap) {
      if (auto it = format_names_.find(f.rules.property_format); it != format_names_.end()) {
        ProtoField c;
        c.wire_name = f.wire_name + "@typed";  // the lock key; no Proxmox name has '@'
        std::string name = f.name + "_typed";
        for (int k = 2; taken_keys.count(FieldConflictKey(name)) != 0; ++k) {
          name = absl::StrCat(f.name, "_typed_", k);
        }
        taken_keys.insert(FieldConflictKey(name));
        c.name = name;
        c.label = f.label == ProtoField::Label::kOptional ? ProtoField::Label::kMessage : f.label;
        c.type = it->second;
        c.rules.typed_of = f.name;
        c.comment.push_back(absl::StrCat("`", f.name, "` as a ", it->second,
                                         " message. Answers fill both; a request sets"));
        c.comment.push_back(
            absl::StrCat("either this or `", f.name, "` (both is INVALID_ARGUMENT)."));
        if (!json_names.insert(DefaultJsonName(c.name)).second) c.json_name = c.name;
        ++field_count_;
        uses_typed_ = true;
        companions.push_back(std::move(c));
      }
    }
    msg.fields.push_back(std::move(f));
  }
  for (ProtoField& c : companions) msg.fields.push_back(std::move(c));

  AssignNumbers(msg);
  return msg;
}

std::string LockSignature(const ProtoField& f) {
  std::string type = f.type;
  if (type == "int32") type = "int";  // see SameWireType: "int" and "int64" share numbers
  if (!type.empty() && type[0] != '.' && type != "int" && type != "int64" && type != "string" &&
      type != "bool" && type != "double") {
    type = "message:" + type;
  }
  switch (f.label) {
    case ProtoField::Label::kRepeated:
      return "repeated " + type;
    case ProtoField::Label::kMap:
      return "map<uint32," + type + ">";
    case ProtoField::Label::kStringMap:
      return "map<string," + type + ">";
    default:
      return type;
  }
}

void Builder::AssignNumbers(ProtoMessage& msg) {
  FieldLock::Message& lm = lock_.messages()[msg.full_name];
  auto reserve = [&](const std::string& wire, const FieldLock::Entry& e) {
    lm.reserved[absl::StrCat(wire, "#", e.number)] = e;
    ++changes_.reserved;
    NoteChange(absl::StrCat(msg.full_name, ".", e.proto_name, " = ", e.number, " reserved"));
  };

  std::vector<ProtoField*> order;
  for (ProtoField& f : msg.fields) order.push_back(&f);
  std::sort(order.begin(), order.end(),
            [](const ProtoField* a, const ProtoField* b) { return a->wire_name < b->wire_name; });

  // int32 and int64 keep one number. Once published as int64 a field stays int64, since
  // JSON clients read int64 as a string and int32 as a number; widening is recorded.
  auto settle_width = [&](ProtoField* f, FieldLock::Entry& entry, const std::string& sig) {
    if (IsInt64Signature(entry.type) && !IsInt64Signature(sig)) {
      f->type = "int64";
    } else if (!IsInt64Signature(entry.type) && IsInt64Signature(sig)) {
      entry.type = sig;
      ++changes_.widened;
      NoteChange(
          absl::StrCat(msg.full_name, ".", f->name, " = ", entry.number, " widened to int64"));
    }
  };

  std::set<std::string> present;
  std::vector<ProtoField*> fresh;
  for (ProtoField* f : order) {
    present.insert(f->wire_name);
    const std::string sig = LockSignature(*f);
    if (auto it = lm.fields.find(f->wire_name); it != lm.fields.end()) {
      if (SameWireType(it->second.type, sig)) {
        f->number = it->second.number;
        settle_width(f, it->second, sig);
        if (it->second.proto_name != f->name) {
          NoteChange(
              absl::StrCat(msg.full_name, ".", it->second.proto_name, " renamed to ", f->name));
          it->second.proto_name = f->name;
          ++changes_.renamed;
        }
        continue;
      }
      reserve(f->wire_name, it->second);  // retyped: the old number must never be reused
      lm.fields.erase(it);
    } else {
      // A field that was removed and came back with the same type keeps its number.
      const std::string prefix = f->wire_name + "#";
      auto rv = lm.reserved.lower_bound(prefix);
      for (; rv != lm.reserved.end() && absl::StartsWith(rv->first, prefix); ++rv) {
        if (SameWireType(rv->second.type, sig) && rv->second.proto_name == f->name) break;
      }
      if (rv != lm.reserved.end() && absl::StartsWith(rv->first, prefix)) {
        f->number = rv->second.number;
        settle_width(f, rv->second, sig);
        lm.fields[f->wire_name] = rv->second;
        lm.reserved.erase(rv);
        ++changes_.revived;
        NoteChange(absl::StrCat(msg.full_name, ".", f->name, " = ", f->number, " revived"));
        continue;
      }
    }
    fresh.push_back(f);
  }
  for (auto it = lm.fields.begin(); it != lm.fields.end();) {
    if (present.count(it->first) == 0) {
      reserve(it->first, it->second);
      it = lm.fields.erase(it);
    } else {
      ++it;
    }
  }
  // The additional-properties Struct comes after the listed fields of a new message, so
  // `data` is 1 in every fresh Response.
  std::stable_partition(fresh.begin(), fresh.end(),
                        [](const ProtoField* f) { return f->wire_name != kAdditionalWireName; });
  std::set<int> taken;
  for (const auto& [k, e] : lm.fields) taken.insert(e.number);
  for (const auto& [k, e] : lm.reserved) taken.insert(e.number);
  for (ProtoField* f : fresh) {
    int n = lm.max_number + 1;
    while (taken.count(n) != 0 || (n >= kFirstReservedRange && n <= kLastReservedRange)) ++n;
    f->number = n;
    lm.max_number = n;
    taken.insert(n);
    lm.fields[f->wire_name] = FieldLock::Entry{n, LockSignature(*f), f->name};
    ++changes_.added;
    NoteChange(absl::StrCat(msg.full_name, ".", f->name, " = ", n, " added"));
  }

  std::set<std::string> live_names;
  for (const ProtoField& f : msg.fields) live_names.insert(FieldConflictKey(f.name));
  std::set<int> numbers;
  std::set<std::string> names;
  for (const auto& [key, e] : lm.reserved) {
    numbers.insert(e.number);
    if (live_names.count(FieldConflictKey(e.proto_name)) == 0) names.insert(e.proto_name);
  }
  msg.reserved_numbers.assign(numbers.begin(), numbers.end());
  msg.reserved_names.assign(names.begin(), names.end());
  std::sort(msg.fields.begin(), msg.fields.end(),
            [](const ProtoField& a, const ProtoField& b) { return a.number < b.number; });
}

// Names a property-string message suggests from one place it is used: the guest type, or
// else the literal segments of the path, then the property without index digits ("net[n]"
// under /nodes/{node}/qemu -> QemuNet, "rootfs" under .../lxc -> LxcRootfs, "efidisk0" ->
// QemuEfidisk, "map" under /cluster/mapping/pci -> ClusterMappingPciMap).
std::string FormatNameCandidate(absl::string_view path, absl::string_view key) {
  std::string context;
  std::string literal;
  for (absl::string_view seg : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (seg == "qemu") context = "Qemu";
    if (seg == "lxc") context = "Lxc";
    if (!absl::StartsWith(seg, "{")) literal += UpperCamel(OperationId("", seg));
  }
  if (context.empty()) context = literal.empty() ? "Root" : literal;
  std::string base = IndexedBase(key);
  if (base.empty()) base = std::string(key);
  while (!base.empty() && absl::ascii_isdigit(static_cast<unsigned char>(base.back()))) {
    base.pop_back();
  }
  std::string name = UpperCamel(OperationId("", base));
  if (name.empty()) name = "Value";
  return context + name;
}

// The last literal path segment of a use, UpperCamel ("GET /nodes/{node}/qemu/{vmid}/config
// returns.scsi[n]" -> "Config"): what tells apart a format that only answers use.
std::string LastLiteralSegment(absl::string_view use) {
  const std::vector<absl::string_view> words = absl::StrSplit(use, ' ');
  std::string last;
  if (words.size() < 2) return last;
  for (absl::string_view seg : absl::StrSplit(words[1], '/', absl::SkipEmpty())) {
    if (!absl::StartsWith(seg, "{")) last = UpperCamel(OperationId("", seg));
  }
  return last;
}

void Builder::CollectFormats(const json::object& s, const std::string& where, absl::string_view key,
                             absl::string_view context, int depth) {
  constexpr int kMaxCollectDepth = 64;
  if (depth > kMaxCollectDepth) return;
  if (const json::value* f = s.if_contains("format"); f != nullptr && f->is_object()) {
    const json::value* t = s.if_contains("type");
    if (t == nullptr || (t->is_string() && t->get_string() == "string")) {
      FormatUse& use = formats_[CanonicalJson(*f)];
      use.format = &f->get_object();
      use.uses.insert(where);
      ++use.candidates[FormatNameCandidate(context, key)];
    }
  }
  if (const json::value* items = s.if_contains("items"); items != nullptr && items->is_object()) {
    CollectFormats(items->get_object(), where, key, context, depth + 1);
  }
  if (const json::value* props = s.if_contains("properties");
      props != nullptr && props->is_object()) {
    for (const auto& kv : props->get_object()) {
      if (!kv.value().is_object()) continue;
      CollectFormats(kv.value().get_object(), absl::StrCat(where, ".", Sv(kv.key())), Sv(kv.key()),
                     context, depth + 1);
    }
  }
}

// Names stay stable across schema versions: a format whose keys changed (so its canonical
// JSON changed) is recognised by the places it is used, which the lock records; only a
// format seen nowhere before gets a new name, never one the lock has held.
void Builder::NameFormats() {
  const std::string prefix = package_ + ".";
  std::map<std::string, std::set<std::string>> locked_uses;  // short name -> uses
  for (const auto& [full, m] : lock_.messages()) {
    if (m.uses.empty() || !absl::StartsWith(full, prefix)) continue;
    locked_uses[full.substr(prefix.size())] = {m.uses.begin(), m.uses.end()};
  }
  // Most used formats pick first, then by canonical JSON: deterministic.
  std::vector<const std::string*> order;
  for (const auto& [canon, use] : formats_) order.push_back(&canon);
  std::stable_sort(order.begin(), order.end(), [&](const std::string* a, const std::string* b) {
    return formats_.at(*a).uses.size() > formats_.at(*b).uses.size();
  });
  std::set<std::string> taken;
  for (const std::string* canon : order) {
    const FormatUse& use = formats_.at(*canon);
    std::string best;
    std::size_t best_overlap = 0;
    for (const auto& [name, uses] : locked_uses) {
      if (taken.count(name) != 0) continue;
      std::size_t overlap = 0;
      for (const std::string& u : use.uses) overlap += uses.count(u);
      if (overlap > best_overlap) {
        best = name;
        best_overlap = overlap;
      }
    }
    if (!best.empty()) {
      taken.insert(best);
      format_names_[*canon] = best;
    }
  }
  for (const std::string* canon : order) {
    if (format_names_.count(*canon) != 0) continue;
    const FormatUse& use = formats_.at(*canon);
    std::string base;
    int count = 0;
    for (const auto& [candidate, n] : use.candidates) {
      if (n > count) {
        base = candidate;
        count = n;
      }
    }
    auto free = [&](const std::string& n) {
      return taken.count(n) == 0 && lock_.messages().count(prefix + n) == 0;
    };
    // A format only answers use (Proxmox leaves write-only keys such as import-from out
    // of them) is named after what it answers: QemuScsi for requests, QemuScsiConfig.
    const bool answers_only = std::all_of(use.uses.begin(), use.uses.end(), [](const auto& u) {
      return absl::StrContains(u, " returns");
    });
    // A format from the built-in tables of named formats has a hand-picked name.
    if (std::string named = NamedFormatMessage(*canon); !named.empty()) base = named;
    std::string name = base;
    if (!free(name) && answers_only) name = base + LastLiteralSegment(*use.uses.begin());
    for (int k = 2; !free(name); ++k) name = absl::StrCat(base, k);
    taken.insert(name);
    format_names_[*canon] = name;
  }
}

absl::Status Builder::BuildPropertyMessages(ProtoApi& api) {
  building_format_ = true;
  for (const auto& [canon, name] : format_names_) {
    const FormatUse& use = formats_.at(canon);
    const Context ctx{file_, absl::StrCat("property-string format used at ", *use.uses.begin())};
    std::vector<Entry> entries;
    std::vector<std::string> aliases;
    for (const auto& kv : *use.format) {
      if (!kv.value().is_object()) {
        return ctx.Error(
            absl::StrCat("key '", Sv(kv.key()), "' must be an object, got ", KindName(kv.value())));
      }
      // "e1000=MAC" is written through aliases; the value lives in the canonical keys.
      if (kv.value().get_object().contains("alias")) {
        aliases.emplace_back(kv.key());
        continue;
      }
      entries.push_back(Entry{std::string(kv.key()), &kv.value().get_object(), false});
    }
    entries.push_back(Entry{kAdditionalWireName, nullptr, false});
    absl::StatusOr<ProtoMessage> msg =
        BuildMessage(name, package_, std::move(entries), false, ctx, {});
    if (!msg.ok()) {
      building_format_ = false;
      return msg.status();
    }
    std::vector<std::string> uses(use.uses.begin(), use.uses.end());
    msg->comment.push_back(absl::StrCat("Proxmox property string, used by ", uses.size(),
                                        uses.size() == 1 ? " field" : " fields", " (e.g. ",
                                        uses.front(), ")."));
    if (!aliases.empty()) {
      std::sort(aliases.begin(), aliases.end());
      AppendComment(msg->comment, absl::StrCat("Keys written as aliases (key=value fills other "
                                               "fields): ",
                                               absl::StrJoin(aliases, ", "), "."));
    }
    lock_.messages()[msg->full_name].uses = std::move(uses);
    api.property_messages.push_back(*std::move(msg));
  }
  building_format_ = false;
  std::sort(api.property_messages.begin(), api.property_messages.end(),
            [](const ProtoMessage& a, const ProtoMessage& b) { return a.name < b.name; });
  return absl::OkStatus();
}

std::vector<std::string> RpcComment(const ApiOperation& op, const MethodRules& rules) {
  std::vector<std::string> comment;
  AppendComment(comment, op.description);
  if (!comment.empty()) comment.emplace_back();
  comment.push_back(absl::StrCat("Proxmox: ", op.verb, " ", op.path,
                                 op.name.empty() ? "" : absl::StrCat(" (", op.name, ")"), "."));
  if (!rules.permissions.empty()) {
    AppendComment(comment, absl::StrCat("Permissions: ", rules.permissions));
  }
  if (rules.returns_upid) {
    comment.push_back("Starts a task: data is its UPID.");
  }
  return comment;
}

absl::StatusOr<ProtoApi> Builder::Build(const ApiSchema& schema) {
  ProtoApi api;
  api.package = package_;
  std::map<std::string, ProtoService> services;  // by service name
  std::set<std::string> rpc_names;

  // Property-string formats first: their message names must be known before any field
  // that carries one is built.
  for (const ApiOperation& op : schema.operations) {
    const std::string where = absl::StrCat(op.verb, " ", op.path);
    for (const ApiParameter& p : op.parameters) {
      CollectFormats(p.schema, absl::StrCat(where, " ", p.name), p.name, op.path, 0);
    }
    if (op.returns.is_object()) {
      CollectFormats(op.returns.get_object(), absl::StrCat(where, " returns"), "", op.path, 0);
    }
  }
  NameFormats();
  PVEGW_RETURN_IF_ERROR(BuildPropertyMessages(api));

  for (const ApiOperation& op : schema.operations) {
    const Context ctx{file_, absl::StrCat(op.verb, " ", op.path)};
    if (IsProtocolSwitch(op.path)) {
      warnings_.Add(absl::StrCat("skipped ", ctx.place,
                                 ": it switches the connection to another protocol (HTTP "
                                 "upgrade), which is no REST call a gateway can make"),
                    ctx.place);
      continue;
    }
    std::string op_id = OperationId(op.verb, op.path);
    // The root path has no segment to name things after: `GET /` is Root.GetRoot.
    const bool root = op_id.size() <= op.verb.size();
    if (root) op_id = OperationId(op.verb, "/root");
    std::string rpc_name = UpperCamel(op_id);
    if (rpc_names.count(rpc_name) != 0) {
      const std::string base = rpc_name;
      for (int k = 2; rpc_names.count(rpc_name) != 0; ++k) rpc_name = absl::StrCat(base, k);
      warnings_.Add("RPC names collided; later operation got a numeric suffix",
                    absl::StrCat(ctx.place, " -> ", rpc_name));
    }
    rpc_names.insert(rpc_name);

    const std::size_t seg_end = op.path.find('/', 1);
    const std::string segment =
        op.path.substr(1, seg_end == std::string::npos ? std::string::npos : seg_end - 1);
    // Braces, dashes and dots drop out; a leading digit gets an X ("{store}" -> Store,
    // "2fa" -> X2fa); the root path and segments without letters or digits are Root.
    const std::string service_name =
        root || OperationId("", segment).empty() ? "Root" : UpperCamel(segment);
    ProtoService& svc = services[service_name];
    if (svc.name.empty()) {
      svc.name = service_name;
      svc.segment = segment;
      svc.file_name = FieldNameFor(service_name == "Root" ? "root" : segment) + ".proto";
      if (absl::EndsWith(svc.file_name, "_.proto")) {  // keyword-named segment
        svc.file_name = svc.file_name.substr(0, svc.file_name.size() - 7) + ".proto";
      }
    }
    uses_struct_ = uses_empty_ = uses_typed_ = false;

    // Request.
    std::vector<Entry> params;
    for (const ApiParameter& p : op.parameters) {
      params.push_back(Entry{p.name, &p.schema, p.in_path});
    }
    PVEGW_ASSIGN_OR_RETURN(ProtoMessage request, BuildMessage(rpc_name + "Request", package_,
                                                              std::move(params), false, ctx, {}));
    // Response: the Proxmox envelope {"data": <returns>}.
    json::object null_schema;
    null_schema["type"] = "null";
    const json::object& returns = op.returns.is_object() ? op.returns.get_object() : null_schema;
    in_response_ = true;
    absl::StatusOr<ProtoMessage> built_response =
        BuildMessage(rpc_name + "Response", package_,
                     {Entry{"data", &returns, false}, Entry{kAdditionalWireName, nullptr, false}},
                     true, ctx, {});
    in_response_ = false;
    if (!built_response.ok()) return built_response.status();
    ProtoMessage response = *std::move(built_response);
    if (uses_struct_) svc.imports.insert("google/protobuf/struct.proto");
    if (uses_empty_) svc.imports.insert("google/protobuf/empty.proto");
    if (uses_typed_) {
      svc.imports.insert(
          absl::StrCat(absl::StrReplaceAll(package_, {{".", "/"}}), "/", kPropertyStringsFile));
    }

    ProtoRpc rpc;
    rpc.name = rpc_name;
    rpc.http_verb = absl::AsciiStrToLower(op.verb);
    // Path variables must name request fields (google.api.http), so use proto names.
    rpc.http_path = op.path;
    for (const ProtoField& f : request.fields) {
      if (f.rules.path_param) {
        rpc.http_path =
            absl::StrReplaceAll(rpc.http_path, {{"{" + f.wire_name + "}", "{" + f.name + "}"}});
      }
    }
    for (const std::string& placeholder : [&] {
           std::vector<std::string> out;
           for (std::size_t pos = op.path.find('{'); pos != std::string::npos;
                pos = op.path.find('{', pos + 1)) {
             out.push_back(op.path.substr(pos + 1, op.path.find('}', pos) - pos - 1));
           }
           return out;
         }()) {
      const bool declared =
          std::any_of(op.parameters.begin(), op.parameters.end(),
                      [&](const ApiParameter& p) { return p.name == placeholder; });
      if (!declared) {
        return ctx.Error(
            absl::StrCat("path placeholder '{", placeholder, "}' has no parameter definition"));
      }
    }
    MethodRules& rules = rpc.rules;
    rules.path = op.path;
    rules.verb = op.verb;
    rules.name = op.name;
    rules.proxyto = op.proxyto;
    rules.is_protected = op.is_protected;
    rules.allowtoken = op.allowtoken;
    if (op.permissions.is_object()) {
      const json::object& perm = op.permissions.get_object();
      if (const json::value* d = perm.if_contains("description"); d != nullptr && d->is_string()) {
        rules.permissions = CleanText(Sv(d->get_string()));
      }
      // PVE spells the expression `check`; Backup Server spells it `permission`.
      for (const char* key : {"check", "permission"}) {
        if (const json::value* c = perm.if_contains(key);
            c != nullptr && !c->is_null() && rules.permission_check.empty()) {
          rules.permission_check = CanonicalJson(*c);
        }
      }
      if (const json::value* u = perm.if_contains("user"); u != nullptr && u->is_string()) {
        rules.permission_user = std::string(u->get_string());
      }
    }
    if (op.returns.is_object()) {
      const json::object& r = op.returns.get_object();
      if (const json::value* links = r.if_contains("links");
          links != nullptr && links->is_array()) {
        for (const auto& link : links->get_array()) {
          if (!link.is_object()) continue;
          const json::value* rel = link.get_object().if_contains("rel");
          const json::value* href = link.get_object().if_contains("href");
          if (rel != nullptr && href != nullptr && rel->is_string() && href->is_string() &&
              rel->get_string() == "child") {
            rules.child_link = std::string(href->get_string());
          }
        }
      }
      const json::value* type = r.if_contains("type");
      const json::value* description = r.if_contains("description");
      const std::string desc = description != nullptr && description->is_string()
                                   ? absl::AsciiStrToLower(Sv(description->get_string()))
                                   : std::string();
      rules.returns_upid =
          op.verb != "GET" && type != nullptr && type->is_string() &&
          type->get_string() == "string" && !r.contains("format") &&
          (desc.empty() || absl::StrContains(desc, "upid") || absl::StrContains(desc, "task")) &&
          !StringResultIsNotUpid(op.verb, op.path);
    }
    rpc.comment = RpcComment(op, rules);
    svc.rpcs.push_back(std::move(rpc));
    svc.messages.push_back(std::move(request));
    svc.messages.push_back(std::move(response));
    ++api.rpc_count;
  }
  for (auto& [name, svc] : services) {
    svc.imports.insert("google/api/annotations.proto");
    svc.imports.insert("proxmox/gateway/v1/options.proto");
    api.services.push_back(std::move(svc));
  }
  api.message_count = message_count_;
  api.field_count = field_count_;
  return api;
}

}  // namespace

std::string TypeSignature(const ProtoField& field) { return LockSignature(field); }

absl::StatusOr<ProtoApi> BuildProtoApi(const ApiSchema& schema, const std::string& package,
                                       const std::string& file_name, FieldLock& lock,
                                       LockChanges& changes, Warnings& warnings) {
  Builder builder(package, file_name, lock, changes, warnings);
  return builder.Build(schema);
}

}  // namespace pvegw::codegen
