#include "pvemock/rest_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <ctime>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pvegw::pvemock {
namespace {

// A client's X-Request-ID goes into the access log only when it cannot forge a log line:
// at most 128 characters of [A-Za-z0-9-_.:/+=@]; otherwise "".
std::string LoggableRequestId(boost::beast::string_view id) {
  if (id.size() > 128) return "";
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' ||
                    c == '=' || c == '@';
    if (!ok) return "";
  }
  return std::string(id);
}

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// Lingering close (see Session::DoLinger): what is still read and dropped after an answer
// that refused a request before reading all of it, and for how long.
constexpr std::size_t kMaxLingerBytes = 1024 * 1024;
constexpr std::chrono::milliseconds kMaxLingerTime{5000};
constexpr std::chrono::milliseconds kLingerQuietTime{1000};  // silence that ends it sooner

std::string HttpDate() {
  char buf[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// The "X.Y" of a request line Beast refused for its version (empty if it has none).
std::string SentVersion(const beast::flat_buffer& buffer) {
  const auto data = buffer.data();
  const std::string_view text(static_cast<const char*>(data.data()),
                              std::min<std::size_t>(data.size(), 512));
  const std::size_t eol = text.find('\r');
  const std::size_t pos = text.substr(0, eol).rfind("HTTP/");
  if (pos == std::string_view::npos) return "";
  std::string version;
  for (char c : text.substr(pos + 5, 5)) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.')) break;
    version.push_back(c);
  }
  if (version.find('.') == std::string::npos) return "";
  return version;
}

// Everything a session needs from its server.
struct ServerShared {
  RestFrontend* frontend = nullptr;
  RestServerOptions options;
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> draining{false};
};

// Shutdown reaches sessions through this registry; each closes itself on its own strand.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Drain() = 0;
};

class Registry {
 public:
  void Add(const std::shared_ptr<SessionBase>& s) {
    std::lock_guard<std::mutex> lock(mu_);
    // Drop entries of finished sessions now and then so the list stays small.
    if (++adds_ % 256 == 0) {
      sessions_.remove_if([](const std::weak_ptr<SessionBase>& w) { return w.expired(); });
    }
    sessions_.push_back(s);
  }
  void DrainAll() {
    std::list<std::weak_ptr<SessionBase>> copy;
    {
      std::lock_guard<std::mutex> lock(mu_);
      copy = sessions_;
    }
    for (auto& w : copy) {
      if (auto s = w.lock()) s->Drain();
    }
  }

 private:
  std::mutex mu_;
  std::size_t adds_ = 0;
  std::list<std::weak_ptr<SessionBase>> sessions_;
};

