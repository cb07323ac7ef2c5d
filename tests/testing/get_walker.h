// Finds plausible parameters for any GET operation the way a client would: path
// parameters from the parent collection's listing (creating an entry when it is empty),
// required query parameters generated to pass the schema's checks.
#ifndef PVEGW_TESTS_TESTING_GET_WALKER_H_
#define PVEGW_TESTS_TESTING_GET_WALKER_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "api/api_index.h"
#include "common/rest_call.h"

namespace pvegw::testing {

struct ResolvedCall {
  std::string path;                                              // concrete, percent-escaped
  std::vector<std::pair<std::string, std::string>> path_params;  // Proxmox name -> value
  RestParams query;                                              // required non-path parameters
};

class GetWalker {
 public:
  using RestFn = std::function<RestResponse(const RestRequest&)>;
  GetWalker(const api::ApiIndex& api, RestFn call) : api_(api), call_(std::move(call)) {}

  ResolvedCall Resolve(const api::ApiOperation& op);
  // Entries the walker tried to create (for empty collections) and could not.
  const std::vector<std::string>& create_failures() const { return create_failures_; }

 private:
  std::string ParamValue(const api::ApiOperation& op, std::size_t i, const std::string& parent);
  const api::ApiIndex& api_;
  RestFn call_;
  std::vector<std::string> create_failures_;
};

}  // namespace pvegw::testing

#endif  // PVEGW_TESTS_TESTING_GET_WALKER_H_
