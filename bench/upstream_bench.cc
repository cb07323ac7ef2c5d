// Real mode's cost: the same HTTPS GET to pve-mock, once directly with a keep-alive Beast
// client of its own and once through pve-gateway in real mode (gRPC -> pooled HTTPS), with
// 1 and 32 concurrent callers; p50/p99 latency and throughput, all in one run.
// Run: build/bin/upstream_bench [--pve_mock=build/bin/pve-mock] [--seconds=3]
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/scratch.h"
#include "gateway/gateway_server.h"
#include "gateway/upstream/upstream_backend.h"
#include "spdlog/spdlog.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr char kPath[] = "/api2/json/version";

// One keep-alive HTTPS connection, synchronous: the simplest fast client there is. Like
// any pveproxy client it reconnects when the server ends keep-alive (after 100 requests).
class DirectClient {
 public:
  DirectClient(int port, const std::string& auth) : port_(port), auth_(auth) {
    ctx_.set_verify_mode(ssl::verify_none);  // loopback to a known pve-mock
    Connect();
  }
  void Connect() {
    stream_.emplace(ioc_, ctx_);
    buffer_.clear();
    asio::ip::tcp::resolver resolver(ioc_);
    beast::get_lowest_layer(*stream_).connect(
        *resolver.resolve("127.0.0.1", std::to_string(port_)).begin());
    beast::get_lowest_layer(*stream_).socket().set_option(asio::ip::tcp::no_delay(true));
    stream_->handshake(ssl::stream_base::client);
  }
  http::response<http::string_body> Call(
      http::verb verb, const std::string& target, const std::string& body = "",
      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    http::request<http::string_body> req(verb, target, 11);
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::connection, "keep-alive");
    if (!auth_.empty()) req.set(http::field::authorization, auth_);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/x-www-form-urlencoded");
      req.body() = body;
      req.prepare_payload();
    }
    http::write(*stream_, req);
    http::response<http::string_body> res;
    http::read(*stream_, buffer_, res);
    if (!res.keep_alive()) Connect();
    return res;
  }

 private:
  int port_;
  std::string auth_;
  asio::io_context ioc_;
  ssl::context ctx_{ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
};

struct Result {
  std::vector<double> latencies_us;
  double seconds = 0;
};

