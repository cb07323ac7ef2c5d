#include "api/api_index.h"

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/api/full_api.h"

namespace pvegw::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// The build's descriptor set: the real PVE API, 646 operations.
class ApiIndexTest : public ::testing::Test {
 protected:
  static const ApiIndex& Index() { return testing::FullApi(); }
};

TEST_F(ApiIndexTest, RoutesLiteralPathsAndPlaceholders) {
  auto version = Index().Match("GET", "/version");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->template_path, "/version");
  EXPECT_EQ(version->op->verb, "GET");
  EXPECT_TRUE(version->path_params.empty());

  auto config = Index().Match("PUT", "/nodes/pve1/qemu/100/config");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->template_path, "/nodes/{node}/qemu/{vmid}/config");
  EXPECT_EQ(config->op->method->name(), "PutNodesNodeQemuVmidConfig");
  EXPECT_THAT(config->path_params, ElementsAre(Pair("node", "pve1"), Pair("vmid", "100")));
  EXPECT_THAT(config->segments, ElementsAre("nodes", "pve1", "qemu", "100", "config"));
}

TEST_F(ApiIndexTest, LiteralSegmentsWinOverPlaceholders) {
  // /nodes/{node}/qemu exists beside /nodes/{node}/{...}-shaped templates.
  auto qemu = Index().Match("GET", "/nodes/pve1/qemu");
  ASSERT_TRUE(qemu.ok());
  EXPECT_EQ(qemu->template_path, "/nodes/{node}/qemu");
  auto resources = Index().Match("GET", "/cluster/resources");
  ASSERT_TRUE(resources.ok());
  EXPECT_EQ(resources->template_path, "/cluster/resources");
  // A placeholder that happens to spell a literal of another branch still routes by depth.
  auto node_named_qemu = Index().Match("GET", "/nodes/qemu/qemu");
  ASSERT_TRUE(node_named_qemu.ok());
  EXPECT_THAT(node_named_qemu->path_params, ElementsAre(Pair("node", "qemu")));
}

TEST_F(ApiIndexTest, PathSegmentsArePercentDecoded) {
  auto volume =
      Index().Match("GET", "/nodes/pve1/storage/local/content/local%3Aiso%2Fubuntu-24.04.iso");
  ASSERT_TRUE(volume.ok()) << volume.status();
  EXPECT_EQ(volume->template_path, "/nodes/{node}/storage/{storage}/content/{volume}");
  EXPECT_THAT(volume->path_params, ElementsAre(Pair("node", "pve1"), Pair("storage", "local"),
                                               Pair("volume", "local:iso/ubuntu-24.04.iso")));
  auto bad = Index().Match("GET", "/nodes/pve%zz/qemu");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("malformed escape"));
  EXPECT_FALSE(Index().Match("GET", "/nodes/pve1%/qemu").ok()) << "a cut escape";
}

TEST_F(ApiIndexTest, EmptySegmentsAreIgnored) {
  auto r = Index().Match("GET", "//nodes//pve1/qemu/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->template_path, "/nodes/{node}/qemu");
}

TEST_F(ApiIndexTest, UnknownPathsAndVerbsAreProxmoxs501Texts) {
  auto unknown = Index().Match("GET", "/nodes/pve1/teapot");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(), "Method 'GET /nodes/pve1/teapot' not implemented");
  auto verb = Index().Match("DELETE", "/version");
  ASSERT_FALSE(verb.ok());
  EXPECT_EQ(verb.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(verb.status().message(), "Method 'DELETE /version' not implemented");
  EXPECT_EQ(Index().Match("GET", "/").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Index().Match("GET", "").status().code(), absl::StatusCode::kNotFound);
}

// Every operation of the schema is reachable by its own path shape, with each placeholder
// filled, and gives back its own parameters.
TEST_F(ApiIndexTest, EveryOperationRoutesToItself) {
  ASSERT_EQ(Index().operations().size(), 646u);
  for (const auto& op : Index().operations()) {
    std::string concrete;
    std::vector<std::pair<std::string, std::string>> expected;
    for (const std::string& seg : op->segments) {
      if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
        const std::string name = seg.substr(1, seg.size() - 2);
        const std::string value = "v-" + name;
        expected.emplace_back(name, value);
        concrete += "/" + value;
      } else {
        concrete += "/" + seg;
      }
    }
    if (concrete.empty()) concrete = "/";
    auto r = Index().Match(op->verb, concrete);
    ASSERT_TRUE(r.ok()) << op->verb << " " << op->path << ": " << r.status();
    EXPECT_EQ(r->op, op.get()) << op->verb << " " << op->path << " routed to " << r->template_path;
    EXPECT_EQ(r->path_params, expected) << op->path;
    EXPECT_EQ(Index().Find(op->verb, op->path), op.get());
    EXPECT_TRUE(Index().HasPath(op->path));
  }
}

TEST_F(ApiIndexTest, TreeQueriesForCollectionsAndItems) {
  EXPECT_EQ(Index().ParamChild("/nodes/{node}/qemu"), "/nodes/{node}/qemu/{vmid}");
  EXPECT_EQ(Index().ParamChild("/version"), std::nullopt);
  const std::vector<std::string> children = Index().LiteralChildren("/nodes/{node}/qemu/{vmid}");
  EXPECT_THAT(children, ::testing::IsSupersetOf({"config", "status", "snapshot"}));
  EXPECT_TRUE(std::is_sorted(children.begin(), children.end()));
  EXPECT_FALSE(Index().HasPath("/nodes/{node}/teapot"));
  EXPECT_EQ(Index().Find("PATCH", "/version"), nullptr);
}

TEST(ApiPathTest, SplitDecodeEncode) {
  EXPECT_THAT(SplitPath("/a//b/c/"), ElementsAre("a", "b", "c"));
  EXPECT_TRUE(SplitPath("/").empty());
  EXPECT_EQ(PercentDecode("local%3Aiso%2Fx.iso"), "local:iso/x.iso");
  EXPECT_EQ(PercentDecode("a+b"), "a+b") << "'+' is not a space in a path";
  EXPECT_EQ(PercentDecode("%4"), std::nullopt);
  EXPECT_EQ(PercentDecode("%g0"), std::nullopt);
  EXPECT_EQ(PercentEncode("a-b.c_d~e"), "a-b.c_d~e");
  EXPECT_EQ(PercentEncode("a b;c=d&e/f:"), "a%20b%3Bc%3Dd%26e%2Ff%3A");
  const std::string bytes("\x00\xff\x7f snowman \xe2\x98\x83", 16);
  EXPECT_EQ(PercentDecode(PercentEncode(bytes)), bytes);
}

TEST(ApiIndexBuildTest, GarbageDescriptorBytesAreAClearError) {
  auto r = ApiIndex::FromDescriptorSet("this is not a descriptor set");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pvegw::api
