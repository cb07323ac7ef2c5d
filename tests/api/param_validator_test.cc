#include "api/param_validator.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/api/full_api.h"

namespace pvegw::api {
namespace {

using ::testing::HasSubstr;

TEST(ParamValidatorTest, ProxmoxBooleans) {
  for (const char* t : {"1", "true", "YES", "on", " on "}) EXPECT_EQ(ParseBool(t), true) << t;
  for (const char* f : {"0", "False", "no", "OFF"}) EXPECT_EQ(ParseBool(f), false) << f;
  EXPECT_FALSE(ParseBool("maybe").has_value());
  EXPECT_FALSE(ParseBool("").has_value());
}

TEST(ParamValidatorTest, PerlPatternsAreAnchoredAndUnderstood) {
  EXPECT_TRUE(MatchesProxmoxPattern("(?^i:[a-z][a-z0-9_]*)", "Web01"));
  EXPECT_FALSE(MatchesProxmoxPattern("[a-z]+", "abc1")) << "anchored at both ends";
  EXPECT_TRUE(MatchesProxmoxPattern("[0-9a-fA-F]{8,64}", "deadbeef"));
  // A pattern that cannot compile, or explodes, never rejects (Proxmox judges those).
  EXPECT_TRUE(MatchesProxmoxPattern("(unclosed", "x"));
  EXPECT_TRUE(MatchesProxmoxPattern("(a*)*b", std::string(50000, 'a')));
}

// ValidateParams against the real PVE API's operations, as both the gateway and the mock
// run it on every call.
class ValidateParamsTest : public ::testing::Test {
 protected:
  static ValidatedParams Validate(const char* verb, const char* path, const RestParams& params) {
    auto route = testing::FullApi().Match(verb, path);
    EXPECT_TRUE(route.ok()) << route.status();
    return ValidateParams(*route->op, params, route->path_params);
  }
  static std::map<std::string, std::string> ByParam(const ValidatedParams& v) {
    std::map<std::string, std::string> out;
    for (const ParamViolation& p : v.violations) out[p.param] = p.message;
    return out;
  }
};

TEST_F(ValidateParamsTest, ValidCallsComeBackTyped) {
  const ValidatedParams v = Validate("POST", "/nodes/pve1/qemu",
                                     {{"vmid", "100"},
                                      {"name", "web01"},
                                      {"memory", "2048"},
                                      {"onboot", "yes"},
                                      {"net0", "virtio,bridge=vmbr0"},
                                      {"scsi0", "local-lvm:8"}});
  ASSERT_TRUE(v.ok()) << v.violations[0].param << ": " << v.violations[0].message;
  EXPECT_EQ(v.values.at("vmid"), boost::json::value(100));
  EXPECT_EQ(v.values.at("onboot"), boost::json::value(1)) << "booleans as Proxmox spells them";
  EXPECT_EQ(v.values.at("node"), boost::json::value("pve1")) << "path parameters are checked too";
  EXPECT_EQ(v.values.at("net0"), boost::json::value("virtio,bridge=vmbr0"));
}

TEST_F(ValidateParamsTest, EveryViolationIsReportedInProxmoxWords) {
  const ValidatedParams v = Validate("POST", "/nodes/pve1/qemu",
                                     {{"vmid", "5"},
                                      {"ostype", "beos"},
                                      {"onboot", "maybe"},
                                      {"colour", "blue"},
                                      {"net0", "model=nosuchnic"}});
  const auto by = ByParam(v);
  EXPECT_EQ(by.at("vmid"), "value must have a minimum value of 100");
  EXPECT_THAT(by.at("ostype"), HasSubstr("does not have a value in the enumeration"));
  EXPECT_THAT(by.at("onboot"), HasSubstr("type check ('boolean') failed - got 'maybe'"));
  EXPECT_EQ(by.at("colour"),
            "property is not defined in schema and the schema does not allow additional "
            "properties");
  EXPECT_TRUE(by.count("net0")) << "property strings are checked against their format";
  EXPECT_EQ(v.violations.size(), 5u);
}

TEST_F(ValidateParamsTest, MissingRequiredAndRepeatedParameters) {
  auto missing = ByParam(Validate("POST", "/nodes/pve1/qemu", {}));
  EXPECT_EQ(missing.at("vmid"), "property is missing and it is not optional");
  auto twice = ByParam(Validate("POST", "/nodes/pve1/qemu", {{"vmid", "100"}, {"vmid", "101"}}));
  EXPECT_EQ(twice.at("vmid"), "property given more than once");
}

TEST_F(ValidateParamsTest, PathParametersWinOverTheSameNameInTheBody) {
  const ValidatedParams v =
      Validate("GET", "/nodes/pve1/qemu/100/config", {{"node", "elsewhere"}, {"vmid", "7"}});
  ASSERT_TRUE(v.ok()) << v.violations[0].param << ": " << v.violations[0].message;
  EXPECT_EQ(v.values.at("node"), boost::json::value("pve1"));
  EXPECT_EQ(v.values.at("vmid"), boost::json::value(100));
}

}  // namespace
}  // namespace pvegw::api
