#include "gateway/tasks_service.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "api/upid.h"
#include "common/status_mapping.h"
#include "gateway/api_service.h"
#include "gateway/grpc_status.h"

namespace pvegw::gateway {
namespace {

using proxmox::gateway::v1::TaskEvent;
using proxmox::gateway::v1::WaitTaskRequest;
using proxmox::gateway::v1::WatchTaskRequest;

// The last status must still reach the client before its own deadline cuts the call.
constexpr std::chrono::milliseconds kDeadlineMargin{250};

bool ValidNode(const std::string& node) {
  if (node.empty() || node.size() > 253 || node.front() == '-' || node.back() == '-') return false;
  for (char c : node) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

absl::StatusOr<std::chrono::milliseconds> Millis(const google::protobuf::Duration& d,
                                                 const char* field) {
  if (d.seconds() < 0 || d.nanos() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must not be negative"));
  }
  if (d.seconds() > 10LL * 365 * 24 * 3600) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is too long"));
  }
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

// A rejected request names its field (google.rpc.BadRequest once sent).
absl::Status WithField(const absl::Status& status, const char* field) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return status;
  return InvalidArgumentWithViolations(status.message(), {{field, std::string(status.message())}});
}

WatchTaskRequest AsWatch(const WaitTaskRequest& wait) {
  WatchTaskRequest watch;
  watch.set_upid(wait.upid());
  watch.set_node(wait.node());
  watch.set_include_log(wait.include_log());
  watch.set_log_start(wait.log_start());
  if (wait.has_poll()) *watch.mutable_poll() = wait.poll();
  if (wait.has_timeout()) *watch.mutable_timeout() = wait.timeout();
  return watch;
}

absl::StatusOr<WatchSpec> BuildSpec(const WatchTaskRequest& request,
                                    const grpc::CallbackServerContext& ctx, const Backend& backend,
                                    const char** field) {
  WatchSpec spec;
  *field = "upid";
  absl::StatusOr<api::Upid> upid = api::ParseUpid(request.upid());
  if (!upid.ok()) return upid.status();
  spec.upid = api::FormatUpid(*upid);
  *field = "node";
  spec.node = request.node().empty() ? upid->node : request.node();
  if (!ValidNode(spec.node)) {
    return absl::InvalidArgumentError(
        absl::StrCat("node '", spec.node, "' is not a node name (letters, digits and inner '-')"));
  }
  *field = "log_start";
  if (request.log_start() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("log_start ", request.log_start(), " must not be negative"));
  }
  spec.include_log = request.include_log();
  spec.log_start = request.log_start();
  if (request.has_poll()) {
    *field = "poll.initial_interval";
    auto initial = Millis(request.poll().initial_interval(), *field);
    if (!initial.ok()) return initial.status();
    *field = "poll.max_interval";
    auto max = Millis(request.poll().max_interval(), *field);
    if (!max.ok()) return max.status();
    spec.poll_initial = *initial;
    spec.poll_max = *max;
  }
  const auto steady_now = std::chrono::steady_clock::now();
  if (request.has_timeout()) {
    *field = "timeout";
    auto timeout = Millis(request.timeout(), *field);
    if (!timeout.ok()) return timeout.status();
    if (timeout->count() > 0) spec.deadline = steady_now + *timeout;
  }
  // The call's own deadline, moved to the monotonic clock once.
  const auto deadline = ctx.deadline();
  const auto system_now = std::chrono::system_clock::now();
  if (deadline != std::chrono::system_clock::time_point::max() &&
      deadline - system_now < std::chrono::hours(24 * 365)) {
    const auto remaining = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::max(deadline - system_now, std::chrono::system_clock::duration::zero()));
    const auto margin = std::min<std::chrono::nanoseconds>(kDeadlineMargin, remaining / 5);
    const auto at = steady_now + (remaining - margin);
    if (!spec.deadline || at < *spec.deadline) spec.deadline = at;
  }
  *field = "metadata";
  absl::StatusOr<CallIdentity> identity = backend.Identity(ctx.client_metadata());
  if (!identity.ok()) return identity.status();
  spec.identity = *std::move(identity);
  spec.request_id = RequestIdOf(ctx);
  return spec;
}

// What every Tasks call reports when it ends, like the generated API's calls: one log line
// (method, code, latency_ms, request_id) and the call metrics. A `timeout` or deadline the
// caller set is an expected end, logged at debug like a cancellation.
class CallRecord {
 public:
  CallRecord(grpc::CallbackServerContext* ctx, const TaskWatchers& watchers, CallMetrics* metrics,
             const char* method, std::size_t request_bytes)
      : ctx_(ctx),
        watchers_(watchers),
        metrics_(metrics),
        method_(method),
        request_bytes_(request_bytes),
        request_id_(RequestIdOf(*ctx)) {
    ctx_->AddInitialMetadata(kRequestIdHeader, request_id_);
  }
  const std::string& request_id() const { return request_id_; }
  void Sent(std::size_t bytes) { response_bytes_ += bytes; }
  void Finishing(const grpc::Status& status) { final_ = status; }
  void Cancelled() { cancelled_ = true; }

  void Done() {
    const grpc::StatusCode code = CodeSeenByClient(*ctx_, final_, cancelled_);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (metrics_ != nullptr) {
      metrics_->Finished(metrics_->SlotOfOwn(method_), code, seconds, request_bytes_,
                         response_bytes_);
    }
    // Expected ends: the caller's own limit, and the streams a shutdown ends (UNAVAILABLE,
    // so clients watch again elsewhere): a warning per open stream on every restart would
    // say nothing.
    const bool quiet = code == grpc::StatusCode::OK || cancelled_ ||
                       code == grpc::StatusCode::DEADLINE_EXCEEDED ||
                       (code == grpc::StatusCode::UNAVAILABLE && watchers_.closing());
    LogFinishedCall(method_, code, seconds, request_id_, "", final_.error_message(), quiet,
                    cancelled_);
  }

