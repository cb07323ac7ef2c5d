// The transcoder's request side: 2 bytes pick the method, the rest is parsed as that
// method's request message (protobuf wire format, as a gRPC client sends it) and encoded
// into a REST call: validated parameters or INVALID_ARGUMENT, never a crash.
#include <google/protobuf/dynamic_message.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "api/api_index.h"
#include "api/embedded_descriptors.h"
#include "common/rest_call.h"
#include "gateway/transcoder.h"

namespace {

struct World {
  std::unique_ptr<pvegw::api::ApiIndex> api;
  std::unique_ptr<pvegw::gateway::Transcoder> transcoder;
  std::unique_ptr<google::protobuf::DynamicMessageFactory> factory;
};

const World& TheWorld() {
  static const World* world = [] {
    auto* w = new World;
    auto api = pvegw::api::ApiIndex::FromDescriptorSet(pvegw::api::EmbeddedDescriptorSet());
    if (!api.ok() || (*api)->operations().empty()) std::abort();
    w->api = std::move(*api);
    w->transcoder = std::make_unique<pvegw::gateway::Transcoder>(*w->api);
    w->factory = std::make_unique<google::protobuf::DynamicMessageFactory>();
    return w;
  }();
  return *world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const World& w = TheWorld();
  const auto& ops = w.api->operations();
  const pvegw::api::ApiOperation& op = *ops[(data[0] | (data[1] << 8)) % ops.size()];
  std::unique_ptr<google::protobuf::Message> request(
      w.factory->GetPrototype(op.method->input_type())->New());
  // A gRPC server hands over only messages that parse; those are what Encode sees.
  if (!request->ParseFromArray(data + 2, static_cast<int>(size - 2))) return 0;
  pvegw::RestRequest out;
  (void)w.transcoder->Encode(op, *request, &out);
  return 0;
}
