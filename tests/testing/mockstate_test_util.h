// Helpers for mockstate tests: private namespaces, child processes with deadlines.
#ifndef PVEGW_TESTS_MOCKSTATE_MOCKSTATE_TEST_UTIL_H_
#define PVEGW_TESTS_MOCKSTATE_MOCKSTATE_TEST_UTIL_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "api/api_index.h"
#include "mockstate/mock_backend.h"
#include "mockstate/store.h"

namespace pvegw::mockstate::testing {

// A store directory and namespace private to one test, removed afterwards.
class ScratchSpace {
 public:
  ScratchSpace();
  ~ScratchSpace();
  ScratchSpace(const ScratchSpace&) = delete;
  ScratchSpace& operator=(const ScratchSpace&) = delete;
  StoreOptions Options(std::size_t capacity = kDefaultCapacityBytes) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// Forks; the child runs `body` and exits with its return value (no gtest in the child).
pid_t Spawn(const std::function<int()>& body);
// Waits for `pid` at most `timeout_ms`; returns its exit code, or -1 after killing it on
// timeout (a deadlock), or 128+signal if it died of a signal.
int WaitFor(pid_t pid, int timeout_ms);

// The API index of the full descriptor set the build produced.
std::shared_ptr<const api::ApiIndex> FullApi();

// A freshly seeded mock world over the full API in `space`.
absl::StatusOr<std::unique_ptr<MockBackend>> SeededWorld(const ScratchSpace& space);

}  // namespace pvegw::mockstate::testing

#endif  // PVEGW_TESTS_MOCKSTATE_MOCKSTATE_TEST_UTIL_H_
