// Real mode: every REST call as a pooled HTTPS call to Proxmox (DESIGN.md §5).
#ifndef PVEGW_GATEWAY_UPSTREAM_UPSTREAM_BACKEND_H_
#define PVEGW_GATEWAY_UPSTREAM_UPSTREAM_BACKEND_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/backend/backend.h"
#include "gateway/backend/call_credentials.h"
#include "gateway/upstream/https_client.h"

namespace pvegw::log {
class LogLimiter;
}  // namespace pvegw::log

namespace boost::asio {
class thread_pool;
}  // namespace boost::asio

namespace pvegw::gateway::upstream {

// Everything real mode is configured with. Plain values: main.cc fills them from flags,
// the environment or a configuration file; Create() validates them.
struct UpstreamOptions {
  std::string url;           // PROXMOX_API_URL: https://host[:port][/api2/json], comma-separated
  std::string token_id;      // PROXMOX_API_TOKEN_ID, USER@REALM!NAME
  std::string token_secret;  // PROXMOX_API_TOKEN_SECRET
  std::string username;      // PROXMOX_API_USERNAME (ticket login)
  std::string password;      // PROXMOX_API_PASSWORD
  std::string otp;           // PROXMOX_API_OTP (TOTP code for a second factor)
  bool verify_ssl = true;    // PROXMOX_API_VERIFY_SSL: only an explicit false disables
  std::string ca_file;       // PROXMOX_API_CA_FILE
  std::string fingerprint;   // PROXMOX_API_TLS_FINGERPRINT, SHA-256 colon-hex
  std::chrono::milliseconds timeout{30000};  // PROXMOX_API_TIMEOUT: caps every call
  int retries = 3;                           // PROXMOX_API_RETRIES: GETs only
  std::string client_credentials = "allow";  // --client_credentials: allow|require|deny
  int threads = 2;                           // PVE_GATEWAY_UPSTREAM_THREADS
  // Threads that run each call's completion (decoding Proxmox's answer, serializing the
  // reply), so a large answer never holds up the I/O threads. 0: one per core.
  int decode_threads = 0;  // PVE_GATEWAY_UPSTREAM_DECODE_THREADS
  int max_connections = 16;                  // PVE_GATEWAY_UPSTREAM_MAX_CONNECTIONS
  int max_queue = 256;                       // PVE_GATEWAY_UPSTREAM_MAX_QUEUE
  std::size_t max_response_bytes = kDefaultMaxResponseBytes;
  std::chrono::milliseconds connect_timeout{5000};      // PVE_GATEWAY_UPSTREAM_CONNECT_TIMEOUT_MS
  std::chrono::milliseconds idle_timeout{4000};         // below pveproxy's 5 s idle close
  std::chrono::milliseconds ticket_renew{3600 * 1000};  // PVE_GATEWAY_UPSTREAM_TICKET_RENEW_SECONDS
  std::chrono::milliseconds health_interval{10000};     // PVE_GATEWAY_UPSTREAM_HEALTH_INTERVAL_MS
  std::chrono::milliseconds retry_backoff{100};         // first retry waits up to this
  std::chrono::milliseconds retry_backoff_cap{2000};
  std::chrono::milliseconds endpoint_backoff{1000};  // a failed endpoint rests this, doubling
  std::chrono::milliseconds endpoint_backoff_cap{30000};
};

// "https://a:8006,https://b" -> endpoints; INVALID_ARGUMENT naming the bad entry.
absl::StatusOr<std::vector<Endpoint>> ParseEndpoints(const std::string& urls);

// Percent-encodes everything but RFC 3986 unreserved characters. pveproxy splits pairs on
// ';' as well as '&' and a pair on every '=', so those must never appear raw in a value.
std::string PercentEncode(absl::string_view text);
// k1=v1&k2=v2 with both sides encoded.
std::string FormEncode(const RestParams& params);

// Upstream errors are counted by kind: an ExchangeError (no usable answer), or an answer
// with an HTTP status of 400..499 / 500 and above.
inline constexpr int kHttp4xxError = kExchangeErrorKinds;
inline constexpr int kHttp5xxError = kExchangeErrorKinds + 1;
inline constexpr int kUpstreamErrorKinds = kExchangeErrorKinds + 2;
// "connect", "tls", ..., "http_4xx", "http_5xx".
const char* UpstreamErrorName(int kind);

struct UpstreamCounters {
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> failovers{0};
  std::atomic<std::uint64_t> logins{0};
  std::atomic<std::uint64_t> renewals{0};
  std::atomic<std::uint64_t> relogins{0};
  // Per endpoint and kind: errors[endpoint * kUpstreamErrorKinds + kind] (sized by Create).
  std::unique_ptr<std::atomic<std::uint64_t>[]> errors;
  std::uint64_t Errors(std::size_t endpoint, int kind) const {
    return errors[endpoint * kUpstreamErrorKinds + kind].load(std::memory_order_relaxed);
  }
};

// The Backend for real mode. Auth: the configured API token or ticket (logged in once,
// shared, renewed in the background, re-done once on a 401 with one replay of a GET), or
// per-call credentials. GETs retry transient failures with full-jitter backoff within the
// deadline; writes never repeat once a byte went out. Endpoints fail over.
class UpstreamBackend : public Backend {
 public:
  static absl::StatusOr<std::unique_ptr<UpstreamBackend>> Create(UpstreamOptions options);
  ~UpstreamBackend() override;

