// The Proxmox API descriptor sets compiled into the binaries (pve-gateway, pve-mock), so
// neither needs files at run time.
#ifndef PVEGW_API_EMBEDDED_DESCRIPTORS_H_
#define PVEGW_API_EMBEDDED_DESCRIPTORS_H_

#include "absl/strings/string_view.h"

namespace pvegw::api {

// build/share/pve-api.desc: with comments (source info), for reflection.
absl::string_view EmbeddedDescriptorSet();
// pve-api.lean.desc: without comments, parsed at start-up.
absl::string_view EmbeddedLeanDescriptorSet();

}  // namespace pvegw::api

#endif  // PVEGW_API_EMBEDDED_DESCRIPTORS_H_
