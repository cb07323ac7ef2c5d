// The transcoder's request side: 2 bytes pick the method, the rest is parsed as that
// method's request message (protobuf wire format, as a gRPC client sends it) and encoded
// into a REST call: validated parameters or INVALID_ARGUMENT, never a crash.
#include <cstdint>
#include <memory>
#include <string>

#include "common/rest_call.h"
#include "fuzz/transcoder_world.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const pvegw::fuzz::TranscoderWorld& w = pvegw::fuzz::TheTranscoderWorld();
  const pvegw::api::ApiOperation& op = w.Pick(data);
  std::unique_ptr<google::protobuf::Message> request(
      w.factory->GetPrototype(op.method->input_type())->New());
  // A gRPC server hands over only messages that parse; those are what Encode sees.
  if (!request->ParseFromArray(data + 2, static_cast<int>(size - 2))) return 0;
  pvegw::RestRequest out;
  (void)w.transcoder->Encode(op, *request, &out);
  return 0;
}
