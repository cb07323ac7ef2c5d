// The committed record of every field number ever assigned, per message.
#ifndef PVEGW_CODEGEN_FIELD_LOCK_H_
#define PVEGW_CODEGEN_FIELD_LOCK_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pvegw::codegen {

// Field numbers must never move once published: clients compiled against an older
// .proto would silently misread. The lock maps message -> Proxmox field name -> number
// (plus a type signature, so an incompatible type change gets a fresh number), and keeps
// removed fields so their numbers and names stay reserved forever.
class FieldLock {
 public:
  struct Entry {
    int number = 0;
    std::string type;        // signature, see ProtoBuilder::TypeSignature
    std::string proto_name;  // the field name the number was published under
  };
  struct Message {
    std::map<std::string, Entry> fields;    // live, keyed by Proxmox name
    std::map<std::string, Entry> reserved;  // removed or retyped; never reused
    int max_number = 0;                     // highest number ever used
    // Messages of property-string formats only: where the format was last used
    // ("POST /nodes/{node}/qemu net[n]"), sorted. A format whose keys change keeps its
    // message name because its places stay the same (see docs/typed-property-strings.md).
    std::vector<std::string> uses;
  };

  // A missing file is a fresh start (empty lock); a malformed one is INVALID_ARGUMENT.
  static absl::StatusOr<FieldLock> Load(const std::string& path);
  static absl::StatusOr<FieldLock> Parse(absl::string_view text, absl::string_view file_name);

  // Deterministic, diff-friendly JSON (one field per line, sorted keys).
  std::string Serialize() const;

  std::map<std::string, Message>& messages() { return messages_; }
  const std::map<std::string, Message>& messages() const { return messages_; }

  bool operator==(const FieldLock& other) const;

 private:
  std::map<std::string, Message> messages_;
};

// Type signatures in the lock: "string", "bool", "double", "int" (int32), "int64",
// "message:<Name>" or a well-known type (".google.protobuf.Struct"), wrapped as
// "repeated <T>" or "map<uint32,<T>>". int32 and int64 share one wire encoding, so two
// signatures that differ only in that width are wire compatible and keep the field number;
// proto3 JSON writes int64 as a string and int32 as a number, so the lock remembers int64
// and a field published as int64 never narrows again.
bool SameWireType(absl::string_view a, absl::string_view b);
// True if the element type of the signature is int64.
bool IsInt64Signature(absl::string_view signature);

// What applying a schema did to the lock; printed by pve-protogen.
struct LockChanges {
  int added = 0;     // new numbers assigned
  int reserved = 0;  // fields removed (or retyped) and reserved
  int revived = 0;   // previously removed fields that came back with their old number
  int renamed = 0;   // same number, new proto field name
  int widened = 0;   // int32 -> int64, same number; recorded so it never narrows back
  std::vector<std::string> examples;  // a few "Message.field (+N)" lines for the log
  bool any() const { return added + reserved + revived + renamed + widened > 0; }
};

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_FIELD_LOCK_H_
