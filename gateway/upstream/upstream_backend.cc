#include "gateway/upstream/upstream_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/api_index.h"
#include "common/backoff.h"
#include "common/log_limiter.h"
#include "common/metrics.h"
#include "common/request_id.h"
#include "gateway/upstream/pending_call.h"

namespace pvegw::gateway::upstream {

namespace asio = boost::asio;
namespace {

// pveproxy refuses bodies above kProxmoxMaxBodyBytes (501 "for data too large") and drops
// requests whose header lines exceed 8 KiB without answering; both are refused here with a
// clear message instead.
constexpr std::size_t kMaxRequestTarget = 7 * 1024;
constexpr char kProbePath[] = "/version";

bool IsWrite(const std::string& verb) { return verb != "GET"; }

bool RetryableStatus(int status) {
  return status == 502 || status == 503 || status == 504 || status == 595 || status == 596;
}

// A status with its own message and payloads, sharing nothing with `st`. Debian's libabsl is
// not built for ThreadSanitizer, so a status whose reference count two threads share (the
// I/O thread that made it, the completion thread that delivers it) shows as a race there.
absl::Status OwnCopy(const absl::Status& st) {
  absl::Status copy(st.code(), std::string(st.message()));
  st.ForEachPayload([&copy](absl::string_view url, const absl::Cord& payload) {
    copy.SetPayload(url, absl::Cord(std::string(payload)));
  });
  return copy;
}

bool HasLineBreak(absl::string_view v) {
  return v.find('\r') != absl::string_view::npos || v.find('\n') != absl::string_view::npos;
}

}  // namespace

const char* UpstreamErrorName(int kind) {
  if (kind == kHttp4xxError) return "http_4xx";
  if (kind == kHttp5xxError) return "http_5xx";
  return ExchangeErrorName(static_cast<ExchangeError>(kind));
}

std::string PercentEncode(absl::string_view text) { return api::PercentEncode(text); }

std::string FormEncode(const RestParams& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, PercentEncode(k), "=", PercentEncode(v));
  }
  return out;
}

absl::StatusOr<std::vector<Endpoint>> ParseEndpoints(const std::string& urls) {
  std::vector<Endpoint> out;
  for (absl::string_view raw : absl::StrSplit(urls, ',', absl::SkipWhitespace())) {
    absl::string_view u = absl::StripAsciiWhitespace(raw);
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("PROXMOX_API_URL entry '", u, "': ", why));
    };
    if (!absl::ConsumePrefix(&u, "https://")) {
      return bad("must start with https:// (pveproxy serves only HTTPS)");
    }
    Endpoint e;
    absl::string_view hostport = u.substr(0, u.find('/'));
    absl::string_view path = u.substr(hostport.size());
    absl::string_view port_text;
    if (absl::ConsumePrefix(&hostport, "[")) {
      const auto close = hostport.find(']');
      if (close == absl::string_view::npos) return bad("unclosed [ in an IPv6 address");
      e.host = std::string(hostport.substr(0, close));
      absl::string_view rest = hostport.substr(close + 1);
      if (!rest.empty() && !absl::ConsumePrefix(&rest, ":")) return bad("junk after ]");
      port_text = rest;
    } else {
      const auto colon = hostport.find(':');
      e.host = std::string(hostport.substr(0, colon));
      if (colon != absl::string_view::npos) {
        port_text = hostport.substr(colon + 1);
        if (port_text.empty()) return bad("empty port");
      }
    }
    if (e.host.empty()) return bad("no host");
    if (hostport.find('@') != absl::string_view::npos) {
      return bad("credentials in the URL are not supported; use PROXMOX_API_TOKEN_*");
    }
    if (!port_text.empty()) {
      int port = 0;
      if (!absl::SimpleAtoi(port_text, &port) || port <= 0 || port > 65535) {
        return bad("port is not a number between 1 and 65535");
      }
      e.port = static_cast<std::uint16_t>(port);
    }
    absl::string_view p = absl::StripSuffix(path, "/");
    if (!p.empty() && p != "/api2/json") {
      return bad("path must be empty or /api2/json (the gateway speaks the JSON API)");
    }
    out.push_back(std::move(e));
  }
  if (out.empty()) return absl::InvalidArgumentError("PROXMOX_API_URL is empty (real mode)");
  return out;
}

