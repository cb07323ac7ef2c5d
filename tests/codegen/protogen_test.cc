// pve-protogen end to end on the fixture schema: goldens, determinism, lock stability,
// and what it does to the output directory.
#include "codegen/protogen.h"

#include <boost/json.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "codegen/json_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/codegen/codegen_test_util.h"

namespace pvegw::codegen {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using ::testing::HasSubstr;
using testing::ProtoCompiler;
using testing::ReadFileOrDie;
using testing::ReadTree;
using testing::SourcePath;
using testing::TempDir;
using testing::WriteFileOrDie;

constexpr char kApidoc[] = "tests/codegen/fixtures/mini.apidoc.js";
constexpr char kOpenApi[] = "tests/codegen/fixtures/mini.openapi.json";
constexpr char kGoldenDir[] = "tests/codegen/golden";

std::map<std::string, std::string> Generate(const std::string& text, FieldLock& lock) {
  absl::StatusOr<ProtogenResult> result = GenerateFromText(text, "fixture", kDefaultPackage, lock);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? result->files : std::map<std::string, std::string>{};
}

TEST(ProtogenTest, FixtureMatchesGoldenFiles) {
  FieldLock lock;
  const auto files = Generate(ReadFileOrDie(SourcePath(kApidoc)), lock);
  const auto golden = ReadTree(SourcePath(kGoldenDir));
  const std::string regen =
      absl::StrCat("regenerate the goldens with: build/bin/pve-protogen --schema=", kApidoc,
                   " --out=", kGoldenDir, "  (then review the diff)");
  ASSERT_EQ(files.size(), golden.size()) << regen;
  for (const auto& [rel, content] : files) {
    auto it = golden.find(rel);
    ASSERT_NE(it, golden.end()) << rel << " missing from goldens; " << regen;
    EXPECT_EQ(content, it->second) << rel << " differs from its golden; " << regen;
  }
}

TEST(ProtogenTest, BothRenderingsGiveByteIdenticalOutput) {
  FieldLock lock_a;
  FieldLock lock_b;
  const auto from_apidoc = Generate(ReadFileOrDie(SourcePath(kApidoc)), lock_a);
  const auto from_openapi = Generate(ReadFileOrDie(SourcePath(kOpenApi)), lock_b);
  ASSERT_FALSE(from_apidoc.empty());
  EXPECT_EQ(from_apidoc, from_openapi);
  EXPECT_EQ(lock_a.Serialize(), lock_b.Serialize());
}

TEST(ProtogenTest, BareJsonArrayAndVarAssignmentAreApidocToo) {
  const std::string js = ReadFileOrDie(SourcePath(kApidoc));
  absl::StatusOr<ParsedJson> tree = ParseJsonStrict(js, js.find('['), "fixture", true);
  ASSERT_TRUE(tree.ok()) << tree.status();
  FieldLock l1, l2, l3;
  const auto reference = Generate(js, l1);
  EXPECT_EQ(Generate(json::serialize(tree->value), l2), reference);
  EXPECT_EQ(Generate(absl::StrReplaceAll(js, {{"const apiSchema", "var apiSchema"}}), l3),
            reference);
}

TEST(ProtogenTest, RerunIsByteIdentical) {
  const std::string text = ReadFileOrDie(SourcePath(kApidoc));
  FieldLock lock;
  const auto first = Generate(text, lock);
  const std::string lock_text = lock.Serialize();
  const auto second = Generate(text, lock);  // same lock, now populated
  EXPECT_EQ(first, second);
  EXPECT_EQ(lock.Serialize(), lock_text);
}

// --- Lock stability ----------------------------------------------------------------------

json::object* FindMethod(json::value& tree, const std::string& path, const std::string& verb) {
  for (auto& node : tree.as_array()) {
    json::object& obj = node.as_object();
    if (obj["path"] == json::value(path)) {
      if (auto* info = obj.if_contains("info"); info != nullptr) {
        if (auto* m = info->as_object().if_contains(verb)) return &m->as_object();
      }
      return nullptr;
    }
    if (auto* children = obj.if_contains("children")) {
      if (auto* found = FindMethod(*children, path, verb)) return found;
    }
  }
  return nullptr;
}

class LockStabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string js = ReadFileOrDie(SourcePath(kApidoc));
    absl::StatusOr<ParsedJson> parsed = ParseJsonStrict(js, js.find('['), "fixture", true);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    tree_ = parsed->value;
  }

  // Compiles generated files and returns the pool owner.
  std::unique_ptr<ProtoCompiler> Compile(const std::map<std::string, std::string>& files,
                                         const TempDir& dir) {
    for (const auto& [rel, content] : files) WriteFileOrDie(dir.Sub(rel), content);
    auto compiler = std::make_unique<ProtoCompiler>(dir.path());
    for (const auto& [rel, content] : files) {
      EXPECT_NE(compiler->Compile(rel), nullptr) << ::testing::PrintToString(compiler->errors());
    }
    return compiler;
  }

  json::value tree_;
};

