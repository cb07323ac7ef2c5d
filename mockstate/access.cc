// Access control as pve-mock enforces it: logins and tickets, CSRF tokens, passwords and API
// tokens (PROXMOX-WIRE §3). ACLs are not evaluated: an authenticated user may do anything.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "mockstate/backend_impl.h"

namespace pvegw::mockstate {
namespace {

constexpr std::int64_t kClockSkewS = 300;  // Proxmox's $auth_graceperiod
constexpr char kTicketPrefix[] = "PVE:";

std::string Hex(const unsigned char* data, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) absl::StrAppend(&out, absl::Hex(data[i], absl::kZeroPad2));
  return out;
}

std::string RandomHex(std::size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(bytes)) != 1) {
    // RAND_bytes fails only without an entropy source; fall back to the clock, never to a
    // constant, so two worlds never share a key.
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    for (std::size_t i = 0; i < bytes; ++i) buffer[i] = static_cast<unsigned char>(t >> (i % 8));
  }
  return Hex(buffer.data(), bytes);
}

// A random (version 4) UUID, the form of Proxmox's token secrets.
std::string RandomUuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    const std::string fallback = RandomHex(16);
    for (int i = 0; i < 16; ++i) b[i] = static_cast<unsigned char>(fallback[i]);
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  const std::string h = Hex(b, sizeof(b));
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-",
                      h.substr(16, 4), "-", h.substr(20));
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return Hex(md, sizeof(md));
}

// Unpadded base64 of HMAC-SHA256(key, data): 43 characters, like Proxmox's CSRF tokens.
std::string HmacBase64(absl::string_view key, absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  int n = EVP_EncodeBlock(b64, md, static_cast<int>(len));
  while (n > 0 && b64[n - 1] == '=') --n;
  return std::string(reinterpret_cast<char*>(b64), static_cast<std::size_t>(n));
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string HexTime(std::int64_t t) {
  std::string s = absl::StrCat(absl::Hex(t, absl::kZeroPad8));
  return absl::AsciiStrToUpper(s);
}

std::optional<std::int64_t> ParseHexTime(absl::string_view s) {
  if (s.size() != 8) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 16 + (absl::ascii_isdigit(static_cast<unsigned char>(c))
                      ? c - '0'
                      : absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10);
  }
  return v;
}

