#include "api/api_index.h"

#include <google/protobuf/descriptor.pb.h>

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace pvegw::api {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::DescriptorPool;
using ::google::protobuf::FieldDescriptor;

bool IsParamSegment(absl::string_view s) {
  return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::string& WireName(const FieldDescriptor* field) {
  static const std::string* const kAdditional = new std::string("*");
  const auto& rules = Rules(field);
  if (!rules.indexed().empty()) return rules.indexed();
  if (rules.additional_properties()) return *kAdditional;
  return field->json_name();
}

const proxmox::gateway::v1::FieldRules& Rules(const FieldDescriptor* field) {
  return field->options().GetExtension(proxmox::gateway::v1::field);
}

const FieldDescriptor* FieldByWireName(const Descriptor* message, absl::string_view wire) {
  for (int i = 0; i < message->field_count(); ++i) {
    if (WireName(message->field(i)) == wire) return message->field(i);
  }
  return nullptr;
}

std::vector<std::string> SplitPath(absl::string_view path) {
  std::vector<std::string> out;
  for (absl::string_view s : absl::StrSplit(path, '/', absl::SkipEmpty())) out.emplace_back(s);
  return out;
}

std::string PercentEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<std::string> PercentDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = HexValue(s[i + 1]);
    const int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<ApiIndex>> ApiIndex::FromDescriptorSet(absl::string_view bytes,
                                                                      absl::string_view package) {
  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("descriptor set is not a serialized FileDescriptorSet");
  }
  auto pool = std::make_unique<DescriptorPool>();
  std::vector<const google::protobuf::FileDescriptor*> files;
  for (const auto& file : set.file()) {
    const google::protobuf::FileDescriptor* built = pool->BuildFile(file);
    if (built == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("descriptor set: file ", file.name(), " does not build"));
    }
    if (built->package() == package) files.push_back(built);
  }
  absl::StatusOr<std::unique_ptr<ApiIndex>> index = Build(pool.get(), files);
  if (index.ok()) (*index)->owned_pool_ = std::move(pool);
  return index;
}

absl::StatusOr<std::unique_ptr<ApiIndex>> ApiIndex::Build(
    const DescriptorPool* pool, const std::vector<const google::protobuf::FileDescriptor*>& files) {
  auto index = std::unique_ptr<ApiIndex>(new ApiIndex());
  index->pool_ = pool;
  std::vector<const google::protobuf::ServiceDescriptor*> services;
  for (const auto* file : files) {
    for (int i = 0; i < file->service_count(); ++i) services.push_back(file->service(i));
  }
  if (services.empty()) return absl::InvalidArgumentError("descriptor set has no API services");
  for (const auto* service : services) {
    for (int m = 0; m < service->method_count(); ++m) {
      const auto* method = service->method(m);
      if (!method->options().HasExtension(proxmox::gateway::v1::method)) continue;
      auto op = std::make_unique<ApiOperation>();
      op->method = method;
      op->rules = method->options().GetExtension(proxmox::gateway::v1::method);
      op->verb = op->rules.verb();
      op->path = op->rules.path();
      op->segments = SplitPath(op->path);
      op->request = method->input_type();
      op->data = method->output_type()->FindFieldByName("data");
      for (int f = 0; f < op->request->field_count(); ++f) {
        const FieldDescriptor* field = op->request->field(f);
        // Typed companions (net_typed) are no Proxmox parameters: the transcoder prints
        // them into their raw field.
        if (!Rules(field).typed_of().empty()) continue;
        // `numa` and `numa[n]` can both exist: indexed ones never share the name map.
        if (!Rules(field).indexed().empty()) {
          op->indexed_params.push_back(field);
        } else {
          op->params[WireName(field)] = field;
        }
      }
      Node* node = &index->root_;
      for (const std::string& seg : op->segments) {
        if (IsParamSegment(seg)) {
          if (!node->param) {
            node->param = std::make_unique<Node>();
            node->param->template_path = absl::StrCat(node->template_path, "/", seg);
          }
          node->param_name = seg.substr(1, seg.size() - 2);
          node = node->param.get();
        } else {
          auto& child = node->literal[seg];
          if (!child) {
            child = std::make_unique<Node>();
            child->template_path = absl::StrCat(node->template_path, "/", seg);
          }
          node = child.get();
        }
      }
      node->ops[op->verb] = op.get();
      index->operations_.push_back(std::move(op));
    }
  }
  return index;
}

