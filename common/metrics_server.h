// A small plain-HTTP/1.1 server (Boost.Beast) for Prometheus scrapes: GET (or HEAD)
// /metrics answers the registry's text format; other paths 404, other methods 405,
// malformed or oversized requests 400/431. One request per connection, every read bounded
// in size and time, one thread.
#ifndef PVEGW_COMMON_METRICS_SERVER_H_
#define PVEGW_COMMON_METRICS_SERVER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pvegw::metrics {

inline constexpr char kMetricsPath[] = "/metrics";
// Request line and headers of one scrape; Prometheus sends a few hundred bytes.
inline constexpr std::size_t kMaxRequestBytes = 8 * 1024;
// A client must send its whole request within this time.
inline constexpr std::chrono::milliseconds kRequestTimeout{5000};
// Connections served at once; more wait in the listen backlog.
inline constexpr int kMaxConnections = 8;

// What the server answers for one request, for tests.
struct HttpAnswer {
  int status = 200;
  std::string reason;
  std::string content_type;
  std::string body;
  bool head = false;  // HEAD: headers only
};
// The answer to the raw bytes of one request (request line and headers; what follows the
// blank line is not read), parsed as the server parses them. `complete` false: the peer
// stopped sending (or a limit was hit) before the blank line. `render` produces the body of
// /metrics.
HttpAnswer AnswerRequest(absl::string_view request, bool complete,
                         const std::function<std::string()>& render);

class MetricsServer {
 public:
  // Listens on `listen` (HOST:PORT, [V6]:PORT; port 0 picks one) and serves `render`'s
  // output at /metrics from a thread of its own. INVALID_ARGUMENT for a bad address,
  // UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              std::function<std::string()> render);
  ~MetricsServer();  // stops and joins
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const;
  void Stop();

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pvegw::metrics

#endif  // PVEGW_COMMON_METRICS_SERVER_H_
