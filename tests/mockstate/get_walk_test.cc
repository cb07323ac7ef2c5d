// Walks every GET operation of the full schema with plausible path parameters (taken from
// the listings of the parent collections, as a client would) and checks each answer
// against its response schema: declared keys have their declared types, required ones are
// present.
#include <google/protobuf/dynamic_message.h>

#include <boost/json.hpp>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/typed_property.h"
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
    const FieldDescriptor* f = pvegw::testing::AnswerField(d, key);
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

// Every property string of an answer, read into its typed message and printed back the way
// Proxmox prints it: the mock stores what Proxmox would write, so the text must not change.
class PropertyStringRoundTrip {
 public:
  explicit PropertyStringRoundTrip(const google::protobuf::DescriptorPool* pool) : factory_(pool) {}

  void Message(const json::value& v, const Descriptor* d, const std::string& where) {
    if (!v.is_object()) return;
    for (const auto& kv : v.get_object()) {
      const std::string key(kv.key());
      const FieldDescriptor* f = pvegw::testing::AnswerField(d, key);
      if (f == nullptr) continue;
      const std::string at = absl::StrCat(where, ".", key);
      const FieldDescriptor* vf = f->is_map() ? f->message_type()->map_value() : f;
      if (vf->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
          !absl::StartsWith(vf->message_type()->full_name(), "google.protobuf.")) {
        if (kv.value().is_array()) {
          for (const auto& e : kv.value().get_array()) Message(e, vf->message_type(), at);
        } else {
          Message(kv.value(), vf->message_type(), at);
        }
        continue;
      }
      if (api::Rules(f).property_format().empty()) continue;
      const api::TypedProperty* typed = Bound(d, f);
      if (typed == nullptr) {
        errors.push_back(at + ": a property string without a typed companion");
        continue;
      }
      if (kv.value().is_string()) {
        Check(*typed, std::string(kv.value().get_string()), at);
      } else if (kv.value().is_array()) {
        for (const auto& e : kv.value().get_array()) {
          if (e.is_string()) Check(*typed, std::string(e.get_string()), at);
        }
      }
    }
  }

  int values = 0;
  std::set<std::string> messages;  // typed messages seen
  std::vector<std::string> errors;

 private:
  const api::TypedProperty* Bound(const Descriptor* d, const FieldDescriptor* raw) {
    auto [it, fresh] = bound_.try_emplace(raw);
    if (!fresh) return it->second.get();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* c = d->field(i);
      if (api::Rules(c).typed_of() != raw->name()) continue;
      const Descriptor* m =
          c->is_map() ? c->message_type()->map_value()->message_type() : c->message_type();
      auto b = api::TypedProperty::Bind(m, api::Rules(raw).property_format());
      if (b.ok()) it->second = *b;
    }
    return it->second.get();
  }
  void Check(const api::TypedProperty& typed, const std::string& value, const std::string& at) {
    ++values;
    messages.insert(typed.message()->name());
    std::unique_ptr<google::protobuf::Message> m(factory_.GetPrototype(typed.message())->New());
    absl::Status st = typed.Parse(value, m.get());
    if (!st.ok()) {
      errors.push_back(absl::StrCat(at, ": '", value, "' does not parse: ", st.message()));
      return;
    }
    absl::StatusOr<std::string> printed = typed.Print(*m);
    if (!printed.ok()) {
      errors.push_back(
          absl::StrCat(at, ": '", value, "' does not print: ", printed.status().message()));
    } else if (*printed != value) {
      errors.push_back(absl::StrCat(at, ": '", value, "' prints as '", *printed, "'"));
    }
  }

  google::protobuf::DynamicMessageFactory factory_;
  std::map<const FieldDescriptor*, std::shared_ptr<const api::TypedProperty>> bound_;
};

class GetWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = testing::SeededWorld(space_);
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
    pvegw::testing::FindPlaceholders(json::parse(r.body).as_object()["data"], call.path, found);
    ++walked;
  }
  EXPECT_EQ(walked, static_cast<int>(stored.size()));
  EXPECT_TRUE(found.empty()) << absl::StrJoin(found, "\n");
}

TEST_F(GetWalkTest, EveryPropertyStringOfTheMockWorldRoundTripsIdentically) {
  PropertyStringRoundTrip round_trip(backend_->api().pool());
  pvegw::testing::GetWalker walker(backend_->api(),
                                   [&](const RestRequest& r) { return backend_->Call(r); });
  for (const auto& op : backend_->api().operations()) {
    if (op->verb != "GET") continue;
    const pvegw::testing::ResolvedCall call = walker.Resolve(*op);
    RestResponse r = Get(call.path, call.query);
    if (r.status != 200) continue;
    json::value body = json::parse(r.body);
    const json::value& data = body.as_object()["data"];
    const FieldDescriptor* f = op->data;
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (data.is_array()) {
      for (const auto& e : data.get_array()) round_trip.Message(e, f->message_type(), op->path);
    } else {
      round_trip.Message(data, f->message_type(), op->path);
    }
  }
  EXPECT_GE(round_trip.values, 6) << "the walk must see property strings";
  // boot's format is one the schema only names (pve-qm-boot), typed from pve-protogen's
  // built-in tables.
  EXPECT_EQ(round_trip.messages.count("QemuBoot"), 1u);
  EXPECT_TRUE(round_trip.errors.empty()) << absl::StrJoin(round_trip.errors, "\n");
  std::cout << "mock world: " << round_trip.values << " property strings round-tripped\n";
}

}  // namespace
}  // namespace pvegw::mockstate
