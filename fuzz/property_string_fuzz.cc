// Property strings (net0=..., scsi0=...) and Proxmox's named string formats, as the mock and
// the gateway validate every request with them: any value gets an answer, never a crash.
// The first byte picks what is fuzzed: a value against a fixed format, a value against a
// named format, or the format JSON itself.
#include <cstdint>
#include <iterator>
#include <string>

#include "api/property_string.h"

namespace {

constexpr char kNet[] =
    R"({"bridge":{"format":"pve-bridge-id","optional":1,"type":"string"},)"
    R"("e1000":{"alias":"macaddr","keyAlias":"model"},)"
    R"("firewall":{"optional":1,"type":"boolean"},)"
    R"("macaddr":{"format":"mac-addr","optional":1,"type":"string"},)"
    R"("model":{"default_key":1,"enum":["e1000","virtio"],"type":"string"},)"
    R"("mtu":{"maximum":65520,"minimum":1,"optional":1,"type":"integer"},)"
    R"("rate":{"minimum":0,"optional":1,"type":"number"},)"
    R"("size":{"format":"disk-size","optional":1,"type":"string"},)"
    R"("trunks":{"optional":1,"pattern":"\\d+(?:-\\d+)?(?:;\\d+(?:-\\d+)?)*","type":"string"},)"
    R"("virtio":{"alias":"macaddr","keyAlias":"model"}})";

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
  static const auto net = pvegw::api::ParsePropertyFormat(kNet);
  switch (data[0] % 3) {
    case 0:
      if (net.ok()) {
        (void)pvegw::api::SplitPropertyString(**net, value);
        (void)pvegw::api::CheckPropertyString(**net, value, "net0");
      }
      break;
    case 1:
      (void)pvegw::api::FormatError(kFormats[data[0] / 3 % std::size(kFormats)], value);
      break;
    default:
      if (auto format = pvegw::api::ParsePropertyFormat(value); format.ok()) {
        (void)pvegw::api::CheckPropertyString(**format, "a=1,b=x", "p");
      }
      break;
  }
  return 0;
}
