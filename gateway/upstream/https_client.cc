// One file on purpose (~940 lines): all Beast/Asio code of real mode stays in one translation
// unit because each one costs ~15 s to compile.
#include "gateway/upstream/https_client.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace pvegw::gateway::upstream {
namespace {

// Set on the I/O threads (HttpsClient::OnIoThread).
thread_local bool t_io_thread = false;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::string Seconds(Clock::duration d) {
  return absl::StrCat(std::chrono::duration<double>(d).count(), " s");
}

}  // namespace

std::string Endpoint::Authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  return v6 ? absl::StrCat("[", host, "]:", port) : absl::StrCat(host, ":", port);
}

std::string Endpoint::Url() const { return absl::StrCat("https://", Authority(), base_path); }

const char* ExchangeErrorName(ExchangeError error) {
  switch (error) {
    case ExchangeError::kNone:
      return "none";
    case ExchangeError::kConnect:
      return "connect";
    case ExchangeError::kTls:
      return "tls";
    case ExchangeError::kTimeout:
      return "timeout";
    case ExchangeError::kConnectionLost:
      return "connection_lost";
    case ExchangeError::kProtocol:
      return "protocol";
    case ExchangeError::kTooLarge:
      return "too_large";
    case ExchangeError::kQueueFull:
      return "queue_full";
    case ExchangeError::kCancelled:
      return "cancelled";
    case ExchangeError::kShutdown:
      return "shutdown";
  }
  return "unknown";
}

absl::StatusOr<std::vector<unsigned char>> ParseSha256Fingerprint(const std::string& text) {
  std::vector<unsigned char> out;
  int nibble = -1;
  for (char c : text) {
    if (c == ':' || c == ' ') continue;
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) {
      return absl::InvalidArgumentError(
          "PROXMOX_API_TLS_FINGERPRINT is not hex (expected the SHA-256 fingerprint as "
          "Proxmox shows it, AB:CD:...)");
    }
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<unsigned char>(nibble * 16 + v));
      nibble = -1;
    }
  }
  if (nibble >= 0 || out.size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PROXMOX_API_TLS_FINGERPRINT must be a SHA-256 fingerprint (32 bytes, 64 hex digits); "
        "got ",
        out.size(), " bytes"));
  }
  return out;
}

std::string FormatFingerprint(const unsigned char* digest, std::size_t size) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < size; ++i) {
    if (i > 0) out.push_back(':');
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

namespace {

class Connection;

// One call on its way through the pool.
struct Job {
  HttpRequest request;
  Clock::time_point deadline;
  std::shared_ptr<CallCancellation> cancellation;
  std::function<void(Exchange)> done;
  bool fresh_only = false;  // a stale kept-alive connection failed it: use a new one
  std::uint64_t id = 0;
  std::shared_ptr<asio::steady_timer> queue_timer;
};

void Complete(Job& job, Exchange result) {
  if (job.cancellation) job.cancellation->OnCancel(nullptr);
  auto done = std::move(job.done);
  job.done = nullptr;
  if (done) done(std::move(result));
}

// The kind a failure has unless its site says otherwise.
ExchangeError KindOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kCancelled:
      return ExchangeError::kCancelled;
    case absl::StatusCode::kDeadlineExceeded:
      return ExchangeError::kTimeout;
    case absl::StatusCode::kResourceExhausted:
      return ExchangeError::kTooLarge;
    case absl::StatusCode::kUnavailable:
      return ExchangeError::kConnectionLost;
    default:
      return ExchangeError::kProtocol;
  }
}

Exchange Failure(absl::Status status, bool sent = false, bool before_request = false,
                 ExchangeError kind = ExchangeError::kNone) {
  Exchange e;
  e.error = kind != ExchangeError::kNone ? kind : KindOf(status);
  e.status = std::move(status);
  e.sent = sent;
  e.before_request = before_request;
  return e;
}

}  // namespace

