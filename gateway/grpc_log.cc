#include "gateway/grpc_log.h"

#include <grpc/support/log.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace pvegw::gateway {
namespace {

// gRPC core's own messages (it logs errors to stderr in a format of its own) go through
// the same logger, so a JSON log stays one object per line.
void ForwardGrpcLog(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::err;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = spdlog::level::debug;
  if (args->severity == GPR_LOG_SEVERITY_INFO) level = spdlog::level::info;
  log::Log(level, args->message != nullptr ? args->message : "",
           {{"source", "grpc"},
            {"file", absl::StrCat(args->file != nullptr ? args->file : "?", ":", args->line)}});
}

}  // namespace

void ForwardGrpcLogs() { gpr_set_log_function(ForwardGrpcLog); }

}  // namespace pvegw::gateway
