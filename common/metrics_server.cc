#include "common/metrics_server.h"

#include <array>
#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/metrics.h"

namespace pvegw::metrics {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Parser = http::request_parser<http::empty_body>;

// After the answer, what the client still sends is read and dropped for at most this long
// (and this much): closing with unread input would reset the connection and could destroy
// the answer in flight.
constexpr std::chrono::milliseconds kDrainTime{500};
constexpr std::size_t kMaxDrainBytes = 64 * 1024;
// After a failed accept (e.g. no file descriptor left), the pause before the next.
constexpr std::chrono::milliseconds kAcceptRetry{100};

HttpAnswer Plain(int status, const char* reason, std::string body) {
  HttpAnswer a;
  a.status = status;
  a.reason = reason;
  a.content_type = "text/plain; charset=utf-8";
  a.body = std::move(body);
  return a;
}

void Configure(Parser& parser) {
  parser.header_limit(static_cast<std::uint32_t>(kMaxRequestBytes));
  parser.eager(false);  // the header only: a body is never read
}

HttpAnswer TooLarge() {
  return Plain(431, "Request Header Fields Too Large",
               absl::StrCat("request headers exceed ", kMaxRequestBytes, " bytes\n"));
}

// The answer to a parsed request header.
HttpAnswer Route(const http::request_header<>& header, const std::function<std::string()>& render) {
  absl::string_view target(header.target().data(), header.target().size());
  target = target.substr(0, target.find('?'));
  if (target != kMetricsPath) return Plain(404, "Not Found", "only /metrics is served here\n");
  const http::verb verb = header.method();
  if (verb != http::verb::get && verb != http::verb::head) {
    return Plain(405, "Method Not Allowed", "GET /metrics\n");
  }
  HttpAnswer a;
  a.status = 200;
  a.reason = "OK";
  a.content_type = kContentType;
  a.head = verb == http::verb::head;
  a.body = render();  // HEAD too: its Content-Length is the page's
  return a;
}

// The answer after reading a header ended with `ec` (success or why not).
std::optional<HttpAnswer> AnswerAfterRead(const beast::error_code& ec, const Parser& parser,
                                          const std::function<std::string()>& render) {
  if (!ec && parser.is_header_done()) {
    try {
      return Route(parser.get().base(), render);
    } catch (const std::exception& e) {
      return Plain(500, "Internal Server Error", absl::StrCat(e.what(), "\n"));
    }
  }
  if (ec == http::error::header_limit || ec == beast::http::error::buffer_overflow) {
    return TooLarge();
  }
  if (ec == net::error::operation_aborted || ec == beast::error::timeout) {
    return std::nullopt;  // too slow, or shutting down: dropped without an answer
  }
  if (ec == http::error::end_of_stream || ec == net::error::eof) {
    return std::nullopt;  // closed before sending anything
  }
  if (ec == http::error::partial_message || ec == http::error::need_more) {
    return Plain(400, "Bad Request", "incomplete request\n");
  }
  return Plain(400, "Bad Request", absl::StrCat("malformed request: ", ec.message(), "\n"));
}

http::response<http::string_body> ToResponse(HttpAnswer a, unsigned version) {
  http::response<http::string_body> res{static_cast<http::status>(a.status),
                                        version == 10 ? 10u : 11u};
  res.reason(a.reason);
  res.set(http::field::content_type, a.content_type);
  if (a.status == 405) res.set(http::field::allow, "GET, HEAD");
  res.keep_alive(false);
  const std::size_t length = a.body.size();
  if (!a.head) res.body() = std::move(a.body);
  res.content_length(length);
  return res;
}

// One connection: read one request header, answer, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  // `on_done` runs on the io thread when the session ends.
  Session(tcp::socket socket, const std::function<std::string()>& render,
          std::function<void(Session*)> on_done)
      : stream_(std::move(socket)), render_(render), on_done_(std::move(on_done)) {
    Configure(parser_);
  }
  ~Session() { on_done_(this); }

  // Aborts whatever the session waits for; its handlers then end it.
  void Close() { stream_.close(); }

