#include "common/cli_help.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "gtest/gtest.h"

ABSL_FLAG(int, cli_help_test_flag, 1, "A flag defined in this file.");

namespace pvegw {
namespace {

// pve-loadgen refuses flags of other files with this check; absl cuts the leading '/' off
// the file name, so a build from an absolute path must still find its own flags.
TEST(FlagDefinedInTest, FindsTheFileWhetherThePathIsAbsoluteOrRelative) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag("cli_help_test_flag");
  ASSERT_NE(flag, nullptr);
  EXPECT_TRUE(FlagDefinedIn(*flag, __FILE__));
  const std::string reported = flag->Filename();
  EXPECT_TRUE(FlagDefinedIn(*flag, "/" + reported));
  EXPECT_TRUE(FlagDefinedIn(*flag, "/some/checkout/" + reported));
  EXPECT_FALSE(FlagDefinedIn(*flag, "/src/bench/loadgen.cc"));
  EXPECT_FALSE(FlagDefinedIn(*flag, "other_test.cc"));
}

}  // namespace
}  // namespace pvegw
