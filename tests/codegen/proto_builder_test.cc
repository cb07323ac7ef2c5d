// Mapping rules (DESIGN.md §3), checked on the compiled output of the fixture schema: what
// a client or the gateway sees through descriptors, not the text.
#include "codegen/proto_builder.h"

#include <google/api/annotations.pb.h>

#include <functional>
#include <string>

#include "absl/strings/match.h"
#include "codegen/protogen.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxmox/gateway/v1/options.pb.h"
#include "tests/codegen/codegen_test_util.h"

namespace pvegw::codegen {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::MethodDescriptor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProtoCompiler;
using testing::ReadFileOrDie;
using testing::SourcePath;
using testing::TempDir;
using testing::WriteFileOrDie;

class FixtureApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    FieldLock lock;
    absl::StatusOr<ProtogenResult> result =
        GenerateFromText(ReadFileOrDie(SourcePath("tests/codegen/fixtures/mini.apidoc.js")),
                         "mini.apidoc.js", kDefaultPackage, lock);
    ASSERT_TRUE(result.ok()) << result.status();
    result_ = new ProtogenResult(*result);
    for (const auto& [rel, content] : result->files) WriteFileOrDie(dir_->Sub(rel), content);
    compiler_ = new ProtoCompiler(dir_->path());
    for (const auto& [rel, content] : result->files) {
      ASSERT_NE(compiler_->Compile(rel), nullptr) << rel << ":\n"
                                                  << ::testing::PrintToString(compiler_->errors());
    }
  }
  static void TearDownTestSuite() {
    delete compiler_;
    delete result_;
    delete dir_;
  }

  static const Descriptor* Message(const std::string& name) {
    const Descriptor* d = compiler_->pool()->FindMessageTypeByName("proxmox.ve.v1." + name);
    EXPECT_NE(d, nullptr) << name;
    return d;
  }
  static const FieldDescriptor* Field(const std::string& message, const std::string& field) {
    const Descriptor* d = Message(message);
    if (d == nullptr) return nullptr;
    const FieldDescriptor* f = d->FindFieldByName(field);
    EXPECT_NE(f, nullptr) << message << "." << field;
    return f;
  }
  static const MethodDescriptor* Method(const std::string& full_name) {
    const MethodDescriptor* m = compiler_->pool()->FindMethodByName("proxmox.ve.v1." + full_name);
    EXPECT_NE(m, nullptr) << full_name;
    return m;
  }
  static const proxmox::gateway::v1::FieldRules& Rules(const FieldDescriptor* f) {
    return f->options().GetExtension(proxmox::gateway::v1::field);
  }
  static const proxmox::gateway::v1::MethodRules& Rules(const MethodDescriptor* m) {
    return m->options().GetExtension(proxmox::gateway::v1::method);
  }

  static TempDir* dir_;
  static ProtogenResult* result_;
  static ProtoCompiler* compiler_;
};
TempDir* FixtureApiTest::dir_ = nullptr;
ProtogenResult* FixtureApiTest::result_ = nullptr;
ProtoCompiler* FixtureApiTest::compiler_ = nullptr;

TEST_F(FixtureApiTest, OneServicePerTopLevelSegment) {
  EXPECT_THAT(result_->files, ::testing::UnorderedElementsAre(
                                  ::testing::Key("proxmox/ve/v1/access.proto"),
                                  ::testing::Key("proxmox/ve/v1/cluster.proto"),
                                  ::testing::Key("proxmox/ve/v1/nodes.proto"),
                                  ::testing::Key("proxmox/ve/v1/pools.proto"),
                                  ::testing::Key("proxmox/ve/v1/property_strings.proto"),
                                  ::testing::Key("proxmox/ve/v1/version.proto")));
  for (const char* name : {"Access", "Cluster", "Nodes", "Pools", "Version"}) {
    EXPECT_NE(compiler_->pool()->FindServiceByName(std::string("proxmox.ve.v1.") + name), nullptr)
        << name;
  }
  EXPECT_EQ(result_->rpcs, 18);
}

