#include "common/log.h"

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pvegw::log {
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

TEST(LogTest, BadLevelOrFormatIsAnError) {
  EXPECT_EQ(Configure("log-test", "loud", "text").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Configure("log-test", "loud", "text").message(), HasSubstr("'loud'"));
  EXPECT_THAT(Configure("log-test", "info", "xml").message(), HasSubstr("text, json"));
  EXPECT_TRUE(Configure("log-test", "off", "text").ok());
  EXPECT_TRUE(Configure("log-test", "debug", "json").ok());
  EXPECT_TRUE(Configure("log-test", "info", "text").ok());
}

TEST(LogTest, JsonIsOneObjectPerLineWithFields) {
  ASSERT_TRUE(Configure("log-test", "debug", "json").ok());
  ::testing::internal::CaptureStderr();
  Log(spdlog::level::warn, "call failed",
      {{"method", "/proxmox.ve.v1.Nodes/GetNodes"},
       {"code", "NOT_FOUND"},
       {"latency_ms", 1.25},
       {"request_id", "r-1"},
       {"error", "line one\nsaid \"no\"\t\x01"}});
  Log(spdlog::level::debug, "call", {{"count", 3}});
  Log(spdlog::level::trace, "below the level", {});
  spdlog::info("plain {} message", "spdlog");
  const std::string out = ::testing::internal::GetCapturedStderr();
  const auto lines = JsonLines(out);
  ASSERT_EQ(lines.size(), 3u) << out;
  const auto& failed = lines[0];
  EXPECT_EQ(failed.at("level"), "warning");
  EXPECT_EQ(failed.at("message"), "call failed");
  EXPECT_EQ(failed.at("method"), "/proxmox.ve.v1.Nodes/GetNodes");
  EXPECT_EQ(failed.at("code"), "NOT_FOUND");
  EXPECT_EQ(failed.at("latency_ms").as_double(), 1.25);
  EXPECT_EQ(failed.at("request_id"), "r-1");
  EXPECT_EQ(failed.at("error"), "line one\nsaid \"no\"\t\x01");
  const std::string time(failed.at("time").as_string());
  EXPECT_TRUE(time.size() == 24 && time[10] == 'T' && time.back() == 'Z') << time;
  EXPECT_EQ(lines[1].at("count").as_int64(), 3);
  EXPECT_EQ(lines[2].at("message"), "plain spdlog message");
  EXPECT_EQ(lines[2].size(), 4u) << "time, level, logger, message";
  ASSERT_TRUE(Configure("log-test", "info", "text").ok());
}

TEST(LogTest, TextAppendsKeyValuePairs) {
  EXPECT_EQ(TextFields({{"method", "/a.B/C"}, {"code", "OK"}, {"latency_ms", 0.5}}),
            "method=/a.B/C code=OK latency_ms=0.5");
  EXPECT_EQ(TextFields({{"error", "has space and \"quotes\"\n"}, {"empty", ""}}),
            "error=\"has space and \\\"quotes\\\"\\n\" empty=\"\"");
  ASSERT_TRUE(Configure("log-test", "info", "text").ok());
  ::testing::internal::CaptureStderr();
  Log(spdlog::level::info, "call", {{"code", "OK"}});
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, HasSubstr(" info call code=OK\n"));
}

}  // namespace
}  // namespace pvegw::log
