// pve-loadgen: a gRPC load generator for pve-gateway (or any server with reflection). The
// request is JSON, resolved through server reflection or a FileDescriptorSet; calls run on the
// callback API (no thread per call) over N separate HTTP/2 connections; the report gives
// throughput, p50/p90/p99/p99.9 from a log-linear histogram and errors by status code, and
// --compare measures a second method (the bare health check) right after, in the same process.
// One file on purpose (~1,000 lines): a self-contained client program that links no gateway
// library, so its reflection client, load loop and report stay together.
//
//   pve-loadgen --target=127.0.0.1:50051 --method=proxmox.ve.v1.Nodes/GetNodesNodeQemu
//       --data='{"node":"pve1"}' --duration=10s --concurrency=64 --connections=4
//       --compare=grpc.health.v1.Health/Check
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/channel_arguments.h>

#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/cli_help.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "proxmox/gateway/v1/tasks.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Server address, HOST:PORT.");
ABSL_FLAG(std::string, method, "",
          "The method to call, package.Service/Method (e.g. "
          "proxmox.ve.v1.Nodes/GetNodesNodeQemu). Unary methods only.");
ABSL_FLAG(std::string, data, "{}",
          "The request as JSON (proto3 JSON mapping). Every {{seq}} is replaced by a number "
          "that grows by one per call, from --seq_start (e.g. distinct VMIDs for creates).");
ABSL_FLAG(int64_t, seq_start, 0, "First value of {{seq}} in --data.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "How long to measure, e.g. 10s, 500ms.");
ABSL_FLAG(int64_t, count, 0,
          "Stop after this many measured calls, failed ones included (0: no limit; --duration "
          "still bounds the run).");
ABSL_FLAG(int, concurrency, 16, "Calls in flight at once (spread over the connections).");
ABSL_FLAG(int, connections, 1, "HTTP/2 connections (channels with distinct arguments).");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1),
          "Load before measuring whose results are discarded; 0 for none.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline of every call.");
ABSL_FLAG(std::string, compare, "",
          "A second method measured right after the first with the same load, e.g. "
          "grpc.health.v1.Health/Check; the report gives the throughput ratio.");
ABSL_FLAG(std::string, compare_data, "{}", "The request of --compare as JSON.");
ABSL_FLAG(int, watch_tasks, 0,
          "Also keep this many proxmox.gateway.v1.Tasks/WatchTask streams open during the "
          "measurement (each one re-opened when it ends), on --watch_upid.");
ABSL_FLAG(std::string, watch_upid, "",
          "The task the --watch_tasks streams follow (comma-separated: spread over several).");
ABSL_FLAG(std::string, descriptors, "",
          "Resolve the method from this FileDescriptorSet file instead of server reflection.");
ABSL_FLAG(std::string, tls_ca, "",
          "Connect with TLS, trusting these PEM CA certificates (the gateway's --tls_cert, or "
          "its CA).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate chain for mTLS (the gateway's --tls_client_ca); needs "
          "--tls_key and --tls_ca.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to check the server certificate against, when it is not the target's host.");
ABSL_FLAG(std::string, token, "",
          "Bearer token, sent as 'authorization: Bearer <token>' (the gateway's "
          "--auth_tokens_file). Default: $PVE_LOADGEN_TOKEN.");
ABSL_FLAG(std::string, metadata, "",
          "Extra request metadata, comma-separated key=value pairs (keys in lower case).");
ABSL_FLAG(bool, json, false, "Print the report as one JSON object instead of text.");
ABSL_FLAG(bool, print_response, false,
          "Make one call, print its answer as JSON on stdout and exit (0 if it succeeded).");