// Colons inside the user id are percent-encoded in a ticket (Proxmox's assemble_ticket).
std::string EncodeTicketData(absl::string_view userid) {
  std::string out;
  for (char c : userid) {
    if (c == ':') {
      out += "%3A";
    } else if (c == '%') {
      out += "%25";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> DecodeTicketData(absl::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const std::string hex(s.substr(i + 1, 2));
    int v = 0;
    if (!absl::SimpleHexAtoi(hex, &v)) return std::nullopt;
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

// A Proxmox user id: name@realm, at most 64 characters, no spaces or colons in the realm.
bool ValidUserid(absl::string_view userid) {
  const std::size_t at = userid.rfind('@');
  if (at == absl::string_view::npos || at == 0 || at + 1 >= userid.size()) return false;
  if (userid.size() > 64) return false;
  for (char c : userid) {
    if (c == ':' || c == '/' || c == '!' || absl::ascii_isspace(static_cast<unsigned char>(c)) ||
        static_cast<unsigned char>(c) < 0x20) {
      return false;
    }
  }
  return true;
}

std::string PasswordKey(absl::string_view userid) {
  return MetaKey(absl::StrCat("password", std::string(1, kSep), userid));
}
std::string TokenSecretKey(absl::string_view userid, absl::string_view tokenid) {
  return MetaKey(
      absl::StrCat("token", std::string(1, kSep), userid, std::string(1, kSep), tokenid));
}
std::string TokenSecretPrefix(absl::string_view userid) {
  return MetaKey(absl::StrCat("token", std::string(1, kSep), userid, std::string(1, kSep)));
}
std::string TokenCollection(absl::string_view userid) {
  return absl::StrCat("/access/users/", userid, "/token");
}

std::string HashPassword(absl::string_view password) {
  const std::string salt = RandomHex(16);
  return absl::StrCat(salt, ":", Sha256Hex(absl::StrCat(salt, password)));
}

bool PasswordMatches(absl::string_view stored, absl::string_view password) {
  const std::size_t colon = stored.find(':');
  if (colon == absl::string_view::npos) return false;
  return ConstantTimeEquals(stored.substr(colon + 1),
                            Sha256Hex(absl::StrCat(stored.substr(0, colon), password)));
}

// The UI capability map Proxmox answers a login with (RE compute_api_permission): every
// privilege, since pve-mock grants everything. All seven keys are always present.
json::object FullCapabilities() {
  static const std::vector<std::pair<const char*, std::vector<const char*>>> kCaps = {
      {"vms",
       {"VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU",
        "VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory",
        "VM.Config.Network", "VM.Config.Options", "VM.Console", "VM.Migrate", "VM.Monitor",
        "VM.PowerMgmt", "VM.Snapshot", "VM.Snapshot.Rollback", "Permissions.Modify"}},
      {"access", {"Group.Allocate", "User.Modify", "Permissions.Modify"}},
      {"storage",
       {"Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate",
        "Datastore.Audit", "Permissions.Modify"}},
      {"nodes",
       {"Sys.Audit", "Sys.Console", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog",
        "Permissions.Modify"}},
      {"sdn", {"SDN.Allocate", "SDN.Audit", "SDN.Use", "Permissions.Modify"}},
      {"dc", {"Sys.Audit", "Sys.Modify", "SDN.Allocate", "SDN.Audit", "SDN.Use"}},
      {"mapping", {"Mapping.Audit", "Mapping.Modify", "Mapping.Use", "Permissions.Modify"}},
  };
  json::object cap;
  for (const auto& [group, privs] : kCaps) {
    json::object g;
    for (const char* p : privs) g[p] = 1;
    cap[group] = std::move(g);
  }
  return cap;
}

absl::Status AuthFailure() { return HttpError(401, "authentication failure"); }

}  // namespace

absl::StatusOr<std::string> MockBackend::Impl::Secret(absl::string_view name) {
  const std::string key = MetaKey(absl::StrCat("secret", std::string(1, kSep), name));
  std::optional<std::string> value;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
    if (auto raw = txn.Get(key)) value = std::string(*raw);
    return absl::OkStatus();
  }));
  if (value) return *value;
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    if (auto raw = txn.Get(key)) {  // another process made it first
      value = std::string(*raw);
      return absl::OkStatus();
    }
    value = RandomHex(32);
    return txn.Put(key, *value);
  }));
  return *value;
}

bool MockBackend::Impl::UserActive(ReadTxn& txn, absl::string_view userid,
                                   std::int64_t now_s) const {
  std::optional<json::object> user = GetEntity(txn, "/access/users", userid);
  if (!user) return false;
  if (IntOf(*user, "enable", 1) == 0) return false;
  const std::int64_t expire = IntOf(*user, "expire", 0);
  return expire == 0 || expire > now_s;
}

absl::Status MockBackend::Impl::SeedAccess(WriteTxn& txn) {
  return txn.Put(PasswordKey("root@pam"), HashPassword(kDefaultRootPassword));
}

absl::Status MockBackend::Impl::SetPassword(absl::string_view userid, absl::string_view password) {
  if (!ValidUserid(userid)) {
    return absl::InvalidArgumentError(absl::StrCat("'", userid, "' is not a user id (user@realm)"));
  }
  return store_->Write(
      [&](WriteTxn& txn) { return txn.Put(PasswordKey(userid), HashPassword(password)); });
}

absl::StatusOr<MockBackend::Identity> MockBackend::Impl::VerifyTicket(absl::string_view ticket) {
  const absl::Status failed = absl::UnauthenticatedError("Authentication failed!");
  // PVE:<userid>:<TIME>::<SIG>
  if (!absl::StartsWith(ticket, kTicketPrefix) || ticket.size() > 1024) return failed;
  const std::size_t sep = ticket.find("::");
  if (sep == absl::string_view::npos) return failed;
  const absl::string_view data = ticket.substr(0, sep);
  const absl::string_view signature = ticket.substr(sep + 2);
  const std::size_t time_colon = data.rfind(':');
  if (time_colon == absl::string_view::npos || time_colon < 4) return failed;
  std::optional<std::int64_t> created = ParseHexTime(data.substr(time_colon + 1));
  std::optional<std::string> userid = DecodeTicketData(data.substr(4, time_colon - 4));
  if (!created || !userid) return failed;
  PVEGW_ASSIGN_OR_RETURN(std::string key, Secret("ticket"));
  if (!ConstantTimeEquals(signature, HmacBase64(key, data))) return failed;
  const std::int64_t now_s = Now() / 1000;
  const std::int64_t age = now_s - *created;
  if (age <= -kClockSkewS || age >= options_.ticket_lifetime_s) return failed;
  bool active = false;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
    active = UserActive(txn, *userid, now_s);
    return absl::OkStatus();
  }));
  if (!active) return failed;
  return MockBackend::Identity{*userid, ""};
}

