// Property strings as generated messages (DESIGN.md §11): "virtio=BC:24:11:2A:7E:01,bridge=vmbr0"
// <-> QemuNet{model: "virtio", macaddr: "BC:24:11:2A:7E:01", bridge: "vmbr0"}, both ways,
// with Proxmox's aliases, default key and printing order, and nothing lost.
#ifndef PVEGW_API_TYPED_PROPERTY_H_
#define PVEGW_API_TYPED_PROPERTY_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/property_string.h"

namespace pvegw::api {

// One generated property-string message bound to its format: each key of the format to
// the field named after it (json_name is the Proxmox key), and the map that keeps keys the
// format does not list. Immutable once bound; cheap to use from any thread.
class TypedProperty {
 public:
  // `message` is the generated message (FieldRules.other_keys marks its unknown-keys map);
  // `format_json` the canonical JSON of the raw field's property_format option.
  // INVALID_ARGUMENT when the format text is not a format object or the message is not
  // shaped like one (a field that is not a scalar).
  static absl::StatusOr<std::shared_ptr<const TypedProperty>> Bind(
      const google::protobuf::Descriptor* message, absl::string_view format_json);

  // Fills `out` (of message()) from a property string, the way Proxmox's
  // parse_property_string reads it: parts on ',', the default key's bare value, "e1000=MAC"
  // into model and macaddr, booleans as 1/0/on/off/yes/no/true/false. Keys the format does
  // not list go into the unknown-keys map. `out` must be empty. INVALID_ARGUMENT (Proxmox's
  // wording where it has one) when the string does not split or a value does not fit its
  // field's type; `out` is then left in an unspecified state.
  absl::Status Parse(absl::string_view value, google::protobuf::Message* out) const;

  // Prints `typed` as Proxmox's print_property_string does: the default key first without
  // "key=" (joined with its key alias, "virtio=MAC"), then the keys the format requires,
  // then the rest, each group sorted by key; booleans as 1/0; disk sizes as Proxmox writes
  // them ("32G"); unknown keys in the key order too. INVALID_ARGUMENT for a value with a
  // comma ("illegal value with commas for <key>", as Proxmox) or a key without '='-free name.
  absl::StatusOr<std::string> Print(const google::protobuf::Message& typed) const;

  const google::protobuf::Descriptor* message() const { return message_; }
  const PropertyFormat& format() const { return *format_; }

 private:
  TypedProperty() = default;

  std::shared_ptr<const PropertyFormat> format_;
  const google::protobuf::Descriptor* message_ = nullptr;
  // Key -> field. A format has a handful of keys: a linear scan comparing lengths first
  // beats hashing every key of every property string of every answer.
  std::vector<std::pair<std::string, const google::protobuf::FieldDescriptor*>> by_key_;
  const google::protobuf::FieldDescriptor* other_keys_ = nullptr;
  // keyAlias target -> alias target ("model" -> "macaddr"): printed as "virtio=MAC".
  std::map<std::string, std::string> key_alias_props_;
  // Alias keys ("virtio" -> {alias "macaddr", key_alias "model"}), for reading.
  struct Alias {
    std::string alias;
    std::string key_alias;
  };
  absl::flat_hash_map<std::string, Alias> aliases_;
};

// Proxmox's PVE::JSONSchema::format_size of parse_size: "32768M" -> "32G", "1.5G" ->
// "1536M", "8G" -> "8G". nullopt for text that is no size.
std::optional<std::string> CanonicalDiskSize(absl::string_view value);

}  // namespace pvegw::api

#endif  // PVEGW_API_TYPED_PROPERTY_H_
