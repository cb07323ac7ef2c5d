#include "gateway/gateway_server.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/embedded_descriptors.h"
#include "common/metrics.h"
#include "common/metrics_server.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "gateway/api_service.h"
#include "gateway/call_metrics.h"
#include "gateway/method_table.h"
#include "gateway/reflection_service.h"
#include "gateway/task_watchers.h"
#include "gateway/tasks_service.h"
#include "gateway/transcoder.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.pb.h"
#include "proxmox/gateway/v1/gateway.grpc.pb.h"
#include "proxmox/gateway/v1/options.pb.h"
#include "proxmox/gateway/v1/tasks.grpc.pb.h"

namespace pvegw::gateway {

namespace {

// A file of a generated Proxmox API: one of its RPCs carries the Proxmox operation
// (proxmox.gateway.v1.method). Whatever the package: proxmox.ve.v1, proxmox.pbs.v1, ...
bool IsApiFile(const google::protobuf::FileDescriptor* file) {
  for (int s = 0; s < file->service_count(); ++s) {
    const google::protobuf::ServiceDescriptor* service = file->service(s);
    for (int m = 0; m < service->method_count(); ++m) {
      if (service->method(m)->options().HasExtension(proxmox::gateway::v1::method)) return true;
    }
  }
  return false;
}

// Copies a compiled-in file (and its imports) into the runtime pool unless already there.
bool AddGeneratedFile(google::protobuf::DescriptorPool& pool,
                      const google::protobuf::FileDescriptor* file) {
  if (pool.FindFileByName(file->name()) != nullptr) return true;
  for (int i = 0; i < file->dependency_count(); ++i) {
    if (!AddGeneratedFile(pool, file->dependency(i))) return false;
  }
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  file->CopySourceCodeInfoTo(&proto);
  return pool.BuildFile(proto) != nullptr;
}

class GatewayInfoService final : public proxmox::gateway::v1::Gateway::CallbackService {
 public:
  GatewayInfoService(proxmox::gateway::v1::GetInfoResponse info, const Backend& backend,
                     const BearerTokens& tokens, const TaskWatchers& tasks)
      : info_(std::move(info)),
        backend_(backend),
        tokens_(tokens),
        tasks_(tasks),
        start_(std::chrono::steady_clock::now()) {}

