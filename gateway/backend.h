// Where REST calls go: the mock world or (later) a real Proxmox host (DESIGN.md §2).
#ifndef PVEGW_GATEWAY_BACKEND_H_
#define PVEGW_GATEWAY_BACKEND_H_

#include <functional>
#include <memory>
#include <string>

#include "common/rest_call.h"
#include "mockstate/mock_backend.h"

namespace pvegw::gateway {

// Completes every call exactly once through `done`, possibly on another thread. Never
// blocks a gRPC thread waiting for the network.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual void Call(RestRequest request, std::function<void(RestResponse)> done) = 0;
  virtual std::string mode() const = 0;
};

// Mock mode: the shared-memory world answers in microseconds, inline.
class MockModeBackend : public Backend {
 public:
  explicit MockModeBackend(std::unique_ptr<mockstate::MockBackend> mock) : mock_(std::move(mock)) {}
  void Call(RestRequest request, std::function<void(RestResponse)> done) override {
    done(mock_->Call(request));
  }
  std::string mode() const override { return "mock"; }
  mockstate::MockBackend& mock() { return *mock_; }

 private:
  std::unique_ptr<mockstate::MockBackend> mock_;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_BACKEND_H_