TEST_F(LockStabilityTest, SurvivorsKeepNumbersRemovedAreReservedNewAreAboveOldMax) {
  FieldLock lock;
  TempDir before_dir;
  auto before = Compile(Generate(json::serialize(tree_), lock), before_dir);
  const auto* old_req =
      before->pool()->FindMessageTypeByName("proxmox.ve.v1.PostNodesNodeQemuRequest");
  ASSERT_NE(old_req, nullptr);
  int old_max = 0;
  for (int i = 0; i < old_req->field_count(); ++i)
    old_max = std::max(old_max, old_req->field(i)->number());
  const int cores_number = old_req->FindFieldByName("cores")->number();

  // Schema change: drop a parameter and an operation, add a parameter, retype another.
  json::object* create = FindMethod(tree_, "/nodes/{node}/qemu", "POST");
  ASSERT_NE(create, nullptr);
  json::object& props = create->at("parameters").as_object()["properties"].as_object();
  props.erase("cores");
  props["sockets"] = json::parse(R"({"type": "integer", "optional": 1, "minimum": 1})");
  props["tags"] = json::parse(R"({"type": "boolean", "optional": 1})");  // was a string
  ASSERT_NE(FindMethod(tree_, "/nodes/{node}/qemu/{vmid}", "DELETE"), nullptr);
  std::function<void(json::value&)> drop = [&](json::value& nodes) {
    for (auto& node : nodes.as_array()) {
      json::object& obj = node.as_object();
      if (obj["path"] == json::value("/nodes/{node}/qemu/{vmid}"))
        obj["info"].as_object().erase("DELETE");
      if (auto* c = obj.if_contains("children")) drop(*c);
    }
  };
  drop(tree_);

  absl::StatusOr<ProtogenResult> changed =
      GenerateFromText(json::serialize(tree_), "fixture", kDefaultPackage, lock);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(changed->lock_changes.any());
  EXPECT_EQ(changed->lock_changes.added, 2) << "sockets, and tags under its new type";
  EXPECT_EQ(changed->lock_changes.reserved, 2) << "cores removed, tags retyped";
  TempDir after_dir;
  auto after = Compile(changed->files, after_dir);
  const auto* new_req =
      after->pool()->FindMessageTypeByName("proxmox.ve.v1.PostNodesNodeQemuRequest");
  ASSERT_NE(new_req, nullptr);

  for (int i = 0; i < old_req->field_count(); ++i) {
    const auto* old_field = old_req->field(i);
    const auto* now = new_req->FindFieldByName(old_field->name());
    if (old_field->name() == "cores" || old_field->name() == "tags") continue;
    ASSERT_NE(now, nullptr) << old_field->name();
    EXPECT_EQ(now->number(), old_field->number()) << old_field->name() << " moved";
  }
  EXPECT_EQ(new_req->FindFieldByName("cores"), nullptr);
  EXPECT_TRUE(new_req->IsReservedNumber(cores_number));
  EXPECT_TRUE(new_req->IsReservedName("cores"));
  EXPECT_GT(new_req->FindFieldByName("sockets")->number(), old_max);
  const auto* tags = new_req->FindFieldByName("tags");
  EXPECT_GT(tags->number(), old_max) << "a retyped field never reuses its old number";
  EXPECT_TRUE(new_req->IsReservedNumber(old_req->FindFieldByName("tags")->number()));
  EXPECT_EQ(after->pool()->FindMethodByName("proxmox.ve.v1.Nodes.DeleteNodesNodeQemuVmid"),
            nullptr);

  // Removing and re-adding a parameter gives it its old number back; nothing else moves.
  props["cores"] =
      json::parse(R"json({"type": "integer", "optional": 1, "minimum": "1", "default": 1,
                                   "description": "The number of cores per socket.",
                                   "typetext": "<integer> (1 - N)"})json");
  absl::StatusOr<ProtogenResult> revived =
      GenerateFromText(json::serialize(tree_), "fixture", kDefaultPackage, lock);
  ASSERT_TRUE(revived.ok()) << revived.status();
  EXPECT_EQ(revived->lock_changes.revived, 1);
  EXPECT_THAT(revived->files.at("proxmox/ve/v1/nodes.proto"),
              HasSubstr(absl::StrCat("optional int64 cores = ", cores_number, " ")));
}

