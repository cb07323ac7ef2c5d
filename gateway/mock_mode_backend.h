// Mock mode: the mock world (mockstate/) behind the Backend interface. Only the wiring
// (gateway/main.cc) and tests include this; the gateway core never names mockstate.
#ifndef PVEGW_GATEWAY_MOCK_MODE_BACKEND_H_
#define PVEGW_GATEWAY_MOCK_MODE_BACKEND_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "gateway/backend/backend.h"
#include "mockstate/mock_backend.h"
#include "proxmox/gateway/v1/gateway.pb.h"

namespace pvegw::gateway {

using MockOptions = mockstate::MockOptions;

// The shared-memory world answers in microseconds, inline.
class MockModeBackend : public Backend {
 public:
  explicit MockModeBackend(std::unique_ptr<mockstate::MockBackend> mock) : mock_(std::move(mock)) {}

  // A factory for GatewayServer::Start: the world over the gateway's own API index.
  static absl::StatusOr<std::unique_ptr<Backend>> Create(std::shared_ptr<const api::ApiIndex> api,
                                                         const MockOptions& options) {
    auto mock = mockstate::MockBackend::Create(std::move(api), options);
    if (!mock.ok()) return mock.status();
    return std::unique_ptr<Backend>(std::make_unique<MockModeBackend>(*std::move(mock)));
  }

  void Call(RestRequest request, RestCallback done) override { done(mock_->Call(request)); }
  std::string mode() const override { return "mock"; }
  void AddInfo(proxmox::gateway::v1::GetInfoResponse& info) const override {
    info.set_mock_namespace(mock_->store().ns());
  }
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
