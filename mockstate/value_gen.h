// Deterministic, plausible Proxmox data shaped by the response descriptors.
#ifndef PVEGW_MOCKSTATE_VALUE_GEN_H_
#define PVEGW_MOCKSTATE_VALUE_GEN_H_

#include <google/protobuf/descriptor.h>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace pvegw::mockstate {

// Proxmox field names, hashed: looked up for every field of every answer.
using NameSet = absl::flat_hash_set<std::string>;

// FNV-1a with a final mix: the same value in every process, build and run, so generated
// data is stable for a path everywhere.
std::uint64_t StableHash(absl::string_view s);

// How to fill a message: values by Proxmox name from `props`; a field listed in `settable`
// but absent from props is left out (Proxmox omits unset config keys); anything else is
// generated from the seed so that it is stable and plausible by name and format.
struct ShapeOptions {
  const boost::json::object* props = nullptr;
  const NameSet* settable = nullptr;
  // false: emit only what `props` holds (a guest's config is exactly what was set, even
  // where the schema calls a key required).
  bool generate = true;
  std::vector<std::string> node_names = {"pve1", "pve2"};
};

// The JSON value of Response.data for `seed` (usually the concrete path).
boost::json::value ShapeData(const google::protobuf::FieldDescriptor* data, absl::string_view seed,
                             const ShapeOptions& options);

// One object of message type `message`.
boost::json::object ShapeObject(const google::protobuf::Descriptor* message, absl::string_view seed,
                                const ShapeOptions& options);

// A generated value for one field (element value for repeated fields).
boost::json::value GenerateValue(const google::protobuf::FieldDescriptor* field,
                                 absl::string_view seed, const ShapeOptions& options, int depth);

// Proxmox names of all fields of `message` (a `settable` that admits only given values).
NameSet AllWireNames(const google::protobuf::Descriptor* message);

// `v` converted to the JSON kind Proxmox uses for `field` (numbers for integers, 0/1 for
// booleans, text for strings); unconvertible values are returned unchanged.
boost::json::value CoerceToField(const boost::json::value& v,
                                 const google::protobuf::FieldDescriptor* field);

}  // namespace pvegw::mockstate

#endif  // PVEGW_MOCKSTATE_VALUE_GEN_H_
