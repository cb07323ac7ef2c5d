// pve-mock's transport: an asynchronous HTTP/1.1 server (Boost.Beast, OpenSSL) with
// pveproxy's connection behaviour, feeding parsed requests to a RestFrontend.
#ifndef PVEGW_PVEMOCK_REST_SERVER_H_
#define PVEGW_PVEMOCK_REST_SERVER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pvemock/rest_frontend.h"
#include "pvemock/tls_cert.h"

namespace pvegw::pvemock {

// One served request, for the access log.
struct AccessLogEntry {
  std::string remote;  // "127.0.0.1:51234"
  std::string user;    // authenticated user or token id; "-" when none
  std::string method;
  std::string path;        // without the query string (it may carry secrets)
  std::string request_id;  // X-Request-ID if short and plain, else "-"
  int status = 0;
  std::size_t bytes = 0;
  double ms = 0;
};

struct RestServerOptions {
  std::string listen = "127.0.0.1:8006";  // host:port; port 0 picks a free one
  bool tls = true;
  TlsIdentity identity;  // served when tls
  int threads = 2;
  std::size_t max_connections = 1000;  // beyond it new connections are closed at once
  // pveproxy's 5 s inactivity timeout: waiting for and reading a request's head.
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds body_timeout{30000};   // reading a body (at most 512 KiB)
  std::chrono::milliseconds write_timeout{30000};  // writing an answer
  int max_requests_per_connection = 100;           // pveproxy keep_alive => 100
  int auth_failure_delay_ms = 0;                   // pveproxy waits 3000 ms
  std::function<void(const AccessLogEntry&)> access_log;
};

class RestServer {
 public:
  // Binds and starts serving on `options.threads` threads. `frontend` must outlive the
  // server. Errors name the address or the TLS problem.
  static absl::StatusOr<std::unique_ptr<RestServer>> Start(RestFrontend& frontend,
                                                           RestServerOptions options);
  ~RestServer();

  int port() const;
  const std::string& host() const;
  // Stops accepting, closes idle connections, lets requests in progress finish (at most
  // `grace`), then stops. Idempotent; returns when every thread has finished.
  void Shutdown(std::chrono::milliseconds grace);

  class Impl;

 private:
  explicit RestServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pvegw::pvemock

#endif  // PVEGW_PVEMOCK_REST_SERVER_H_