TEST_F(FixtureApiTest, RpcNamesAndMessagesFollowOperationIds) {
  const MethodDescriptor* m = Method("Nodes.PostNodesNodeQemuVmidStatusStart");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->input_type()->name(), "PostNodesNodeQemuVmidStatusStartRequest");
  EXPECT_EQ(m->output_type()->name(), "PostNodesNodeQemuVmidStatusStartResponse");
  EXPECT_NE(Method("Cluster.PostClusterBulkActionGuestStart"), nullptr);
  EXPECT_NE(Method("Nodes.GetNodesNodeQemu"), nullptr);
}

TEST_F(FixtureApiTest, HttpAnnotationsUseProxmoxPathsAndBodies) {
  const google::api::HttpRule& get =
      Method("Nodes.GetNodesNodeQemu")->options().GetExtension(google::api::http);
  EXPECT_EQ(get.get(), "/nodes/{node}/qemu");
  EXPECT_EQ(get.body(), "");
  const google::api::HttpRule& post =
      Method("Nodes.PostNodesNodeQemu")->options().GetExtension(google::api::http);
  EXPECT_EQ(post.post(), "/nodes/{node}/qemu");
  EXPECT_EQ(post.body(), "*");
  const google::api::HttpRule& put =
      Method("Nodes.PutNodesNodeQemuVmidConfig")->options().GetExtension(google::api::http);
  EXPECT_EQ(put.put(), "/nodes/{node}/qemu/{vmid}/config");
  EXPECT_EQ(put.body(), "*");
  const google::api::HttpRule& del =
      Method("Nodes.DeleteNodesNodeQemuVmid")->options().GetExtension(google::api::http);
  EXPECT_EQ(del.delete_(), "/nodes/{node}/qemu/{vmid}");
  EXPECT_EQ(del.body(), "");
}

TEST_F(FixtureApiTest, EveryRequestFieldHasExplicitPresence) {
  const Descriptor* req = Message("PostNodesNodeQemuRequest");
  ASSERT_NE(req, nullptr);
  for (int i = 0; i < req->field_count(); ++i) {
    const FieldDescriptor* f = req->field(i);
    EXPECT_TRUE(f->has_presence() || f->is_repeated()) << f->full_name();
  }
}

TEST_F(FixtureApiTest, ScalarTypesAndIntegerWidthByBounds) {
  EXPECT_EQ(Field("PostNodesNodeQemuRequest", "vmid")->type(), FieldDescriptor::TYPE_INT32);
  EXPECT_EQ(Field("PostNodesNodeQemuRequest", "balloon")->type(), FieldDescriptor::TYPE_INT64)
      << "maximum 4294967296 does not fit int32";
  EXPECT_EQ(Field("PostNodesNodeQemuRequest", "cores")->type(), FieldDescriptor::TYPE_INT64)
      << "no maximum: int64";
  EXPECT_EQ(Field("PostNodesNodeQemuRequest", "cpulimit")->type(), FieldDescriptor::TYPE_DOUBLE);
  EXPECT_EQ(Field("GetNodesNodeQemuRequest", "full")->type(), FieldDescriptor::TYPE_BOOL);
  EXPECT_EQ(Field("PostNodesNodeQemuRequest", "name")->type(), FieldDescriptor::TYPE_STRING);
  const FieldDescriptor* weights = Field("PostNodesNodeQemuRequest", "weights");
  EXPECT_TRUE(weights->is_repeated());
  EXPECT_EQ(weights->type(), FieldDescriptor::TYPE_INT32);
}

TEST_F(FixtureApiTest, ResponseIsTheProxmoxEnvelope) {
  const Descriptor* list = Message("GetNodesNodeQemuResponse");
  ASSERT_EQ(list->field_count(), 2) << "data, and the envelope's other keys (total, ...)";
  EXPECT_EQ(list->field(0)->name(), "data");
  EXPECT_EQ(list->field(1)->name(), "additional_properties");
  EXPECT_TRUE(list->field(0)->is_repeated());
  EXPECT_EQ(list->field(0)->message_type()->full_name(),
            "proxmox.ve.v1.GetNodesNodeQemuResponse.DataItem");
  EXPECT_EQ(Field("GetNodesNodeQemuVmidConfigResponse", "data")->message_type()->name(), "Data");
  EXPECT_EQ(Field("PutNodesNodeQemuVmidConfigResponse", "data")->message_type()->full_name(),
            "google.protobuf.Empty");
  EXPECT_EQ(Field("PostNodesNodeQemuResponse", "data")->type(), FieldDescriptor::TYPE_STRING);
  EXPECT_EQ(Field("PutPoolsResponse", "data")->type(), FieldDescriptor::TYPE_BOOL);
  EXPECT_EQ(Field("DeletePoolsResponse", "data")->type(), FieldDescriptor::TYPE_INT64);
  EXPECT_EQ(Field("GetPoolsResponse", "data")->message_type()->full_name(),
            "google.protobuf.Struct")
      << "an untyped result is an object";
}

