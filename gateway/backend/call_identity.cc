#include "gateway/backend/call_identity.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace pvegw::gateway {
namespace {

constexpr absl::string_view kTokenPrefix = "PVEAPIToken=";

}  // namespace

bool operator==(const CallIdentity& a, const CallIdentity& b) {
  if (a.configured() || b.configured()) return a.configured() == b.configured();
  const RestCredentials& x = *a.credentials_;
  const RestCredentials& y = *b.credentials_;
  return x.api_token == y.api_token && x.ticket == y.ticket && x.csrf_token == y.csrf_token;
}

std::string CallIdentity::ShareKey() const {
  if (configured()) return "";
  // Length-prefixed parts, so no two different credentials hash the same input.
  const std::string input = absl::StrCat(
      credentials_->api_token.size(), ":", credentials_->api_token, credentials_->ticket.size(),
      ":", credentials_->ticket, credentials_->csrf_token.size(), ":", credentials_->csrf_token);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

std::string CallIdentity::DebugString() const {
  if (configured()) return "configured";
  if (!credentials_->api_token.empty()) {
    absl::string_view v = credentials_->api_token;
    if (absl::StartsWith(v, kTokenPrefix)) v.remove_prefix(kTokenPrefix.size());
    return absl::StrCat("token ", v.substr(0, v.find('=')));
  }
  // A ticket is "PVE:USER@REALM:HEX::SIGNATURE": the user is not a secret.
  absl::string_view t = credentials_->ticket;
  const auto first = t.find(':');
  if (first == absl::string_view::npos) return "ticket";
  t.remove_prefix(first + 1);
  return absl::StrCat("ticket ", t.substr(0, t.find(':')));
}

}  // namespace pvegw::gateway