namespace {

namespace pb = google::protobuf;
using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "pve-loadgen: load for a gRPC server, the request as JSON.\n\n"
    "  pve-loadgen --target=HOST:PORT --method=package.Service/Method [--data=JSON]\n"
    "      [--duration=10s] [--concurrency=16] [--connections=1] [--warmup=1s]\n"
    "      [--compare=grpc.health.v1.Health/Check] [--watch_tasks=N --watch_upid=UPID]\n"
    "      [--json]\n\n"
    "Exit status: 0 when every measured call succeeded, 1 when some failed or the server\n"
    "could not be reached, 2 for bad flags, an unknown method or a request that does not fit.";
// Bounds on the flags: a typo must not open a million connections.
constexpr int kMaxConcurrency = 100000;
constexpr int kMaxConnections = 1024;
constexpr int kMaxWatchStreams = 100000;
// How long reflection and draining the calls in flight may take.
constexpr auto kSetupDeadline = std::chrono::seconds(20);

// Exit status 2 with the message: bad flags, a method the server does not have, bad JSON.
[[noreturn]] void Usage(const std::string& message) {
  std::cerr << "pve-loadgen: " << message << "\n";
  std::exit(2);
}

// --- Flags -------------------------------------------------------------------------------
// absl's parser exits 1 on a bad flag; ours parses the same flags with absl's own value
// parsers and exits 2, like every other bad input.
void ParseFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 && arg.rfind("-", 0) == 0) arg = "-" + arg;
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      Usage(absl::StrCat("unexpected argument '", argv[i], "' (flags are --name=value)"));
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && !value && absl::StartsWith(name, "no")) {
      flag = absl::FindCommandLineFlag(name.substr(2));
      if (flag != nullptr && flag->IsOfType<bool>())
        value = "false";
      else
        flag = nullptr;
    }
    if (flag == nullptr || !pvegw::FlagDefinedIn(*flag, __FILE__)) {
      Usage(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (!value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        Usage(absl::StrCat("--", name, " needs a value"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      Usage(absl::StrCat("--", name, "=", *value, ": ", error));
    }
  }
}

std::string ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Usage(absl::StrCat("--", flag, "=", path, ": cannot read the file"));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// --- Connections ---------------------------------------------------------------------------
struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
};

std::shared_ptr<grpc::ChannelCredentials> Credentials() {
  const std::string ca = absl::GetFlag(FLAGS_tls_ca);
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  if (ca.empty()) {
    if (!cert.empty() || !key.empty()) Usage("--tls_cert and --tls_key need --tls_ca");
    if (!absl::GetFlag(FLAGS_tls_server_name).empty()) Usage("--tls_server_name needs --tls_ca");
    return grpc::InsecureChannelCredentials();
  }
  if (cert.empty() != key.empty()) Usage("--tls_cert and --tls_key go together");
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(ca, "tls_ca");
  if (!cert.empty()) {
    options.pem_cert_chain = ReadFile(cert, "tls_cert");
    options.pem_private_key = ReadFile(key, "tls_key");
  }
  return grpc::SslCredentials(options);
}

std::vector<Connection> Connect(const std::string& target, int n) {
  const auto credentials = Credentials();
  std::vector<Connection> out;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    // Channels with equal arguments share one subchannel (one TCP connection); a distinct
    // argument gives each its own.
    args.SetInt("pvegw.loadgen.connection", i);
    const std::string server_name = absl::GetFlag(FLAGS_tls_server_name);
    if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
    Connection c;
    c.channel = grpc::CreateCustomChannel(target, credentials, args);
    c.stub = std::make_unique<grpc::GenericStub>(c.channel);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Metadata() {
  std::vector<std::pair<std::string, std::string>> out;
  std::string token = absl::GetFlag(FLAGS_token);
  if (token.empty()) {
    if (const char* env = std::getenv("PVE_LOADGEN_TOKEN")) token = env;
  }
  if (!token.empty()) out.emplace_back("authorization", absl::StrCat("Bearer ", token));
  const std::string extra = absl::GetFlag(FLAGS_metadata);
  for (absl::string_view pair : absl::StrSplit(extra, ',', absl::SkipEmpty())) {
    const auto eq = pair.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      Usage(absl::StrCat("--metadata: '", pair, "' is not key=value"));
    }
    out.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
  }
  return out;
}

std::unique_ptr<grpc::ClientContext> NewContext(
    const std::vector<std::pair<std::string, std::string>>& metadata) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_timeout)));
  for (const auto& [k, v] : metadata) ctx->AddMetadata(k, v);
  return ctx;
}

// --- Descriptors ---------------------------------------------------------------------------
// Learns file descriptors from a server's reflection service (v1, else v1alpha): the file
// that defines a symbol, then every dependency not yet known, by name.
template <typename Api>
class ReflectionClient {
 public:
  using Request =
      typename std::conditional_t<std::is_same_v<Api, grpc::reflection::v1::ServerReflection>,
                                  grpc::reflection::v1::ServerReflectionRequest,
                                  grpc::reflection::v1alpha::ServerReflectionRequest>;
  using Response =
      typename std::conditional_t<std::is_same_v<Api, grpc::reflection::v1::ServerReflection>,
                                  grpc::reflection::v1::ServerReflectionResponse,
                                  grpc::reflection::v1alpha::ServerReflectionResponse>;

  ReflectionClient(const std::shared_ptr<grpc::Channel>& channel,
                   const std::vector<std::pair<std::string, std::string>>& metadata)
      : stub_(Api::NewStub(channel)) {
    ctx_.set_deadline(std::chrono::system_clock::now() + kSetupDeadline);
    for (const auto& [k, v] : metadata) ctx_.AddMetadata(k, v);
    stream_ = stub_->ServerReflectionInfo(&ctx_);
  }
  ~ReflectionClient() {
    if (finished_) return;
    stream_->WritesDone();
    (void)stream_->Finish();
  }

