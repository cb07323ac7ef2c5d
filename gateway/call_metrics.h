// Per-call metrics of the API service and the gateway's own services (Tasks): calls by
// method and code, latency, bytes, in-flight and rejected calls. Method labels come from the
// method table and a fixed list of the gateway's own methods (never from the caller): an
// unknown method is counted under one fixed value.
#ifndef PVEGW_GATEWAY_CALL_METRICS_H_
#define PVEGW_GATEWAY_CALL_METRICS_H_

#include <grpcpp/support/status.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/metrics.h"
#include "gateway/method_table.h"

namespace pvegw::gateway {

// The `method` label of calls to a method the descriptor set does not have.
inline constexpr char kUnknownMethodLabel[] = "unknown";

// Thread-safe; the per-call path is a few relaxed atomic operations (each series is created
// on its first use and then reached through a cached pointer).
class CallMetrics {
 public:
  // `own_methods`: full names of the gateway's own methods counted beside the table's
  // ("/proxmox.gateway.v1.Tasks/WatchTask", ...).
  CallMetrics(metrics::Registry& registry, const MethodTable& table,
              std::vector<std::string> own_methods = {});

  // The slot of `entry` (nullptr: unknown method).
  std::size_t SlotOf(const MethodEntry* entry) const {
    return entry == nullptr ? unknown_slot_ : entry->index;
  }
  // The slot of one of `own_methods` (anything else: unknown method).
  std::size_t SlotOfOwn(absl::string_view method) const;
  // One finished call: its final code, latency and bytes in both directions.
  void Finished(std::size_t slot, grpc::StatusCode code, double seconds,
                std::uint64_t request_bytes, std::uint64_t response_bytes);
  // A call refused by --max_concurrent_calls.
  void RejectedByConcurrencyLimit() { rejected_concurrency_.Increment(); }
  metrics::Gauge& in_flight() { return in_flight_; }

 private:
  static constexpr int kCodes = 17;  // grpc::StatusCode OK .. UNAUTHENTICATED
  struct Slot {
    std::array<std::atomic<metrics::Counter*>, kCodes> calls{};
    std::atomic<metrics::Histogram*> latency{nullptr};
    std::atomic<metrics::Counter*> request_bytes{nullptr};
    std::atomic<metrics::Counter*> response_bytes{nullptr};
  };
  const std::string& Name(std::size_t slot) const;

  const MethodTable& table_;
  const std::vector<std::string> own_methods_;
  const std::size_t unknown_slot_;
  std::unique_ptr<Slot[]> slots_;
  metrics::Family<metrics::Counter>& calls_;
  metrics::Family<metrics::Histogram>& latency_;
  metrics::Family<metrics::Counter>& request_bytes_;
  metrics::Family<metrics::Counter>& response_bytes_;
  metrics::Gauge& in_flight_;
  metrics::Counter& rejected_concurrency_;
  const std::string unknown_ = kUnknownMethodLabel;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_CALL_METRICS_H_
