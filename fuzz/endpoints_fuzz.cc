// PROXMOX_API_URL (one URL or a comma list of cluster nodes) and
// PROXMOX_API_TLS_FINGERPRINT as the gateway reads them: endpoints or a clear error.
#include <cstdint>
#include <string>

#include "gateway/upstream/https_client.h"
#include "gateway/upstream/upstream_backend.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto endpoints = pvegw::gateway::upstream::ParseEndpoints(text);
  if (endpoints.ok()) {
    for (const auto& e : *endpoints) (void)e.Url();
  }
  (void)pvegw::gateway::upstream::ParseSha256Fingerprint(text);
  return 0;
}
