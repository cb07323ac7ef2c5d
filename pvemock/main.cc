// pve-mock: a Proxmox-compatible HTTPS REST API over the shared mock world.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "api/api_index.h"
#include "api/embedded_descriptors.h"
#include "common/cli_help.h"
#include "common/version.h"
#include "mockstate/mock_backend.h"
#include "pvemock/rest_frontend.h"
#include "pvemock/rest_server.h"
#include "pvemock/tls_cert.h"

ABSL_FLAG(std::string, listen, "",
          "host:port to serve on (port 0 picks a free port). Default: $PVE_MOCK_LISTEN, else "
          "127.0.0.1:8006.");
ABSL_FLAG(std::string, namespace, "",
          "Mock world to serve; every pve-mock and pve-gateway on one namespace shares it. "
          "Default: $PROXMOX_MOCK_STATE_NAMESPACE, else default.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate (chain) to serve. Default: $PVE_MOCK_TLS_CERT, else a self-signed "
          "certificate made at start-up for localhost, 127.0.0.1 and ::1.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert. Default: $PVE_MOCK_TLS_KEY.");
ABSL_FLAG(std::string, tls_cert_out, "",
          "Write the served certificate (PEM) to this file, e.g. for a client's CA file.");
ABSL_FLAG(bool, plain_http, false, "Serve plain HTTP instead of HTTPS.");
ABSL_FLAG(std::string, auth, "proxmox",
          "proxmox: tickets, CSRF tokens and API tokens as Proxmox checks them; none: no "
          "authentication, every request acts as root@pam.");
ABSL_FLAG(std::string, root_password, "",
          "root@pam's password. Default: $PVE_MOCK_ROOT_PASSWORD, else the namespace keeps the "
          "one it has (a fresh world: pve-mock).");
ABSL_FLAG(int, ticket_lifetime_s, 7200, "How long a ticket is valid, in seconds (Proxmox: 7200).");
ABSL_FLAG(std::string, fault, "",
          "Fault rule, repeatable: '[VERB ]PATH_GLOB=ACTION[,times=N]' with ACTION delay:MS, "
          "status:CODE[:MESSAGE], close, truncate, garbage or hang. PATH_GLOB is below "
          "/api2/json; * matches within a segment, ** any segments. Off by default.");
ABSL_FLAG(bool, reset, false, "Wipe and reseed the namespace at start-up.");
ABSL_FLAG(std::string, load_snapshot, "",
          "Replace the namespace's content with a snapshot file at start-up.");
ABSL_FLAG(std::string, snapshot_on_exit, "",
          "On SIGTERM/SIGINT, write a snapshot of the namespace to this file.");
ABSL_FLAG(bool, access_log, false, "Log one line per request on stderr.");
ABSL_FLAG(std::string, mock_data, "",
          "JSON/YAML file seeding or overriding mock data by API path. Default: "
          "$PROXMOX_MOCK_DATA_PATH.");
ABSL_FLAG(std::string, descriptors, "",
          "FileDescriptorSet of the API to serve instead of the embedded one.");
ABSL_FLAG(int64_t, max_upload_bytes, 64 * 1024 * 1024,
          "Largest body of an upload (POST /nodes/{node}/storage/{storage}/upload); larger "
          "ones are refused with 413. Uploads are held in memory.");
ABSL_FLAG(int, threads, 2, "Server threads.");
ABSL_FLAG(int, max_connections, 1000, "Open connections at most; further ones are closed.");
ABSL_FLAG(int, idle_timeout_ms, 5000,
          "Close a connection that sends no complete request head for this long (Proxmox: "
          "5000).");
ABSL_FLAG(int, auth_failure_delay_ms, 0,
          "Delay every 401 answer by this much (Proxmox waits 3000 ms against password "
          "guessing).");
ABSL_FLAG(int, shutdown_grace_seconds, 10,
          "On SIGTERM/SIGINT, how long requests in progress may take to finish.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn or error.");

