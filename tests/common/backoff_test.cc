#include "common/backoff.h"

#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pvegw {
namespace {

using std::chrono::milliseconds;

TEST(BackoffScheduleTest, DoublesUpToTheCapAndStartsOver) {
  BackoffSchedule s(milliseconds(1000), milliseconds(30000));
  std::vector<std::int64_t> seen;
  for (int i = 0; i < 8; ++i) seen.push_back(s.Next().count());
  EXPECT_THAT(seen, testing::ElementsAre(1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000));
  s.Reset();
  EXPECT_EQ(s.Next().count(), 1000);
  s.Tighten(milliseconds(500), milliseconds(4000));
  EXPECT_EQ(s.Next().count(), 2000);
  EXPECT_EQ(s.Next().count(), 4000);
  EXPECT_EQ(s.Next().count(), 4000);
}

TEST(BackoffScheduleTest, JitterStaysWithinItsBounds) {
  const milliseconds base(1000);
  EXPECT_EQ(Jittered(base, 0.1, 0.0), milliseconds(900));
  EXPECT_EQ(Jittered(base, 0.1, 0.5), milliseconds(1000));
  EXPECT_LE(Jittered(base, 0.1, 0.999999), milliseconds(1100));
  EXPECT_EQ(Jittered(base, 0.0, 0.7), milliseconds(1000));
}

TEST(BackoffTest, ExponentialDelayDoublesToItsCap) {
  EXPECT_EQ(ExponentialDelay(milliseconds(100), milliseconds(2000), 0), milliseconds(100));
  EXPECT_EQ(ExponentialDelay(milliseconds(100), milliseconds(2000), 3), milliseconds(800));
  EXPECT_EQ(ExponentialDelay(milliseconds(100), milliseconds(2000), 5), milliseconds(2000));
  // Far past the cap: no overflow, still the cap.
  EXPECT_EQ(ExponentialDelay(milliseconds(1000), milliseconds(30000), 1000), milliseconds(30000));
  EXPECT_EQ(ExponentialDelay(milliseconds(0), milliseconds(30000), 3), milliseconds(0));
}

TEST(BackoffTest, FullJitterSpansZeroToTheCeiling) {
  EXPECT_EQ(FullJitter(milliseconds(800), 0.0), milliseconds(0));
  EXPECT_EQ(FullJitter(milliseconds(800), 0.5), milliseconds(400));
  EXPECT_LT(FullJitter(milliseconds(800), 0.999999), milliseconds(800));
  EXPECT_EQ(FullJitter(milliseconds(800), 7.0), milliseconds(800)) << "u is clamped";
}

}  // namespace
}  // namespace pvegw
