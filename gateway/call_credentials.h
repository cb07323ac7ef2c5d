// Per-call Proxmox credentials from gRPC metadata, and the opaque identity string that
// carries them from Backend::Identity to Backend::CallAs. Header-only: the real-mode backend
// (gateway/upstream) and the gRPC services both use it and neither may link the other.
#ifndef PVEGW_GATEWAY_CALL_CREDENTIALS_H_
#define PVEGW_GATEWAY_CALL_CREDENTIALS_H_

#include <grpcpp/support/string_ref.h>

#include <iterator>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/rest_call.h"

namespace pvegw::gateway {

inline constexpr char kApiTokenPrefix[] = "PVEAPIToken=";
inline constexpr char kTicketMetadata[] = "x-proxmox-ticket";
inline constexpr char kCsrfMetadata[] = "x-proxmox-csrf-token";

namespace call_credentials_internal {

inline absl::string_view View(const grpc::string_ref& s) {
  return absl::string_view(s.data(), s.size());
}

// Visible ASCII only: a space, ';' or ',' would let a value add cookies or header fields.
inline bool HeaderSafe(absl::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ';' || c == ',') return false;
  }
  return true;
}

// "USER@REALM!TOKENID=SECRET", every part non-empty.
inline bool WellFormedToken(absl::string_view value) {
  const auto eq = value.find('=');
  if (eq == absl::string_view::npos || eq + 1 == value.size()) return false;
  const absl::string_view id = value.substr(0, eq);
  const auto at = id.find('@');
  const auto bang = id.find('!');
  // The whole value goes into one header: no space, ';' or ',' anywhere in it.
  return at != absl::string_view::npos && at > 0 && bang != absl::string_view::npos &&
         bang > at + 1 && bang + 1 < id.size() && HeaderSafe(value);
}

}  // namespace call_credentials_internal

// The Proxmox credentials a caller sent as metadata (gRPC keys are lower case): one
// `authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET` value, or `x-proxmox-ticket` (with
// `x-proxmox-csrf-token` for writes). Other `authorization` values (the listener's
// `Bearer ...`) are not Proxmox's and are skipped. Nothing sent: nullopt. Malformed or
// contradictory credentials are UNAUTHENTICATED with a message that never repeats a secret.
inline absl::StatusOr<std::optional<RestCredentials>> CredentialsFromMetadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  using call_credentials_internal::HeaderSafe;
  using call_credentials_internal::View;
  RestCredentials c;
  int tokens = 0;
  auto range = metadata.equal_range("authorization");
  for (auto it = range.first; it != range.second; ++it) {
    absl::string_view v = View(it->second);
    if (!absl::StartsWith(v, kApiTokenPrefix)) continue;
    ++tokens;
    if (!call_credentials_internal::WellFormedToken(v.substr(sizeof(kApiTokenPrefix) - 1))) {
      return absl::UnauthenticatedError(
          "metadata 'authorization' is not 'PVEAPIToken=USER@REALM!TOKENID=SECRET' (the secret "
          "is the token's UUID)");
    }
    c.api_token = std::string(v);
  }
  if (tokens > 1) {
    return absl::UnauthenticatedError(
        "metadata 'authorization' holds more than one PVEAPIToken; send one");
  }
  const auto ticket = metadata.equal_range(kTicketMetadata);
  const auto csrf = metadata.equal_range(kCsrfMetadata);
  if (std::distance(ticket.first, ticket.second) > 1 ||
      std::distance(csrf.first, csrf.second) > 1) {
    return absl::UnauthenticatedError(absl::StrCat("metadata '", kTicketMetadata, "' and '",
                                                   kCsrfMetadata, "' may be sent once each"));
  }
  if (ticket.first != ticket.second) {
    c.ticket = std::string(View(ticket.first->second));
    if (c.ticket.empty() || !HeaderSafe(c.ticket)) {
      return absl::UnauthenticatedError(
          absl::StrCat("metadata '", kTicketMetadata,
                       "' is not a Proxmox ticket (PVE:USER@REALM:..., no spaces, ';' or ',')"));
    }
  }
  if (csrf.first != csrf.second) {
    if (c.ticket.empty()) {
      return absl::UnauthenticatedError(absl::StrCat("metadata '", kCsrfMetadata, "' goes with '",
                                                     kTicketMetadata, "', which is missing"));
    }
    c.csrf_token = std::string(View(csrf.first->second));
    if (!HeaderSafe(c.csrf_token)) {
      return absl::UnauthenticatedError(absl::StrCat(
          "metadata '", kCsrfMetadata, "' is not a CSRF token (no spaces, ';' or ',')"));
    }
  }
  if (!c.api_token.empty() && !c.ticket.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "send either 'authorization: PVEAPIToken=...' or '", kTicketMetadata, "', not both"));
  }
  if (c.api_token.empty() && c.ticket.empty()) return std::nullopt;
  return c;
}

// Credentials as an opaque identity string (it holds the secret: never log it) and back.
// "" is the backend's configured identity.
inline std::string IdentityOf(const std::optional<RestCredentials>& c) {
  if (!c.has_value()) return "";
  if (!c->api_token.empty()) return absl::StrCat("t\n", c->api_token);
  return absl::StrCat("k\n", c->ticket, "\n", c->csrf_token);
}

inline std::optional<RestCredentials> CredentialsOfIdentity(absl::string_view identity) {
  if (absl::ConsumePrefix(&identity, "t\n")) return RestCredentials{std::string(identity), "", ""};
  if (absl::ConsumePrefix(&identity, "k\n")) {
    const auto nl = identity.find('\n');
    RestCredentials c;
    c.ticket = std::string(identity.substr(0, nl));
    if (nl != absl::string_view::npos) c.csrf_token = std::string(identity.substr(nl + 1));
    return c;
  }
  return std::nullopt;
}

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_CALL_CREDENTIALS_H_
