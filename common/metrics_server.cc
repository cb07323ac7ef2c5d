#include "common/metrics_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <netdb.h>
#include <prometheus/exposer.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pvegw::metrics {

namespace {

// civetweb's messages while a server starts on this thread (why a bind failed); elsewhere
// they are dropped: a malformed request already got its 400.
thread_local std::string* start_messages = nullptr;

int LogMessage(const mg_connection* /*conn*/, const char* message) {
  if (start_messages != nullptr && message != nullptr) {
    absl::StrAppend(start_messages, start_messages->empty() ? "" : "; ", message);
  }
  return 1;  // handled: civetweb writes nothing itself
}

int Answer(mg_connection* conn, int status, const char* reason, const char* extra_headers,
           const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n%s"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n",
            status, reason, extra_headers, body.size());
  mg_write(conn, body.data(), body.size());
  return status;
}

// Before civetweb looks for a handler: only GET /metrics reaches the Exposer's. (civetweb
// would pass /metrics/x to it too, and answer 404 to other methods.)
int BeginRequest(mg_connection* conn) {
  const mg_request_info* request = mg_get_request_info(conn);
  const char* path = request->local_uri != nullptr ? request->local_uri : "";
  if (std::strcmp(path, kMetricsPath) != 0) {
    return Answer(conn, 404, "Not Found", "", "only /metrics is served here\n");
  }
  if (std::strcmp(request->request_method, "GET") != 0) {
    return Answer(conn, 405, "Method Not Allowed", "Allow: GET\r\n", "GET /metrics\n");
  }
  return 0;  // civetweb goes on to the Exposer's handler
}

const CivetCallbacks& Callbacks() {
  static const CivetCallbacks* callbacks = [] {
    auto* c = new CivetCallbacks();
    c->begin_request = BeginRequest;
    c->log_message = LogMessage;
    return c;
  }();
  return *callbacks;
}

std::vector<std::string> Options(const std::string& listening_port) {
  const std::vector<std::pair<const char*, std::string>> options = {
      {"listening_ports", listening_port},
      {"num_threads", std::to_string(kMaxConnections)},
      {"max_request_size", std::to_string(kMaxRequestBytes)},
      {"request_timeout_ms", std::to_string(kRequestTimeout.count())},
      {"enable_keep_alive", "no"},
      {"listen_backlog", "64"},
  };
  std::vector<std::string> out;
  for (const auto& [name, value] : options) {
    out.push_back(name);
    out.push_back(value);
  }
  return out;
}

// HOST:PORT addresses as civetweb spells them ("1.2.3.4:80", "[::1]:80"), numeric.
absl::StatusOr<std::vector<std::string>> ListeningPorts(const std::string& listen) {
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
  if (host.empty()) host = "0.0.0.0";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen=", listen, ": cannot resolve host: ", gai_strerror(rc)));
  }
  std::vector<std::string> out;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char numeric[NI_MAXHOST];
    if (getnameinfo(a->ai_addr, a->ai_addrlen, numeric, sizeof(numeric), nullptr, 0,
                    NI_NUMERICHOST) != 0) {
      continue;
    }
    std::string address = a->ai_family == AF_INET6 ? absl::StrCat("[", numeric, "]:", port)
                                                   : absl::StrCat(numeric, ":", port);
    if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(address);
  }
  freeaddrinfo(found);
  if (out.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen=", listen, ": no usable address"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                                    const Registry& registry) {
  auto addresses = ListeningPorts(listen);
  if (!addresses.ok()) return addresses.status();
  std::string error = "no usable address";
  for (const std::string& address : *addresses) {
    std::string messages;
    start_messages = &messages;
    std::unique_ptr<prometheus::Exposer> exposer;
    try {
      exposer = std::make_unique<prometheus::Exposer>(Options(address), &Callbacks());
    } catch (const std::exception& e) {
      error = messages.empty() ? e.what() : messages;
    }
    start_messages = nullptr;
    if (exposer == nullptr) continue;
    const std::vector<int> ports = exposer->GetListeningPorts();
    if (ports.empty()) {
      error = "no listening port";
      continue;
    }
    exposer->RegisterCollectable(registry.collectable(), kMetricsPath);
    return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer), ports.front()));
  }
  return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, " for metrics: ", error));
}

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port)
    : exposer_(std::move(exposer)), port_(port) {}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Stop() { exposer_.reset(); }

}  // namespace pvegw::metrics
