#include "common/metrics_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/metrics.h"

namespace pvegw::metrics {

namespace {

HttpAnswer Plain(int status, const char* reason, std::string body) {
  HttpAnswer a;
  a.status = status;
  a.reason = reason;
  a.content_type = "text/plain; charset=utf-8";
  a.body = std::move(body);
  return a;
}

// Writes all of `data` within the deadline; false if the peer went away or was too slow.
bool WriteAll(int fd, absl::string_view data, std::chrono::steady_clock::time_point deadline) {
  while (!data.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

HttpAnswer AnswerRequest(absl::string_view request, bool complete,
                         const std::function<std::string()>& render) {
  if (!complete) {
    return request.size() >= kMaxRequestBytes
               ? Plain(431, "Request Header Fields Too Large",
                       absl::StrCat("request headers exceed ", kMaxRequestBytes, " bytes\n"))
               : Plain(400, "Bad Request", "incomplete request\n");
  }
  // Request line: METHOD SP TARGET SP HTTP/1.x
  const auto eol = request.find("\r\n");
  const absl::string_view line = request.substr(0, eol);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == absl::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == absl::string_view::npos || sp2 == absl::string_view::npos || sp1 == 0 ||
      !absl::StartsWith(line.substr(sp2 + 1), "HTTP/1.")) {
    return Plain(400, "Bad Request", "malformed request line\n");
  }
  const absl::string_view method = line.substr(0, sp1);
  absl::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  for (char c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f) {
      return Plain(400, "Bad Request", "control character in the request line\n");
    }
  }
  if (target != kMetricsPath) return Plain(404, "Not Found", "only /metrics is served here\n");
  if (method != "GET" && method != "HEAD") {
    HttpAnswer a = Plain(405, "Method Not Allowed", "GET /metrics\n");
    return a;
  }
  HttpAnswer a;
  a.status = 200;
  a.reason = "OK";
  a.content_type = kContentType;
  a.body = render();
  a.head = method == "HEAD";
  return a;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, std::function<std::string()> render) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen=", listen, " is not HOST:PORT (e.g. 0.0.0.0:9090)"));
  }
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  int port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen=", listen, ": port is not a number between 0 and 65535"));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc =
      getaddrinfo(host.empty() ? nullptr : host.c_str(), port_text.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen=", listen, ": cannot resolve host: ", gai_strerror(rc)));
  }
  int fd = -1;
  std::string error = "no usable address";
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      error = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, " for metrics: ", error));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const int bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  auto server =
      std::unique_ptr<MetricsServer>(new MetricsServer(fd, bound_port, std::move(render)));
  if (pipe2(server->wake_, O_CLOEXEC) != 0) {
    return absl::UnavailableError("cannot create the metrics server's wake-up pipe");
  }
  server->acceptor_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

MetricsServer::MetricsServer(int fd, int port, std::function<std::string()> render)
    : listen_fd_(fd), port_(port), render_(std::move(render)) {}

MetricsServer::~MetricsServer() {
  Stop();
  close(listen_fd_);
  for (int fd : wake_) {
    if (fd >= 0) close(fd);
  }
}

void MetricsServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_[1] >= 0) {
    const char c = 'x';
    [[maybe_unused]] ssize_t n = write(wake_[1], &c, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  // Connections still being served end within kRequestTimeout (their own deadlines).
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return active_ == 0; });
}

void MetricsServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    const int n = poll(fds, 2, -1);
    if (stopping_) return;
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if ((fds[0].revents & POLLIN) == 0) continue;
    {
      // At the connection limit, leave the rest in the backlog until one is done.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return active_ < kMaxConnections || stopping_; });
      if (stopping_) return;
    }
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++active_;
    }
    std::thread([this, client] {
      Serve(client);
      close(client);
      std::lock_guard<std::mutex> lock(mu_);
      --active_;
      cv_.notify_all();
    }).detach();
  }
}

void MetricsServer::Serve(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + kRequestTimeout;
  std::string request;
  bool complete = false;
  char buffer[2048];
  // Bounded read: until the blank line that ends the headers, kMaxRequestBytes, or the
  // deadline, whichever comes first. A body (there should be none) is never read.
  while (!complete && request.size() < kMaxRequestBytes && !stopping_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;  // too slow: dropped without an answer
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 200)));
    if (ready < 0 && errno != EINTR) return;
    if (ready <= 0) continue;
    const std::size_t want = std::min(sizeof(buffer), kMaxRequestBytes - request.size());
    const ssize_t got = recv(fd, buffer, want, 0);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (got <= 0) break;  // closed early: answered as incomplete (if anyone still listens)
    request.append(buffer, static_cast<std::size_t>(got));
    complete =
        request.find("\r\n\r\n") != std::string::npos || request.find("\n\n") != std::string::npos;
  }
  if (stopping_ && !complete) return;
  if (request.empty()) return;
  HttpAnswer a;
  try {
    a = AnswerRequest(request, complete, render_);
  } catch (const std::exception& e) {
    a.status = 500;
    a.reason = "Internal Server Error";
    a.content_type = "text/plain; charset=utf-8";
    a.body = absl::StrCat(e.what(), "\n");
  }
  std::string head =
      absl::StrCat("HTTP/1.1 ", a.status, " ", a.reason, "\r\nContent-Type: ", a.content_type,
                   "\r\nContent-Length: ", a.body.size(), "\r\n");
  if (a.status == 405) absl::StrAppend(&head, "Allow: GET, HEAD\r\n");
  absl::StrAppend(&head, "Connection: close\r\n\r\n");
  const auto write_deadline = std::chrono::steady_clock::now() + kRequestTimeout;
  if (!WriteAll(fd, head, write_deadline)) return;
  if (!a.head) WriteAll(fd, a.body, write_deadline);
  shutdown(fd, SHUT_WR);
  // Closing with unread input would reset the connection and could destroy the answer in
  // flight: read (and drop) what the client still sends, briefly and boundedly.
  const auto drain_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  std::size_t drained = 0;
  while (drained < 64 * 1024 && std::chrono::steady_clock::now() < drain_deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (got > 0) drained += static_cast<std::size_t>(got);
  }
}

}  // namespace pvegw::metrics
