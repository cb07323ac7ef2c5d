// Proxmox-style parameter validation against the schema facts in the descriptors.
#ifndef PVEGW_API_PARAM_VALIDATOR_H_
#define PVEGW_API_PARAM_VALIDATOR_H_

#include <boost/json/object.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/api_index.h"
#include "common/bool_text.h"
#include "common/rest_call.h"

namespace pvegw::api {

struct ParamViolation {
  std::string param;    // Proxmox name ("vmid", "net0")
  std::string message;  // Proxmox's wording ("value must have a minimum value of 100")
};

struct ValidatedParams {
  // Typed values by Proxmox name: integers and numbers as JSON numbers, booleans as 0/1
  // (Proxmox's spelling), arrays for repeated parameters, indexed ones as "net0".
  boost::json::object values;
  std::vector<ParamViolation> violations;
  bool ok() const { return violations.empty(); }
};

// Checks what Proxmox's JSONSchema checks: unknown parameters, missing required ones,
// types, enum values, minimum/maximum, min/max length, regex patterns, named formats and
// property strings against their format objects (api/property_string.h). Path parameters
// are validated like the others. Every violation is reported, not just the first.
ValidatedParams ValidateParams(const ApiOperation& op, const RestParams& params,
                               const std::vector<std::pair<std::string, std::string>>& path_params);

// True when `value` matches a Proxmox (Perl) pattern, anchored at both ends. Patterns
// that cannot be compiled, or that explode on the input, do not reject the value.
bool MatchesProxmoxPattern(const std::string& pattern, const std::string& value);

// True when `value` satisfies the named Proxmox format `format` (pve-userid, mac-addr, ...;
// see FormatError in api/property_string.h); unknown formats are satisfied by anything.
bool ConformsToFormat(const std::string& format, const std::string& value);

}  // namespace pvegw::api

#endif  // PVEGW_API_PARAM_VALIDATOR_H_
