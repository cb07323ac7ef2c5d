#include "pvemock/rest_server.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mockstate/mock_backend.h"
#include "pvemock/rest_frontend.h"
#include "tests/testing/mockstate_test_util.h"

// pve-mock's HTTP server (Beast) under parallel clients: the request path the binary serves,
// shared by many connections on several server threads. Also run under ThreadSanitizer.
namespace pvegw::pvemock {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

class RestServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mockstate::MockOptions options;
    options.store = scratch_.Options();
    options.task_duration_ms = 0;
    auto mock = mockstate::MockBackend::Create(mockstate::testing::FullApi(), options);
    ASSERT_TRUE(mock.ok()) << mock.status();
    mock_ = std::move(*mock);
    frontend_ = std::make_unique<RestFrontend>(*mock_, FrontendOptions{});
    RestServerOptions server_options;
    server_options.listen = "127.0.0.1:0";
    server_options.tls = false;
    server_options.threads = 4;
    auto server = RestServer::Start(*frontend_, server_options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::milliseconds(2000));
  }

  mockstate::testing::ScratchSpace scratch_;
  std::unique_ptr<mockstate::MockBackend> mock_;
  std::unique_ptr<RestFrontend> frontend_;
  std::unique_ptr<RestServer> server_;
};

// One keep-alive client connection, synchronous.
class Client {
 public:
  explicit Client(int port) : stream_(io_) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    // Synchronous reads ignore the stream's expiry; a socket timeout bounds them instead.
    const timeval limit{30, 0};
    ::setsockopt(stream_.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(stream_.socket().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  }
  http::response<http::string_body> Send(http::verb verb, const std::string& target,
                                         const std::string& body = "") {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!cookie_.empty()) req.set(http::field::cookie, cookie_);
    if (!csrf_.empty() && verb != http::verb::get) req.set("CSRFPreventionToken", csrf_);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/x-www-form-urlencoded");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buffer_, res);
    return res;
  }
  bool Login() {
    auto res =
        Send(http::verb::post, "/api2/json/access/ticket", "username=root@pam&password=pve-mock");
    if (res.result_int() != 200) return false;
    json::value data = json::parse(res.body()).at("data");
    cookie_ = "PVEAuthCookie=" + std::string(data.at("ticket").as_string());
    csrf_ = std::string(data.at("CSRFPreventionToken").as_string());
    return true;
  }

 private:
  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string cookie_;
  std::string csrf_;
};

TEST_F(RestServerTest, ParallelClientsReadAndWriteOneWorld) {
  constexpr int kClients = 8;
  constexpr int kRequests = 20;
  std::vector<std::thread> clients;
  std::vector<std::string> failures(kClients);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([this, c, &failures] {
      try {
        Client client(server_->port());
        if (!client.Login()) {
          failures[c] = "login failed";
          return;
        }
        for (int i = 0; i < kRequests; ++i) {
          auto res = client.Send(http::verb::get, "/api2/json/version");
          if (res.result_int() != 200) failures[c] = "GET /version: " + res.body();
        }
        // Writers meet in the store: each creates a pool of its own.
        auto res = client.Send(http::verb::post, "/api2/json/pools",
                               "poolid=parallel" + std::to_string(c));
        if (res.result_int() != 200) failures[c] = "POST /pools: " + res.body();
      } catch (const std::exception& e) {
        failures[c] = e.what();
      }
    });
  }
  for (auto& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(failures[c], "") << "client " << c;

  Client reader(server_->port());
  ASSERT_TRUE(reader.Login());
  auto pools = reader.Send(http::verb::get, "/api2/json/pools");
  ASSERT_EQ(pools.result_int(), 200) << pools.body();
  for (int c = 0; c < kClients; ++c) {
    EXPECT_THAT(pools.body(), ::testing::HasSubstr("parallel" + std::to_string(c)));
  }
}

// Shutdown while clients keep their connections open and send: it returns, and every
// client sees an answer or a closed connection, never a hang.
TEST_F(RestServerTest, ShutdownWithBusyClientsFinishes) {
  constexpr int kClients = 4;
  std::atomic<int> connected{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([this, &connected] {
      try {
        Client client(server_->port());
        connected.fetch_add(1);
        for (int i = 0; i < 1000; ++i) client.Send(http::verb::get, "/api2/json/version");
      } catch (const std::exception&) {
        // The server closed the connection: expected once it shuts down.
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (connected.load() < kClients && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(connected.load(), kClients);
  server_->Shutdown(std::chrono::milliseconds(500));
  // Connections still open after the grace period close with the server.
  server_.reset();
  for (auto& t : clients) t.join();
}

}  // namespace
}  // namespace pvegw::pvemock
