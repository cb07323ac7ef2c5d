// pve-protogen --diff: what changes for a client between two schema versions, each change
// marked compatible, wire-compatible, JSON-compatible or breaking.
#include "codegen/api_diff.h"

#include <boost/json.hpp>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "codegen/json_reader.h"
#include "codegen/protogen.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/codegen/codegen_test_util.h"

namespace pvegw::codegen {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using testing::ReadFileOrDie;
using testing::SourcePath;
using testing::TempDir;
using testing::WriteFileOrDie;

json::object* Node(json::value& tree, const std::string& path) {
  for (auto& node : tree.as_array()) {
    json::object& obj = node.as_object();
    if (obj["path"] == json::value(path)) return &obj;
    if (auto* children = obj.if_contains("children")) {
      if (auto* found = Node(*children, path)) return found;
    }
  }
  return nullptr;
}

class ApiDiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string js = ReadFileOrDie(SourcePath("tests/codegen/fixtures/mini.apidoc.js"));
    absl::StatusOr<ParsedJson> parsed = ParseJsonStrict(js, js.find('['), "fixture", true);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    json::value old_tree = parsed->value;
    // The old version returns vmid as int32 (bounded).
    VmidOfList(old_tree) = json::parse(R"({"type": "integer", "minimum": 100, "maximum": 999})");
    json::value new_tree = old_tree;

    // The new version: vmid unbounded (int64), one RPC gone, one new, parameters added,
    // removed and retyped.
    VmidOfList(new_tree) = json::parse(R"({"type": "integer"})");
    Node(new_tree, "/nodes/{node}/qemu/{vmid}")->at("info").as_object().erase("DELETE");
    json::object& version_info = Node(new_tree, "/version")->at("info").as_object();
    json::value put = version_info.at("GET");
    put.as_object()["method"] = "PUT";
    version_info["PUT"] = put;
    json::object& create_props = Node(new_tree, "/nodes/{node}/qemu")
                                     ->at("info")
                                     .as_object()["POST"]
                                     .as_object()["parameters"]
                                     .as_object()["properties"]
                                     .as_object();
    create_props.erase("cores");
    create_props["sockets"] = json::parse(R"({"type": "integer", "optional": 1})");
    create_props["pool2"] = json::parse(R"({"type": "string"})");  // required
    create_props["tags"] = json::parse(R"({"type": "boolean", "optional": 1})");

    old_path_ = dir_.Sub("old.json");
    new_path_ = dir_.Sub("new.json");
    WriteFileOrDie(old_path_, json::serialize(old_tree));
    WriteFileOrDie(new_path_, json::serialize(new_tree));
  }

  static json::value& VmidOfList(json::value& tree) {
    return Node(tree, "/nodes/{node}/qemu")
        ->at("info")
        .as_object()["GET"]
        .as_object()["returns"]
        .as_object()["items"]
        .as_object()["properties"]
        .as_object()["vmid"];
  }

  static const ApiChange* Find(const ApiDiff& diff, ApiChange::Kind kind, const std::string& name) {
    for (const ApiChange& c : diff.changes) {
      if (c.kind == kind && (c.rpc == name || c.message + "." + c.field == name)) return &c;
    }
    return nullptr;
  }

  void ExpectFieldChanges(const ApiDiff& diff) {
    using Kind = ApiChange::Kind;
    const ApiChange* sockets = Find(diff, Kind::kFieldAdded, "PostNodesNodeQemuRequest.sockets");
    ASSERT_NE(sockets, nullptr) << DiffText(diff);
    EXPECT_EQ(sockets->Compatibility(), "compatible");
    const ApiChange* pool2 = Find(diff, Kind::kFieldAdded, "PostNodesNodeQemuRequest.pool2");
    ASSERT_NE(pool2, nullptr);
    EXPECT_EQ(pool2->Compatibility(), "breaking") << "a new required parameter";
    const ApiChange* cores = Find(diff, Kind::kFieldRemoved, "PostNodesNodeQemuRequest.cores");
    ASSERT_NE(cores, nullptr);
    EXPECT_EQ(cores->Compatibility(), "breaking");
    const ApiChange* tags = Find(diff, Kind::kTypeChanged, "PostNodesNodeQemuRequest.tags");
    ASSERT_NE(tags, nullptr);
    EXPECT_EQ(tags->old_type, "string");
    EXPECT_EQ(tags->new_type, "bool");
    EXPECT_NE(tags->old_number, tags->new_number) << "a retyped field gets a new number";
    EXPECT_EQ(tags->Compatibility(), "breaking");
    const ApiChange* vmid =
        Find(diff, Kind::kTypeChanged, "GetNodesNodeQemuResponse.DataItem.vmid");
    ASSERT_NE(vmid, nullptr);
    EXPECT_EQ(vmid->old_type, "int");
    EXPECT_EQ(vmid->new_type, "int64");
    EXPECT_EQ(vmid->old_number, vmid->new_number);
    EXPECT_EQ(vmid->Compatibility(), "wire-compatible") << "JSON: a number becomes a string";
  }

  TempDir dir_;
  std::string old_path_;
  std::string new_path_;
};

