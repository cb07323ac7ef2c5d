// pve-gateway over real gRPC in mock mode: lifecycle, errors, limits, health, every GET.
#include <grpcpp/create_channel.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/credentials.h>

#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/api_index.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "mockstate/value_gen.h"
#include "proxmox/gateway/v1/gateway.grpc.pb.h"
#include "tests/e2e/e2e_util.h"
#include "tests/testing/get_walker.h"

namespace pvegw::e2e {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

const std::regex kUpid(R"(UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:[a-z]+:[^:]*:root@pam:)");

json::value Data(const CallResult& r) {
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  if (!r.status.ok()) return nullptr;
  json::value v = json::parse(r.json);
  const json::value* d = v.as_object().if_contains("data");
  return d == nullptr ? json::value(nullptr) : *d;
}

std::set<std::string> Ids(const json::value& rows, const char* key) {
  std::set<std::string> ids;
  if (!rows.is_array()) return ids;
  for (const auto& r : rows.as_array()) {
    const json::value* v = r.as_object().if_contains(key);
    if (v != nullptr)
      ids.insert(v->is_string() ? std::string(v->get_string()) : json::serialize(*v));
  }
  return ids;
}

google::rpc::BadRequest BadRequestOf(const grpc::Status& st) {
  google::rpc::Status rich;
  google::rpc::BadRequest bad;
  EXPECT_TRUE(rich.ParseFromString(st.error_details()));
  if (rich.details_size() > 0) {
    EXPECT_TRUE(rich.details(0).UnpackTo(&bad));
  }
  return bad;
}

class GatewayE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(gw_.ok()) << gw_.start_error(); }
  GatewayFixture gw_;
};