  void Call(RestRequest request, RestCallback done) override;
  // The caller's per-call credentials (gateway/backend/call_credentials.h) under the
  // --client_credentials policy: malformed or missing-but-required ones UNAUTHENTICATED,
  // any under `deny` PERMISSION_DENIED.
  absl::StatusOr<CallIdentity> Identity(
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const override;
  // Call() with request.credentials taken from `identity`.
  void CallAs(const CallIdentity& identity, RestRequest request, RestCallback done) override;
  std::string mode() const override { return "real"; }
  void SetHealthListener(std::function<void(bool serving)> listener) override;
  void AddInfo(proxmox::gateway::v1::GetInfoResponse& info) const override;
  // Per endpoint: open/idle/queued connections, requests, connects, errors by kind; calls,
  // retries, failovers, ticket logins and renewals; the upstream's health.
  void RegisterMetrics(metrics::Registry& registry) override;

  const UpstreamCounters& counters() const { return counters_; }
  HttpsClient& client() { return *client_; }
  // "token", "ticket" or "none" (per-call credentials only).
  std::string auth_kind() const;
  // How the server certificate is trusted: fingerprint-pin, ca-file, system-ca, off.
  std::string tls_mode() const;
  bool healthy() const { return healthy_; }

  struct PendingCall;

 private:
  explicit UpstreamBackend(UpstreamOptions options);
  friend struct PendingCall;

  void Attempt(std::shared_ptr<PendingCall> call);
  void OnExchange(std::shared_ptr<PendingCall> call, std::size_t endpoint, Exchange e);
  bool RetryLater(const std::shared_ptr<PendingCall>& call);
  void Complete(const std::shared_ptr<PendingCall>& call, RestResult result);
  // Counts an exchange's error by kind, if it is one: a transport failure, or an HTTP status
  // of 400 and above (`expect_401`: a 401 answer is expected, not a failure).
  void CountExchange(std::size_t endpoint, const Exchange& e, bool expect_401 = false);
  void ApplyIdentity(PendingCall& call);
  absl::Status CheckCredentials(const std::optional<RestCredentials>& credentials) const;

  // Endpoint choice and failover.
  std::size_t PickEndpoint(PendingCall& call);
  void MarkUp(std::size_t endpoint);
  void MarkDown(std::size_t endpoint, const absl::Status& why);

  // Ticket auth: one shared login; `then` runs once a ticket is there (or it failed).
  void WithTicket(std::function<void(absl::Status)> then);
  void Relogin(std::uint64_t generation, std::function<void(absl::Status)> then);
  void StartLogin(bool renewal);
  void OnLogin(bool renewal, std::size_t endpoint, Exchange e, int attempt);
  void ScheduleRenewal();
  void Probe();
  void SetHealthy(bool healthy);

  const UpstreamOptions options_;
  std::unique_ptr<HttpsClient> client_;
  // Completions of calls answered on an I/O thread run here (UpstreamOptions::decode_threads).
  std::unique_ptr<boost::asio::thread_pool> completions_;
  std::vector<std::string> endpoint_urls_;  // client_->endpoints()[i].Url()
  UpstreamCounters counters_;

  mutable std::mutex mu_;
  struct EndpointState {
    Clock::time_point down_until{};
    int failures = 0;
  };
  std::vector<EndpointState> endpoint_states_;
  std::size_t preferred_ = 0;
  // Ticket auth state.
  std::string ticket_;
  std::string csrf_;
  std::uint64_t ticket_generation_ = 0;
  bool logging_in_ = false;
  std::vector<std::function<void(absl::Status)>> login_waiters_;
  std::string pending_tfa_;  // half ticket while a second factor is due

  std::function<void(bool)> health_listener_;
  std::atomic<bool> healthy_{false};
  std::atomic<std::int64_t> last_answer_ns_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> probing_{false};
  std::atomic<bool> reported_unhealthy_{false};  // a NOT_SERVING line was written
  // Holds back repeats of "node unavailable" lines during an outage (common/log_limiter.h).
  std::unique_ptr<log::LogLimiter> repeated_log_;
};

}  // namespace pvegw::gateway::upstream

#endif  // PVEGW_GATEWAY_UPSTREAM_UPSTREAM_BACKEND_H_
