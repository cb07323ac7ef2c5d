// Walks every GET operation of the full schema with plausible path parameters (taken from
// the listings of the parent collections, as a client would) and checks each answer
// against its response schema.
#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "mockstate/mock_backend.h"
#include "mockstate/value_gen.h"
#include "tests/mockstate/mockstate_test_util.h"

namespace pvegw::mockstate {
namespace {

namespace json = boost::json;
using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using testing::ScratchSpace;

bool IsParam(const std::string& s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }

bool ScalarConforms(const json::value& v, const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return v.is_string();
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return v.is_int64() || v.is_uint64();
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return v.is_number();
    case FieldDescriptor::CPPTYPE_BOOL:
      return v.is_bool() || (v.is_int64() && (v.get_int64() == 0 || v.get_int64() == 1));
    default:
      return false;
  }
}

void CheckMessage(const json::value& v, const Descriptor* d, const std::string& where,
                  std::vector<std::string>& errors);

void CheckValue(const json::value& v, const FieldDescriptor* f, const std::string& where,
                std::vector<std::string>& errors, bool element) {
  if (!element && f->is_repeated() && !f->is_map()) {
    if (!v.is_array()) {
      errors.push_back(where + ": expected a list");
      return;
    }
    int i = 0;
    for (const auto& e : v.get_array())
      CheckValue(e, f, absl::StrCat(where, "[", i++, "]"), errors, true);
    return;
  }
  const FieldDescriptor* vf = f->is_map() ? f->message_type()->map_value() : f;
  if (vf->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
    if (!ScalarConforms(v, vf))
      errors.push_back(
          absl::StrCat(where, ": ", json::serialize(v), " is not a ", vf->cpp_type_name()));
    return;
  }
  const std::string& full = vf->message_type()->full_name();
  if (full == "google.protobuf.Value") return;
  if (full == "google.protobuf.Struct" && !v.is_object())
    errors.push_back(where + ": expected an object");
  if (full == "google.protobuf.ListValue" && !v.is_array())
    errors.push_back(where + ": expected a list");
  if (full == "google.protobuf.Empty" && !v.is_null()) errors.push_back(where + ": expected null");
  if (!absl::StartsWith(full, "google.protobuf."))
    CheckMessage(v, vf->message_type(), where, errors);
}

void CheckMessage(const json::value& v, const Descriptor* d, const std::string& where,
                  std::vector<std::string>& errors) {
  if (!v.is_object()) {
    errors.push_back(where + ": expected an object");
    return;
  }
  bool open = false;
  for (int i = 0; i < d->field_count(); ++i)
    open = open || Rules(d->field(i)).additional_properties();
  for (const auto& kv : v.get_object()) {
    const std::string key(kv.key());
    const FieldDescriptor* f = FieldByWireName(d, key);
    if (f == nullptr) {
      for (int i = 0; i < d->field_count() && f == nullptr; ++i) {
        const std::string& prefix = Rules(d->field(i)).indexed();
        if (!prefix.empty() && absl::StartsWith(key, prefix) && key.size() > prefix.size() &&
            std::isdigit(static_cast<unsigned char>(key[prefix.size()]))) {
          f = d->field(i);
        }
      }
    }
    if (f == nullptr) {
      if (!open) errors.push_back(absl::StrCat(where, ": unknown key '", key, "'"));
      continue;
    }
    CheckValue(kv.value(), f, absl::StrCat(where, ".", key), errors, false);
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (Rules(f).required() && Rules(f).indexed().empty() && !Rules(f).additional_properties() &&
        !v.get_object().contains(WireName(f))) {
      errors.push_back(absl::StrCat(where, ": required '", WireName(f), "' missing"));
    }
  }
}

class GetWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MockOptions options;
    options.store = space_.Options();
    auto backend = MockBackend::Create(testing::FullApi(), options);
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
  }

  RestResponse Get(const std::string& path, RestParams params = {}) {
    return backend_->Call(RestRequest{"GET", path, std::move(params)});
  }

  // A value for a parameter: from the parent collection's listing when there is one.
  std::string ParamValue(const ApiOperation& op, std::size_t i,
                         const std::string& concrete_parent) {
    std::string parent_template;
    for (std::size_t j = 0; j < i; ++j) absl::StrAppend(&parent_template, "/", op.segments[j]);
    const std::string name = op.segments[i].substr(1, op.segments[i].size() - 2);
    const ApiOperation* list = backend_->api().Find("GET", parent_template);
    if (list != nullptr && !list->rules.child_link().empty()) {
      const std::string key =
          list->rules.child_link().substr(1, list->rules.child_link().size() - 2);
      for (int attempt = 0; attempt < 2; ++attempt) {
        RestResponse r = Get(concrete_parent);
        json::value body = json::parse(r.body);
        const json::value& rows = body.as_object()["data"];
        if (r.status == 200 && rows.is_array() && !rows.as_array().empty()) {
          const json::value& id = rows.as_array()[0].as_object().at(key);
          return id.is_string() ? std::string(id.get_string()) : json::serialize(id);
        }
        // Empty collection: create one entry through its POST, as a user would.
        const ApiOperation* create = backend_->api().Find("POST", parent_template);
        if (create == nullptr || attempt > 0) break;
        RestParams params;
        for (const auto& [pname, field] : create->params) {
          if (Rules(field).required() && !Rules(field).path_param()) {
            json::value v = GenerateValue(field, concrete_parent + "/" + pname, ShapeOptions{}, 0);
            params.emplace_back(pname,
                                v.is_string() ? std::string(v.get_string()) : json::serialize(v));
          }
        }
        RestResponse created = backend_->Call(RestRequest{"POST", concrete_parent, params});
        if (created.status != 200)
          created_failures_.push_back(concrete_parent + ": " + created.reason);
      }
    }
    const auto it = op.params.find(name);
    json::value v = it == op.params.end() ? json::value(name)
                                          : GenerateValue(it->second, concrete_parent + "/" + name,
                                                          ShapeOptions{}, 0);
    return v.is_string() ? std::string(v.get_string()) : json::serialize(v);
  }

  ScratchSpace space_;
  std::unique_ptr<MockBackend> backend_;
  std::vector<std::string> created_failures_;
};

