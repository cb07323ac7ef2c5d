#include "common/metrics.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/metrics_server.h"

namespace pvegw::metrics {
namespace {

using ::testing::AnyOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(MetricsRegistryTest, CounterAndGaugeWithHelpAndTypeInRegistrationOrder) {
  Registry r;
  Counter& calls = r.AddCounter("pve_gateway_calls_total", "Calls.", {"method", "code"})
                       .Labels({"/a.B/C", "OK"});
  calls.Increment();
  calls.Increment(2);
  Gauge& in_flight = r.AddGauge("pve_gateway_in_flight_calls", "In flight.").Get();
  in_flight.Add(3);
  in_flight.Add(-1);
  // prometheus-cpp writes the labels of a series sorted by name.
  EXPECT_EQ(r.Render(),
            "# HELP pve_gateway_calls_total Calls.\n"
            "# TYPE pve_gateway_calls_total counter\n"
            "pve_gateway_calls_total{code=\"OK\",method=\"/a.B/C\"} 3\n"
            "# HELP pve_gateway_in_flight_calls In flight.\n"
            "# TYPE pve_gateway_in_flight_calls gauge\n"
            "pve_gateway_in_flight_calls 2\n");
  EXPECT_EQ(calls.value(), 3u);
  EXPECT_EQ(in_flight.value(), 2);
  in_flight.Set(-5);
  EXPECT_EQ(in_flight.value(), -5);
}

TEST(MetricsRegistryTest, UnlabelledCounterShowsZeroAndLabelledFamilyAppearsWithItsFirstChild) {
  Registry r;
  r.AddCounter("a_total", "A.");
  Family<Counter>& b = r.AddCounter("b_total", "B.", {"kind"});
  std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("\na_total 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("b_total")));
  b.Labels({"x"});
  text = r.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE b_total counter\nb_total{kind=\"x\"} 0\n"));
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelp) {
  Registry r;
  r.AddCounter("x_total", "Help with a \\ backslash\nand a newline \"quoted\".", {"v"})
      .Labels({"a\\b\"c\nd"})
      .Increment();
  const std::string text = r.Render();
  // HELP: backslash and newline escaped, quotes kept as they are.
  EXPECT_THAT(text, HasSubstr("# HELP x_total Help with a \\\\ backslash\\nand a newline "
                              "\"quoted\".\n"));
  EXPECT_THAT(text, HasSubstr("x_total{v=\"a\\\\b\\\"c\\nd\"} 1\n"));
  EXPECT_EQ(EscapeHelp("a\"b"), "a\"b");
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  Histogram& h = r.AddHistogram("lat_seconds", "Latency.", {"method"}, {0.1, 0.5, 1}).Labels({"m"});
  for (double v : {0.05, 0.1, 0.3, 0.7, 2.0, 5.0}) h.Observe(v);
  EXPECT_EQ(r.Render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_count{method=\"m\"} 6\n"
            "lat_seconds_sum{method=\"m\"} 8.15\n"
            "lat_seconds_bucket{method=\"m\",le=\"0.1\"} 2\n"
            "lat_seconds_bucket{method=\"m\",le=\"0.5\"} 3\n"
            "lat_seconds_bucket{method=\"m\",le=\"1\"} 4\n"
            "lat_seconds_bucket{method=\"m\",le=\"+Inf\"} 6\n");
  const Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 3, 4, 6}));
  EXPECT_DOUBLE_EQ(s.sum, 8.15);
}

TEST(MetricsRegistryTest, HistogramWithoutLabelsAndUnsortedOrInfiniteBounds) {
  Registry r;
  Histogram& h = r.AddHistogram("h_seconds", "H.", {},
                                {1, 0.5, 1, std::numeric_limits<double>::infinity(),
                                 std::numeric_limits<double>::quiet_NaN()})
                     .Get();
  EXPECT_EQ(h.bounds(), (std::vector<double>{0.5, 1}));
  h.Observe(0.25);
  EXPECT_THAT(r.Render(), HasSubstr("h_seconds_count 1\nh_seconds_sum 0.25\n"
                                    "h_seconds_bucket{le=\"0.5\"} 1\nh_seconds_bucket{le=\"1\"} 1\n"
                                    "h_seconds_bucket{le=\"+Inf\"} 1\n"));
}