UpstreamBackend::UpstreamBackend(UpstreamOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<UpstreamBackend>> UpstreamBackend::Create(UpstreamOptions options) {
  auto endpoints = ParseEndpoints(options.url);
  if (!endpoints.ok()) return endpoints.status();
  if (options.client_credentials != "allow" && options.client_credentials != "require" &&
      options.client_credentials != "deny") {
    return absl::InvalidArgumentError(
        absl::StrCat("--client_credentials=", options.client_credentials,
                     " is not one of allow, require, deny"));
  }
  const bool token = !options.token_id.empty() || !options.token_secret.empty();
  const bool ticket = !options.username.empty() || !options.password.empty();
  if (token && (options.token_id.empty() || options.token_secret.empty())) {
    return absl::InvalidArgumentError(
        "PROXMOX_API_TOKEN_ID and PROXMOX_API_TOKEN_SECRET go together; one is missing");
  }
  if (token && options.token_id.find('!') == std::string::npos) {
    return absl::InvalidArgumentError(
        "PROXMOX_API_TOKEN_ID must be USER@REALM!TOKENNAME (e.g. root@pam!gateway)");
  }
  if (ticket && (options.username.empty() || options.password.empty())) {
    return absl::InvalidArgumentError(
        "PROXMOX_API_USERNAME and PROXMOX_API_PASSWORD go together; one is missing");
  }
  if (token && ticket) {
    return absl::InvalidArgumentError(
        "set either an API token (PROXMOX_API_TOKEN_*) or a user login "
        "(PROXMOX_API_USERNAME/PASSWORD), not both");
  }
  if (!token && !ticket && options.client_credentials != "require") {
    return absl::InvalidArgumentError(
        "real mode needs credentials: PROXMOX_API_TOKEN_ID + PROXMOX_API_TOKEN_SECRET, or "
        "PROXMOX_API_USERNAME + PROXMOX_API_PASSWORD (or --client_credentials=require, so every "
        "caller brings its own)");
  }
  if (options.client_credentials == "deny" && !token && !ticket) {
    return absl::InvalidArgumentError("--client_credentials=deny needs configured credentials");
  }
  if (options.timeout <= std::chrono::milliseconds(0) || options.retries < 0 ||
      options.max_connections <= 0 || options.max_queue < 0 || options.threads <= 0 ||
      options.decode_threads < 0) {
    return absl::InvalidArgumentError(
        "PROXMOX_API_TIMEOUT, PVE_GATEWAY_UPSTREAM_MAX_CONNECTIONS and _THREADS must be "
        "positive; PROXMOX_API_RETRIES, _MAX_QUEUE and _DECODE_THREADS not negative");
  }
  ClientSettings settings;
  settings.threads = options.threads;
  settings.max_connections = options.max_connections;
  settings.max_queue = options.max_queue;
  settings.max_response_bytes = options.max_response_bytes;
  settings.connect_timeout = options.connect_timeout;
  settings.idle_timeout = options.idle_timeout;
  settings.tls.verify = options.verify_ssl;
  settings.tls.ca_file = options.ca_file;
  if (!options.fingerprint.empty()) {
    auto pin = ParseSha256Fingerprint(options.fingerprint);
    if (!pin.ok()) return pin.status();
    settings.tls.pin = *pin;
  }
  if (!options.verify_ssl && (!options.fingerprint.empty() || !options.ca_file.empty())) {
    return absl::InvalidArgumentError(
        "PROXMOX_API_VERIFY_SSL=false contradicts PROXMOX_API_TLS_FINGERPRINT / "
        "PROXMOX_API_CA_FILE; drop one");
  }
  auto backend = std::unique_ptr<UpstreamBackend>(new UpstreamBackend(std::move(options)));
  backend->repeated_log_ = std::make_unique<log::LogLimiter>();
  auto client = HttpsClient::Create(settings, *endpoints);
  if (!client.ok()) return client.status();
  backend->client_ = std::move(*client);
  const int decode_threads =
      backend->options_.decode_threads > 0
          ? backend->options_.decode_threads
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  backend->completions_ = std::make_unique<asio::thread_pool>(decode_threads);
  backend->endpoint_states_.resize(endpoints->size());
  for (const Endpoint& e : *endpoints) backend->endpoint_urls_.push_back(e.Url());
  const std::size_t error_slots = endpoints->size() * kUpstreamErrorKinds;
  backend->counters_.errors = std::make_unique<std::atomic<std::uint64_t>[]>(error_slots);
  for (std::size_t i = 0; i < error_slots; ++i) backend->counters_.errors[i].store(0);
  if (!backend->options_.verify_ssl) {
    spdlog::warn(
        "PROXMOX_API_VERIFY_SSL=false: the Proxmox server certificate is NOT verified; anyone "
        "on the network path can impersonate the host and read the credentials. Pin it with "
        "PROXMOX_API_TLS_FINGERPRINT instead.");
  }
  if (ticket) backend->StartLogin(false);
  return backend;
}

UpstreamBackend::~UpstreamBackend() {
  stopping_ = true;
  if (client_ != nullptr) client_->Shutdown();  // every call completes (posted to completions_)
  if (completions_ != nullptr) completions_->join();
}

std::string UpstreamBackend::auth_kind() const {
  if (!options_.token_id.empty()) return "token";
  if (!options_.username.empty()) return "ticket";
  return "none";
}

std::string UpstreamBackend::tls_mode() const {
  if (!options_.verify_ssl) return "off";
  if (!options_.fingerprint.empty()) return "fingerprint-pin";
  if (!options_.ca_file.empty()) return "ca-file";
  return "system-ca";
}

// The --client_credentials policy, shared by Call and Identity so a refusal reads the same.
absl::Status UpstreamBackend::CheckCredentials(const std::optional<RestCredentials>& c) const {
  if (c.has_value()) {
    if (options_.client_credentials == "deny") {
      return absl::PermissionDeniedError(
          "this gateway refuses per-call Proxmox credentials (--client_credentials=deny)");
    }
    if (HasLineBreak(c->api_token) || HasLineBreak(c->ticket) || HasLineBreak(c->csrf_token)) {
      return absl::InvalidArgumentError("per-call credentials contain a line break");
    }
  } else if (options_.client_credentials == "require") {
    return absl::UnauthenticatedError(
        "this gateway requires per-call Proxmox credentials (--client_credentials=require): "
        "send metadata 'authorization: PVEAPIToken=USER@REALM!ID=SECRET' or "
        "'x-proxmox-ticket' + 'x-proxmox-csrf-token'");
  }
  return absl::OkStatus();
}

absl::StatusOr<CallIdentity> UpstreamBackend::Identity(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  absl::StatusOr<std::optional<RestCredentials>> credentials = CredentialsFromMetadata(metadata);
  if (!credentials.ok()) return credentials.status();
  if (absl::Status st = CheckCredentials(*credentials); !st.ok()) return st;
  return CallIdentity(*std::move(credentials));
}

void UpstreamBackend::CallAs(const CallIdentity& identity, RestRequest request, RestCallback done) {
  request.credentials = identity.credentials();
  Call(std::move(request), std::move(done));
}

void UpstreamBackend::Call(RestRequest request, RestCallback done) {
  counters_.calls.fetch_add(1, std::memory_order_relaxed);
  auto fail = [&](absl::Status st) { done(std::move(st)); };
  if (absl::Status st = CheckCredentials(request.credentials); !st.ok()) return fail(st);
  auto call = std::make_shared<PendingCall>();
  call->deadline = std::min(request.deadline, Clock::now() + options_.timeout);
  call->http.method = request.verb;
  std::string target = absl::StrCat(client_->endpoints()[0].base_path, request.path);
  const std::string encoded = FormEncode(request.params);
  if (request.verb == "POST" || request.verb == "PUT") {
    if (encoded.size() > kProxmoxMaxBodyBytes) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("request body of ", encoded.size(),
                       " bytes exceeds Proxmox's limit of 524288 bytes (512 KiB)")));
    }
    call->http.content_type = "application/x-www-form-urlencoded";
    call->http.body = encoded;
  } else if (!encoded.empty()) {
    absl::StrAppend(&target, "?", encoded);
  }
  if (target.size() > kMaxRequestTarget) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "request URL of ", target.size(),
        " bytes exceeds what pveproxy reads (8 KiB of header lines); send fewer parameters")));
  }
  call->http.target = std::move(target);
  call->tried.assign(client_->endpoints().size(), false);
  call->done = std::move(done);
  call->configured_ticket = !request.credentials.has_value() && auth_kind() == "ticket";
  call->rest = std::move(request);
  if (call->configured_ticket) {
    WithTicket([this, call](absl::Status st) {
      if (!st.ok()) return Complete(call, st);
      Attempt(call);
    });
    return;
  }
  Attempt(call);
}

