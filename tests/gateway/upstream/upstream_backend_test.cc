// UpstreamBackend against an in-process HTTPS server: pooling, pveproxy's connection rules,
// encoding, TLS checks, auth, deadlines, cancellation, retries, failover, bad answers (one
// file: the test server and its fixtures serve every case).
#include "gateway/upstream/upstream_backend.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/status_mapping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxmox/gateway/v1/gateway.pb.h"
#include "tests/gateway/upstream/test_https_server.h"

namespace pvegw::gateway::upstream {
namespace {

using ::pvegw::testing::TestCa;
using ::pvegw::testing::TestCert;
using ::pvegw::testing::TestHttpsServer;
using ::pvegw::testing::TestReply;
using ::pvegw::testing::TestRequest;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTokenId[] = "root@pam!gw";
constexpr char kTokenSecret[] = "0b9a1f3e-secret-token-value";

const TestCert& SelfSigned() {
  static const TestCert* cert = new TestCert(TestCa::SelfSigned("IP:127.0.0.1,DNS:localhost"));
  return *cert;
}

UpstreamOptions Options(const std::string& url, const std::string& fingerprint) {
  UpstreamOptions o;
  o.url = url;
  o.fingerprint = fingerprint;
  o.token_id = kTokenId;
  o.token_secret = kTokenSecret;
  o.timeout = std::chrono::seconds(10);
  o.health_interval = std::chrono::seconds(60);
  o.retry_backoff = std::chrono::milliseconds(5);
  o.retry_backoff_cap = std::chrono::milliseconds(20);
  return o;
}

std::unique_ptr<UpstreamBackend> Make(UpstreamOptions o) {
  auto b = UpstreamBackend::Create(std::move(o));
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? std::move(*b) : nullptr;
}

RestRequest Get(const std::string& path, RestParams params = {}) {
  RestRequest r;
  r.verb = "GET";
  r.path = path;
  r.params = std::move(params);
  return r;
}

RestRequest Post(const std::string& path, RestParams params = {}) {
  RestRequest r = Get(path, std::move(params));
  r.verb = "POST";
  return r;
}

// What a backend call ended with, flattened for assertions: Proxmox's answer (status,
// reason, body), or a transport failure (status 0, its message as reason).
struct Outcome {
  int status = 0;
  std::string reason;
  std::string body;
  std::string upstream;    // the node that answered
  absl::Status transport;  // OK when Proxmox answered
};

Outcome OutcomeOf(const RestResult& result) {
  Outcome o;
  if (!result.ok()) {
    // A status of its own, not a second reference to the backend's: Debian's libabsl (not
    // built for ThreadSanitizer) drops shared references where TSan cannot see it.
    o.transport = absl::Status(result.status().code(), result.status().message());
    o.reason = std::string(result.status().message());
    return o;
  }
  o.status = result->status;
  o.reason = result->reason;
  o.body = result->body;
  o.upstream = result->upstream;
  return o;
}

Outcome Send(Backend& b, RestRequest r) {
  std::promise<Outcome> p;
  auto f = p.get_future();
  b.Call(std::move(r), [&p](RestResult resp) { p.set_value(OutcomeOf(resp)); });
  EXPECT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  return f.get();
}

// The status a gRPC client would see: the transport's own, or Proxmox's answer mapped.
absl::Status StatusOf(const Outcome& r) {
  if (!r.transport.ok()) return r.transport;
  RestResponse answer;
  answer.status = r.status;
  answer.reason = r.reason;
  answer.body = r.body;
  return StatusFromRest(answer);
}

// A port nothing listens on.
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string WriteTemp(const std::string& name, const std::string& content) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", getpid(), "-", name);
  std::ofstream(path) << content;
  return path;
}

// --- configuration and encoding ----------------------------------------------------------

TEST(UpstreamConfig, ParsesEndpointLists) {
  auto e = ParseEndpoints("https://pve1, https://10.0.0.2:8443/api2/json/,https://[::1]:9000");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0].Url(), "https://pve1:8006/api2/json");
  EXPECT_EQ((*e)[1].Url(), "https://10.0.0.2:8443/api2/json");
  EXPECT_EQ((*e)[2].host, "::1");
  EXPECT_EQ((*e)[2].Url(), "https://[::1]:9000/api2/json");
  for (const char* bad : {"", "http://pve1", "https://", "https://pve1:0", "https://pve1:x",
                          "https://pve1/api2/extjs", "https://u:p@pve1"}) {
    EXPECT_EQ(ParseEndpoints(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(UpstreamConfig, RefusesInconsistentSettings) {
  UpstreamOptions o = Options("https://127.0.0.1:1", "");
  o.token_secret.clear();
  EXPECT_THAT(UpstreamBackend::Create(o).status().message(), HasSubstr("go together"));
  o = Options("https://127.0.0.1:1", "");
  o.token_id = "no-bang";
  EXPECT_THAT(UpstreamBackend::Create(o).status().message(), HasSubstr("USER@REALM!"));
  o = Options("https://127.0.0.1:1", "AB:CD");
  EXPECT_THAT(UpstreamBackend::Create(o).status().message(), HasSubstr("SHA-256"));
  o = Options("https://127.0.0.1:1", "");
  o.token_id.clear();
  o.token_secret.clear();
  EXPECT_THAT(UpstreamBackend::Create(o).status().message(), HasSubstr("needs credentials"));
  o = Options("https://127.0.0.1:1", "");
  o.client_credentials = "maybe";
  EXPECT_FALSE(UpstreamBackend::Create(o).ok());
  o = Options("https://127.0.0.1:1", "");
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(UpstreamBackend::Create(o).status().message(), HasSubstr("cannot be read"));
}

TEST(UpstreamConfig, FingerprintAnyCaseWithOrWithoutColons) {
  const std::string fp = SelfSigned().fingerprint;
  std::string lower = fp;
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  std::string bare;
  for (char c : fp)
    if (c != ':') bare.push_back(c);
  auto a = ParseSha256Fingerprint(fp), b = ParseSha256Fingerprint(lower),
       c = ParseSha256Fingerprint(bare);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
  EXPECT_EQ(FormatFingerprint(a->data(), a->size()), fp);
  EXPECT_FALSE(ParseSha256Fingerprint("ZZ").ok());
}

TEST(UpstreamEncoding, EveryReservedCharacterIsEncoded) {
  // pveproxy splits on ';' as well as '&', and a pair on every '='.
  EXPECT_EQ(PercentEncode("order=scsi0;net0&x y+z/é"), "order%3Dscsi0%3Bnet0%26x%20y%2Bz%2F%C3%A9");
  EXPECT_EQ(FormEncode({{"boot", "order=scsi0;net0"}, {"delete", "a,b"}}),
            "boot=order%3Dscsi0%3Bnet0&delete=a%2Cb");
}

// --- requests on the wire --------------------------------------------------------------

TEST(UpstreamWire, TokenHeaderQueryAndFormBody) {
  TestHttpsServer server(
      SelfSigned(), [](const TestRequest&) { return TestReply::Json(R"({"data":{"ok":1}})"); });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  Outcome r = Send(*b, Get("/nodes/pve1/qemu", {{"full", "1"}, {"x", "a;b=c&d"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"data":{"ok":1}})");
  r = Send(*b, Post("/nodes/pve1/qemu/100/config", {{"boot", "order=scsi0;net0"}}));
  EXPECT_EQ(r.status, 200);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/api2/json/nodes/pve1/qemu?full=1&x=a%3Bb%3Dc%26d");
  EXPECT_EQ(seen[0].Header("authorization"),
            absl::StrCat("PVEAPIToken=", kTokenId, "=", kTokenSecret));
  EXPECT_EQ(seen[0].Header("content-length"), "");
  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[1].target, "/api2/json/nodes/pve1/qemu/100/config");
  EXPECT_EQ(seen[1].Header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(seen[1].body, "boot=order%3Dscsi0%3Bnet0");
  EXPECT_EQ(seen[1].Header("csrfpreventiontoken"), "");  // not with a token
}

TEST(UpstreamWire, RequestIdGoesUpstreamAndTheAnsweringNodeComesBack) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  RestRequest with_id = Get("/version");
  with_id.request_id = "req-7.a:b/c+d=e@f_g";
  Outcome r = Send(*b, with_id);
  EXPECT_EQ(r.upstream, absl::StrCat(server.url(), "/api2/json"));
  // An id that could break or forge a header line is not sent at all.
  for (const char* bad : {"a\r\nX-Injected: 1", "with space", "quote\"", ""}) {
    RestRequest q = Post("/nodes/pve1/qemu");
    q.request_id = bad;
    Send(*b, q);
  }
  RestRequest long_id = Get("/version");
  long_id.request_id = std::string(129, 'a');
  Send(*b, long_id);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[0].Header("x-request-id"), "req-7.a:b/c+d=e@f_g");
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].Header("x-request-id"), "") << i;
    EXPECT_EQ(seen[i].Header("x-injected"), "") << i;
  }
}