// The request/answer loop of one connection, shared by plain and TLS streams (CRTP, as in
// Beast's advanced_server_flex): DoReadHead -> OnReadHead -> DoReadBody -> OnReadBody ->
// DoWrite -> OnWrite -> DoReadHead ... -> DoClose.
template <class Derived>
class Session {
 public:
  Session(ServerShared& shared, beast::flat_buffer buffer, std::string remote)
      : shared_(shared), buffer_(std::move(buffer)), remote_(std::move(remote)) {}

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }

  void DoReadHead() {
    if (shared_.draining.load()) return derived().DoClose();
    reading_head_ = true;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
    // Uploads may be larger than other bodies; CheckHead applies the limit by target.
    parser_->body_limit(std::max<std::uint64_t>(kMaxRequestBodyBytes,
                                                shared_.frontend->options().max_upload_bytes));
    beast::get_lowest_layer(derived().stream()).expires_after(shared_.options.idle_timeout);
    http::async_read_header(
        derived().stream(), buffer_, *parser_,
        beast::bind_front_handler(&Session::OnReadHead, derived().shared_from_this()));
  }

  void OnReadHead(beast::error_code ec, std::size_t) {
    reading_head_ = false;
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == ssl::error::stream_truncated) {
      return derived().DoClose();  // the client went away or stayed silent
    }
    start_ = std::chrono::steady_clock::now();
    if (ec == http::error::header_limit) {
      return Answer(RawError(431, "request header too large"), "-", "-");
    }
    if (ec == http::error::body_limit) {  // Content-Length beyond the limit
      return Answer(RawError(501, "for data too large"), "-", "-");
    }
    if (ec == http::error::bad_version && !SentVersion(buffer_).empty()) {
      return Answer(RawError(506, absl::StrCat("http protocol version ", SentVersion(buffer_),
                                               " not supported")),
                    "-", "-");
    }
    if (ec) return Answer(RawError(400, "bad request"), "-", "-");
    const auto& head = parser_->get();
    method_ = std::string(head.method_string());
    path_ = std::string(head.target().substr(0, head.target().find('?')));
    request_id_ = LoggableRequestId(head["X-Request-ID"]);  // "" when absent
    if (head.version() != 10 && head.version() != 11) {
      return Answer(RawError(506, absl::StrCat("http protocol version ", head.version() / 10, ".",
                                               head.version() % 10, " not supported")),
                    method_, path_);
    }
    version_ = head.version();
    std::size_t fields = 0;
    for (auto it = head.begin(); it != head.end(); ++it) ++fields;
    if (fields >= kMaxHeaderFields) {
      return Answer(RawError(431, "too many header fields"), method_, path_);
    }
    const beast::string_view target = head.target();
    if (target.empty() || target[0] != '/')
      return Answer(RawError(400, "invalid url"), method_, path_);
    std::optional<std::uint64_t> length;
    if (auto it = head.find(http::field::content_length); it != head.end()) {
      std::uint64_t n = 0;
      if (!absl::SimpleAtoi(std::string(it->value()), &n)) {
        return Answer(RawError(400, "bad request"), method_, path_);
      }
      length = n;
    }
    std::string te;
    if (auto it = head.find(http::field::transfer_encoding); it != head.end()) {
      te = std::string(it->value());
    }
    if (auto refused = shared_.frontend->CheckHead(
            method_, length, te, absl::string_view(target.data(), target.size()))) {
      return Answer(*std::move(refused), method_, path_);
    }
    keep_alive_ = head.keep_alive();
    if (parser_->is_done()) return OnReadBody({}, 0);
    beast::get_lowest_layer(derived().stream()).expires_after(shared_.options.body_timeout);
    http::async_read(derived().stream(), buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnReadBody, derived().shared_from_this()));
  }

  void OnReadBody(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit) {
      return Answer(RawError(501, "for data too large"), method_, path_);
    }
    if (ec) return derived().DoClose();  // timeout or a client that went away mid-body
    http::request<http::string_body> req = parser_->release();
    HttpRequest request;
    request.method = method_;
    request.target = std::string(req.target());
    for (const auto& field : req) {
      switch (field.name()) {
        case http::field::cookie:
          if (!request.cookie.empty()) request.cookie += "; ";
          request.cookie += std::string(field.value());
          break;
        case http::field::authorization:
          request.authorization = std::string(field.value());
          break;
        case http::field::content_type:
          request.content_type = std::string(field.value());
          break;
        default:
          if (beast::iequals(field.name_string(), "CSRFPreventionToken")) {
            request.csrf_token = std::string(field.value());
          }
      }
    }
    request.body = std::move(req.body());
    HttpAnswer answer = shared_.frontend->Handle(request);
    const std::string user = answer.user.empty() ? "-" : answer.user;
    int delay = answer.fault == FaultAction::kDelay ? answer.delay_ms : 0;
    if (answer.status == 401 && shared_.options.auth_failure_delay_ms > 0) {
      delay = shared_.options.auth_failure_delay_ms;
    }
    if (answer.fault == FaultAction::kClose) {
      Log(0, 0, user);
      return derived().DoClose();
    }
    if (answer.fault == FaultAction::kHang) {
      Log(0, 0, user);
      return DoHang();
    }
    if (delay > 0) {
      timer_.emplace(beast::get_lowest_layer(derived().stream()).get_executor());
      timer_->expires_after(std::chrono::milliseconds(delay));
      timer_->async_wait([self = derived().shared_from_this(), a = std::move(answer),
                          user](beast::error_code) mutable {
        self->Answer(std::move(a), self->method_, self->path_, user);
      });
      return;
    }
    Answer(std::move(answer), method_, path_, user);
  }

  // Serialises and sends `answer`; pveproxy's fixed headers, keep-alive unless >= 400.
  void Answer(HttpAnswer answer, std::string method, std::string path, std::string user = "-") {
    method_ = std::move(method);
    path_ = std::move(path);
    ++served_;
    const bool close = answer.close || !keep_alive_ || shared_.draining.load() ||
                       served_ >= shared_.options.max_requests_per_connection;
    close_after_write_ = close;
    // Refused before its head or body was read in full: bytes of it are still coming.
    unread_input_ = parser_.has_value() && !parser_->is_done();
    const std::string date = HttpDate();
    std::string out = absl::StrCat("HTTP/", version_ / 10, ".", version_ % 10, " ", answer.status,
                                   " ", answer.reason, "\r\n");
    absl::StrAppend(&out, "Server: pve-api-daemon/3.0\r\nDate: ", date, "\r\nExpires: ", date,
                    "\r\nCache-Control: max-age=0\r\nPragma: no-cache\r\n",
                    "Connection: ", close ? "close" : "Keep-Alive", "\r\n");
    if (!answer.content_type.empty()) {
      absl::StrAppend(&out, "Content-Type: ", answer.content_type, "\r\n");
    }
    absl::StrAppend(&out, "Content-Length: ", answer.body.size(), "\r\n\r\n");
    std::size_t body_bytes = answer.body.size();
    if (answer.fault == FaultAction::kTruncate) {
      body_bytes /= 2;
      close_after_write_ = true;
    }
    out.append(answer.body, 0, body_bytes);
    status_ = answer.status;
    bytes_ = body_bytes;
    user_ = std::move(user);
    out_ = std::move(out);
    beast::get_lowest_layer(derived().stream()).expires_after(shared_.options.write_timeout);
    net::async_write(derived().stream(), net::buffer(out_),
                     beast::bind_front_handler(&Session::OnWrite, derived().shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    Log(status_, bytes_, user_);
    out_.clear();
    if (!ec && close_after_write_ && unread_input_) return DoLinger();
    if (ec || close_after_write_) return derived().DoClose();
    DoReadHead();
  }

  // Closing a socket with unread bytes makes the kernel reset the connection, and a client
  // still sending (a 64 KiB path, 10,000 headers, a chunked upload) loses the answer that
  // says why. So after such an answer the rest is read and dropped, never buffered: until
  // the client closes, or is quiet for kLingerQuietTime, or kMaxLingerBytes or
  // kMaxLingerTime are reached; then the connection closes (a "lingering close").
  void DoLinger() {
    const auto now = std::chrono::steady_clock::now();
    if (linger_deadline_ == std::chrono::steady_clock::time_point{}) {
      linger_deadline_ = now + kMaxLingerTime;
    }
    beast::get_lowest_layer(derived().stream())
        .expires_at(std::min(now + kLingerQuietTime, linger_deadline_));
    derived().stream().async_read_some(
        net::buffer(sink_),
        [self = derived().shared_from_this()](beast::error_code ec, std::size_t n) {
          self->lingered_bytes_ += n;
          if (ec || self->lingered_bytes_ >= kMaxLingerBytes) return self->DoClose();
          self->DoLinger();
        });
  }

  // A "hang" fault: keep the connection open, answer nothing, until the client leaves,
  // the server drains, or ten minutes pass.
  void DoHang() {
    hanging_ = true;
    beast::get_lowest_layer(derived().stream()).expires_after(std::chrono::minutes(10));
    derived().stream().async_read_some(net::buffer(sink_), [self = derived().shared_from_this()](
                                                               beast::error_code ec, std::size_t) {
      if (ec) return self->DoClose();
      self->DoHang();
    });
  }

  void Log(int status, std::size_t bytes, const std::string& user) {
    if (!shared_.options.access_log) return;
    AccessLogEntry e;
    e.remote = remote_;
    e.user = user;
    e.method = method_;
    e.path = path_;
    e.request_id = request_id_.empty() ? "-" : request_id_;
    request_id_.clear();
    e.status = status;
    e.bytes = bytes;
    e.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
               .count();
    shared_.options.access_log(e);
  }

  // On the session's strand: an idle connection closes now, a busy one after its answer.
  void DrainOnStrand() {
    const bool lingering = linger_deadline_ != std::chrono::steady_clock::time_point{};
    if (reading_head_ || hanging_ || lingering) {
      beast::get_lowest_layer(derived().stream()).cancel();
    }
  }

  ServerShared& shared_;
  beast::flat_buffer buffer_;
  std::string remote_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<net::steady_timer> timer_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::string method_ = "-";
  std::string path_ = "-";
  std::string request_id_;  // X-Request-ID of the request being served, for the access log
  std::string user_ = "-";
  std::string out_;
  std::array<char, 4096> sink_{};  // bytes read only to be dropped (hang, linger)
  std::chrono::steady_clock::time_point linger_deadline_{};
  std::size_t lingered_bytes_ = 0;
  bool unread_input_ = false;
  unsigned version_ = 11;
  int served_ = 0;
  int status_ = 0;
  std::size_t bytes_ = 0;
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  bool reading_head_ = false;
  bool hanging_ = false;
};

class PlainSession : public Session<PlainSession>,
                     public SessionBase,
                     public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(ServerShared& shared, beast::tcp_stream stream, beast::flat_buffer buffer,
               std::string remote)
      : Session(shared, std::move(buffer), std::move(remote)), stream_(std::move(stream)) {}
  ~PlainSession() override { shared_.connections.fetch_sub(1); }

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&PlainSession::DoReadHead, shared_from_this()));
  }
  void Drain() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->DrainOnStrand(); });
  }
  beast::tcp_stream& stream() { return stream_; }
  void DoClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

 private:
  friend class Session<PlainSession>;
  beast::tcp_stream stream_;
};