std::string Escape(const std::string& segment) {
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@' || c == ':') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

TEST_F(GetWalkTest, EveryGetAnswersWithSchemaShapedData) {
  std::vector<const ApiOperation*> gets;
  for (const auto& op : backend_->api().operations()) {
    if (op->verb == "GET") gets.push_back(op.get());
  }
  ASSERT_EQ(gets.size(), 326u);
  std::sort(gets.begin(), gets.end(), [](auto* a, auto* b) { return a->path < b->path; });
  int ok = 0;
  std::vector<std::string> failures;
  for (const ApiOperation* op : gets) {
    std::string concrete;
    for (std::size_t i = 0; i < op->segments.size(); ++i) {
      const std::string& seg = op->segments[i];
      concrete +=
          "/" +
          (IsParam(seg) ? Escape(ParamValue(*op, i, concrete.empty() ? "/" : concrete)) : seg);
    }
    RestParams query;
    for (const auto& [name, field] : op->params) {
      if (Rules(field).required() && !Rules(field).path_param()) {
        json::value v = GenerateValue(field, concrete + "?" + name, ShapeOptions{}, 0);
        query.emplace_back(name, v.is_string() ? std::string(v.get_string()) : json::serialize(v));
      }
    }
    RestResponse r = Get(concrete, query);
    if (r.status != 200) {
      failures.push_back(absl::StrCat("GET ", concrete, " (", op->path, "): ", r.status, " ",
                                      r.reason, " ", r.body));
      continue;
    }
    std::vector<std::string> errors;
    json::value body = json::parse(r.body);
    CheckValue(body.as_object()["data"], op->data, op->path, errors, false);
    if (!errors.empty()) {
      failures.push_back(absl::StrCat("GET ", concrete, ": ", absl::StrJoin(errors, "; ")));
      continue;
    }
    ++ok;
  }
  EXPECT_EQ(ok, 326) << failures.size() << " failures:\n" << absl::StrJoin(failures, "\n");
  EXPECT_TRUE(created_failures_.empty()) << absl::StrJoin(created_failures_, "\n");
}

}  // namespace
}  // namespace pvegw::mockstate