TEST(UpstreamMetrics, ErrorsAreCountedByKindAndEndpoint) {
  std::atomic<int> calls{0};
  TestHttpsServer server(SelfSigned(), [&calls](const TestRequest&) {
    return ++calls == 1 ? TestReply::Error(404, "no such thing") : TestReply::Error(500, "boom");
  });
  const int closed = ClosedPort();
  UpstreamOptions o =
      Options(absl::StrCat(server.url(), ",https://127.0.0.1:", closed), SelfSigned().fingerprint);
  o.retries = 0;
  auto b = Make(o);
  EXPECT_EQ(Send(*b, Get("/a")).status, 404);
  EXPECT_EQ(Send(*b, Get("/b")).status, 500);
  const UpstreamCounters& c = b->counters();
  EXPECT_EQ(c.Errors(0, kHttp4xxError), 1u);
  EXPECT_EQ(c.Errors(0, kHttp5xxError), 1u);
  EXPECT_EQ(c.Errors(0, static_cast<int>(ExchangeError::kConnect)), 0u);
  EXPECT_EQ(c.Errors(1, static_cast<int>(ExchangeError::kConnect)), 0u);
  EXPECT_STREQ(UpstreamErrorName(kHttp5xxError), "http_5xx");
  EXPECT_STREQ(UpstreamErrorName(static_cast<int>(ExchangeError::kTls)), "tls");

  UpstreamOptions down = Options(absl::StrCat("https://127.0.0.1:", closed), "");
  down.retries = 0;
  down.verify_ssl = false;
  auto d = Make(down);
  EXPECT_EQ(StatusOf(Send(*d, Get("/a"))).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(d->counters().Errors(0, static_cast<int>(ExchangeError::kConnect)), 1u);
}

TEST(UpstreamWire, OversizedRequestsAreRefusedBeforeSending) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  Outcome r = Send(*b, Post("/x", {{"v", std::string(600 * 1024, 'a')}}));
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.reason, HasSubstr("512 KiB"));
  r = Send(*b, Get("/x", {{"v", std::string(9000, 'a')}}));
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.requests(), 0);
}

// --- the pool ----------------------------------------------------------------------------

TEST(UpstreamPool, KeepAliveReusesOneConnection) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Send(*b, Get("/version")).status, 200);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(b->client().Stats(0).reused, 19u);
}

TEST(UpstreamPool, NewConnectionAfter100RequestsAndAfterErrors) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest& r) {
    if (absl::StrContains(r.target, "fail")) return TestReply::Error(500, "boom");
    return TestReply::Json("{}");
  });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  for (int i = 0; i < 150; ++i) ASSERT_EQ(Send(*b, Get("/version")).status, 200);
  EXPECT_EQ(server.connections(), 2);  // pveproxy's keep_alive => 100
  for (const auto& r : server.seen()) EXPECT_LE(r.index_on_connection, 100);
  EXPECT_EQ(Send(*b, Get("/fail")).status, 500);
  EXPECT_EQ(Send(*b, Get("/version")).status, 200);
  EXPECT_EQ(server.connections(), 3);  // >= 400 closes the connection
  EXPECT_EQ(b->counters().retries, 0u);
}

TEST(UpstreamPool, IdleConnectionClosedByServerIsReplacedWithoutRetry) {
  // The server closes each connection right after answering, as pveproxy does at its idle
  // timeout, without saying so in the answer.
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) {
    TestReply r = TestReply::Json("{}");
    r.kind = TestReply::kRaw;
    r.raw = "HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n{}";
    return r;
  });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(Send(*b, Get("/version")).status, 200);
    ASSERT_TRUE(server.WaitFor([&] { return server.closed_connections() >= i; }));
    EXPECT_EQ(Send(*b, Post("/nodes/pve1/qemu")).status, 200);
    ASSERT_TRUE(server.WaitFor([&] { return server.closed_connections() >= i + 1; }));
    ++i;
  }
  EXPECT_EQ(b->counters().retries, 0u);
  EXPECT_GE(b->client().Stats(0).stale_dropped, 1u);
}