class TlsSession : public Session<TlsSession>,
                   public SessionBase,
                   public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(ServerShared& shared, beast::tcp_stream stream, ssl::context& ctx,
             beast::flat_buffer buffer, std::string remote)
      : Session(shared, std::move(buffer), std::move(remote)), stream_(std::move(stream), ctx) {}
  ~TlsSession() override { shared_.connections.fetch_sub(1); }

  void Run() {
    beast::get_lowest_layer(stream_).expires_after(shared_.options.idle_timeout);
    // The bytes read while detecting TLS are part of the handshake.
    stream_.async_handshake(
        ssl::stream_base::server, buffer_.data(),
        [self = shared_from_this()](beast::error_code ec, std::size_t used) {
          if (ec) return self->DoCloseSocket();  // not TLS after all, or a bad handshake
          self->buffer_.consume(used);
          self->DoReadHead();
        });
  }
  void Drain() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->DrainOnStrand(); });
  }
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  void DoClose() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown(
        [self = shared_from_this()](beast::error_code) { self->DoCloseSocket(); });
  }
  void DoCloseSocket() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

 private:
  friend class Session<TlsSession>;
  beast::ssl_stream<beast::tcp_stream> stream_;
};

// Plain HTTP on a TLS port: pveproxy answers 301 (GET) or 308 to https://<Host>... and
// closes (AE ensure_tls_connection).
class RedirectSession : public std::enable_shared_from_this<RedirectSession> {
 public:
  RedirectSession(ServerShared& shared, beast::tcp_stream stream, beast::flat_buffer buffer)
      : shared_(shared), stream_(std::move(stream)), buffer_(std::move(buffer)) {}
  ~RedirectSession() { shared_.connections.fetch_sub(1); }

