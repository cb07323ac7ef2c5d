#include "gateway/call_metrics.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace pvegw::gateway {

namespace {

// The first use of a series creates it (label strings built once); later uses are one load.
template <typename T, typename MakeLabels>
T& Cached(std::atomic<T*>& slot, metrics::Family<T>& family, MakeLabels make_labels) {
  T* p = slot.load(std::memory_order_acquire);
  if (p == nullptr) {
    p = &family.Labels(make_labels());  // idempotent: a racing first use finds the same child
    slot.store(p, std::memory_order_release);
  }
  return *p;
}

}  // namespace

CallMetrics::CallMetrics(metrics::Registry& registry, const MethodTable& table,
                         std::vector<std::string> own_methods)
    : table_(table),
      own_methods_(std::move(own_methods)),
      unknown_slot_(table.size() + own_methods_.size()),
      slots_(std::make_unique<Slot[]>(unknown_slot_ + 1)),
      calls_(registry.AddCounter("pve_gateway_calls_total",
                                 "API calls finished, by gRPC method and status code.",
                                 {"method", "code"})),
      latency_(registry.AddHistogram("pve_gateway_call_duration_seconds",
                                     "Time from a call's arrival to its end, by gRPC method.",
                                     {"method"}, metrics::LatencyBuckets())),
      request_bytes_(registry.AddCounter("pve_gateway_request_bytes_total",
                                         "Bytes of request messages received, by gRPC method.",
                                         {"method"})),
      response_bytes_(registry.AddCounter("pve_gateway_response_bytes_total",
                                          "Bytes of response messages sent, by gRPC method.",
                                          {"method"})),
      in_flight_(registry
                     .AddGauge("pve_gateway_in_flight_calls",
                               "API calls being served now (admitted, not yet finished).")
                     .Get()),
      rejected_concurrency_(
          registry
              .AddCounter("pve_gateway_rejected_calls_total",
                          "Calls refused with RESOURCE_EXHAUSTED by a gateway limit, by limit.",
                          {"limit"})
              .Labels({"max_concurrent_calls"})) {}

const std::string& CallMetrics::Name(std::size_t slot) const {
  if (slot < table_.size()) return table_.name(slot);
  return slot < unknown_slot_ ? own_methods_[slot - table_.size()] : unknown_;
}

std::size_t CallMetrics::SlotOfOwn(absl::string_view method) const {
  for (std::size_t i = 0; i < own_methods_.size(); ++i) {
    if (own_methods_[i] == method) return table_.size() + i;
  }
  return unknown_slot_;
}

void CallMetrics::Finished(std::size_t slot, grpc::StatusCode code, double seconds,
                           std::uint64_t request_bytes, std::uint64_t response_bytes) {
  if (slot > unknown_slot_) slot = unknown_slot_;
  Slot& s = slots_[slot];
  const int c = static_cast<int>(code) >= 0 && static_cast<int>(code) < kCodes
                    ? static_cast<int>(code)
                    : static_cast<int>(grpc::StatusCode::UNKNOWN);
  Cached(s.calls[c], calls_, [&] {
    return std::vector<std::string>{Name(slot),
                                    absl::StatusCodeToString(static_cast<absl::StatusCode>(c))};
  }).Increment();
  Cached(s.latency, latency_, [&] {
    return std::vector<std::string>{Name(slot)};
  }).Observe(seconds);
  if (request_bytes > 0) {
    Cached(s.request_bytes, request_bytes_, [&] {
      return std::vector<std::string>{Name(slot)};
    }).Increment(request_bytes);
  }
  if (response_bytes > 0) {
    Cached(s.response_bytes, response_bytes_, [&] {
      return std::vector<std::string>{Name(slot)};
    }).Increment(response_bytes);
  }
}

}  // namespace pvegw::gateway
