// Property-string formats the API schema only names ("format": "pve-qm-ipconfig"): Proxmox
// registers their keys in its Perl code (PVE::JSONSchema::register_format) and the schema
// dump prints the name, not the keys. pve-protogen carries them as built-in tables in the
// shape of the schema's inline formats, so those fields get typed companions like every
// other property string.
#ifndef PVEGW_CODEGEN_NAMED_FORMATS_H_
#define PVEGW_CODEGEN_NAMED_FORMATS_H_

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace pvegw::codegen {

// The key hash of a named property-string format (PVE shape: {key: {type, optional,
// default_key, ...}}), or nullptr when `name` is no format this table models (a plain
// scalar format such as pve-storage-id, or a property string not modelled yet).
const boost::json::object* NamedPropertyFormat(absl::string_view name);

// The message name the table gives the format whose canonical JSON (CanonicalJson of the
// key hash) is `canonical_json` ("CloudInitIpConfig"), or "" for any other format.
std::string NamedFormatMessage(absl::string_view canonical_json);

// Every format name the table models, sorted.
std::vector<std::string> NamedPropertyFormatNames();

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_NAMED_FORMATS_H_