namespace {

// The connections to one endpoint.
struct Pool {
  HttpsClient::Impl* client = nullptr;
  Endpoint endpoint;
  mutable std::mutex mu;
  std::vector<std::shared_ptr<Connection>> idle;  // most recently used last
  std::deque<Job> waiting;
  std::set<std::weak_ptr<Connection>, std::owner_less<std::weak_ptr<Connection>>> live;
  int open = 0;
  std::uint64_t next_job_id = 1;
  PoolStats stats;

  void Submit(Job job);
  // Called by a connection when its exchange is over.
  void Release(std::shared_ptr<Connection> conn, bool reusable);
  void StartNew(Job job);  // `open` already counts the new connection
  // Closes the idle connections the server has closed or that are older than the idle
  // timeout; sets *any_left when idle ones remain.
  void SweepIdle(bool* any_left);
  void Dequeue(std::uint64_t id, absl::Status why);
};

}  // namespace

struct HttpsClient::Impl {
  ClientSettings settings;
  ssl::context ssl_ctx{ssl::context::tls_client};
  std::vector<std::unique_ptr<Pool>> pools;
  std::vector<Endpoint> endpoints;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::mutex timers_mu;
  std::set<std::shared_ptr<asio::steady_timer>> timers;
  bool sweep_armed = false;  // under timers_mu
};

namespace {

// One TLS connection to pveproxy. Its steps run on its own strand, in Beast's order:
// DoResolve -> OnResolve -> OnConnect -> OnHandshake -> DoWrite -> OnWrite -> OnReadHeader
// -> OnReadBody -> Finish.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Pool& pool, HttpsClient::Impl& client)
      : pool_(pool),
        client_(client),
        strand_(asio::make_strand(client.ioc)),
        resolver_(strand_),
        stream_(strand_, client.ssl_ctx) {}

  // A new connection: connect, handshake, then run `job`.
  void Start(Job job) {
    asio::post(strand_, [self = shared_from_this(), job = std::move(job)]() mutable {
      self->job_ = std::move(job);
      self->WatchCancellation();
      self->DoResolve();
    });
  }

  // A kept-alive connection: run `job` right away.
  void Run(Job job) {
    asio::post(strand_, [self = shared_from_this(), job = std::move(job)]() mutable {
      self->job_ = std::move(job);
      self->reused_ = true;
      self->WatchCancellation();
      self->DoWrite();
    });
  }

  // Closes the socket from any thread; pending steps finish with an error.
  void Abort() {
    asio::post(strand_, [self = shared_from_this()] { self->CloseSocket(); });
  }

