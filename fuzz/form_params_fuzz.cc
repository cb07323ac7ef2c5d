// pve-mock's request parameters as pveproxy splits them (form bodies and query strings),
// and its --fault rules: any text is parameters or a clear error.
#include <cstdint>
#include <string>

#include "pvemock/rest_frontend.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)pvegw::pvemock::DecodeFormParams(text);
  (void)pvegw::pvemock::ParseFaultRule(text);
  return 0;
}
