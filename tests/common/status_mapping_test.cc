#include "common/status_mapping.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pvegw {
namespace {

absl::Status Map(int status, const std::string& reason,
                 const std::string& body = R"({"data":null})") {
  RestResponse r;
  r.status = status;
  r.reason = reason;
  r.body = body;
  return StatusFromRest(r);
}

TEST(StatusMappingTest, HttpStatusesMapAsDesigned) {
  EXPECT_TRUE(Map(200, "OK").ok());
  EXPECT_EQ(Map(401, "authentication failure").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Map(403, "Permission check failed").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Map(404, "not here").code(), absl::StatusCode::kNotFound);
  // An unknown task: Proxmox's 400 "no such task" is a missing thing, not a bad argument.
  absl::Status task = Map(400, "no such task");
  EXPECT_EQ(task.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(task.message()), "no such task");
  EXPECT_EQ(Map(400, "unable to parse worker upid 'x'").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Map(501, "Method 'GET /x' not implemented").code(), absl::StatusCode::kUnimplemented);
  for (int s : {502, 503, 504, 595, 596})
    EXPECT_EQ(Map(s, "down").code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(Map(500, "something odd").code(), absl::StatusCode::kInternal);
}

TEST(StatusMappingTest, Proxmox500sMapByMeaningAndKeepTheMessage) {
  absl::Status missing =
      Map(500, "Configuration file 'nodes/pve1/qemu-server/9.conf' does not exist");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(missing.message()),
            "Configuration file 'nodes/pve1/qemu-server/9.conf' does not exist");
  EXPECT_EQ(Map(500, "no such user ('x@pve')").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Map(500, "unable to create VM 100 - VM 100 already exists on node 'pve1'").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Map(500, "VM 100 already running").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      Map(500, "detected modified configuration - file changed by other user? Try again.").code(),
      absl::StatusCode::kAborted);
  EXPECT_EQ(Map(500, "mock state namespace 'x' is full").code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(StatusMappingTest, ParameterErrorsTravelAsViolations) {
  absl::Status st =
      Map(400, "Parameter verification failed.",
          R"({"data":null,"errors":{"vmid":"value must have a minimum value of 100\n"}})");
  ASSERT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(st.message()),
            "Parameter verification failed. vmid: value must have a minimum value of 100");
  const std::vector<FieldViolation> violations = FieldViolationsOf(st);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "vmid");
  EXPECT_EQ(violations[0].description, "value must have a minimum value of 100");
}

TEST(StatusMappingTest, ViolationsSurviveOnlyOnTheStatusThatCarriesThem) {
  const absl::Status st =
      InvalidArgumentWithViolations("bad", {{"node", "invalid format"}, {"vmid", "too small"}});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "bad");
  const std::vector<FieldViolation> v = FieldViolationsOf(st);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].field, "node");
  EXPECT_EQ(v[1].description, "too small");
  EXPECT_TRUE(FieldViolationsOf(absl::InvalidArgumentError("plain")).empty());
  // A 200 is OK, and transport-like HTTP numbers are not invented: 408 is just an error.
  EXPECT_TRUE(Map(200, "OK").ok());
  EXPECT_EQ(Map(408, "Request Timeout").code(), absl::StatusCode::kUnknown);
}

TEST(StatusMappingTest, MessageFallsBackToTheBodyThenTheStatus) {
  EXPECT_EQ(Map(500, "", R"({"data":null,"message":"from body\n"})").message(), "from body");
  EXPECT_EQ(Map(502, "", "garbage").message(), "Proxmox answered HTTP 502");
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
  // And a mock answer round-trips into the gateway's status code.
  EXPECT_EQ(StatusFromRest(missing).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusFromRest(bad).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pvegw