bool MockBackend::Impl::VerifyCsrfToken(absl::string_view token, absl::string_view userid) {
  const std::size_t colon = token.find(':');
  if (colon != 8 || token.size() > 128) return false;
  std::optional<std::int64_t> created = ParseHexTime(token.substr(0, 8));
  if (!created) return false;
  absl::StatusOr<std::string> key = Secret("csrf");
  if (!key.ok()) return false;
  if (!ConstantTimeEquals(token.substr(9),
                          HmacBase64(*key, absl::StrCat(token.substr(0, 8), ":", userid)))) {
    return false;
  }
  const std::int64_t age = Now() / 1000 - *created;
  return age > -kClockSkewS && age < options_.ticket_lifetime_s;
}

absl::StatusOr<MockBackend::Identity> MockBackend::Impl::VerifyApiToken(
    absl::string_view full_tokenid, absl::string_view secret) {
  const absl::Status failed = absl::UnauthenticatedError("Authentication failed!");
  const std::size_t bang = full_tokenid.find('!');
  if (bang == absl::string_view::npos || full_tokenid.size() > 256) return failed;
  const absl::string_view userid = full_tokenid.substr(0, bang);
  const absl::string_view name = full_tokenid.substr(bang + 1);
  if (!ValidUserid(userid) || name.empty()) return failed;
  const std::int64_t now_s = Now() / 1000;
  bool ok = false;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
    if (!UserActive(txn, userid, now_s)) return absl::OkStatus();
    std::optional<json::object> token = GetEntity(txn, TokenCollection(userid), name);
    if (!token) return absl::OkStatus();
    const std::int64_t expire = IntOf(*token, "expire", 0);
    if (expire != 0 && expire <= now_s) return absl::OkStatus();
    auto stored = txn.Get(TokenSecretKey(userid, name));
    ok = stored.has_value() && ConstantTimeEquals(*stored, Sha256Hex(secret));
    return absl::OkStatus();
  }));
  if (!ok) return failed;
  return MockBackend::Identity{std::string(userid), std::string(full_tokenid)};
}

absl::StatusOr<json::value> MockBackend::Impl::Login(CallContext& ctx) {
  std::string username = ctx.Param("username").value_or("");
  const std::string password = ctx.Param("password").value_or("");
  if (auto realm = ctx.Param("realm");
      realm && !realm->empty() && !absl::StrContains(username, '@')) {
    username = absl::StrCat(username, "@", *realm);
  }
  if (!ValidUserid(username)) return AuthFailure();
  const std::int64_t now_s = ctx.now_ms / 1000;
  if (absl::StartsWith(password, kTicketPrefix)) {
    // Renewal: a valid ticket of the same user (or of root@pam) stands in for the password.
    absl::StatusOr<MockBackend::Identity> who = VerifyTicket(password);
    if (!who.ok() || (who->userid != username && who->userid != "root@pam")) return AuthFailure();
  } else {
    bool ok = false;
    PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
      auto stored = txn.Get(PasswordKey(username));
      ok = stored.has_value() && PasswordMatches(*stored, password) &&
           UserActive(txn, username, now_s);
      return absl::OkStatus();
    }));
    if (!ok) return AuthFailure();
  }
  json::object data;
  data["username"] = username;
  if (ctx.Param("path") && ctx.Param("privs")) return data;  // verify mode: no new ticket
  const std::string time = HexTime(now_s);
  const std::string ticket_data =
      absl::StrCat(kTicketPrefix, EncodeTicketData(username), ":", time);
  PVEGW_ASSIGN_OR_RETURN(std::string ticket_key, Secret("ticket"));
  PVEGW_ASSIGN_OR_RETURN(std::string csrf_key, Secret("csrf"));
  data["ticket"] = absl::StrCat(ticket_data, "::", HmacBase64(ticket_key, ticket_data));
  data["CSRFPreventionToken"] =
      absl::StrCat(time, ":", HmacBase64(csrf_key, absl::StrCat(time, ":", username)));
  data["cap"] = FullCapabilities();
  return data;
}

