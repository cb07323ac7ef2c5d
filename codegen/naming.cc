#include "codegen/naming.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace pvegw::codegen {
namespace {

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsUpper(char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; }
bool IsLower(char c) { return std::islower(static_cast<unsigned char>(c)) != 0; }
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

constexpr std::array<absl::string_view, 43> kProtoKeywords = {
    "bool",     "bytes",    "double",   "enum",    "extend", "extensions", "false",    "fixed32",
    "fixed64",  "float",    "group",    "import",  "inf",    "int32",      "int64",    "map",
    "max",      "message",  "nan",      "oneof",   "option", "optional",   "package",  "public",
    "repeated", "required", "reserved", "returns", "rpc",    "service",    "sfixed32", "sfixed64",
    "sint32",   "sint64",   "stream",   "string",  "syntax", "to",         "true",     "uint32",
    "uint64",   "weak",     "edition"};

}  // namespace

std::string OperationId(absl::string_view verb, absl::string_view path) {
  std::string out;
  out.reserve(verb.size() + path.size() + 1);
  bool pending_sep = false;
  auto append = [&](absl::string_view s) {
    for (char c : s) {
      if (c == '{' || c == '}') continue;
      if (IsAlnum(c)) {
        if (pending_sep && !out.empty()) out.push_back('_');
        pending_sep = false;
        out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      } else {
        pending_sep = true;
      }
    }
  };
  append(verb);
  pending_sep = true;
  append(path);
  return out;
}

std::string UpperCamel(absl::string_view s) {
  std::string out;
  bool upper_next = true;
  for (char c : s) {
    if (!IsAlnum(c)) {
      upper_next = true;
      continue;
    }
    out.push_back(upper_next ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper_next = false;
  }
  if (out.empty() || IsDigit(out[0])) out.insert(0, "X");
  return out;
}

std::string FieldNameFor(absl::string_view name) {
  // camelCase / PascalCase boundaries become '_' before lowercasing:
  // "CSRFPreventionToken" -> "CSRF_Prevention_Token", "caaIdentities" -> "caa_Identities".
  std::string split;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (IsUpper(c) && i > 0) {
      const char prev = name[i - 1];
      const bool next_lower = i + 1 < name.size() && IsLower(name[i + 1]);
      if (IsLower(prev) || IsDigit(prev) || (IsUpper(prev) && next_lower)) split.push_back('_');
    }
    split.push_back(c);
  }
  std::string out;
  for (char c : split) {
    if (IsAlnum(c)) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!out.empty() && out.back() != '_') {
      out.push_back('_');
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.empty()) return "field";
  if (IsDigit(out[0])) out.insert(0, "x_");
  if (IsProtoKeyword(out)) out.push_back('_');
  return out;
}

std::string FieldConflictKey(absl::string_view field_name) {
  std::string key;
  for (char c : field_name) {
    if (c != '_') key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return key;
}

bool IsProtoKeyword(absl::string_view word) {
  return std::find(kProtoKeywords.begin(), kProtoKeywords.end(), word) != kProtoKeywords.end();
}

std::string IndexedBase(absl::string_view name) {
  if (!absl::EndsWith(name, "[n]") || name.size() <= 3) return "";
  return std::string(name.substr(0, name.size() - 3));
}

}  // namespace pvegw::codegen