void UpstreamBackend::ApplyIdentity(PendingCall& call) {
  auto& h = call.http.headers;
  h.clear();
  // Proxmox's (and any proxy's) access log can then be matched with the gateway's.
  if (UsableRequestId(call.rest.request_id)) h.emplace_back("X-Request-ID", call.rest.request_id);
  const bool write = IsWrite(call.rest.verb);
  if (call.rest.credentials.has_value()) {
    const RestCredentials& c = *call.rest.credentials;
    if (!c.api_token.empty()) h.emplace_back("Authorization", c.api_token);
    if (!c.ticket.empty()) {
      h.emplace_back("Cookie", absl::StrCat("PVEAuthCookie=", c.ticket));
      if (write && !c.csrf_token.empty()) h.emplace_back("CSRFPreventionToken", c.csrf_token);
    }
    return;
  }
  if (!options_.token_id.empty()) {
    h.emplace_back("Authorization",
                   absl::StrCat("PVEAPIToken=", options_.token_id, "=", options_.token_secret));
    return;
  }
  if (call.configured_ticket) {
    std::lock_guard<std::mutex> lock(mu_);
    call.ticket_generation = ticket_generation_;
    if (!ticket_.empty()) {
      h.emplace_back("Cookie", absl::StrCat("PVEAuthCookie=", ticket_));
      if (write) h.emplace_back("CSRFPreventionToken", csrf_);
    }
  }
}