absl::StatusOr<Route> ApiIndex::Match(absl::string_view verb, absl::string_view path) const {
  Route route;
  for (absl::string_view raw : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    std::optional<std::string> seg = PercentDecode(raw);
    if (!seg) return absl::InvalidArgumentError(absl::StrCat("malformed escape in path ", path));
    route.segments.push_back(*std::move(seg));
  }
  // Literal segments win over parameters; backtrack when a literal branch dead-ends.
  std::vector<std::pair<std::string, std::string>> params;
  std::function<const Node*(const Node*, std::size_t)> walk = [&](const Node* node,
                                                                  std::size_t i) -> const Node* {
    if (i == route.segments.size()) return node->ops.empty() ? nullptr : node;
    if (auto it = node->literal.find(route.segments[i]); it != node->literal.end()) {
      if (const Node* found = walk(it->second.get(), i + 1)) return found;
    }
    if (node->param) {
      params.emplace_back(node->param_name, route.segments[i]);
      if (const Node* found = walk(node->param.get(), i + 1)) return found;
      // A volume id takes the rest of the path with its raw '/' (local:iso/x.iso):
      // pve-storage registers {volume} with fragmentDelimiter => ''.
      if (absl::EndsWith(node->param->template_path, "/content/{volume}") &&
          i + 1 < route.segments.size() && !node->param->ops.empty()) {
        params.back().second = absl::StrJoin(route.segments.begin() + i, route.segments.end(), "/");
        route.segments.resize(i + 1);  // segments stay aligned with the template
        route.segments[i] = params.back().second;
        return node->param.get();
      }
      params.pop_back();
    }
    return nullptr;
  };
  const Node* node = walk(&root_, 0);
  if (node == nullptr) {
    return absl::NotFoundError(absl::StrCat("Method '", verb, " ", path, "' not implemented"));
  }
  auto it = node->ops.find(std::string(verb));
  if (it == node->ops.end()) {
    return absl::UnimplementedError(absl::StrCat("Method '", verb, " ", path, "' not implemented"));
  }
  route.op = it->second;
  route.template_path = node->template_path;
  route.path_params = std::move(params);
  return route;
}

const ApiIndex::Node* ApiIndex::FindNode(absl::string_view template_path) const {
  const Node* node = &root_;
  for (absl::string_view seg : absl::StrSplit(template_path, '/', absl::SkipEmpty())) {
    if (IsParamSegment(seg)) {
      if (!node->param) return nullptr;
      node = node->param.get();
    } else {
      auto it = node->literal.find(std::string(seg));
      if (it == node->literal.end()) return nullptr;
      node = it->second.get();
    }
  }
  return node;
}

const ApiOperation* ApiIndex::Find(absl::string_view verb, absl::string_view template_path) const {
  const Node* node = FindNode(template_path);
  if (node == nullptr) return nullptr;
  auto it = node->ops.find(std::string(verb));
  return it == node->ops.end() ? nullptr : it->second;
}

bool ApiIndex::HasPath(absl::string_view template_path) const {
  const Node* node = FindNode(template_path);
  return node != nullptr;
}

std::vector<std::string> ApiIndex::LiteralChildren(absl::string_view template_path) const {
  std::vector<std::string> out;
  const Node* node = FindNode(template_path);
  if (node == nullptr) return out;
  for (const auto& [name, child] : node->literal) out.push_back(name);
  return out;
}

std::optional<std::string> ApiIndex::ParamChild(absl::string_view template_path) const {
  const Node* node = FindNode(template_path);
  if (node == nullptr || !node->param) return std::nullopt;
  return node->param->template_path;
}

}  // namespace pvegw::api
