#include "gateway/reflection_service.h"

#include <google/protobuf/descriptor.pb.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace pvegw::gateway {
namespace {

constexpr int kNotFound = 5;  // grpc::StatusCode::NOT_FOUND, as the protocol carries it

// One implementation for both protocol versions: their messages have the same fields.
template <typename Request, typename Response>
class ReflectionReactor : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit ReflectionReactor(ReflectionData& data) : data_(data) { this->StartRead(&request_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side: the conversation is over
      this->Finish(grpc::Status::OK);
      return;
    }
    response_.Clear();
    Answer();
    this->StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "reflection stream broken"));
      return;
    }
    request_.Clear();
    this->StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  void Files(const google::protobuf::FileDescriptor* file) {
    for (std::string& bytes : data_.FileWithDependencies(file)) {
      response_.mutable_file_descriptor_response()->add_file_descriptor_proto(std::move(bytes));
    }
  }
  void NotFound(const std::string& what) {
    response_.mutable_error_response()->set_error_code(kNotFound);
    response_.mutable_error_response()->set_error_message(what);
  }

  void Answer() {
    response_.set_valid_host(request_.host());
    *response_.mutable_original_request() = request_;
    const google::protobuf::DescriptorPool* pool = data_.pool();
    switch (request_.message_request_case()) {
      case Request::kListServices:
        for (const std::string& name : data_.services()) {
          response_.mutable_list_services_response()->add_service()->set_name(name);
        }
        return;
      case Request::kFileByFilename: {
        const auto* file = pool->FindFileByName(request_.file_by_filename());
        if (file == nullptr)
          return NotFound(absl::StrCat("file not found: ", request_.file_by_filename()));
        return Files(file);
      }
      case Request::kFileContainingSymbol: {
        const auto* file = pool->FindFileContainingSymbol(request_.file_containing_symbol());
        if (file == nullptr)
          return NotFound(absl::StrCat("symbol not found: ", request_.file_containing_symbol()));
        return Files(file);
      }
      case Request::kFileContainingExtension: {
        const auto& ext = request_.file_containing_extension();
        const auto* type = pool->FindMessageTypeByName(ext.containing_type());
        const auto* field =
            type == nullptr ? nullptr : pool->FindExtensionByNumber(type, ext.extension_number());
        if (field == nullptr) {
          return NotFound(absl::StrCat("extension not found: ", ext.containing_type(), " ",
                                       ext.extension_number()));
        }
        return Files(field->file());
      }
      case Request::kAllExtensionNumbersOfType: {
        const auto* type = pool->FindMessageTypeByName(request_.all_extension_numbers_of_type());
        if (type == nullptr) {
          return NotFound(
              absl::StrCat("type not found: ", request_.all_extension_numbers_of_type()));
        }
        std::vector<const google::protobuf::FieldDescriptor*> extensions;
        pool->FindAllExtensions(type, &extensions);
        auto* out = response_.mutable_all_extension_numbers_response();
        out->set_base_type_name(type->full_name());
        for (const auto* e : extensions) out->add_extension_number(e->number());
        return;
      }
      default:
        response_.mutable_error_response()->set_error_code(3);  // INVALID_ARGUMENT
        response_.mutable_error_response()->set_error_message("unsupported reflection request");
        return;
    }
  }

  ReflectionData& data_;
  Request request_;
  Response response_;
};

}  // namespace

ReflectionData::ReflectionData(const google::protobuf::DescriptorPool* pool,
                               std::vector<std::string> services, absl::string_view annotated_set)
    : pool_(pool), services_(std::move(services)), annotated_set_(annotated_set) {}

const std::string& ReflectionData::Serialized(const google::protobuf::FileDescriptor* file) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!annotated_parsed_) {
    annotated_parsed_ = true;
    google::protobuf::FileDescriptorSet set;
    if (set.ParseFromArray(annotated_set_.data(), static_cast<int>(annotated_set_.size()))) {
      for (const auto& f : set.file()) annotated_[f.name()] = f.SerializeAsString();
    }
  }
  if (auto it = annotated_.find(file->name()); it != annotated_.end()) return it->second;
  auto it = serialized_.find(file);
  if (it != serialized_.end()) return it->second;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  file->CopySourceCodeInfoTo(&proto);  // comments, so `grpcurl describe` shows them
  return serialized_.emplace(file, proto.SerializeAsString()).first->second;
}

std::vector<std::string> ReflectionData::FileWithDependencies(
    const google::protobuf::FileDescriptor* file) {
  std::vector<std::string> out;
  absl::flat_hash_set<const google::protobuf::FileDescriptor*> seen;
  std::vector<const google::protobuf::FileDescriptor*> order;
  std::function<void(const google::protobuf::FileDescriptor*)> visit = [&](const auto* f) {
    if (!seen.insert(f).second) return;
    for (int i = 0; i < f->dependency_count(); ++i) visit(f->dependency(i));
    order.push_back(f);
  };
  visit(file);
  // The requested file first (grpcurl expects it), then its dependencies.
  out.push_back(Serialized(file));
  for (const auto* f : order) {
    if (f != file) out.push_back(Serialized(f));
  }
  return out;
}

grpc::ServerBidiReactor<grpc::reflection::v1::ServerReflectionRequest,
                        grpc::reflection::v1::ServerReflectionResponse>*
ReflectionV1Service::ServerReflectionInfo(grpc::CallbackServerContext*) {
  return new ReflectionReactor<grpc::reflection::v1::ServerReflectionRequest,
                               grpc::reflection::v1::ServerReflectionResponse>(data_);
}

grpc::ServerBidiReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                        grpc::reflection::v1alpha::ServerReflectionResponse>*
ReflectionV1AlphaService::ServerReflectionInfo(grpc::CallbackServerContext*) {
  return new ReflectionReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                               grpc::reflection::v1alpha::ServerReflectionResponse>(data_);
}

}  // namespace pvegw::gateway
