#include "codegen/protogen.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "codegen/proto_builder.h"
#include "codegen/proto_printer.h"
#include "codegen/schema_loader.h"
#include "common/status_macros.h"

namespace pvegw::codegen {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path.string(), ": ", std::strerror(errno)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status WriteTemp(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", path.string(), ": ", std::strerror(errno)));
  }
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) {
    return absl::DataLossError(
        absl::StrCat("error writing ", path.string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

bool SameContent(const fs::path& path, const std::string& content) {
  absl::StatusOr<std::string> existing = ReadFile(path);
  return existing.ok() && *existing == content;
}

// Writes `files` (relative path -> content) under `root` all-or-nothing: every changed
// file is first written as a temporary beside its target; only when all temporaries
// exist are they renamed into place. Returns how many files changed.
absl::StatusOr<int> WriteFilesAtomically(const fs::path& root,
                                         const std::map<std::string, std::string>& files) {
  std::vector<std::pair<fs::path, fs::path>> staged;  // temp -> final
  const std::string suffix = absl::StrCat(".tmp.", ::getpid());
  auto cleanup = [&] {
    std::error_code ignored;
    for (const auto& [tmp, final_path] : staged) fs::remove(tmp, ignored);
  };
  for (const auto& [rel, content] : files) {
    const fs::path target = root / rel;
    if (SameContent(target, content)) continue;
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) {
      cleanup();
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot create output directory ", target.parent_path().string(), ": ", ec.message()));
    }
    const fs::path tmp = target.string() + suffix;
    if (absl::Status st = WriteTemp(tmp, content); !st.ok()) {
      cleanup();
      return st;
    }
    staged.emplace_back(tmp, target);
  }
  for (const auto& [tmp, target] : staged) {
    std::error_code ec;
    fs::rename(tmp, target, ec);
    if (ec) {
      cleanup();
      return absl::PermissionDeniedError(
          absl::StrCat("cannot replace ", target.string(), ": ", ec.message()));
    }
  }
  return static_cast<int>(staged.size());
}

}  // namespace

bool IsValidPackage(absl::string_view package) {
  if (package.empty()) return false;
  for (absl::string_view part : absl::StrSplit(package, '.')) {
    if (part.empty() || !(std::isalpha(static_cast<unsigned char>(part[0])) || part[0] == '_')) {
      return false;
    }
    for (char c : part) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    }
  }
  return true;
}

std::string ProtogenResult::Summary() const {
  return absl::StrCat(services, " services, ", rpcs, " RPCs, ", messages, " messages, ", fields,
                      " fields, ", warnings.Total(), " warnings (", source_format, " input)");
}

absl::StatusOr<ProtogenResult> GenerateFromText(absl::string_view schema_text,
                                                absl::string_view schema_name,
                                                const std::string& package, FieldLock& lock) {
  if (!IsValidPackage(package)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--package \"", package, "\" is not a dotted proto package name"));
  }
  ProtogenResult result;
  PVEGW_ASSIGN_OR_RETURN(ApiSchema schema, ParseSchema(schema_text, schema_name, result.warnings));
  PVEGW_ASSIGN_OR_RETURN(ProtoApi api, BuildProtoApi(schema, package, std::string(schema_name),
                                                     lock, result.lock_changes, result.warnings));
  result.source_format = schema.source_format;
  result.services = static_cast<int>(api.services.size());
  result.rpcs = api.rpc_count;
  result.messages = api.message_count;
  result.fields = api.field_count;
  const std::string dir = absl::StrReplaceAll(package, {{".", "/"}});
  for (const ProtoService& svc : api.services) {
    result.files[absl::StrCat(dir, "/", svc.file_name)] = PrintProtoFile(api, svc);
  }
  if (!api.property_messages.empty()) {
    result.files[absl::StrCat(dir, "/", kPropertyStringsFile)] = PrintPropertyStringsFile(api);
  }
  result.api = std::move(api);
  return result;
}

absl::StatusOr<ProtogenResult> RunProtogen(const ProtogenOptions& options) {
  if (options.schema_path.empty()) {
    return absl::InvalidArgumentError("no schema given: pass --schema=PATH or set PROXMOX_SCHEMA");
  }
  if (options.out_dir.empty() && !options.check_only) {
    return absl::InvalidArgumentError("no output directory given: pass --out=DIR");
  }
  FieldLock lock;
  if (!options.lock_path.empty()) {
    PVEGW_ASSIGN_OR_RETURN(lock, FieldLock::Load(options.lock_path));
  }
  const std::string lock_before = lock.Serialize();

  std::error_code ec;
  if (fs::is_directory(options.schema_path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read schema ", options.schema_path, ": it is a directory"));
  }
  absl::StatusOr<std::string> text = ReadFile(options.schema_path);
  if (!text.ok())
    return absl::NotFoundError(absl::StrCat("cannot read schema: ", text.status().message()));
  PVEGW_ASSIGN_OR_RETURN(ProtogenResult result,
                         GenerateFromText(*text, options.schema_path, options.package, lock));
  const std::string lock_after = lock.Serialize();
  result.lock_changed = lock_after != lock_before;
  if (options.check_only) return result;

  const fs::path root(options.out_dir);
  if (fs::exists(root, ec) && !fs::is_directory(root, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("output path ", options.out_dir, " exists and is not a directory"));
  }
  result.package_dir = (root / absl::StrReplaceAll(options.package, {{".", "/"}})).string();
  fs::create_directories(result.package_dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create output directory ", result.package_dir, ": ", ec.message()));
  }
  if (::access(result.package_dir.c_str(), W_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("output directory ", result.package_dir,
                                                    " is not writable: ", std::strerror(errno)));
  }
  if (!options.lock_path.empty() && result.lock_changed) {
    const fs::path lock_dir = fs::absolute(options.lock_path).parent_path();
    if (::access(lock_dir.c_str(), W_OK) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("lock ", options.lock_path, " cannot be written: ", std::strerror(errno)));
    }
  }
  PVEGW_ASSIGN_OR_RETURN(result.files_written, WriteFilesAtomically(root, result.files));

  // A service that disappeared from the schema must not leave its old file behind.
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(result.package_dir, ec)) {
    if (entry.path().extension() != ".proto") continue;
    const std::string rel = absl::StrCat(absl::StrReplaceAll(options.package, {{".", "/"}}), "/",
                                         entry.path().filename().string());
    if (result.files.count(rel) == 0) stale.push_back(entry.path());
  }
  for (const fs::path& path : stale) {
    std::error_code rm_ec;
    if (fs::remove(path, rm_ec)) ++result.files_removed;
  }
  if (!options.lock_path.empty() && result.lock_changed) {
    const fs::path lock_path(options.lock_path);
    PVEGW_ASSIGN_OR_RETURN(
        int written, WriteFilesAtomically(
                         lock_path.parent_path().empty() ? fs::path(".") : lock_path.parent_path(),
                         {{lock_path.filename().string(), lock_after}}));
    (void)written;
  }
  return result;
}

}  // namespace pvegw::codegen