TEST(UpstreamPool, BoundedQueueThenResourceExhausted) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  TestHttpsServer server(SelfSigned(), [released](const TestRequest& r) {
    if (absl::StrContains(r.target, "slow")) released.wait();
    return TestReply::Json("{}");
  });
  UpstreamOptions o = Options(server.url(), SelfSigned().fingerprint);
  o.max_connections = 1;
  o.max_queue = 1;
  auto b = Make(o);
  std::promise<Outcome> first, second;
  b->Call(Get("/slow"), [&](RestResult r) { first.set_value(OutcomeOf(r)); });
  ASSERT_TRUE(server.WaitFor([&] { return server.requests() == 1; }));
  b->Call(Get("/queued"), [&](RestResult r) { second.set_value(OutcomeOf(r)); });
  ASSERT_TRUE(server.WaitFor([&] { return b->client().Stats(0).queued == 1; }));
  Outcome third = Send(*b, Get("/rejected"));
  EXPECT_EQ(StatusOf(third).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.reason, HasSubstr("PVE_GATEWAY_UPSTREAM_MAX_CONNECTIONS"));
  release.set_value();
  EXPECT_EQ(first.get_future().get().status, 200);
  EXPECT_EQ(second.get_future().get().status, 200);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(b->client().Stats(0).rejected, 1u);
}

// --- TLS ---------------------------------------------------------------------------------

TEST(UpstreamTls, PinnedFingerprintAcceptsSelfSignedHost) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  std::string lower = SelfSigned().fingerprint;
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  auto b = Make(Options(server.url(), lower));
  EXPECT_EQ(Send(*b, Get("/version")).status, 200);
}

TEST(UpstreamTls, WrongPinRefusesEvenAValidChain) {
  TestCa ca;
  TestCert cert = ca.Issue("IP:127.0.0.1");
  TestHttpsServer server(cert, [](const TestRequest&) { return TestReply::Json("{}"); });
  UpstreamOptions o = Options(server.url(), SelfSigned().fingerprint);
  o.retries = 0;
  auto b = Make(o);
  Outcome r = Send(*b, Get("/version"));
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.reason, HasSubstr("fingerprint mismatch"));
  EXPECT_THAT(r.reason, HasSubstr(cert.fingerprint));
  EXPECT_EQ(server.requests(), 0);
}

TEST(UpstreamTls, CaFileRightAndWrong) {
  TestCa ca, other;
  TestCert cert = ca.Issue("IP:127.0.0.1,DNS:localhost");
  TestHttpsServer server(cert, [](const TestRequest&) { return TestReply::Json("{}"); });
  UpstreamOptions o = Options(server.url(), "");
  o.retries = 0;
  o.ca_file = WriteTemp("ca.pem", ca.cert_pem());
  EXPECT_EQ(Send(*Make(o), Get("/version")).status, 200);
  o.url = absl::StrCat("https://localhost:", server.port());  // SNI + DNS name check
  EXPECT_EQ(Send(*Make(o), Get("/version")).status, 200);
  o.ca_file = WriteTemp("other-ca.pem", other.cert_pem());
  Outcome r = Send(*Make(o), Get("/version"));
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.reason, HasSubstr("certificate chain verification failed"));
  EXPECT_EQ(server.requests(), 2);
}

TEST(UpstreamTls, HostNameMustMatch) {
  TestCa ca;
  TestCert cert = ca.Issue("DNS:pve.example.com");
  TestHttpsServer server(cert, [](const TestRequest&) { return TestReply::Json("{}"); });
  UpstreamOptions o = Options(server.url(), "");
  o.retries = 0;
  o.ca_file = WriteTemp("ca2.pem", ca.cert_pem());
  Outcome r = Send(*Make(o), Get("/version"));
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.reason, HasSubstr("host name check failed"));
}

TEST(UpstreamTls, SystemCasRejectSelfSignedAndVerifyOffAccepts) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  UpstreamOptions o = Options(server.url(), "");
  o.retries = 0;
  Outcome r = Send(*Make(o), Get("/version"));
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.reason, HasSubstr("certificate chain verification failed"));
  EXPECT_THAT(r.reason, HasSubstr("PROXMOX_API_TLS_FINGERPRINT"));
  o.verify_ssl = false;
  auto b = Make(o);
  EXPECT_EQ(b->tls_mode(), "off");
  EXPECT_EQ(Send(*b, Get("/version")).status, 200);
}

// --- deadlines, cancellation, retries ------------------------------------------------------

TEST(UpstreamCalls, DeadlineExceededWhenTheServerNeverAnswers) {
  TestHttpsServer server(SelfSigned(),
                         [](const TestRequest&) { return TestReply::Of(TestReply::kHang); });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  RestRequest req = Get("/version");
  req.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  const auto t0 = std::chrono::steady_clock::now();
  Outcome r = Send(*b, req);
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kDeadlineExceeded) << r.reason;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(290));
  // The connection is dropped, not pooled.
  ASSERT_TRUE(server.WaitFor([&] { return server.closed_connections() == 1; }));
  EXPECT_EQ(b->client().Stats(0).open, 0);
}