  void Run() {
    parser_.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
    stream_.expires_after(shared_.options.idle_timeout);
    http::async_read_header(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) return Close();
    const auto& req = parser_.get();
    std::string host(req[http::field::host]);
    for (char c : host) {
      if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) return Close();
    }
    if (host.empty()) host = "localhost";
    const bool get = req.method() == http::verb::get;
    out_ = absl::StrCat("HTTP/1.1 ", get ? "301 Moved Permanently" : "308 Permanent Redirect",
                        "\r\nLocation: https://", host, std::string(req.target()),
                        "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    net::async_write(
        stream_, net::buffer(out_),
        [self = shared_from_this()](beast::error_code, std::size_t) { self->Close(); });
  }
  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  ServerShared& shared_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  std::string out_;
};

// Decides what a new TLS-port connection is: a handshake, or plain HTTP to redirect.
class Detector : public std::enable_shared_from_this<Detector> {
 public:
  Detector(ServerShared& shared, Registry& registry, ssl::context& ctx, tcp::socket socket,
           std::string remote)
      : shared_(shared),
        registry_(registry),
        ctx_(ctx),
        stream_(std::move(socket)),
        remote_(std::move(remote)) {}

  void Run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->stream_.expires_after(self->shared_.options.idle_timeout);
      beast::async_detect_ssl(self->stream_, self->buffer_,
                              [self](beast::error_code ec, bool tls) { self->OnDetect(ec, tls); });
    });
  }

 private:
  void OnDetect(beast::error_code ec, bool tls) {
    if (ec) {
      shared_.connections.fetch_sub(1);
      beast::error_code ignored;
      stream_.socket().close(ignored);
      return;
    }
    if (!tls) {
      std::make_shared<RedirectSession>(shared_, std::move(stream_), std::move(buffer_))->Run();
      return;
    }
    auto session = std::make_shared<TlsSession>(shared_, std::move(stream_), ctx_,
                                                std::move(buffer_), remote_);
    registry_.Add(session);
    session->Run();
  }

  ServerShared& shared_;
  Registry& registry_;
  ssl::context& ctx_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string remote_;
};

}  // namespace