  // The server has shut down its side (FIN or reset), even if bytes (a TLS close_notify)
  // are still unread: POLLRDHUP says so without reading. For the idle sweep.
  bool PeerGone() {
    auto& sock = beast::get_lowest_layer(stream_).socket();
    if (!sock.is_open()) return true;
    pollfd p{sock.native_handle(), POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  // An idle connection the server has closed (or sent something unsolicited on, like a TLS
  // close_notify) must not carry a request. Checked synchronously without consuming data.
  bool LooksClosed() {
    auto& sock = beast::get_lowest_layer(stream_).socket();
    if (!sock.is_open()) return true;
    char c;
    const ssize_t n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    return true;
  }

  void CloseNow() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  Clock::time_point idle_since;

 private:
  const Endpoint& endpoint() const { return pool_.endpoint; }

  void WatchCancellation() {
    if (!job_.cancellation) return;
    std::weak_ptr<Connection> weak = weak_from_this();
    job_.cancellation->OnCancel([weak] {
      if (auto self = weak.lock()) {
        asio::post(self->strand_, [self] {
          self->cancelled_ = true;
          self->CloseSocket();
        });
      }
    });
  }

  void CloseSocket() {
    beast::error_code ec;
    resolver_.cancel();
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  void DoResolve() {
    if (client_.stopping) {
      return Fail(absl::UnavailableError("gateway is shutting down"), false, false,
                  ExchangeError::kShutdown);
    }
    connect_deadline_ = std::min(job_.deadline, Clock::now() + client_.settings.connect_timeout);
    beast::get_lowest_layer(stream_).expires_at(connect_deadline_);
    resolver_.async_resolve(
        endpoint().host, std::to_string(endpoint().port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          self->OnResolve(ec, std::move(results));
        });
  }

  void OnResolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return FailConnect("cannot resolve", ec);
    beast::get_lowest_layer(stream_).async_connect(
        results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          self->OnConnect(ec);
        });
  }

  void OnConnect(beast::error_code ec) {
    if (ec) return FailConnect("cannot connect to", ec);
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().set_option(tcp::no_delay(true), ignored);
    const TlsSettings& tls = client_.settings.tls;
    // SNI carries host names only (RFC 6066); an IP literal is checked against IP SANs.
    beast::error_code addr_ec;
    asio::ip::make_address(endpoint().host, addr_ec);
    if (addr_ec && !SSL_set_tlsext_host_name(stream_.native_handle(), endpoint().host.c_str())) {
      return FailConnect("cannot set SNI for", beast::error_code(static_cast<int>(ERR_get_error()),
                                                                 asio::error::get_ssl_category()));
    }
    if (!tls.verify) {
      stream_.set_verify_mode(ssl::verify_none);
    } else {
      stream_.set_verify_mode(ssl::verify_peer);
      stream_.set_verify_callback(
          [this](bool preverified, ssl::verify_context& ctx) { return Verify(preverified, ctx); });
    }
    stream_.async_handshake(
        ssl::stream_base::client,
        [self = shared_from_this()](beast::error_code ec) { self->OnHandshake(ec); });
  }

  // Fail closed: with a pin, exactly the pinned certificate is accepted (chain and name
  // are not needed: that is how self-signed PVE hosts are trusted); without one, the chain
  // must verify against the CAs and the certificate must name the host. The first failed
  // check is remembered for the error message.
  bool Verify(bool preverified, ssl::verify_context& vctx) {
    X509_STORE_CTX* ctx = vctx.native_handle();
    const int depth = X509_STORE_CTX_get_error_depth(ctx);
    const TlsSettings& tls = client_.settings.tls;
    if (!tls.pin.empty()) {
      if (depth > 0) return true;
      X509* cert = X509_STORE_CTX_get_current_cert(ctx);
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int n = 0;
      if (cert == nullptr || X509_digest(cert, EVP_sha256(), md, &n) != 1) {
        tls_failure_ = "cannot compute the server certificate's SHA-256 fingerprint";
        return false;
      }
      if (n != tls.pin.size() || CRYPTO_memcmp(md, tls.pin.data(), n) != 0) {
        tls_failure_ =
            absl::StrCat("certificate fingerprint mismatch: the server presented SHA-256 ",
                         FormatFingerprint(md, n), ", PROXMOX_API_TLS_FINGERPRINT pins ",
                         FormatFingerprint(tls.pin.data(), tls.pin.size()));
        return false;
      }
      return true;
    }
    if (!preverified) {
      const int err = X509_STORE_CTX_get_error(ctx);
      tls_failure_ = absl::StrCat(
          "certificate chain verification failed: ", X509_verify_cert_error_string(err), " (depth ",
          depth, "); trust the host with PROXMOX_API_CA_FILE or PROXMOX_API_TLS_FINGERPRINT");
      return false;
    }
    if (depth == 0) {
      ssl::host_name_verification check(endpoint().host);
      if (!check(preverified, vctx)) {
        tls_failure_ = absl::StrCat("host name check failed: the certificate is not valid for '",
                                    endpoint().host, "'");
        return false;
      }
    }
    return true;
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      if (!tls_failure_.empty() && !cancelled_) {
        return Fail(
            absl::UnavailableError(absl::StrCat("TLS to ", endpoint().Url(), ": ", tls_failure_)),
            false, true, ExchangeError::kTls);
      }
      return FailConnect("TLS handshake failed with", ec, ExchangeError::kTls);
    }
    {
      std::lock_guard<std::mutex> lock(pool_.mu);
      ++pool_.stats.connects;
    }
    DoWrite();
  }