// Decoding a large answer takes milliseconds; it must not run on an I/O thread, where it
// would hold up every other call's socket. With one I/O thread, a completion that waits for
// another call's answer deadlocks unless completions run elsewhere.
TEST(UpstreamCalls, CompletionsRunOffTheIoThreads) {
  TestHttpsServer server(SelfSigned(),
                         [](const TestRequest&) { return TestReply::Json(R"({"data":1})"); });
  UpstreamOptions o = Options(server.url(), SelfSigned().fingerprint);
  o.threads = 1;
  o.decode_threads = 2;
  auto b = Make(o);
  std::atomic<bool> on_io_thread{false};
  std::promise<Outcome> second;
  std::future<Outcome> second_answer = second.get_future();
  std::promise<bool> first;
  std::future<bool> first_done = first.get_future();
  b->Call(Get("/version"), [&](RestResult) {
    on_io_thread = on_io_thread || HttpsClient::OnIoThread();
    b->Call(Get("/version"), [&](RestResult r) {
      on_io_thread = on_io_thread || HttpsClient::OnIoThread();
      second.set_value(OutcomeOf(r));
    });
    // A slow decode: the other call is answered meanwhile.
    first.set_value(second_answer.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  });
  ASSERT_EQ(first_done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE(first_done.get()) << "the second answer waited for the first completion";
  EXPECT_EQ(second_answer.get().status, 200);
  EXPECT_FALSE(on_io_thread);
}

TEST(UpstreamCalls, TimeoutSettingCapsALongerDeadline) {
  TestHttpsServer server(SelfSigned(),
                         [](const TestRequest&) { return TestReply::Of(TestReply::kHang); });
  UpstreamOptions o = Options(server.url(), SelfSigned().fingerprint);
  o.timeout = std::chrono::milliseconds(200);
  auto b = Make(o);
  RestRequest req = Get("/version");
  req.deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  EXPECT_EQ(StatusOf(Send(*b, req)).code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(UpstreamCalls, CancellationAbortsAndFreesTheConnection) {
  TestHttpsServer server(SelfSigned(),
                         [](const TestRequest&) { return TestReply::Of(TestReply::kHang); });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  RestRequest req = Get("/version");
  req.cancellation = std::make_shared<CallCancellation>();
  auto cancel = req.cancellation;
  std::promise<Outcome> p;
  b->Call(req, [&](RestResult r) { p.set_value(OutcomeOf(r)); });
  ASSERT_TRUE(server.WaitFor([&] { return server.requests() == 1; }));
  cancel->Cancel();
  Outcome r = p.get_future().get();
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kCancelled);
  ASSERT_TRUE(server.WaitFor([&] { return server.closed_connections() == 1; }));
  EXPECT_EQ(b->client().Stats(0).open, 0);
}

TEST(UpstreamCalls, GetsRetry503WritesNever) {
  std::atomic<int> gets{0};
  TestHttpsServer server(SelfSigned(), [&](const TestRequest& r) {
    if (r.method == "POST") return TestReply::Error(503, "busy");
    if (++gets <= 2) return TestReply::Error(503, "busy");
    return TestReply::Json(R"({"data":"ok"})");
  });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  Outcome r = Send(*b, Get("/version"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(b->counters().retries, 2u);
  r = Send(*b, Post("/nodes/pve1/qemu"));
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(b->counters().retries, 2u);
  EXPECT_EQ(server.requests(), 4);
}

TEST(UpstreamCalls, RetriesStopAtTheLimit) {
  TestHttpsServer server(SelfSigned(),
                         [](const TestRequest&) { return TestReply::Error(502, "bad gateway"); });
  UpstreamOptions o = Options(server.url(), SelfSigned().fingerprint);
  o.retries = 2;
  auto b = Make(o);
  EXPECT_EQ(Send(*b, Get("/version")).status, 502);
  EXPECT_EQ(server.requests(), 3);
}

TEST(UpstreamCalls, ConnectionResetRetriesGetsButNotWrites) {
  std::atomic<int> n{0};
  TestHttpsServer server(SelfSigned(), [&](const TestRequest& r) {
    if (r.method == "POST" || ++n == 1) return TestReply::Of(TestReply::kReset);
    return TestReply::Json("{}");
  });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  EXPECT_EQ(Send(*b, Get("/version")).status, 200);
  Outcome r = Send(*b, Post("/nodes/pve1/qemu"));
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kUnavailable);
  int posts = 0;
  for (const auto& s : server.seen()) posts += s.method == "POST";
  EXPECT_EQ(posts, 1);
}

// --- bad answers -------------------------------------------------------------------------

// A bad answer of the kind the path names (/truncated, /notjson, /huge, /headers, /notahttp,
// /close, /reset, /hang); any other path gets a good one that closes its connection, so that
// no idle connection stays in the pool between the phases of a test.
TestReply GarbageAnswer(const TestRequest& r) {
  TestReply raw = TestReply::Of(TestReply::kRaw);
  if (absl::StrContains(r.target, "truncated")) {
    raw.raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"data\":[1,2,3";
  } else if (absl::StrContains(r.target, "notjson")) {
    raw.raw = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello <b>";
  } else if (absl::StrContains(r.target, "huge")) {
    raw.raw = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'x');
  } else if (absl::StrContains(r.target, "headers")) {
    raw.raw = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 200; ++i) raw.raw += "X-H" + std::to_string(i) + ": v\r\n";
    raw.raw += "Content-Length: 2\r\n\r\n{}";
  } else if (absl::StrContains(r.target, "notahttp")) {
    raw.raw = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
  } else if (absl::StrContains(r.target, "close")) {
    return TestReply::Of(TestReply::kClose);
  } else if (absl::StrContains(r.target, "reset")) {
    return TestReply::Of(TestReply::kReset);
  } else if (absl::StrContains(r.target, "hang")) {
    return TestReply::Of(TestReply::kHang);
  } else {
    raw.raw = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 13\r\n\r\n{\"data\":\"ok\"}";
  }
  return raw;
}

// A client of a server of GarbageAnswer: no retries, answers bounded at 1 KiB.
UpstreamOptions GarbageOptions(const TestHttpsServer& server) {
  UpstreamOptions o = Options(server.url(), SelfSigned().fingerprint);
  o.retries = 0;
  o.max_response_bytes = 1024;
  return o;
}

TEST(UpstreamGarbage, EachBadAnswerIsAClearError) {
  TestHttpsServer server(SelfSigned(), GarbageAnswer);
  auto b = Make(GarbageOptions(server));
  struct Case {
    const char* path;
    absl::StatusCode code;
    const char* text;
  };
  for (const Case& c : {Case{"/truncated", absl::StatusCode::kUnavailable, "truncated"},
                        Case{"/huge", absl::StatusCode::kResourceExhausted, "exceeds 1024 bytes"},
                        Case{"/headers", absl::StatusCode::kUnavailable, "header fields"},
                        Case{"/notahttp", absl::StatusCode::kUnavailable, "malformed HTTP"},
                        Case{"/close", absl::StatusCode::kUnavailable, "without answering"}}) {
    Outcome r = Send(*b, Get(c.path));
    EXPECT_EQ(StatusOf(r).code(), c.code) << c.path << ": " << r.reason;
    EXPECT_THAT(r.reason, HasSubstr(c.text)) << c.path;
  }
  // Not JSON is still an HTTP answer; the transcoder judges the body.
  EXPECT_EQ(Send(*b, Get("/notjson")).body, "hello <b>");
  ASSERT_TRUE(server.WaitFor([&] { return server.closed_connections() == server.connections(); }));
  const PoolStats stats = b->client().Stats(0);
  EXPECT_EQ(stats.open - stats.idle, 0);  // nothing busy, nothing leaked
}

// What the process holds, from /proc/self: open descriptors, threads, resident KiB.
struct ProcessCounts {
  int fds = 0;
  int threads = 0;
  long rss_kib = 0;
};

int CountEntries(const char* dir) {
  int n = 0;
  if (DIR* d = ::opendir(dir)) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
  }
  return n;
}

ProcessCounts Counts() {
  ProcessCounts c;
  c.fds = CountEntries("/proc/self/fd") - 1;  // minus the one opendir holds
  c.threads = CountEntries("/proc/self/task");
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "VmRSS:")) c.rss_kib = std::atol(line.c_str() + 6);
  }
  return c;
}