// proto3 JSON writes int64 as a string and int32 as a number: a field published as int64
// stays int64 when a later schema gives it int32 bounds (PVE 9's `vrf_vxlan`, `tag`), while
// int32 -> int64 widens in place. Both keep the field number.
TEST_F(LockStabilityTest, Int64NeverNarrowsOnceWideningIsRecorded) {
  json::object* create = FindMethod(tree_, "/nodes/{node}/qemu", "POST");
  ASSERT_NE(create, nullptr);
  json::object& props = create->at("parameters").as_object()["properties"].as_object();
  const json::value unbounded = json::parse(R"({"type": "integer", "optional": 1})");
  const json::value bounded =
      json::parse(R"({"type": "integer", "optional": 1, "minimum": 1, "maximum": 4094})");
  props["vrf_vxlan"] = unbounded;  // published as int64
  props["tag"] = bounded;          // published as int32
  auto generate = [&](FieldLock& lock) {
    absl::StatusOr<ProtogenResult> r =
        GenerateFromText(json::serialize(tree_), "fixture", kDefaultPackage, lock);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : ProtogenResult{};
  };
  auto declaration = [](const ProtogenResult& r, const std::string& field) {
    const std::string& nodes = r.files.at("proxmox/ve/v1/nodes.proto");
    const std::size_t at =
        nodes.find(" " + field + " = ", nodes.find("message PostNodesNodeQemuRequest"));
    if (at == std::string::npos) return std::string();
    const std::size_t line = nodes.rfind('\n', at) + 1;
    return nodes.substr(line, std::min(nodes.find(" [", at), nodes.find(';', at)) - line);
  };
  FieldLock lock;
  const ProtogenResult v1 = generate(lock);
  const std::string wide = declaration(v1, "vrf_vxlan");
  const std::string narrow = declaration(v1, "tag");
  EXPECT_THAT(wide, HasSubstr("optional int64 vrf_vxlan = "));
  EXPECT_THAT(narrow, HasSubstr("optional int32 tag = "));
  const std::string wide_number = wide.substr(wide.rfind(' ') + 1);
  const std::string narrow_number = narrow.substr(narrow.rfind(' ') + 1);
  EXPECT_THAT(lock.Serialize(), HasSubstr(absl::StrCat("\"vrf_vxlan\": [", wide_number,
                                                       ", \"int64\", \"vrf_vxlan\"]")));

  // The next schema swaps the bounds: vrf_vxlan must not narrow, tag widens.
  props["vrf_vxlan"] = bounded;
  props["tag"] = unbounded;
  const ProtogenResult v2 = generate(lock);
  EXPECT_EQ(declaration(v2, "vrf_vxlan"),
            absl::StrCat("  optional int64 vrf_vxlan = ", wide_number));
  EXPECT_EQ(declaration(v2, "tag"), absl::StrCat("  optional int64 tag = ", narrow_number));
  EXPECT_EQ(v2.lock_changes.widened, 1);
  EXPECT_EQ(v2.lock_changes.added + v2.lock_changes.reserved, 0);

  // And once widened, tag stays int64 too.
  props["tag"] = bounded;
  const ProtogenResult v3 = generate(lock);
  EXPECT_EQ(declaration(v3, "tag"), absl::StrCat("  optional int64 tag = ", narrow_number));
  EXPECT_FALSE(v3.lock_changes.any());
  // Without the lock the schema's own width applies.
  FieldLock fresh;
  EXPECT_THAT(declaration(generate(fresh), "tag"), HasSubstr("optional int32 tag = "));
}

