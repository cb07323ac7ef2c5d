// Mock mode wired up: the one place the gateway meets mockstate (DESIGN.md §2).
#ifndef PVEGW_GATEWAY_MOCK_MODE_BACKEND_H_
#define PVEGW_GATEWAY_MOCK_MODE_BACKEND_H_

#include <memory>
#include <string>
#include <utility>

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
  mockstate::MockBackend& mock() { return *mock_; }

 private:
  std::unique_ptr<mockstate::MockBackend> mock_;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_MOCK_MODE_BACKEND_H_