TEST(MetricsRegistryTest, ChildrenAreStableAndNamesSanitized) {
  Registry r;
  Family<Counter>& f = r.AddCounter("bad-name_total", "N.", {"k"});
  Counter& b = f.Labels({"b"});
  Counter& a = f.Labels({"a"});
  EXPECT_EQ(&b, &f.Labels({"b"}));
  a.Increment();
  EXPECT_EQ(&f, &r.AddCounter("bad-name_total", "again", {"k"}));
  // Wrong number of label values: padded, never a crash.
  f.Labels({}).Increment();
  f.Labels({"c", "extra"}).Increment(5);
  // Names prometheus-cpp would refuse are made valid, never thrown at the caller.
  r.AddGauge("__reserved", "R.", {"__l", "9x", "a-b"}).Labels({"1", "2", "3"}).Set(4);
  r.AddGauge("", "Empty.").Get().Set(1);
  const std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("bad_name_total{k=\"\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("bad_name_total{k=\"a\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("bad_name_total{k=\"b\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("bad_name_total{k=\"c\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("x__reserved{_x=\"2\",a_b=\"3\",x__l=\"1\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("\nx 1\n"));
}

TEST(MetricsRegistryTest, ANameTakenByAnotherTypeCountsButIsNotShown) {
  Registry r;
  r.AddCounter("same", "Counter.").Get().Increment(3);
  Gauge& g = r.AddGauge("same", "Gauge.").Get();
  g.Set(9);
  EXPECT_EQ(g.value(), 9);
  Histogram& h = r.AddHistogram("same", "Histogram.", {}, {1}).Get();
  h.Observe(0.5);
  EXPECT_EQ(h.Read().cumulative.back(), 1u);
  const std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE same counter\nsame 3\n"));
  EXPECT_THAT(text, Not(HasSubstr("gauge")));
  EXPECT_THAT(text, Not(HasSubstr("histogram")));
}

TEST(MetricsRegistryTest, CallbacksRunAtScrapeTimeInRegistrationOrder) {
  Registry r;
  int value = 1;
  r.AddCallback("pool_open_connections", "Open.", Type::kGauge, {"endpoint"},
                [&](std::vector<Sample>& out) {
                  out.push_back({{"https://a:8006"}, static_cast<double>(value)});
                });
  r.AddCounter("later_total", "Later.");
  r.AddCallback("polls_total", "Polls.", Type::kCounter, {"a", "b"}, [](std::vector<Sample>& out) {
    out.push_back({{"only-a"}, 2});
  });
  std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE pool_open_connections gauge\n"
                              "pool_open_connections{endpoint=\"https://a:8006\"} 1\n"));
  EXPECT_LT(text.find("pool_open_connections"), text.find("later_total"));
  EXPECT_LT(text.find("later_total"), text.find("polls_total"));
  EXPECT_THAT(text, HasSubstr("# TYPE polls_total counter\npolls_total{a=\"only-a\",b=\"\"} 2\n"));
  value = 7;
  EXPECT_THAT(r.Render(), HasSubstr("pool_open_connections{endpoint=\"https://a:8006\"} 7\n"));
}

TEST(MetricsRegistryTest, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  Counter& c = r.AddCounter("c_total", "C.").Get();
  Histogram& h = r.AddHistogram("h_seconds", "H.", {}, {1}).Get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Increment();
        h.Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.Read().cumulative.back(), 40000u);
  EXPECT_EQ(h.Read().sum, 20000);
}

// What /metrics does under load: calls update counters, create labelled children and add
// families while a scrape renders. (Also run under ThreadSanitizer.)
TEST(MetricsRegistryTest, ConcurrentUpdatesAndScrapes) {
  Registry r;
  Family<Counter>& calls = r.AddCounter("calls_total", "Calls.", {"method"});
  Gauge& in_flight = r.AddGauge("in_flight", "In flight.").Get();
  Histogram& h = r.AddHistogram("h_seconds", "H.", {}, {0.1, 1}).Get();
  // A labelled family shows from its first child on (prometheus-cpp): make one first.
  calls.Labels({"m0"});
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) {
      const std::string text = r.Render();
      EXPECT_THAT(text, HasSubstr("# TYPE calls_total counter"));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        calls.Labels({absl::StrCat("m", i % 7)}).Increment();
        in_flight.Add(1);
        h.Observe(0.5);
        in_flight.Add(-1);
      }
      r.AddCounter(absl::StrCat("late_", t, "_total"), "Added while scraping.").Get().Increment();
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  scraper.join();
  std::uint64_t total = 0;
  for (int m = 0; m < 7; ++m) total += calls.Labels({absl::StrCat("m", m)}).value();
  EXPECT_EQ(total, 8000u);
  EXPECT_EQ(h.Read().cumulative.back(), 8000u);
  const std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("in_flight 0\n"));
  for (int t = 0; t < 4; ++t) EXPECT_THAT(text, HasSubstr(absl::StrCat("late_", t, "_total 1\n")));
}

