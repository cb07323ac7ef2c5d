// Does what grpcurl does, for both reflection versions: list services, fetch the file that
// holds a symbol with its dependencies, rebuild a DescriptorPool from the answers alone,
// describe a method, and invoke it dynamically.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include "gmock/gmock.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_util.h"

namespace pvegw::e2e {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

template <typename Api>
struct Version;
template <>
struct Version<grpc::reflection::v1::ServerReflection> {
  using Request = grpc::reflection::v1::ServerReflectionRequest;
  using Response = grpc::reflection::v1::ServerReflectionResponse;
};
template <>
struct Version<grpc::reflection::v1alpha::ServerReflection> {
  using Request = grpc::reflection::v1alpha::ServerReflectionRequest;
  using Response = grpc::reflection::v1alpha::ServerReflectionResponse;
};

template <typename Api>
class ReflectionTest : public ::testing::Test {
 protected:
  using Request = typename Version<Api>::Request;
  using Response = typename Version<Api>::Response;

  void SetUp() override {
    ASSERT_TRUE(gw_.ok()) << gw_.start_error();
    stub_ = Api::NewStub(gw_.channel());
    stream_ = stub_->ServerReflectionInfo(&ctx_);
  }
  void TearDown() override {
    if (stream_) {
      stream_->WritesDone();
      EXPECT_TRUE(stream_->Finish().ok());
    }
  }
  Response Ask(const Request& request) {
    EXPECT_TRUE(stream_->Write(request));
    Response response;
    EXPECT_TRUE(stream_->Read(&response));
    return response;
  }
  // What grpcurl does to learn a symbol: ask, then fetch any file still missing by name.
  void Learn(const std::string& symbol, google::protobuf::SimpleDescriptorDatabase& db,
             int* requests) {
    Request req;
    req.set_file_containing_symbol(symbol);
    std::vector<std::string> pending;
    Response resp = Ask(req);
    ++*requests;
    for (const std::string& bytes : resp.file_descriptor_response().file_descriptor_proto())
      Add(bytes, db, pending);
    while (!pending.empty()) {
      const std::string name = pending.back();
      pending.pop_back();
      google::protobuf::FileDescriptorProto existing;
      if (db.FindFileByName(name, &existing)) continue;
      Request by_name;
      by_name.set_file_by_filename(name);
      Response r = Ask(by_name);
      ++*requests;
      for (const std::string& bytes : r.file_descriptor_response().file_descriptor_proto())
        Add(bytes, db, pending);
    }
  }
  void Add(const std::string& bytes, google::protobuf::SimpleDescriptorDatabase& db,
           std::vector<std::string>& pending) {
    google::protobuf::FileDescriptorProto proto;
    ASSERT_TRUE(proto.ParseFromString(bytes));
    google::protobuf::FileDescriptorProto existing;
    if (db.FindFileByName(proto.name(), &existing)) return;
    db.Add(proto);
    for (const std::string& dep : proto.dependency()) pending.push_back(dep);
  }