TEST_F(GatewayE2eTest, VmLifecycleOverGrpc) {
  EXPECT_TRUE(Ids(Data(gw_.Call("Nodes.GetNodes", "{}")), "node").count("pve1"));
  const json::value created =
      Data(gw_.Call("Nodes.PostNodesNodeQemu",
                    R"({"node":"pve1","vmid":150,"name":"grpc-vm","memory":"2048","cores":2,
                        "net":{"0":"virtio,bridge=vmbr0"}})"));
  ASSERT_TRUE(created.is_string());
  EXPECT_TRUE(std::regex_match(std::string(created.get_string()), kUpid)) << created;
  EXPECT_TRUE(
      Ids(Data(gw_.Call("Nodes.GetNodesNodeQemu", R"({"node":"pve1"})")), "vmid").count("150"));

  json::value config =
      Data(gw_.Call("Nodes.GetNodesNodeQemuVmidConfig", R"({"node":"pve1","vmid":150})"));
  EXPECT_EQ(config.at("name"), "grpc-vm");
  EXPECT_EQ(config.at("memory"), "2048");
  EXPECT_EQ(config.at("cores"), "2") << "int64 fields are JSON strings in proto3 JSON";
  // Stored as Proxmox stores a NIC: with a MAC of its prefix BC:24:11.
  EXPECT_TRUE(std::regex_match(std::string(config.at("net").at("0").as_string()),
                               std::regex("virtio=BC:24:11(:[0-9A-F]{2}){3},bridge=vmbr0")))
      << config.at("net").at("0");

  ASSERT_TRUE(gw_.Call("Nodes.PutNodesNodeQemuVmidConfig",
                       R"({"node":"pve1","vmid":150,"name":"renamed","delete":"net0"})")
                  .status.ok());
  config = Data(gw_.Call("Nodes.GetNodesNodeQemuVmidConfig", R"({"node":"pve1","vmid":150})"));
  EXPECT_EQ(config.at("name"), "renamed");
  EXPECT_FALSE(config.as_object().contains("net"));

  const json::value start =
      Data(gw_.Call("Nodes.PostNodesNodeQemuVmidStatusStart", R"({"node":"pve1","vmid":150})"));
  ASSERT_TRUE(start.is_string());
  const json::value current =
      Data(gw_.Call("Nodes.GetNodesNodeQemuVmidStatusCurrent", R"({"node":"pve1","vmid":150})"));
  EXPECT_EQ(current.at("status"), "running");
  // The task is readable through its own RPCs, with the UPID escaped into the path.
  const json::value task = Data(gw_.Call(
      "Nodes.GetNodesNodeTasksUpidStatus",
      absl::StrCat(R"({"node":"pve1","upid":")", std::string(start.get_string()), R"("})")));
  EXPECT_EQ(task.at("upid"), start);

  CallResult again =
      gw_.Call("Nodes.PostNodesNodeQemuVmidStatusStart", R"({"node":"pve1","vmid":150})");
  EXPECT_EQ(again.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(again.status.error_message(), "VM 150 already running");
  ASSERT_TRUE(gw_.Call("Nodes.PostNodesNodeQemuVmidStatusStop", R"({"node":"pve1","vmid":150})")
                  .status.ok());
  ASSERT_TRUE(
      gw_.Call("Nodes.DeleteNodesNodeQemuVmid", R"({"node":"pve1","vmid":150})").status.ok());
  CallResult gone = gw_.Call("Nodes.GetNodesNodeQemuVmidConfig", R"({"node":"pve1","vmid":150})");
  EXPECT_EQ(gone.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(gone.status.error_message(),
            "Configuration file 'nodes/pve1/qemu-server/150.conf' does not exist");
  EXPECT_EQ(
      gw_.Call("Nodes.PostNodesNodeQemu", R"({"node":"pve1","vmid":100})").status.error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
}

// pve-container refuses a container disk on a storage without `rootdir` content: on create a
// parameter error for `storage`, on update its config check's message.
TEST_F(GatewayE2eTest, ContainerDiskOnStorageWithoutRootdirIsRefused) {
  CallResult r = gw_.Call("Nodes.PostNodesNodeLxc", R"({"node":"pve1","vmid":152,
      "ostemplate":"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst","rootfs":"local:4"})");
  ASSERT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << r.status.error_message();
  const google::rpc::BadRequest bad = BadRequestOf(r.status);
  ASSERT_EQ(bad.field_violations_size(), 1);
  EXPECT_EQ(bad.field_violations(0).field(), "storage");
  EXPECT_EQ(bad.field_violations(0).description(),
            "storage 'local' does not support container directories");
  ASSERT_TRUE(gw_.Call("Nodes.PostNodesNodeLxc", R"({"node":"pve1","vmid":153,
      "ostemplate":"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
      "rootfs":"local-lvm:4"})")
                  .status.ok());
  r = gw_.Call("Nodes.PutNodesNodeLxcVmidConfig",
               R"({"node":"pve1","vmid":153,"mp":{"0":"local:2,mp=/data"}})");
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.error_message(),
            "storage 'local' does not allow content type 'rootdir' (Container)");
}

// The upload RPC exists, but gRPC carries no multipart file: like a Proxmox call without
// pveproxy's temporary file, it is refused (uploads go through pve-mock's REST API).
TEST_F(GatewayE2eTest, UploadWithoutAFileIsRefusedLikeProxmox) {
  CallResult r =
      gw_.Call("Nodes.PostNodesNodeStorageStorageUpload",
               R"({"node":"pve1","storage":"local","content":"iso","filename":"a.iso"})");
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.error_message(), "missing temporary file name");
}

