// One Proxmox REST call and its answer, as every Backend sees them (DESIGN.md §2).
#ifndef PVEGW_COMMON_REST_CALL_H_
#define PVEGW_COMMON_REST_CALL_H_

#include <string>
#include <utility>
#include <vector>

namespace pvegw {

// Proxmox parameters are strings on the wire (query string or form body). A key may
// repeat: array parameters are sent once per element.
using RestParams = std::vector<std::pair<std::string, std::string>>;

struct RestRequest {
  std::string verb;  // GET, POST, PUT, DELETE
  std::string path;  // concrete, under /api2/json: "/nodes/pve1/qemu/100/config"
  RestParams params;
  // The gRPC call's request id (x-request-id), for the upstream's logs; may be empty. (The
  // initializer keeps RestRequest{verb, path, params} warning-free.)
  std::string request_id = {};
};

// What Proxmox answers: an HTTP status, the reason phrase (Proxmox puts its error text
// there) and the JSON body {"data": ...} (on errors {"data": null, "message": ...,
// "errors": {param: text}}).
struct RestResponse {
  int status = 200;
  std::string reason = "OK";
  std::string body = "{\"data\":null}";
};

}  // namespace pvegw

#endif  // PVEGW_COMMON_REST_CALL_H_
