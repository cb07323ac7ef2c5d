// pve-gateway as a library: configuration, start-up and shutdown of the gRPC server.
#ifndef PVEGW_GATEWAY_GATEWAY_SERVER_H_
#define PVEGW_GATEWAY_GATEWAY_SERVER_H_

#include <grpcpp/server.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/api_index.h"
#include "gateway/backend/backend.h"
#include "gateway/task_watchers.h"
#include "gateway/transcoder.h"

namespace pvegw::gateway {

inline constexpr char kDefaultListen[] = "127.0.0.1:50051";
inline constexpr int kDefaultMaxMessageBytes = 4 << 20;
inline constexpr int kDefaultMaxConcurrentCalls = 1024;
// gRPC health service name that reports whether the upstream answers (Kubernetes readiness
// in real mode). Always SERVING in mock mode, whose store is in-process.
inline constexpr char kUpstreamHealthService[] = "proxmox.gateway.v1.Upstream";

// Who may call the gateway (DESIGN.md §7). A listen address other than loopback needs TLS
// or bearer tokens, unless `insecure_listen` says the network is trusted.
struct ListenerSecurity {
  std::string tls_cert;          // PEM chain; with tls_key: serve TLS
  std::string tls_key;           // PEM private key
  std::string tls_client_ca;     // PEM CAs; set: clients must present a certificate they sign
  std::string auth_tokens_file;  // one bearer token per line
  bool insecure_listen = false;
};

// True for 127.0.0.0/8, ::1, localhost and unix sockets.
bool IsLoopbackListen(const std::string& listen);

struct GatewayOptions {
  std::string listen = kDefaultListen;  // host:port; port 0 picks a free one
  // Optional second host:port serving only grpc.health.v1 (probes of a loopback-only API).
  std::string health_listen;
  // Optional host:port serving Prometheus metrics over plain HTTP at /metrics.
  std::string metrics_listen;
  std::string descriptors_path;  // empty: the descriptor set embedded at build time
  ListenerSecurity security;
  int max_message_bytes = kDefaultMaxMessageBytes;
  int max_concurrent_calls = kDefaultMaxConcurrentCalls;
  absl::Duration shutdown_grace = absl::Seconds(10);
  TaskWatchersOptions tasks;  // Tasks.WatchTask polling
  // A value Proxmox sends that its typed field cannot hold fails the call (INTERNAL naming
  // the field) instead of being kept in additional_properties.
  bool strict_decoding = false;
};

// Makes the backend once the API is loaded (the mock world needs the ApiIndex, which
// outlives the backend). gateway/main.cc chooses mock or real mode here.
using BackendFactory = std::function<absl::StatusOr<std::unique_ptr<Backend>>(
    std::shared_ptr<const api::ApiIndex> api)>;

class GatewayServer {
 public:
  // Loads the descriptors, makes the backend and starts serving. Errors name what is wrong
  // (bad descriptor file, unusable listen address, the backend's own errors).
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(GatewayOptions options,
                                                              BackendFactory make_backend);
  // The same with a backend made beforehand (tests, other products).
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(GatewayOptions options,
                                                              std::unique_ptr<Backend> backend);
  ~GatewayServer();

  int port() const { return port_; }
  int health_port() const { return health_port_; }  // 0 without health_listen
  int metrics_port() const;                         // 0 without metrics_listen
  // Everything /metrics serves, in the text format (also without metrics_listen).
  std::string RenderMetrics() const;
  const std::string& listen_address() const { return listen_address_; }
  int method_count() const;
  int service_count() const;
  double startup_ms() const { return startup_ms_; }
  Backend& backend() { return *backend_; }
  TaskWatchers& task_watchers();
  // Decoding counters (DecodeFallbacks, unlisted keys) for metrics.
  const Transcoder& transcoder() const;

  // Health turns NOT_SERVING (load balancers and kubelets stop sending) while calls go on.
  void BeginShutdown();
  // Health of one service (e.g. proxmox.gateway.v1.Upstream) on every listener; ignored
  // once shutting down.
  void SetServingStatus(const std::string& service, bool serving);
  // BeginShutdown, then stop accepting calls and let in-flight ones finish within the
  // grace period (after which they are cancelled). Idempotent.
  void Shutdown();
  // Blocks until the server has shut down.
  void Wait();

  struct Impl;

 private:
  explicit GatewayServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<Backend> backend_;
  int port_ = 0;
  int health_port_ = 0;
  std::string listen_address_;
  double startup_ms_ = 0;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_GATEWAY_SERVER_H_
