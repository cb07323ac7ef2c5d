// The transcoder's decoding of Proxmox answers (JSON from the network) against the full
// descriptor set: 2 bytes pick the method, 1 byte the HTTP status (mostly 200), the rest is
// the body. Every answer decodes losslessly or is a clear status, never a crash.
#include <cstdint>
#include <memory>
#include <string>

#include "common/rest_call.h"
#include "fuzz/transcoder_world.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const pvegw::fuzz::TranscoderWorld& w = pvegw::fuzz::TheTranscoderWorld();
  const pvegw::api::ApiOperation& op = w.Pick(data);
  pvegw::RestResponse response;
  static const int kStatuses[] = {200, 200, 200, 200, 400, 500, 501, 596};
  response.status = kStatuses[data[2] % std::size(kStatuses)];
  response.body.assign(reinterpret_cast<const char*>(data) + 3, size - 3);
  std::unique_ptr<google::protobuf::Message> out(
      w.factory->GetPrototype(op.method->output_type())->New());
  (void)w.transcoder->Decode(op, response, out.get());
  return 0;
}