void UpstreamBackend::Attempt(std::shared_ptr<PendingCall> call) {
  if (call->rest.cancellation && call->rest.cancellation->cancelled()) {
    return Complete(call, absl::CancelledError("call cancelled by the client"));
  }
  if (stopping_ || client_->stopping()) {
    return Complete(call, absl::UnavailableError("gateway is shutting down"));
  }
  if (Clock::now() >= call->deadline) {
    return Complete(call,
                    absl::DeadlineExceededError("deadline exceeded before Proxmox could be asked"));
  }
  ApplyIdentity(*call);
  const std::size_t endpoint = PickEndpoint(*call);
  call->last_endpoint = endpoint;
  client_->Send(endpoint, call->http, call->deadline, call->rest.cancellation,
                [this, call, endpoint](Exchange e) { OnExchange(call, endpoint, std::move(e)); });
}

void UpstreamBackend::CountExchange(std::size_t endpoint, const Exchange& e, bool expect_401) {
  int kind = -1;
  if (!e.status.ok()) {
    // The caller's own cancellation and our shutdown are nobody's error.
    if (e.error != ExchangeError::kNone && e.error != ExchangeError::kCancelled &&
        e.error != ExchangeError::kShutdown) {
      kind = static_cast<int>(e.error);
    }
  } else if (e.response.status >= 500) {
    kind = kHttp5xxError;
  } else if (e.response.status >= 400 && !(expect_401 && e.response.status == 401)) {
    kind = kHttp4xxError;
  }
  if (kind >= 0 && endpoint < endpoint_urls_.size()) {
    counters_.errors[endpoint * kUpstreamErrorKinds + kind].fetch_add(1, std::memory_order_relaxed);
  }
}

