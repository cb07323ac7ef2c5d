#include "tests/testing/mockstate_test_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace pvegw::mockstate::testing {

ScratchSpace::ScratchSpace() {
  std::string templ = "/dev/shm/pvegw-test-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  dir_ = templ;
}

ScratchSpace::~ScratchSpace() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

StoreOptions ScratchSpace::Options(std::size_t capacity) const {
  StoreOptions o;
  o.dir = dir_;
  o.ns = "test";
  o.capacity_bytes = capacity;
  return o;
}

pid_t Spawn(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 99;
    try {
      rc = body();
    } catch (...) {
      rc = 98;
    }
    ::_exit(rc);
  }
  return pid;
}

int WaitFor(pid_t pid, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -2;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::shared_ptr<const api::ApiIndex> FullApi() {
  static std::shared_ptr<const api::ApiIndex> api = [] {
    std::ifstream in(PVEGW_API_DESCRIPTORS, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    absl::StatusOr<std::unique_ptr<api::ApiIndex>> index =
        api::ApiIndex::FromDescriptorSet(buffer.str());
    if (!index.ok()) {
      ADD_FAILURE() << index.status();
      return std::shared_ptr<const api::ApiIndex>();
    }
    return std::shared_ptr<const api::ApiIndex>(std::move(*index));
  }();
  return api;
}

absl::StatusOr<std::unique_ptr<MockBackend>> SeededWorld(const ScratchSpace& space) {
  MockOptions options;
  options.store = space.Options();
  return MockBackend::Create(FullApi(), options);
}

}  // namespace pvegw::mockstate::testing
