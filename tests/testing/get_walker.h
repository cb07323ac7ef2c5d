// Finds plausible parameters for any GET operation the way a client would: path
// parameters from the parent collection's listing (creating an entry when it is empty),
// required query parameters generated to pass the schema's checks.
#ifndef PVEGW_TESTS_TESTING_GET_WALKER_H_
#define PVEGW_TESTS_TESTING_GET_WALKER_H_

#include <boost/json.hpp>
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

// Values a real host never sends, found anywhere in `v` and added to `found` as
// "where.path=value": generated fillers such as "encrypted-603a", "path-e7b5", "key-147c"
// (a word and four hex digits), "mock comment", "value-1a2b".
void FindPlaceholders(const boost::json::value& v, const std::string& where,
                      std::vector<std::string>& found);

// The field of answer message `d` that key `key` of Proxmox's JSON fills: by its wire name, or
// an indexed field ("net3" for net[n]); nullptr for a key the schema does not declare.
const google::protobuf::FieldDescriptor* AnswerField(const google::protobuf::Descriptor* d,
                                                     const std::string& key);

}  // namespace pvegw::testing

#endif  // PVEGW_TESTS_TESTING_GET_WALKER_H_
