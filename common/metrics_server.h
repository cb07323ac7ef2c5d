// A minimal plain-HTTP/1.1 server for Prometheus scrapes: GET (or HEAD) /metrics answers
// the registry's text format; other paths 404, other methods 405, malformed or oversized
// requests 400/431. One request per connection, every read bounded in size and time.
#ifndef PVEGW_COMMON_METRICS_SERVER_H_
#define PVEGW_COMMON_METRICS_SERVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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
// `request` is everything read up to and including the blank line (or what was read before
// a limit was hit: `complete` false). `render` produces the body of /metrics.
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

  int port() const { return port_; }
  void Stop();

 private:
  MetricsServer(int fd, int port, std::function<std::string()> render);
  void AcceptLoop();
  void Serve(int fd);

  const int listen_fd_;
  const int port_;
  const std::function<std::string()> render_;
  int wake_[2] = {-1, -1};  // pipe: Stop() wakes the accept loop
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int active_ = 0;  // connections being served
  std::thread acceptor_;
};

}  // namespace pvegw::metrics

#endif  // PVEGW_COMMON_METRICS_SERVER_H_
