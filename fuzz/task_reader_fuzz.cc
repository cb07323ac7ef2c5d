// The WatchTask status/log reader: a task watch whose every status call is answered with
// the first part of the input and every log call with the second (split at the first NUL
// byte); 1 byte picks the HTTP status of each. The watch streams events and ends with a
// status (or at its deadline), never a crash or a hang.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "absl/strings/match.h"
#include "gateway/backend/backend.h"
#include "gateway/task_watchers.h"

namespace {

using pvegw::RestRequest;
using pvegw::RestResponse;

constexpr char kUpid[] = "UPID:pve1:0000C0DE:0001E240:6740A1B2:qmstart:100:root@pam:";

// Answers from the current input, synchronously on the poller's thread.
class InputBackend : public pvegw::gateway::Backend {
 public:
  void Set(std::string status_body, std::string log_body, int status_code, int log_code) {
    std::lock_guard<std::mutex> lock(mu_);
    status_body_ = std::move(status_body);
    log_body_ = std::move(log_body);
    status_code_ = status_code;
    log_code_ = log_code;
  }
  void Call(RestRequest request, pvegw::gateway::RestCallback done) override {
    RestResponse r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const bool log = absl::EndsWith(request.path, "/log");
      r.status = log ? log_code_ : status_code_;
      r.body = log ? log_body_ : status_body_;
      if (r.status != 200) r.reason = "fuzzed failure";
    }
    done(std::move(r));
  }
  std::string mode() const override { return "fuzz"; }

 private:
  std::mutex mu_;
  std::string status_body_;
  std::string log_body_;
  int status_code_ = 200;
  int log_code_ = 200;
};

class Sink : public pvegw::gateway::TaskEventSink {
 public:
  pvegw::gateway::TaskWatchers* watchers = nullptr;
  pvegw::gateway::TaskWatchers::Handle handle;

  void SendEvent(const proxmox::gateway::v1::TaskEvent& event) override {
    (void)event.ByteSizeLong();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return handle != nullptr; });  // Watch() has returned
    auto h = handle;
    lock.unlock();
    watchers->WriteDone(h, true);
  }
  void End(const proxmox::gateway::v1::TaskEvent* last, const absl::Status& status) override {
    (void)last;
    (void)status;
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }
  void SetHandle(pvegw::gateway::TaskWatchers::Handle h) {
    std::lock_guard<std::mutex> lock(mu_);
    handle = std::move(h);
    cv_.notify_all();
  }
  bool WaitEnd(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [this] { return ended_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool ended_ = false;
};

struct World {
  InputBackend backend;
  pvegw::gateway::TaskWatchers watchers;
  static pvegw::gateway::TaskWatchersOptions Options() {
    pvegw::gateway::TaskWatchersOptions o;
    o.poll_initial = std::chrono::milliseconds(1);
    o.poll_max = std::chrono::milliseconds(1);
    o.max_consecutive_failures = 1;
    o.log_page_lines = 50;
    o.random = [] { return 0.5; };
    return o;
  }
  World() : watchers(backend, Options()) {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* world = new World;  // one timer thread for the whole run
  if (size < 1) return 0;
  static const int kCodes[] = {200, 200, 200, 500, 596, 404};
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t nul = rest.find('\0');
  world->backend.Set(rest.substr(0, nul), nul == std::string::npos ? "" : rest.substr(nul + 1),
                     kCodes[data[0] % 6], kCodes[(data[0] / 6) % 6]);
  pvegw::gateway::WatchSpec spec;
  spec.upid = kUpid;
  spec.node = "pve1";
  spec.include_log = (data[0] & 0x80) == 0;
  spec.unary = (data[0] & 0x40) != 0;
  spec.log_start = data[0] & 0x3;
  // A task the answers keep "running" polls until here.
  spec.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  Sink sink;
  sink.watchers = &world->watchers;
  sink.SetHandle(world->watchers.Watch(spec, &sink));
  if (!sink.WaitEnd(std::chrono::seconds(10))) {
    world->watchers.Cancel(sink.handle);
    if (!sink.WaitEnd(std::chrono::seconds(10))) __builtin_trap();  // a watch that never ends
  }
  return 0;
}