  // Adds the file holding `symbol` and its dependencies to `db`. NOT_FOUND when the server
  // does not know the symbol; the stream's status when reflection itself fails.
  absl::Status Learn(const std::string& symbol, pb::SimpleDescriptorDatabase& db) {
    Request req;
    req.set_file_containing_symbol(symbol);
    std::vector<std::string> pending;
    if (absl::Status s = Ask(req, db, pending); !s.ok()) return s;
    while (!pending.empty()) {
      const std::string name = pending.back();
      pending.pop_back();
      pb::FileDescriptorProto known;
      if (db.FindFileByName(name, &known)) continue;
      Request by_name;
      by_name.set_file_by_filename(name);
      if (absl::Status s = Ask(by_name, db, pending); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // The status the stream ended with (after a failed Ask).
  grpc::Status Finish() {
    finished_ = true;
    return stream_->Finish();
  }

 private:
  absl::Status Ask(const Request& req, pb::SimpleDescriptorDatabase& db,
                   std::vector<std::string>& pending) {
    Response resp;
    if (!stream_->Write(req) || !stream_->Read(&resp)) {
      return absl::UnavailableError("reflection stream ended");
    }
    if (resp.has_error_response()) {
      return absl::Status(static_cast<absl::StatusCode>(resp.error_response().error_code()),
                          resp.error_response().error_message());
    }
    for (const std::string& bytes : resp.file_descriptor_response().file_descriptor_proto()) {
      pb::FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) return absl::DataLossError("unparsable descriptor");
      pb::FileDescriptorProto known;
      if (db.FindFileByName(file.name(), &known)) continue;
      for (const std::string& dep : file.dependency()) pending.push_back(dep);
      db.Add(file);
    }
    return absl::OkStatus();
  }

  std::unique_ptr<typename Api::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream_;
  bool finished_ = false;
};

// Where method descriptors come from: a FileDescriptorSet, or the server's reflection (with
// the descriptors compiled into this binary, e.g. grpc.health.v1, when the server does not
// list a service).
class Resolver {
 public:
  Resolver(std::shared_ptr<grpc::Channel> channel,
           std::vector<std::pair<std::string, std::string>> metadata)
      : channel_(std::move(channel)), metadata_(std::move(metadata)) {
    const std::string path = absl::GetFlag(FLAGS_descriptors);
    if (path.empty()) return;
    pb::FileDescriptorSet set;
    if (!set.ParseFromString(ReadFile(path, "descriptors"))) {
      Usage(absl::StrCat("--descriptors=", path, ": not a FileDescriptorSet"));
    }
    for (const auto& f : set.file()) db_.Add(f);
    from_file_ = true;
  }

  // The method's descriptor, or exit 2 saying why not; exit 1 if the server is unreachable.
  const pb::MethodDescriptor* Find(const std::string& spec) {
    std::string name(absl::StripPrefix(spec, "/"));
    std::string service;
    std::string method;
    if (const auto slash = name.rfind('/'); slash != std::string::npos) {
      service = name.substr(0, slash);
      method = name.substr(slash + 1);
    } else if (const auto dot = name.rfind('.'); dot != std::string::npos) {
      service = name.substr(0, dot);
      method = name.substr(dot + 1);
    }
    if (service.empty() || method.empty()) {
      Usage(absl::StrCat("method '", spec, "' is not package.Service/Method"));
    }
    const pb::ServiceDescriptor* sd = pool_.FindServiceByName(service);
    if (sd == nullptr && !from_file_) {
      const absl::Status learned = Learn(service);
      if (learned.code() == absl::StatusCode::kUnavailable ||
          learned.code() == absl::StatusCode::kDeadlineExceeded ||
          learned.code() == absl::StatusCode::kUnauthenticated ||
          learned.code() == absl::StatusCode::kPermissionDenied) {
        std::cerr << "pve-loadgen: " << absl::GetFlag(FLAGS_target)
                  << ": server reflection failed: " << learned << "\n";
        std::exit(1);
      }
      sd = pool_.FindServiceByName(service);
    }
    if (sd == nullptr) sd = pb::DescriptorPool::generated_pool()->FindServiceByName(service);
    if (sd == nullptr) {
      Usage(absl::StrCat("unknown method ", spec, ": the ",
                         from_file_ ? "descriptor set" : "server", " has no service ", service));
    }
    const pb::MethodDescriptor* md = sd->FindMethodByName(method);
    if (md == nullptr) {
      Usage(
          absl::StrCat("unknown method ", spec, ": service ", service, " has no method ", method));
    }
    if (md->client_streaming() || md->server_streaming()) {
      Usage(absl::StrCat("method ", spec, " streams; --method and --compare take unary methods"));
    }
    return md;
  }

  pb::MessageFactory* factory(const pb::MethodDescriptor* md) {
    return md->file()->pool() == &pool_ ? static_cast<pb::MessageFactory*>(&factory_)
                                        : pb::MessageFactory::generated_factory();
  }

 private:
  absl::Status Learn(const std::string& service) {
    absl::Status s;
    {
      ReflectionClient<grpc::reflection::v1::ServerReflection> v1(channel_, metadata_);
      s = v1.Learn(service, db_);
      if (s.code() == absl::StatusCode::kUnavailable) {
        const grpc::Status end = v1.Finish();
        s = absl::Status(static_cast<absl::StatusCode>(end.error_code()), end.error_message());
        if (end.ok()) s = absl::UnavailableError("reflection stream ended");
      }
    }
    if (s.code() == absl::StatusCode::kUnimplemented) {
      ReflectionClient<grpc::reflection::v1alpha::ServerReflection> v1alpha(channel_, metadata_);
      s = v1alpha.Learn(service, db_);
      if (s.code() == absl::StatusCode::kUnavailable) {
        const grpc::Status end = v1alpha.Finish();
        s = absl::Status(static_cast<absl::StatusCode>(end.error_code()), end.error_message());
        if (end.ok()) s = absl::UnavailableError("reflection stream ended");
      }
    }
    if (s.code() == absl::StatusCode::kUnimplemented) {
      s = absl::NotFoundError("the server offers no reflection");
    }
    return s;
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  pb::SimpleDescriptorDatabase db_;
  pb::DescriptorPool pool_{&db_};
  pb::DynamicMessageFactory factory_{&pool_};
  bool from_file_ = false;
};

// The serialized request of one method. With {{seq}} in the JSON every call gets its own
// bytes; without, all calls share one buffer.
class RequestSource {
 public:
  RequestSource(const pb::MethodDescriptor* md, pb::MessageFactory* factory, std::string json,
                int64_t seq)
      : md_(md),
        prototype_(factory->GetPrototype(md->input_type())),
        json_(std::move(json)),
        templated_(json_.find("{{seq}}") != std::string::npos),
        seq_(seq) {
    if (prototype_ == nullptr) Usage(absl::StrCat("no message type for ", md->full_name()));
    // Checked once up front, so a request that does not fit is a usage error, not N errors.
    absl::StatusOr<grpc::ByteBuffer> first = Encode(seq_);
    if (!first.ok()) {
      Usage(absl::StrCat("the request does not fit ", md->input_type()->full_name(), ": ",
                         first.status().message()));
    }
    fixed_ = *std::move(first);
  }

  // The request of the next call.
  grpc::ByteBuffer Next() {
    if (!templated_) return fixed_;
    absl::StatusOr<grpc::ByteBuffer> b = Encode(seq_.fetch_add(1, std::memory_order_relaxed));
    return b.ok() ? *std::move(b) : fixed_;
  }

  std::string path() const {
    return absl::StrCat("/", md_->service()->full_name(), "/", md_->name());
  }
  const pb::MethodDescriptor* method() const { return md_; }

 private:
  absl::StatusOr<grpc::ByteBuffer> Encode(int64_t seq) const {
    const std::string json =
        templated_ ? absl::StrReplaceAll(json_, {{"{{seq}}", absl::StrCat(seq)}}) : json_;
    std::unique_ptr<pb::Message> msg(prototype_->New());
    const auto status = pb::util::JsonStringToMessage(json, msg.get());
    if (!status.ok()) return absl::InvalidArgumentError(std::string(status.message()));
    const std::string bytes = msg->SerializeAsString();
    grpc::Slice slice(bytes);
    return grpc::ByteBuffer(&slice, 1);
  }

  const pb::MethodDescriptor* md_;
  const pb::Message* prototype_;
  std::string json_;
  bool templated_;
  std::atomic<int64_t> seq_;
  grpc::ByteBuffer fixed_;
};

// --- Statistics ----------------------------------------------------------------------------
// Latencies in nanoseconds, log-linear buckets: exact below 128 ns, then 64 buckets per power
// of two (under 1.6% error), lock-free to record from every callback thread.
class Histogram {
 public:
  void Record(uint64_t ns) {
    buckets_[Index(ns)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(ns, std::memory_order_relaxed);
    uint64_t seen = max_.load(std::memory_order_relaxed);
    while (ns > seen && !max_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
    }
  }
  uint64_t count() const { return count_.load(); }
  double mean() const { return count() == 0 ? 0 : static_cast<double>(sum_.load()) / count(); }
  uint64_t max() const { return max_.load(); }
  // The value below which `q` (0..1) of the recordings lie: the middle of its bucket.
  double Quantile(double q) const {
    const uint64_t n = count();
    if (n == 0) return 0;
    // Nearest rank: the smallest recording with at least q of them at or below it.
    const auto rank =
        std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(n) - 1e-9)));
    uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen >= rank) {
        const double lo = static_cast<double>(Lower(i));
        const double hi = static_cast<double>(Lower(i + 1));
        return std::min((lo + hi) / 2, static_cast<double>(max()));
      }
    }
    return static_cast<double>(max());
  }

 private:
  static constexpr std::size_t kSub = 64;
  static constexpr std::size_t kBuckets = kSub * 60;
  static std::size_t Index(uint64_t v) {
    if (v < 2 * kSub) return static_cast<std::size_t>(v);
    const int shift = 63 - __builtin_clzll(v) - 6;
    return std::min<std::size_t>(kSub * shift + (v >> shift), kBuckets - 1);
  }
  static uint64_t Lower(std::size_t i) {
    if (i < 2 * kSub) return i;
    const std::size_t shift = i / kSub - 1;
    return static_cast<uint64_t>(i % kSub + kSub) << shift;
  }
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
};

