#include "gateway/grpc_status.h"

#include <string>
#include <vector>

#include "common/status_mapping.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace pvegw::gateway {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl's canonical codes are gRPC's, number for number.
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  const std::vector<FieldViolation> violations = FieldViolationsOf(status);
  if (violations.empty() || status.code() != absl::StatusCode::kInvalidArgument) {
    return grpc::Status(code, std::move(message));
  }
  google::rpc::BadRequest bad;
  for (const FieldViolation& v : violations) {
    auto* fv = bad.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(code));
  rich.set_message(message);
  rich.add_details()->PackFrom(bad);
  return grpc::Status(code, message, rich.SerializeAsString());
}

}  // namespace pvegw::gateway