  void DoWrite() {
    if (cancelled_ || (job_.cancellation && job_.cancellation->cancelled())) {
      cancelled_ = true;
      return Fail(absl::CancelledError("call cancelled by the client"), false, true);
    }
    const HttpRequest& r = job_.request;
    request_ = {};
    request_.method_string(r.method);
    request_.target(r.target);
    request_.version(11);
    request_.set(http::field::host, endpoint().Authority());
    request_.set(http::field::user_agent, "pve-gateway");
    request_.set(http::field::accept, "application/json");
    request_.set(http::field::connection, "keep-alive");
    for (const auto& [k, v] : r.headers) request_.set(k, v);
    if (r.method == "POST" || r.method == "PUT") {
      request_.set(http::field::content_type, r.content_type);
      request_.body() = r.body;
      request_.content_length(r.body.size());
    }
    beast::get_lowest_layer(stream_).expires_at(job_.deadline);
    {
      std::lock_guard<std::mutex> lock(pool_.mu);
      ++pool_.stats.requests;
      if (reused_) ++pool_.stats.reused;
    }
    http::async_write(stream_, request_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                        self->OnWrite(ec, bytes);
                      });
  }

  void OnWrite(beast::error_code ec, std::size_t bytes) {
    sent_ = bytes > 0;
    if (ec) return FailExchange("sending the request to", ec);
    parser_.emplace();
    parser_->header_limit(kMaxResponseHeaderBytes);
    parser_->body_limit(client_.settings.max_response_bytes);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnReadHeader(ec); });
  }

  void OnReadHeader(beast::error_code ec) {
    if (ec) return FailExchange("reading the answer from", ec);
    const auto& header = parser_->get().base();
    if (std::distance(header.begin(), header.end()) > kMaxResponseHeaderFields) {
      return Fail(absl::UnavailableError(absl::StrCat("the answer from ", endpoint().Url(),
                                                      " has more than ", kMaxResponseHeaderFields,
                                                      " header fields")),
                  true, false, ExchangeError::kProtocol);
    }
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnReadBody(ec); });
  }

  void OnReadBody(beast::error_code ec) {
    if (ec) return FailExchange("reading the answer from", ec);
    http::response<http::string_body> res = parser_->release();
    parser_.reset();
    ++served_;
    Exchange e;
    e.sent = true;
    e.response.status = static_cast<int>(res.result_int());
    e.response.reason = std::string(res.reason());
    e.response.body = std::move(res.body());
    // pveproxy closes after every answer >= 400 and after 100 requests; reusing such a
    // connection would only fail the next call.
    const bool reusable = res.keep_alive() && e.response.status < 400 &&
                          served_ < kPveRequestsPerConnection && !cancelled_ && buffer_.size() == 0;
    Finish(std::move(e), reusable);
  }

  void FailConnect(const char* what, beast::error_code ec,
                   ExchangeError kind = ExchangeError::kConnect) {
    if (ec == beast::error::timeout) {
      if (Clock::now() >= job_.deadline) {
        return Fail(absl::DeadlineExceededError(
                        absl::StrCat("deadline exceeded while connecting to ", endpoint().Url())),
                    false, true);
      }
      return Fail(absl::UnavailableError(absl::StrCat("connecting to ", endpoint().Url(),
                                                      " timed out after ",
                                                      Seconds(client_.settings.connect_timeout))),
                  false, true, kind);
    }
    if (cancelled_) return Fail(absl::CancelledError("call cancelled by the client"), false, true);
    Fail(absl::UnavailableError(absl::StrCat(what, " ", endpoint().Url(), ": ", ec.message())),
         false, true, kind);
  }

  void FailExchange(const char* what, beast::error_code ec) {
    if (cancelled_) return Fail(absl::CancelledError("call cancelled by the client"), sent_);
    if (ec == beast::error::timeout) {
      return Fail(absl::DeadlineExceededError(absl::StrCat("deadline exceeded: ", endpoint().Url(),
                                                           " did not answer in time")),
                  sent_);
    }
    if (ec == http::error::body_limit) {
      return Fail(absl::ResourceExhaustedError(
                      absl::StrCat("the answer from ", endpoint().Url(), " exceeds ",
                                   client_.settings.max_response_bytes,
                                   " bytes (PVE_GATEWAY_UPSTREAM_MAX_RESPONSE_BYTES)")),
                  sent_);
    }
    if (ec == http::error::header_limit) {
      return Fail(
          absl::UnavailableError(absl::StrCat("the answer headers from ", endpoint().Url(),
                                              " exceed ", kMaxResponseHeaderBytes, " bytes")),
          sent_, false, ExchangeError::kProtocol);
    }
    const bool nothing_back = !parser_.has_value() || !parser_->got_some();
    // A kept-alive connection the server closed while idle fails before any answer byte;
    // the request was not processed, so it goes out again on a fresh connection.
    if (reused_ && nothing_back && !job_.fresh_only && (job_.request.method == "GET" || !sent_) &&
        IsConnectionLoss(ec)) {
      {
        std::lock_guard<std::mutex> lock(pool_.mu);
        ++pool_.stats.stale_dropped;
      }
      return RetryFresh();
    }
    std::string text;
    ExchangeError kind = ExchangeError::kConnectionLost;
    if (ec == http::error::partial_message || (!nothing_back && IsConnectionLoss(ec))) {
      text = absl::StrCat(endpoint().Url(),
                          " closed the connection in the middle of its answer "
                          "(truncated)");
    } else if (nothing_back && IsConnectionLoss(ec)) {
      text = absl::StrCat(endpoint().Url(), " closed the connection without answering (",
                          ec.message(), ")");
    } else if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
      text = absl::StrCat("malformed HTTP answer from ", endpoint().Url(), ": ", ec.message());
      kind = ExchangeError::kProtocol;
    } else {
      text = absl::StrCat(what, " ", endpoint().Url(), ": ", ec.message());
    }
    Fail(absl::UnavailableError(text), sent_, false, kind);
  }

  static bool IsConnectionLoss(beast::error_code ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == ssl::error::stream_truncated || ec == http::error::partial_message;
  }

  void RetryFresh();

  void Fail(absl::Status status, bool sent = false, bool before_request = false,
            ExchangeError kind = ExchangeError::kNone) {
    CloseSocket();
    Finish(Failure(std::move(status), sent, before_request, kind), false);
  }

  void Finish(Exchange e, bool reusable);

  Pool& pool_;
  HttpsClient::Impl& client_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;
  Job job_;
  Clock::time_point connect_deadline_;
  std::string tls_failure_;
  int served_ = 0;
  bool reused_ = false;
  bool sent_ = false;
  bool cancelled_ = false;
};

