// The transcoder on real Proxmox answers (../shared/pve-replay, PVE 5-9): every successful
// answer decodes, and every key of its JSON is found again in the decoded message, in its
// typed field or in the additional_properties Struct of the object it was in, recursively;
// every error answer maps to the code of the status table with Proxmox's text.
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/api_index.h"
#include "api/typed_property.h"
#include "common/status_mapping.h"
#include "gateway/transcoder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pvegw::gateway {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Like scripts/schema-path.sh: under CI (CI=true) always ../shared/pve-replay; elsewhere
// PVE_REPLAY_DIR may point at another copy. A missing corpus is a failure, never a skip.
std::string ReplayDir() {
  const char* ci = std::getenv("CI");
  const char* env = std::getenv("PVE_REPLAY_DIR");
  if ((ci == nullptr || std::string(ci) != "true") && env != nullptr && *env != '\0') return env;
  return PVEGW_REPLAY_DIR;
}

// Equal JSON, numbers compared by value (a Struct holds every number as a double).
bool SameJson(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    return a.to_number<double>() == b.to_number<double>();
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const json::array& x = a.get_array();
    const json::array& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!SameJson(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const json::object& x = a.get_object();
    const json::object& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const json::value* other = y.if_contains(kv.key());
      if (other == nullptr || !SameJson(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

bool IsWellKnown(const Descriptor* d) {
  return absl::StartsWith(d->full_name(), "google.protobuf.");
}

// Walks the JSON Proxmox sent next to the message decoded from it; every key not found
// again is a loss.
class KeyChecker {
 public:
  std::vector<std::string> losses;
  int keys = 0;

  void Object(const json::object& o, const Message& m, const std::string& where) {
    const Descriptor* d = m.GetDescriptor();
    const Reflection* r = m.GetReflection();
    const FieldDescriptor* extra_field = nullptr;
    for (int i = 0; i < d->field_count(); ++i) {
      if (api::Rules(d->field(i)).additional_properties()) extra_field = d->field(i);
    }
    json::object extra;
    if (extra_field != nullptr && r->HasField(m, extra_field)) {
      std::string text;
      (void)google::protobuf::util::MessageToJsonString(r->GetMessage(m, extra_field), &text);
      extra = json::parse(text).as_object();
    }
    for (const auto& kv : o) {
      ++keys;
      const std::string key(kv.key());
      const std::string at = absl::StrCat(where, ".", key);
      if (const json::value* kept = extra.if_contains(kv.key())) {
        if (!SameJson(*kept, kv.value())) {
          losses.push_back(absl::StrCat(at, ": kept as ", json::serialize(*kept), ", sent ",
                                        json::serialize(kv.value())));
        }
        continue;
      }
      const FieldDescriptor* f = api::FieldByWireName(d, key);
      std::uint32_t index = 0;
      if (f == nullptr) {
        for (int i = 0; i < d->field_count(); ++i) {
          const std::string& prefix = api::Rules(d->field(i)).indexed();
          if (!prefix.empty() && key.size() > prefix.size() && absl::StartsWith(key, prefix) &&
              absl::SimpleAtoi(key.substr(prefix.size()), &index)) {
            f = d->field(i);
          }
        }
      }
      if (f == nullptr) {
        losses.push_back(absl::StrCat(at, ": not in the schema and not kept"));
        continue;
      }
      Value(kv.value(), m, f, index, at);
    }
  }

 private:
  // null, and "" where no text is expected, decode to an unset field by rule.
  static bool UnsetByRule(const json::value& v, const FieldDescriptor* f) {
    if (v.is_null()) return true;
    return v.is_string() && v.get_string().empty() &&
           f->cpp_type() != FieldDescriptor::CPPTYPE_STRING &&
           !(f->message_type() != nullptr &&
             f->message_type()->full_name() == "google.protobuf.Value");
  }

  void Value(const json::value& v, const Message& m, const FieldDescriptor* f, std::uint32_t index,
             const std::string& at) {
    const Reflection* r = m.GetReflection();
    if (f->is_map()) {
      const FieldDescriptor* value_field = f->message_type()->map_value();
      if (UnsetByRule(v, value_field)) return;
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        const Message& entry = r->GetRepeatedMessage(m, f, i);
        if (entry.GetReflection()->GetUInt32(entry, f->message_type()->map_key()) == index) {
          if (value_field->message_type() != nullptr && !IsWellKnown(value_field->message_type()) &&
              v.is_object()) {
            Object(v.get_object(), entry.GetReflection()->GetMessage(entry, value_field), at);
          }
          return;
        }
      }
      losses.push_back(absl::StrCat(at, ": no map entry ", index, " and not kept"));
      return;
    }
    if (UnsetByRule(v, f)) return;
    const bool set = f->is_repeated() ? r->FieldSize(m, f) > 0 : r->HasField(m, f);
    if (!set) {
      // A list sent as "" or [] decodes to an empty repeated field.
      if (f->is_repeated() &&
          ((v.is_array() && v.get_array().empty()) || (v.is_string() && v.get_string().empty()))) {
        return;
      }
      losses.push_back(absl::StrCat(at, ": typed field unset and value not kept (sent ",
                                    json::serialize(v), ")"));
      return;
    }
    const Descriptor* sub = f->message_type();
    if (sub == nullptr || IsWellKnown(sub)) return;  // a scalar or a JSON-shaped type
    if (f->is_repeated()) {
      if (v.is_array()) {
        const json::array& a = v.get_array();
        if (static_cast<int>(a.size()) != r->FieldSize(m, f)) {
          losses.push_back(
              absl::StrCat(at, ": ", a.size(), " elements sent, ", r->FieldSize(m, f), " decoded"));
          return;
        }
        for (std::size_t i = 0; i < a.size(); ++i) {
          if (a[i].is_object()) {
            Object(a[i].get_object(), r->GetRepeatedMessage(m, f, static_cast<int>(i)),
                   absl::StrCat(at, "[", i, "]"));
          }
        }
      } else if (v.is_object()) {
        Object(v.get_object(), r->GetRepeatedMessage(m, f, 0), at);
      }
      return;
    }
    if (v.is_object()) Object(v.get_object(), r->GetMessage(m, f), at);
  }
};

// What a client must see for each real error answer of the corpus, decided by hand from
// each record (its HTTP status and Proxmox's text), not computed: a change of the mapping
// that changes one of these fails here. A new error record must be added to this list.
const std::map<std::string, absl::StatusCode>& ExpectedCodes() {
  static const auto* codes = new std::map<std::string, absl::StatusCode>{
      {"026-get-cluster-nextid", absl::StatusCode::kInvalidArgument},     // 400 vmid: exists
      {"030-get-nodes-doesntexist-status", absl::StatusCode::kInternal},  // 500, no text
      {"090-get-nodes-pve-rrddata", absl::StatusCode::kInvalidArgument},  // missing timeframe
      {"091-get-nodes-pve-ubfailcnt", absl::StatusCode::kUnimplemented},  // 501
      {"096-get-nodes-pve-scan-iscsi", absl::StatusCode::kInvalidArgument},
      {"102-get-nodes-pve-qemu-103-rrd", absl::StatusCode::kInvalidArgument},
      {"112-post-nodes-node1-qemu-100-monitor", absl::StatusCode::kInvalidArgument},
      // 500 "invalid server response: '404 Not Found'": a failure of the host, not a
      // missing object of the caller's.
      {"113-get-nodes-node1-query-url-metadata", absl::StatusCode::kInternal},
      {"115-post-cluster-sdn-zones", absl::StatusCode::kInternal},  // 500 "... not existing"
  };
  return *codes;
}

class ReplayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto api = api::ApiIndex::FromDescriptorSet(ReadFile(PVEGW_API_DESCRIPTORS));
    ASSERT_TRUE(api.ok()) << api.status();
    api_ = api->release();
  }
  static void TearDownTestSuite() {
    delete api_;
    api_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(api_, nullptr);
    dir_ = ReplayDir();
    std::error_code ec;
    ASSERT_TRUE(fs::is_directory(dir_, ec))
        << "the replay corpus of real Proxmox answers is missing: " << dir_
        << " (expected beside the checkout as ../shared/pve-replay; outside CI, PVE_REPLAY_DIR "
           "may point at a copy)";
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (entry.path().extension() == ".json") files_.push_back(entry.path().string());
    }
    std::sort(files_.begin(), files_.end());
    ASSERT_GE(files_.size(), 100u) << dir_ << " holds too few answers";
  }

  struct Record {
    std::string name;
    std::string verb;
    std::string path;
    std::string template_path;  // empty: the path is not in the PVE 9 schema
    int status = 0;
    json::value body;
  };
  static Record Load(const std::string& file) {
    Record rec;
    rec.name = fs::path(file).filename().string();
    const json::object o = json::parse(ReadFile(file)).as_object();
    rec.verb = std::string(o.at("verb").as_string());
    rec.path = std::string(o.at("path").as_string());
    if (o.at("template").is_string()) rec.template_path = std::string(o.at("template").as_string());
    rec.status = static_cast<int>(o.at("status").to_number<std::int64_t>());
    rec.body = o.at("body");
    return rec;
  }

  static api::ApiIndex* api_;
  std::string dir_;
  std::vector<std::string> files_;
};
api::ApiIndex* ReplayTest::api_ = nullptr;