TEST_F(LockStabilityTest, CheckDetectsDriftAndWritesNothing) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("schema.json"), json::serialize(tree_));
  ProtogenOptions options;
  options.schema_path = dir.Sub("schema.json");
  options.out_dir = dir.Sub("out");
  options.lock_path = dir.Sub("api.lock.json");
  absl::StatusOr<ProtogenResult> first = RunProtogen(options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->lock_changed) << "fresh lock";
  const std::string lock_text = ReadFileOrDie(options.lock_path);

  options.check_only = true;
  absl::StatusOr<ProtogenResult> clean = RunProtogen(options);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_FALSE(clean->lock_changed);

  json::object* start = FindMethod(tree_, "/nodes/{node}/qemu/{vmid}/status/start", "POST");
  ASSERT_NE(start, nullptr);
  start->at("parameters").as_object()["properties"].as_object()["skiplock"] =
      json::parse(R"({"type": "boolean", "optional": 1})");
  WriteFileOrDie(options.schema_path, json::serialize(tree_));
  const auto out_before = ReadTree(options.out_dir);
  absl::StatusOr<ProtogenResult> drift = RunProtogen(options);
  ASSERT_TRUE(drift.ok()) << drift.status();
  EXPECT_TRUE(drift->lock_changed);
  EXPECT_EQ(drift->lock_changes.added, 1);
  EXPECT_EQ(ReadFileOrDie(options.lock_path), lock_text) << "--check must not write the lock";
  EXPECT_EQ(ReadTree(options.out_dir), out_before) << "--check must not write protos";
}

// --- Output directory --------------------------------------------------------------------

// --- Property-string messages: names and numbers across schema versions -------------------

class PropertyStringLockTest : public LockStabilityTest {
 protected:
  json::object& CreateNetFormat() {
    json::object* create = FindMethod(tree_, "/nodes/{node}/qemu", "POST");
    return create->at("parameters")
        .as_object()["properties"]
        .as_object()["net[n]"]
        .as_object()["format"]
        .as_object();
  }
  json::object& ConfigNetFormat() {
    json::object* config = FindMethod(tree_, "/nodes/{node}/qemu/{vmid}/config", "GET");
    return config->at("returns")
        .as_object()["properties"]
        .as_object()["net[n]"]
        .as_object()["format"]
        .as_object();
  }
  // Message name -> field name -> number, for every message of the generated package.
  static std::map<std::string, std::map<std::string, int>> Numbers(const ProtoCompiler& c) {
    std::map<std::string, std::map<std::string, int>> out;
    std::function<void(const google::protobuf::Descriptor*)> add =
        [&](const google::protobuf::Descriptor* d) {
          for (int i = 0; i < d->field_count(); ++i) {
            out[d->full_name()][d->field(i)->name()] = d->field(i)->number();
          }
          for (int i = 0; i < d->nested_type_count(); ++i) add(d->nested_type(i));
        };
    for (const char* file : {"proxmox/ve/v1/nodes.proto", "proxmox/ve/v1/property_strings.proto"}) {
      const google::protobuf::FileDescriptor* f = c.pool()->FindFileByName(file);
      if (f == nullptr) continue;
      for (int i = 0; i < f->message_type_count(); ++i) add(f->message_type(i));
    }
    return out;
  }
  // Every message and field of `before` is still there with the same number.
  static void ExpectKept(const std::map<std::string, std::map<std::string, int>>& before,
                         const std::map<std::string, std::map<std::string, int>>& after,
                         const std::set<std::string>& dropped_fields = {}) {
    for (const auto& [msg, fields] : before) {
      auto it = after.find(msg);
      ASSERT_NE(it, after.end()) << msg << " disappeared";
      for (const auto& [name, number] : fields) {
        if (dropped_fields.count(msg + "." + name) != 0) continue;
        auto f = it->second.find(name);
        ASSERT_NE(f, it->second.end()) << msg << "." << name << " disappeared";
        EXPECT_EQ(f->second, number) << msg << "." << name << " changed its number";
      }
    }
  }
};