void Connection::RetryFresh() {
  CloseSocket();
  Job job = std::move(job_);
  job_ = Job{};
  job.fresh_only = true;
  if (job.cancellation) job.cancellation->OnCancel(nullptr);
  auto self = shared_from_this();
  pool_.Release(self, false);
  pool_.Submit(std::move(job));
}

void Connection::Finish(Exchange e, bool reusable) {
  Job job = std::move(job_);
  job_ = Job{};
  reused_ = false;
  sent_ = false;
  if (job.cancellation) job.cancellation->OnCancel(nullptr);
  // Give the connection back before completing, so a call that follows at once can use it.
  pool_.Release(shared_from_this(), reusable);
  Complete(job, std::move(e));
}

void Pool::Submit(Job job) {
  if (job.cancellation && job.cancellation->cancelled()) {
    return Complete(job,
                    Failure(absl::CancelledError("call cancelled by the client"), false, true));
  }
  if (client->stopping) {
    return Complete(job, Failure(absl::UnavailableError("gateway is shutting down"), false, true,
                                 ExchangeError::kShutdown));
  }
  std::unique_lock<std::mutex> lock(mu);
  const auto now = Clock::now();
  while (!job.fresh_only && !idle.empty()) {
    std::shared_ptr<Connection> conn = std::move(idle.back());
    idle.pop_back();
    if (now - conn->idle_since >= client->settings.idle_timeout || conn->LooksClosed()) {
      conn->CloseNow();
      live.erase(conn);
      --open;
      ++stats.stale_dropped;
      continue;
    }
    lock.unlock();
    conn->Run(std::move(job));
    return;
  }
  if (open < client->settings.max_connections) {
    ++open;
    lock.unlock();
    StartNew(std::move(job));
    return;
  }
  if (static_cast<int>(waiting.size()) >= client->settings.max_queue) {
    ++stats.rejected;
    const std::string text = absl::StrCat(
        "upstream connection pool for ", endpoint.Url(), " is full: ", open,
        " connections busy and ", waiting.size(),
        " calls waiting (PVE_GATEWAY_UPSTREAM_MAX_CONNECTIONS, PVE_GATEWAY_UPSTREAM_MAX_QUEUE)");
    lock.unlock();
    return Complete(
        job, Failure(absl::ResourceExhaustedError(text), false, false, ExchangeError::kQueueFull));
  }
  job.id = next_job_id++;
  const std::uint64_t id = job.id;
  job.queue_timer = std::make_shared<asio::steady_timer>(client->ioc, job.deadline);
  job.queue_timer->async_wait([this, id](beast::error_code ec) {
    if (ec) return;  // cancelled: the job got a connection
    Dequeue(id, absl::DeadlineExceededError(absl::StrCat(
                    "deadline exceeded waiting for a free connection to ", endpoint.Url())));
  });
  std::shared_ptr<CallCancellation> cancellation = job.cancellation;
  // Registered before the job becomes visible in the queue, so this callback can never
  // replace the one a connection installs once it takes the job.
  if (cancellation) {
    lock.unlock();
    cancellation->OnCancel(
        [this, id] { Dequeue(id, absl::CancelledError("call cancelled by the client")); });
    lock.lock();
    if (!idle.empty() || open < client->settings.max_connections) {
      // A connection came free meanwhile: take it rather than wait for the next one.
      lock.unlock();
      job.queue_timer->cancel();
      cancellation->OnCancel(nullptr);
      job.queue_timer.reset();
      return Submit(std::move(job));
    }
  }
  waiting.push_back(std::move(job));
  lock.unlock();
  if (cancellation && cancellation->cancelled()) {
    Dequeue(id, absl::CancelledError("call cancelled by the client"));
  }
}

