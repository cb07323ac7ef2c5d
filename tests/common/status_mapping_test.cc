#include "common/status_mapping.h"

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace pvegw {
namespace {

grpc::Status Map(int status, const std::string& reason,
                 const std::string& body = R"({"data":null})") {
  RestResponse r;
  r.status = status;
  r.reason = reason;
  r.body = body;
  return StatusFromRest(r);
}

TEST(StatusMappingTest, HttpStatusesMapAsDesigned) {
  EXPECT_TRUE(Map(200, "OK").ok());
  EXPECT_EQ(Map(401, "authentication failure").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Map(403, "Permission check failed").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Map(404, "not here").error_code(), grpc::StatusCode::NOT_FOUND);
  // An unknown task: Proxmox's 400 "no such task" is a missing thing, not a bad argument.
  grpc::Status task = Map(400, "no such task");
  EXPECT_EQ(task.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(task.error_message(), "no such task");
  EXPECT_EQ(Map(400, "unable to parse worker upid 'x'").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Map(501, "Method 'GET /x' not implemented").error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  for (int s : {502, 503, 504, 595, 596})
    EXPECT_EQ(Map(s, "down").error_code(), grpc::StatusCode::UNAVAILABLE) << s;
  EXPECT_EQ(Map(500, "something odd").error_code(), grpc::StatusCode::INTERNAL);
}

TEST(StatusMappingTest, Proxmox500sMapByMeaningAndKeepTheMessage) {
  grpc::Status missing =
      Map(500, "Configuration file 'nodes/pve1/qemu-server/9.conf' does not exist");
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_message(),
            "Configuration file 'nodes/pve1/qemu-server/9.conf' does not exist");
  EXPECT_EQ(Map(500, "no such user ('x@pve')").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Map(500, "unable to create VM 100 - VM 100 already exists on node 'pve1'").error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Map(500, "VM 100 already running").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Map(500, "detected modified configuration - file changed by other user? Try again.")
                .error_code(),
            grpc::StatusCode::ABORTED);
  EXPECT_EQ(Map(500, "mock state namespace 'x' is full").error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(StatusMappingTest, ParameterErrorsBecomeBadRequestDetails) {
  grpc::Status st =
      Map(400, "Parameter verification failed.",
          R"({"data":null,"errors":{"vmid":"value must have a minimum value of 100\n"}})");
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(),
            "Parameter verification failed. vmid: value must have a minimum value of 100");
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(st.error_details()));
  google::rpc::BadRequest bad;
  ASSERT_TRUE(rich.details(0).UnpackTo(&bad));
  ASSERT_EQ(bad.field_violations_size(), 1);
  EXPECT_EQ(bad.field_violations(0).field(), "vmid");
  EXPECT_EQ(bad.field_violations(0).description(), "value must have a minimum value of 100");
}

TEST(StatusMappingTest, MessageFallsBackToTheBodyThenTheStatus) {
  EXPECT_EQ(Map(500, "", R"({"data":null,"message":"from body\n"})").error_message(), "from body");
  EXPECT_EQ(Map(502, "", "garbage").error_message(), "Proxmox answered HTTP 502");
}

TEST(StatusMappingTest, AbslStatusesRenderAsProxmoxAnswers) {
  RestResponse missing = RestResponseFromStatus(HttpError(500, "no such user ('x@pve')"));
  EXPECT_EQ(missing.status, 500);
  EXPECT_EQ(missing.reason, "no such user ('x@pve')");
  EXPECT_EQ(missing.body, R"({"data":null,"message":"no such user ('x@pve')\n"})");
  RestResponse bad =
      RestResponseFromStatus(HttpParamError({{"vmid", "value must have a minimum value of 100"}}));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.reason, "Parameter verification failed.");
  EXPECT_EQ(
      bad.body,
      R"({"data":null,"errors":{"vmid":"value must have a minimum value of 100"},"message":"Parameter verification failed.\n"})");
  // Statuses without an HTTP payload map by canonical code.
  EXPECT_EQ(RestResponseFromStatus(absl::InvalidArgumentError("x")).status, 400);
  EXPECT_EQ(RestResponseFromStatus(absl::ResourceExhaustedError("full")).status, 500);
  // And a mock answer round-trips into the gateway's gRPC code.
  EXPECT_EQ(StatusFromRest(missing).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(StatusFromRest(bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace pvegw
