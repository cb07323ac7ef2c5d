#include "common/log_limiter.h"

#include <atomic>
#include <boost/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pvegw::log {
namespace {

using ::testing::HasSubstr;
using Clock = LogLimiter::Clock;

std::atomic<std::int64_t> fake_now_ms{0};
Clock::time_point FakeNow() { return Clock::time_point(std::chrono::milliseconds(fake_now_ms)); }

std::vector<boost::json::object> JsonLines(const std::string& text) {
  std::vector<boost::json::object> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    out.push_back(
        boost::json::parse(boost::json::string_view(line.data(), line.size())).as_object());
  }
  return out;
}

class LogLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Configure("limiter-test", "info", "json").ok());
    fake_now_ms = 1'000'000;
    limiter_.SetClockForTest(&FakeNow);
  }
  void TearDown() override { ASSERT_TRUE(Configure("limiter-test", "info", "text").ok()); }

  LogLimiter limiter_{std::chrono::seconds(10)};
};

TEST_F(LogLimiterTest, RepeatsWithinTheWindowBecomeOneCountedLine) {
  ::testing::internal::CaptureStderr();
  const Field fields[] = {{"code", "UNAVAILABLE"}, {"latency_ms", 1.5}};
  EXPECT_TRUE(limiter_.Log(spdlog::level::warn, "k", "call failed", fields));
  for (int i = 0; i < 2311; ++i) {
    fake_now_ms += 1;
    EXPECT_FALSE(limiter_.Log(spdlog::level::warn, "k", "call failed", fields));
  }
  fake_now_ms += 10'000;
  // The next line of any key writes the summary first.
  EXPECT_TRUE(limiter_.Log(spdlog::level::warn, "other", "something else", {}));
  const auto lines = JsonLines(::testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].at("message"), "call failed");
  EXPECT_EQ(lines[1].at("message"), "call failed (and 2,311 more in the last 13 s)");
  EXPECT_EQ(lines[1].at("level"), "warning");
  EXPECT_EQ(lines[1].at("code"), "UNAVAILABLE");
  EXPECT_EQ(lines[1].at("latency_ms").as_double(), 1.5);
  EXPECT_EQ(lines[1].at("repeated").to_number<int>(), 2311);
  EXPECT_EQ(lines[2].at("message"), "something else");
}

TEST_F(LogLimiterTest, KeysAreIndependentAndAQuietKeyStartsAfresh) {
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(limiter_.Log(spdlog::level::warn, "a", "a failed"));
  EXPECT_TRUE(limiter_.Log(spdlog::level::warn, "b", "b failed"));
  EXPECT_FALSE(limiter_.Log(spdlog::level::warn, "a", "a failed"));
  fake_now_ms += 10'000;
  EXPECT_TRUE(limiter_.Log(spdlog::level::warn, "b", "b failed"));  // b held nothing back
  const auto lines = JsonLines(::testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2].at("message"), "a failed (and 1 more in the last 10 s)");
  EXPECT_EQ(lines[3].at("message"), "b failed");
}

TEST_F(LogLimiterTest, FlushWritesPendingCountsAndForgets) {
  ::testing::internal::CaptureStderr();
  limiter_.Log(spdlog::level::warn, "a", "a failed");
  limiter_.Log(spdlog::level::warn, "a", "a failed");
  limiter_.Flush();
  EXPECT_TRUE(limiter_.Log(spdlog::level::warn, "a", "a failed"));
  const auto lines = JsonLines(::testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(std::string(lines[1].at("message").as_string()), HasSubstr("(and 1 more"));
}

TEST_F(LogLimiterTest, DebugLevelKeepsEveryLine) {
  ASSERT_TRUE(Configure("limiter-test", "debug", "json").ok());
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter_.Log(spdlog::level::warn, "k", "same"));
  EXPECT_EQ(JsonLines(::testing::internal::GetCapturedStderr()).size(), 5u);
}

// Many threads failing the same way at once: a bounded number of lines, every repeat counted.
TEST_F(LogLimiterTest, ConcurrentRepeatsAreCountedOnce) {
  ::testing::internal::CaptureStderr();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < 2000; ++i) limiter_.Log(spdlog::level::warn, "k", "same");
    });
  }
  for (auto& t : threads) t.join();
  limiter_.Flush();
  const auto lines = JsonLines(::testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].at("repeated").to_number<int>(), 7999);
}

TEST(WithThousandsTest, GroupsDigits) {
  EXPECT_EQ(WithThousands(0), "0");
  EXPECT_EQ(WithThousands(999), "999");
  EXPECT_EQ(WithThousands(2311), "2,311");
  EXPECT_EQ(WithThousands(1234567), "1,234,567");
}

}  // namespace
}  // namespace pvegw::log
