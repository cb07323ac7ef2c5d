// The upstream HTTP response reader (real mode): the input is what a Proxmox node sends back
// on the TLS connection, byte for byte, then it closes. The call gets an answer or a clear
// transport error (UNAVAILABLE, DEADLINE_EXCEEDED, ...), never a crash or a hang.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "common/rest_call.h"
#include "gateway/upstream/upstream_backend.h"
#include "tests/gateway/upstream/test_https_server.h"

namespace {

using pvegw::testing::TestCa;
using pvegw::testing::TestCert;
using pvegw::testing::TestHttpsServer;
using pvegw::testing::TestReply;
using pvegw::testing::TestRequest;

struct World {
  std::mutex mu;
  std::string answer;  // the current input
  TestCert cert = TestCa::SelfSigned("IP:127.0.0.1");
  std::unique_ptr<TestHttpsServer> server;
  std::unique_ptr<pvegw::gateway::upstream::UpstreamBackend> backend;
};

World* TheWorld() {
  static World* world = [] {
    auto* w = new World;
    w->server = std::make_unique<TestHttpsServer>(w->cert, [w](const TestRequest&) {
      TestReply r = TestReply::Of(TestReply::kRaw);
      std::lock_guard<std::mutex> lock(w->mu);
      r.raw = w->answer;
      return r;
    });
    pvegw::gateway::upstream::UpstreamOptions o;
    o.url = w->server->url();
    o.fingerprint = w->cert.fingerprint;
    o.token_id = "root@pam!fuzz";
    o.token_secret = "00000000-0000-0000-0000-000000000000";
    o.timeout = std::chrono::seconds(5);
    o.retries = 0;
    o.endpoint_backoff = std::chrono::milliseconds(1);
    o.endpoint_backoff_cap = std::chrono::milliseconds(1);
    auto backend = pvegw::gateway::upstream::UpstreamBackend::Create(o);
    if (!backend.ok()) std::abort();
    w->backend = std::move(*backend);
    return w;
  }();
  return world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World* w = TheWorld();
  {
    std::lock_guard<std::mutex> lock(w->mu);
    w->answer.assign(reinterpret_cast<const char*>(data), size);
  }
  pvegw::RestRequest request;
  request.verb = "GET";
  request.path = "/version";
  std::promise<pvegw::gateway::RestResult> done;
  auto answered = done.get_future();
  w->backend->Call(std::move(request),
                   [&done](pvegw::gateway::RestResult r) { done.set_value(std::move(r)); });
  // The call's own timeout is 5 s; well beyond it the reader hangs, which is a finding.
  if (answered.wait_for(std::chrono::seconds(30)) != std::future_status::ready) __builtin_trap();
  (void)answered.get();
  return 0;
}