  void Run() {
    stream_.expires_after(kRequestTimeout);
    http::async_read_header(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    std::optional<HttpAnswer> answer = AnswerAfterRead(ec, parser_, render_);
    if (!answer) return;
    const unsigned version = parser_.is_header_done() ? parser_.get().version() : 11;
    response_ = ToResponse(*std::move(answer), version);
    stream_.expires_after(kRequestTimeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                        if (write_ec) return;
                        beast::error_code ignored;
                        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                        self->stream_.expires_after(kDrainTime);
                        self->Drain();
                      });
  }

  void Drain() {
    stream_.async_read_some(net::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (!ec && self->drained_ < kMaxDrainBytes) self->Drain();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{kMaxRequestBytes};
  Parser parser_;
  http::response<http::string_body> response_;
  std::array<char, 2048> scratch_{};
  std::size_t drained_ = 0;
  const std::function<std::string()>& render_;
  std::function<void(Session*)> on_done_;
};

}  // namespace

HttpAnswer AnswerRequest(absl::string_view request, bool complete,
                         const std::function<std::string()>& render) {
  Parser parser;
  Configure(parser);
  beast::error_code ec;
  std::size_t used = 0;
  // The parser takes the header in one piece once it is all there (as the server's buffered
  // read hands it over); a complete header is parsed whatever follows it.
  while (!ec && !parser.is_header_done() && used < request.size()) {
    used += parser.put(net::buffer(request.data() + used, request.size() - used), ec);
    if (ec == http::error::need_more) {
      ec = {};
      break;
    }
  }
  if (!ec && !parser.is_header_done()) {
    if (request.size() >= kMaxRequestBytes) return TooLarge();
    ec = complete ? http::error::partial_message : http::error::need_more;
    if (request.empty()) return Plain(400, "Bad Request", "incomplete request\n");
  }
  std::optional<HttpAnswer> answer = AnswerAfterRead(ec, parser, render);
  return answer ? *std::move(answer) : Plain(400, "Bad Request", "incomplete request\n");
}

struct MetricsServer::Impl {
  explicit Impl(std::function<std::string()> r) : render(std::move(r)) {}

  void Accept() {
    if (active >= kMaxConnections) {
      accept_paused = true;  // the rest wait in the listen backlog until one is done
      return;
    }
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        // E.g. out of file descriptors: the connection stays in the backlog, so accepting
        // again at once would spin. Try again a little later.
        retry.expires_after(kAcceptRetry);
        retry.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec && acceptor.is_open()) Accept();
        });
        return;
      }
      {
        ++active;
        auto session = std::make_shared<Session>(std::move(socket), render, [this](Session* ended) {
          live.erase(ended);
          --active;
          if (accept_paused && acceptor.is_open()) {
            accept_paused = false;
            Accept();
          }
        });
        live.insert(session.get());
        session->Run();
      }
      Accept();
    });
  }

  const std::function<std::string()> render;
  std::atomic<bool> stopped{false};
  // io thread only:
  int active = 0;
  bool accept_paused = false;
  std::set<Session*> live;  // open sessions, closed by Stop()
  int port = 0;
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  net::steady_timer retry{io};
  std::thread thread;
};

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
  auto impl = std::make_unique<Impl>(std::move(render));
  beast::error_code ec;
  tcp::resolver resolver(impl->io);
  const auto found = resolver.resolve(host.empty() ? "0.0.0.0" : host, port_text,
                                      tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || found.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen=", listen, ": cannot resolve host: ", ec.message()));
  }
  std::string error = "no usable address";
  for (const auto& entry : found) {
    beast::error_code bind_ec;
    impl->acceptor.open(entry.endpoint().protocol(), bind_ec);
    if (!bind_ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), bind_ec);
    if (!bind_ec) impl->acceptor.bind(entry.endpoint(), bind_ec);
    if (!bind_ec) impl->acceptor.listen(64, bind_ec);
    if (!bind_ec) break;
    error = bind_ec.message();
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  }
  if (!impl->acceptor.is_open()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, " for metrics: ", error));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  Impl* raw = impl.get();
  raw->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() { Stop(); }

int MetricsServer::port() const { return impl_->port; }

void MetricsServer::Stop() {
  if (impl_->stopped.exchange(true)) return;
  // On the io thread: stop accepting and close every open connection. Their handlers end
  // with operation_aborted, and the loop returns once nothing is left to do.
  net::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    impl->retry.cancel();
    for (Session* session : impl->live) session->Close();
  });
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace pvegw::metrics
