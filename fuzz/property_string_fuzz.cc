// Property strings (net0=..., scsi0=...) and Proxmox's named string formats, as the mock and
// the gateway validate every request with them: any value gets an answer, never a crash.
// The first byte picks what is fuzzed: a value against a fixed format, a value against a
// named format, or the format JSON itself.
#include <cstdint>
#include <iterator>
#include <string>

#include "api/property_string.h"
#include "tests/testing/property_formats.h"

namespace {

constexpr const char* kFormats[] = {"mac-addr",      "pve-userid",
                                    "pve-configid",  "pve-storage-id",
                                    "pve-node",      "ipv4",
                                    "ipv6",          "ip",
                                    "ipv4-cidr",     "ipv6-cidr",
                                    "CIDR",          "dns-name",
                                    "address",       "email",
                                    "disk-size",     "pve-vmid",
                                    "pve-bridge-id", "pve-tokenid",
                                    "pve-poolid",    "pve-groupid",
                                    "pve-vmid-list", "pve-configid-opt",
                                    "urlencoded",    "pve-realm",
                                    "no-such-format"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string value(reinterpret_cast<const char*>(data) + 1, size - 1);
  static const auto net = pvegw::api::ParsePropertyFormat(pvegw::testing::kNetFormat);
  static const auto drive = pvegw::api::ParsePropertyFormat(pvegw::testing::kDriveFormat);
  switch (data[0] % 4) {
    case 0:
      if (net.ok()) {
        (void)pvegw::api::SplitPropertyString(**net, value);
        (void)pvegw::api::CheckPropertyString(**net, value, "net0");
      }
      break;
    case 3:
      if (drive.ok()) {
        (void)pvegw::api::SplitPropertyString(**drive, value);
        (void)pvegw::api::CheckPropertyString(**drive, value, "scsi0");
      }
      break;
    case 1:
      (void)pvegw::api::FormatError(kFormats[data[0] / 4 % std::size(kFormats)], value);
      break;
    default:
      if (auto format = pvegw::api::ParsePropertyFormat(value); format.ok()) {
        (void)pvegw::api::CheckPropertyString(**format, "a=1,b=x", "p");
      }
      break;
  }
  return 0;
}
