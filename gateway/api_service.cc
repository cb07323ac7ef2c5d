#include "gateway/api_service.h"

#include <grpcpp/support/byte_buffer.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"

namespace pvegw::gateway {

// The state machine of one call: OnReadDone -> backend -> OnBackendDone -> Finish -> OnDone.
class ApiCall : public grpc::ServerGenericBidiReactor {
 public:
  ApiCall(ApiService& service, grpc::GenericCallbackServerContext* ctx)
      : service_(service), ctx_(ctx), start_(std::chrono::steady_clock::now()) {
    service_.counters_.calls.fetch_add(1, std::memory_order_relaxed);
    entry_ = service_.table_.Find(ctx->method());
    if (entry_ == nullptr) {
      Fail(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        absl::StrCat("unknown method ", ctx->method())));
      return;
    }
    const std::int64_t in_flight = service_.counters_.in_flight.fetch_add(1) + 1;
    admitted_ = true;
    if (in_flight > service_.max_in_flight_) {
      Fail(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("too many concurrent calls (limit ", service_.max_in_flight_, ")")));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Fail(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "no request message arrived (none was sent, or the transport rejected it)"));
      return;
    }
    // Guard the handler: a bug must end this call with INTERNAL, not the process.
    try {
      std::unique_ptr<google::protobuf::Message> request(entry_->request->New());
      std::string bytes;
      std::vector<grpc::Slice> slices;
      if (!request_.Dump(&slices).ok()) {
        Fail(grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the request bytes"));
        return;
      }
      for (const grpc::Slice& s : slices)
        bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      if (!request->ParseFromString(bytes)) {
        Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("the request is not a valid ",
                                       entry_->request->GetTypeName(), " message")));
        return;
      }
      RestRequest rest;
      grpc::Status st = service_.transcoder_.Encode(*entry_->op, *request, &rest);
      if (!st.ok()) {
        Fail(st);
        return;
      }
      service_.backend_.Call(std::move(rest), [this](RestResponse r) { OnBackendDone(r); });
    } catch (const std::exception& e) {
      Fail(grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("internal error: ", e.what())));
    }
  }

  void OnBackendDone(const RestResponse& rest) {
    try {
      std::unique_ptr<google::protobuf::Message> response(entry_->response->New());
      grpc::Status st = service_.transcoder_.Decode(*entry_->op, rest, response.get());
      if (!st.ok()) {
        Fail(st);
        return;
      }
      std::string bytes = response->SerializeAsString();
      grpc::Slice slice(bytes);
      response_ = grpc::ByteBuffer(&slice, 1);
      final_ = grpc::Status::OK;
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    } catch (const std::exception& e) {
      Fail(grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("internal error: ", e.what())));
    }
  }

  void OnDone() override {
    if (admitted_) service_.counters_.in_flight.fetch_sub(1);
    if (!final_.ok()) {
      service_.counters_.failed.fetch_add(1, std::memory_order_relaxed);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
              .count();
      spdlog::warn("call failed method={} code={} latency_ms={:.3f} message=\"{}\"", ctx_->method(),
                   static_cast<int>(final_.error_code()), ms, final_.error_message());
    }
    delete this;
  }

 private:
  void Fail(const grpc::Status& status) {
    final_ = status;
    Finish(status);
  }

  ApiService& service_;
  grpc::GenericCallbackServerContext* ctx_;
  const std::chrono::steady_clock::time_point start_;
  const MethodEntry* entry_ = nullptr;
  bool admitted_ = false;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  grpc::Status final_;
};

grpc::ServerGenericBidiReactor* ApiService::CreateReactor(grpc::GenericCallbackServerContext* ctx) {
  return new ApiCall(*this, ctx);
}

}  // namespace pvegw::gateway
