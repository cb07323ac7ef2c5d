#include "api/embedded_descriptors.h"

#include <cstddef>

extern "C" {
extern const char pvegw_embedded_descriptors[];
extern const char pvegw_embedded_descriptors_end[];
extern const char pvegw_embedded_lean_descriptors[];
extern const char pvegw_embedded_lean_descriptors_end[];
}

namespace pvegw::api {

absl::string_view EmbeddedDescriptorSet() {
  return absl::string_view(
      pvegw_embedded_descriptors,
      static_cast<std::size_t>(pvegw_embedded_descriptors_end - pvegw_embedded_descriptors));
}

absl::string_view EmbeddedLeanDescriptorSet() {
  return absl::string_view(pvegw_embedded_lean_descriptors,
                           static_cast<std::size_t>(pvegw_embedded_lean_descriptors_end -
                                                    pvegw_embedded_lean_descriptors));
}

}  // namespace pvegw::api
