// pve-protogen's whole job: schema file in, .proto files (and lock) out.
#ifndef PVEGW_CODEGEN_PROTOGEN_H_
#define PVEGW_CODEGEN_PROTOGEN_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "codegen/field_lock.h"
#include "codegen/proto_model.h"
#include "codegen/warnings.h"

namespace pvegw::codegen {

inline constexpr char kDefaultPackage[] = "proxmox.ve.v1";

struct ProtogenOptions {
  std::string schema_path;
  std::string out_dir;    // may be empty with check_only
  std::string lock_path;  // empty: numbers assigned fresh, nothing pinned
  std::string package = kDefaultPackage;
  bool check_only = false;  // write nothing; report whether the lock would change
};

struct ProtogenResult {
  std::string source_format;
  int services = 0;
  int rpcs = 0;
  int messages = 0;
  int fields = 0;
  Warnings warnings;
  LockChanges lock_changes;
  bool lock_changed = false;
  std::map<std::string, std::string> files;  // path relative to out_dir -> content
  int files_written = 0;                     // files whose bytes changed on disk
  int files_removed = 0;                     // stale files of an earlier run
  std::string package_dir;                   // out_dir/proxmox/ve/v1
  ProtoApi api;                              // what the files say, for --diff

  // "6 services, 646 RPCs, ..." one line.
  std::string Summary() const;
};

// Generates everything in memory first; only when the whole schema maps cleanly is
// anything written, each file via a temporary and a rename, and unchanged files are left
// untouched (their mtimes too, so builds stay incremental). Errors: INVALID_ARGUMENT for
// bad input (message names file and place), FAILED_PRECONDITION / PERMISSION_DENIED for
// an unusable output directory.
absl::StatusOr<ProtogenResult> RunProtogen(const ProtogenOptions& options);

// Generation without touching the file system (used by RunProtogen, tests, benchmarks).
absl::StatusOr<ProtogenResult> GenerateFromText(absl::string_view schema_text,
                                                absl::string_view schema_name,
                                                const std::string& package, FieldLock& lock);

// True if `package` is a dotted list of proto identifiers.
bool IsValidPackage(absl::string_view package);

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_PROTOGEN_H_