namespace {

constexpr char kUsage[] =
    "Serves the shared mock Proxmox world as Proxmox's REST API (https://HOST:8006/api2/json),\n"
    "with Proxmox's authentication, wire format and errors.\n\n"
    "Usage: pve-mock [--listen=127.0.0.1:8006] [--root_password=...] [--plain_http]\n\n"
    "Try:\n"
    "  curl -k -d username=root@pam -d password=pve-mock "
    "https://127.0.0.1:8006/api2/json/access/ticket";

std::string Setting(const std::string& flag, const char* env, const std::string& fallback) {
  if (!flag.empty()) return flag;
  if (const char* e = std::getenv(env); e != nullptr && *e != '\0') return e;
  return fallback;
}

// absl keeps only the last value of a repeated flag, and a fault rule may contain commas,
// so --fault is taken out of argv here, every occurrence.
std::vector<std::string> TakeFaultFlags(int* argc, char** argv) {
  std::vector<std::string> rules;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--fault=") || absl::ConsumePrefix(&arg, "-fault=")) {
      rules.emplace_back(arg);
    } else if ((arg == "--fault" || arg == "-fault") && i + 1 < *argc) {
      rules.emplace_back(argv[++i]);
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  return rules;
}

bool IsLoopback(const std::string& host) {
  return absl::StartsWith(host, "127.") || host == "::1" || host == "localhost";
}

int Fail(const std::string& message) {
  spdlog::error("{}", message);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const auto process_start = std::chrono::steady_clock::now();
  absl::SetProgramUsageMessage(kUsage);
  pvegw::DisableMutexDeadlockDetection();
  pvegw::HandleHelpAndVersion(argc, argv, "pve-mock", __FILE__);
  std::vector<std::string> fault_texts = TakeFaultFlags(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("pve-mock"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Configuration, checked before anything starts.
  const std::string auth = absl::GetFlag(FLAGS_auth);
  if (auth != "proxmox" && auth != "none") {
    return Fail(absl::StrCat("--auth=", auth, " is not one of: proxmox, none"));
  }
  pvegw::pvemock::FrontendOptions frontend_options;
  frontend_options.auth = auth == "proxmox";
  const int64_t max_upload = absl::GetFlag(FLAGS_max_upload_bytes);
  if (max_upload < 1 || max_upload > (int64_t{4} << 30)) {
    return Fail("--max_upload_bytes must be between 1 and 4294967296");
  }
  frontend_options.max_upload_bytes = static_cast<std::size_t>(max_upload);
  for (const std::string& text : fault_texts) {
    absl::StatusOr<pvegw::pvemock::FaultRule> rule = pvegw::pvemock::ParseFaultRule(text);
    if (!rule.ok()) return Fail(std::string(rule.status().message()));
    frontend_options.faults.push_back(*std::move(rule));
  }
  const int ticket_lifetime = absl::GetFlag(FLAGS_ticket_lifetime_s);
  if (ticket_lifetime < 1 || ticket_lifetime > 7 * 24 * 3600) {
    return Fail("--ticket_lifetime_s must be between 1 and 604800");
  }
  pvegw::pvemock::RestServerOptions server_options;
  server_options.listen = Setting(absl::GetFlag(FLAGS_listen), "PVE_MOCK_LISTEN", "127.0.0.1:8006");
  server_options.tls = !absl::GetFlag(FLAGS_plain_http);
  server_options.threads = absl::GetFlag(FLAGS_threads);
  server_options.max_connections =
      static_cast<std::size_t>(std::max(1, absl::GetFlag(FLAGS_max_connections)));
  server_options.idle_timeout = std::chrono::milliseconds(absl::GetFlag(FLAGS_idle_timeout_ms));
  server_options.auth_failure_delay_ms = absl::GetFlag(FLAGS_auth_failure_delay_ms);
  if (server_options.threads < 1 || server_options.threads > 64) {
    return Fail("--threads must be between 1 and 64");
  }
  if (absl::GetFlag(FLAGS_idle_timeout_ms) < 10) return Fail("--idle_timeout_ms must be >= 10");
  if (absl::GetFlag(FLAGS_access_log)) {
    server_options.access_log = [](const pvegw::pvemock::AccessLogEntry& e) {
      spdlog::info("access {} {} \"{} {}\" {} {} {:.3f}ms rid={}", e.remote, e.user, e.method,
                   e.path, e.status, e.bytes, e.ms, e.request_id);
    };
  }
  std::string fingerprint = "none";
  if (server_options.tls) {
    const std::string cert = Setting(absl::GetFlag(FLAGS_tls_cert), "PVE_MOCK_TLS_CERT", "");
    const std::string key = Setting(absl::GetFlag(FLAGS_tls_key), "PVE_MOCK_TLS_KEY", "");
    if (cert.empty() != key.empty()) {
      return Fail(
          "--tls_cert and --tls_key go together: give both, or neither for a "
          "self-signed certificate");
    }
    absl::StatusOr<pvegw::pvemock::TlsIdentity> identity =
        cert.empty() ? pvegw::pvemock::MakeSelfSignedIdentity("pve-mock", {"localhost"},
                                                              {"127.0.0.1", "::1"})
                     : pvegw::pvemock::LoadIdentity(cert, key);
    if (!identity.ok()) return Fail(std::string(identity.status().message()));
    server_options.identity = *std::move(identity);
    fingerprint = server_options.identity.fingerprint;
    if (const std::string out = absl::GetFlag(FLAGS_tls_cert_out); !out.empty()) {
      std::ofstream file(out, std::ios::binary | std::ios::trunc);
      file << server_options.identity.cert_pem;
      if (!file.flush()) return Fail(absl::StrCat("cannot write --tls_cert_out=", out));
    }
  } else if (!absl::GetFlag(FLAGS_tls_cert).empty() || !absl::GetFlag(FLAGS_tls_cert_out).empty()) {
    return Fail("--plain_http serves no certificate: drop --tls_cert/--tls_cert_out");
  }

  // The world.
  std::string descriptor_file;
  absl::string_view descriptors = pvegw::api::EmbeddedLeanDescriptorSet();
  if (const std::string path = absl::GetFlag(FLAGS_descriptors); !path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Fail(absl::StrCat("cannot read descriptor set ", path));
    std::stringstream buffer;
    buffer << in.rdbuf();
    descriptor_file = buffer.str();
    descriptors = descriptor_file;
  }
  absl::StatusOr<std::unique_ptr<pvegw::api::ApiIndex>> index =
      pvegw::api::ApiIndex::FromDescriptorSet(descriptors);
  if (!index.ok()) return Fail(absl::StrCat("API descriptors: ", index.status().message()));
  absl::StatusOr<pvegw::mockstate::MockOptions> mock_options =
      pvegw::mockstate::MockOptionsFromEnv();
  if (!mock_options.ok()) return Fail(std::string(mock_options.status().message()));
  if (auto ns = absl::GetFlag(FLAGS_namespace); !ns.empty()) mock_options->store.ns = ns;
  if (auto data = absl::GetFlag(FLAGS_mock_data); !data.empty()) mock_options->data_path = data;
  mock_options->ticket_lifetime_s = ticket_lifetime;
  const std::string ns = mock_options->store.ns;
  absl::StatusOr<std::unique_ptr<pvegw::mockstate::MockBackend>> mock =
      pvegw::mockstate::MockBackend::Create(
          std::shared_ptr<const pvegw::api::ApiIndex>(std::move(*index)), *std::move(mock_options));
  if (!mock.ok()) return Fail(absl::StrCat("mock world: ", mock.status().message()));
  if (absl::GetFlag(FLAGS_reset)) {
    if (absl::Status st = (*mock)->Reset(); !st.ok()) {
      return Fail(absl::StrCat("--reset: ", st.message()));
    }
  }
  if (const std::string snap = absl::GetFlag(FLAGS_load_snapshot); !snap.empty()) {
    if (absl::Status st = (*mock)->store().LoadFrom(snap); !st.ok()) {
      return Fail(absl::StrCat("--load_snapshot=", snap, ": ", st.message()));
    }
  }
  const std::string root_password =
      Setting(absl::GetFlag(FLAGS_root_password), "PVE_MOCK_ROOT_PASSWORD", "");
  if (!root_password.empty()) {
    if (absl::Status st = (*mock)->SetPassword("root@pam", root_password); !st.ok()) {
      return Fail(absl::StrCat("root password: ", st.message()));
    }
  }

  pvegw::pvemock::RestFrontend frontend(**mock, std::move(frontend_options));
  absl::StatusOr<std::unique_ptr<pvegw::pvemock::RestServer>> server =
      pvegw::pvemock::RestServer::Start(frontend, server_options);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  const std::string host = (*server)->host();
  const std::string url_host = absl::StrContains(host, ':') ? absl::StrCat("[", host, "]") : host;
  if (!IsLoopback(host) && frontend.options().auth && root_password.empty()) {
    spdlog::warn(
        "listening on {} beyond loopback: set --root_password (or "
        "PVE_MOCK_ROOT_PASSWORD) unless the world's password was changed",
        host);
  }
  if (!frontend.options().auth) {
    spdlog::warn("--auth=none: no authentication, every request acts as root@pam");
  }
  const double startup_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - process_start)
          .count();
  spdlog::info(
      "pve-mock {} serving {}://{}:{}/api2/json fingerprint={} namespace={} auth={} "
      "faults={} startup_ms={:.1f}",
      pvegw::kVersion, server_options.tls ? "https" : "http", url_host, (*server)->port(),
      fingerprint, ns, frontend.options().auth ? "proxmox" : "none",
      frontend.options().faults.size(), startup_ms);

  int sig = 0;
  sigwait(&signals, &sig);
  const int grace = absl::GetFlag(FLAGS_shutdown_grace_seconds);
  spdlog::info("received {}; finishing requests in progress (grace {}s)",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", grace);
  (*server)->Shutdown(std::chrono::seconds(std::max(0, grace)));
  int status = 0;
  if (const std::string snap = absl::GetFlag(FLAGS_snapshot_on_exit); !snap.empty()) {
    if (absl::Status st = (*mock)->store().SnapshotTo(snap); !st.ok()) {
      spdlog::error("--snapshot_on_exit={}: {}", snap, std::string(st.message()));
      status = 1;
    } else {
      spdlog::info("snapshot of namespace {} written to {}", ns, snap);
    }
  }
  spdlog::info("pve-mock stopped");
  return status;
}
