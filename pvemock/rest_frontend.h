// pve-mock's request handling without the transport: what pveproxy does between the bytes
// and the API handler (PROXMOX-WIRE §1-§3): URL layout, parameters from query and body,
// authentication and CSRF, fault rules, and the answer's status, reason and body. The
// Beast server (rest_server.h) feeds it parsed requests; tests and fuzzers call it directly.
#ifndef PVEGW_PVEMOCK_REST_FRONTEND_H_
#define PVEGW_PVEMOCK_REST_FRONTEND_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/rest_call.h"
#include "mockstate/mock_backend.h"

namespace pvegw::pvemock {

// pveproxy's limits (AnyEvent.pm): a POST body above 512 KiB is refused; headers are
// bounded in size and count.
inline constexpr std::size_t kMaxRequestBodyBytes = kProxmoxMaxBodyBytes;
inline constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
inline constexpr std::size_t kMaxHeaderFields = 64;
// pveproxy streams uploads (POST /nodes/{node}/storage/{storage}/upload) to a temporary file
// with no limit but the disk; pve-mock holds them in memory, up to --max_upload_bytes.
inline constexpr std::size_t kDefaultMaxUploadBytes = 64 * 1024 * 1024;

// Is `target` (origin form, query allowed) pveproxy's upload call, POST
// /api2/json/nodes/{node}/storage/{storage}/upload?
bool IsUploadTarget(absl::string_view method, absl::string_view target);

// A request as the transport parsed it.
struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // origin form, e.g. "/api2/json/nodes?x=1"
  std::string cookie;  // every Cookie header, joined with "; "
  std::string authorization;
  std::optional<std::string> csrf_token;    // CSRFPreventionToken header
  std::optional<std::string> content_type;  // absent: the body is parsed as a form
  std::string body;
};

// What a fault rule makes the server do instead of (or before) answering normally.
enum class FaultAction { kNone, kDelay, kStatus, kClose, kTruncate, kGarbage, kHang };

// `--fault='[VERB ]PATH_GLOB=ACTION[,times=N]'`: PATH_GLOB is matched against the path below
// /api2/json; `*` matches within one segment, `**` any number of segments.
struct FaultRule {
  std::string text;               // as given, for logs
  std::string verb;               // empty: any
  std::vector<std::string> glob;  // segments
  FaultAction action = FaultAction::kNone;
  int delay_ms = 0;
  int status = 0;
  std::string message;
  std::int64_t times = -1;  // -1: every match
  std::shared_ptr<std::atomic<std::int64_t>> used = std::make_shared<std::atomic<std::int64_t>>(0);
};

// INVALID_ARGUMENT explaining the syntax when `text` is not a rule.
absl::StatusOr<FaultRule> ParseFaultRule(absl::string_view text);

// The answer, ready for the wire.
struct HttpAnswer {
  int status = 200;
  std::string reason = "OK";  // one line, Proxmox's message for errors
  std::string content_type;   // empty: no Content-Type (Proxmox's raw and 401 answers)
  std::string body;
  bool close = false;  // pveproxy closes the connection after every status >= 400
  std::string user;    // who was authenticated, for the access log
  FaultAction fault = FaultAction::kNone;
  int delay_ms = 0;
};

// Decodes a query string or form body like pveproxy: pairs split on '&' and ';', '+' is a
// space, %XX escapes; `k` and `k=` are absent values (dropped), `_dc` is dropped. A bad
// escape or invalid UTF-8 is INVALID_ARGUMENT naming the parameter.
absl::StatusOr<RestParams> DecodeFormParams(absl::string_view text);

struct FrontendOptions {
  bool auth = true;  // Proxmox's authentication; false: every request is root@pam
  std::size_t max_upload_bytes = kDefaultMaxUploadBytes;  // over it: 413
  std::vector<FaultRule> faults;
};

class RestFrontend {
 public:
  RestFrontend(mockstate::MockBackend& mock, FrontendOptions options)
      : mock_(mock), options_(std::move(options)) {}

  // Checks what can be judged from the request line and headers alone, before the body is
  // read: the method, Content-Length against the limit and against GET/DELETE, transfer
  // encodings. `target` tells an upload (limit: max_upload_bytes) from other calls (512 KiB).
  // An answer means: send it and close.
  std::optional<HttpAnswer> CheckHead(absl::string_view method,
                                      std::optional<std::uint64_t> content_length,
                                      absl::string_view transfer_encoding,
                                      absl::string_view target = "") const;

  // Answers one request. Thread-safe; never throws.
  HttpAnswer Handle(const HttpRequest& request);

  const FrontendOptions& options() const { return options_; }

 private:
  HttpAnswer HandleApi(const HttpRequest& request, absl::string_view api_path,
                       absl::string_view query);
  const FaultRule* MatchFault(absl::string_view verb, absl::string_view api_path);
  // pveproxy's file_upload_multipart + the API call with the received file.
  HttpAnswer HandleUpload(const HttpRequest& request, RestRequest call, const std::string& user);

  mockstate::MockBackend& mock_;
  FrontendOptions options_;
  std::atomic<std::uint64_t> upload_seq_{0};
};

// Proxmox's answer for an error raised outside an API handler: no Content-Type, the
// message as a plain-text body, connection closed.
HttpAnswer RawError(int status, absl::string_view message);

}  // namespace pvegw::pvemock

#endif  // PVEGW_PVEMOCK_REST_FRONTEND_H_
