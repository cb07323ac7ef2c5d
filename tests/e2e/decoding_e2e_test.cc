// Lossless decoding over real gRPC: an answer with a value its typed field cannot hold is
// served with that value in additionalProperties, or, with strict_decoding, fails INTERNAL.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_util.h"

namespace pvegw::e2e {
namespace {

using ::testing::HasSubstr;

// Answers every call with one canned Proxmox body.
class CannedBackend : public gateway::Backend {
 public:
  explicit CannedBackend(std::string body) : body_(std::move(body)) {}
  void Call(RestRequest, gateway::RestCallback done) override {
    RestResponse r;
    r.body = body_;
    done(std::move(r));
  }
  std::string mode() const override { return "canned"; }

 private:
  std::string body_;
};

// A PVE 9 host's /nodes/{node}/ceph/mon: a host name in `host`, declared boolean.
constexpr char kCephMon[] =
    R"({"total":1,"data":[{"name":"srv-proxmox-01","rank":0,"host":"srv-proxmox-01"}]})";

TEST(DecodingE2eTest, OddValueIsServedInAdditionalProperties) {
  GatewayFixture gw({}, std::make_unique<CannedBackend>(kCephMon));
  ASSERT_TRUE(gw.ok()) << gw.start_error();
  EXPECT_FALSE(gw.server().transcoder().options().strict_decoding);
  CallResult r = gw.Call("Nodes.GetNodesNodeCephMon", R"({"node":"pve1"})");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_THAT(r.json, HasSubstr(R"("additionalProperties":{"host":"srv-proxmox-01"})"));
  EXPECT_THAT(r.json, HasSubstr(R"("additionalProperties":{"total":1})"));
  const auto counts = gw.server().transcoder().DecodeFallbacks();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].field, "proxmox.ve.v1.GetNodesNodeCephMonResponse.DataItem.host");
}

TEST(DecodingE2eTest, StrictDecodingFailsTheCallNamingTheField) {
  TestGatewayOptions options;
  options.strict_decoding = true;
  GatewayFixture gw(options, std::make_unique<CannedBackend>(kCephMon));
  ASSERT_TRUE(gw.ok()) << gw.start_error();
  CallResult r = gw.Call("Nodes.GetNodesNodeCephMon", R"({"node":"pve1"})");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(r.status.error_message(), HasSubstr("GetNodesNodeCephMon.data[0].host"));
  EXPECT_THAT(r.status.error_message(), HasSubstr("srv-proxmox-01"));
}

}  // namespace
}  // namespace pvegw::e2e