// `callers` threads call `once` until the time is up; every latency is kept.
template <typename MakeCaller>
Result Run(int callers, double seconds, MakeCaller make) {
  Result result;
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int i = 0; i < callers; ++i) {
    threads.emplace_back([&] {
      auto once = make();
      std::vector<double> mine;
      while (!stop) {
        const auto s = Clock::now();
        once();
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s).count());
      }
      std::lock_guard<std::mutex> lock(mu);
      result.latencies_us.insert(result.latencies_us.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measuring window
  stop = true;
  for (auto& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

void Print(const char* what, int callers, const Result& r) {
  std::printf("| %-28s | %3d | %9.0f | %9.0f | %10.0f |\n", what, callers,
              Percentile(r.latencies_us, 0.50), Percentile(r.latencies_us, 0.99),
              static_cast<double>(r.latencies_us.size()) / r.seconds);
}

}  // namespace

int main(int argc, char** argv) {
  std::string pve_mock = (std::filesystem::path(argv[0]).parent_path() / "pve-mock").string();
  double seconds = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--pve_mock=", 0) == 0) pve_mock = a.substr(11);
    if (a.rfind("--seconds=", 0) == 0) seconds = std::stod(a.substr(10));
  }
  // pve-mock on a private state directory and a free port.
  // The state directory and pve-mock go away also when the run is interrupted.
  pvegw::bench::Scratch::CleanUpOnSignals();
  const std::string dir = pvegw::bench::Scratch::Get().MakeDir("/dev/shm/pvegw-upbench-XXXXXX");
  if (dir.empty()) {
    std::perror("mkdtemp /dev/shm/pvegw-upbench-XXXXXX");
    return 1;
  }
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return 1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  const std::string state = "PROXMOX_MOCK_STATE_DIR=" + dir;
  std::vector<std::string> args = {pve_mock, "--listen=127.0.0.1:0", "--namespace=bench", "--reset",
                                   "--root_password=bench-pw"};
  std::vector<char*> cargv;
  for (auto& s : args) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  std::vector<char*> cenv = {const_cast<char*>(state.c_str()), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, pve_mock.c_str(), &actions, nullptr, cargv.data(), cenv.data()) != 0) {
    std::cerr << "cannot start " << pve_mock << "\n";
    return 1;
  }
  pvegw::bench::Scratch::Get().AddChild(pid);
  ::close(pipe_fds[1]);
  FILE* err = ::fdopen(pipe_fds[0], "r");
  const std::regex line_re(R"(serving https://([0-9.]+):(\d+)/api2/json fingerprint=(\S+))");
  std::smatch m;
  char buf[4096];
  int port = 0;
  std::string fingerprint;
  while (std::fgets(buf, sizeof buf, err) != nullptr) {
    std::string line(buf);
    if (std::regex_search(line, m, line_re)) {
      port = std::stoi(m[2]);
      fingerprint = m[3];
      break;
    }
  }
  if (port == 0) {
    std::cerr << "pve-mock did not start\n";
    return 1;
  }
  std::thread drain([err] {
    char b[4096];
    while (std::fgets(b, sizeof b, err) != nullptr) {
      if (std::getenv("UPSTREAM_BENCH_DEBUG") != nullptr) std::fputs(b, stderr);
    }
  });

  // An API token, as a real deployment would use.
  std::string auth;
  {
    DirectClient login(port, "");
    auto t = json::parse(login
                             .Call(http::verb::post, "/api2/json/access/ticket",
                                   "username=root%40pam&password=bench-pw")
                             .body());
    const auto& d = t.at("data");
    DirectClient create(port, "");
    auto tok = json::parse(
        create
            .Call(http::verb::post, "/api2/json/access/users/root@pam/token/bench", "privsep=0",
                  {{"Cookie", absl::StrCat("PVEAuthCookie=", d.at("ticket").as_string().c_str())},
                   {"CSRFPreventionToken", d.at("CSRFPreventionToken").as_string().c_str()}})
            .body());
    auth =
        absl::StrCat("PVEAPIToken=root@pam!bench=", tok.at("data").at("value").as_string().c_str());
  }

  pvegw::gateway::GatewayOptions options;
  options.listen = "127.0.0.1:0";
  pvegw::gateway::upstream::UpstreamOptions upstream;
  upstream.url = absl::StrCat("https://127.0.0.1:", port);
  upstream.fingerprint = fingerprint;
  upstream.token_id = "root@pam!bench";
  upstream.token_secret = auth.substr(auth.rfind('=') + 1);
  upstream.max_connections = 32;
  spdlog::set_level(spdlog::level::warn);
  auto backend = pvegw::gateway::upstream::UpstreamBackend::Create(upstream);
  if (!backend.ok()) {
    std::cerr << backend.status() << "\n";
    return 1;
  }
  auto server = pvegw::gateway::GatewayServer::Start(
      options, std::unique_ptr<pvegw::gateway::Backend>(*std::move(backend)));
  if (!server.ok()) {
    std::cerr << server.status() << "\n";
    return 1;
  }
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());

  std::printf(
      "GET /version: direct keep-alive HTTPS (Beast) vs the same call through "
      "pve-gateway in real mode; %.0f s per row\n\n",
      seconds);
  std::printf("| %-28s | %3s | %9s | %9s | %10s |\n", "path", "callers", "p50 (µs)", "p99 (µs)",
              "calls/s");
  std::printf("|---|---|---|---|---|\n");
  for (int callers : {1, 32}) {
    Result direct = Run(callers, seconds, [&] {
      auto client = std::make_shared<DirectClient>(port, auth);
      return [client] {
        if (client->Call(http::verb::get, kPath).result_int() != 200) std::abort();
      };
    });
    Print("direct HTTPS", callers, direct);
    Result via = Run(callers, seconds, [&] {
      auto stub = std::make_shared<grpc::GenericStub>(channel);
      return [stub] {
        grpc::ClientContext ctx;
        grpc::Slice empty(std::string{});
        grpc::ByteBuffer in(&empty, 1), out;
        std::promise<grpc::Status> p;
        stub->UnaryCall(&ctx, "/proxmox.ve.v1.Version/GetVersion", grpc::StubOptions(), &in, &out,
                        [&](grpc::Status s) { p.set_value(s); });
        if (!p.get_future().get().ok()) std::abort();
      };
    });
    Print("gRPC -> gateway -> HTTPS", callers, via);
    std::printf("|   added at p50: %.0f µs, throughput ratio %.2f |\n",
                Percentile(via.latencies_us, 0.5) - Percentile(direct.latencies_us, 0.5),
                static_cast<double>(via.latencies_us.size()) / via.seconds /
                    (static_cast<double>(direct.latencies_us.size()) / direct.seconds));
  }
  (*server)->Shutdown();
  pvegw::bench::Scratch::Get().ForgetChild(pid);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  drain.join();
  pvegw::bench::Scratch::Get().RemoveAll();
  return 0;
}