// Every garbage answer of the test above (and a reset and a hang) under 32 concurrent calls:
// each call ends with its clear status, and afterwards the pool holds no socket, the process
// no extra descriptor or thread, and a normal call succeeds.
TEST(UpstreamGarbage, ThirtyTwoConcurrentCallsPerKindLeakNothing) {
  TestHttpsServer server(SelfSigned(), GarbageAnswer);
  UpstreamOptions o = GarbageOptions(server);
  o.max_connections = 16;
  auto b = Make(o);
  ASSERT_NE(b, nullptr);
  auto settled = [&] {
    const PoolStats stats = b->client().Stats(0);
    return stats.open == 0 && stats.queued == 0 &&
           server.closed_connections() == server.connections();
  };
  // One call first, so that what lives as long as the backend (resolver, I/O threads) is
  // in the baseline.
  EXPECT_EQ(Send(*b, Get("/ok")).status, 200);
  ASSERT_TRUE(server.WaitFor(settled));
  const ProcessCounts before = Counts();

  struct Case {
    const char* path;
    absl::StatusCode code;
    const char* text;
  };
  const std::vector<Case> cases = {
      {"/truncated", absl::StatusCode::kUnavailable, "truncated"},
      {"/huge", absl::StatusCode::kResourceExhausted, "exceeds 1024 bytes"},
      {"/headers", absl::StatusCode::kUnavailable, "header fields"},
      {"/notahttp", absl::StatusCode::kUnavailable, "malformed HTTP"},
      {"/close", absl::StatusCode::kUnavailable, "without answering"},
      {"/reset", absl::StatusCode::kUnavailable, ""},
      {"/hang", absl::StatusCode::kDeadlineExceeded, ""},
      {"/notjson", absl::StatusCode::kOk, ""},
  };
  constexpr int kConcurrent = 32;
  for (int round = 0; round < 2; ++round) {
    // Round 0: one kind at a time, 32 calls at once; round 1: all kinds mixed, 32 at once.
    std::vector<std::vector<const Case*>> batches;
    if (round == 0) {
      for (const Case& c : cases) batches.emplace_back(kConcurrent, &c);
    } else {
      batches.emplace_back();
      for (int i = 0; i < kConcurrent; ++i) batches.back().push_back(&cases[i % cases.size()]);
    }
    for (const auto& batch : batches) {
      std::vector<std::promise<Outcome>> promises(batch.size());
      std::vector<std::future<Outcome>> futures;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        futures.push_back(promises[i].get_future());
        RestRequest r = Get(batch[i]->path);
        r.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        b->Call(std::move(r),
                [&promises, i](RestResult res) { promises[i].set_value(OutcomeOf(res)); });
      }
      for (std::size_t i = 0; i < batch.size(); ++i) {
        ASSERT_EQ(futures[i].wait_for(std::chrono::seconds(30)), std::future_status::ready)
            << batch[i]->path;
        const Outcome r = futures[i].get();
        const Case& c = *batch[i];
        if (c.code == absl::StatusCode::kOk) {
          EXPECT_EQ(r.status, 200) << c.path << ": " << r.reason;
          EXPECT_EQ(r.body, "hello <b>");
          continue;
        }
        EXPECT_EQ(StatusOf(r).code(), c.code) << c.path << ": " << r.reason;
        EXPECT_FALSE(r.reason.empty()) << c.path;
        EXPECT_THAT(r.reason, HasSubstr(c.text)) << c.path;
      }
    }
  }
  ASSERT_TRUE(server.WaitFor(settled, std::chrono::seconds(20)))
      << "pool open=" << b->client().Stats(0).open << " queued=" << b->client().Stats(0).queued
      << " server connections=" << server.connections()
      << " closed=" << server.closed_connections();
  // The test server's connection threads end after their connection: wait for them too.
  ProcessCounts after;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    after = Counts();
    if (after.fds <= before.fds && after.threads <= before.threads) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_LE(after.fds, before.fds) << "descriptors leaked";
  EXPECT_LE(after.threads, before.threads) << "threads leaked";
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
  // (Sanitizers keep shadow memory and freed blocks: resident size says nothing there.)
  EXPECT_LT(after.rss_kib - before.rss_kib, 64 * 1024)
      << "resident memory grew by " << after.rss_kib - before.rss_kib << " KiB";
#endif
  EXPECT_EQ(Send(*b, Get("/ok")).body, "{\"data\":\"ok\"}");
}

// --- failover ----------------------------------------------------------------------------

TEST(UpstreamFailover, DeadNodeIsSkippedAndRetriedAfterBackoff) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  UpstreamOptions o = Options(absl::StrCat("https://127.0.0.1:", ClosedPort(), ",", server.url()),
                              SelfSigned().fingerprint);
  auto b = Make(o);
  Outcome r = Send(*b, Post("/nodes/pve1/qemu"));  // nothing was sent: safe to move
  EXPECT_EQ(r.status, 200) << r.reason;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Send(*b, Get("/version")).status, 200);
  EXPECT_GE(b->counters().failovers, 1u);
  EXPECT_EQ(b->counters().retries, 0u);
  proxmox::gateway::v1::GetInfoResponse info;
  b->AddInfo(info);
  ASSERT_EQ(info.upstream().endpoints_size(), 2);
  EXPECT_FALSE(info.upstream().endpoints(0).healthy());
  EXPECT_TRUE(info.upstream().endpoints(1).healthy());
  EXPECT_EQ(info.upstream().auth(), "token");
  EXPECT_EQ(info.upstream().tls(), "fingerprint-pin");
  EXPECT_THAT(info.DebugString(), Not(HasSubstr(kTokenSecret)));
}

TEST(UpstreamFailover, AllNodesDownIsUnavailableWithTheReason) {
  UpstreamOptions o = Options(absl::StrCat("https://127.0.0.1:", ClosedPort()), "");
  o.retries = 1;
  auto b = Make(o);
  Outcome r = Send(*b, Get("/version"));
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.reason, HasSubstr("cannot connect"));
  EXPECT_THAT(r.reason, Not(HasSubstr(kTokenSecret)));
}

