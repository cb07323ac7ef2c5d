#include "gateway/backend/call_credentials.h"

#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace pvegw::gateway {

namespace {

absl::string_view View(const grpc::string_ref& s) { return absl::string_view(s.data(), s.size()); }

// Visible ASCII only: a space, ';' or ',' would let a value add cookies or header fields.
bool HeaderSafe(absl::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ';' || c == ',') return false;
  }
  return true;
}

// "USER@REALM!TOKENID=SECRET", every part non-empty.
bool WellFormedToken(absl::string_view value) {
  const auto eq = value.find('=');
  if (eq == absl::string_view::npos || eq + 1 == value.size()) return false;
  const absl::string_view id = value.substr(0, eq);
  const auto at = id.find('@');
  const auto bang = id.find('!');
  // The whole value goes into one header: no space, ';' or ',' anywhere in it.
  return at != absl::string_view::npos && at > 0 && bang != absl::string_view::npos &&
         bang > at + 1 && bang + 1 < id.size() && HeaderSafe(value);
}

}  // namespace

absl::StatusOr<std::optional<RestCredentials>> CredentialsFromMetadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  RestCredentials c;
  int tokens = 0;
  auto range = metadata.equal_range("authorization");
  for (auto it = range.first; it != range.second; ++it) {
    absl::string_view v = View(it->second);
    if (!absl::StartsWith(v, kApiTokenPrefix)) continue;
    ++tokens;
    if (!WellFormedToken(v.substr(sizeof(kApiTokenPrefix) - 1))) {
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

}  // namespace pvegw::gateway