TEST_F(ApiDiffTest, SchemaToSchemaReportsRpcsFieldsAndTypeChanges) {
  absl::StatusOr<ApiDiff> diff = RunDiff(old_path_, new_path_, kDefaultPackage, "");
  ASSERT_TRUE(diff.ok()) << diff.status();
  using Kind = ApiChange::Kind;
  const ApiChange* put = Find(*diff, Kind::kRpcAdded, "PutVersion");
  ASSERT_NE(put, nullptr) << DiffText(*diff);
  EXPECT_EQ(put->rpc_info.service, "Version");
  EXPECT_EQ(put->rpc_info.path, "/version");
  EXPECT_EQ(put->Compatibility(), "compatible");
  const ApiChange* gone = Find(*diff, Kind::kRpcRemoved, "DeleteNodesNodeQemuVmid");
  ASSERT_NE(gone, nullptr);
  EXPECT_EQ(gone->Compatibility(), "breaking");
  EXPECT_EQ(diff->Count(Kind::kRpcAdded), 1);
  EXPECT_EQ(diff->Count(Kind::kRpcRemoved), 1);
  ExpectFieldChanges(*diff);
  EXPECT_EQ(diff->Count(Kind::kFieldAdded), 2) << "fields of new RPCs are not listed singly\n"
                                               << DiffText(*diff);
  EXPECT_EQ(diff->Count(Kind::kFieldRemoved), 1);
  EXPECT_EQ(diff->Count(Kind::kTypeChanged), 2);
  EXPECT_EQ(diff->Breaking(), 4);

  const std::string text = DiffText(*diff);
  EXPECT_THAT(text, HasSubstr("RPCs: 1 added, 1 removed; fields: 2 added, 1 removed, 2 retyped, "
                              "0 renamed; 4 breaking"));
  EXPECT_THAT(text, HasSubstr("+ rpc Version.PutVersion (PUT /version)  [compatible]"));
  EXPECT_THAT(text, HasSubstr("- rpc Nodes.DeleteNodesNodeQemuVmid (DELETE "
                              "/nodes/{node}/qemu/{vmid})  [breaking]"));
  EXPECT_THAT(
      text,
      HasSubstr(absl::StrCat(
          "~ field GetNodesNodeQemuResponse.DataItem.vmid: int32 = ",
          Find(*diff, Kind::kTypeChanged, "GetNodesNodeQemuResponse.DataItem.vmid")->old_number,
          " -> int64")));
  EXPECT_THAT(text, HasSubstr("[wire-compatible]"));
}