TEST_F(GatewayE2eTest, InvalidArgumentsListEveryViolationByProxmoxName) {
  CallResult r = gw_.Call("Nodes.PostNodesNodeQemu",
                          R"({"node":"pve1","vmid":5,"ostype":"beos","description":")" +
                              std::string(9000, 'x') + R"("})");
  ASSERT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::map<std::string, std::string> v;
  const google::rpc::BadRequest bad = BadRequestOf(r.status);
  for (const auto& f : bad.field_violations()) v[f.field()] = f.description();
  EXPECT_EQ(v["vmid"], "value must have a minimum value of 100");
  EXPECT_THAT(v["ostype"], HasSubstr("enumeration"));
  EXPECT_EQ(v["description"], "value may only be 8192 characters long");

  r = gw_.Call("Nodes.PostNodesNodeQemu", R"({"node":"pve1"})");
  ASSERT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(BadRequestOf(r.status).field_violations(0).field(), "vmid");
  EXPECT_EQ(BadRequestOf(r.status).field_violations(0).description(),
            "property is missing and it is not optional");

  r = gw_.Call("Access.PostAccessUsers", R"({"userid":"no realm"})");
  ASSERT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(BadRequestOf(r.status).field_violations(0).field(), "userid");

  r = gw_.Call("Nodes.GetNodesNodeQemu", R"({"node":"bad node!"})");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "pve-node format";

  // Property strings are checked against their format objects, as Proxmox does.
  r = gw_.Call("Nodes.PostNodesNodeQemu",
               R"({"node":"pve1","vmid":151,"net":{"0":"garbage"},"scsi":{"0":"nonsense"}})");
  ASSERT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v.clear();
  const google::rpc::BadRequest bad_format = BadRequestOf(r.status);
  for (const auto& f : bad_format.field_violations()) v[f.field()] = f.description();
  EXPECT_THAT(v["net0"],
              ::testing::StartsWith("invalid format - format error\nnet0.model: value "
                                    "'garbage' does not have a value in the enumeration"));
  EXPECT_THAT(v["scsi0"], HasSubstr("scsi0.file: invalid format - unable to parse volume ID "
                                    "'nonsense'"));
  EXPECT_EQ(gw_.Call("Nodes.GetNodesNodeQemuVmidConfig", R"({"node":"pve1","vmid":151})")
                .status.error_code(),
            grpc::StatusCode::NOT_FOUND)
      << "nothing was created";
  // A missing item of any collection is Proxmox's 500 "... does not exist": NOT_FOUND.
  r = gw_.Call("Cluster.GetClusterFirewallGroupsGroup", R"({"group":"nothere"})");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::NOT_FOUND) << r.status.error_message();
}

TEST_F(GatewayE2eTest, PathParametersSurviveEscaping) {
  const json::value content = Data(
      gw_.Call("Nodes.GetNodesNodeStorageStorageContent", R"({"node":"pve1","storage":"local"})"));
  ASSERT_TRUE(Ids(content, "volid").count("local:iso/debian-12.9.0-amd64-netinst.iso"));
  const json::value volume = Data(gw_.Call(
      "Nodes.GetNodesNodeStorageStorageContentVolume",
      R"({"node":"pve1","storage":"local","volume":"local:iso/debian-12.9.0-amd64-netinst.iso"})"));
  EXPECT_TRUE(volume.is_object());
  const json::value user =
      Data(gw_.Call("Access.GetAccessUsersUserid", R"({"userid":"admin@pve"})"));
  EXPECT_EQ(user.at("email"), "admin@example.com");
}