TEST_F(FixtureApiTest, UntypedValuesUseWellKnownTypes) {
  const std::string item = "GetClusterResourcesResponse.DataItem";
  EXPECT_EQ(Field(item, "extra")->message_type()->full_name(), "google.protobuf.Value");
  EXPECT_EQ(Field(item, "untyped")->message_type()->full_name(), "google.protobuf.Value");
  EXPECT_EQ(Field(item, "list")->message_type()->full_name(), "google.protobuf.ListValue");
  const FieldDescriptor* matrix = Field(item, "matrix");
  EXPECT_TRUE(matrix->is_repeated());
  EXPECT_EQ(matrix->message_type()->full_name(), "google.protobuf.ListValue");
  EXPECT_EQ(Field(item, "disk")->message_type()->full_name(),
            "proxmox.ve.v1.GetClusterResourcesResponse.DataItem.Disk");
  EXPECT_EQ(Field("PostAccessTicketResponse.Data", "cap")->message_type()->full_name(),
            "google.protobuf.Struct");
  EXPECT_EQ(Field(item, "weird")->message_type()->full_name(), "google.protobuf.Value");
}

TEST_F(FixtureApiTest, OpenObjectsKeepUnlistedPropertiesInAStruct) {
  const FieldDescriptor* extra =
      Field("GetClusterResourcesResponse.DataItem.Open", "additional_properties");
  EXPECT_EQ(extra->message_type()->full_name(), "google.protobuf.Struct");
  EXPECT_TRUE(Rules(extra).additional_properties());
  EXPECT_TRUE(Rules(extra).declared_open());
  EXPECT_EQ(Field("GetClusterResourcesResponse.DataItem.Open", "host")->type(),
            FieldDescriptor::TYPE_STRING);
}

// Lossless answers: every object message reachable from a response, the envelope included,
// has exactly one Struct for unlisted keys, under one name; declared_open only where the
// schema says additionalProperties. Requests get none.
TEST_F(FixtureApiTest, EveryResponseObjectHasOneAdditionalPropertiesStruct) {
  int checked = 0;
  std::function<void(const Descriptor*)> walk = [&](const Descriptor* d) {
    if (d == nullptr || absl::StartsWith(d->full_name(), "google.protobuf.")) return;
    ++checked;
    int structs = 0;
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (!Rules(f).additional_properties()) continue;
      ++structs;
      EXPECT_EQ(f->name(), "additional_properties") << d->full_name();
      EXPECT_EQ(f->json_name(), "additionalProperties") << d->full_name();
      EXPECT_EQ(f->message_type()->full_name(), "google.protobuf.Struct");
      EXPECT_EQ(Rules(f).declared_open(), d->name() == "Open") << d->full_name();
    }
    EXPECT_EQ(structs, 1) << d->full_name();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      // Typed companions hold property strings, whose unknown keys are a string map.
      if (f->message_type() == nullptr || !Rules(f).typed_of().empty()) continue;
      walk(f->is_map() ? f->message_type()->map_value()->message_type() : f->message_type());
    }
  };
  for (const auto& [rel, content] : result_->files) {
    const google::protobuf::FileDescriptor* file = compiler_->pool()->FindFileByName(rel);
    ASSERT_NE(file, nullptr);
    for (int s = 0; s < file->service_count(); ++s) {
      for (int m = 0; m < file->service(s)->method_count(); ++m) {
        walk(file->service(s)->method(m)->output_type());
        const Descriptor* request = file->service(s)->method(m)->input_type();
        for (int i = 0; i < request->field_count(); ++i) {
          EXPECT_FALSE(Rules(request->field(i)).additional_properties()) << request->full_name();
        }
      }
    }
  }
  EXPECT_GT(checked, 25);
}