// --- authentication ----------------------------------------------------------------------

// pveproxy's ticket rules in miniature: login, cookie on every call, CSRF on writes,
// renewal with the ticket as password, revocation on demand.
struct TicketServer {
  std::mutex mu;
  int generation = 0;
  int logins = 0;
  int renewals = 0;
  std::set<std::string> valid;  // like Proxmox, older tickets stay valid until they expire
  std::string Ticket(int g) { return absl::StrCat("PVE:root@pam:0000000", g, "::sig+/="); }
  TestReply Handle(const TestRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    if (absl::EndsWith(r.target, "/access/ticket")) {
      bool renewal = false, ok = false;
      for (const std::string& t : valid) {
        if (r.body == absl::StrCat("username=root%40pam&password=", PercentEncode(t))) {
          renewal = ok = true;
        }
      }
      if (!renewal) ok = r.body == "username=root%40pam&password=pw%3Bx%3Dy";
      if (!ok) return TestReply::Error(401, "authentication failure");
      ++generation;
      valid.insert(Ticket(generation));
      (renewal ? renewals : logins)++;
      return TestReply::Json(absl::StrCat(R"({"data":{"username":"root@pam","ticket":")",
                                          Ticket(generation),
                                          R"(","CSRFPreventionToken":"CSRF-root"}})"));
    }
    const std::string cookie = r.Header("cookie");
    if (!absl::StartsWith(cookie, "PVEAuthCookie=") || !valid.count(cookie.substr(14))) {
      return TestReply::Error(401, "Authentication failed!");
    }
    if (r.method != "GET" && r.Header("csrfpreventiontoken") != "CSRF-root") {
      return TestReply::Error(401, "Permission denied - invalid csrf token");
    }
    return TestReply::Json(R"({"data":"ok"})");
  }
  void Revoke() {
    std::lock_guard<std::mutex> lock(mu);
    valid.clear();
  }
};

UpstreamOptions TicketOptions(const std::string& url) {
  UpstreamOptions o = Options(url, SelfSigned().fingerprint);
  o.token_id.clear();
  o.token_secret.clear();
  o.username = "root@pam";
  o.password = "pw;x=y";
  return o;
}

TEST(UpstreamAuth, TicketLoginIsSharedAndCsrfGoesOnWrites) {
  TicketServer pve;
  TestHttpsServer server(SelfSigned(), [&](const TestRequest& r) { return pve.Handle(r); });
  auto b = Make(TicketOptions(server.url()));
  std::vector<std::future<Outcome>> calls;
  for (int i = 0; i < 16; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      return Send(*b, i % 2 ? Post("/nodes/pve1/qemu") : Get("/version"));
    }));
  }
  for (auto& f : calls) EXPECT_EQ(f.get().status, 200);
  EXPECT_EQ(pve.logins, 1);
  EXPECT_EQ(b->auth_kind(), "ticket");
}

TEST(UpstreamAuth, TicketIsRenewedInTheBackground) {
  TicketServer pve;
  TestHttpsServer server(SelfSigned(), [&](const TestRequest& r) { return pve.Handle(r); });
  UpstreamOptions o = TicketOptions(server.url());
  o.ticket_renew = std::chrono::milliseconds(100);
  auto b = Make(o);
  EXPECT_EQ(Send(*b, Get("/version")).status, 200);
  ASSERT_TRUE(server.WaitFor([&] { return b->counters().renewals >= 2; }));
  EXPECT_EQ(Send(*b, Post("/nodes/pve1/qemu")).status, 200);
  EXPECT_EQ(pve.logins, 1);
}

TEST(UpstreamAuth, RevokedTicketReloginReplaysGetsOnly) {
  TicketServer pve;
  TestHttpsServer server(SelfSigned(), [&](const TestRequest& r) { return pve.Handle(r); });
  auto b = Make(TicketOptions(server.url()));
  EXPECT_EQ(Send(*b, Get("/version")).status, 200);
  pve.Revoke();
  EXPECT_EQ(Send(*b, Get("/version")).status, 200);  // 401, login, replay
  EXPECT_EQ(pve.logins, 2);
  pve.Revoke();
  Outcome r = Send(*b, Post("/nodes/pve1/qemu"));
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(r.reason, "Authentication failed!");
  EXPECT_EQ(pve.logins, 3);  // the next call has a fresh ticket
  EXPECT_EQ(Send(*b, Post("/nodes/pve1/qemu")).status, 200);
}

TEST(UpstreamAuth, WrongPasswordIsUnauthenticated) {
  TicketServer pve;
  TestHttpsServer server(SelfSigned(), [&](const TestRequest& r) { return pve.Handle(r); });
  UpstreamOptions o = TicketOptions(server.url());
  o.password = "wrong-password-value";
  auto b = Make(o);
  Outcome r = Send(*b, Get("/version"));
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(r.reason, HasSubstr("authentication failure"));
  EXPECT_THAT(r.reason, Not(HasSubstr("wrong-password-value")));
}

TEST(UpstreamAuth, PerCallCredentialsReplaceTheConfiguredOnes) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  RestRequest req = Post("/nodes/pve1/qemu");
  req.credentials = RestCredentials{"PVEAPIToken=alice@pve!ci=abc", "", ""};
  EXPECT_EQ(Send(*b, req).status, 200);
  req.credentials = RestCredentials{"", "PVE:bob@pve:1::x", "CSRFbob"};
  EXPECT_EQ(Send(*b, req).status, 200);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].Header("authorization"), "PVEAPIToken=alice@pve!ci=abc");
  EXPECT_EQ(seen[1].Header("authorization"), "");
  EXPECT_EQ(seen[1].Header("cookie"), "PVEAuthCookie=PVE:bob@pve:1::x");
  EXPECT_EQ(seen[1].Header("csrfpreventiontoken"), "CSRFbob");
}

TEST(UpstreamAuth, ClientCredentialsDenyAndRequire) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  UpstreamOptions o = Options(server.url(), SelfSigned().fingerprint);
  o.client_credentials = "deny";
  auto deny = Make(o);
  RestRequest req = Get("/version");
  req.credentials = RestCredentials{"PVEAPIToken=alice@pve!ci=abc", "", ""};
  Outcome r = Send(*deny, req);
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.reason, Not(HasSubstr("abc")));
  o.client_credentials = "require";
  o.token_id.clear();
  o.token_secret.clear();
  auto require = Make(o);
  EXPECT_EQ(StatusOf(Send(*require, Get("/version"))).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Send(*require, req).status, 200);
  EXPECT_EQ(server.requests(), 1);
}