TEST_F(ReplayTest, EverySuccessfulAnswerDecodesAndLosesNoKey) {
  Transcoder transcoder(*api_);
  google::protobuf::DynamicMessageFactory factory(api_->pool());
  int decoded = 0;
  int keys = 0;
  std::vector<std::string> not_in_schema;
  for (const std::string& file : files_) {
    const Record rec = Load(file);
    if (rec.status != 200) continue;
    SCOPED_TRACE(rec.name);
    if (rec.template_path.empty()) {
      not_in_schema.push_back(rec.name);  // a path PVE 9 no longer has: no RPC to decode for
      continue;
    }
    const api::ApiOperation* op = api_->Find(rec.verb, rec.template_path);
    ASSERT_NE(op, nullptr) << rec.verb << " " << rec.template_path << " is not in the API";
    std::unique_ptr<Message> out(factory.GetPrototype(op->method->output_type())->New());
    RestResponse response;
    response.body = json::serialize(rec.body);
    const absl::Status st = transcoder.Decode(*op, response, out.get());
    EXPECT_TRUE(st.ok()) << rec.name << ": " << std::string(st.message());
    KeyChecker checker;
    checker.Object(rec.body.as_object(), *out, op->method->name());
    EXPECT_THAT(checker.losses, ::testing::IsEmpty()) << rec.name;
    keys += checker.keys;
    ++decoded;
  }
  EXPECT_GE(decoded, 100);
  EXPECT_LE(not_in_schema.size(), 1u) << absl::StrJoin(not_in_schema, ", ");
  std::vector<std::string> fallbacks;
  for (const DecodeFallbackCount& c : transcoder.DecodeFallbacks()) {
    fallbacks.push_back(absl::StrCat(c.field, " x", c.count));
  }
  RecordProperty("decoded", decoded);
  RecordProperty("keys", keys);
  std::cout << "replay: " << decoded << " answers, " << keys << " keys, "
            << transcoder.unlisted_keys_kept() << " unlisted keys kept, " << fallbacks.size()
            << " fields with values kept as sent:\n  " << absl::StrJoin(fallbacks, "\n  ") << "\n";
}

