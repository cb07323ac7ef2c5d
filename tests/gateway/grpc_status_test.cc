#include "gateway/grpc_status.h"

#include "common/status_mapping.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace pvegw::gateway {
namespace {

TEST(GrpcStatusTest, CodeAndMessageCarryOver) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  const grpc::Status st = ToGrpcStatus(absl::UnavailableError("cannot connect to 10.0.0.1:8006"));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(st.error_message(), "cannot connect to 10.0.0.1:8006");
  EXPECT_TRUE(st.error_details().empty());
  EXPECT_EQ(ToGrpcStatus(absl::DeadlineExceededError("x")).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(ToGrpcStatus(absl::CancelledError("x")).error_code(), grpc::StatusCode::CANCELLED);
}

TEST(GrpcStatusTest, ProxmoxParameterErrorsBecomeBadRequestDetails) {
  RestResponse r;
  r.status = 400;
  r.reason = "Parameter verification failed.";
  r.body = R"({"data":null,"errors":{"vmid":"value must have a minimum value of 100\n"}})";
  const grpc::Status st = ToGrpcStatus(StatusFromRest(r));
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(),
            "Parameter verification failed. vmid: value must have a minimum value of 100");
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(st.error_details()));
  EXPECT_EQ(rich.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  google::rpc::BadRequest bad;
  ASSERT_EQ(rich.details_size(), 1);
  ASSERT_TRUE(rich.details(0).UnpackTo(&bad));
  ASSERT_EQ(bad.field_violations_size(), 1);
  EXPECT_EQ(bad.field_violations(0).field(), "vmid");
  EXPECT_EQ(bad.field_violations(0).description(), "value must have a minimum value of 100");
}

}  // namespace
}  // namespace pvegw::gateway
