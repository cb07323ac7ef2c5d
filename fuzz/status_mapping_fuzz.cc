// StatusFromRest: any Proxmox or proxy answer (status, reason phrase, body) becomes a
// grpc::Status; the body is JSON from the network, with `errors` turned into a BadRequest.
// Input: 2 bytes of HTTP status, the reason up to the first newline, then the body.
#include <cstdint>
#include <string>

#include "common/rest_call.h"
#include "common/status_mapping.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  pvegw::RestResponse response;
  // Mostly the statuses that matter, sometimes anything (0 to 65535).
  static const int kStatuses[] = {200, 400, 401, 403, 404, 500, 501, 502, 503, 595, 596};
  const int selector = data[0] | (data[1] << 8);
  response.status = selector < 0x8000 ? kStatuses[selector % std::size(kStatuses)] : selector;
  const std::string rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::size_t nl = rest.find('\n');
  response.reason = rest.substr(0, nl);
  response.body = nl == std::string::npos ? "" : rest.substr(nl + 1);
  (void)pvegw::StatusFromRest(response);
  return 0;
}