absl::StatusOr<json::value> MockBackend::Impl::UserCreate(CallContext& ctx) {
  // The password is a credential, never a property anyone can read back.
  std::optional<std::string> password = ctx.Param("password");
  ctx.params.erase("password");
  PVEGW_ASSIGN_OR_RETURN(json::value result, GenericMutation(ctx));
  if (password) {
    PVEGW_RETURN_IF_ERROR(SetPassword(ctx.Param("userid").value_or(""), *password));
  }
  return result;
}

absl::StatusOr<json::value> MockBackend::Impl::UserDelete(CallContext& ctx) {
  const std::string userid = ctx.PathParam("userid");
  PVEGW_ASSIGN_OR_RETURN(json::value result, GenericMutation(ctx));
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) {
    PVEGW_RETURN_IF_ERROR(txn.Delete(PasswordKey(userid)));
    return txn.DeletePrefix(TokenSecretPrefix(userid));
  }));
  return result;
}

absl::StatusOr<json::value> MockBackend::Impl::PasswordChange(CallContext& ctx) {
  const std::string userid = ctx.Param("userid").value_or("");
  bool exists = false;
  PVEGW_RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) {
    exists = GetEntity(txn, "/access/users", userid).has_value();
    return absl::OkStatus();
  }));
  if (!exists) return HttpError(500, absl::StrCat("no such user ('", userid, "')"));
  PVEGW_RETURN_IF_ERROR(SetPassword(userid, ctx.Param("password").value_or("")));
  return json::value(nullptr);
}

absl::StatusOr<json::value> MockBackend::Impl::TokenCreate(CallContext& ctx) {
  const std::string userid = ctx.PathParam("userid");
  const std::string name = ctx.PathParam("tokenid");
  const std::string secret = RandomUuid();
  json::object info;
  info["privsep"] = IntOf(ctx.params, "privsep", 1) != 0 ? 1 : 0;
  if (auto expire = ctx.Param("expire")) {
    std::int64_t e = 0;
    if (absl::SimpleAtoi(*expire, &e) && e != 0) info["expire"] = e;
  }
  if (auto comment = ctx.Param("comment")) info["comment"] = *comment;
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    const std::string collection = TokenCollection(userid);
    if (GetEntity(txn, collection, name)) return HttpError(500, "Token already exists.");
    json::object props = info;
    props["tokenid"] = name;
    PVEGW_RETURN_IF_ERROR(PutEntity(txn, collection, name, props));
    PVEGW_RETURN_IF_ERROR(txn.Put(MarkerKey(collection), "1"));
    return txn.Put(TokenSecretKey(userid, name), Sha256Hex(secret));
  }));
  json::object data;
  data["full-tokenid"] = absl::StrCat(userid, "!", name);
  data["info"] = std::move(info);
  data["value"] = secret;
  return data;
}

absl::StatusOr<json::value> MockBackend::Impl::TokenUpdate(CallContext& ctx) {
  const std::string userid = ctx.PathParam("userid");
  const std::string name = ctx.PathParam("tokenid");
  json::object props;
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    const std::string collection = TokenCollection(userid);
    std::optional<json::object> token = GetEntity(txn, collection, name);
    if (!token) {
      return HttpError(500, absl::StrCat("no such token '", name, "' for user '", userid, "'"));
    }
    for (const char* key : {"comment", "expire", "privsep"}) {
      if (auto v = ctx.params.if_contains(key)) (*token)[key] = *v;
    }
    props = *token;
    return PutEntity(txn, collection, name, *token);
  }));
  props.erase("tokenid");
  return props;
}

absl::StatusOr<json::value> MockBackend::Impl::TokenDelete(CallContext& ctx) {
  const std::string userid = ctx.PathParam("userid");
  const std::string name = ctx.PathParam("tokenid");
  PVEGW_RETURN_IF_ERROR(store_->Write([&](WriteTxn& txn) -> absl::Status {
    const std::string collection = TokenCollection(userid);
    if (!GetEntity(txn, collection, name)) {
      return HttpError(500, absl::StrCat("no such token '", name, "' for user '", userid, "'"));
    }
    PVEGW_RETURN_IF_ERROR(DeleteEntity(txn, collection, name));
    return txn.Delete(TokenSecretKey(userid, name));
  }));
  return json::value(nullptr);
}

}  // namespace pvegw::mockstate
