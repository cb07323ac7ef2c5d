// Request message -> Proxmox REST call, and Proxmox JSON -> response message (DESIGN.md §2).
#ifndef PVEGW_GATEWAY_TRANSCODER_H_
#define PVEGW_GATEWAY_TRANSCODER_H_

#include <google/protobuf/message.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "api/api_index.h"
#include "api/typed_property.h"
#include "common/rest_call.h"

namespace pvegw::gateway {

struct TranscoderOptions {
  // A value Proxmox sent that its typed field cannot hold fails the whole call with INTERNAL
  // naming the field, instead of being kept under its Proxmox key in additional_properties.
  bool strict_decoding = false;
  // Answers fill the typed companion of each property string (net_typed beside net). Off:
  // only the raw strings, as before typed companions existed (what gateway_bench compares
  // the typed decode against).
  bool fill_typed_companions = true;
};

// How often one field's value had to be kept in additional_properties because its typed
// field could not hold it (a host name in a boolean, "N/A" in an integer).
struct DecodeFallbackCount {
  std::string method;  // full gRPC method, "proxmox.ve.v1.Nodes.GetNodesNodeCephMon"
  std::string field;   // full field name, "proxmox.ve.v1.GetNodesNodeCephMonResponse.DataItem.host"
  std::uint64_t count = 0;
};

// The same code in mock and real mode. Thread-safe after construction.
class Transcoder {
 public:
  explicit Transcoder(const api::ApiIndex& api, TranscoderOptions options = {});

  // Builds the REST call: path parameters substituted and percent-escaped, the other set
  // fields as parameters (booleans 0/1, indexed maps as net0, net1, ..., repeated fields
  // once per element); unset fields are never sent. Validates first, like Proxmox: missing
  // required parameters and values outside enum/min/max/length/pattern/format give
  // INVALID_ARGUMENT carrying every violation by Proxmox name (FieldViolationsOf; the
  // client receives them as a google.rpc.BadRequest). A typed companion (net_typed) is
  // printed as Proxmox prints property strings and sent as its raw field, then validated the
  // same way; setting both is INVALID_ARGUMENT naming the companion. Parameters above
  // pveproxy's 512 KiB body limit are INVALID_ARGUMENT before any validation.
  absl::Status Encode(const api::ApiOperation& op, const google::protobuf::Message& request,
                      RestRequest* out) const;

  // Fills `out` (the RPC's Response message) from Proxmox's answer, losing nothing
  // (DESIGN.md §3). Non-200 answers map through StatusFromRest. What is safely convertible
  // is converted: integers, numbers and booleans sent as strings, booleans as 0/1, lists as
  // "a,b,c", and null or "" (in a non-string field) leave the field unset. Keys the schema
  // does not list (the envelope's `total` too) and values a typed field cannot hold go, under
  // their Proxmox key, into the additional_properties Struct of the object they were in;
  // the latter are counted per method and field (DecodeFallbacks) and logged once per field
  // at debug level. With strict_decoding such a value is INTERNAL naming the field instead.
  // Property strings also fill their typed companion (net_typed beside net); a value that
  // does not parse leaves the companion entry unset and counts as a fallback of the
  // companion field (INTERNAL with strict_decoding).
  // A body that is not a JSON object is INTERNAL.
  absl::Status Decode(const api::ApiOperation& op, const RestResponse& response,
                      google::protobuf::Message* out) const;

  // Every field that needed a fallback so far, sorted by method and field.
  std::vector<DecodeFallbackCount> DecodeFallbacks() const;
  // Keys the schema does not list, kept in additional_properties.
  std::uint64_t unlisted_keys_kept() const { return unlisted_.load(std::memory_order_relaxed); }
  // Keys dropped because their message has no additional_properties field (a descriptor set
  // generated before lossless decoding).
  std::uint64_t unknown_fields_ignored() const { return unknown_.load(std::memory_order_relaxed); }
  const TranscoderOptions& options() const { return options_; }

 private:
  // A property-string field and its typed companion (net and net_typed, DESIGN.md §11).
  struct Companion {
    const google::protobuf::FieldDescriptor* raw = nullptr;
    const google::protobuf::FieldDescriptor* typed = nullptr;
    std::shared_ptr<const api::TypedProperty> property;
  };
  struct FieldIndex {
    absl::flat_hash_map<std::string, const google::protobuf::FieldDescriptor*> by_wire;
    std::vector<std::pair<std::string, const google::protobuf::FieldDescriptor*>> indexed;
    const google::protobuf::FieldDescriptor* additional = nullptr;
    std::vector<Companion> companions;
    std::vector<const google::protobuf::FieldDescriptor*> companion_raws;  // companions[i].raw
  };
  void IndexMessage(const google::protobuf::Descriptor* message);
  const FieldIndex* IndexOf(const google::protobuf::Descriptor* message) const;
  // Counts a fallback; true the first time for this method and field (log it then).
  bool CountFallback(const google::protobuf::MethodDescriptor* method,
                     const google::protobuf::FieldDescriptor* field) const;

  TranscoderOptions options_;
  absl::flat_hash_map<const google::protobuf::Descriptor*, FieldIndex> index_;
  mutable std::atomic<std::uint64_t> unknown_{0};
  mutable std::atomic<std::uint64_t> unlisted_{0};
  // Bounded by the schema: one entry per (method, field) that ever needed a fallback.
  mutable absl::Mutex fallback_mu_;
  mutable absl::flat_hash_map<std::pair<const google::protobuf::MethodDescriptor*,
                                        const google::protobuf::FieldDescriptor*>,
                              std::uint64_t>
      fallbacks_ ABSL_GUARDED_BY(fallback_mu_);

  friend class JsonReader;
};

// Percent-escapes one path segment (everything but A-Z a-z 0-9 - . _ ~).
std::string EscapePathSegment(absl::string_view segment);

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_TRANSCODER_H_