TEST_F(PropertyStringLockTest, OneMessagePerFormatWithCompanionsBesideTheRawFields) {
  FieldLock lock;
  TempDir dir;
  auto compiled = Compile(Generate(json::serialize(tree_), lock), dir);
  const auto* net = compiled->pool()->FindMessageTypeByName("proxmox.ve.v1.QemuNet");
  ASSERT_NE(net, nullptr);
  EXPECT_NE(net->FindFieldByName("model"), nullptr);
  EXPECT_NE(net->FindFieldByName("bridge"), nullptr);
  const auto* other = net->FindFieldByName("additional_properties");
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->is_map());
  // The request and the answer share one message: the format is the same.
  const auto* req =
      compiled->pool()->FindMessageTypeByName("proxmox.ve.v1.PostNodesNodeQemuRequest");
  ASSERT_NE(req, nullptr);
  const auto* companion = req->FindFieldByName("net_typed");
  ASSERT_NE(companion, nullptr);
  ASSERT_TRUE(companion->is_map());
  EXPECT_EQ(companion->message_type()->map_value()->message_type(), net);
  ASSERT_NE(req->FindFieldByName("net"), nullptr);
  const auto* data = compiled->pool()->FindMessageTypeByName(
      "proxmox.ve.v1.GetNodesNodeQemuVmidConfigResponse.Data");
  ASSERT_NE(data, nullptr);
  ASSERT_NE(data->FindFieldByName("net_typed"), nullptr);
  EXPECT_EQ(data->FindFieldByName("net_typed")->message_type()->map_value()->message_type(), net);
  // The lock records where each format is used.
  const auto& locked = lock.messages().at("proxmox.ve.v1.QemuNet");
  EXPECT_THAT(locked.uses,
              ::testing::ElementsAre("GET /nodes/{node}/qemu/{vmid}/config returns.net[n]",
                                     "POST /nodes/{node}/qemu net[n]"));
}

TEST_F(PropertyStringLockTest, AddedKeyIsAnAddedFieldAndDroppedKeyIsReserved) {
  FieldLock lock;
  TempDir before_dir;
  auto before = Compile(Generate(json::serialize(tree_), lock), before_dir);
  const auto old_numbers = Numbers(*before);

  // A newer Proxmox adds `firewall` and drops `bridge` everywhere the format is used.
  for (json::object* format : {&CreateNetFormat(), &ConfigNetFormat()}) {
    (*format)["firewall"] = json::parse(R"({"type": "boolean", "optional": 1})");
    format->erase("bridge");
  }
  TempDir after_dir;
  auto after = Compile(Generate(json::serialize(tree_), lock), after_dir);
  const auto new_numbers = Numbers(*after);
  ExpectKept(old_numbers, new_numbers, {"proxmox.ve.v1.QemuNet.bridge"});
  const auto& net = new_numbers.at("proxmox.ve.v1.QemuNet");
  ASSERT_EQ(net.count("firewall"), 1u);
  for (const auto& [name, number] : old_numbers.at("proxmox.ve.v1.QemuNet")) {
    EXPECT_GT(net.at("firewall"), number) << "a new key gets a number above every old one";
  }
  EXPECT_EQ(net.count("bridge"), 0u);
  const auto* msg = after->pool()->FindMessageTypeByName("proxmox.ve.v1.QemuNet");
  ASSERT_NE(msg, nullptr);
  EXPECT_TRUE(msg->IsReservedName("bridge"));
  EXPECT_TRUE(msg->IsReservedNumber(old_numbers.at("proxmox.ve.v1.QemuNet").at("bridge")));
}