TEST_F(FixtureApiTest, IndexedParametersBecomeMapsWithTheirWirePrefix) {
  const FieldDescriptor* net = Field("PostNodesNodeQemuRequest", "net");
  ASSERT_TRUE(net->is_map());
  EXPECT_EQ(net->message_type()->map_key()->type(), FieldDescriptor::TYPE_UINT32);
  EXPECT_EQ(net->message_type()->map_value()->type(), FieldDescriptor::TYPE_STRING);
  EXPECT_EQ(Rules(net).indexed(), "net");
  EXPECT_THAT(Rules(net).property_format(), HasSubstr("\"bridge\""));
  // `numa` and `numa[n]` coexist in a VM config.
  const FieldDescriptor* numa = Field("GetNodesNodeQemuVmidConfigResponse.Data", "numa");
  const FieldDescriptor* numa_n = Field("GetNodesNodeQemuVmidConfigResponse.Data", "numa_n");
  EXPECT_EQ(numa->type(), FieldDescriptor::TYPE_BOOL);
  ASSERT_TRUE(numa_n->is_map());
  EXPECT_EQ(Rules(numa_n).indexed(), "numa");
}

TEST_F(FixtureApiTest, AwkwardNamesBecomeValidIdentifiersWithProxmoxJsonNames) {
  EXPECT_EQ(Field("PostNodesNodeQemuRequest", "start_time")->json_name(), "start-time");
  EXPECT_EQ(Field("PostNodesNodeQemuRequest", "x_2fa_code")->json_name(), "2fa-code");
  EXPECT_EQ(Field("PostNodesNodeQemuRequest", "option_")->json_name(), "option");
  EXPECT_EQ(Field("PostAccessTicketResponse.Data", "csrf_prevention_token")->json_name(),
            "CSRFPreventionToken");
  EXPECT_EQ(Field("GetNodesNodeQemuResponse.DataItem", "running_machine")->json_name(),
            "running-machine");
  // foo_bar keeps its exact name; foo-bar and fooBar collide with it and get suffixes.
  EXPECT_EQ(Field("PostNodesNodeQemuRequest", "foo_bar")->json_name(), "foo_bar");
  EXPECT_EQ(Field("PostNodesNodeQemuRequest", "foo_bar_2")->json_name(), "foo-bar");
  EXPECT_EQ(Field("PostNodesNodeQemuRequest", "foo_bar_3")->json_name(), "fooBar");
}

TEST_F(FixtureApiTest, FieldRulesCarryTheSchemaFacts) {
  const auto& vmid = Rules(Field("PostNodesNodeQemuRequest", "vmid"));
  EXPECT_TRUE(vmid.required());
  EXPECT_FALSE(vmid.path_param()) << "vmid is a body parameter of create";
  EXPECT_EQ(vmid.minimum(), 100);
  EXPECT_EQ(vmid.maximum(), 999999999);
  EXPECT_EQ(vmid.format(), "pve-vmid");
  const auto& node = Rules(Field("PostNodesNodeQemuRequest", "node"));
  EXPECT_TRUE(node.required());
  EXPECT_TRUE(node.path_param());
  const auto& cores = Rules(Field("PostNodesNodeQemuRequest", "cores"));
  EXPECT_FALSE(cores.required());
  EXPECT_EQ(cores.default_value(), "1");
  EXPECT_EQ(cores.minimum(), 1) << "\"minimum\": \"1\" (a string in the schema)";
  EXPECT_FALSE(cores.has_maximum());
  EXPECT_THAT(Rules(Field("PostNodesNodeQemuRequest", "ostype")).enum_values(),
              ElementsAre("other", "l26", "win11"));
  EXPECT_EQ(Rules(Field("PostNodesNodeQemuRequest", "name")).max_length(), 128u);
  EXPECT_EQ(Rules(Field("PostNodesNodeQemuRequest", "tags")).pattern(),
            "(?^i:[a-z0-9_][a-z0-9_\\-\\+\\.]*)");
  const auto& memory = Rules(Field("PostNodesNodeQemuRequest", "memory"));
  EXPECT_EQ(memory.typetext(), "[current=]<integer>");
  EXPECT_EQ(
      memory.property_format(),
      R"({"current":{"default":512,"default_key":1,"description":"Current amount of online RAM.","minimum":16,"type":"integer"}})");
  EXPECT_EQ(Rules(Field("PostNodesNodeQemuRequest", "weights")).maximum(), 10)
      << "array element rules apply to each element";
  EXPECT_EQ(Rules(Field("GetClusterResourcesResponse.DataItem", "ratio")).default_value(), "0.5");
  EXPECT_TRUE(Rules(Field("GetNodesNodeQemuResponse.DataItem", "vmid")).required());
  EXPECT_FALSE(Rules(Field("GetNodesNodeQemuResponse.DataItem", "name")).required());
}