// Status codes seen, with the first message of each.
class Errors {
 public:
  void Record(const grpc::Status& s) {
    const auto code = static_cast<std::size_t>(s.error_code());
    if (code >= counts_.size()) return;
    if (counts_[code].fetch_add(1, std::memory_order_relaxed) == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      first_message_[code] = s.error_message();
    }
  }
  uint64_t total() const {
    uint64_t n = 0;
    for (const auto& c : counts_) n += c.load();
    return n;
  }
  boost::json::array ToJson() const {
    boost::json::array out;
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t code = 0; code < counts_.size(); ++code) {
      if (counts_[code].load() == 0) continue;
      const auto message = first_message_.find(code);
      out.push_back({{"code", CodeName(code)},
                     {"count", counts_[code].load()},
                     {"first_message", message == first_message_.end() ? "" : message->second}});
    }
    return out;
  }
  static const char* CodeName(std::size_t code) {
    static constexpr const char* kNames[] = {"OK",
                                             "CANCELLED",
                                             "UNKNOWN",
                                             "INVALID_ARGUMENT",
                                             "DEADLINE_EXCEEDED",
                                             "NOT_FOUND",
                                             "ALREADY_EXISTS",
                                             "PERMISSION_DENIED",
                                             "RESOURCE_EXHAUSTED",
                                             "FAILED_PRECONDITION",
                                             "ABORTED",
                                             "OUT_OF_RANGE",
                                             "UNIMPLEMENTED",
                                             "INTERNAL",
                                             "UNAVAILABLE",
                                             "DATA_LOSS",
                                             "UNAUTHENTICATED"};
    return code < std::size(kNames) ? kNames[code] : "?";
  }

 private:
  std::array<std::atomic<uint64_t>, 17> counts_{};
  mutable std::mutex mu_;
  std::map<std::size_t, std::string> first_message_;
};

