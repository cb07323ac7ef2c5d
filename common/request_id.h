// Request ids (x-request-id): what the gateway accepts from a caller and sends on to
// Proxmox as X-Request-ID, so one id follows a call through every log.
#ifndef PVEGW_COMMON_REQUEST_ID_H_
#define PVEGW_COMMON_REQUEST_ID_H_

#include <cstddef>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace pvegw {

inline constexpr std::size_t kMaxRequestIdBytes = 128;

// Short and made only of characters safe in any log line and HTTP header:
// at most kMaxRequestIdBytes of [A-Za-z0-9-_.:/+=@].
inline bool UsableRequestId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  for (char c : id) {
    const bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                    c == '.' || c == ':' || c == '/' || c == '+' || c == '=' || c == '@';
    if (!ok) return false;
  }
  return true;
}

}  // namespace pvegw

#endif  // PVEGW_COMMON_REQUEST_ID_H_