TEST_F(PropertyStringLockTest, FormatUsedInANewPlaceKeepsEveryNameAndNumber) {
  FieldLock lock;
  TempDir before_dir;
  auto before = Compile(Generate(json::serialize(tree_), lock), before_dir);
  const auto old_numbers = Numbers(*before);

  // The net format is now also a parameter of a call that had none, and a new format
  // appears elsewhere.
  json::object* start = FindMethod(tree_, "/nodes/{node}/qemu/{vmid}/status/start", "POST");
  ASSERT_NE(start, nullptr);
  json::object net_param;
  net_param["type"] = "string";
  net_param["optional"] = 1;
  net_param["format"] = CreateNetFormat();
  json::object& start_props = start->at("parameters").as_object()["properties"].as_object();
  start_props["net[n]"] = net_param;
  start_props["spice"] =
      json::parse(R"({"type": "string", "optional": 1, "format": {"port": {"type": "integer"}}})");
  TempDir after_dir;
  auto after = Compile(Generate(json::serialize(tree_), lock), after_dir);
  const auto new_numbers = Numbers(*after);
  ExpectKept(old_numbers, new_numbers);
  const auto* req =
      after->pool()->FindMessageTypeByName("proxmox.ve.v1.PostNodesNodeQemuVmidStatusStartRequest");
  ASSERT_NE(req, nullptr);
  ASSERT_NE(req->FindFieldByName("net_typed"), nullptr);
  EXPECT_EQ(req->FindFieldByName("net_typed")->message_type()->map_value()->message_type()->name(),
            "QemuNet");
  ASSERT_NE(req->FindFieldByName("spice_typed"), nullptr);
  EXPECT_EQ(req->FindFieldByName("spice_typed")->message_type()->name(), "QemuSpice");
}

TEST_F(PropertyStringLockTest, AKeyAddedInOnePlaceOnlySplitsTheFormatWithoutRenamingIt) {
  FieldLock lock;
  TempDir before_dir;
  auto before = Compile(Generate(json::serialize(tree_), lock), before_dir);
  const auto old_numbers = Numbers(*before);
  CreateNetFormat()["queues"] = json::parse(R"({"type": "integer", "optional": 1})");
  TempDir after_dir;
  auto after = Compile(Generate(json::serialize(tree_), lock), after_dir);
  const auto new_numbers = Numbers(*after);
  // The companion whose message type changed gets a new number (a retyped field always
  // does); everything else stays.
  const std::string req_name = "proxmox.ve.v1.PostNodesNodeQemuRequest";
  const std::string data_name = "proxmox.ve.v1.GetNodesNodeQemuVmidConfigResponse.Data";
  ExpectKept(old_numbers, new_numbers, {req_name + ".net_typed", data_name + ".net_typed"});
  // One of the two places keeps QemuNet; the other gets a new message with its own name.
  const auto* req = after->pool()->FindMessageTypeByName("proxmox.ve.v1.PostNodesNodeQemuRequest");
  const auto* data =
      after->pool()->FindMessageTypeByName("proxmox.ve.v1.GetNodesNodeQemuVmidConfigResponse.Data");
  ASSERT_NE(req, nullptr);
  ASSERT_NE(data, nullptr);
  const std::string req_type =
      req->FindFieldByName("net_typed")->message_type()->map_value()->message_type()->name();
  const std::string data_type =
      data->FindFieldByName("net_typed")->message_type()->map_value()->message_type()->name();
  EXPECT_NE(req_type, data_type);
  EXPECT_TRUE(req_type == "QemuNet" || data_type == "QemuNet") << req_type << " " << data_type;
  const std::string& kept = req_type == "QemuNet" ? req_name : data_name;
  EXPECT_EQ(new_numbers.at(kept).at("net_typed"), old_numbers.at(kept).at("net_typed"));
}

