// The transcoder's decoding of Proxmox answers (JSON from the network) against the full
// descriptor set: 2 bytes pick the method, 1 byte the HTTP status (mostly 200), the rest is
// the body. Every answer decodes losslessly or is a clear status, never a crash.
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
  if (size < 3) return 0;
  const World& w = TheWorld();
  const auto& ops = w.api->operations();
  const pvegw::api::ApiOperation& op = *ops[(data[0] | (data[1] << 8)) % ops.size()];
  pvegw::RestResponse response;
  static const int kStatuses[] = {200, 200, 200, 200, 400, 500, 501, 596};
  response.status = kStatuses[data[2] % std::size(kStatuses)];
  response.body.assign(reinterpret_cast<const char*>(data) + 3, size - 3);
  std::unique_ptr<google::protobuf::Message> out(
      w.factory->GetPrototype(op.method->output_type())->New());
  (void)w.transcoder->Decode(op, response, out.get());
  return 0;
}