void Pool::Dequeue(std::uint64_t id, absl::Status why) {
  std::unique_lock<std::mutex> lock(mu);
  for (auto it = waiting.begin(); it != waiting.end(); ++it) {
    if (it->id != id) continue;
    Job job = std::move(*it);
    waiting.erase(it);
    lock.unlock();
    if (job.queue_timer) job.queue_timer->cancel();
    return Complete(job, Failure(std::move(why), false, false));
  }
}

void Pool::SweepIdle(bool* any_left) {
  std::lock_guard<std::mutex> lock(mu);
  const auto now = Clock::now();
  for (auto it = idle.begin(); it != idle.end();) {
    std::shared_ptr<Connection>& conn = *it;
    if (now - conn->idle_since >= client->settings.idle_timeout || conn->PeerGone()) {
      conn->Abort();
      live.erase(conn);
      --open;
      ++stats.stale_dropped;
      it = idle.erase(it);
    } else {
      ++it;
    }
  }
  if (!idle.empty()) *any_left = true;
}

// While any pool has idle connections, a sweep runs every second (at most every half idle
// timeout): connections the server closed (pveproxy does after 5 s) or that outlived the
// idle timeout leave at once, instead of holding a dead socket (CLOSE_WAIT) until the next
// call. Armed and cancelled under timers_mu, like RunAfter's timers.
void ArmIdleSweep(HttpsClient::Impl* impl) {
  std::lock_guard<std::mutex> lock(impl->timers_mu);
  if (impl->stopping || impl->sweep_armed) return;
  impl->sweep_armed = true;
  const auto every = std::max<Clock::duration>(
      std::chrono::milliseconds(10),
      std::min<Clock::duration>(std::chrono::seconds(1), impl->settings.idle_timeout / 2));
  auto timer = std::make_shared<asio::steady_timer>(impl->ioc, every);
  impl->timers.insert(timer);
  timer->async_wait([impl, timer](beast::error_code ec) {
    {
      std::lock_guard<std::mutex> lock(impl->timers_mu);
      impl->timers.erase(timer);
      impl->sweep_armed = false;
      if (ec || impl->stopping) return;
    }
    bool any_left = false;
    for (auto& pool : impl->pools) pool->SweepIdle(&any_left);
    if (any_left) ArmIdleSweep(impl);
  });
}