TEST(ProtogenOutputTest, UnchangedFilesKeepTheirTimestampsAndStaleFilesGo) {
  TempDir dir;
  ProtogenOptions options;
  options.schema_path = SourcePath(kApidoc);
  options.out_dir = dir.Sub("out");
  absl::StatusOr<ProtogenResult> first = RunProtogen(options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->files_written, 6);
  const std::string nodes = dir.Sub("out/proxmox/ve/v1/nodes.proto");
  const auto stamp = fs::last_write_time(nodes) - std::chrono::hours(1);
  fs::last_write_time(nodes, stamp);
  WriteFileOrDie(dir.Sub("out/proxmox/ve/v1/removed_service.proto"), "syntax = \"proto3\";\n");

  absl::StatusOr<ProtogenResult> second = RunProtogen(options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->files_written, 0);
  EXPECT_EQ(second->files_removed, 1);
  EXPECT_EQ(fs::last_write_time(nodes), stamp) << "an unchanged file was rewritten";
  EXPECT_FALSE(fs::exists(dir.Sub("out/proxmox/ve/v1/removed_service.proto")));
}

// pve-protogen options for the schema fixture of another Proxmox product, written to
// dir/out in that product's package.
ProtogenOptions OtherProduct(const TempDir& dir, const std::string& fixture,
                             const std::string& package) {
  ProtogenOptions options;
  options.schema_path = SourcePath("tests/codegen/fixtures/" + fixture);
  options.out_dir = dir.Sub("out");
  options.package = package;
  return options;
}

TEST(ProtogenOutputTest, OtherPackagesGoToTheirOwnDirectory) {
  TempDir dir;
  const ProtogenOptions options = OtherProduct(dir, "mini_pbs.apidoc.js", "proxmox.pbs.v1");
  absl::StatusOr<ProtogenResult> result = RunProtogen(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->source_format, "apidoc");
  const auto files = ReadTree(options.out_dir);
  ASSERT_TRUE(files.count("proxmox/pbs/v1/admin.proto")) << ::testing::PrintToString(files);
  EXPECT_THAT(files.at("proxmox/pbs/v1/admin.proto"), HasSubstr("package proxmox.pbs.v1;"));
  ProtoCompiler compiler(options.out_dir);
  for (const auto& [rel, content] : files) {
    EXPECT_NE(compiler.Compile(rel), nullptr) << ::testing::PrintToString(compiler.errors());
  }
  EXPECT_NE(
      compiler.pool()->FindMethodByName("proxmox.pbs.v1.Admin.GetAdminDatastoreStoreSnapshots"),
      nullptr);
  EXPECT_NE(compiler.pool()->FindMethodByName("proxmox.pbs.v1.Ping.GetPing"), nullptr);
}

