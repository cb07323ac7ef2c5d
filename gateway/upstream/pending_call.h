// One call on its way to Proxmox, shared by the call flow (upstream_backend.cc) and the
// ticket login (ticket_auth.cc). Internal to gateway/upstream.
#ifndef PVEGW_GATEWAY_UPSTREAM_PENDING_CALL_H_
#define PVEGW_GATEWAY_UPSTREAM_PENDING_CALL_H_

#include <cstdint>
#include <random>
#include <vector>

#include "gateway/upstream/upstream_backend.h"

namespace pvegw::gateway::upstream {

// One gRPC call on its way to Proxmox.
struct UpstreamBackend::PendingCall {
  RestRequest rest;
  RestCallback done;
  Clock::time_point deadline;
  HttpRequest http;                // target and body; auth headers set by ApplyIdentity
  bool configured_ticket = false;  // uses the shared ticket (re-login on 401)
  bool anonymous_probe = false;    // health probe without credentials: a 401 is expected
  std::uint64_t ticket_generation = 0;
  bool relogged = false;
  int retries = 0;
  std::vector<bool> tried;               // endpoints already tried since the last answer
  std::size_t last_endpoint = SIZE_MAX;  // the node asked last (RestResponse::upstream)
  std::mt19937_64 rng{std::random_device{}()};
};

}  // namespace pvegw::gateway::upstream

#endif  // PVEGW_GATEWAY_UPSTREAM_PENDING_CALL_H_