TEST_F(FixtureApiTest, MethodRulesCarryTheSchemaFacts) {
  const auto& list = Rules(Method("Nodes.GetNodesNodeQemu"));
  EXPECT_EQ(list.path(), "/nodes/{node}/qemu");
  EXPECT_EQ(list.verb(), "GET");
  EXPECT_EQ(list.name(), "vmlist");
  EXPECT_EQ(list.child_link(), "{vmid}");
  EXPECT_EQ(list.proxyto(), "node");
  EXPECT_TRUE(list.protected_());
  EXPECT_TRUE(list.allowtoken());
  EXPECT_EQ(list.permissions(),
            "Only list VMs where you have VM.Audit permissions on /vms/<vmid>.");
  EXPECT_EQ(list.permission_user(), "all");
  EXPECT_FALSE(list.returns_upid());

  const auto& create = Rules(Method("Nodes.PostNodesNodeQemu"));
  EXPECT_TRUE(create.returns_upid()) << "plain string result of a POST is a task";
  EXPECT_EQ(
      create.permission_check(),
      R"(["or",["perm","/vms/{vmid}",["VM.Allocate"]],["perm","/pool/{pool}",["VM.Allocate"],"require_param","pool"]])");
  EXPECT_TRUE(Rules(Method("Nodes.PostNodesNodeQemuVmidStatusStart")).returns_upid());
  EXPECT_TRUE(Rules(Method("Nodes.DeleteNodesNodeQemuVmid")).returns_upid());
  EXPECT_FALSE(Rules(Method("Access.PostAccessOpenidAuthUrl")).returns_upid())
      << "a described non-task string";
  EXPECT_FALSE(Rules(Method("Access.PostAccessTicket")).allowtoken());
}

TEST_F(FixtureApiTest, OneOfWithAgreeingAlternativesKeepsTheType) {
  const FieldDescriptor* del = Field("PostPoolsRequest", "delete");
  EXPECT_TRUE(del->is_repeated());
  EXPECT_EQ(del->type(), FieldDescriptor::TYPE_STRING);
  EXPECT_EQ(Field("PostPoolsRequest", "mixed")->message_type()->full_name(),
            "google.protobuf.Value");
}

TEST_F(FixtureApiTest, UnknownConstructsAreCountedWarnings) {
  std::map<std::string, int> counts;
  for (const auto& [kind, entry] : result_->warnings.entries()) counts[kind] = entry.count;
  EXPECT_EQ(counts["unknown schema keyword 'frobnicate' ignored"], 1);
  EXPECT_EQ(counts["unknown type 'frobtype' mapped to google.protobuf.Value"], 1);
  EXPECT_EQ(counts["'oneOf' with differing alternatives mapped to google.protobuf.Value"], 1);
  EXPECT_EQ(result_->warnings.Total(), 3);
}

TEST_F(FixtureApiTest, DescriptionsBecomeSafeComments) {
  const std::string& nodes = result_->files.at("proxmox/ve/v1/nodes.proto");
  EXPECT_THAT(nodes, HasSubstr("// Comment with */ /* \"quotes\" \\ backslash, tab,\n"));
  EXPECT_THAT(nodes, HasSubstr("// CRLF and control; Grüße — ✓."));
  EXPECT_THAT(nodes, Not(HasSubstr("\x01")));
  EXPECT_THAT(nodes, Not(HasSubstr("\r")));
  // Comments reach the descriptors (source info), so reflection clients can show them.
  const Descriptor* req = Message("GetNodesNodeQemuRequest");
  google::protobuf::SourceLocation loc;
  ASSERT_TRUE(req->FindFieldByName("full")->GetSourceLocation(&loc));
  EXPECT_THAT(loc.leading_comments, HasSubstr("Determine the full status of active VMs."));
}

}  // namespace
}  // namespace pvegw::codegen
