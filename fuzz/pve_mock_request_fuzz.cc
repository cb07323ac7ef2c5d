// pve-mock's whole request path: the input is written as raw bytes to a connection of the
// real server (Beast's parser, the limits, pveproxy's routing and authentication, the mock
// world), in process over loopback without TLS. Byte 0 picks the server: Proxmox's
// authentication on (most requests end at 401) or off (requests reach the API as root@pam).
// Every input gets an HTTP answer or a closed connection, never a crash or a hang.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "fuzz/mock_world.h"
#include "mockstate/mock_backend.h"
#include "mockstate/store.h"
#include "pvemock/multipart.h"
#include "pvemock/rest_frontend.h"
#include "pvemock/rest_server.h"

namespace {

using namespace pvegw::mockstate;
using namespace pvegw::pvemock;

struct Server {
  std::unique_ptr<RestFrontend> frontend;
  std::unique_ptr<RestServer> server;
};

struct World {
  std::string dir;
  std::unique_ptr<MockBackend> mock;
  Server with_auth;
  Server without_auth;
};

Server Start(MockBackend& mock, bool auth) {
  Server s;
  FrontendOptions fo;
  fo.auth = auth;
  s.frontend = std::make_unique<RestFrontend>(mock, fo);
  RestServerOptions so;
  so.listen = "127.0.0.1:0";
  so.tls = false;
  so.threads = 1;
  so.idle_timeout = std::chrono::milliseconds(200);
  so.body_timeout = std::chrono::milliseconds(200);
  so.write_timeout = std::chrono::milliseconds(2000);
  auto server = RestServer::Start(*s.frontend, so);
  if (!server.ok()) std::abort();
  s.server = std::move(*server);
  return s;
}

World* TheWorld() {
  static World* world = [] {
    auto* w = new World;
    w->dir = pvegw::fuzz::FuzzStateDir("/dev/shm/pvegw-fuzz-XXXXXX");
    w->mock = pvegw::fuzz::MakeMockWorld(w->dir);
    w->with_auth = Start(*w->mock, true);
    w->without_auth = Start(*w->mock, false);
    return w;
  }();
  return world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // The upload's multipart parser on its own, with the body after the blank line as its input
  // and the boundary of the request's Content-Type (or "xyz"): every part must lie inside it.
  {
    const absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t blank = text.find("\r\n\r\n");
    const absl::string_view body = blank == absl::string_view::npos ? text : text.substr(blank + 4);
    std::string boundary = "xyz";
    if (const std::size_t ct = text.find("Content-Type: "); ct != absl::string_view::npos) {
      const absl::string_view line = text.substr(ct + 14, text.find('\r', ct) - ct - 14);
      if (auto b = MultipartBoundary(line); b.ok()) boundary = *b;
    }
    if (auto parts = ParseMultipart(body, boundary); parts.ok()) {
      for (const MultipartPart& part : *parts) {
        if (part.data.data() < body.data() ||
            part.data.data() + part.data.size() > body.data() + body.size()) {
          __builtin_trap();
        }
      }
    }
  }
  World* w = TheWorld();
  const int port = (data[0] & 1 ? w->without_auth : w->with_auth).server->port();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
  std::size_t off = 1;
  while (off < size) {
    const ssize_t n = ::send(fd, data + off, size - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server answered and closed early (a refused head)
    off += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  // Read until the server closes; it must within its timeouts (a hang is a finding).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  char buf[16384];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) __builtin_trap();
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
  }
  ::close(fd);
  return 0;
}