TEST_F(GatewayE2eTest, UnknownMethodsMalformedBytesAndMissingMessages) {
  std::string out;
  grpc::Status st = gw_.CallRaw("/proxmox.ve.v1.Nodes/NoSuchMethod", "", &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(st.error_message(), HasSubstr("/proxmox.ve.v1.Nodes/NoSuchMethod"));
  st = gw_.CallRaw("/nope.Service/Method", "", &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  // A field header promising more bytes than follow: not a valid message.
  st = gw_.CallRaw("/proxmox.ve.v1.Nodes/GetNodesNodeQemu", std::string("\x0a\x7f\x01\x02", 4),
                   &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("not a valid proxmox.ve.v1.GetNodesNodeQemuRequest"));
  // Garbage that happens to parse is still validated.
  st = gw_.CallRaw("/proxmox.ve.v1.Nodes/GetNodesNodeQemu", std::string("\x08\x01", 2), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(GatewayLimitsTest, OversizeMessagesAreRejected) {
  TestGatewayOptions options;
  options.max_message_bytes = 1024;
  GatewayFixture gw(options);
  ASSERT_TRUE(gw.ok()) << gw.start_error();
  CallResult r =
      gw.Call("Nodes.PutNodesNodeQemuVmidConfig",
              R"({"node":"pve1","vmid":100,"description":")" + std::string(4000, 'd') + R"("})");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(gw.Call("Nodes.GetNodesNodeQemu", R"({"node":"pve1"})").status.ok())
      << "still serving";
}

TEST(GatewayLimitsTest, ConcurrentCallsBeyondTheLimitAreResourceExhausted) {
  // A backend that holds calls until released, to have a known number in flight.
  class HeldBackend : public gateway::Backend {
   public:
    void Call(RestRequest, gateway::RestCallback done) override {
      std::lock_guard<std::mutex> lock(mu);
      held.push_back(std::move(done));
    }
    std::string mode() const override { return "test"; }
    void ReleaseAll() {
      std::vector<gateway::RestCallback> calls;
      {
        std::lock_guard<std::mutex> lock(mu);
        calls.swap(held);
      }
      for (auto& c : calls) c(RestResponse{200, "OK", R"({"data":[]})"});
    }
    std::size_t Held() {
      std::lock_guard<std::mutex> lock(mu);
      return held.size();
    }
    std::mutex mu;
    std::vector<gateway::RestCallback> held;
  };
  ScratchDir dir;
  TestGatewayOptions options;
  options.listen = "127.0.0.1:0";
  options.max_concurrent_calls = 2;
  auto owned = std::make_unique<HeldBackend>();
  HeldBackend* backend = owned.get();
  auto server = gateway::GatewayServer::Start(options, std::move(owned));
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  ClientApi api;
  auto request = api.New(api.Method("Nodes.GetNodesNodeQemu")->input_type());
  request->GetReflection()->SetString(request.get(),
                                      request->GetDescriptor()->FindFieldByName("node"), "pve1");
  const std::string bytes = request->SerializeAsString();
  struct Pending {
    grpc::ClientContext ctx;
    grpc::ByteBuffer reply;
    std::promise<grpc::Status> done;
  };
  std::vector<std::unique_ptr<Pending>> calls;
  for (int i = 0; i < 3; ++i) {
    auto p = std::make_unique<Pending>();
    grpc::Slice slice(bytes);
    grpc::ByteBuffer req(&slice, 1);
    Pending* raw = p.get();
    stub.UnaryCall(&p->ctx, "/proxmox.ve.v1.Nodes/GetNodesNodeQemu", grpc::StubOptions(), &req,
                   &p->reply, [raw](grpc::Status st) { raw->done.set_value(std::move(st)); });
    calls.push_back(std::move(p));
    if (i < 2) {
      // Wait until the backend holds this call (bounded), so the third one is the extra.
      for (int spin = 0; spin < 5000 && backend->Held() < static_cast<std::size_t>(i + 1); ++spin) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      ASSERT_EQ(backend->Held(), static_cast<std::size_t>(i + 1));
    }
  }
  grpc::Status third = calls[2]->done.get_future().get();
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(third.error_message(), HasSubstr("limit 2"));
  backend->ReleaseAll();
  EXPECT_TRUE(calls[0]->done.get_future().get().ok());
  EXPECT_TRUE(calls[1]->done.get_future().get().ok());
  (*server)->Shutdown();
}

TEST_F(GatewayE2eTest, ManyThreadsAtOnce) {
  constexpr int kThreads = 8;
  constexpr int kCallsEach = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach; ++i) {
        if (i % 5 == 0) {
          const int vmid = 1000 + t * kCallsEach + i;
          if (gw_.Call("Nodes.PostNodesNodeQemu",
                       absl::StrCat(R"({"node":"pve2","vmid":)", vmid, "}"))
                  .status.ok())
            ++ok;
        } else if (gw_.Call("Nodes.GetNodesNodeQemuVmidConfig", R"({"node":"pve1","vmid":100})")
                       .status.ok()) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kCallsEach);
  const std::set<std::string> vms =
      Ids(Data(gw_.Call("Nodes.GetNodesNodeQemu", R"({"node":"pve2"})")), "vmid");
  EXPECT_EQ(vms.size(), 2u + kThreads * kCallsEach / 5) << "every create landed exactly once";
}

TEST_F(GatewayE2eTest, GetInfoDescribesTheServer) {
  auto stub = proxmox::gateway::v1::Gateway::NewStub(gw_.channel());
  grpc::ClientContext ctx;
  proxmox::gateway::v1::GetInfoResponse info;
  ASSERT_TRUE(stub->GetInfo(&ctx, {}, &info).ok());
  const auto first_asked = std::chrono::steady_clock::now();
  EXPECT_EQ(info.mode(), "mock");
  EXPECT_EQ(info.methods(), 646);
  EXPECT_EQ(info.services_size(), 6);
  EXPECT_EQ(info.mock_namespace(), "e2e");
  EXPECT_EQ(info.descriptor_source(), "embedded");
  // Uptime counts from start-up: positive, and it advances with the clock between two
  // asks by no more than the time that passed.
  EXPECT_GT(info.uptime_seconds(), 0);
  grpc::ClientContext again_ctx;
  proxmox::gateway::v1::GetInfoResponse again;
  ASSERT_TRUE(stub->GetInfo(&again_ctx, {}, &again).ok());
  const double between =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - first_asked).count();
  EXPECT_GE(again.uptime_seconds(), info.uptime_seconds());
  EXPECT_LE(again.uptime_seconds() - info.uptime_seconds(), between + 0.5);
}

TEST(GatewayHealthTest, ServingOnceStartedNotServingWhileShuttingDown) {
  GatewayFixture gw;
  ASSERT_TRUE(gw.ok()) << gw.start_error();
  auto health = grpc::health::v1::Health::NewStub(gw.channel());
  auto check = [&](const std::string& service) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status st = health->Check(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.status();
  };
  EXPECT_EQ(check(""), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(check("proxmox.ve.v1.Nodes"), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(check("grpc.reflection.v1.ServerReflection"),
            grpc::health::v1::HealthCheckResponse::SERVING);
  gw.server().BeginShutdown();
  EXPECT_EQ(check(""), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(check("proxmox.ve.v1.Nodes"), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_TRUE(gw.Call("Nodes.GetNodes", "{}").status.ok()) << "in-flight work still completes";
}

TEST(GatewayStartTest, BadDescriptorFilesAndAddressesAreClearErrors) {
  ScratchDir dir;
  TestGatewayOptions options;
  options.listen = "127.0.0.1:0";
  options.mock.store.dir = dir.path();
  options.descriptors_path = dir.path() + "/missing.desc";
  auto r = StartGateway(options);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("cannot read descriptor set"));
  std::ofstream(dir.path() + "/junk.desc") << "this is not protobuf";
  options.descriptors_path = dir.path() + "/junk.desc";
  r = StartGateway(options);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("not a FileDescriptorSet"));
  options.descriptors_path = PVEGW_API_DESCRIPTORS;
  options.listen = "not-an-address";
  r = StartGateway(options);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("cannot listen on not-an-address"));
  options.listen = "127.0.0.1:0";
  r = StartGateway(options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->method_count(), 646) << "a descriptor file given at start-up serves the same API";
}

// Every GET RPC once over gRPC. Plausible parameters come from the parent collections'
// listings, exactly as in the mock's own walk (tests/testing/get_walker.h).
TEST_F(GatewayE2eTest, EveryGetRpcAnswersOk) {
  auto& mock = dynamic_cast<gateway::MockModeBackend&>(gw_.server().backend()).mock();
  pvegw::testing::GetWalker walker(mock.api(), [&](const RestRequest& r) { return mock.Call(r); });
  int gets = 0;
  int ok = 0;
  std::vector<std::string> failures;
  for (const auto& op : mock.api().operations()) {
    if (op->verb != "GET") continue;
    ++gets;
    const pvegw::testing::ResolvedCall call = walker.Resolve(*op);
    json::object request;
    auto set = [&](const std::string& wire, const std::string& value) {
      const auto* field = api::FieldByWireName(op->method->input_type(), wire);
      if (field == nullptr) return;
      using google::protobuf::FieldDescriptor;
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING:
          request[field->json_name()] = value;
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          request[field->json_name()] = value == "1";
          break;
        default:
          request[field->json_name()] = json::parse(value);
      }
    };
    for (const auto& [name, value] : call.path_params) set(name, value);
    for (const auto& [name, value] : call.query) set(name, value);
    CallResult r = gw_.Call(absl::StrCat(op->method->service()->name(), ".", op->method->name()),
                            json::serialize(request));
    if (r.status.ok()) {
      ++ok;
    } else {
      failures.push_back(absl::StrCat(op->method->full_name(), " ", json::serialize(request), ": ",
                                      static_cast<int>(r.status.error_code()), " ",
                                      r.status.error_message()));
    }
  }
  EXPECT_EQ(gets, 326);
  EXPECT_EQ(ok, 326) << absl::StrJoin(failures, "\n");
}

}  // namespace
}  // namespace pvegw::e2e
