// Booleans as Proxmox and our configuration spell them: 1/true/yes/on and 0/false/no/off,
// any case, surrounding blanks ignored (PVE::JSONSchema's parse_boolean).
#ifndef PVEGW_COMMON_BOOL_TEXT_H_
#define PVEGW_COMMON_BOOL_TEXT_H_

#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace pvegw {

// nullopt for anything else.
inline std::optional<bool> ParseBool(absl::string_view text) {
  const std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return std::nullopt;
}

}  // namespace pvegw

#endif  // PVEGW_COMMON_BOOL_TEXT_H_
