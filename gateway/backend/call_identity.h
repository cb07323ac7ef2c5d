// Who a gRPC call acts as towards Proxmox: the backend's configured identity, or
// credentials the caller brought in its metadata. Holds secrets: its debug form redacts them.
#ifndef PVEGW_GATEWAY_BACKEND_CALL_IDENTITY_H_
#define PVEGW_GATEWAY_BACKEND_CALL_IDENTITY_H_

#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "common/rest_call.h"

namespace pvegw::gateway {

class CallIdentity {
 public:
  // The backend's configured identity (and mock mode's only one).
  CallIdentity() = default;
  explicit CallIdentity(std::optional<RestCredentials> credentials)
      : credentials_(std::move(credentials)) {}

  bool configured() const { return !credentials_.has_value(); }
  // The caller's own credentials; nullopt for the configured identity.
  const std::optional<RestCredentials>& credentials() const { return credentials_; }

  // Equal identities may share work (one task poller for many watchers); different ones
  // never do.
  friend bool operator==(const CallIdentity& a, const CallIdentity& b);
  friend bool operator!=(const CallIdentity& a, const CallIdentity& b) { return !(a == b); }

  // A key that tells identities apart without holding a secret (SHA-256 of the
  // credentials; "" for the configured identity), for maps of shared work.
  std::string ShareKey() const;

  // For logs and test failures: the kind and the user, never a secret
  // ("configured", "token alice@pve!ci", "ticket carol@pve").
  std::string DebugString() const;
  friend std::ostream& operator<<(std::ostream& os, const CallIdentity& id) {
    return os << id.DebugString();
  }

 private:
  std::optional<RestCredentials> credentials_;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_BACKEND_CALL_IDENTITY_H_
