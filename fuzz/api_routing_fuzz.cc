// ApiIndex routing over the full API (the descriptor set built into the binaries): any
// verb and path, as pve-mock receives them and mock data names them, is a route or a clear
// NOT_FOUND / UNIMPLEMENTED. Input: 1 byte picks the verb, the rest is the path.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "api/api_index.h"
#include "api/embedded_descriptors.h"

namespace {

const pvegw::api::ApiIndex& Api() {
  static const pvegw::api::ApiIndex* api = [] {
    auto built = pvegw::api::ApiIndex::FromDescriptorSet(pvegw::api::EmbeddedDescriptorSet());
    if (!built.ok()) std::abort();
    return built->release();
  }();
  return *api;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const char* const kVerbs[] = {"GET", "POST", "PUT", "DELETE", "PATCH", ""};
  const char* verb = kVerbs[data[0] % std::size(kVerbs)];
  const std::string path(reinterpret_cast<const char*>(data) + 1, size - 1);
  const pvegw::api::ApiIndex& api = Api();
  auto route = api.Match(verb, path);
  if (route.ok()) {
    (void)api.Find(verb, route->template_path);
    (void)api.LiteralChildren(route->template_path);
    (void)api.ParamChild(route->template_path);
  }
  (void)api.HasPath(path);
  return 0;
}
