#include "gateway/grpc_status.h"

#include "absl/strings/str_cat.h"
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

// 100,000 bad parameters (a map of that size in one request): the client still gets a
// readable INVALID_ARGUMENT, inside gRPC's default 8 KiB trailer limit.
TEST(GrpcStatusTest, HugeViolationListsAreCutToFitTheTrailers) {
  std::vector<FieldViolation> violations;
  for (int i = 0; i < 100000; ++i) {
    violations.push_back({absl::StrCat("net", 10000 + i),
                          "property is not defined in schema and the schema does not allow "
                          "additional properties"});
  }
  std::string message = "Parameter verification failed.";
  for (const FieldViolation& v : violations) {
    absl::StrAppend(&message, " ", v.field, ": ", v.description, ";");
  }
  const grpc::Status st = ToGrpcStatus(InvalidArgumentWithViolations(message, violations));
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LE(st.error_message().size(), 1200u);
  EXPECT_EQ(st.error_message().rfind("Parameter verification failed. net10000: property", 0), 0u);
  EXPECT_NE(st.error_message().find("bytes in all"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("of 100000 invalid parameters"), std::string::npos);
  EXPECT_LE(st.error_details().size(), 4096u);
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(st.error_details()));
  google::rpc::BadRequest bad;
  ASSERT_TRUE(rich.details(0).UnpackTo(&bad));
  EXPECT_GT(bad.field_violations_size(), 5);
  EXPECT_EQ(bad.field_violations(0).field(), "net10000");
  // A multi-byte character is never cut in half.
  std::string accents = "x";
  for (int i = 0; i < 1500; ++i) accents += "\xc3\xa9";  // é
  const std::string cut = ToGrpcStatus(absl::InternalError(accents)).error_message();
  const std::size_t end = cut.find(" ... (cut: 3001 bytes in all)");
  ASSERT_NE(end, std::string::npos) << cut;
  EXPECT_EQ(end, 1023u);
  EXPECT_EQ(cut[end - 1], '\xa9');
}

}  // namespace
}  // namespace pvegw::gateway
