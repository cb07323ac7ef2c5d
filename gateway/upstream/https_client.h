// A keep-alive HTTPS/1.1 client for pveproxy: per-endpoint connection pools with a bound and
// a bounded wait queue, fail-closed TLS (CA, host name, SHA-256 pin), deadlines and
// cancellation, bounded answers. All Beast/OpenSSL code lives behind this header.
#ifndef PVEGW_GATEWAY_UPSTREAM_HTTPS_CLIENT_H_
#define PVEGW_GATEWAY_UPSTREAM_HTTPS_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/rest_call.h"

namespace pvegw::gateway::upstream {

using Clock = std::chrono::steady_clock;

// Bounds on what a server may send back (STYLE: every network read bounded by a name).
inline constexpr std::size_t kMaxResponseHeaderBytes = 64 * 1024;
inline constexpr int kMaxResponseHeaderFields = 100;
inline constexpr std::size_t kDefaultMaxResponseBytes = std::size_t{64} << 20;
// pveproxy serves at most this many requests on one connection (keep_alive => 100).
inline constexpr int kPveRequestsPerConnection = 100;

struct Endpoint {
  std::string host;  // DNS name or IP literal, without brackets
  std::uint16_t port = 8006;
  std::string base_path = "/api2/json";
  // "https://host:port/api2/json" (IPv6 literals bracketed).
  std::string Url() const;
  // "host:port", bracketed for IPv6, as the Host header wants it.
  std::string Authority() const;
};

struct TlsSettings {
  bool verify = true;              // false: no verification at all (the only escape)
  std::string ca_file;             // PEM bundle replacing the system CAs
  std::vector<unsigned char> pin;  // SHA-256 of the server certificate (32 bytes) or empty
};

struct ClientSettings {
  int threads = 2;
  int max_connections = 16;  // per endpoint, connecting + busy + idle
  int max_queue = 256;       // calls waiting per endpoint for a connection
  std::size_t max_response_bytes = kDefaultMaxResponseBytes;
  std::chrono::milliseconds connect_timeout{5000};
  // Idle connections older than this are closed instead of reused: pveproxy drops idle
  // keep-alive connections after 5 s.
  std::chrono::milliseconds idle_timeout{4000};
  TlsSettings tls;
};

struct HttpRequest {
  std::string method;  // GET, POST, PUT, DELETE
  std::string target;  // "/api2/json/nodes?x=1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // with a body (POST/PUT)
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  std::string body;
};

// Why an exchange got no usable answer (metrics count upstream errors by it).
enum class ExchangeError {
  kNone,
  kConnect,         // resolve, connect, connect timeout
  kTls,             // handshake or certificate check
  kTimeout,         // the call's deadline passed
  kConnectionLost,  // closed or reset before or during the answer
  kProtocol,        // not HTTP, or headers beyond the limits
  kTooLarge,        // answer above max_response_bytes
  kQueueFull,       // the endpoint's wait queue was full
  kCancelled,       // the caller gave up
  kShutdown,        // the client is shutting down
};
inline constexpr int kExchangeErrorKinds = 10;
// "connect", "tls", "timeout", "connection_lost", "protocol", "too_large", "queue_full", ...
const char* ExchangeErrorName(ExchangeError error);

// The outcome of one Send. `status` ok: `response` holds the server's answer, whatever its
// HTTP status. Otherwise `status` says what failed (UNAVAILABLE: connect, TLS, lost
// connection, malformed answer; DEADLINE_EXCEEDED; CANCELLED; RESOURCE_EXHAUSTED: pool
// queue full or answer too large) and `sent` whether any byte of the request reached the
// socket (a write must then never be repeated); `before_request` marks failures to get a
// connection at all (connect, TLS, pool), which are safe to try elsewhere.
struct Exchange {
  absl::Status status;
  HttpResponse response;
  bool sent = false;
  bool before_request = false;
  ExchangeError error = ExchangeError::kNone;  // set when `status` is not ok
};

struct PoolStats {
  int open = 0;  // connecting, busy or idle
  int idle = 0;
  int queued = 0;                   // calls waiting for a connection
  std::uint64_t connects = 0;       // TLS connections established
  std::uint64_t requests = 0;       // requests written
  std::uint64_t reused = 0;         // requests on a kept-alive connection
  std::uint64_t stale_dropped = 0;  // idle connections found closed by the server
  std::uint64_t rejected = 0;       // RESOURCE_EXHAUSTED: queue full
};

class HttpsClient {
 public:
  // Validates the TLS material (CA file readable) and starts the I/O threads.
  static absl::StatusOr<std::unique_ptr<HttpsClient>> Create(ClientSettings settings,
                                                             std::vector<Endpoint> endpoints);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request to endpoints()[endpoint] on a pooled connection; `done` runs exactly
  // once, on a client thread. A kept-alive connection the server closed meanwhile is
  // replaced by a fresh one transparently (not a retry: nothing was processed). Cancelling
  // `cancellation` aborts the exchange; its connection is then closed, never reused.
  void Send(std::size_t endpoint, HttpRequest request, Clock::time_point deadline,
            std::shared_ptr<CallCancellation> cancellation, std::function<void(Exchange)> done);

  // True on one of the client's I/O threads (of any HttpsClient).
  static bool OnIoThread();

  // Runs `fn` on a client thread after `delay` (immediately once shutting down).
  void RunAfter(Clock::duration delay, std::function<void()> fn);

  const std::vector<Endpoint>& endpoints() const;
  PoolStats Stats(std::size_t endpoint) const;
  bool stopping() const;

  // Fails queued calls, aborts in-flight ones (their `done` runs with UNAVAILABLE), fires
  // pending timers and joins the threads. Idempotent.
  void Shutdown();

  struct Impl;

 private:
  explicit HttpsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "AB:CD:..." (any case, colons optional) -> 32 bytes; INVALID_ARGUMENT otherwise.
absl::StatusOr<std::vector<unsigned char>> ParseSha256Fingerprint(const std::string& text);
// 32 bytes -> "AB:CD:...".
std::string FormatFingerprint(const unsigned char* digest, std::size_t size);

}  // namespace pvegw::gateway::upstream

#endif  // PVEGW_GATEWAY_UPSTREAM_HTTPS_CLIENT_H_
