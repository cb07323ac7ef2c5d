// Load for Tasks.WatchTask: many concurrent streams on a few long-running tasks, from one
// process. Reports how long the streams took to open, the gateway's resident memory with
// them open (--gateway_pid) and the backend polls per second its task pollers make.
//
//   PROXMOX_MOCK_TASK_DURATION_MS=600000 build/bin/pve-gateway --listen=127.0.0.1:50051 &
//   build/bin/task_watch_load --target=127.0.0.1:50051 --gateway_pid=$! --tasks=100
//       --streams=10000 --measure_seconds=60
// (bench/task_watch.sh does exactly this.)
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "api/embedded_descriptors.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "proxmox/gateway/v1/gateway.grpc.pb.h"
#include "proxmox/gateway/v1/tasks.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "pve-gateway address");
ABSL_FLAG(int, gateway_pid, 0, "pve-gateway's pid, to read its resident memory");
ABSL_FLAG(int, tasks, 100, "distinct tasks (VMs created from vmid --first_vmid on)");
ABSL_FLAG(int, first_vmid, 5000, "first VMID to create");
ABSL_FLAG(int, streams, 10000, "concurrent WatchTask streams, spread over the tasks");
ABSL_FLAG(int, channels, 8, "HTTP/2 connections the streams are spread over");
ABSL_FLAG(bool, include_log, true, "ask for the log too");
ABSL_FLAG(bool, health_watch, false,
          "baseline: open grpc.health.v1.Health/Watch streams instead (gRPC's own cost per "
          "stream, without TaskWatchers)");
ABSL_FLAG(int, settle_seconds, 5, "wait after all streams are open before measuring");
ABSL_FLAG(int, measure_seconds, 60, "window over which polls per second are measured");

