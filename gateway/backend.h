// Where REST calls go: the mock world or a real Proxmox host (DESIGN.md §2).
#ifndef PVEGW_GATEWAY_BACKEND_H_
#define PVEGW_GATEWAY_BACKEND_H_

#include <functional>
#include <string>

#include "common/rest_call.h"
#include "proxmox/gateway/v1/gateway.pb.h"

namespace pvegw::gateway {

// Completes every call exactly once through `done`, possibly on another thread. Never
// blocks a gRPC thread waiting for the network.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual void Call(RestRequest request, std::function<void(RestResponse)> done) = 0;
  virtual std::string mode() const = 0;
  // Whether the Proxmox behind this backend answers (health service
  // proxmox.gateway.v1.Upstream). `listener` may run on any thread, now and on every
  // change; the default backend is always reachable.
  virtual void SetHealthListener(std::function<void(bool serving)> listener) { listener(true); }
  // Adds what GetInfo reports about this backend (never a secret).
  virtual void AddInfo(proxmox::gateway::v1::GetInfoResponse& /*info*/) const {}
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_BACKEND_H_