// The walk itself must notice a loss, or its silence above would prove nothing.
TEST_F(ReplayTest, TheKeyWalkNoticesLostAndAlteredKeys) {
  Transcoder transcoder(*api_);
  google::protobuf::DynamicMessageFactory factory(api_->pool());
  const api::ApiOperation* op = api_->Find("GET", "/nodes/{node}/ceph/mon");
  ASSERT_NE(op, nullptr);
  std::unique_ptr<Message> out(factory.GetPrototype(op->method->output_type())->New());
  RestResponse response;
  response.body = R"({"data":[{"name":"a","host":"h1"}]})";
  ASSERT_TRUE(transcoder.Decode(*op, response, out.get()).ok());
  KeyChecker same;
  same.Object(json::parse(response.body).as_object(), *out, "x");
  EXPECT_THAT(same.losses, ::testing::IsEmpty());
  KeyChecker other;
  other.Object(json::parse(R"({"total":1,"data":[{"name":"a","host":"h2","rank":3}]})").as_object(),
               *out, "x");
  EXPECT_THAT(other.losses, ::testing::UnorderedElementsAre(
                                ::testing::HasSubstr("x.total: not in the schema and not kept"),
                                ::testing::HasSubstr("x.data[0].host: kept as \"h1\""),
                                ::testing::HasSubstr("x.data[0].rank: typed field unset")));
}

