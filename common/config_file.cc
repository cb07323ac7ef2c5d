#include "common/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace pvegw {
namespace {

constexpr ConfigKey kConfigKeys[] = {
    // proxmox-sdk's names (PROXMOX_*).
    {"api_mode", "PROXMOX_API_MODE"},
    {"api_url", "PROXMOX_API_URL"},
    {"api_token_id", "PROXMOX_API_TOKEN_ID"},
    {"api_token_secret", "PROXMOX_API_TOKEN_SECRET", /*secret=*/true},
    {"api_username", "PROXMOX_API_USERNAME"},
    {"api_password", "PROXMOX_API_PASSWORD", /*secret=*/true},
    {"api_otp", "PROXMOX_API_OTP", /*secret=*/true},
    {"api_verify_ssl", "PROXMOX_API_VERIFY_SSL"},
    {"api_ca_file", "PROXMOX_API_CA_FILE"},
    {"api_tls_fingerprint", "PROXMOX_API_TLS_FINGERPRINT"},
    {"api_timeout", "PROXMOX_API_TIMEOUT"},
    {"api_retries", "PROXMOX_API_RETRIES"},
    {"mock_data_path", "PROXMOX_MOCK_DATA_PATH"},
    {"mock_state_namespace", "PROXMOX_MOCK_STATE_NAMESPACE"},
    // pve-gateway's own (PVE_GATEWAY_*).
    {"listen", "PVE_GATEWAY_LISTEN"},
    {"health_listen", "PVE_GATEWAY_HEALTH_LISTEN"},
    {"metrics_listen", "PVE_GATEWAY_METRICS_LISTEN"},
    {"descriptors", "PVE_GATEWAY_DESCRIPTORS"},
    {"log_level", "PVE_GATEWAY_LOG_LEVEL"},
    {"log_format", "PVE_GATEWAY_LOG_FORMAT"},
    {"max_message_bytes", "PVE_GATEWAY_MAX_MESSAGE_BYTES"},
    {"max_concurrent_calls", "PVE_GATEWAY_MAX_CONCURRENT_CALLS"},
    {"shutdown_grace_seconds", "PVE_GATEWAY_SHUTDOWN_GRACE_SECONDS"},
    {"strict_decoding", "PVE_GATEWAY_STRICT_DECODING"},
    {"task_poll_initial_ms", "PVE_GATEWAY_TASK_POLL_INITIAL_MS"},
    {"task_poll_max_ms", "PVE_GATEWAY_TASK_POLL_MAX_MS"},
    {"client_credentials", "PVE_GATEWAY_CLIENT_CREDENTIALS"},
    {"upstream_threads", "PVE_GATEWAY_UPSTREAM_THREADS"},
    {"upstream_decode_threads", "PVE_GATEWAY_UPSTREAM_DECODE_THREADS"},
    {"upstream_max_connections", "PVE_GATEWAY_UPSTREAM_MAX_CONNECTIONS"},
    {"upstream_max_queue", "PVE_GATEWAY_UPSTREAM_MAX_QUEUE"},
    {"upstream_max_response_bytes", "PVE_GATEWAY_UPSTREAM_MAX_RESPONSE_BYTES"},
    {"upstream_connect_timeout_ms", "PVE_GATEWAY_UPSTREAM_CONNECT_TIMEOUT_MS"},
    {"upstream_ticket_renew_seconds", "PVE_GATEWAY_UPSTREAM_TICKET_RENEW_SECONDS"},
    {"upstream_health_interval_ms", "PVE_GATEWAY_UPSTREAM_HEALTH_INTERVAL_MS"},
    {"tls_cert", "PVE_GATEWAY_TLS_CERT"},
    {"tls_key", "PVE_GATEWAY_TLS_KEY"},
    {"tls_client_ca", "PVE_GATEWAY_TLS_CLIENT_CA"},
    {"auth_tokens_file", "PVE_GATEWAY_AUTH_TOKENS_FILE"},
    {"insecure_listen", "PVE_GATEWAY_INSECURE_LISTEN"},
};

// The whole file, at most kMaxConfigFileBytes, and its mode bits, from one open descriptor
// (so the mode checked is the mode of the file read).
absl::Status ReadBounded(const std::string& path, std::string* text, mode_t* mode) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", path, ": cannot open: ", std::strerror(errno)));
  }
  struct stat st;
  absl::Status status;
  if (::fstat(fd, &st) != 0) {
    status = absl::InvalidArgumentError(
        absl::StrCat("config file ", path, ": cannot stat: ", std::strerror(errno)));
  } else if (!S_ISREG(st.st_mode)) {
    status = absl::InvalidArgumentError(absl::StrCat("config file ", path, ": not a file"));
  } else if (static_cast<std::size_t>(st.st_size) > kMaxConfigFileBytes) {
    status = absl::InvalidArgumentError(
        absl::StrCat("config file ", path, ": larger than ", kMaxConfigFileBytes, " bytes"));
  } else {
    *mode = st.st_mode;
    char buffer[16384];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = absl::InvalidArgumentError(
            absl::StrCat("config file ", path, ": cannot read: ", std::strerror(errno)));
        break;
      }
      if (n == 0) break;
      text->append(buffer, static_cast<std::size_t>(n));
      if (text->size() > kMaxConfigFileBytes) {
        status = absl::InvalidArgumentError(
            absl::StrCat("config file ", path, ": larger than ", kMaxConfigFileBytes, " bytes"));
        break;
      }
    }
  }
  ::close(fd);
  return status;
}

