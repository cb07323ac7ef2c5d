// Walks every GET operation of the full schema with plausible path parameters (taken from
// the listings of the parent collections, as a client would) and checks each answer
// against its response schema: declared keys have their declared types, required ones are
// present.
#include <boost/json.hpp>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "mockstate/mock_backend.h"
#include "mockstate/value_gen.h"
#include "tests/testing/get_walker.h"
#include "tests/testing/mockstate_test_util.h"

namespace pvegw::mockstate {
namespace {

namespace json = boost::json;
using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using testing::ScratchSpace;

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
  for (const auto& kv : v.get_object()) {
    const std::string key(kv.key());
    const FieldDescriptor* f = api::FieldByWireName(d, key);
    if (f == nullptr) {
      for (int i = 0; i < d->field_count() && f == nullptr; ++i) {
        const std::string& prefix = api::Rules(d->field(i)).indexed();
        if (!prefix.empty() && absl::StartsWith(key, prefix) && key.size() > prefix.size() &&
            std::isdigit(static_cast<unsigned char>(key[prefix.size()]))) {
          f = d->field(i);
        }
      }
    }
    // Keys the schema does not declare are fine: real hosts send them too (ids and types of
    // rows, digests, QEMU's statistics; see replay_fidelity_test.cc).
    if (f == nullptr) continue;
    CheckValue(kv.value(), f, absl::StrCat(where, ".", key), errors, false);
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (api::Rules(f).required() && api::Rules(f).indexed().empty() &&
        !api::Rules(f).additional_properties() && !v.get_object().contains(api::WireName(f))) {
      errors.push_back(absl::StrCat(where, ": required '", api::WireName(f), "' missing"));
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

  ScratchSpace space_;
  std::unique_ptr<MockBackend> backend_;
};

TEST_F(GetWalkTest, EveryGetAnswersWithSchemaShapedData) {
  std::vector<const api::ApiOperation*> gets;
  for (const auto& op : backend_->api().operations()) {
    if (op->verb == "GET") gets.push_back(op.get());
  }
  ASSERT_EQ(gets.size(), 326u);
  std::sort(gets.begin(), gets.end(), [](auto* a, auto* b) { return a->path < b->path; });
  int ok = 0;
  std::vector<std::string> failures;
  pvegw::testing::GetWalker walker(backend_->api(),
                                   [&](const RestRequest& r) { return backend_->Call(r); });
  for (const api::ApiOperation* op : gets) {
    const pvegw::testing::ResolvedCall call = walker.Resolve(*op);
    const std::string& concrete = call.path;
    RestResponse r = Get(concrete, call.query);
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
  EXPECT_TRUE(walker.create_failures().empty()) << absl::StrJoin(walker.create_failures(), "\n");
}

// Values a real host never sends: generated fillers such as "encrypted-603a",
// "path-e7b5", "tokenid-2207" (a word and four hex digits) or "mock comment".
void FindPlaceholders(const json::value& v, const std::string& where,
                      std::vector<std::string>& found) {
  static const std::regex kFiller("[a-z][a-z_-]*-[0-9a-f]{4}");
  if (v.is_string()) {
    const std::string s(v.get_string());
    if (std::regex_match(s, kFiller) || s == "mock comment") found.push_back(where + "=" + s);
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.get_array().size(); ++i)
      FindPlaceholders(v.get_array()[i], absl::StrCat(where, "[", i, "]"), found);
  } else if (v.is_object()) {
    for (const auto& kv : v.get_object())
      FindPlaceholders(kv.value(), absl::StrCat(where, ".", std::string(kv.key())), found);
  }
}

// Every GET of a freshly seeded world whose answer comes from what the world stores
// (volumes, realms, users and their tokens, groups, storage) answers real-looking values.
TEST_F(GetWalkTest, StoredEntitiesAnswerNoPlaceholders) {
  const std::set<std::string> stored = {
      "/access/domains",
      "/access/domains/{realm}",
      "/access/groups",
      "/access/groups/{groupid}",
      "/access/users",
      "/access/users/{userid}/token",
      "/nodes/{node}/lxc/{vmid}/pending",
      "/nodes/{node}/qemu/{vmid}/pending",
      "/nodes/{node}/aplinfo",
      "/nodes/{node}/storage/{storage}/content",
      "/nodes/{node}/storage/{storage}/content/{volume}",
      "/storage",
  };
  pvegw::testing::GetWalker walker(backend_->api(),
                                   [&](const RestRequest& r) { return backend_->Call(r); });
  std::vector<std::string> found;
  int walked = 0;
  for (const auto& op : backend_->api().operations()) {
    if (op->verb != "GET" || stored.count(op->path) == 0) continue;
    const pvegw::testing::ResolvedCall call = walker.Resolve(*op);
    RestParams query = call.query;
    if (op->path == "/access/users") query.emplace_back("full", "1");
    RestResponse r = Get(call.path, query);
    ASSERT_EQ(r.status, 200) << call.path << ": " << r.body;
    FindPlaceholders(json::parse(r.body).as_object()["data"], call.path, found);
    ++walked;
  }
  EXPECT_EQ(walked, static_cast<int>(stored.size()));
  EXPECT_TRUE(found.empty()) << absl::StrJoin(found, "\n");
}

}  // namespace
}  // namespace pvegw::mockstate