void Pool::StartNew(Job job) {
  auto conn = std::make_shared<Connection>(*this, *client);
  {
    std::lock_guard<std::mutex> lock(mu);
    live.insert(conn);
  }
  conn->Start(std::move(job));
}

void Pool::Release(std::shared_ptr<Connection> conn, bool reusable) {
  std::unique_lock<std::mutex> lock(mu);
  if (client->stopping) reusable = false;
  if (!reusable) {
    conn->CloseNow();
    live.erase(conn);
    --open;
  }
  if (waiting.empty()) {
    if (reusable) {
      conn->idle_since = Clock::now();
      idle.push_back(std::move(conn));
      lock.unlock();
      ArmIdleSweep(client);
    }
    return;
  }
  if (reusable && waiting.front().fresh_only) {
    // A call retried after a stale kept-alive connection must not meet another one: this
    // connection makes room for a fresh one.
    conn->CloseNow();
    live.erase(conn);
    --open;
    reusable = false;
  }
  if (!reusable && open >= client->settings.max_connections) return;
  Job job = std::move(waiting.front());
  waiting.pop_front();
  if (!reusable) ++open;
  lock.unlock();
  if (job.queue_timer) job.queue_timer->cancel();
  if (job.cancellation) job.cancellation->OnCancel(nullptr);
  if (reusable) {
    conn->Run(std::move(job));
  } else {
    StartNew(std::move(job));
  }
}

}  // namespace

HttpsClient::HttpsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpsClient::~HttpsClient() { Shutdown(); }

absl::StatusOr<std::unique_ptr<HttpsClient>> HttpsClient::Create(ClientSettings settings,
                                                                 std::vector<Endpoint> endpoints) {
  if (endpoints.empty()) return absl::InvalidArgumentError("no upstream endpoint");
  auto impl = std::make_unique<Impl>();
  impl->settings = settings;
  impl->endpoints = endpoints;
  beast::error_code ec;
  impl->ssl_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                ssl::context::no_tlsv1_1,
                            ec);
  if (settings.tls.verify && settings.tls.pin.empty()) {
    if (!settings.tls.ca_file.empty()) {
      std::ifstream probe(settings.tls.ca_file);
      if (!probe) {
        return absl::InvalidArgumentError(
            absl::StrCat("PROXMOX_API_CA_FILE=", settings.tls.ca_file, " cannot be read"));
      }
      impl->ssl_ctx.load_verify_file(settings.tls.ca_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("PROXMOX_API_CA_FILE=", settings.tls.ca_file,
                         " holds no usable PEM certificate: ", ec.message()));
      }
    } else {
      impl->ssl_ctx.set_default_verify_paths(ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot load the system CA certificates: ", ec.message()));
      }
    }
  }
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    auto pool = std::make_unique<Pool>();
    pool->client = impl.get();
    pool->endpoint = endpoints[i];
    impl->pools.push_back(std::move(pool));
  }
  impl->work.emplace(impl->ioc.get_executor());
  const int threads = std::max(1, settings.threads);
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] {
      t_io_thread = true;
      for (;;) {
        // Handlers use error_code overloads; anything thrown regardless is a bug, logged
        // rather than allowed to end the process.
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("upstream I/O thread: unexpected exception: {}", e.what());
        }
      }
    });
  }
  return std::unique_ptr<HttpsClient>(new HttpsClient(std::move(impl)));
}

