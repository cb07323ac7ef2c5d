// The full API (embedded descriptor set), a Transcoder and a message factory, built once per
// fuzz process; shared by the transcoder's decode and request targets.
#ifndef PVEGW_FUZZ_TRANSCODER_WORLD_H_
#define PVEGW_FUZZ_TRANSCODER_WORLD_H_

#include <google/protobuf/dynamic_message.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "api/api_index.h"
#include "api/embedded_descriptors.h"
#include "gateway/transcoder.h"

namespace pvegw::fuzz {

struct TranscoderWorld {
  std::unique_ptr<api::ApiIndex> api;
  std::unique_ptr<gateway::Transcoder> transcoder;
  std::unique_ptr<google::protobuf::DynamicMessageFactory> factory;

  // The operation two input bytes pick.
  const api::ApiOperation& Pick(const std::uint8_t* data) const {
    const auto& ops = api->operations();
    return *ops[(data[0] | (data[1] << 8)) % ops.size()];
  }
};

inline const TranscoderWorld& TheTranscoderWorld() {
  static const TranscoderWorld* world = [] {
    auto* w = new TranscoderWorld;
    auto api = api::ApiIndex::FromDescriptorSet(api::EmbeddedDescriptorSet());
    if (!api.ok() || (*api)->operations().empty()) std::abort();
    w->api = std::move(*api);
    w->transcoder = std::make_unique<gateway::Transcoder>(*w->api);
    w->factory = std::make_unique<google::protobuf::DynamicMessageFactory>();
    return w;
  }();
  return *world;
}

}  // namespace pvegw::fuzz

#endif  // PVEGW_FUZZ_TRANSCODER_WORLD_H_