// --- Load ----------------------------------------------------------------------------------
// Keeps `concurrency` unary calls in flight: each completion records its latency (when it
// falls in the measured window) and starts the next call from the callback.
class UnaryLoad {
 public:
  UnaryLoad(RequestSource* requests, std::vector<Connection>* connections,
            const std::vector<std::pair<std::string, std::string>>* metadata)
      : requests_(requests),
        connections_(connections),
        metadata_(metadata),
        path_(requests->path()) {}

  struct Result {
    double seconds = 0;
    uint64_t calls = 0;  // OK calls that ended in the window
    Histogram latency;   // of those
    Errors errors;
    uint64_t not_drained = 0;
  };

  // Runs warm-up then measurement; bounded by `duration` and (if > 0) `count` calls.
  void Run(int concurrency, absl::Duration warmup, absl::Duration duration, int64_t count,
           Result* result) {
    result_ = result;
    max_calls_ = count;
    stop_.store(false);
    // The window starts at a fixed time: a call counts when it started inside it (a flag set
    // later would miss, yet not stop, the first calls of a run without warm-up).
    measure_from_ = Clock::now() + absl::ToChronoNanoseconds(warmup);
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_ = concurrency;
    }
    slots_.clear();
    for (int i = 0; i < concurrency; ++i) {
      slots_.push_back(std::make_unique<Slot>());
      slots_.back()->connection =
          &(*connections_)[static_cast<std::size_t>(i) % connections_->size()];
    }
    for (auto& slot : slots_) Start(slot.get());
    std::unique_lock<std::mutex> lock(mu_);
    const auto t0 = measure_from_;
    const auto until = t0 + absl::ToChronoNanoseconds(duration);
    done_.wait_until(lock, until, [&] { return in_flight_ == 0 || counted_limit_reached_; });
    stop_.store(true);
    const auto t1 = Clock::now();
    result->seconds = std::chrono::duration<double>(t1 - t0).count();
    // Calls in flight end by their deadline at the latest.
    const auto drain = Clock::now() + absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_timeout)) +
                       std::chrono::seconds(5);
    done_.wait_until(lock, drain, [&] { return in_flight_ == 0; });
    result->not_drained = static_cast<uint64_t>(in_flight_);
    if (in_flight_ != 0) {
      // Leak the slots still referenced by gRPC rather than free them under a callback.
      for (auto& s : slots_) (void)s.release();
    }
    slots_.clear();
  }

 private:
  struct Slot {
    Connection* connection = nullptr;
    std::unique_ptr<grpc::ClientContext> ctx;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
    Clock::time_point started;
  };

  void Start(Slot* slot) {
    slot->ctx = NewContext(*metadata_);
    slot->request = requests_->Next();
    slot->response.Clear();
    slot->started = Clock::now();
    slot->connection->stub->UnaryCall(slot->ctx.get(), path_, grpc::StubOptions(), &slot->request,
                                      &slot->response,
                                      [this, slot](grpc::Status s) { OnDone(slot, s); });
  }

  void OnDone(Slot* slot, const grpc::Status& status) {
    const auto now = Clock::now();
    if (!stop_.load(std::memory_order_relaxed) && slot->started >= measure_from_) {
      if (status.ok()) {
        result_->latency.Record(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot->started).count()));
        measured_.fetch_add(1, std::memory_order_relaxed);
      } else {
        result_->errors.Record(status);
      }
      // --count bounds the calls made, failed ones included.
      const uint64_t n = ++finished_;
      if (max_calls_ > 0 && n >= static_cast<uint64_t>(max_calls_)) {
        std::lock_guard<std::mutex> lock(mu_);
        counted_limit_reached_ = true;
        stop_.store(true);
        done_.notify_all();
      }
    }
    if (!stop_.load(std::memory_order_relaxed)) {
      Start(slot);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (--in_flight_ == 0) done_.notify_all();
  }

 public:
  uint64_t measured() const { return measured_.load(); }

 private:
  RequestSource* requests_;
  std::vector<Connection>* connections_;
  const std::vector<std::pair<std::string, std::string>>* metadata_;
  std::string path_;
  Result* result_ = nullptr;
  int64_t max_calls_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> measured_{0};
  std::atomic<uint64_t> finished_{0};
  Clock::time_point measure_from_;
  std::mutex mu_;
  std::condition_variable done_;
  int in_flight_ = 0;
  bool counted_limit_reached_ = false;
  std::vector<std::unique_ptr<Slot>> slots_;
};

