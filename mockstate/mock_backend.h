// MockBackend: answers Proxmox REST calls from the shared mock world (DESIGN.md §4).
#ifndef PVEGW_MOCKSTATE_MOCK_BACKEND_H_
#define PVEGW_MOCKSTATE_MOCK_BACKEND_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "api/api_index.h"
#include "common/rest_call.h"
#include "mockstate/store.h"

namespace pvegw::mockstate {

inline constexpr std::int64_t kDefaultTaskDurationMs = 2000;
inline constexpr std::int64_t kDefaultTicketLifetimeS = 7200;  // Proxmox's $ticket_lifetime
// root@pam's password in a freshly seeded world (pve-mock's --root_password replaces it).
inline constexpr char kDefaultRootPassword[] = "pve-mock";

struct MockOptions {
  StoreOptions store;
  std::string data_path;  // PROXMOX_MOCK_DATA_PATH: JSON or YAML seeding/overriding paths
  std::int64_t task_duration_ms = kDefaultTaskDurationMs;
  std::int64_t ticket_lifetime_s = kDefaultTicketLifetimeS;
  // Milliseconds since the epoch; tests substitute a controllable clock.
  std::function<std::int64_t()> now_ms;
};

// Reads PROXMOX_MOCK_STATE_NAMESPACE, PROXMOX_MOCK_STATE_DIR, PROXMOX_MOCK_STATE_CAPACITY_MB,
// PROXMOX_MOCK_DATA_PATH and PROXMOX_MOCK_TASK_DURATION_MS over `base`. A malformed
// number is INVALID_ARGUMENT naming the variable.
absl::StatusOr<MockOptions> MockOptionsFromEnv(MockOptions base = {});

// The one mock implementation every front end shares: the gateway in mock mode, a REST
// server, tests. It knows the API only from the descriptor set (api::ApiIndex) and keeps all
// state in the Store, so any number of processes attached to one namespace see one world.
//
// Call() never fails as a C++ call: every problem becomes a Proxmox-style answer
// (400 with per-parameter errors, 500 with Proxmox's message — also for missing objects, as
// Proxmox never answers 404 — and 501 for unknown paths).
class MockBackend {
 public:
  // Opens (or creates) the namespace; a fresh one is seeded with the default world, then
  // custom data from `options.data_path` is applied. A malformed data file is an error.
  static absl::StatusOr<std::unique_ptr<MockBackend>> Create(
      std::shared_ptr<const api::ApiIndex> api, MockOptions options);
  ~MockBackend();

  // `user` is who makes the call ("root@pam", or "user@realm!token" for an API token); the
  // tasks it starts record it.
  RestResponse Call(const RestRequest& request, absl::string_view user = "root@pam");

  // A file received by POST /nodes/{node}/storage/{storage}/upload (multipart/form-data).
  // pveproxy writes it to `tmpfilename` (/var/tmp/pveupload-<hex>) and passes that name as
  // the call's `tmpfilename` parameter; the handler reads the file from there.
  struct UploadedFile {
    std::string tmpfilename;
    absl::string_view data;  // the file's bytes, valid during the call
  };
  // Call() for an upload: `file` stands for the temporary file pveproxy wrote.
  RestResponse CallWithUpload(const RestRequest& request, absl::string_view user,
                              const UploadedFile& file);

  // Wipes the namespace and seeds it again (default world + custom data).
  absl::Status Reset();

  // --- Authentication as pve-mock enforces it (PROXMOX-WIRE §3). Keys, passwords and
  // token secrets live in the namespace, like Proxmox's cluster-wide ones in /etc/pve, so
  // every process on one world accepts the same tickets. Failures are UNAUTHENTICATED.
  struct Identity {
    std::string userid;   // "root@pam"
    std::string tokenid;  // "root@pam!ci" for API tokens, else empty
  };
  // A ticket from POST /access/ticket: signature, age (-300 s < age < lifetime), user
  // still present, enabled and not expired.
  absl::StatusOr<Identity> VerifyTicket(absl::string_view ticket);
  // The CSRFPreventionToken issued with a ticket for `userid` (same age window).
  bool VerifyCsrfToken(absl::string_view token, absl::string_view userid);
  // `full_tokenid` "user@realm!name" and its secret: token and user present, enabled and
  // neither expired.
  absl::StatusOr<Identity> VerifyApiToken(absl::string_view full_tokenid, absl::string_view secret);
  // Sets the password `userid` logs in with (stored salted and hashed).
  absl::Status SetPassword(absl::string_view userid, absl::string_view password);

  Store& store();
  const api::ApiIndex& api() const;

  class Impl;

 private:
  explicit MockBackend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pvegw::mockstate

#endif  // PVEGW_MOCKSTATE_MOCK_BACKEND_H_
