// gRPC server reflection (v1alpha and v1) answered from the runtime descriptor pool.
#ifndef PVEGW_GATEWAY_REFLECTION_SERVICE_H_
#define PVEGW_GATEWAY_REFLECTION_SERVICE_H_

#include <google/protobuf/descriptor.h>

#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace pvegw::gateway {

// What both reflection versions serve: the service names and, per file, its serialized
// FileDescriptorProto (with comments). gRPC's own reflection plugin only knows compiled-in
// descriptors; the API here exists only at run time.
class ReflectionData {
 public:
  // `annotated_set`: a serialized FileDescriptorSet with source info for the files of
  // `pool` that came from it (parsed on the first request, not at start-up); files not in
  // it are described from the pool.
  ReflectionData(const google::protobuf::DescriptorPool* pool, std::vector<std::string> services,
                 absl::string_view annotated_set);
  const std::vector<std::string>& services() const { return services_; }
  const google::protobuf::DescriptorPool* pool() const { return pool_; }
  // `file` and everything it imports, transitively, dependencies first.
  std::vector<std::string> FileWithDependencies(const google::protobuf::FileDescriptor* file);

 private:
  const std::string& Serialized(const google::protobuf::FileDescriptor* file);
  const google::protobuf::DescriptorPool* pool_;
  std::vector<std::string> services_;
  absl::string_view annotated_set_;
  std::mutex mu_;
  bool annotated_parsed_ = false;
  absl::flat_hash_map<std::string, std::string> annotated_;  // file name -> bytes
  absl::flat_hash_map<const google::protobuf::FileDescriptor*, std::string> serialized_;
};

class ReflectionV1Service final : public grpc::reflection::v1::ServerReflection::CallbackService {
 public:
  explicit ReflectionV1Service(ReflectionData& data) : data_(data) {}
  grpc::ServerBidiReactor<grpc::reflection::v1::ServerReflectionRequest,
                          grpc::reflection::v1::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override;

 private:
  ReflectionData& data_;
};

class ReflectionV1AlphaService final
    : public grpc::reflection::v1alpha::ServerReflection::CallbackService {
 public:
  explicit ReflectionV1AlphaService(ReflectionData& data) : data_(data) {}
  grpc::ServerBidiReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                          grpc::reflection::v1alpha::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override;

 private:
  ReflectionData& data_;
};

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_REFLECTION_SERVICE_H_