// Metadata as gRPC hands it to a server (keys lower case); the strings back the refs.
class Metadata {
 public:
  Metadata& Add(std::string key, std::string value) {
    entries_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  std::multimap<grpc::string_ref, grpc::string_ref> Map() const {
    std::multimap<grpc::string_ref, grpc::string_ref> m;
    for (const auto& [k, v] : entries_) m.emplace(k, v);
    return m;
  }

 private:
  std::deque<std::pair<std::string, std::string>> entries_;
};

Outcome SendAs(Backend& b, const CallIdentity& identity, RestRequest r) {
  std::promise<Outcome> p;
  auto f = p.get_future();
  b.CallAs(identity, std::move(r), [&p](RestResult resp) { p.set_value(OutcomeOf(resp)); });
  EXPECT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  return f.get();
}

TEST(UpstreamIdentity, MetadataCredentialsTravelWithCallAs) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  // Nothing (or only the listener's bearer token): the configured identity.
  auto none = b->Identity(Metadata().Add("authorization", "Bearer listener-token").Map());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->configured());
  auto alice = b->Identity(Metadata()
                               .Add("authorization", "Bearer listener-token")
                               .Add("authorization", "PVEAPIToken=alice@pve!ci=alice-secret")
                               .Map());
  ASSERT_TRUE(alice.ok()) << alice.status();
  auto bob =
      b->Identity(Metadata().Add("authorization", "PVEAPIToken=bob@pve!ci=bob-secret").Map());
  ASSERT_TRUE(bob.ok());
  auto carol = b->Identity(Metadata()
                               .Add("x-proxmox-ticket", "PVE:carol@pve:6B07E14B::c2lnbmF0dXJl")
                               .Add("x-proxmox-csrf-token", "6B07E14B:Y3NyZg")
                               .Map());
  ASSERT_TRUE(carol.ok());
  // Different callers are different identities (work is shared only within one).
  EXPECT_NE(*alice, *bob);
  EXPECT_FALSE(alice->configured());
  EXPECT_NE(*carol, *alice);
  EXPECT_EQ(
      *b->Identity(Metadata().Add("authorization", "PVEAPIToken=alice@pve!ci=alice-secret").Map()),
      *alice);

  EXPECT_EQ(SendAs(*b, *alice, Get("/nodes/pve1/tasks")).status, 200);
  EXPECT_EQ(SendAs(*b, *bob, Get("/nodes/pve1/tasks")).status, 200);
  EXPECT_EQ(SendAs(*b, *carol, Post("/nodes/pve1/qemu")).status, 200);
  EXPECT_EQ(SendAs(*b, *none, Get("/nodes/pve1/tasks")).status, 200);
  std::vector<TestRequest> seen;
  for (const auto& r : server.seen()) {
    if (!absl::EndsWith(r.target, "/version")) seen.push_back(r);
  }
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].Header("authorization"), "PVEAPIToken=alice@pve!ci=alice-secret");
  EXPECT_EQ(seen[1].Header("authorization"), "PVEAPIToken=bob@pve!ci=bob-secret");
  EXPECT_EQ(seen[2].Header("authorization"), "");
  EXPECT_EQ(seen[2].Header("cookie"), "PVEAuthCookie=PVE:carol@pve:6B07E14B::c2lnbmF0dXJl");
  EXPECT_EQ(seen[2].Header("csrfpreventiontoken"), "6B07E14B:Y3NyZg");
  EXPECT_EQ(seen[3].Header("authorization"),
            absl::StrCat("PVEAPIToken=", kTokenId, "=", kTokenSecret));
}

TEST(UpstreamIdentity, MalformedCredentialsAreUnauthenticatedWithoutTheSecret) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  auto b = Make(Options(server.url(), SelfSigned().fingerprint));
  const std::vector<std::pair<Metadata, std::string>> cases = {
      {Metadata().Add("authorization", "PVEAPIToken=alice@pve=s3cr3t-value"), "TOKENID"},
      {Metadata().Add("authorization", "PVEAPIToken=alice@pve!ci="), "TOKENID"},
      {Metadata().Add("authorization", "PVEAPIToken=alice@pve!ci=s3cr3t;value"), "TOKENID"},
      {Metadata().Add("authorization", "PVEAPIToken=!ci=s3cr3t-value"), "TOKENID"},
      // A space in the id would let the value carry a second credential (pveproxy looks for
      // PVEAuthCookie after whitespace).
      {Metadata().Add("authorization", "PVEAPIToken=a@pve!t PVEAuthCookie=s3cr3t-value"),
       "TOKENID"},
      {Metadata().Add("authorization", "PVEAPIToken=a@pve!t,x=s3cr3t-value"), "TOKENID"},
      {Metadata()
           .Add("authorization", "PVEAPIToken=alice@pve!ci=s3cr3t-value")
           .Add("authorization", "PVEAPIToken=bob@pve!ci=s3cr3t-value"),
       "more than one"},
      {Metadata()
           .Add("authorization", "PVEAPIToken=alice@pve!ci=s3cr3t-value")
           .Add("x-proxmox-ticket", "PVE:alice@pve:1::s3cr3t-value"),
       "not both"},
      {Metadata().Add("x-proxmox-csrf-token", "s3cr3t-value"), "missing"},
      {Metadata().Add("x-proxmox-ticket", "PVE:alice@pve:1::s3cr3t-value; other=1"), "ticket"},
      {Metadata().Add("x-proxmox-ticket", ""), "ticket"},
  };
  for (const auto& [metadata, why] : cases) {
    auto id = b->Identity(metadata.Map());
    EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated) << why;
    EXPECT_THAT(id.status().message(), HasSubstr(why));
    EXPECT_THAT(id.status().message(), Not(HasSubstr("s3cr3t")));
  }
  EXPECT_EQ(server.requests(), 0);
}

