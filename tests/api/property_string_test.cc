#include "api/property_string.h"

#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/property_formats.h"

namespace pvegw::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

constexpr const char* kNet = ::pvegw::testing::kNetFormat;
constexpr const char* kDrive = ::pvegw::testing::kDriveFormat;

std::optional<std::string> Check(const char* format_json, const std::string& value,
                                 const std::string& param = "net0") {
  absl::StatusOr<std::shared_ptr<const PropertyFormat>> format = ParsePropertyFormat(format_json);
  EXPECT_TRUE(format.ok()) << format.status();
  if (!format.ok()) return "unparsable format";
  return CheckPropertyString(**format, value, param);
}

TEST(PropertyStringTest, ValidStringsPass) {
  EXPECT_EQ(Check(kNet, "virtio"), std::nullopt);
  EXPECT_EQ(Check(kNet, "virtio,bridge=vmbr0"), std::nullopt);
  EXPECT_EQ(Check(kNet, "model=e1000,bridge=vmbr0,firewall=1,mtu=1500,rate=12.5"), std::nullopt);
  EXPECT_EQ(Check(kNet, "virtio=BC:24:11:00:01:00,bridge=vmbr0,firewall=1"), std::nullopt)
      << "an alias key stores the MAC and names the model";
  EXPECT_EQ(Check(kNet, "virtio,firewall=yes"), std::nullopt) << "booleans as parse_boolean";
  EXPECT_EQ(Check(kNet, "virtio,trunks=10;20-30"), std::nullopt);
  EXPECT_EQ(Check(kNet, "virtio,,bridge=vmbr0, "), std::nullopt) << "empty parts are skipped";
  EXPECT_EQ(Check(kDrive, "local-lvm:vm-100-disk-0,size=32G", "scsi0"), std::nullopt);
  EXPECT_EQ(Check(kDrive, "local-lvm:8", "scsi0"), std::nullopt);
  EXPECT_EQ(Check(kDrive, "none", "scsi0"), std::nullopt);
  EXPECT_EQ(Check(kDrive, "/dev/sdb", "scsi0"), std::nullopt);
}

TEST(PropertyStringTest, DefaultKeyValueIsChecked) {
  EXPECT_THAT(Check(kNet, "garbage"),
              Optional(std::string("invalid format - format error\nnet0.model: value 'garbage' "
                                   "does not have a value in the enumeration 'e1000, virtio'\n")));
  EXPECT_THAT(Check(kDrive, "nonsense", "scsi0"),
              Optional(std::string("invalid format - format error\nscsi0.file: invalid format - "
                                   "unable to parse volume ID 'nonsense'\n\n")));
}

TEST(PropertyStringTest, StructuralErrorsUseProxmoxWording) {
  for (const auto& [value, error] : std::vector<std::pair<std::string, std::string>>{
           {"virtio,colour=red", "invalid key in comma-separated list property: colour"},
           {"virtio,bridge=vmbr0,bridge=vmbr1",
            "duplicate key in comma-separated list property: bridge"},
           {"virtio,e1000", "duplicate key in comma-separated list property: model"},
           {"model=virtio,e1000", "duplicate key in comma-separated list property: model"},
           {"virtio,bridge=", "missing key in comma-separated list property"},
           {"model=virtio,e1000=BC:24:11:00:00:01", "key alias 'model' is already defined"}}) {
    EXPECT_EQ(Check(kNet, value), absl::StrCat("invalid format - ", error, "\n")) << value;
  }
  EXPECT_EQ(Check(R"({"cpus":{"type":"string"}})", "0-3", "numa0"),
            "invalid format - value without key, but schema does not define a default key\n");
}

TEST(PropertyStringTest, RequiredKeysAndPerKeyRules) {
  for (const auto& [value, error] : std::vector<std::pair<std::string, std::string>>{
           {"bridge=vmbr0", "net0.model: property is missing and it is not optional"},
           {"virtio,firewall=maybe", "net0.firewall: type check ('boolean') failed - got 'maybe'"},
           {"virtio,mtu=1.5", "net0.mtu: type check ('integer') failed - got '1.5'"},
           {"virtio,mtu=70000", "net0.mtu: value must have a maximum value of 65520"},
           {"virtio,rate=-1", "net0.rate: value must have a minimum value of 0"},
           {"virtio,trunks=a;b", "net0.trunks: value does not match the regex pattern"},
           {"virtio=01:00:00:00:00:00",
            "net0.macaddr: invalid format - value does not look like a valid unicast MAC address"},
           {"virtio,bridge=vm br0", "net0.bridge: invalid format - invalid bridge ID 'vm br0'"}}) {
    EXPECT_THAT(Check(kNet, value), Optional(HasSubstr(error))) << value;
  }
  EXPECT_THAT(
      Check(kDrive, "local:iso/x.iso,format=raw", "ide2"),
      Optional(HasSubstr("ide2.size: missing property - 'ide2.format' requires this property")));
  // Several errors: all of them, one line each, by path.
  EXPECT_THAT(Check(kNet, "virtio,mtu=0,rate=x"),
              Optional(std::string("invalid format - format error\n"
                                   "net0.mtu: value must have a minimum value of 1\n"
                                   "net0.rate: type check ('number') failed - got 'x'\n")));
}

TEST(PropertyStringTest, SplitResolvesAliasesAndDefaultKey) {
  auto format = ParsePropertyFormat(kNet);
  ASSERT_TRUE(format.ok());
  auto parts = SplitPropertyString(**format, "virtio=BC:24:11:00:01:00,bridge=vmbr0,firewall=on");
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->at("model"), "virtio");
  EXPECT_EQ(parts->at("macaddr"), "BC:24:11:00:01:00");
  EXPECT_EQ(parts->at("firewall"), "1");
  EXPECT_EQ((*format)->default_key, "model");
}

TEST(PropertyStringTest, MalformedFormatObjectsAreErrors) {
  EXPECT_FALSE(ParsePropertyFormat("not json").ok());
  EXPECT_FALSE(ParsePropertyFormat("[1,2]").ok());
  EXPECT_FALSE(ParsePropertyFormat(R"({"a":1})").ok());
}

TEST(FormatErrorTest, NamedFormatsUseTheirValidatorsWording) {
  constexpr std::nullopt_t kValid = std::nullopt;
  for (const auto& [format, value, error] :
       std::vector<std::tuple<std::string, std::string, std::optional<std::string>>>{
           {"pve-node", "pve1", kValid},
           {"pve-node", "-bad", "value does not look like a valid node name"},
           {"pve-userid", "bob", "value 'bob' does not look like a valid user name"},
           {"pve-userid", "root@pam", kValid},
           {"pve-storage-id", "local-lvm", kValid},
           {"pve-storage-id", "1x", "storage ID '1x' contains illegal characters"},
           {"pve-configid", "net0", kValid},
           {"ipv4", "10.0.0.300", "value does not look like a valid IPv4 address"},
           {"CIDRv4", "10.0.0.0/24", kValid},
           {"CIDRv4", "10.0.0.0/4", "value does not look like a valid IPv4 CIDR network"},
           {"pve-ipv4-config", "dhcp", kValid},
           {"disk-size", "8G", kValid},
           {"disk-size", "8X", "value does not look like a valid disk size: 8X"},
           {"pve-node-list", "pve1,pve2;pve3", kValid},
           {"pve-node-list", "pve1,-x", "value does not look like a valid node name"},
           {"pve-node-opt", "", kValid},
           {"some-unknown-format", "anything", kValid}}) {
    EXPECT_EQ(FormatError(format, value), error) << format << " " << value;
  }
}

}  // namespace
}  // namespace pvegw::api
