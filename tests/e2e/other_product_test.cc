// pve-gateway serving another Proxmox product: --descriptors with a descriptor set generated
// from a Backup-Server-shaped schema (package proxmox.pbs.v1) serves it in mock mode.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxmox/gateway/v1/gateway.grpc.pb.h"
#include "tests/e2e/e2e_util.h"

namespace pvegw::e2e {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

class OtherProductTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(PVEGW_MINI_PBS_DESCRIPTORS, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    google::protobuf::FileDescriptorSet set;
    ASSERT_TRUE(set.ParseFromString(buffer.str())) << PVEGW_MINI_PBS_DESCRIPTORS;
    for (const auto& f : set.file()) ASSERT_NE(pool_.BuildFile(f), nullptr) << f.name();
    TestGatewayOptions options;
    options.descriptors_path = PVEGW_MINI_PBS_DESCRIPTORS;
    gw_ = std::make_unique<GatewayFixture>(options);
    ASSERT_TRUE(gw_->ok()) << gw_->start_error();
  }

  // Calls "Service.Method" of proxmox.pbs.v1 with a JSON request; the answer as JSON.
  grpc::Status Call(const std::string& method, const std::string& request_json,
                    std::string* response_json) {
    const auto* m = pool_.FindMethodByName("proxmox.pbs.v1." + method);
    EXPECT_NE(m, nullptr) << method;
    if (m == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "no such method");
    std::unique_ptr<google::protobuf::Message> request(
        factory_.GetPrototype(m->input_type())->New());
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(request_json, request.get()).ok());
    std::string bytes;
    grpc::Status st = gw_->CallRaw(absl::StrCat("/", m->service()->full_name(), "/", m->name()),
                                   request->SerializeAsString(), &bytes);
    if (st.ok()) {
      std::unique_ptr<google::protobuf::Message> response(
          factory_.GetPrototype(m->output_type())->New());
      EXPECT_TRUE(response->ParseFromString(bytes));
      response_json->clear();
      (void)google::protobuf::util::MessageToJsonString(*response, response_json);
    }
    return st;
  }

  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_{&pool_};
  std::unique_ptr<GatewayFixture> gw_;
};

TEST_F(OtherProductTest, ServesEveryRpcOfTheSetInMockMode) {
  EXPECT_EQ(gw_->server().method_count(), 4);
  EXPECT_EQ(gw_->server().service_count(), 4);  // Admin, Ping, Root, Store

  std::string out;
  grpc::Status st = Call("Root.GetRoot", "{}", &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  json::value root = json::parse(out);
  ASSERT_TRUE(root.at("data").is_array()) << out;

  st = Call("Ping.GetPing", "{}", &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(json::parse(out).at("data").at("pong").is_bool()) << out;

  st = Call("Admin.GetAdminDatastoreStoreSnapshots", R"({"store":"store1"})", &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const json::value snapshots = json::parse(out);
  ASSERT_TRUE(snapshots.at("data").is_array()) << out;
  EXPECT_FALSE(snapshots.at("data").as_array().empty()) << out;
  for (const auto& row : snapshots.at("data").as_array()) {
    EXPECT_TRUE(row.as_object().contains("backup-id")) << out;
  }
  st = Call("Store.GetStoreStatus", R"({"store":"store1"})", &out);
  ASSERT_TRUE(st.ok()) << st.error_message();

  // The product's own validation rules apply: store is 3 to 32 characters.
  st = Call("Admin.GetAdminDatastoreStoreSnapshots", R"({"store":"x"})", &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("store"));
  // PVE's API is not part of this set.
  st = gw_->CallRaw("/proxmox.ve.v1.Nodes/GetNodes", "", nullptr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(OtherProductTest, GetInfoNamesTheServedPackage) {
  auto stub = proxmox::gateway::v1::Gateway::NewStub(gw_->channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  proxmox::gateway::v1::GetInfoResponse info;
  ASSERT_TRUE(stub->GetInfo(&ctx, {}, &info).ok());
  EXPECT_EQ(info.api_package(), "proxmox.pbs.v1");
  EXPECT_EQ(info.descriptor_source(), PVEGW_MINI_PBS_DESCRIPTORS);
  EXPECT_THAT(info.services(), ::testing::Contains("proxmox.pbs.v1.Root"));
}

}  // namespace
}  // namespace pvegw::e2e