TEST_F(ReplayTest, StrictDecodingStillFailsTheOddAnswersNamingTheField) {
  Transcoder strict(*api_, TranscoderOptions{/*strict_decoding=*/true});
  google::protobuf::DynamicMessageFactory factory(api_->pool());
  int failed = 0;
  for (const std::string& file : files_) {
    const Record rec = Load(file);
    if (rec.status != 200 || rec.template_path.empty()) continue;
    const api::ApiOperation* op = api_->Find(rec.verb, rec.template_path);
    ASSERT_NE(op, nullptr) << rec.template_path;
    std::unique_ptr<Message> out(factory.GetPrototype(op->method->output_type())->New());
    RestResponse response;
    response.body = json::serialize(rec.body);
    const absl::Status st = strict.Decode(*op, response, out.get());
    if (st.ok()) continue;
    ++failed;
    EXPECT_EQ(st.code(), absl::StatusCode::kInternal) << rec.name;
    EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr(op->method->name() + ".data"))
        << rec.name;
  }
  // e.g. a host name in /nodes/{node}/ceph/mon's boolean `host`
  EXPECT_GE(failed, 1);
}

TEST_F(ReplayTest, EveryErrorAnswerMapsByTheStatusTableKeepingProxmoxText) {
  Transcoder transcoder(*api_);
  google::protobuf::DynamicMessageFactory factory(api_->pool());
  int errors = 0;
  for (const std::string& file : files_) {
    const Record rec = Load(file);
    if (rec.status == 200) continue;
    SCOPED_TRACE(rec.name);
    ++errors;
    RestResponse response;
    response.status = rec.status;
    response.reason = "";  // the corpus did not record the reason line
    response.body = json::serialize(rec.body);
    absl::Status st;
    const api::ApiOperation* op =
        rec.template_path.empty() ? nullptr : api_->Find(rec.verb, rec.template_path);
    if (op != nullptr) {
      std::unique_ptr<Message> out(factory.GetPrototype(op->method->output_type())->New());
      st = transcoder.Decode(*op, response, out.get());
    } else {
      st = StatusFromRest(response);
    }
    const json::object& body = rec.body.as_object();
    std::string text;
    if (const json::value* m = body.if_contains("message"); m != nullptr && m->is_string()) {
      text = std::string(m->get_string());
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    }
    auto expected = ExpectedCodes().find(fs::path(rec.name).stem().string());
    ASSERT_NE(expected, ExpectedCodes().end()) << "no expected code written down for this record";
    EXPECT_EQ(st.code(), expected->second) << std::string(st.message());
    // Parameter errors travel as violations, which clients get as google.rpc.BadRequest.
    if (rec.status == 400) {
      EXPECT_FALSE(FieldViolationsOf(st).empty());
    }
    if (!text.empty()) {
      EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr(text));
    }
    if (const json::value* e = body.if_contains("errors"); e != nullptr && e->is_object()) {
      for (const auto& kv : e->get_object()) {
        std::string why(kv.value().as_string());
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        EXPECT_THAT(std::string(st.message()),
                    ::testing::HasSubstr(absl::StrCat(std::string(kv.key()), ": ", why)));
      }
    }
  }
  EXPECT_EQ(errors, static_cast<int>(ExpectedCodes().size()));
}

