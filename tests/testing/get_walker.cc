#include "tests/testing/get_walker.h"

#include <boost/json.hpp>
#include <cctype>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mockstate/value_gen.h"

namespace pvegw::testing {
namespace {

namespace json = boost::json;

std::string Text(const json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : json::serialize(v);
}

std::string Escape(const std::string& segment) {
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

std::string Generated(const google::protobuf::FieldDescriptor* field, const std::string& seed) {
  return Text(mockstate::GenerateValue(field, seed, mockstate::ShapeOptions{}, 0));
}

}  // namespace

std::string GetWalker::ParamValue(const api::ApiOperation& op, std::size_t i,
                                  const std::string& parent) {
  std::string parent_template;
  for (std::size_t j = 0; j < i; ++j) absl::StrAppend(&parent_template, "/", op.segments[j]);
  const std::string name = op.segments[i].substr(1, op.segments[i].size() - 2);
  const api::ApiOperation* list = api_.Find("GET", parent_template);
  if (list != nullptr && list->rules.child_link().size() > 2) {
    const std::string key = list->rules.child_link().substr(1, list->rules.child_link().size() - 2);
    for (int attempt = 0; attempt < 2; ++attempt) {
      RestResponse r = call_(RestRequest{"GET", parent, {}});
      json::error_code ec;
      json::value body = json::parse(r.body, ec);
      if (!ec && r.status == 200 && body.is_object()) {
        const json::value& rows = body.as_object()["data"];
        if (rows.is_array()) {
          for (const json::value& row : rows.as_array()) {
            if (!row.is_object()) continue;
            const json::value* id = row.as_object().if_contains(key);
            // Proxmox lists the present state as snapshot "current", which is no snapshot.
            if (id == nullptr || (key == "name" && Text(*id) == "current")) continue;
            return Text(*id);
          }
        }
      }
      // An empty collection: create an entry through its POST, as a user would (on the
      // collection, or on the item path where Proxmox names the new entry there: tokens).
      std::string create_path = parent;
      const api::ApiOperation* create = api_.Find("POST", parent_template);
      if (create == nullptr) {
        create = api_.Find("POST", absl::StrCat(parent_template, "/", op.segments[i]));
        const auto it = op.params.find(name);
        if (create != nullptr && it != op.params.end()) {
          create_path = absl::StrCat(parent, "/", Generated(it->second, parent + "/" + name));
        } else {
          create = nullptr;
        }
      }
      if (create == nullptr || attempt > 0) break;
      RestParams params;
      for (const auto& [pname, field] : create->params) {
        if (api::Rules(field).required() && !api::Rules(field).path_param()) {
          params.emplace_back(pname, Generated(field, parent + "/" + pname));
        }
      }
      RestResponse created = call_(RestRequest{"POST", create_path, params});
      if (created.status != 200) create_failures_.push_back(parent + ": " + created.reason);
    }
  }
  const auto it = op.params.find(name);
  return it == op.params.end() ? name : Generated(it->second, parent + "/" + name);
}

ResolvedCall GetWalker::Resolve(const api::ApiOperation& op) {
  ResolvedCall out;
  for (std::size_t i = 0; i < op.segments.size(); ++i) {
    const std::string& seg = op.segments[i];
    if (seg.size() > 2 && seg.front() == '{') {
      const std::string value = ParamValue(op, i, out.path.empty() ? "/" : out.path);
      out.path_params.emplace_back(seg.substr(1, seg.size() - 2), value);
      out.path += "/" + Escape(value);
    } else {
      out.path += "/" + seg;
    }
  }
  for (const auto& [name, field] : op.params) {
    if (api::Rules(field).required() && !api::Rules(field).path_param()) {
      out.query.emplace_back(name, Generated(field, out.path + "?" + name));
    }
  }
  return out;
}

void FindPlaceholders(const json::value& v, const std::string& where,
                      std::vector<std::string>& found) {
  static const std::regex kFiller("[A-Za-z][A-Za-z0-9_-]*[-_][0-9a-f]{4}|mock( .*)?");
  // Proxmox's own ids of that shape: backup jobs (pve-manager's "backup-" . uuid parts).
  static const std::regex kProxmoxId("backup-[0-9a-f]{8}-[0-9a-f]{4}");
  if (v.is_string()) {
    const std::string s(v.get_string());
    if (std::regex_match(s, kFiller) && !std::regex_match(s, kProxmoxId)) {
      found.push_back(where + "=" + s);
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.get_array().size(); ++i)
      FindPlaceholders(v.get_array()[i], absl::StrCat(where, "[", i, "]"), found);
  } else if (v.is_object()) {
    for (const auto& kv : v.get_object())
      FindPlaceholders(kv.value(), absl::StrCat(where, ".", std::string(kv.key())), found);
  }
}

const google::protobuf::FieldDescriptor* AnswerField(const google::protobuf::Descriptor* d,
                                                     const std::string& key) {
  if (const auto* f = api::FieldByWireName(d, key); f != nullptr) return f;
  for (int i = 0; i < d->field_count(); ++i) {
    const std::string& prefix = api::Rules(d->field(i)).indexed();
    if (!prefix.empty() && absl::StartsWith(key, prefix) && key.size() > prefix.size() &&
        std::isdigit(static_cast<unsigned char>(key[prefix.size()]))) {
      return d->field(i);
    }
  }
  return nullptr;
}

}  // namespace pvegw::testing