void UpstreamBackend::OnExchange(std::shared_ptr<PendingCall> call, std::size_t endpoint,
                                 Exchange e) {
  CountExchange(endpoint, e, call->anonymous_probe);
  if (e.status.ok()) {
    MarkUp(endpoint);
    last_answer_ns_ = Clock::now().time_since_epoch().count();
    SetHealthy(true);
    std::fill(call->tried.begin(), call->tried.end(), false);
    RestResponse r;
    r.status = e.response.status;
    r.reason = std::move(e.response.reason);
    r.body = std::move(e.response.body);
    if (r.status == 401 && call->configured_ticket && !call->relogged) {
      // The shared ticket expired or was revoked: log in again once. Only a GET is sent
      // again; a write may have been acted on, so its 401 stands.
      call->relogged = true;
      counters_.relogins.fetch_add(1, std::memory_order_relaxed);
      const bool replay = !IsWrite(call->rest.verb);
      Relogin(call->ticket_generation, [this, call, replay, r](absl::Status st) {
        if (!st.ok() || !replay) return Complete(call, r);
        Attempt(call);
      });
      return;
    }
    if (!IsWrite(call->rest.verb) && RetryableStatus(r.status)) {
      if (RetryLater(call)) return;
    }
    return Complete(call, std::move(r));
  }
  const absl::StatusCode code = e.status.code();
  if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded) {
    if (e.before_request && code == absl::StatusCode::kUnavailable) {
      MarkDown(endpoint, e.status);
      call->tried[endpoint] = true;
      // Nothing reached Proxmox: any verb may go to another node at once.
      if (std::find(call->tried.begin(), call->tried.end(), false) != call->tried.end()) {
        counters_.failovers.fetch_add(1, std::memory_order_relaxed);
        return Attempt(call);
      }
      std::fill(call->tried.begin(), call->tried.end(), false);
    }
    if (code == absl::StatusCode::kUnavailable && (!IsWrite(call->rest.verb) || !e.sent) &&
        RetryLater(call)) {
      return;
    }
  }
  Complete(call, e.status);
}

// Full-jitter exponential backoff (a uniform wait up to base * 2^n, capped), only while the
// wait still ends before the deadline. True if a retry is scheduled.
bool UpstreamBackend::RetryLater(const std::shared_ptr<PendingCall>& call) {
  if (call->retries >= options_.retries || stopping_) return false;
  const auto ceiling =
      ExponentialDelay(options_.retry_backoff, options_.retry_backoff_cap, call->retries);
  const auto wait = std::chrono::duration_cast<std::chrono::microseconds>(
      FullJitter(ceiling, std::uniform_real_distribution<double>(0.0, 1.0)(call->rng)));
  if (Clock::now() + wait >= call->deadline) return false;
  ++call->retries;
  counters_.retries.fetch_add(1, std::memory_order_relaxed);
  client_->RunAfter(wait, [this, call] { Attempt(call); });
  return true;
}

void UpstreamBackend::Complete(const std::shared_ptr<PendingCall>& call, RestResult result) {
  auto done = std::move(call->done);
  call->done = nullptr;
  if (result.ok() && call->last_endpoint < endpoint_urls_.size()) {
    result->upstream = endpoint_urls_[call->last_endpoint];
  }
  if (!done) return;
  // Decoding a large answer takes milliseconds: on an I/O thread it would stall every other
  // call's socket. Failures found before anything was sent complete on the caller's thread.
  if (HttpsClient::OnIoThread() && completions_ != nullptr) {
    if (!result.ok()) result = OwnCopy(result.status());
    asio::post(*completions_, [done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
    return;
  }
  done(std::move(result));
}

std::size_t UpstreamBackend::PickEndpoint(PendingCall& call) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::size_t n = endpoint_states_.size();
  const auto now = Clock::now();
  // The preferred (last good) node first, then the others in order; resting nodes only
  // when every untried node rests, the one that rests shortest first.
  std::size_t best = n;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t e = (preferred_ + i) % n;
    if (call.tried[e]) continue;
    if (endpoint_states_[e].down_until <= now) return e;
    if (best == n || endpoint_states_[e].down_until < endpoint_states_[best].down_until) best = e;
  }
  return best == n ? preferred_ : best;
}

void UpstreamBackend::MarkUp(std::size_t endpoint) {
  std::lock_guard<std::mutex> lock(mu_);
  EndpointState& s = endpoint_states_[endpoint];
  if (s.failures > 0) {
    repeated_log_->Flush();  // the count of an outage's repeats before the line that ends it
    spdlog::info("upstream {} answers again", client_->endpoints()[endpoint].Url());
  }
  s.failures = 0;
  s.down_until = {};
  // Stay on a node that works; move back only when the current one fails.
  if (endpoint_states_[preferred_].down_until > Clock::now() || preferred_ == endpoint) {
    preferred_ = endpoint;
  }
}

