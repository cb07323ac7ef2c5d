// Scratch directories of the benchmarks (mock worlds in /dev/shm, a few to tens of MB each),
// removed when the benchmark exits normally and also when it is interrupted (SIGINT, SIGTERM,
// SIGHUP): a benchmark run must never leave memory behind in /dev/shm.
#ifndef PVEGW_BENCH_SCRATCH_H_
#define PVEGW_BENCH_SCRATCH_H_

#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <thread>

namespace pvegw::bench {

// Every scratch directory and child process of this process, cleaned up at exit or on a
// signal. Header-only: each benchmark binary has its own.
class Scratch {
 public:
  static Scratch& Get() {
    static Scratch* scratch = new Scratch();  // never destroyed: the signal thread uses it
    return *scratch;
  }

  // Creates a fresh directory from `templ` (mkdtemp syntax: ends in XXXXXX) and registers it;
  // empty when it cannot be created.
  std::string MakeDir(std::string templ) {
    if (::mkdtemp(templ.data()) == nullptr) return "";
    std::lock_guard<std::mutex> lock(mu_);
    dirs_.insert(templ);
    return templ;
  }
  // A child to SIGTERM at exit or on a signal (until Forget).
  void AddChild(pid_t pid) {
    std::lock_guard<std::mutex> lock(mu_);
    children_.insert(pid);
  }
  void ForgetChild(pid_t pid) {
    std::lock_guard<std::mutex> lock(mu_);
    children_.erase(pid);
  }
  // Removes every registered directory now (and signals the children still registered).
  void RemoveAll() {
    std::lock_guard<std::mutex> lock(mu_);
    for (pid_t pid : children_) ::kill(pid, SIGTERM);
    children_.clear();
    for (const std::string& dir : dirs_) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
    dirs_.clear();
  }

  // Call first in main(), before any thread starts: the signals are blocked in every thread
  // and taken by one thread (sigwait), which cleans up and ends the process as the signal
  // would have. Normal exits clean up through atexit.
  static void CleanUpOnSignals() {
    static std::once_flag once;
    std::call_once(once, [] {
      Get();
      sigset_t set;
      sigemptyset(&set);
      for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
      pthread_sigmask(SIG_BLOCK, &set, nullptr);
      std::thread([set] {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) return;
        Get().RemoveAll();
        ::signal(sig, SIG_DFL);
        pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
        ::raise(sig);
        ::_exit(128 + sig);
      }).detach();
      std::atexit([] { Get().RemoveAll(); });
    });
  }

 private:
  Scratch() = default;
  std::mutex mu_;
  std::set<std::string> dirs_;
  std::set<pid_t> children_;
};

}  // namespace pvegw::bench

#endif  // PVEGW_BENCH_SCRATCH_H_