class RestServer::Impl {
 public:
  explicit Impl(int threads) : ioc_(threads), ssl_ctx_(ssl::context::tls_server) {}

  absl::Status Listen(const std::string& listen) {
    const std::size_t colon = listen.rfind(':');
    int port = -1;
    if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
        port < 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("--listen=", listen, " is not host:port (e.g. 127.0.0.1:8006)"));
    }
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    beast::error_code ec;
    const net::ip::address address = net::ip::make_address(host, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("--listen=", listen, ": '", host, "' is not an IP address"));
    }
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, ": ", ec.message()));
    }
    host_ = address.to_string();
    port_ = acceptor_.local_endpoint().port();
    return absl::OkStatus();
  }

  absl::Status SetUpTls(const TlsIdentity& identity) {
    beast::error_code ec;
    ssl_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    ssl_ctx_.use_certificate_chain(net::buffer(identity.cert_pem), ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS certificate: ", ec.message()));
    ssl_ctx_.use_private_key(net::buffer(identity.key_pem), ssl::context::pem, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS key: ", ec.message()));
    return absl::OkStatus();
  }

  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      OnAccept(ec, std::move(s));
    });
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (shared_.connections.load() >= shared_.options.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);  // over the limit: closed at once, others keep being served
      } else {
        shared_.connections.fetch_add(1);
        beast::error_code rec;
        const tcp::endpoint peer = socket.remote_endpoint(rec);
        std::string remote = rec ? "?" : absl::StrCat(peer.address().to_string(), ":", peer.port());
        if (shared_.options.tls) {
          std::make_shared<Detector>(shared_, registry_, ssl_ctx_, std::move(socket),
                                     std::move(remote))
              ->Run();
        } else {
          auto session =
              std::make_shared<PlainSession>(shared_, beast::tcp_stream(std::move(socket)),
                                             beast::flat_buffer(), std::move(remote));
          registry_.Add(session);
          session->Run();
        }
      }
    }
    DoAccept();  // a failed accept (e.g. out of descriptors) does not stop the server
  }

  void Shutdown(std::chrono::milliseconds grace) {
    std::lock_guard<std::mutex> lock(shutdown_mu_);
    if (stopped_) return;
    stopped_ = true;
    shared_.draining.store(true);
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    registry_.DrainAll();
    // Busy sessions finish their answer and close; after the grace period, stop anyway.
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (shared_.connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      registry_.DrainAll();
    }
    work_.reset();
    ioc_.stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  net::io_context ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  // On a strand of its own: accept completions and the close Shutdown() posts never overlap.
  tcp::acceptor acceptor_{net::make_strand(ioc_)};
  ssl::context ssl_ctx_;
  ServerShared shared_;
  Registry registry_;
  std::vector<std::thread> threads_;
  std::string host_;
  int port_ = 0;
  std::mutex shutdown_mu_;
  bool stopped_ = false;
};

RestServer::RestServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RestServer::~RestServer() { Shutdown(std::chrono::milliseconds(0)); }

int RestServer::port() const { return impl_->port_; }
const std::string& RestServer::host() const { return impl_->host_; }
void RestServer::Shutdown(std::chrono::milliseconds grace) { impl_->Shutdown(grace); }

absl::StatusOr<std::unique_ptr<RestServer>> RestServer::Start(RestFrontend& frontend,
                                                              RestServerOptions options) {
  const int threads = std::max(1, options.threads);
  auto impl = std::make_unique<Impl>(threads);
  impl->shared_.frontend = &frontend;
  impl->shared_.options = std::move(options);
  if (impl->shared_.options.tls) {
    absl::Status st = impl->SetUpTls(impl->shared_.options.identity);
    if (!st.ok()) return st;
  }
  absl::Status st = impl->Listen(impl->shared_.options.listen);
  if (!st.ok()) return st;
  impl->work_.emplace(net::make_work_guard(impl->ioc_));
  impl->DoAccept();
  for (int i = 0; i < threads; ++i) {
    impl->threads_.emplace_back([ioc = &impl->ioc_] {
      for (;;) {
        try {
          ioc->run();
          return;
        } catch (const std::exception&) {
          // A handler threw: the session it belonged to is gone, the server goes on.
        }
      }
    });
  }
  return std::unique_ptr<RestServer>(new RestServer(std::move(impl)));
}

}  // namespace pvegw::pvemock
