#include "common/metrics.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/metrics_server.h"

namespace pvegw::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsRegistryTest, CounterAndGaugeWithHelpAndType) {
  Registry r;
  Counter& calls = r.AddCounter("pve_gateway_calls_total", "Calls.", {"method", "code"})
                       .Labels({"/a.B/C", "OK"});
  calls.Increment();
  calls.Increment(2);
  Gauge& in_flight = r.AddGauge("pve_gateway_in_flight_calls", "In flight.").Get();
  in_flight.Add(3);
  in_flight.Add(-1);
  EXPECT_EQ(r.Render(),
            "# HELP pve_gateway_calls_total Calls.\n"
            "# TYPE pve_gateway_calls_total counter\n"
            "pve_gateway_calls_total{method=\"/a.B/C\",code=\"OK\"} 3\n"
            "# HELP pve_gateway_in_flight_calls In flight.\n"
            "# TYPE pve_gateway_in_flight_calls gauge\n"
            "pve_gateway_in_flight_calls 2\n");
}

TEST(MetricsRegistryTest, UnlabelledCounterShowsZeroAndLabelledFamilyStartsEmpty) {
  Registry r;
  r.AddCounter("a_total", "A.");
  r.AddCounter("b_total", "B.", {"kind"});
  const std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("\na_total 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE b_total counter\n"));
  EXPECT_THAT(text, Not(HasSubstr("b_total{")));
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
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeHelp("a\"b"), "a\"b");
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  Histogram& h = r.AddHistogram("lat_seconds", "Latency.", {"method"}, {0.1, 0.5, 1}).Labels({"m"});
  for (double v : {0.05, 0.1, 0.3, 0.7, 2.0, 5.0}) h.Observe(v);
  EXPECT_EQ(r.Render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{method=\"m\",le=\"0.1\"} 2\n"
            "lat_seconds_bucket{method=\"m\",le=\"0.5\"} 3\n"
            "lat_seconds_bucket{method=\"m\",le=\"1\"} 4\n"
            "lat_seconds_bucket{method=\"m\",le=\"+Inf\"} 6\n"
            "lat_seconds_sum{method=\"m\"} 8.15\n"
            "lat_seconds_count{method=\"m\"} 6\n");
}

TEST(MetricsRegistryTest, HistogramWithoutLabelsAndUnsortedBounds) {
  Registry r;
  Histogram& h = r.AddHistogram("h_seconds", "H.", {}, {1, 0.5, 1}).Get();
  h.Observe(0.25);
  const std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("h_seconds_bucket{le=\"0.5\"} 1\nh_seconds_bucket{le=\"1\"} 1\n"
                              "h_seconds_bucket{le=\"+Inf\"} 1\nh_seconds_sum 0.25\n"
                              "h_seconds_count 1\n"));
}

TEST(MetricsRegistryTest, ChildrenAreStableAndSortedAndNamesSanitized) {
  Registry r;
  Family<Counter>& f = r.AddCounter("bad-name_total", "N.", {"k"});
  Counter& b = f.Labels({"b"});
  Counter& a = f.Labels({"a"});
  EXPECT_EQ(&b, &f.Labels({"b"}));
  a.Increment();
  EXPECT_EQ(&f, &r.AddCounter("bad-name_total", "again", {"k"}));
  // Wrong number of label values: padded, never a crash.
  f.Labels({}).Increment();
  const std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("bad_name_total{k=\"\"} 1\nbad_name_total{k=\"a\"} 1\n"
                              "bad_name_total{k=\"b\"} 0\n"));
}

TEST(MetricsRegistryTest, CallbacksRunAtScrapeTime) {
  Registry r;
  int value = 1;
  r.AddCallback("pool_open_connections", "Open.", Type::kGauge, {"endpoint"},
                [&](std::vector<Sample>& out) {
                  out.push_back({{"https://a:8006"}, static_cast<double>(value)});
                });
  EXPECT_THAT(r.Render(), HasSubstr("pool_open_connections{endpoint=\"https://a:8006\"} 1\n"));
  value = 7;
  EXPECT_THAT(r.Render(), HasSubstr("pool_open_connections{endpoint=\"https://a:8006\"} 7\n"));
}

TEST(MetricsRegistryTest, ValuesFormatting) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(-2), "-2");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1.5e20), "1.5e+20");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
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
  calls.ForEach([&](const std::vector<std::string>&, const Counter& c) { total += c.value(); });
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

std::string Render() { return "x_total 1\n"; }

