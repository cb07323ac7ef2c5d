// Mock mode wired up: the one place the gateway meets mockstate (DESIGN.md §2).
#ifndef PVEGW_GATEWAY_MOCK_MODE_BACKEND_H_
#define PVEGW_GATEWAY_MOCK_MODE_BACKEND_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "gateway/backend.h"
#include "mockstate/mock_backend.h"

namespace pvegw::gateway {

using MockOptions = mockstate::MockOptions;

// The shared-memory world answers in microseconds, inline.
class MockModeBackend : public Backend {
 public:
  explicit MockModeBackend(std::unique_ptr<mockstate::MockBackend> mock) : mock_(std::move(mock)) {}
  void Call(RestRequest request, std::function<void(RestResponse)> done) override {
    done(mock_->Call(request));
  }
  std::string mode() const override { return "mock"; }
  // The shared store: its mapping's size and how much of it is in use.
  void RegisterMetrics(metrics::Registry& registry) override {
    mockstate::Store* store = &mock_->store();
    registry.AddCallback(
        "pve_gateway_mock_store_capacity_bytes",
        "Size of the mock world's shared mapping (PROXMOX_MOCK_STATE_CAPACITY_MB), in bytes.",
        metrics::Type::kGauge, {}, [store](std::vector<metrics::Sample>& out) {
          out.push_back({{}, static_cast<double>(store->capacity_bytes())});
        });
    registry.AddCallback("pve_gateway_mock_store_used_bytes",
                         "Bytes of the mock world's shared mapping in use (pages).",
                         metrics::Type::kGauge, {}, [store](std::vector<metrics::Sample>& out) {
                           out.push_back({{}, static_cast<double>(store->UsedBytes())});
                         });
  }
  mockstate::MockBackend& mock() { return *mock_; }

 private:
  std::unique_ptr<mockstate::MockBackend> mock_;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_MOCK_MODE_BACKEND_H_