// Every property string in the corpus, read into its typed message, printed back as Proxmox
// prints it and read again, gives the same key/value set (sizes compared as Proxmox's
// format_size writes them; the order may differ where the host wrote its own).
TEST_F(ReplayTest, EveryPropertyStringRoundTripsThroughItsTypedForm) {
  Transcoder transcoder(*api_);
  google::protobuf::DynamicMessageFactory factory(api_->pool());
  std::map<const FieldDescriptor*, std::shared_ptr<const api::TypedProperty>> bound;
  int values = 0;
  int filled = 0;
  std::set<std::string> messages;  // typed messages the corpus exercises
  std::vector<std::string> errors;
  // The key/value set of a property string, as parse_property_string sees it.
  auto key_values = [](const api::TypedProperty& p,
                       const std::string& text) -> std::map<std::string, std::string> {
    std::map<std::string, std::string> unknown;
    auto parts = api::SplitPropertyString(p.format(), text, &unknown);
    if (!parts.ok()) return {{"<error>", std::string(parts.status().message())}};
    for (auto& [k, v] : *parts) {
      auto key = p.format().keys.find(k);
      if (key != p.format().keys.end() && key->second.format == "disk-size") {
        v = api::CanonicalDiskSize(v).value_or(v);
      }
    }
    parts->insert(unknown.begin(), unknown.end());
    return *parts;
  };
  std::function<void(const Message&, const std::string&)> walk = [&](const Message& m,
                                                                     const std::string& where) {
    const Descriptor* d = m.GetDescriptor();
    const Reflection* r = m.GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      const std::string at = absl::StrCat(where, ".", f->name());
      if (!api::Rules(f).typed_of().empty()) {
        const FieldDescriptor* raw = d->FindFieldByName(api::Rules(f).typed_of());
        ASSERT_NE(raw, nullptr) << at;
        auto [it, fresh] = bound.try_emplace(raw);
        if (fresh) {
          const Descriptor* tm =
              f->is_map() ? f->message_type()->map_value()->message_type() : f->message_type();
          auto b = api::TypedProperty::Bind(tm, api::Rules(raw).property_format());
          ASSERT_TRUE(b.ok()) << at << ": " << b.status();
          it->second = *b;
        }
        const api::TypedProperty& p = *it->second;
        std::vector<std::string> texts;
        std::string scratch;
        if (raw->is_map()) {
          for (int k = 0; k < r->FieldSize(m, raw); ++k) {
            const Message& e = r->GetRepeatedMessage(m, raw, k);
            texts.push_back(e.GetReflection()->GetString(e, e.GetDescriptor()->map_value()));
          }
          filled += r->FieldSize(m, f);
        } else if (raw->is_repeated()) {
          for (int k = 0; k < r->FieldSize(m, raw); ++k) {
            texts.push_back(r->GetRepeatedString(m, raw, k));
          }
          filled += r->FieldSize(m, f);
        } else if (r->HasField(m, raw)) {
          texts.push_back(r->GetString(m, raw));
          filled += r->HasField(m, f) ? 1 : 0;
        }
        if (!texts.empty()) messages.insert(p.message()->name());
        for (const std::string& text : texts) {
          ++values;
          std::unique_ptr<Message> typed(factory.GetPrototype(p.message())->New());
          absl::Status st = p.Parse(text, typed.get());
          if (!st.ok()) {
            errors.push_back(absl::StrCat(at, ": '", text, "': ", st.message()));
            continue;
          }
          absl::StatusOr<std::string> printed = p.Print(*typed);
          if (!printed.ok()) {
            errors.push_back(
                absl::StrCat(at, ": '", text, "' does not print: ", printed.status().message()));
          } else if (key_values(p, *printed) != key_values(p, text)) {
            errors.push_back(absl::StrCat(at, ": '", text, "' prints as '", *printed, "'"));
          }
        }
        continue;
      }
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
      if (absl::StartsWith(f->message_type()->full_name(), "google.protobuf.")) continue;
      if (f->is_map()) {
        const FieldDescriptor* v = f->message_type()->map_value();
        if (v->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
        for (int k = 0; k < r->FieldSize(m, f); ++k) {
          const Message& e = r->GetRepeatedMessage(m, f, k);
          walk(e.GetReflection()->GetMessage(e, v), at);
        }
      } else if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(m, f); ++k) walk(r->GetRepeatedMessage(m, f, k), at);
      } else if (r->HasField(m, f)) {
        walk(r->GetMessage(m, f), at);
      }
    }
  };
  for (const std::string& file : files_) {
    const Record rec = Load(file);
    if (rec.status != 200 || rec.template_path.empty()) continue;
    const api::ApiOperation* op = api_->Find(rec.verb, rec.template_path);
    ASSERT_NE(op, nullptr);
    std::unique_ptr<Message> out(factory.GetPrototype(op->method->output_type())->New());
    RestResponse response;
    response.body = json::serialize(rec.body);
    ASSERT_TRUE(transcoder.Decode(*op, response, out.get()).ok()) << rec.name;
    walk(*out, rec.name);
  }
  EXPECT_TRUE(errors.empty()) << absl::StrJoin(errors, "\n");
  EXPECT_GE(values, 10) << "the corpus holds VM and container configurations";
  EXPECT_EQ(filled, values) << "every property string of the corpus fills its companion";
  // Formats the schema only names, modelled by pve-protogen's built-in tables, that the
  // corpus holds in answers the schema describes: a VM's boot, cpu and smbios1.
  for (const char* named : {"QemuBoot", "QemuCpu", "QemuSmbios1"}) {
    EXPECT_EQ(messages.count(named), 1u) << named;
  }
  std::cout << "replay: " << values << " property strings, " << filled
            << " typed companions filled\n";
}

}  // namespace
}  // namespace pvegw::gateway