TEST(MetricsRegistryTest, ProcessMetricsArePresent) {
  Registry r;
  AddProcessMetrics(r);
  const std::string text = r.Render();
  for (const char* name : {"process_start_time_seconds ", "process_cpu_seconds_total ",
                           "process_resident_memory_bytes ", "process_open_fds "}) {
    EXPECT_THAT(text, HasSubstr(absl::StrCat("\n", name))) << name;
  }
  EXPECT_THAT(text, Not(HasSubstr("process_resident_memory_bytes 0\n")));
}

// --- the HTTP side ----------------------------------------------------------------------

// A TCP connection to 127.0.0.1:`port` whose reads give up after 10 s; -1 if it fails.
int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `payload` to the server and returns everything it answers until it closes.
std::string Exchange(int port, const std::string& payload) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return "connect failed";
  std::size_t sent = 0;
  while (sent < payload.size()) {
    const ssize_t n = send(fd, payload.data() + sent, payload.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return out;
}

TEST(MetricsServerTest, ServesScrapesAndSurvivesGarbage) {
  Registry registry;
  registry.AddCounter("scrapes_total", "Scrapes.").Get().Increment();
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  std::string ok = Exchange(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_THAT(ok, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(ok, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"));
  EXPECT_THAT(ok, HasSubstr("\n# HELP scrapes_total Scrapes.\n"));
  // prometheus-cpp's own series about the scrapes come with every page.
  EXPECT_THAT(ok, HasSubstr("\r\n\r\n# HELP exposer_transferred_bytes_total "));
  EXPECT_THAT(ok, HasSubstr("\nscrapes_total 1\n"));
  EXPECT_THAT(Exchange(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n"), HasSubstr("scrapes_total 1\n"));
  // Prometheus asks for gzip, and gets it.
  const std::string gzip = Exchange(port, "GET /metrics HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
  EXPECT_THAT(gzip, HasSubstr("Content-Encoding: gzip\r\n"));
  EXPECT_THAT(gzip, HasSubstr("\r\n\r\n\x1f\x8b"));  // the gzip magic number
  for (const char* other : {"GET / HTTP/1.1\r\n\r\n", "GET /other HTTP/1.1\r\n\r\n",
                            "GET /metricsx HTTP/1.1\r\n\r\n", "GET /metrics/x HTTP/1.1\r\n\r\n"}) {
    EXPECT_THAT(Exchange(port, other), HasSubstr("HTTP/1.1 404 ")) << other;
  }
  for (const char* method : {"POST", "HEAD", "DELETE", "PUT", "OPTIONS"}) {
    const std::string answer =
        Exchange(port, absl::StrCat(method, " /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"));
    EXPECT_THAT(answer, HasSubstr("HTTP/1.1 405 ")) << method;
    EXPECT_THAT(answer, HasSubstr("Allow: GET\r\n")) << method;
  }
  for (const std::string& bad :
       {std::string("garbage\r\n\r\n"), std::string("\x16\x03\x01\x02\x00\n\n", 7),
        std::string("GET\r\n\r\n"), std::string("\x00\xff garbage\r\n\r\n", 14)}) {
    // civetweb answers HTTP/1.0 when it could not read the request's version.
    EXPECT_THAT(Exchange(port, bad), ContainsRegex("^HTTP/1\\.[01] 400 ")) << bad;
  }
  // Request headers beyond kMaxRequestBytes: civetweb 1.15 stops reading and answers them as
  // malformed (400), not 431. It closes without reading what the client still sends, so the
  // answer may also be lost to a reset; either way the server goes on.
  for (const std::string& oversized :
       {"GET /" + std::string(64 * 1024, 'a'), std::string(64 * 1024, 'A'),
        "GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n"}) {
    const std::string answer = Exchange(port, oversized);
    EXPECT_THAT(answer, AnyOf(IsEmpty(), ContainsRegex("^HTTP/1\\.[01] 400 ")));
  }
  std::string binary;
  for (int i = 0; i < 3000; ++i) binary.push_back(static_cast<char>(i * 7919 % 256));
  Exchange(port, binary);  // whatever it answers, the server goes on
  EXPECT_EQ(Exchange(port, ""), "");
  EXPECT_THAT(Exchange(port, "GET /metrics HTTP/1.1\r\n\r\n"), HasSubstr("\nscrapes_total 1\n"));
  (*server)->Stop();
}

TEST(MetricsServerTest, StopClosesIdleConnectionsAndScrapesGoOnUnderTheLimit) {
  Registry registry;
  registry.AddCounter("up_total", "Up.").Get().Increment();
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  // Clients that connect and send nothing hold fewer than kMaxConnections workers: scrapes
  // are still answered.
  std::vector<int> idle;
  for (int i = 0; i < kMaxConnections - 1; ++i) {
    idle.push_back(ConnectLoopback(port));
    ASSERT_GE(idle.back(), 0);
  }
  EXPECT_THAT(Exchange(port, "GET /metrics HTTP/1.1\r\n\r\n"), HasSubstr("up_total 1\n"));
  // Stop() does not wait for their request timeout: civetweb notices the stop within its
  // 2 s polling quantum and closes their connections, which see EOF and no answer.
  const auto stop_started = std::chrono::steady_clock::now();
  (*server)->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, kRequestTimeout);
  for (int fd : idle) {
    char c;
    EXPECT_EQ(recv(fd, &c, 1, 0), 0);
    close(fd);
  }
}

TEST(MetricsServerTest, ASlowClientIsCutOffAfterTheRequestTimeout) {
  Registry registry;
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  const int fd = ConnectLoopback((*server)->port());
  ASSERT_GE(fd, 0);
  const std::string partial = "GET /metrics HTTP/1.1\r\n";
  ASSERT_EQ(send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(partial.size()));
  const auto started = std::chrono::steady_clock::now();
  char buffer[256];
  while (recv(fd, buffer, sizeof(buffer), 0) > 0) {
  }
  const auto waited = std::chrono::steady_clock::now() - started;
  close(fd);
  EXPECT_GE(waited, kRequestTimeout - std::chrono::milliseconds(500));
  EXPECT_LT(waited, std::chrono::seconds(9));  // the socket's own 10 s would be a hang
}

TEST(MetricsServerTest, BadAddressesAreRefused) {
  Registry registry;
  EXPECT_EQ(MetricsServer::Start("no-port", registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsServer::Start("127.0.0.1:99999", registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsServer::Start("127.0.0.1:http", registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsServer::Start("no-such-host.invalid:0", registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto first = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(first.ok());
  const auto taken = MetricsServer::Start(absl::StrCat("127.0.0.1:", (*first)->port()), registry);
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(taken.status().message()), HasSubstr("cannot listen on 127.0.0.1:"));
}

TEST(MetricsServerTest, ListensOnIpv6AndHostNames) {
  Registry registry;
  registry.AddCounter("v6_total", "V6.");
  auto v6 = MetricsServer::Start("[::1]:0", registry);
  if (v6.ok()) {
    EXPECT_GT((*v6)->port(), 0);
  }
  auto named = MetricsServer::Start("localhost:0", registry);
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_GT((*named)->port(), 0);
}

}  // namespace
}  // namespace pvegw::metrics
