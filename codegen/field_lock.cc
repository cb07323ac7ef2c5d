#include "codegen/field_lock.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "codegen/json_reader.h"
#include "codegen/json_util.h"
#include "common/status_macros.h"

namespace pvegw::codegen {
namespace {

namespace json = boost::json;

constexpr int kLockVersion = 1;
constexpr int kMaxFieldNumber = 536870911;  // 2^29 - 1

std::string Quote(absl::string_view s) {
  return json::serialize(json::value(json::string(json::string_view(s.data(), s.size()))));
}

absl::Status ReadEntries(const json::value& v, absl::string_view where,
                         std::map<std::string, FieldLock::Entry>& out, int& max_number) {
  if (!v.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, " must be an object"));
  for (const auto& kv : v.get_object()) {
    const std::string at = absl::StrCat(where, ".", Sv(kv.key()));
    const json::value& e = kv.value();
    // [number, "type", "proto_name"]
    if (!e.is_array() || e.get_array().size() != 3 || !e.get_array()[0].is_int64() ||
        !e.get_array()[1].is_string() || !e.get_array()[2].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, " must be [number, \"type\", \"field_name\"]"));
    }
    FieldLock::Entry entry;
    const std::int64_t n = e.get_array()[0].get_int64();
    if (n < 1 || n > kMaxFieldNumber) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": field number ", n, " out of range"));
    }
    entry.number = static_cast<int>(n);
    entry.type = std::string(e.get_array()[1].get_string());
    entry.proto_name = std::string(e.get_array()[2].get_string());
    max_number = std::max(max_number, entry.number);
    out.emplace(std::string(kv.key()), std::move(entry));
  }
  return absl::OkStatus();
}

void WriteEntries(const std::map<std::string, FieldLock::Entry>& entries, std::string& out) {
  out += "{";
  bool first = true;
  for (const auto& [name, e] : entries) {
    out += first ? "\n" : ",\n";
    first = false;
    absl::StrAppend(&out, "        ", Quote(name), ": [", e.number, ", ", Quote(e.type), ", ",
                    Quote(e.proto_name), "]");
  }
  out += entries.empty() ? "}" : "\n      }";
}

// A signature split into its wrapping ('r' repeated, 'm' map, ' ' none) and element type:
// "repeated int64" -> ('r', "int64"), "map<uint32,int>" -> ('m', "int").
std::pair<char, absl::string_view> SplitSignature(absl::string_view sig) {
  if (absl::ConsumePrefix(&sig, "repeated ")) return {'r', sig};
  if (absl::ConsumePrefix(&sig, "map<uint32,") && absl::ConsumeSuffix(&sig, ">")) {
    return {'m', sig};
  }
  return {' ', sig};
}

bool IsIntElement(absl::string_view e) { return e == "int" || e == "int64"; }

}  // namespace

bool IsInt64Signature(absl::string_view signature) {
  return SplitSignature(signature).second == "int64";
}

bool SameWireType(absl::string_view a, absl::string_view b) {
  if (a == b) return true;
  const auto [wa, ea] = SplitSignature(a);
  const auto [wb, eb] = SplitSignature(b);
  return wa == wb && IsIntElement(ea) && IsIntElement(eb);
}

absl::StatusOr<FieldLock> FieldLock::Parse(absl::string_view text, absl::string_view file_name) {
  PVEGW_ASSIGN_OR_RETURN(ParsedJson parsed, ParseJsonStrict(text, 0, file_name, false));
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ": not a pve-protogen lock: ", what));
  };
  if (!parsed.value.is_object()) return bad("top level must be an object");
  const json::object& top = parsed.value.get_object();
  const json::value* version = top.if_contains("lock_version");
  if (version == nullptr || !version->is_int64()) return bad("missing \"lock_version\"");
  if (version->get_int64() != kLockVersion) {
    return bad(absl::StrCat("lock_version ", version->get_int64(), " is not supported (expected ",
                            kLockVersion, ")"));
  }
  const json::value* messages = top.if_contains("messages");
  if (messages == nullptr || !messages->is_object()) return bad("missing \"messages\" object");
  FieldLock lock;
  for (const auto& kv : messages->get_object()) {
    const std::string name(kv.key());
    if (!kv.value().is_object()) return bad(absl::StrCat(name, " must be an object"));
    const json::object& m = kv.value().get_object();
    Message msg;
    if (const json::value* f = m.if_contains("fields")) {
      absl::Status st = ReadEntries(*f, name + ".fields", msg.fields, msg.max_number);
      if (!st.ok()) return bad(st.message());
    }
    if (const json::value* r = m.if_contains("reserved")) {
      absl::Status st = ReadEntries(*r, name + ".reserved", msg.reserved, msg.max_number);
      if (!st.ok()) return bad(st.message());
    }
    if (const json::value* u = m.if_contains("uses")) {
      if (!u->is_array()) return bad(absl::StrCat(name, ".uses must be a list of strings"));
      for (const auto& e : u->get_array()) {
        if (!e.is_string()) return bad(absl::StrCat(name, ".uses must be a list of strings"));
        msg.uses.emplace_back(e.get_string());
      }
      std::sort(msg.uses.begin(), msg.uses.end());
    }
    if (const json::value* mx = m.if_contains("max_number")) {
      if (!mx->is_int64()) return bad(absl::StrCat(name, ".max_number must be a number"));
      msg.max_number = std::max(msg.max_number, static_cast<int>(mx->get_int64()));
    }
    lock.messages_.emplace(name, std::move(msg));
  }
  return lock;
}

absl::StatusOr<FieldLock> FieldLock::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return FieldLock();  // fresh start
    return absl::PermissionDeniedError(
        absl::StrCat("cannot read lock ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return Parse(buffer.str(), path);
}

std::string FieldLock::Serialize() const {
  std::string out;
  absl::StrAppend(&out, "{\n  \"lock_version\": ", kLockVersion,
                  ",\n  \"comment\": \"Field numbers of the generated Proxmox API. Written by "
                  "pve-protogen --lock; never edit numbers by hand.\",\n  \"messages\": {");
  bool first = true;
  for (const auto& [name, m] : messages_) {
    out += first ? "\n" : ",\n";
    first = false;
    absl::StrAppend(&out, "    ", Quote(name), ": {\n      \"max_number\": ", m.max_number,
                    ",\n      \"fields\": ");
    WriteEntries(m.fields, out);
    if (!m.reserved.empty()) {
      out += ",\n      \"reserved\": ";
      WriteEntries(m.reserved, out);
    }
    if (!m.uses.empty()) {
      out += ",\n      \"uses\": [";
      for (std::size_t i = 0; i < m.uses.size(); ++i) {
        absl::StrAppend(&out, i == 0 ? "\n" : ",\n", "        ", Quote(m.uses[i]));
      }
      out += "\n      ]";
    }
    out += "\n    }";
  }
  out += messages_.empty() ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

bool FieldLock::operator==(const FieldLock& other) const {
  return Serialize() == other.Serialize();
}

}  // namespace pvegw::codegen
