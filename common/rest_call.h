// One Proxmox REST call and its answer, as every Backend sees them (DESIGN.md §2).
#ifndef PVEGW_COMMON_REST_CALL_H_
#define PVEGW_COMMON_REST_CALL_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pvegw {

// Proxmox parameters are strings on the wire (query string or form body). A key may
// repeat: array parameters are sent once per element.
using RestParams = std::vector<std::pair<std::string, std::string>>;

// A Proxmox identity a caller brought with its call (gRPC metadata), replacing the one the
// gateway is configured with. Exactly one form is set: an API token header value
// ("PVEAPIToken=USER@REALM!ID=SECRET"), or a ticket with its CSRF token. Secrets: never
// logged, never echoed in errors.
struct RestCredentials {
  std::string api_token;   // full Authorization value, "PVEAPIToken=..."
  std::string ticket;      // PVEAuthCookie value
  std::string csrf_token;  // CSRFPreventionToken, needed with a ticket on writes
};

// Set once by whoever serves the call when its caller gives up; a backend that is waiting
// on the network registers one callback to abort. Thread-safe; the callback runs at most
// once, either from Cancel() or at once from OnCancel() if already cancelled.
class CallCancellation {
 public:
  void Cancel() {
    std::function<void()> fn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) return;
      cancelled_ = true;
      fn = std::move(callback_);
    }
    if (fn) fn();
  }
  bool cancelled() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }
  // Replaces any earlier callback; an empty function unregisters.
  void OnCancel(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!cancelled_) {
        callback_ = std::move(fn);
        return;
      }
    }
    if (fn) fn();
  }

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::function<void()> callback_;
};

// pveproxy's limit on a request body (pve-http-server AnyEvent.pm: larger ones are refused,
// 501 "for data too large"): pve-mock applies it, the gateway refuses parameters that would
// exceed it before sending them.
inline constexpr std::size_t kProxmoxMaxBodyBytes = 512 * 1024;

struct RestRequest {
  std::string verb;  // GET, POST, PUT, DELETE
  std::string path;  // concrete, under /api2/json: "/nodes/pve1/qemu/100/config"
  RestParams params;
  // The gRPC call's request id (x-request-id), for the upstream's logs; may be empty. (The
  // initializer keeps RestRequest{verb, path, params} warning-free.)
  std::string request_id = {};
  // Per-call context, filled by the gRPC layer; backends that answer inline (mock mode)
  // ignore it. The real-mode backend sends `credentials` instead of its own identity,
  // stops at `deadline` and aborts when `cancellation` fires.
  std::optional<RestCredentials> credentials = std::nullopt;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::shared_ptr<CallCancellation> cancellation = nullptr;
};

// What Proxmox answers: an HTTP status, the reason phrase (Proxmox puts its error text
// there) and the JSON body {"data": ...} (on errors {"data": null, "message": ...,
// "errors": {param: text}}).
struct RestResponse {
  int status = 200;
  std::string reason = "OK";
  std::string body = "{\"data\":null}";
  // Real mode: the Proxmox node that answered, or was tried last ("https://host:8006/api2/json");
  // empty in mock mode. For logs.
  std::string upstream = {};
};

}  // namespace pvegw

#endif  // PVEGW_COMMON_REST_CALL_H_