// N Tasks.WatchTask streams kept open while the load runs: each one that ends is opened
// again (a finished task answers its final event at once, so those become a stream of calls).
class WatchLoad {
 public:
  WatchLoad(std::vector<Connection>* connections,
            const std::vector<std::pair<std::string, std::string>>* metadata,
            std::vector<std::string> upids)
      : metadata_(metadata), upids_(std::move(upids)) {
    for (auto& c : *connections) {
      stubs_.push_back(proxmox::gateway::v1::Tasks::NewStub(c.channel));
    }
  }

  void Start(int n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = n;
    }
    for (int i = 0; i < n; ++i) {
      streams_.push_back(std::make_unique<Stream>(this, i));
      streams_.back()->Open();
    }
  }

  // Cancels every stream and waits (bounded) until all ended.
  void Stop() {
    stop_.store(true);
    for (auto& s : streams_) s->Cancel();
    std::unique_lock<std::mutex> lock(mu_);
    if (!ended_.wait_for(lock, kSetupDeadline, [&] { return open_ == 0; })) {
      for (auto& s : streams_) (void)s.release();
    }
  }

  boost::json::object Report() const {
    return {{"streams", streams_.size()},
            {"opened", opened_.load()},
            {"events", events_.load()},
            {"completed", completed_.load()},
            {"errors", errors_.ToJson()}};
  }

 private:
  class Stream : public grpc::ClientReadReactor<proxmox::gateway::v1::TaskEvent> {
   public:
    Stream(WatchLoad* load, int index) : load_(load), index_(index) {}
    void Open() {
      ctx_ = std::make_unique<grpc::ClientContext>();
      for (const auto& [k, v] : *load_->metadata_) ctx_->AddMetadata(k, v);
      proxmox::gateway::v1::WatchTaskRequest req;
      req.set_upid(load_->upids_[static_cast<std::size_t>(index_) % load_->upids_.size()]);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (load_->stop_.load()) ctx_->TryCancel();
        live_ = true;
      }
      auto* stub = load_->stubs_[static_cast<std::size_t>(index_) % load_->stubs_.size()].get();
      stub->async()->WatchTask(ctx_.get(), &req, this);
      StartRead(&event_);
      StartCall();
      load_->opened_.fetch_add(1, std::memory_order_relaxed);
    }
    void Cancel() {
      std::lock_guard<std::mutex> lock(mu_);
      if (live_) ctx_->TryCancel();
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;
      load_->events_.fetch_add(1, std::memory_order_relaxed);
      StartRead(&event_);
    }
    void OnDone(const grpc::Status& status) override {
      {
        std::lock_guard<std::mutex> lock(mu_);
        live_ = false;
      }
      if (status.ok()) {
        load_->completed_.fetch_add(1, std::memory_order_relaxed);
      } else if (!load_->stop_.load()) {
        load_->errors_.Record(status);
      }
      if (!load_->stop_.load()) {
        // A reactor may be reused once OnDone has run; the request was copied at call start.
        Open();
        return;
      }
      std::lock_guard<std::mutex> lock(load_->mu_);
      if (--load_->open_ == 0) load_->ended_.notify_all();
    }

   private:
    WatchLoad* load_;
    int index_;
    std::mutex mu_;
    bool live_ = false;
    std::unique_ptr<grpc::ClientContext> ctx_;
    proxmox::gateway::v1::TaskEvent event_;
  };

  const std::vector<std::pair<std::string, std::string>>* metadata_;
  std::vector<std::string> upids_;
  std::vector<std::unique_ptr<proxmox::gateway::v1::Tasks::Stub>> stubs_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> opened_{0};
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> completed_{0};
  Errors errors_;
  std::mutex mu_;
  std::condition_variable ended_;
  int open_ = 0;
};

