#include "gateway/grpc_log.h"

#include <grpc/support/log.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pvegw::gateway {
namespace {

using ::testing::HasSubstr;

std::vector<boost::json::object> JsonLines(const std::string& text) {
  std::vector<boost::json::object> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    boost::json::error_code ec;
    boost::json::value v =
        boost::json::parse(boost::json::string_view(line.data(), line.size()), ec);
    EXPECT_FALSE(ec) << "not JSON: " << line;
    if (!ec && v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

TEST(GrpcLogTest, GrpcCoreMessagesJoinTheLog) {
  ASSERT_TRUE(log::Configure("log-test", "info", "json").ok());
  ForwardGrpcLogs();
  gpr_log_verbosity_init();  // grpc_init() does this in a server; before it gpr_log is mute
  ::testing::internal::CaptureStderr();
  gpr_log(__FILE__, __LINE__, GPR_LOG_SEVERITY_ERROR, "core says %d", 42);
  const std::string out = ::testing::internal::GetCapturedStderr();
  const auto lines = JsonLines(out);
  ASSERT_EQ(lines.size(), 1u) << out;
  EXPECT_EQ(lines[0].at("level"), "error");
  EXPECT_EQ(lines[0].at("message"), "core says 42");
  EXPECT_EQ(lines[0].at("source"), "grpc");
  EXPECT_THAT(std::string(lines[0].at("file").as_string()), HasSubstr("grpc_log_test.cc:"));
  ASSERT_TRUE(log::Configure("log-test", "info", "text").ok());
}

}  // namespace
}  // namespace pvegw::gateway
