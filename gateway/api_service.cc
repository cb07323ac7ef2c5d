#include "gateway/api_service.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/io/coded_stream.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/log_limiter.h"
#include "common/request_id.h"
#include "gateway/grpc_status.h"

namespace pvegw::gateway {
namespace {

// A cancellation this close to the call's deadline is taken as the deadline passing.
constexpr std::chrono::milliseconds kDeadlineSlack{200};

std::string NewRequestId() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  return absl::StrFormat("%016x%016x", random(), random());
}

std::array<unsigned char, 32> Sha256(absl::string_view text) {
  std::array<unsigned char, 32> out{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
  return out;
}

absl::string_view View(const grpc::string_ref& s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

std::string RequestIdOf(const grpc::ServerContextBase& ctx) {
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find(kRequestIdHeader);
  if (it != metadata.end() &&
      UsableRequestId(absl::string_view(it->second.data(), it->second.size()))) {
    return std::string(it->second.data(), it->second.size());
  }
  return NewRequestId();
}

grpc::Status SerializeReply(const google::protobuf::Message& message, grpc::ByteBuffer* out) {
  const std::size_t size = message.ByteSizeLong();
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("the reply is ", size, " bytes, more than gRPC can carry"));
  }
  grpc::ByteBuffer buffer;
  if (size <= GRPC_SLICE_INLINED_SIZE) {  // small: one slice, as GenericSerialize does
    grpc::Slice slice(size);
    message.SerializeWithCachedSizesToArray(const_cast<std::uint8_t*>(slice.begin()));
    grpc::ByteBuffer single(&slice, 1);
    out->Swap(&single);
    return grpc::Status::OK;
  }
  {
    grpc::ProtoBufferWriter writer(&buffer, grpc::kProtoBufferWriterMaxBufferLength,
                                   static_cast<int>(size));
    // No eager refresh: the writer refuses to hand out a block beyond `size`.
    google::protobuf::io::CodedOutputStream stream(&writer, /*do_eager_refresh=*/false);
    message.SerializeWithCachedSizes(&stream);
    if (stream.HadError()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "cannot serialize the reply");
    }
  }  // the stream hands back what it did not use before the buffer is read
  out->Swap(&buffer);
  return grpc::Status::OK;
}

grpc::StatusCode CodeSeenByClient(const grpc::ServerContextBase& ctx, const grpc::Status& final,
                                  bool cancelled) {
  if (!cancelled) return final.error_code();
  // What the client saw, whatever the server had prepared: a cancellation is the client's
  // (or the deadline's) doing, not a failure of the call. The client's own timer usually
  // fires first and resets the stream a little before the server's copy of the deadline
  // (which started one network hop later) expires.
  const auto deadline = ctx.deadline();
  return deadline != std::chrono::system_clock::time_point::max() &&
                 std::chrono::system_clock::now() + kDeadlineSlack >= deadline
             ? grpc::StatusCode::DEADLINE_EXCEEDED
             : grpc::StatusCode::CANCELLED;
}

void LogFinishedCall(absl::string_view method, grpc::StatusCode code, double seconds,
                     const std::string& request_id, const std::string& upstream,
                     const std::string& error, bool quiet, bool cancelled) {
  const spdlog::level::level_enum level = quiet ? spdlog::level::debug : spdlog::level::warn;
  if (!spdlog::should_log(level)) return;  // fields are built only for lines that are written
  const double ms = std::round(seconds * 1e6) / 1000;
  const std::string code_name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  std::vector<log::Field> fields = {{"method", std::string(method)},
                                    {"code", code_name},
                                    {"latency_ms", ms},
                                    {"request_id", request_id}};
  // Real mode names the Proxmox node that answered (or was tried last).
  if (!upstream.empty()) fields.emplace_back("upstream", upstream);
  if (!quiet || (code != grpc::StatusCode::OK && !cancelled && !error.empty())) {
    fields.emplace_back("error", error);
  }
  if (quiet) {
    log::Log(level, cancelled ? "call cancelled" : "call", fields);
    return;
  }
  // In an outage every call fails the same way; one line per failure would bury the state
  // changes. Identical failures (code and error text) are rate-limited; debug keeps them all.
  // Never destroyed: calls may finish until the process ends.
  static log::LogLimiter* const failures = new log::LogLimiter();
  failures->Log(level, absl::StrCat(code_name, "\n", error), "call failed", fields);
}