boost::json::object Summary(const std::string& method, const UnaryLoad::Result& r) {
  const double us = 1e-3;
  return {{"method", method},
          {"seconds", r.seconds},
          {"calls", r.calls},
          {"calls_per_second", r.seconds > 0 ? static_cast<double>(r.calls) / r.seconds : 0.0},
          {"errors", r.errors.total()},
          {"errors_by_code", r.errors.ToJson()},
          {"latency_us",
           {{"mean", r.latency.mean() * us},
            {"p50", r.latency.Quantile(0.50) * us},
            {"p90", r.latency.Quantile(0.90) * us},
            {"p99", r.latency.Quantile(0.99) * us},
            {"p99.9", r.latency.Quantile(0.999) * us},
            {"max", static_cast<double>(r.latency.max()) * us}}}};
}

void PrintText(const boost::json::object& s) {
  const auto& l = s.at("latency_us").as_object();
  std::printf("%s: %llu calls in %.2f s = %.0f calls/s, %llu errors\n",
              s.at("method").as_string().c_str(),
              static_cast<unsigned long long>(s.at("calls").to_number<uint64_t>()),
              s.at("seconds").to_number<double>(), s.at("calls_per_second").to_number<double>(),
              static_cast<unsigned long long>(s.at("errors").to_number<uint64_t>()));
  std::printf("  latency us: mean %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
              l.at("mean").to_number<double>(), l.at("p50").to_number<double>(),
              l.at("p90").to_number<double>(), l.at("p99").to_number<double>(),
              l.at("p99.9").to_number<double>(), l.at("max").to_number<double>());
  for (const auto& e : s.at("errors_by_code").as_array()) {
    std::printf("  %s x%llu: %s\n", e.at("code").as_string().c_str(),
                static_cast<unsigned long long>(e.at("count").to_number<uint64_t>()),
                e.at("first_message").as_string().c_str());
  }
}