// Backup Server's shapes: `GET /` is Root.GetRoot, a path parameter as first segment names
// its service without braces, and the protocol switches are skipped with a warning naming
// each. protoc itself compiles the result into a descriptor set.
TEST(ProtogenOutputTest, BackupServerShapesConvertAndCompileWithProtoc) {
  TempDir dir;
  const ProtogenOptions options = OtherProduct(dir, "mini_pbs.apidoc.js", "proxmox.pbs.v1");
  absl::StatusOr<ProtogenResult> result = RunProtogen(options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<std::string> warnings;
  for (const auto& [kind, entry] : result->warnings.entries()) warnings.push_back(kind);
  EXPECT_THAT(warnings,
              ::testing::UnorderedElementsAre(
                  HasSubstr("skipped GET /backup/_upgrade_: it switches the connection"),
                  HasSubstr("skipped GET /reader/_upgrade_: it switches the connection"),
                  HasSubstr("path placeholder without a parameter definition"),
                  HasSubstr("raw-data operation (method DOWNLOAD or UPLOAD"),
                  HasSubstr("list-valued property-string format kept as a plain string")));
  // One warning names every operation with an undeclared placeholder, each once.
  const Warnings::Entry& undeclared = result->warnings.entries().at(
      "path placeholder without a parameter definition became a string path parameter");
  EXPECT_THAT(undeclared.places, ::testing::ElementsAre("GET /admin/datastore/{store}",
                                                        "GET /config/remote/{name}/scan/{store}"));
  EXPECT_EQ(result->rpcs, 8);
  const auto files = ReadTree(options.out_dir);
  ASSERT_TRUE(files.count("proxmox/pbs/v1/root.proto")) << ::testing::PrintToString(files);
  EXPECT_THAT(files.at("proxmox/pbs/v1/root.proto"), HasSubstr("rpc GetRoot(GetRootRequest)"));
  EXPECT_THAT(files.at("proxmox/pbs/v1/root.proto"), HasSubstr("get: \"/\""));
  ASSERT_TRUE(files.count("proxmox/pbs/v1/store.proto"));
  EXPECT_THAT(files.at("proxmox/pbs/v1/store.proto"), HasSubstr("service Store {"));
  EXPECT_THAT(files.at("proxmox/pbs/v1/store.proto"),
              HasSubstr("rpc GetStoreStatus(GetStoreStatusRequest)"));
  for (const auto& [rel, content] : files) {
    EXPECT_THAT(content, ::testing::Not(HasSubstr("_upgrade_"))) << rel;
    EXPECT_THAT(content, ::testing::Not(HasSubstr("download"))) << rel;
  }
  // Undeclared placeholders are required string path parameters, routed like declared ones.
  ASSERT_TRUE(files.count("proxmox/pbs/v1/config.proto"));
  const std::string& config = files.at("proxmox/pbs/v1/config.proto");
  EXPECT_THAT(config, HasSubstr("get: \"/config/remote/{name}/scan/{store}\""));
  EXPECT_THAT(config, HasSubstr("optional string store = 2 [(proxmox.gateway.v1.field) = "
                                "{required: true path_param: true}]"));
  EXPECT_THAT(files.at("proxmox/pbs/v1/admin.proto"),
              HasSubstr("rpc GetAdminDatastoreStore(GetAdminDatastoreStoreRequest)"));
  // Backup Server prints regexes between slashes and property-string formats as whole
  // object schemas; both arrive in PVE's spelling.
  EXPECT_THAT(config, HasSubstr("pattern: \"^(?:[A-Za-z0-9_][A-Za-z0-9._\\\\-]*)$\""));
  EXPECT_THAT(config, HasSubstr("property_format: \"{\\\"burst-in\\\":"));
  EXPECT_THAT(config, HasSubstr("\\\"rate-in\\\":{\\\"default_key\\\":1"));

  std::string protos;
  for (const auto& [rel, content] : files) absl::StrAppend(&protos, " ", rel);
  std::string includes = absl::StrCat(" -I", options.out_dir);
  for (absl::string_view root : absl::StrSplit(PVEGW_IMPORT_ROOTS, ':')) {
    absl::StrAppend(&includes, " -I", root);
  }
  const testing::CommandResult protoc = testing::Run(absl::StrCat(
      "cd ", options.out_dir, " && ", PVEGW_PROTOC, includes,
      " --include_imports --descriptor_set_out=", dir.Sub("pbs.desc"), protos, " 2>&1"));
  EXPECT_EQ(protoc.exit_code, 0) << protoc.out;
  EXPECT_TRUE(fs::exists(dir.Sub("pbs.desc")));
}

// Mail Gateway's older documentation builds assign the tree to `var pmgapi`; its
// undeclared {queue} becomes a path parameter beside the declared {node}.
TEST(ProtogenOutputTest, MailGatewayShapesConvert) {
  TempDir dir;
  const ProtogenOptions options = OtherProduct(dir, "mini_pmg.apidoc.js", "proxmox.pmg.v1");
  absl::StatusOr<ProtogenResult> result = RunProtogen(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rpcs, 1);
  const auto files = ReadTree(options.out_dir);
  ASSERT_TRUE(files.count("proxmox/pmg/v1/nodes.proto")) << ::testing::PrintToString(files);
  EXPECT_THAT(files.at("proxmox/pmg/v1/nodes.proto"),
              HasSubstr("get: \"/nodes/{node}/queue/{queue}\""));
  ProtoCompiler compiler(options.out_dir);
  EXPECT_NE(compiler.Compile("proxmox/pmg/v1/nodes.proto"), nullptr)
      << ::testing::PrintToString(compiler.errors());
}

}  // namespace
}  // namespace pvegw::codegen
