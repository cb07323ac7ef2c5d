#include "gateway/grpc_status.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_mapping.h"
#include "common/utf8.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace pvegw::gateway {
namespace {

// The message and the details travel in trailers (grpc-message, grpc-status-details-bin),
// which gRPC clients refuse above 8 KiB by default (GRPC_ARG_MAX_METADATA_SIZE): a request
// with 100,000 bad parameters would reach its client as "received initial metadata size
// exceeds limit" instead of its INVALID_ARGUMENT. Both are cut to these budgets, saying so.
constexpr std::size_t kMaxMessageBytes = 1024;
constexpr std::size_t kMaxDetailsBytes = 2048;
constexpr std::size_t kMaxViolationTextBytes = 256;

std::string BoundedMessage(std::string message) {
  if (message.size() <= kMaxMessageBytes) return message;
  const std::size_t total = message.size();
  return absl::StrCat(CutUtf8(message, kMaxMessageBytes), " ... (cut: ", total, " bytes in all)");
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl's canonical codes are gRPC's, number for number.
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message = BoundedMessage(std::string(status.message()));
  const std::vector<FieldViolation> violations = FieldViolationsOf(status);
  if (violations.empty() || status.code() != absl::StatusCode::kInvalidArgument) {
    return grpc::Status(code, std::move(message));
  }
  google::rpc::BadRequest bad;
  std::size_t kept = 0;
  for (const FieldViolation& v : violations) {
    google::rpc::BadRequest::FieldViolation fv;
    fv.set_field(CutUtf8(v.field, kMaxViolationTextBytes));
    fv.set_description(CutUtf8(v.description, kMaxViolationTextBytes));
    if (bad.ByteSizeLong() + fv.ByteSizeLong() + 8 > kMaxDetailsBytes) break;
    *bad.add_field_violations() = std::move(fv);
    ++kept;
  }
  if (kept < violations.size()) {
    absl::StrAppend(&message, " (details name ", kept, " of ", violations.size(),
                    " invalid parameters)");
  }
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(code));
  rich.set_message(message);
  rich.add_details()->PackFrom(bad);
  return grpc::Status(code, message, rich.SerializeAsString());
}

}  // namespace pvegw::gateway
