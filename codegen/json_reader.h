// Strict JSON reading for schema inputs: positions in errors, duplicate keys rejected.
#ifndef PVEGW_CODEGEN_JSON_READER_H_
#define PVEGW_CODEGEN_JSON_READER_H_

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pvegw::codegen {

// Deepest nesting accepted in a schema document (the PVE 9 apidoc tree is ~30 deep).
inline constexpr std::size_t kMaxJsonDepth = 256;

// One parsed JSON value and where it ended in the text it came from.
struct ParsedJson {
  boost::json::value value;
  std::size_t end_offset = 0;  // offset just past the value in the full text
};

// Parses the JSON value that starts at `offset` in `text`. Unlike boost::json::parse,
// an object with a repeated key is an error (a schema with two `GET`s for one path must
// not silently lose one). With `allow_trailing` the text after the value is left alone
// (apidoc.js carries viewer JavaScript after the array); otherwise only whitespace may
// follow. Errors are INVALID_ARGUMENT and name `file_name:line:column`.
absl::StatusOr<ParsedJson> ParseJsonStrict(absl::string_view text, std::size_t offset,
                                           absl::string_view file_name, bool allow_trailing);

// "line:column" (1-based) of a byte offset in `text`.
std::string LineColumn(absl::string_view text, std::size_t offset);

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_JSON_READER_H_
