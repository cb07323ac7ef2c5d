// The build's descriptor set as an ApiIndex (the real PVE API, 646 operations), loaded once
// per test binary.
#ifndef PVEGW_TESTS_API_FULL_API_H_
#define PVEGW_TESTS_API_FULL_API_H_

#include <fstream>
#include <sstream>

#include "api/api_index.h"
#include "gtest/gtest.h"

namespace pvegw::api::testing {

inline const ApiIndex& FullApi() {
  static const ApiIndex* index = [] {
    std::ifstream in(PVEGW_API_DESCRIPTORS, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    auto built = ApiIndex::FromDescriptorSet(buffer.str());
    if (!built.ok()) ADD_FAILURE() << built.status();
    return built.ok() ? std::move(*built).release() : nullptr;
  }();
  if (index == nullptr) std::abort();  // the descriptor set of the build is unusable
  return *index;
}

}  // namespace pvegw::api::testing

#endif  // PVEGW_TESTS_API_FULL_API_H_
