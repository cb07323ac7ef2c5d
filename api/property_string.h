// Proxmox property strings ("virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1"): their
// format objects (the `property_format` field option) and the checks Proxmox's
// PVE::JSONSchema::parse_property_string applies to them, with its wording.
#ifndef PVEGW_API_PROPERTY_STRING_H_
#define PVEGW_API_PROPERTY_STRING_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pvegw::api {

// One key of a property-string format.
struct PropertyKey {
  std::string type;  // "string", "integer", "number", "boolean"; empty for pure aliases
  bool optional = false;
  bool default_key = false;  // the key a value without "key=" belongs to
  std::string alias;         // "e1000=MAC" stores under "macaddr" ...
  std::string key_alias;     // ... and the key itself ("e1000") under "model"
  std::vector<std::string> enum_values;
  std::string format;   // a named string format ("mac-addr", "pve-volume-id", ...)
  std::string pattern;  // Perl regex, anchored
  std::optional<double> minimum;
  std::optional<double> maximum;
  std::optional<std::size_t> min_length;
  std::optional<std::size_t> max_length;
  std::string requires_key;                  // this key needs that one too
  std::optional<std::string> default_value;  // as text
};

// A format object: the keys a property string may have.
struct PropertyFormat {
  std::map<std::string, PropertyKey> keys;
  std::string default_key;  // empty when values need their key
};

// Parses the canonical JSON of a `property_format` option. Parsed formats are cached by
// their text, so calling this per request is cheap. INVALID_ARGUMENT for text that is not
// a format object.
absl::StatusOr<std::shared_ptr<const PropertyFormat>> ParsePropertyFormat(absl::string_view json);

// Splits `value` as parse_property_string does (parts on ',', "key=value" or the default
// key's bare value, aliases resolved) without checking the values: the key/value map, or
// INVALID_ARGUMENT with Proxmox's text ("invalid key in comma-separated list property: x").
// With `unknown`, keys the format does not list go there instead of being an error (answers
// of a newer Proxmox).
absl::StatusOr<std::map<std::string, std::string>> SplitPropertyString(
    const PropertyFormat& format, absl::string_view value,
    std::map<std::string, std::string>* unknown = nullptr);

// Checks `value` of parameter `param` ("net0") against `format` like Proxmox; nullopt when
// it is fine, else the text Proxmox reports for the parameter, e.g.
// "invalid format - format error\nnet0.model: value 'x' does not have a value in the
// enumeration 'e1000, virtio'\n".
std::optional<std::string> CheckPropertyString(const PropertyFormat& format,
                                               absl::string_view value, absl::string_view param);

// What Proxmox's validator of the named string format `format` dies with for `value`
// ("value does not look like a valid unicast MAC address"), or nullopt when the value
// conforms. Formats without a known validator accept anything; "-list" formats check each
// element of the list and "-opt" formats accept the empty string.
std::optional<std::string> FormatError(absl::string_view format, absl::string_view value);

}  // namespace pvegw::api

#endif  // PVEGW_API_PROPERTY_STRING_H_