  grpc::ServerUnaryReactor* GetInfo(grpc::CallbackServerContext* ctx,
                                    const proxmox::gateway::v1::GetInfoRequest*,
                                    proxmox::gateway::v1::GetInfoResponse* response) override {
    auto* reactor = ctx->DefaultReactor();
    if (!tokens_.AdmitsCall(ctx->client_metadata())) {
      reactor->Finish(
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or unknown bearer token"));
      return reactor;
    }
    *response = info_;
    response->set_uptime_seconds(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    backend_.AddInfo(*response);
    const TaskWatchers::Stats tasks = tasks_.stats();
    response->set_task_watchers(tasks.watchers);
    response->set_task_pollers(tasks.pollers);
    response->set_task_backend_calls(tasks.backend_calls);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const proxmox::gateway::v1::GetInfoResponse info_;
  const Backend& backend_;
  const BearerTokens& tokens_;
  const TaskWatchers& tasks_;
  const std::chrono::steady_clock::time_point start_;
};

// The health port's only other service: every method but grpc.health.v1 is UNIMPLEMENTED
// there. (A server needs at least one callback service to run without a polled queue.)
class HealthOnlyService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Refusal final : public grpc::ServerGenericBidiReactor {
     public:
      Refusal() {
        Finish(
            grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this port serves only grpc.health.v1"));
      }
      void OnDone() override { delete this; }
    };
    return new Refusal;
  }
};

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read --", flag, " ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (buffer.str().find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", path, " is not PEM"));
  }
  return buffer.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ListenerCredentials(
    const ListenerSecurity& s) {
  if (s.tls_cert.empty() != s.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (s.tls_cert.empty()) {
    if (!s.tls_client_ca.empty()) {
      return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert and --tls_key");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions ssl(
      s.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  PVEGW_ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(s.tls_cert, "tls_cert"));
  PVEGW_ASSIGN_OR_RETURN(pair.private_key, ReadPem(s.tls_key, "tls_key"));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!s.tls_client_ca.empty()) {
    PVEGW_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(s.tls_client_ca, "tls_client_ca"));
  }
  return grpc::SslServerCredentials(ssl);
}

// "proxmox.ve.v1.Nodes.GetNodes" -> "/proxmox.ve.v1.Nodes/GetNodes", the spelling of every
// other method label.
std::string GrpcMethodPath(const std::string& full_name) {
  const auto dot = full_name.rfind('.');
  if (dot == std::string::npos) return full_name;
  return absl::StrCat("/", full_name.substr(0, dot), "/", full_name.substr(dot + 1));
}

// Gateway-wide metrics that are read at scrape time: build, tasks, decoding.
void RegisterGatewayMetrics(metrics::Registry& registry, const std::string& mode,
                            const std::string& api_packages, const TaskWatchers& tasks,
                            const Transcoder& transcoder) {
  using metrics::Sample;
  using metrics::Type;
  registry.AddCallback("pve_gateway_build_info", "Always 1; the labels say which gateway runs how.",
                       Type::kGauge, {"version", "mode", "api"},
                       [mode, api_packages](std::vector<Sample>& out) {
                         out.push_back({{std::string(kVersion), mode, api_packages}, 1});
                       });
  metrics::AddProcessMetrics(registry);
  const TaskWatchers* t = &tasks;
  registry.AddCallback("pve_gateway_task_watchers",
                       "Open Tasks.WatchTask streams and WaitTask calls.", Type::kGauge, {},
                       [t](std::vector<Sample>& out) {
                         out.push_back({{}, static_cast<double>(t->stats().watchers)});
                       });
  registry.AddCallback("pve_gateway_task_pollers",
                       "Running task pollers (one per task and identity, shared by its watchers).",
                       Type::kGauge, {}, [t](std::vector<Sample>& out) {
                         out.push_back({{}, static_cast<double>(t->stats().pollers)});
                       });
  registry.AddCallback("pve_gateway_task_pollers_started_total", "Task pollers started.",
                       Type::kCounter, {}, [t](std::vector<Sample>& out) {
                         out.push_back({{}, static_cast<double>(t->stats().pollers_started)});
                       });
  registry.AddCallback("pve_gateway_task_polls_total",
                       "Backend calls made by task pollers (task status and log pages).",
                       Type::kCounter, {}, [t](std::vector<Sample>& out) {
                         out.push_back({{}, static_cast<double>(t->stats().backend_calls)});
                       });
  const Transcoder* tc = &transcoder;
  registry.AddCallback(
      "pve_gateway_decode_fallbacks_total",
      "Values Proxmox sent that their typed field could not hold, kept in additional_properties "
      "instead, by gRPC method and field.",
      Type::kCounter, {"method", "field"}, [tc](std::vector<Sample>& out) {
        for (const DecodeFallbackCount& f : tc->DecodeFallbacks()) {
          out.push_back({{GrpcMethodPath(f.method), f.field}, static_cast<double>(f.count)});
        }
      });
  registry.AddCallback("pve_gateway_decode_unlisted_keys_total",
                       "Keys of Proxmox answers the schema does not list, kept in "
                       "additional_properties.",
                       Type::kCounter, {}, [tc](std::vector<Sample>& out) {
                         out.push_back({{}, static_cast<double>(tc->unlisted_keys_kept())});
                       });
  registry.AddCallback("pve_gateway_decode_unknown_fields_total",
                       "Keys of Proxmox answers dropped because their message has no "
                       "additional_properties field (an old descriptor set).",
                       Type::kCounter, {}, [tc](std::vector<Sample>& out) {
                         out.push_back({{}, static_cast<double>(tc->unknown_fields_ignored())});
                       });
}

}  // namespace

bool IsLoopbackListen(const std::string& listen) {
  if (absl::StartsWith(listen, "unix:") || absl::StartsWith(listen, "unix-abstract:")) return true;
  std::string host = listen.substr(0, listen.rfind(':'));
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]"))
    host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

struct GatewayServer::Impl {
  GatewayOptions options;
  google::protobuf::DescriptorPool pool;
  std::unique_ptr<api::ApiIndex> api;
  std::unique_ptr<MethodTable> table;
  std::unique_ptr<Transcoder> transcoder;
  metrics::Registry metrics;  // outlives everything that counts into it
  std::unique_ptr<CallMetrics> call_metrics;
  std::unique_ptr<ApiService> api_service;
  std::unique_ptr<ReflectionData> reflection_data;
  std::unique_ptr<ReflectionV1Service> reflection_v1;
  std::unique_ptr<ReflectionV1AlphaService> reflection_v1alpha;
  std::unique_ptr<GatewayInfoService> info_service;
  BearerTokens tokens;
  std::unique_ptr<TaskWatchers> task_watchers;  // outlives the server, not the backend
  std::unique_ptr<TasksService> tasks_service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<HealthOnlyService> health_only;
  std::unique_ptr<grpc::Server> health_server;             // --health_listen: grpc.health.v1 only
  std::unique_ptr<metrics::MetricsServer> metrics_server;  // --metrics_listen
  std::vector<std::string> api_services;
  std::string descriptor_file;  // --descriptors content (reflection reads it lazily)
  std::mutex shutdown_mu;
  bool shutting_down = false;
  bool shut_down = false;
};

GatewayServer::GatewayServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GatewayServer::~GatewayServer() { Shutdown(); }

int GatewayServer::method_count() const { return static_cast<int>(impl_->table->size()); }
const Transcoder& GatewayServer::transcoder() const { return *impl_->transcoder; }
int GatewayServer::service_count() const { return static_cast<int>(impl_->api_services.size()); }

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    GatewayOptions options, std::unique_ptr<Backend> backend) {
  if (backend == nullptr) return absl::InvalidArgumentError("no backend");
  auto made = std::make_shared<std::unique_ptr<Backend>>(std::move(backend));
  return Start(
      std::move(options),
      [made](std::shared_ptr<const api::ApiIndex>) -> absl::StatusOr<std::unique_ptr<Backend>> {
        return std::move(*made);
      });
}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(GatewayOptions options,
                                                                    BackendFactory make_backend) {
  const auto t0 = std::chrono::steady_clock::now();
  auto stage_start = t0;
  auto stage = [&](const char* what) {
    const auto now = std::chrono::steady_clock::now();
    spdlog::debug("start-up: {} took {:.1f} ms", what,
                  std::chrono::duration<double, std::milli>(now - stage_start).count());
    stage_start = now;
  };
  auto impl = std::make_unique<Impl>();
  impl->options = options;

  // 0. Who may call: decided before anything is loaded, in either mode.
  if (!options.security.auth_tokens_file.empty()) {
    PVEGW_ASSIGN_OR_RETURN(impl->tokens, BearerTokens::Load(options.security.auth_tokens_file));
  }
  PVEGW_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> listen_credentials,
                         ListenerCredentials(options.security));
  // (An address without a port cannot be listened on at all; that error comes below.)
  if (options.listen.find(':') != std::string::npos && !IsLoopbackListen(options.listen) &&
      options.security.tls_cert.empty() && impl->tokens.empty() &&
      !options.security.insecure_listen) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to serve on non-loopback ", options.listen,
        " without TLS (--tls_cert/--tls_key) or bearer tokens (--auth_tokens_file): anyone "
        "who reaches the port could drive the Proxmox API. Pass --insecure_listen if the "
        "network is trusted"));
  }

  // 1. The API, from the embedded descriptor set or a file given at start-up.
  absl::string_view bytes = api::EmbeddedLeanDescriptorSet();
  absl::string_view annotated = api::EmbeddedDescriptorSet();
  if (!options.descriptors_path.empty()) {
    std::ifstream in(options.descriptors_path, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read descriptor set ", options.descriptors_path));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    impl->descriptor_file = buffer.str();
    bytes = annotated = impl->descriptor_file;
  }
  // Parsed on an arena: thousands of small option messages, freed at once after the build.
  google::protobuf::Arena parse_arena;
  auto& set = *google::protobuf::Arena::CreateMessage<google::protobuf::FileDescriptorSet>(
      &parse_arena);
  if (!set.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.descriptors_path.empty() ? "embedded descriptors" : options.descriptors_path,
        ": not a FileDescriptorSet (build one with protoc --descriptor_set_out "
        "--include_imports)"));
  }
  std::vector<const google::protobuf::FileDescriptor*> api_files;
  for (auto& file : *set.mutable_file()) {
    // Comments are reflection's business (served from the annotated set); the serving
    // pool does without them.
    file.clear_source_code_info();
    const auto* built = impl->pool.FindFileByName(file.name());
    if (built == nullptr) built = impl->pool.BuildFile(file);
    if (built == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("descriptor set: ", file.name(), " does not build (missing imports?)"));
    }
    if (IsApiFile(built)) api_files.push_back(built);
  }
  if (api_files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.descriptors_path.empty() ? "embedded descriptors" : options.descriptors_path,
        ": no Proxmox API services in the descriptor set (RPCs with "
        "(proxmox.gateway.v1.method) options, as pve-protogen writes them)"));
  }
  std::set<std::string> api_packages;
  for (const auto* file : api_files) api_packages.insert(file->package());
  // The gateway's own services, so reflection can describe them too, and the error detail
  // types (grpcurl -format-error resolves google.rpc.BadRequest through reflection).
  for (const auto* file :
       {proxmox::gateway::v1::GetInfoRequest::descriptor()->file(),
        google::rpc::Status::descriptor()->file(), google::rpc::BadRequest::descriptor()->file(),
        proxmox::gateway::v1::TaskEvent::descriptor()->file(),
        grpc::health::v1::HealthCheckRequest::descriptor()->file(),
        grpc::reflection::v1::ServerReflectionRequest::descriptor()->file(),
        grpc::reflection::v1alpha::ServerReflectionRequest::descriptor()->file()}) {
    if (!AddGeneratedFile(impl->pool, file)) {
      return absl::InternalError(
          absl::StrCat("cannot add ", file->name(), " to the descriptor pool"));
    }
  }
  stage("descriptor pool");
  PVEGW_ASSIGN_OR_RETURN(impl->api, api::ApiIndex::Build(&impl->pool, api_files));
  stage("API index");
  impl->table = std::make_unique<MethodTable>(*impl->api);
  stage("method table");
  impl->transcoder = std::make_unique<Transcoder>(
      *impl->api, TranscoderOptions{/*strict_decoding=*/options.strict_decoding});
  stage("transcoder");
  for (const auto* file : api_files) {
    for (int i = 0; i < file->service_count(); ++i)
      impl->api_services.push_back(file->service(i)->full_name());
  }

  // 2. The backend.
  // The index lives in impl, which the server destroys after the backend.
  auto shared_api = std::shared_ptr<const api::ApiIndex>(impl->api.get(), [](const auto*) {});
  PVEGW_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, make_backend(std::move(shared_api)));
  if (backend == nullptr) return absl::InternalError("the backend factory made no backend");

  stage("backend");
  // 3. Services and the server.
  impl->call_metrics = std::make_unique<CallMetrics>(
      impl->metrics, *impl->table, std::vector<std::string>{kWatchTaskMethod, kWaitTaskMethod});
  impl->api_service = std::make_unique<ApiService>(*impl->table, *impl->transcoder, *backend,
                                                   options.max_concurrent_calls, impl->tokens,
                                                   impl->call_metrics.get());
  std::vector<std::string> all_services = impl->api_services;
  for (const char* own :
       {"proxmox.gateway.v1.Gateway", "proxmox.gateway.v1.Tasks", "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"}) {
    all_services.emplace_back(own);
  }
  impl->reflection_data = std::make_unique<ReflectionData>(&impl->pool, all_services, annotated);
  impl->reflection_v1 = std::make_unique<ReflectionV1Service>(*impl->reflection_data);
  impl->reflection_v1alpha = std::make_unique<ReflectionV1AlphaService>(*impl->reflection_data);
  proxmox::gateway::v1::GetInfoResponse info;
  info.set_version(kVersion);
  info.set_mode(backend->mode());
  info.set_api_package(absl::StrJoin(api_packages, ","));
  for (const auto& s : impl->api_services) info.add_services(s);
  info.set_methods(static_cast<int>(impl->table->size()));
  info.set_descriptor_source(options.descriptors_path.empty() ? "embedded"
                                                              : options.descriptors_path);
  impl->task_watchers = std::make_unique<TaskWatchers>(*backend, options.tasks);
  impl->tasks_service = std::make_unique<TasksService>(
      *impl->task_watchers, *backend, impl->api_service->tokens(), impl->call_metrics.get());
  RegisterGatewayMetrics(impl->metrics, backend->mode(), info.api_package(), *impl->task_watchers,
                         *impl->transcoder);
  backend->RegisterMetrics(impl->metrics);
  impl->info_service = std::make_unique<GatewayInfoService>(
      std::move(info), *backend, impl->api_service->tokens(), *impl->task_watchers);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, listen_credentials, &port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(std::max(options.max_message_bytes, 64 << 20));
  builder.RegisterService(impl->reflection_v1.get());
  builder.RegisterService(impl->reflection_v1alpha.get());
  builder.RegisterService(impl->info_service.get());
  builder.RegisterService(impl->tasks_service.get());
  builder.RegisterCallbackGenericService(impl->api_service.get());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen,
                                               " (address in use, or not a host:port?)"));
  }
  stage("gRPC server");
  int health_port = 0;
  if (!options.health_listen.empty()) {
    // A second server with nothing but the default health service: the kubelet's probes
    // reach it on the pod IP while the API itself stays on loopback (sidecar).
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(options.health_listen, grpc::InsecureServerCredentials(),
                                    &health_port);
    impl->health_only = std::make_unique<HealthOnlyService>();
    health_builder.RegisterCallbackGenericService(impl->health_only.get());
    impl->health_server = health_builder.BuildAndStart();
    if (impl->health_server == nullptr || health_port == 0) {
      impl->server->Shutdown();
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options.health_listen,
                                                 " for health (address in use, or not a "
                                                 "host:port?)"));
    }
  }
  // Before the backend learns about the servers: a failure here leaves nothing behind that
  // could call into them.
  if (!options.metrics_listen.empty()) {
    auto metrics_server = metrics::MetricsServer::Start(options.metrics_listen, impl->metrics);
    if (!metrics_server.ok()) {
      impl->server->Shutdown();
      if (impl->health_server != nullptr) impl->health_server->Shutdown();
      return metrics_server.status();
    }
    impl->metrics_server = *std::move(metrics_server);
  }
  std::vector<grpc::HealthCheckServiceInterface*> healths;
  for (grpc::Server* s : {impl->server.get(), impl->health_server.get()}) {
    if (s == nullptr) continue;
    auto* health = s->GetHealthCheckService();
    health->SetServingStatus(true);
    for (const std::string& name : all_services) health->SetServingStatus(name, true);
    // Readiness: NOT_SERVING until the upstream has answered (always SERVING in mock mode).
    health->SetServingStatus(kUpstreamHealthService, false);
    healths.push_back(health);
  }
  backend->SetHealthListener([healths](bool serving) {
    for (auto* health : healths) health->SetServingStatus(kUpstreamHealthService, serving);
  });

  auto server = std::unique_ptr<GatewayServer>(new GatewayServer(std::move(impl)));
  server->backend_ = std::move(backend);
  server->port_ = port;
  server->health_port_ = health_port;
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  server->listen_address_ = absl::StrCat(host, ":", port);
  server->startup_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return server;
}

