// Where REST calls go: the mock world or a real Proxmox host (DESIGN.md §2).
#ifndef PVEGW_GATEWAY_BACKEND_H_
#define PVEGW_GATEWAY_BACKEND_H_

#include <functional>
#include <string>

#include "common/rest_call.h"

namespace pvegw::gateway {

// Completes every call exactly once through `done`, possibly on another thread. Never
// blocks a gRPC thread waiting for the network.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual void Call(RestRequest request, std::function<void(RestResponse)> done) = 0;
  virtual std::string mode() const = 0;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_BACKEND_H_
