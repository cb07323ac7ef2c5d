// A mock world for fuzz targets, built once per fuzz process: a private state directory in
// /dev/shm (removed at exit) and a MockBackend over the descriptor set pve-mock serves from.
// Shared by the pve-mock request and custom-data targets.
#ifndef PVEGW_FUZZ_MOCK_WORLD_H_
#define PVEGW_FUZZ_MOCK_WORLD_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "api/api_index.h"
#include "api/embedded_descriptors.h"
#include "mockstate/mock_backend.h"

namespace pvegw::fuzz {

// The process's state directory, made from `templ` (mkdtemp form) on the first call and
// removed when the process exits.
inline const std::string& FuzzStateDir(std::string templ) {
  static const std::string* dir = [&templ] {
    if (mkdtemp(templ.data()) == nullptr) std::abort();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(FuzzStateDir(""), ec);
    });
    return new std::string(templ);
  }();
  return *dir;
}

// A mock world in `dir` with instant tasks; `options` may set more (e.g. custom data).
inline std::unique_ptr<mockstate::MockBackend> MakeMockWorld(const std::string& dir,
                                                             mockstate::MockOptions options = {}) {
  options.store.dir = dir;
  options.store.ns = "fuzz";
  options.task_duration_ms = 0;
  auto api = api::ApiIndex::FromDescriptorSet(api::EmbeddedLeanDescriptorSet());
  if (!api.ok()) std::abort();
  auto mock = mockstate::MockBackend::Create(std::shared_ptr<const api::ApiIndex>(std::move(*api)),
                                             std::move(options));
  if (!mock.ok()) std::abort();
  return std::move(*mock);
}

}  // namespace pvegw::fuzz

#endif  // PVEGW_FUZZ_MOCK_WORLD_H_