int PrintResponse(const RequestSource& requests, pb::MessageFactory* factory,
                  std::vector<Connection>& connections,
                  const std::vector<std::pair<std::string, std::string>>& metadata) {
  auto ctx = NewContext(metadata);
  grpc::ByteBuffer request = const_cast<RequestSource&>(requests).Next();
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<grpc::Status> status;
  connections[0].stub->UnaryCall(ctx.get(), requests.path(), grpc::StubOptions(), &request,
                                 &response, [&](grpc::Status s) {
                                   std::lock_guard<std::mutex> lock(mu);
                                   status = std::move(s);
                                   cv.notify_all();
                                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return status.has_value(); });
  if (!status->ok()) {
    std::cerr << "pve-loadgen: " << Errors::CodeName(status->error_code()) << ": "
              << status->error_message() << "\n";
    return 1;
  }
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  std::unique_ptr<pb::Message> msg(factory->GetPrototype(requests.method()->output_type())->New());
  if (!msg->ParseFromString(bytes)) {
    std::cerr << "pve-loadgen: the answer does not parse as "
              << requests.method()->output_type()->full_name() << "\n";
    return 1;
  }
  std::string json;
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)pb::util::MessageToJsonString(*msg, &json, options);
  std::cout << json << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  pvegw::DisableMutexDeadlockDetection();
  pvegw::HandleHelpAndVersion(argc, argv, "pve-loadgen", __FILE__);
  ParseFlags(argc, argv);

  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string method = absl::GetFlag(FLAGS_method);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int n_connections = absl::GetFlag(FLAGS_connections);
  const int watch_tasks = absl::GetFlag(FLAGS_watch_tasks);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const int64_t count = absl::GetFlag(FLAGS_count);
  if (target.empty()) Usage("--target is empty");
  if (method.empty()) Usage("--method is required (package.Service/Method)");
  if (concurrency < 1 || concurrency > kMaxConcurrency) {
    Usage(absl::StrCat("--concurrency must be 1..", kMaxConcurrency));
  }
  if (n_connections < 1 || n_connections > kMaxConnections) {
    Usage(absl::StrCat("--connections must be 1..", kMaxConnections));
  }
  if (watch_tasks < 0 || watch_tasks > kMaxWatchStreams) {
    Usage(absl::StrCat("--watch_tasks must be 0..", kMaxWatchStreams));
  }
  if (duration <= absl::ZeroDuration()) Usage("--duration must be positive");
  if (warmup < absl::ZeroDuration()) Usage("--warmup must not be negative");
  if (absl::GetFlag(FLAGS_timeout) <= absl::ZeroDuration()) Usage("--timeout must be positive");
  if (count < 0) Usage("--count must not be negative");
  std::vector<std::string> upids =
      absl::StrSplit(absl::GetFlag(FLAGS_watch_upid), ',', absl::SkipEmpty());
  if (watch_tasks > 0 && upids.empty()) Usage("--watch_tasks needs --watch_upid");

  const auto metadata = Metadata();
  std::vector<Connection> connections = Connect(target, n_connections);
  Resolver resolver(connections[0].channel, metadata);
  const pb::MethodDescriptor* md = resolver.Find(method);
  RequestSource requests(md, resolver.factory(md), absl::GetFlag(FLAGS_data),
                         absl::GetFlag(FLAGS_seq_start));
  if (absl::GetFlag(FLAGS_print_response)) {
    return PrintResponse(requests, resolver.factory(md), connections, metadata);
  }
  std::optional<RequestSource> compare;
  const std::string compare_method = absl::GetFlag(FLAGS_compare);
  if (!compare_method.empty()) {
    const pb::MethodDescriptor* cmd = resolver.Find(compare_method);
    compare.emplace(cmd, resolver.factory(cmd), absl::GetFlag(FLAGS_compare_data), 0);
  }
  // Every connection up before the clock starts, so connecting is not measured; a refused
  // connection fails at once instead of after the setup deadline.
  for (auto& c : connections) {
    const auto deadline = std::chrono::system_clock::now() + kSetupDeadline;
    grpc_connectivity_state state = c.channel->GetState(/*try_to_connect=*/true);
    while (state != GRPC_CHANNEL_READY) {
      if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN ||
          !c.channel->WaitForStateChange(state, deadline)) {
        std::cerr << "pve-loadgen: cannot connect to " << target << "\n";
        return 1;
      }
      state = c.channel->GetState(/*try_to_connect=*/true);
    }
  }

  std::optional<WatchLoad> watch;
  if (watch_tasks > 0) {
    watch.emplace(&connections, &metadata, upids);
    watch->Start(watch_tasks);
  }
  UnaryLoad::Result main_result;
  UnaryLoad load(&requests, &connections, &metadata);
  load.Run(concurrency, warmup, duration, count, &main_result);
  main_result.calls = load.measured();
  if (watch) watch->Stop();

  boost::json::object report{{"target", target},
                             {"concurrency", concurrency},
                             {"connections", n_connections},
                             {"result", Summary(requests.path().substr(1), main_result)}};
  UnaryLoad::Result compare_result;
  if (compare) {
    UnaryLoad bare(&*compare, &connections, &metadata);
    bare.Run(concurrency, warmup, duration, count, &compare_result);
    compare_result.calls = bare.measured();
    const auto s = Summary(compare->path().substr(1), compare_result);
    report["compare"] = s;
    const double base = s.at("calls_per_second").to_number<double>();
    const double mine = report["result"].at("calls_per_second").to_number<double>();
    report["throughput_ratio"] = base > 0 ? mine / base : 0.0;
    report["p50_added_us"] = report["result"].at("latency_us").at("p50").to_number<double>() -
                             s.at("latency_us").at("p50").to_number<double>();
  }
  if (watch) report["watch"] = watch->Report();

  const uint64_t failures = main_result.errors.total() + compare_result.errors.total() +
                            main_result.not_drained + compare_result.not_drained;
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << boost::json::serialize(report) << "\n";
  } else {
    PrintText(report["result"].as_object());
    if (compare) {
      PrintText(report["compare"].as_object());
      std::printf("ratio: %.3f of %s's throughput; p50 %+.1f us\n",
                  report["throughput_ratio"].to_number<double>(), compare_method.c_str(),
                  report["p50_added_us"].to_number<double>());
    }
    if (watch) {
      const auto& w = report["watch"].as_object();
      std::printf("watch: %lld streams, %llu opened, %llu events, %llu ended OK, %zu error codes\n",
                  static_cast<long long>(w.at("streams").to_number<int64_t>()),
                  static_cast<unsigned long long>(w.at("opened").to_number<uint64_t>()),
                  static_cast<unsigned long long>(w.at("events").to_number<uint64_t>()),
                  static_cast<unsigned long long>(w.at("completed").to_number<uint64_t>()),
                  w.at("errors").as_array().size());
    }
  }
  return failures == 0 && main_result.calls > 0 ? 0 : 1;
}