absl::StatusOr<BearerTokens> BearerTokens::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read --auth_tokens_file ", path));
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view t = absl::StripAsciiWhitespace(line);
    if (t.empty() || t[0] == '#') continue;
    tokens.emplace_back(t);
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth_tokens_file ", path, " holds no token (one per line)"));
  }
  return FromList(tokens);
}

BearerTokens BearerTokens::FromList(const std::vector<std::string>& tokens) {
  BearerTokens b;
  for (const std::string& t : tokens) b.hashes_.push_back(Sha256(t));
  return b;
}

bool BearerTokens::AdmitsCall(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  if (empty()) return true;
  bool admitted = false;
  auto range = metadata.equal_range("authorization");
  for (auto it = range.first; it != range.second; ++it) admitted |= Admits(View(it->second));
  return admitted;
}

bool BearerTokens::Admits(absl::string_view header) const {
  if (!absl::ConsumePrefix(&header, "Bearer ")) return false;
  // Hashing first makes every comparison the same length; every stored hash is compared
  // so the time does not tell which one matched.
  const auto presented = Sha256(header);
  bool ok = false;
  for (const auto& h : hashes_) ok |= CRYPTO_memcmp(h.data(), presented.data(), h.size()) == 0;
  return ok;
}

// The state machine of one call: OnReadDone -> backend -> OnBackendDone -> Finish -> OnDone.
class ApiCall final : public grpc::ServerGenericBidiReactor {
 public:
  ApiCall(ApiService& service, grpc::GenericCallbackServerContext* ctx)
      : service_(service),
        ctx_(ctx),
        start_(std::chrono::steady_clock::now()),
        request_id_(RequestIdOf(*ctx)) {
    service_.counters_.calls.fetch_add(1, std::memory_order_relaxed);
    ctx_->AddInitialMetadata(kRequestIdHeader, request_id_);
    entry_ = service_.table_.Find(ctx->method());
    if (!service_.tokens_.AdmitsCall(ctx->client_metadata())) {
      Fail(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing or unknown bearer token (metadata authorization: Bearer ...)"));
      return;
    }
    if (entry_ == nullptr) {
      Fail(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        absl::StrCat("unknown method ", ctx->method())));
      return;
    }
    const std::int64_t in_flight = service_.counters_.in_flight.fetch_add(1) + 1;
    admitted_ = true;
    if (in_flight > service_.max_in_flight_) {
      if (service_.metrics_ != nullptr) service_.metrics_->RejectedByConcurrencyLimit();
      Fail(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("too many concurrent calls (limit ", service_.max_in_flight_, ")")));
      return;
    }
    // The gauge shows calls being served: never above the limit, whatever is refused.
    if (service_.metrics_ != nullptr) {
      service_.metrics_->in_flight().Add(1);
      in_flight_gauge_ = true;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok && ctx_->IsCancelled()) {
      Fail(grpc::Status(grpc::StatusCode::CANCELLED, "the call ended before its request arrived"));
      return;
    }
    if (!ok) {
      Fail(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "no request message arrived (none was sent, or the transport rejected it)"));
      return;
    }
    // Guard the handler: a bug must end this call with INTERNAL, not the process.
    try {
      std::unique_ptr<google::protobuf::Message> request(entry_->request->New());
      request_bytes_ = request_.Length();
      // Parsed straight from gRPC's slices, as its generated stubs do (no flat copy first).
      grpc::ProtoBufferReader reader(&request_);
      if (!reader.status().ok()) {
        Fail(grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the request bytes"));
        return;
      }
      if (!request->ParseFromZeroCopyStream(&reader)) {
        Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("the request is not a valid ",
                                       entry_->request->GetTypeName(), " message")));
        return;
      }
      RestRequest rest;
      if (absl::Status st = service_.transcoder_.Encode(*entry_->op, *request, &rest); !st.ok()) {
        Fail(ToGrpcStatus(st));
        return;
      }
      rest.request_id = request_id_;
      // Per-call Proxmox credentials, as the backend reads them (real mode: metadata
      // PVEAPIToken or ticket, under --client_credentials); the same for task pollers.
      absl::StatusOr<CallIdentity> identity = service_.backend_.Identity(ctx_->client_metadata());
      if (!identity.ok()) {
        Fail(ToGrpcStatus(identity.status()));
        return;
      }
      const auto deadline = ctx_->deadline();
      const auto now = std::chrono::system_clock::now();
      if (deadline < now + std::chrono::hours(24 * 365)) {
        rest.deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::max(deadline - now, std::chrono::system_clock::duration::zero()));
      }
      rest.cancellation = cancellation_;
      service_.backend_.CallAs(*identity, std::move(rest),
                               [this](RestResult r) { OnBackendDone(r); });
    } catch (const std::exception& e) {
      Fail(grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("internal error: ", e.what())));
    }
  }

  void OnBackendDone(const RestResult& result) {
    try {
      if (!result.ok()) {  // no answer from Proxmox: the transport's own code and message
        Fail(ToGrpcStatus(result.status()));
        return;
      }
      const RestResponse& rest = *result;
      upstream_ = rest.upstream;
      // The reply's messages live on one arena for the call: a 1,000-VM list is thousands
      // of submessages, each a malloc and a free otherwise.
      google::protobuf::Arena arena;
      google::protobuf::Message* response = entry_->response->New(&arena);
      if (absl::Status st = service_.transcoder_.Decode(*entry_->op, rest, response); !st.ok()) {
        Fail(ToGrpcStatus(st));
        return;
      }
      // Serialized into gRPC's own slices (no intermediate string), as its generated stubs do.
      if (grpc::Status written = SerializeReply(*response, &response_); !written.ok()) {
        Fail(written);
        return;
      }
      response_bytes_ = response_.Length();
      final_ = grpc::Status::OK;
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    } catch (const std::exception& e) {
      Fail(grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("internal error: ", e.what())));
    }
  }

  // The client gave up (or its deadline passed): whatever the backend is waiting for is
  // aborted; the backend still completes the call, which then finishes as cancelled.
  void OnCancel() override {
    cancelled_ = true;
    cancellation_->Cancel();
  }

  void OnDone() override {
    if (admitted_) service_.counters_.in_flight.fetch_sub(1);
    if (in_flight_gauge_) service_.metrics_->in_flight().Add(-1);
    const grpc::StatusCode code = CodeSeenByClient(*ctx_, final_, cancelled_);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (service_.metrics_ != nullptr) {
      service_.metrics_->Finished(service_.metrics_->SlotOf(entry_), code, seconds, request_bytes_,
                                  response_bytes_);
    }
    const bool quiet = code == grpc::StatusCode::OK || cancelled_;
    if (!quiet) service_.counters_.failed.fetch_add(1, std::memory_order_relaxed);
    LogFinishedCall(ctx_->method(), code, seconds, request_id_, upstream_, final_.error_message(),
                    quiet, cancelled_);
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
  const std::string request_id_;
  std::atomic<bool> cancelled_{false};
  const MethodEntry* entry_ = nullptr;
  bool admitted_ = false;
  bool in_flight_gauge_ = false;  // counted in the in-flight gauge (admitted under the limit)
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::uint64_t request_bytes_ = 0;
  std::uint64_t response_bytes_ = 0;
  std::string upstream_;  // RestResponse::upstream (real mode)
  grpc::Status final_;
  std::shared_ptr<CallCancellation> cancellation_ = std::make_shared<CallCancellation>();
};

grpc::ServerGenericBidiReactor* ApiService::CreateReactor(grpc::GenericCallbackServerContext* ctx) {
  return new ApiCall(*this, ctx);
}

}  // namespace pvegw::gateway