bool HttpsClient::OnIoThread() { return t_io_thread; }

void HttpsClient::Send(std::size_t endpoint, HttpRequest request, Clock::time_point deadline,
                       std::shared_ptr<CallCancellation> cancellation,
                       std::function<void(Exchange)> done) {
  Job job;
  job.request = std::move(request);
  job.deadline = deadline;
  job.cancellation = std::move(cancellation);
  job.done = std::move(done);
  if (endpoint >= impl_->pools.size()) {
    return Complete(job, Failure(absl::InternalError("no such upstream endpoint")));
  }
  impl_->pools[endpoint]->Submit(std::move(job));
}

void HttpsClient::RunAfter(Clock::duration delay, std::function<void()> fn) {
  // An Asio timer is not safe for concurrent use: arming it here (any thread) and
  // cancelling it in Shutdown (the destroying thread) both happen under timers_mu, and the
  // stopping check too, so a timer armed during shutdown is either cancelled or never armed.
  std::unique_lock<std::mutex> lock(impl_->timers_mu);
  if (impl_->stopping) {
    lock.unlock();
    asio::post(impl_->ioc, std::move(fn));
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(impl_->ioc, delay);
  impl_->timers.insert(timer);
  timer->async_wait([impl = impl_.get(), timer, fn = std::move(fn)](beast::error_code) {
    {
      std::lock_guard<std::mutex> lock(impl->timers_mu);
      impl->timers.erase(timer);
    }
    fn();
  });
}

const std::vector<Endpoint>& HttpsClient::endpoints() const { return impl_->endpoints; }

PoolStats HttpsClient::Stats(std::size_t endpoint) const {
  if (endpoint >= impl_->pools.size()) return {};
  const Pool& pool = *impl_->pools[endpoint];
  std::lock_guard<std::mutex> lock(pool.mu);
  PoolStats s = pool.stats;
  s.open = pool.open;
  s.idle = static_cast<int>(pool.idle.size());
  s.queued = static_cast<int>(pool.waiting.size());
  return s;
}

bool HttpsClient::stopping() const { return impl_->stopping; }

void HttpsClient::Shutdown() {
  {
    // Under timers_mu with RunAfter's check and arming (see there).
    std::lock_guard<std::mutex> lock(impl_->timers_mu);
    if (impl_->stopping.exchange(true)) return;
    for (const auto& t : impl_->timers) t->cancel();
  }
  for (auto& pool : impl_->pools) {
    std::deque<Job> waiting;
    std::vector<std::shared_ptr<Connection>> busy;
    {
      std::lock_guard<std::mutex> lock(pool->mu);
      waiting.swap(pool->waiting);
      for (auto& c : pool->idle) {
        c->CloseNow();
        pool->live.erase(c);
        --pool->open;
      }
      pool->idle.clear();
      for (const auto& w : pool->live) {
        if (auto c = w.lock()) busy.push_back(std::move(c));
      }
    }
    for (auto& c : busy) c->Abort();
    for (Job& job : waiting) {
      if (job.queue_timer) job.queue_timer->cancel();
      Complete(job, Failure(absl::UnavailableError("gateway is shutting down"), false, true,
                            ExchangeError::kShutdown));
    }
  }
  impl_->work.reset();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  for (auto& pool : impl_->pools) {
    std::lock_guard<std::mutex> lock(pool->mu);
    pool->idle.clear();
  }
}

}  // namespace pvegw::gateway::upstream