TEST(UpstreamIdentity, ClientCredentialsPolicyAppliesAsInCall) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  UpstreamOptions o = Options(server.url(), SelfSigned().fingerprint);
  o.client_credentials = "deny";
  auto deny = Make(o);
  const Metadata alice = Metadata().Add("authorization", "PVEAPIToken=alice@pve!ci=abc-secret");
  auto refused = deny->Identity(alice.Map());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  // The same refusal a direct call gets.
  RestRequest req = Get("/version");
  req.credentials = RestCredentials{"PVEAPIToken=alice@pve!ci=abc-secret", "", ""};
  EXPECT_EQ(Send(*deny, req).reason, refused.status().message());
  EXPECT_THAT(refused.status().message(), Not(HasSubstr("abc-secret")));
  EXPECT_TRUE(deny->Identity(Metadata().Map()).ok());

  o.client_credentials = "require";
  o.token_id.clear();
  o.token_secret.clear();
  auto require = Make(o);
  auto missing = require->Identity(Metadata().Add("authorization", "Bearer x").Map());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(missing.status().message(), HasSubstr("--client_credentials=require"));
  auto ok = require->Identity(alice.Map());
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(SendAs(*require, *ok, Get("/nodes")).status, 200);
  EXPECT_EQ(server.requests(), 1);  // the direct call under deny was refused before sending
}

// The health states a backend reports to its listener, in order. Declared after the backend
// it listens to, like the locals such a listener would capture.
class HealthStates {
 public:
  explicit HealthStates(UpstreamBackend& b) {
    b.SetHealthListener([this](bool s) {
      std::lock_guard<std::mutex> lock(mu_);
      states_.push_back(s);
      cv_.notify_all();
    });
  }
  // Waits until the latest state reported is `want`.
  bool WaitFor(bool want, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return !states_.empty() && states_.back() == want; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> states_;
};

TEST(UpstreamHealth, ProbeReportsReachability) {
  TestHttpsServer server(SelfSigned(), [](const TestRequest&) { return TestReply::Json("{}"); });
  UpstreamOptions o = Options(server.url(), SelfSigned().fingerprint);
  o.health_interval = std::chrono::milliseconds(50);
  auto b = Make(o);
  HealthStates states(*b);
  ASSERT_TRUE(states.WaitFor(true, std::chrono::seconds(10)));
  server.Stop();
  ASSERT_TRUE(states.WaitFor(false, std::chrono::seconds(10)));
  EXPECT_FALSE(b->healthy());
  for (const auto& s : server.seen()) EXPECT_EQ(s.target, "/api2/json/version");
}

TEST(UpstreamHealth, AnonymousProbeAnswered401IsHealthyAndNoError) {
  // --client_credentials=require without configured credentials: the probe has no identity,
  // and Proxmox's 401 proves it answers. It must not count as an upstream error (an idle,
  // healthy gateway would show a rising error rate).
  TestHttpsServer server(SelfSigned(),
                         [](const TestRequest&) { return TestReply::Error(401, "No ticket"); });
  UpstreamOptions o = Options(server.url(), SelfSigned().fingerprint);
  o.token_id.clear();
  o.token_secret.clear();
  o.client_credentials = "require";
  o.health_interval = std::chrono::milliseconds(50);
  auto b = Make(o);
  std::mutex mu;
  std::condition_variable cv;
  bool serving = false;
  b->SetHealthListener([&](bool s) {
    std::lock_guard<std::mutex> lock(mu);
    serving = s;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return serving; }));
  lock.unlock();
  ASSERT_GE(server.requests(), 1);
  EXPECT_EQ(b->counters().Errors(0, kHttp4xxError), 0u);
  // A caller's own call answered 401 is counted.
  RestRequest req = Get("/version");
  req.credentials = RestCredentials{"PVEAPIToken=alice@pve!ci=wrong", "", ""};
  EXPECT_EQ(Send(*b, req).status, 401);
  EXPECT_EQ(b->counters().Errors(0, kHttp4xxError), 1u);
}

// --- outages -----------------------------------------------------------------------------

// The only node dies under load and comes back. Every failed call marks it down again; the
// log holds the state changes (node down, health NOT_SERVING, node back, SERVING) and a
// count of the repeats, not a line per call.
TEST(UpstreamOutage, LogsStateChangesOnceAndRepeatsCounted) {
  ASSERT_TRUE(log::Configure("upstream-test", "info", "text").ok());
  auto answer = [](const TestRequest&) { return TestReply::Json("{\"data\":{}}"); };
  auto server = std::make_unique<TestHttpsServer>(SelfSigned(), answer);
  const int port = server->port();
  UpstreamOptions o = Options(server->url(), SelfSigned().fingerprint);
  o.health_interval = std::chrono::milliseconds(50);
  o.retries = 0;
  o.endpoint_backoff = std::chrono::milliseconds(1);
  o.endpoint_backoff_cap = std::chrono::milliseconds(5);
  auto b = Make(o);
  HealthStates states(*b);
  auto wait_state = [&](bool want) { return states.WaitFor(want); };
  ASSERT_TRUE(wait_state(true));

  ::testing::internal::CaptureStderr();
  server.reset();  // the node dies
  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 250;
  std::atomic<int> failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < kThreads; ++t) {
    load.emplace_back([&] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        if (Send(*b, Get("/version")).status != 200) failed.fetch_add(1);
      }
    });
  }
  for (auto& t : load) t.join();
  const bool went_down = wait_state(false);
  server = std::make_unique<TestHttpsServer>(SelfSigned(), answer, port);  // and comes back
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Send(*b, Get("/version")).status != 200 && std::chrono::steady_clock::now() < deadline) {
  }
  const bool came_back = wait_state(true);
  b.reset();
  const std::string out = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(went_down) << out;
  ASSERT_TRUE(came_back) << out;
  EXPECT_EQ(failed.load(), kThreads * kCallsPerThread);

  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  // About 1,000 failed calls: the state changes, one summary per window and error, and
  // perhaps a line per distinct error text (refused, reset).
  EXPECT_LE(lines.size(), 12u) << out;
  auto index_of = [&](absl::string_view what) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (absl::StrContains(lines[i], what)) return static_cast<int>(i);
    }
    return -1;
  };
  const int down = index_of("unavailable (");
  const int not_serving = index_of("NOT_SERVING");
  const int back = index_of("answers again");
  const int serving = index_of("Upstream SERVING");
  EXPECT_EQ(down, 0) << "the first state change comes first:\n" << out;
  EXPECT_GE(not_serving, 0) << out;
  EXPECT_GT(back, down) << out;
  EXPECT_GT(serving, not_serving) << out;
  EXPECT_EQ(std::max(back, serving), static_cast<int>(lines.size()) - 1)
      << "the last state change comes last:\n"
      << out;
  EXPECT_NE(index_of("more in the last"), -1) << "the repeats are counted:\n" << out;
}

}  // namespace
}  // namespace pvegw::gateway::upstream
