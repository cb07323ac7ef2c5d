// What real mode reports about itself: GetInfo's UpstreamInfo and the
// pve_gateway_upstream_* metrics, both read when asked. Members of UpstreamBackend.
#include "common/metrics.h"
#include "gateway/upstream/upstream_backend.h"
#include "proxmox/gateway/v1/gateway.pb.h"

namespace pvegw::gateway::upstream {

void UpstreamBackend::AddInfo(proxmox::gateway::v1::GetInfoResponse& info) const {
  auto* up = info.mutable_upstream();
  up->set_auth(auth_kind());
  up->set_tls(tls_mode());
  up->set_client_credentials(options_.client_credentials);
  up->set_healthy(healthy_);
  up->set_timeout_seconds(std::chrono::duration<double>(options_.timeout).count());
  up->set_max_retries(options_.retries);
  up->set_calls(counters_.calls);
  up->set_retries(counters_.retries);
  up->set_failovers(counters_.failovers);
  up->set_logins(counters_.logins);
  up->set_renewals(counters_.renewals);
  const auto now = Clock::now();
  for (std::size_t i = 0; i < client_->endpoints().size(); ++i) {
    auto* e = up->add_endpoints();
    e->set_url(client_->endpoints()[i].Url());
    {
      std::lock_guard<std::mutex> lock(mu_);
      e->set_healthy(endpoint_states_[i].down_until <= now);
    }
    const PoolStats s = client_->Stats(i);
    e->set_open_connections(s.open);
    e->set_idle_connections(s.idle);
    e->set_queued_calls(s.queued);
    e->set_max_connections(options_.max_connections);
    e->set_connects(s.connects);
    e->set_requests(s.requests);
    e->set_reused(s.reused);
    e->set_stale_dropped(s.stale_dropped);
    e->set_rejected(s.rejected);
  }
}

void UpstreamBackend::RegisterMetrics(metrics::Registry& registry) {
  using metrics::Sample;
  using metrics::Type;
  // Pool statistics per endpoint, read at scrape time.
  auto per_endpoint = [this](auto value) {
    return [this, value](std::vector<Sample>& out) {
      for (std::size_t i = 0; i < endpoint_urls_.size(); ++i) {
        out.push_back({{endpoint_urls_[i]}, static_cast<double>(value(client_->Stats(i)))});
      }
    };
  };
  registry.AddCallback("pve_gateway_upstream_open_connections",
                       "Connections to a Proxmox node: connecting, busy or idle.", Type::kGauge,
                       {"endpoint"}, per_endpoint([](const PoolStats& s) { return s.open; }));
  registry.AddCallback("pve_gateway_upstream_idle_connections",
                       "Kept-alive connections to a Proxmox node waiting for a call.", Type::kGauge,
                       {"endpoint"}, per_endpoint([](const PoolStats& s) { return s.idle; }));
  registry.AddCallback("pve_gateway_upstream_queued_calls",
                       "Calls waiting for a free connection to a Proxmox node.", Type::kGauge,
                       {"endpoint"}, per_endpoint([](const PoolStats& s) { return s.queued; }));
  registry.AddCallback("pve_gateway_upstream_requests_total",
                       "HTTPS requests written to a Proxmox node (retries and logins included).",
                       Type::kCounter, {"endpoint"},
                       per_endpoint([](const PoolStats& s) { return s.requests; }));
  registry.AddCallback("pve_gateway_upstream_connects_total",
                       "TLS connections established to a Proxmox node.", Type::kCounter,
                       {"endpoint"}, per_endpoint([](const PoolStats& s) { return s.connects; }));
  registry.AddCallback("pve_gateway_upstream_errors_total",
                       "Requests to a Proxmox node that failed, by kind: connect, tls, timeout, "
                       "connection_lost, protocol, too_large, queue_full (no answer), http_4xx, "
                       "http_5xx (answered with that status).",
                       Type::kCounter, {"endpoint", "kind"}, [this](std::vector<Sample>& out) {
                         for (std::size_t i = 0; i < endpoint_urls_.size(); ++i) {
                           for (int kind = 0; kind < kUpstreamErrorKinds; ++kind) {
                             const auto e = static_cast<ExchangeError>(kind);
                             if (e == ExchangeError::kNone || e == ExchangeError::kCancelled ||
                                 e == ExchangeError::kShutdown) {
                               continue;
                             }
                             out.push_back({{endpoint_urls_[i], UpstreamErrorName(kind)},
                                            static_cast<double>(counters_.Errors(i, kind))});
                           }
                         }
                       });
  auto counter = [this](std::atomic<std::uint64_t> UpstreamCounters::*field) {
    return [this, field](std::vector<Sample>& out) {
      out.push_back({{}, static_cast<double>((counters_.*field).load())});
    };
  };
  registry.AddCallback("pve_gateway_upstream_calls_total",
                       "Calls handed to the real-mode backend (each may make several requests).",
                       Type::kCounter, {}, counter(&UpstreamCounters::calls));
  registry.AddCallback("pve_gateway_upstream_retries_total",
                       "GET requests sent again after a connection failure or a 502/503/504/595/"
                       "596 answer.",
                       Type::kCounter, {}, counter(&UpstreamCounters::retries));
  registry.AddCallback("pve_gateway_upstream_failovers_total",
                       "Requests moved to another Proxmox node because one could not be reached.",
                       Type::kCounter, {}, counter(&UpstreamCounters::failovers));
  registry.AddCallback("pve_gateway_upstream_ticket_logins_total",
                       "Successful ticket logins with the configured user (ticket auth).",
                       Type::kCounter, {}, counter(&UpstreamCounters::logins));
  registry.AddCallback("pve_gateway_upstream_ticket_renewals_total",
                       "Successful background ticket renewals (ticket auth).", Type::kCounter, {},
                       counter(&UpstreamCounters::renewals));
  registry.AddCallback("pve_gateway_upstream_relogins_total",
                       "Logins started because Proxmox answered 401 to the shared ticket.",
                       Type::kCounter, {}, counter(&UpstreamCounters::relogins));
  registry.AddCallback("pve_gateway_upstream_up",
                       "1 while the upstream answers (health service proxmox.gateway.v1.Upstream).",
                       Type::kGauge, {}, [this](std::vector<Sample>& out) {
                         out.push_back({{}, healthy_ ? 1.0 : 0.0});
                       });
}

}  // namespace pvegw::gateway::upstream
