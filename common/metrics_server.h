// The plain-HTTP /metrics endpoint for Prometheus scrapes: prometheus-cpp's Exposer
// (civetweb) serving a Registry. GET /metrics answers the text format (gzip when the client
// accepts it); other paths 404, other methods 405, malformed requests 400, request headers
// over kMaxRequestBytes 413. One request per connection, every read bounded in size and time,
// at most kMaxConnections served at once (one civetweb worker thread each).
#ifndef PVEGW_COMMON_METRICS_SERVER_H_
#define PVEGW_COMMON_METRICS_SERVER_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace pvegw::metrics {

inline constexpr char kMetricsPath[] = "/metrics";
// Request line and headers of one scrape; Prometheus sends a few hundred bytes.
inline constexpr std::size_t kMaxRequestBytes = 8 * 1024;
// A client must send its whole request within this time.
inline constexpr std::chrono::milliseconds kRequestTimeout{5000};
// Connections served at once (civetweb worker threads); more wait in civetweb's queue and
// the listen backlog.
inline constexpr int kMaxConnections = 8;

class MetricsServer {
 public:
  // Listens on `listen` (HOST:PORT, [V6]:PORT; port 0 picks one) and serves `registry` at
  // /metrics from threads of its own. `registry` must outlive the server. INVALID_ARGUMENT
  // for a bad address, UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              const Registry& registry);
  ~MetricsServer();  // stops and joins
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }
  // Closes the listener and every open connection; returns once the threads have ended
  // (civetweb notices within its 2 s polling quantum).
  void Stop();

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port);
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

}  // namespace pvegw::metrics

#endif  // PVEGW_COMMON_METRICS_SERVER_H_
