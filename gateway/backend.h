// Where REST calls go: the mock world or a real Proxmox host (DESIGN.md §2).
#ifndef PVEGW_GATEWAY_BACKEND_H_
#define PVEGW_GATEWAY_BACKEND_H_

#include <grpcpp/support/string_ref.h>

#include <functional>
#include <map>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/rest_call.h"
#include "proxmox/gateway/v1/gateway.pb.h"

namespace pvegw::metrics {
class Registry;
}  // namespace pvegw::metrics

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
  // Adds this backend's metrics (read at scrape time; never a secret). The backend must
  // outlive every scrape of `registry`.
  virtual void RegisterMetrics(metrics::Registry& /*registry*/) {}

  // The upstream identity a gRPC call acts as, derived from its client metadata (lower-case
  // keys, e.g. "authorization"): an opaque string that may hold a secret (never log it).
  // "" (the default, and mock mode's only identity) means the backend's configured
  // credentials; unusable credentials are UNAUTHENTICATED. Work shared between calls (one task
  // poller for many watchers) is shared only within one identity.
  virtual absl::StatusOr<std::string> Identity(
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
    (void)metadata;
    return std::string();
  }

  // Call() made as `identity` (from Identity()). Backends with a single identity need not
  // override it.
  virtual void CallAs(const std::string& identity, RestRequest request,
                      std::function<void(RestResponse)> done) {
    (void)identity;
    Call(std::move(request), std::move(done));
  }
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_BACKEND_H_