namespace {

namespace v1 = proxmox::gateway::v1;
using Clock = std::chrono::steady_clock;

long RssKiB(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// One stream: counts events until the server ends it.
class Stream : public grpc::ClientReadReactor<v1::TaskEvent> {
 public:
  Stream(v1::Tasks::Stub* stub, const v1::WatchTaskRequest& request, std::atomic<int>* open,
         std::atomic<int>* ended)
      : open_(open), ended_(ended) {
    stub->async()->WatchTask(&ctx_, &request, this);
    StartRead(&event_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (events_++ == 0) open_->fetch_add(1);
    StartRead(&event_);
  }
  void OnDone(const grpc::Status& status) override {
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      std::fprintf(stderr, "stream ended: %d %s\n", static_cast<int>(status.error_code()),
                   status.error_message().c_str());
    }
    ended_->fetch_add(1);
  }
  void Cancel() { ctx_.TryCancel(); }

 private:
  grpc::ClientContext ctx_;
  v1::TaskEvent event_;
  std::atomic<int>* open_;
  std::atomic<int>* ended_;
  int events_ = 0;
};

// The baseline: one server-streaming call that stays open (gRPC's default health service).
class HealthStream : public grpc::ClientReadReactor<grpc::health::v1::HealthCheckResponse> {
 public:
  HealthStream(grpc::health::v1::Health::Stub* stub, std::atomic<int>* open,
               std::atomic<int>* ended)
      : open_(open), ended_(ended) {
    stub->async()->Watch(&ctx_, &request_, this);
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (reads_++ == 0) open_->fetch_add(1);
    StartRead(&response_);
  }
  void OnDone(const grpc::Status&) override { ended_->fetch_add(1); }
  void Cancel() { ctx_.TryCancel(); }

 private:
  grpc::ClientContext ctx_;
  grpc::health::v1::HealthCheckRequest request_;
  grpc::health::v1::HealthCheckResponse response_;
  std::atomic<int>* open_;
  std::atomic<int>* ended_;
  int reads_ = 0;
};

std::uint64_t BackendCalls(v1::Gateway::Stub& info) {
  grpc::ClientContext ctx;
  v1::GetInfoResponse resp;
  if (!info.GetInfo(&ctx, v1::GetInfoRequest(), &resp).ok()) return 0;
  return resp.task_backend_calls();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string target = absl::GetFlag(FLAGS_target);
  const int pid = absl::GetFlag(FLAGS_gateway_pid);
  const int tasks = absl::GetFlag(FLAGS_tasks);
  const int streams = absl::GetFlag(FLAGS_streams);

  // Start the tasks: create VMs through the API, built from the embedded descriptors.
  google::protobuf::FileDescriptorSet set;
  const absl::string_view bytes = pvegw::api::EmbeddedLeanDescriptorSet();
  set.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::DescriptorPool pool;
  for (const auto& f : set.file()) pool.BuildFile(f);
  const auto* create = pool.FindMethodByName("proxmox.ve.v1.Nodes.PostNodesNodeQemu");
  if (create == nullptr) {
    std::cerr << "PostNodesNodeQemu not in the embedded descriptors\n";
    return 1;
  }
  google::protobuf::DynamicMessageFactory factory(&pool);
  auto api_channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(api_channel);
  std::vector<std::string> upids;
  for (int i = 0; i < tasks; ++i) {
    std::unique_ptr<google::protobuf::Message> req(
        factory.GetPrototype(create->input_type())->New());
    (void)google::protobuf::util::JsonStringToMessage(
        absl::StrCat(R"({"node":"pve1","vmid":)", absl::GetFlag(FLAGS_first_vmid) + i,
                     R"(,"name":"load","memory":"512"})"),
        req.get());
    grpc::ClientContext ctx;
    std::string out = req->SerializeAsString();
    grpc::Slice slice(out);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer reply;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, "/proxmox.ve.v1.Nodes/PostNodesNodeQemu", grpc::StubOptions(), &request,
                      &reply, [&](grpc::Status st) { done.set_value(std::move(st)); });
    grpc::Status st = done.get_future().get();
    if (!st.ok()) {
      std::cerr << "creating VM: " << st.error_message() << "\n";
      return 1;
    }
    std::vector<grpc::Slice> slices;
    (void)reply.Dump(&slices);
    std::string raw;
    for (const auto& s : slices) raw.append(reinterpret_cast<const char*>(s.begin()), s.size());
    std::unique_ptr<google::protobuf::Message> resp(
        factory.GetPrototype(create->output_type())->New());
    resp->ParseFromString(raw);
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(*resp, &json);
    upids.push_back(std::string(boost::json::parse(json).as_object().at("data").as_string()));
  }

  const long rss_before = pid > 0 ? RssKiB(pid) : -1;
  auto info = v1::Gateway::NewStub(api_channel);
  std::vector<std::unique_ptr<v1::Tasks::Stub>> stubs;
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> health_stubs;
  for (int c = 0; c < absl::GetFlag(FLAGS_channels); ++c) {
    grpc::ChannelArguments args;
    args.SetInt("pvegw.load.channel", c);  // distinct args: a connection of its own
    auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    stubs.push_back(v1::Tasks::NewStub(channel));
    health_stubs.push_back(grpc::health::v1::Health::NewStub(channel));
  }
  const bool health = absl::GetFlag(FLAGS_health_watch);
  std::vector<std::unique_ptr<HealthStream>> baseline;
  std::atomic<int> open{0};
  std::atomic<int> ended{0};
  std::vector<std::unique_ptr<Stream>> all;
  const auto t0 = Clock::now();
  for (int i = 0; i < streams; ++i) {
    if (health) {
      baseline.push_back(std::make_unique<HealthStream>(
          health_stubs[static_cast<std::size_t>(i) % health_stubs.size()].get(), &open, &ended));
      continue;
    }
    v1::WatchTaskRequest req;
    req.set_upid(upids[static_cast<std::size_t>(i % tasks)]);
    req.set_include_log(absl::GetFlag(FLAGS_include_log));
    all.push_back(std::make_unique<Stream>(stubs[static_cast<std::size_t>(i) % stubs.size()].get(),
                                           req, &open, &ended));
  }
  while (open.load() + ended.load() < streams && Clock::now() - t0 < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double open_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::seconds(absl::GetFlag(FLAGS_settle_seconds)));
  const long rss_open = pid > 0 ? RssKiB(pid) : -1;
  const std::uint64_t calls0 = BackendCalls(*info);
  const auto m0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(absl::GetFlag(FLAGS_measure_seconds)));
  const std::uint64_t calls1 = BackendCalls(*info);
  const double window = std::chrono::duration<double>(Clock::now() - m0).count();
  const long rss_after = pid > 0 ? RssKiB(pid) : -1;

  std::printf(
      "streams: %d on %d tasks over %zu connections, %d open (first event received) "
      "in %.2f s, %d ended early\n",
      streams, tasks, stubs.size(), open.load(), open_s, ended.load());
  std::printf(
      "gateway RSS: %.1f MiB before the streams, %.1f MiB with them open, %.1f MiB "
      "after the window\n",
      rss_before / 1024.0, rss_open / 1024.0, rss_after / 1024.0);
  std::printf(
      "backend polls (status + log calls): %.2f /s over %.0f s (%.4f per stream per "
      "second, %.3f per task per second)\n",
      (calls1 - calls0) / window, window, (calls1 - calls0) / window / streams,
      (calls1 - calls0) / window / tasks);
  for (auto& s : all) s->Cancel();
  for (auto& s : baseline) s->Cancel();
  while (ended.load() < streams) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return open.load() == streams ? 0 : 1;
}
