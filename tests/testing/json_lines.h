// Parses text made of JSON objects, one per line (a JSON log), for assertions.
#ifndef PVEGW_TESTS_TESTING_JSON_LINES_H_
#define PVEGW_TESTS_TESTING_JSON_LINES_H_

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace pvegw::testing {

// Every non-empty line as an object; a line that is not JSON fails the test.
inline std::vector<boost::json::object> JsonLines(const std::string& text) {
  std::vector<boost::json::object> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    boost::json::error_code ec;
    boost::json::value v =
        boost::json::parse(boost::json::string_view(line.data(), line.size()), ec);
    EXPECT_FALSE(ec) << "not JSON: " << line;
    if (!ec && v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

}  // namespace pvegw::testing

#endif  // PVEGW_TESTS_TESTING_JSON_LINES_H_