TEST_F(ApiDiffTest, JsonReportCarriesEveryChangeAndTheSummary) {
  absl::StatusOr<ApiDiff> diff = RunDiff(old_path_, new_path_, kDefaultPackage, "");
  ASSERT_TRUE(diff.ok()) << diff.status();
  const json::value report = json::parse(DiffJson(*diff));
  const json::object& summary = report.at("summary").as_object();
  EXPECT_EQ(summary.at("rpc_added").as_int64(), 1);
  EXPECT_EQ(summary.at("rpc_removed").as_int64(), 1);
  EXPECT_EQ(summary.at("type_changed").as_int64(), 2);
  EXPECT_EQ(summary.at("breaking").as_int64(), 4);
  const json::array& changes = report.at("changes").as_array();
  EXPECT_EQ(changes.size(), diff->changes.size());
  bool saw_vmid = false;
  for (const auto& c : changes) {
    const json::object& o = c.as_object();
    if (o.contains("field") && o.at("field") == json::value("vmid")) {
      saw_vmid = true;
      EXPECT_EQ(o.at("change"), json::value("type_changed"));
      EXPECT_EQ(o.at("old_type"), json::value("int32"));
      EXPECT_EQ(o.at("new_type"), json::value("int64"));
      EXPECT_EQ(o.at("wire_compatible"), json::value(true));
      EXPECT_EQ(o.at("json_compatible"), json::value(false));
      EXPECT_EQ(o.at("compatibility"), json::value("wire-compatible"));
    }
  }
  EXPECT_TRUE(saw_vmid);
}

TEST_F(ApiDiffTest, OldLockInsteadOfOldSchema) {
  ProtogenOptions options;
  options.schema_path = old_path_;
  options.out_dir = dir_.Sub("out");
  options.lock_path = dir_.Sub("api.lock.json");
  ASSERT_TRUE(RunProtogen(options).ok());
  absl::StatusOr<ApiDiff> diff = RunDiff(options.lock_path, new_path_, kDefaultPackage, "");
  ASSERT_TRUE(diff.ok()) << diff.status();
  ExpectFieldChanges(*diff);
  const ApiChange* put = Find(*diff, ApiChange::Kind::kRpcAdded, "PutVersion");
  ASSERT_NE(put, nullptr);
  EXPECT_EQ(put->rpc_info.service, "Version");
  EXPECT_NE(Find(*diff, ApiChange::Kind::kRpcRemoved, "DeleteNodesNodeQemuVmid"), nullptr);
  EXPECT_THAT(DiffText(*diff), HasSubstr("(lock)"));
}

TEST_F(ApiDiffTest, SameSchemaHasNoChanges) {
  absl::StatusOr<ApiDiff> diff = RunDiff(old_path_, old_path_, kDefaultPackage, "");
  ASSERT_TRUE(diff.ok()) << diff.status();
  EXPECT_TRUE(diff->changes.empty()) << DiffText(*diff);
}

TEST_F(ApiDiffTest, CommandLineExitsOneOnBreakingChangesAndSpeaksJson) {
  testing::CommandResult text = testing::Run(absl::StrCat(
      testing::ProtogenBinary(), " --schema=", new_path_, " --diff=", old_path_, " 2>&1"));
  EXPECT_EQ(text.exit_code, 1) << text.out;
  EXPECT_THAT(text.out, HasSubstr("4 breaking"));
  testing::CommandResult as_json =
      testing::Run(absl::StrCat(testing::ProtogenBinary(), " --schema=", new_path_,
                                " --diff=", old_path_, " --diff_format=json"));
  EXPECT_EQ(as_json.exit_code, 1);
  EXPECT_EQ(json::parse(as_json.out).at("summary").at("breaking").as_int64(), 4);
  testing::CommandResult same = testing::Run(absl::StrCat(
      testing::ProtogenBinary(), " --schema=", old_path_, " --diff=", old_path_, " 2>&1"));
  EXPECT_EQ(same.exit_code, 0) << same.out;
  testing::CommandResult bad =
      testing::Run(absl::StrCat(testing::ProtogenBinary(), " --schema=", new_path_,
                                " --diff=", old_path_, " --diff_format=yaml 2>&1"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.out, HasSubstr("--diff_format must be text or json"));
  testing::CommandResult missing = testing::Run(absl::StrCat(
      testing::ProtogenBinary(), " --schema=", new_path_, " --diff=", dir_.Sub("nope"), " 2>&1"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.out, HasSubstr("cannot read"));
}

}  // namespace
}  // namespace pvegw::codegen
