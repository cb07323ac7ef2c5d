// Request message -> Proxmox REST call, and Proxmox JSON -> response message (DESIGN.md §2).
#ifndef PVEGW_GATEWAY_TRANSCODER_H_
#define PVEGW_GATEWAY_TRANSCODER_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "api/api_index.h"
#include "common/rest_call.h"

namespace pvegw::gateway {

// The same code in mock and real mode. Thread-safe after construction.
class Transcoder {
 public:
  explicit Transcoder(const api::ApiIndex& api);

  // Builds the REST call: path parameters substituted and percent-escaped, the other set
  // fields as parameters (booleans 0/1, indexed maps as net0, net1, ..., repeated fields
  // once per element); unset fields are never sent. Validates first, like Proxmox: missing
  // required parameters and values outside enum/min/max/length/pattern/format give
  // INVALID_ARGUMENT with a google.rpc.BadRequest naming every violation by Proxmox name.
  grpc::Status Encode(const api::ApiOperation& op, const google::protobuf::Message& request,
                      RestRequest* out) const;

  // Fills `out` (the RPC's Response message) from Proxmox's answer. Non-200 answers map
  // through StatusFromRest. Tolerates what Proxmox really sends: integers and booleans as
  // strings or 0/1, numbers as strings, nulls (unset), lists as comma-separated strings,
  // unknown keys (ignored and counted); a value that cannot be converted is INTERNAL
  // naming the field, never a silently wrong value.
  grpc::Status Decode(const api::ApiOperation& op, const RestResponse& response,
                      google::protobuf::Message* out) const;

  std::uint64_t unknown_fields_ignored() const { return unknown_.load(std::memory_order_relaxed); }

 private:
  struct FieldIndex {
    absl::flat_hash_map<std::string, const google::protobuf::FieldDescriptor*> by_wire;
    std::vector<std::pair<std::string, const google::protobuf::FieldDescriptor*>> indexed;
    const google::protobuf::FieldDescriptor* additional = nullptr;
  };
  void IndexMessage(const google::protobuf::Descriptor* message);
  const FieldIndex* IndexOf(const google::protobuf::Descriptor* message) const;

  absl::flat_hash_map<const google::protobuf::Descriptor*, FieldIndex> index_;
  mutable std::atomic<std::uint64_t> unknown_{0};

  friend class JsonReader;
};

// Percent-escapes one path segment (everything but A-Z a-z 0-9 - . _ ~).
std::string EscapePathSegment(absl::string_view segment);

}  // namespace pvegw::gateway

#endif  // PVEGW_GATEWAY_TRANSCODER_H_