void UpstreamBackend::MarkDown(std::size_t endpoint, const absl::Status& why) {
  if (stopping_) return;
  std::lock_guard<std::mutex> lock(mu_);
  EndpointState& s = endpoint_states_[endpoint];
  const bool went_down = s.failures == 0;
  const auto rest =
      ExponentialDelay(options_.endpoint_backoff, options_.endpoint_backoff_cap, s.failures);
  ++s.failures;
  s.down_until = Clock::now() + rest;
  // The node going down is a state change, logged always; every failed call while it stays
  // down marks it again, and those repeats are rate-limited per node and error.
  const std::string line =
      absl::StrCat("upstream ", client_->endpoints()[endpoint].Url(), " unavailable (",
                   why.message(), "); trying other nodes, back to it in ", rest.count(), " ms");
  if (went_down) {
    spdlog::warn("{}", line);
  } else {
    repeated_log_->Log(spdlog::level::warn,
                       absl::StrCat(client_->endpoints()[endpoint].Url(), "\n", why.message()),
                       line);
  }
  if (preferred_ == endpoint) preferred_ = (endpoint + 1) % endpoint_states_.size();
}

// --- health ----------------------------------------------------------------------------

void UpstreamBackend::SetHealthListener(std::function<void(bool)> listener) {
  std::function<void(bool)> copy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    health_listener_ = std::move(listener);
    copy = health_listener_;
  }
  if (copy) copy(healthy_);
  // Probing starts with the first listener: nobody needs the answer before.
  if (!probing_.exchange(true))
    client_->RunAfter(std::chrono::milliseconds(0), [this] { Probe(); });
}

void UpstreamBackend::SetHealthy(bool healthy) {
  if (healthy_.exchange(healthy) == healthy || stopping_) return;
  if (!healthy) {
    reported_unhealthy_ = true;
    spdlog::warn("upstream Proxmox unreachable: health proxmox.gateway.v1.Upstream NOT_SERVING");
  } else if (reported_unhealthy_.exchange(false)) {  // the first SERVING at start is no news
    repeated_log_->Flush();
    spdlog::info("upstream Proxmox answers: health proxmox.gateway.v1.Upstream SERVING");
  }
  std::function<void(bool)> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listener = health_listener_;
  }
  if (listener) listener(healthy);
}

// When no call has been answered for a health interval, one cheap authenticated GET says
// whether the upstream still answers.
void UpstreamBackend::Probe() {
  if (stopping_) return;
  const auto last = Clock::time_point(Clock::duration(last_answer_ns_.load()));
  auto reschedule = [this] {
    if (!stopping_) client_->RunAfter(options_.health_interval, [this] { Probe(); });
  };
  if (last_answer_ns_.load() != 0 && Clock::now() - last < options_.health_interval) {
    return reschedule();
  }
  RestRequest probe;
  probe.verb = "GET";
  probe.path = kProbePath;
  probe.deadline = Clock::now() + std::min(options_.timeout, options_.health_interval);
  const bool anonymous = auth_kind() == "none";
  auto finish = [this, anonymous, reschedule](RestResult r) {
    // With per-call credentials only there is no identity to probe with: any HTTP answer
    // (401 included) proves the host answers.
    const bool answered = r.ok() && (r->status == 200 || (anonymous && r->status == 401));
    if (!answered) last_answer_ns_ = 0;
    SetHealthy(answered);
    reschedule();
  };
  if (anonymous) {
    // Call() would refuse a call without credentials under `require`.
    auto call = std::make_shared<PendingCall>();
    call->deadline = probe.deadline;
    call->http.method = "GET";
    call->http.target = absl::StrCat(client_->endpoints()[0].base_path, kProbePath);
    call->tried.assign(client_->endpoints().size(), false);
    call->done = finish;
    call->rest = std::move(probe);
    call->anonymous_probe = true;  // its 401 proves the host answers: not an error
    return Attempt(call);
  }
  this->Call(std::move(probe), finish);
}

}  // namespace pvegw::gateway::upstream
