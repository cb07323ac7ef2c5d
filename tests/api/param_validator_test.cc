#include "api/param_validator.h"

#include "gtest/gtest.h"

namespace pvegw::api {
namespace {

TEST(ParamValidatorTest, ProxmoxBooleans) {
  for (const char* t : {"1", "true", "YES", "on"}) EXPECT_EQ(ParseProxmoxBool(t), true) << t;
  for (const char* f : {"0", "False", "no", "OFF"}) EXPECT_EQ(ParseProxmoxBool(f), false) << f;
  EXPECT_FALSE(ParseProxmoxBool("maybe").has_value());
}

TEST(ParamValidatorTest, PerlPatternsAreAnchoredAndUnderstood) {
  EXPECT_TRUE(MatchesProxmoxPattern("(?^i:[a-z][a-z0-9_]*)", "Web01"));
  EXPECT_FALSE(MatchesProxmoxPattern("[a-z]+", "abc1")) << "anchored at both ends";
  EXPECT_TRUE(MatchesProxmoxPattern("[0-9a-fA-F]{8,64}", "deadbeef"));
  // A pattern that cannot compile, or explodes, never rejects (Proxmox judges those).
  EXPECT_TRUE(MatchesProxmoxPattern("(unclosed", "x"));
  EXPECT_TRUE(MatchesProxmoxPattern("(a*)*b", std::string(50000, 'a')));
}

}  // namespace
}  // namespace pvegw::api