 private:
  grpc::CallbackServerContext* const ctx_;
  const TaskWatchers& watchers_;
  CallMetrics* const metrics_;
  const char* const method_;
  const std::size_t request_bytes_;
  const std::string request_id_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::uint64_t response_bytes_ = 0;
  grpc::Status final_;
  std::atomic<bool> cancelled_{false};
};

// What both task RPCs share: the watcher, the call record, the end as a gRPC status,
// cancellation and clean-up. `Base` is the gRPC reactor (a stream or a unary call).
template <typename Base>
class TaskReactor : public Base, public TaskEventSink {
 public:
  void OnCancel() override {
    record_->Cancelled();
    if (handle_ != nullptr) watchers_.Cancel(handle_);
  }
  void OnDone() override {
    record_->Done();
    delete this;
  }

 protected:
  TaskReactor(TaskWatchers& watchers, CallRecord* record) : watchers_(watchers), record_(record) {}
  // Call from the derived constructor: a rejected request ends the call at once.
  void Begin(absl::StatusOr<WatchSpec> spec) {
    if (!spec.ok()) {
      End(nullptr, spec.status());
      return;
    }
    handle_ = watchers_.Watch(*std::move(spec), this);
  }
  void FinishWith(const absl::Status& status) {
    const grpc::Status final = ToGrpcStatus(status);
    record_->Finishing(final);
    this->Finish(final);
  }

  TaskWatchers& watchers_;
  std::unique_ptr<CallRecord> record_;
  TaskWatchers::Handle handle_ = nullptr;
};

// WatchTask: one stream, one watcher. Events are written one at a time; TaskWatchers waits
// for OnWriteDone before the next and calls End() once nothing is in flight.
class WatchReactor final : public TaskReactor<grpc::ServerWriteReactor<TaskEvent>> {
 public:
  WatchReactor(TaskWatchers& watchers, CallRecord* record, absl::StatusOr<WatchSpec> spec)
      : TaskReactor(watchers, record) {
    Begin(std::move(spec));
  }

  void SendEvent(const TaskEvent& event) override {
    event_ = event;
    record_->Sent(event_.ByteSizeLong());
    StartWrite(&event_);
  }
  void End(const TaskEvent*, const absl::Status& status) override { FinishWith(status); }
  void OnWriteDone(bool ok) override { watchers_.WriteDone(handle_, ok); }

 private:
  TaskEvent event_;
};

// WaitTask: a watcher that only hears the end.
class WaitReactor final : public TaskReactor<grpc::ServerUnaryReactor> {
 public:
  WaitReactor(TaskWatchers& watchers, CallRecord* record, absl::StatusOr<WatchSpec> spec,
              TaskEvent* response)
      : TaskReactor(watchers, record), response_(response) {
    if (spec.ok()) spec->unary = true;
    Begin(std::move(spec));
  }

  void SendEvent(const TaskEvent&) override {}
  void End(const TaskEvent* last, const absl::Status& status) override {
    if (status.ok() && last != nullptr) {
      *response_ = *last;
      record_->Sent(response_->ByteSizeLong());
    }
    FinishWith(status);
  }

 private:
  TaskEvent* response_;
};

}  // namespace

absl::StatusOr<WatchSpec> MakeWatchSpec(const WatchTaskRequest& request,
                                        const grpc::CallbackServerContext& ctx,
                                        const Backend& backend) {
  const char* field = "";
  return BuildSpec(request, ctx, backend, &field);
}

namespace {

// The spec, or the status that rejects the request (naming the field).
absl::StatusOr<WatchSpec> Validate(const WatchTaskRequest& request,
                                   const grpc::CallbackServerContext& ctx, const Backend& backend,
                                   const BearerTokens& tokens) {
  if (!tokens.AdmitsCall(ctx.client_metadata())) {
    return absl::UnauthenticatedError(
        "missing or unknown bearer token (metadata authorization: Bearer ...)");
  }
  const char* field = "";
  absl::StatusOr<WatchSpec> spec = BuildSpec(request, ctx, backend, &field);
  if (!spec.ok()) return WithField(spec.status(), field);
  return spec;
}

}  // namespace

grpc::ServerWriteReactor<TaskEvent>* TasksService::WatchTask(grpc::CallbackServerContext* ctx,
                                                             const WatchTaskRequest* request) {
  auto* record =
      new CallRecord(ctx, watchers_, metrics_, kWatchTaskMethod, request->ByteSizeLong());
  absl::StatusOr<WatchSpec> spec = Validate(*request, *ctx, backend_, tokens_);
  if (spec.ok()) spec->request_id = record->request_id();
  return new WatchReactor(watchers_, record, std::move(spec));
}

grpc::ServerUnaryReactor* TasksService::WaitTask(grpc::CallbackServerContext* ctx,
                                                 const WaitTaskRequest* request,
                                                 TaskEvent* response) {
  auto* record = new CallRecord(ctx, watchers_, metrics_, kWaitTaskMethod, request->ByteSizeLong());
  absl::StatusOr<WatchSpec> spec = Validate(AsWatch(*request), *ctx, backend_, tokens_);
  if (spec.ok()) spec->request_id = record->request_id();
  return new WaitReactor(watchers_, record, std::move(spec), response);
}

}  // namespace pvegw::gateway