std::string Where(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return absl::StrCat("config file ", path);
  return absl::StrCat("config file ", path, " line ", mark.line + 1);
}

}  // namespace

absl::Span<const ConfigKey> ConfigKeys() { return kConfigKeys; }

absl::StatusOr<ConfigFile> ConfigFile::Load(const std::string& path,
                                            absl::Span<const ConfigKey> keys,
                                            const ConfigFileOptions& options,
                                            std::vector<std::string>* warnings) {
  std::string text;
  mode_t mode = 0;
  if (absl::Status s = ReadBounded(path, &text, &mode); !s.ok()) return s;

  ConfigFile file;
  file.path_ = path;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(path, e.mark), ": not YAML or JSON: ", e.msg));
  }
  if (!root.IsDefined() || root.IsNull()) return file;  // empty file: nothing set
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(path, root.Mark()), ": expected a mapping of settings (key: value)"));
  }
  std::vector<std::string> secrets;
  absl::flat_hash_set<std::string> seen;
  for (const auto& entry : root) {
    const YAML::Node& k = entry.first;
    const YAML::Node& v = entry.second;
    if (!k.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(path, k.Mark()), ": a key must be a plain name"));
    }
    const std::string name = k.Scalar();
    const ConfigKey* key = nullptr;
    for (const ConfigKey& candidate : keys) {
      if (name == candidate.key) key = &candidate;
    }
    if (key == nullptr) {
      std::vector<std::string> known;
      for (const ConfigKey& candidate : keys) known.emplace_back(candidate.key);
      return absl::InvalidArgumentError(absl::StrCat(Where(path, k.Mark()), ": unknown key '", name,
                                                     "' (known: ", absl::StrJoin(known, ", "),
                                                     ")"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(path, k.Mark()), ": key '", name, "' appears twice"));
    }
    std::string value;
    if (v.IsNull()) {
      continue;
    } else if (v.IsScalar()) {
      value = v.Scalar();
    } else if (v.IsSequence()) {
      std::vector<std::string> items;
      for (const auto& item : v) {
        if (!item.IsScalar()) {
          return absl::InvalidArgumentError(absl::StrCat(Where(path, item.Mark()), ": '", name,
                                                         "' must be a list of plain values"));
        }
        items.push_back(item.Scalar());
      }
      value = absl::StrJoin(items, ",");
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(path, v.Mark()), ": '", name, "' must be a value, not a mapping"));
    }
    if (key->secret && !value.empty()) secrets.push_back(name);
    file.values_[key->env] = std::move(value);
  }

  if (!secrets.empty() && (mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
    const std::string problem = absl::StrFormat(
        "config file %s holds %s but group or others can access it (mode %04o); "
        "chmod 600 %s",
        path, absl::StrJoin(secrets, ", "), mode & 07777, path);
    if (!options.allow_insecure_permissions) {
      return absl::PermissionDeniedError(absl::StrCat(
          problem, " (or pass --allow_insecure_config_file_permissions to accept it)"));
    }
    if (warnings != nullptr) warnings->push_back(problem);
  }
  return file;
}

absl::StatusOr<ConfigFile> ConfigFile::LoadFromFlagOrEnvironment(
    const std::string& path, const ConfigFileOptions& options, std::vector<std::string>* warnings) {
  std::string chosen = path;
  if (chosen.empty()) {
    if (const char* e = std::getenv("PROXMOX_CONFIG_FILE"); e != nullptr) chosen = e;
  }
  if (chosen.empty()) return ConfigFile();
  return Load(chosen, ConfigKeys(), options, warnings);
}

std::optional<std::string> ConfigFile::Get(absl::string_view env) const {
  auto it = values_.find(env);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string ResolveSetting(const std::string& flag_value, const char* env, const ConfigFile& file,
                           const std::string& fallback) {
  if (!flag_value.empty()) return flag_value;
  if (const char* e = std::getenv(env); e != nullptr && *e != '\0') return e;
  if (std::optional<std::string> v = file.Get(env); v.has_value()) return *v;
  return fallback;
}

}  // namespace pvegw