void GatewayServer::BeginShutdown() {
  std::lock_guard<std::mutex> lock(impl_->shutdown_mu);
  if (impl_->shutting_down || impl_->server == nullptr) return;
  impl_->shutting_down = true;
  // Every service, including the overall "", answers NOT_SERVING from now on.
  impl_->server->GetHealthCheckService()->Shutdown();
  if (impl_->health_server != nullptr) impl_->health_server->GetHealthCheckService()->Shutdown();
}

void GatewayServer::SetServingStatus(const std::string& service, bool serving) {
  std::lock_guard<std::mutex> lock(impl_->shutdown_mu);
  if (impl_->shutting_down || impl_->server == nullptr) return;
  impl_->server->GetHealthCheckService()->SetServingStatus(service, serving);
  if (impl_->health_server != nullptr) {
    impl_->health_server->GetHealthCheckService()->SetServingStatus(service, serving);
  }
}

void GatewayServer::Shutdown() {
  BeginShutdown();
  std::lock_guard<std::mutex> lock(impl_->shutdown_mu);
  if (impl_->shut_down || impl_->server == nullptr) return;
  impl_->shut_down = true;
  // Task streams would run until their tasks end: they end UNAVAILABLE now, so clients
  // watch again elsewhere; the pollers stop before the backend goes.
  impl_->task_watchers->Close(absl::UnavailableError("the gateway is shutting down"));
  const auto grace = absl::ToChronoNanoseconds(impl_->options.shutdown_grace);
  impl_->server->Shutdown(std::chrono::system_clock::now() + grace);
  impl_->server->Wait();
  if (impl_->health_server != nullptr) {
    impl_->health_server->Shutdown(std::chrono::system_clock::now());
    impl_->health_server->Wait();
  }
  impl_->task_watchers->Stop();
  // Its callbacks read the backend, which goes next.
  if (impl_->metrics_server != nullptr) impl_->metrics_server->Stop();
}

int GatewayServer::metrics_port() const {
  return impl_->metrics_server != nullptr ? impl_->metrics_server->port() : 0;
}

std::string GatewayServer::RenderMetrics() const { return impl_->metrics.Render(); }

TaskWatchers& GatewayServer::task_watchers() { return *impl_->task_watchers; }

void GatewayServer::Wait() {
  if (impl_->server != nullptr) impl_->server->Wait();
}

}  // namespace pvegw::gateway
