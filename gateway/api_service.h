// One generic gRPC handler that serves every method of the generated Proxmox API.
#ifndef PVEGW_GATEWAY_API_SERVICE_H_
#define PVEGW_GATEWAY_API_SERVICE_H_

#include <grpcpp/generic/async_generic_service.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/backend/backend.h"
#include "gateway/call_metrics.h"
#include "gateway/method_table.h"
#include "gateway/transcoder.h"

namespace pvegw::gateway {

// Callers may name their request with this metadata key; the gateway logs the id with the
// call, answers it in the response's initial metadata and hands it to the backend.
inline constexpr char kRequestIdHeader[] = "x-request-id";

// The caller's x-request-id if usable (at most kMaxRequestIdBytes of [A-Za-z0-9-_.:/+=@]),
// else a new random id.
std::string RequestIdOf(const grpc::ServerContextBase& ctx);

// `message` in wire format into gRPC's own slices. Sizes the message once (gRPC's
// GenericSerialize sizes a large message twice, and on a dynamic message each pass walks
// every field through reflection).
grpc::Status SerializeReply(const google::protobuf::Message& message, grpc::ByteBuffer* out);

// The code a finished call ended with as its client saw it: `final`, or for a call the
// client gave up on, DEADLINE_EXCEEDED when its deadline had (about) passed, else CANCELLED.
grpc::StatusCode CodeSeenByClient(const grpc::ServerContextBase& ctx, const grpc::Status& final,
                                  bool cancelled);

// The log line of one finished call (fields method, code, latency_ms, request_id, upstream
// when known, error): "call failed" at warning, or with `quiet` (successful, cancelled or
// expected ends) "call" / "call cancelled" at debug.
void LogFinishedCall(absl::string_view method, grpc::StatusCode code, double seconds,
                     const std::string& request_id, const std::string& upstream,
                     const std::string& error, bool quiet, bool cancelled);

struct CallCounters {
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::int64_t> in_flight{0};
};

// Bearer tokens that admit a caller (--auth_tokens_file, DESIGN.md §7). Only SHA-256
// hashes are kept, and a presented token is compared against every one in constant time.
class BearerTokens {
 public:
  BearerTokens() = default;
  // One token per line; blank lines and lines starting with '#' are skipped. Fails when the
  // file cannot be read or holds no token.
  static absl::StatusOr<BearerTokens> Load(const std::string& path);
  static BearerTokens FromList(const std::vector<std::string>& tokens);
  bool empty() const { return hashes_.empty(); }
  // `header` is a full metadata value, "Bearer <token>".
  bool Admits(absl::string_view header) const;
  // Whether a call may proceed: no tokens configured, or one of its `authorization` values
  // is an admitted bearer token.
  bool AdmitsCall(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const;

 private:
  std::vector<std::array<unsigned char, 32>> hashes_;
};

// Registered as the server's callback generic service: gRPC hands it every method no other
// service claims. Each call: O(1) method lookup (unknown -> UNIMPLEMENTED), admission
// against `max_concurrent_calls` (beyond it RESOURCE_EXHAUSTED), one request message
// parsed into its dynamic type, transcoded, sent to the backend, answered. No thread is
// blocked per call: the reactor resumes when the backend completes.
//
// Per call it also hands the backend what real mode needs from the gRPC call: the
// deadline, a cancellation that fires when the client gives up, and the caller's identity:
// Backend::Identity reads per-call Proxmox credentials from metadata
// (gateway/backend/call_credentials.h) and the call goes out through Backend::CallAs, as task polls
// do; a refused identity ends the call with the backend's status. With bearer tokens
// configured, a call without a matching `authorization: Bearer ...` is refused with
// UNAUTHENTICATED.
class ApiService : public grpc::CallbackGenericService {
 public:
  // `metrics` (optional) counts every call; it must outlive the service.
  ApiService(const MethodTable& table, const Transcoder& transcoder, Backend& backend,
             int max_concurrent_calls, BearerTokens tokens = {}, CallMetrics* metrics = nullptr)
      : table_(table),
        transcoder_(transcoder),
        backend_(backend),
        max_in_flight_(max_concurrent_calls),
        tokens_(std::move(tokens)),
        metrics_(metrics) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

  const CallCounters& counters() const { return counters_; }
  const BearerTokens& tokens() const { return tokens_; }

 private:
  friend class ApiCall;
  const MethodTable& table_;
  const Transcoder& transcoder_;
  Backend& backend_;
  const int max_in_flight_;
  const BearerTokens tokens_;
  CallMetrics* const metrics_;
  CallCounters counters_;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_API_SERVICE_H_
