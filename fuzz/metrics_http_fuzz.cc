// The /metrics endpoint's request handling (Beast's parser and the routing): any bytes get
// an HTTP answer with a status, never a crash.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/metrics_server.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string request(reinterpret_cast<const char*>(data), size);
  for (bool complete : {true, false}) {
    const pvegw::metrics::HttpAnswer a =
        pvegw::metrics::AnswerRequest(request, complete, [] { return std::string("x 1\n"); });
    if (a.status < 200 || a.status > 599 || a.reason.empty()) std::abort();
  }
  return 0;
}
