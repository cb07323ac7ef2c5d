// proxmox.gateway.v1.Tasks: WatchTask / WaitTask over gRPC, fed by TaskWatchers.
#ifndef PVEGW_GATEWAY_TASKS_SERVICE_H_
#define PVEGW_GATEWAY_TASKS_SERVICE_H_

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "gateway/api_service.h"
#include "gateway/backend/backend.h"
#include "gateway/call_metrics.h"
#include "gateway/task_watchers.h"
#include "proxmox/gateway/v1/tasks.grpc.pb.h"

namespace pvegw::gateway {

// Turns a request into a WatchSpec: INVALID_ARGUMENT naming the part of a malformed UPID, a
// bad node, a negative log_start or duration; the call's deadline (less a margin so the last
// status still reaches the client) and `timeout` become one monotonic deadline.
absl::StatusOr<WatchSpec> MakeWatchSpec(const proxmox::gateway::v1::WatchTaskRequest& request,
                                        const grpc::CallbackServerContext& ctx,
                                        const Backend& backend);

inline constexpr char kWatchTaskMethod[] = "/proxmox.gateway.v1.Tasks/WatchTask";
inline constexpr char kWaitTaskMethod[] = "/proxmox.gateway.v1.Tasks/WaitTask";

// Every call is one watcher of TaskWatchers; no thread waits for a task. Each call answers
// and logs its request id and is counted in `metrics` (if given) under its method, as the
// generated API's calls are.
class TasksService final : public proxmox::gateway::v1::Tasks::CallbackService {
 public:
  // `tokens`: the listener's bearer tokens (--auth_tokens_file), checked as for every RPC.
  // `metrics` must know kWatchTaskMethod and kWaitTaskMethod as own methods.
  TasksService(TaskWatchers& watchers, const Backend& backend, const BearerTokens& tokens,
               CallMetrics* metrics = nullptr)
      : watchers_(watchers), backend_(backend), tokens_(tokens), metrics_(metrics) {}

  grpc::ServerWriteReactor<proxmox::gateway::v1::TaskEvent>* WatchTask(
      grpc::CallbackServerContext* ctx,
      const proxmox::gateway::v1::WatchTaskRequest* request) override;
  grpc::ServerUnaryReactor* WaitTask(grpc::CallbackServerContext* ctx,
                                     const proxmox::gateway::v1::WaitTaskRequest* request,
                                     proxmox::gateway::v1::TaskEvent* response) override;

 private:
  TaskWatchers& watchers_;
  const Backend& backend_;
  const BearerTokens& tokens_;
  CallMetrics* const metrics_;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_TASKS_SERVICE_H_