  GatewayFixture gw_;
  std::unique_ptr<typename Api::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream_;
};

using Versions = ::testing::Types<grpc::reflection::v1::ServerReflection,
                                  grpc::reflection::v1alpha::ServerReflection>;
TYPED_TEST_SUITE(ReflectionTest, Versions);

TYPED_TEST(ReflectionTest, ListServices) {
  typename TestFixture::Request req;
  req.set_list_services("");
  auto resp = this->Ask(req);
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service()) names.push_back(s.name());
  for (const char* n :
       {"proxmox.ve.v1.Access", "proxmox.ve.v1.Cluster", "proxmox.ve.v1.Nodes",
        "proxmox.ve.v1.Pools", "proxmox.ve.v1.Storage", "proxmox.ve.v1.Version",
        "proxmox.gateway.v1.Gateway", "proxmox.gateway.v1.Tasks", "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_THAT(names, Contains(n));
  }
}

TYPED_TEST(ReflectionTest, RebuildsThePoolFromAnswersAloneAndInvokes) {
  google::protobuf::SimpleDescriptorDatabase db;
  int requests = 0;
  this->Learn("proxmox.ve.v1.Nodes", db, &requests);
  EXPECT_EQ(requests, 1) << "the first answer carries the whole import closure";
  google::protobuf::DescriptorPool pool(&db);
  const auto* method = pool.FindMethodByName("proxmox.ve.v1.Nodes.GetNodesNodeQemu");
  ASSERT_NE(method, nullptr);
  // describe: comments travel with the descriptors.
  google::protobuf::SourceLocation loc;
  ASSERT_TRUE(method->GetSourceLocation(&loc));
  EXPECT_THAT(loc.leading_comments, HasSubstr("Virtual machine index"));
  EXPECT_NE(pool.FindFileByName("google/api/annotations.proto"), nullptr);
  EXPECT_NE(pool.FindFileByName("google/protobuf/descriptor.proto"), nullptr);
  EXPECT_NE(pool.FindFileByName("proxmox/gateway/v1/options.proto"), nullptr);

  // Invoke with a request built from the reflected types only (grpcurl -d '{"node":"pve1"}').
  google::protobuf::DynamicMessageFactory factory(&pool);
  std::unique_ptr<google::protobuf::Message> request(
      factory.GetPrototype(method->input_type())->New());
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(R"({"node":"pve1"})", request.get()).ok());
  std::string bytes;
  grpc::Status st = this->gw_.CallRaw("/proxmox.ve.v1.Nodes/GetNodesNodeQemu",
                                      request->SerializeAsString(), &bytes);
  ASSERT_TRUE(st.ok()) << st.error_message();
  std::unique_ptr<google::protobuf::Message> response(
      factory.GetPrototype(method->output_type())->New());
  ASSERT_TRUE(response->ParseFromString(bytes));
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(*response, &json).ok());
  EXPECT_THAT(json, HasSubstr(R"("vmid":100)"));
  EXPECT_THAT(json, HasSubstr(R"("name":"web01")"));
}

TYPED_TEST(ReflectionTest, TheGatewaysOwnServicesAreDescribedToo) {
  google::protobuf::SimpleDescriptorDatabase db;
  int requests = 0;
  this->Learn("proxmox.gateway.v1.Gateway", db, &requests);
  this->Learn("grpc.health.v1.Health", db, &requests);
  this->Learn("proxmox.gateway.v1.Tasks", db, &requests);
  google::protobuf::DescriptorPool pool(&db);
  EXPECT_NE(pool.FindMethodByName("proxmox.gateway.v1.Gateway.GetInfo"), nullptr);
  const auto* watch = pool.FindMethodByName("proxmox.gateway.v1.Tasks.WatchTask");
  ASSERT_NE(watch, nullptr);
  EXPECT_TRUE(watch->server_streaming());
  EXPECT_NE(pool.FindMethodByName("proxmox.gateway.v1.Tasks.WaitTask"), nullptr);
  EXPECT_NE(pool.FindMethodByName("grpc.health.v1.Health.Check"), nullptr);
}

TYPED_TEST(ReflectionTest, ExtensionsAndErrors) {
  typename TestFixture::Request req;
  req.mutable_file_containing_extension()->set_containing_type("google.protobuf.MethodOptions");
  req.mutable_file_containing_extension()->set_extension_number(51801);
  auto resp = this->Ask(req);
  ASSERT_GT(resp.file_descriptor_response().file_descriptor_proto_size(), 0);
  google::protobuf::FileDescriptorProto first;
  ASSERT_TRUE(first.ParseFromString(resp.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(first.name(), "proxmox/gateway/v1/options.proto");

  typename TestFixture::Request all;
  all.set_all_extension_numbers_of_type("google.protobuf.FieldOptions");
  resp = this->Ask(all);
  EXPECT_THAT(resp.all_extension_numbers_response().extension_number(), Contains(51801));

  typename TestFixture::Request missing;
  missing.set_file_containing_symbol("proxmox.ve.v1.NoSuchService");
  resp = this->Ask(missing);
  EXPECT_EQ(resp.error_response().error_code(), 5);
  EXPECT_THAT(resp.error_response().error_message(), HasSubstr("NoSuchService"));
  typename TestFixture::Request by_name;
  by_name.set_file_by_filename("no/such/file.proto");
  resp = this->Ask(by_name);
  EXPECT_EQ(resp.error_response().error_code(), 5);
}

}  // namespace
}  // namespace pvegw::e2e
