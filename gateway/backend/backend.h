// Where REST calls go: the mock world or a real Proxmox host (DESIGN.md §2). The gRPC
// services and the task pollers see only this interface; gateway/main.cc picks the one.
#ifndef PVEGW_GATEWAY_BACKEND_BACKEND_H_
#define PVEGW_GATEWAY_BACKEND_BACKEND_H_

#include <grpcpp/support/string_ref.h>

#include <functional>
#include <map>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/rest_call.h"
#include "gateway/backend/call_identity.h"

namespace proxmox::gateway::v1 {
class GetInfoResponse;
}  // namespace proxmox::gateway::v1

namespace pvegw::metrics {
class Registry;
}  // namespace pvegw::metrics

namespace pvegw::gateway {

// A backend's answer: Proxmox's (any HTTP status, mapped by StatusFromRest), or a failure
// that never produced one (UNAVAILABLE: cannot connect, TLS, the node went away;
// DEADLINE_EXCEEDED; CANCELLED; RESOURCE_EXHAUSTED: queue full; UNAUTHENTICATED: login
// refused ...), with a message that says what happened.
using RestResult = absl::StatusOr<RestResponse>;
using RestCallback = std::function<void(RestResult)>;

// Completes every call exactly once through `done`, possibly on another thread. Never
// blocks a gRPC thread waiting for the network.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual void Call(RestRequest request, RestCallback done) = 0;
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

  // The identity a gRPC call acts as, from its client metadata (lower-case keys, e.g.
  // "authorization"). The default (and mock mode's only identity) is the backend's
  // configured one; unusable credentials are UNAUTHENTICATED.
  virtual absl::StatusOr<CallIdentity> Identity(
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
    (void)metadata;
    return CallIdentity();
  }

  // Call() made as `identity` (from Identity()). Backends with a single identity need not
  // override it.
  virtual void CallAs(const CallIdentity& identity, RestRequest request, RestCallback done) {
    (void)identity;
    Call(std::move(request), std::move(done));
  }
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_BACKEND_BACKEND_H_
