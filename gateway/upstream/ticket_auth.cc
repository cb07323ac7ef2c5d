// Real mode's ticket authentication (PROXMOX_API_USERNAME/PASSWORD): one shared login,
// renewal before expiry, one re-login on a 401, a TOTP second factor. Members of
// UpstreamBackend; the call flow is in upstream_backend.cc.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "gateway/upstream/pending_call.h"
#include "gateway/upstream/upstream_backend.h"

namespace pvegw::gateway::upstream {
namespace {

namespace json = boost::json;

constexpr char kTicketPath[] = "/access/ticket";

std::string Str(const json::value* v) {
  if (v == nullptr || !v->is_string()) return "";
  return std::string(v->get_string());
}

}  // namespace

void UpstreamBackend::WithTicket(std::function<void(absl::Status)> then) {
  bool start = false;
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ticket_.empty()) {
      queued = true;
      login_waiters_.push_back(std::move(then));
      start = !logging_in_;
      logging_in_ = true;
    }
  }
  if (start) StartLogin(false);
  if (!queued) then(absl::OkStatus());
}

void UpstreamBackend::Relogin(std::uint64_t generation, std::function<void(absl::Status)> then) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The ticket this call was refused with goes; one from a later login is used as it is.
    if (ticket_generation_ == generation) ticket_.clear();
  }
  WithTicket(std::move(then));
}

// POST /access/ticket with the password (or, to renew, the current ticket as password).
void UpstreamBackend::StartLogin(bool renewal) {
  RestParams params{{"username", options_.username}};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!renewal) logging_in_ = true;
    if (renewal) {
      if (ticket_.empty()) return;
      params.emplace_back("password", ticket_);
    } else if (!pending_tfa_.empty()) {
      params.emplace_back("tfa-challenge", pending_tfa_);
      params.emplace_back("password", absl::StrCat("totp:", options_.otp));
    } else {
      params.emplace_back("password", options_.password);
    }
  }
  auto call = std::make_shared<PendingCall>();
  call->tried.assign(client_->endpoints().size(), false);
  HttpRequest req;
  req.method = "POST";
  req.target = absl::StrCat(client_->endpoints()[0].base_path, kTicketPath);
  req.content_type = "application/x-www-form-urlencoded";
  req.body = FormEncode(params);
  const std::size_t endpoint = PickEndpoint(*call);
  client_->Send(
      endpoint, std::move(req), Clock::now() + options_.timeout, nullptr,
      [this, renewal, endpoint](Exchange e) { OnLogin(renewal, endpoint, std::move(e), 0); });
}

void UpstreamBackend::OnLogin(bool renewal, std::size_t endpoint, Exchange e, int /*attempt*/) {
  CountExchange(endpoint, e);
  absl::Status result;
  std::string ticket, csrf;
  bool need_tfa = false;
  if (!e.status.ok()) {
    if (e.before_request) MarkDown(endpoint, e.status);
    result = absl::UnavailableError(
        absl::StrCat("ticket login to Proxmox failed: ", e.status.message()));
  } else if (e.response.status != 200) {
    MarkUp(endpoint);
    const std::string reason =
        e.response.reason.empty() ? absl::StrCat("HTTP ", e.response.status) : e.response.reason;
    result = absl::UnauthenticatedError(
        absl::StrCat("Proxmox refused the ticket login: ", reason,
                     " (check PROXMOX_API_USERNAME / PROXMOX_API_PASSWORD / PROXMOX_API_OTP)"));
  } else {
    MarkUp(endpoint);
    json::error_code ec;
    json::value v = json::parse(e.response.body, ec);
    const json::object* data = nullptr;
    if (!ec && v.is_object()) {
      if (const json::value* d = v.get_object().if_contains("data"); d && d->is_object())
        data = &d->get_object();
    }
    if (data == nullptr) {
      result = absl::UnavailableError("the ticket login answer is not Proxmox's JSON");
    } else {
      ticket = Str(data->if_contains("ticket"));
      csrf = Str(data->if_contains("CSRFPreventionToken"));
      if (const json::value* tfa = data->if_contains("NeedTFA");
          tfa != nullptr && !tfa->is_null() && !(tfa->is_int64() && tfa->get_int64() == 0)) {
        need_tfa = true;
      }
      if (ticket.empty()) result = absl::UnavailableError("the ticket login answer has no ticket");
    }
  }
  if (result.ok() && need_tfa) {
    std::unique_lock<std::mutex> lock(mu_);
    if (options_.otp.empty() || !pending_tfa_.empty()) {
      pending_tfa_.clear();
      result = absl::UnauthenticatedError(
          "Proxmox wants a second factor for this user: set PROXMOX_API_OTP or use an API token");
    } else {
      pending_tfa_ = ticket;
      lock.unlock();
      return StartLogin(false);
    }
  }
  std::vector<std::function<void(absl::Status)>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_tfa_.clear();
    if (result.ok()) {
      ticket_ = std::move(ticket);
      csrf_ = std::move(csrf);
      ++ticket_generation_;
    }
    if (!renewal) {
      logging_in_ = false;
      waiters.swap(login_waiters_);
    }
  }
  if (result.ok()) {
    (renewal ? counters_.renewals : counters_.logins).fetch_add(1, std::memory_order_relaxed);
    ScheduleRenewal();
  } else if (renewal) {
    // The ticket could not be renewed (expired, key rotated, node down): a fresh password
    // login replaces it; calls keep using the old one meanwhile.
    spdlog::warn("ticket renewal failed ({}); logging in again", std::string(result.message()));
    bool start = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!logging_in_) start = logging_in_ = true;
    }
    if (start) StartLogin(false);
  } else {
    spdlog::warn("{}", std::string(result.message()));
  }
  for (auto& w : waiters) w(result);
}

void UpstreamBackend::ScheduleRenewal() {
  if (stopping_) return;
  std::uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation = ticket_generation_;
  }
  client_->RunAfter(options_.ticket_renew, [this, generation] {
    if (stopping_) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // A newer login already scheduled its own renewal.
      if (generation != ticket_generation_ || logging_in_) return;
    }
    StartLogin(true);
  });
}

}  // namespace pvegw::gateway::upstream