TEST(MetricsHttpTest, AnswersGetAndHeadOnMetricsOnly) {
  HttpAnswer a = AnswerRequest("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", true, Render);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.content_type, kContentType);
  EXPECT_EQ(a.body, "x_total 1\n");
  EXPECT_EQ(AnswerRequest("GET /metrics?x=1 HTTP/1.0\r\n\r\n", true, Render).status, 200);
  EXPECT_TRUE(AnswerRequest("HEAD /metrics HTTP/1.1\r\n\r\n", true, Render).head);
  EXPECT_EQ(AnswerRequest("GET / HTTP/1.1\r\n\r\n", true, Render).status, 404);
  EXPECT_EQ(AnswerRequest("GET /metricsx HTTP/1.1\r\n\r\n", true, Render).status, 404);
  EXPECT_EQ(AnswerRequest("POST /metrics HTTP/1.1\r\n\r\n", true, Render).status, 405);
  EXPECT_EQ(AnswerRequest("DELETE /metrics HTTP/1.1\r\n\r\n", true, Render).status, 405);
}

TEST(MetricsHttpTest, GarbageIsABadRequest) {
  for (const char* bad : {"\r\n\r\n", "GET\r\n\r\n", "GET /metrics\r\n\r\n",
                          "GET /metrics SPDY/3\r\n\r\n", " /metrics HTTP/1.1\r\n\r\n",
                          "GET /met\x01rics HTTP/1.1\r\n\r\n", "\x16\x03\x01\x02\x00\n\n"}) {
    EXPECT_EQ(AnswerRequest(bad, true, Render).status, 400) << bad;
  }
  EXPECT_EQ(AnswerRequest("GET /metrics HTTP/1.1\r\n", false, Render).status, 400);
  EXPECT_EQ(AnswerRequest(std::string(kMaxRequestBytes, 'a'), false, Render).status, 431);
}

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
  Counter& scrapes = registry.AddCounter("scrapes_total", "Scrapes.").Get();
  auto server = MetricsServer::Start("127.0.0.1:0", [&] {
    scrapes.Increment();
    return registry.Render();
  });
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  std::string ok = Exchange(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_THAT(ok, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(ok, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(ok, HasSubstr("\r\n\r\n# HELP scrapes_total Scrapes.\n"));
  EXPECT_THAT(ok, HasSubstr("scrapes_total 1\n"));
  EXPECT_THAT(Exchange(port, "GET /other HTTP/1.1\r\n\r\n"), HasSubstr("HTTP/1.1 404 "));
  const std::string post = Exchange(port, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_THAT(post, HasSubstr("HTTP/1.1 405 "));
  EXPECT_THAT(post, HasSubstr("Allow: GET, HEAD\r\n"));
  EXPECT_THAT(Exchange(port, "garbage\r\n\r\n"), HasSubstr("HTTP/1.1 400 "));
  EXPECT_THAT(Exchange(port, std::string(64 * 1024, 'A')), HasSubstr("HTTP/1.1 431 "));
  std::string binary;
  for (int i = 0; i < 3000; ++i) binary.push_back(static_cast<char>(i * 7919 % 256));
  Exchange(port, binary);  // whatever it answers, the server goes on
  EXPECT_EQ(Exchange(port, ""), "");
  std::string head = Exchange(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_THAT(head, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(head, Not(HasSubstr("# HELP")));
  EXPECT_THAT(Exchange(port, "GET /metrics HTTP/1.0\r\n\r\n"), HasSubstr("scrapes_total "));
  (*server)->Stop();
}

TEST(MetricsServerTest, StopClosesIdleConnectionsAndScrapesGoOnUnderTheLimit) {
  Registry registry;
  registry.AddCounter("up_total", "Up.").Get().Increment();
  auto server = MetricsServer::Start("127.0.0.1:0", [&] { return registry.Render(); });
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  // Clients that connect and send nothing hold fewer than kMaxConnections slots: scrapes
  // are still answered.
  std::vector<int> idle;
  for (int i = 0; i < kMaxConnections - 1; ++i) {
    idle.push_back(ConnectLoopback(port));
    ASSERT_GE(idle.back(), 0);
  }
  EXPECT_THAT(Exchange(port, "GET /metrics HTTP/1.1\r\n\r\n"), HasSubstr("up_total 1\n"));
  // Stop() does not wait for them (they could hold it for kRequestTimeout): it closes
  // their connections, which see EOF and no answer.
  const auto stop_started = std::chrono::steady_clock::now();
  (*server)->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, kRequestTimeout / 2);
  for (int fd : idle) {
    char c;
    EXPECT_EQ(recv(fd, &c, 1, 0), 0);
    close(fd);
  }
}

TEST(MetricsServerTest, BadAddressesAreRefused) {
  auto render = [] { return std::string(); };
  EXPECT_EQ(MetricsServer::Start("no-port", render).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsServer::Start("127.0.0.1:99999", render).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsServer::Start("127.0.0.1:http", render).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto first = MetricsServer::Start("127.0.0.1:0", render);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(
      MetricsServer::Start(absl::StrCat("127.0.0.1:", (*first)->port()), render).status().code(),
      absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace pvegw::metrics
