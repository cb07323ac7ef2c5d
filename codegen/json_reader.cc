#include "codegen/json_reader.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pvegw::codegen {
namespace {

namespace json = boost::json;

// Builds a json::value like json::parser does, and additionally tracks the keys of every
// open object so that duplicates are reported instead of silently dropped.
struct StrictHandler {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::vector<std::unordered_set<std::string>> open_keys;
  std::string pending_key;
  std::string duplicate_key;  // set when a duplicate was found

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    open_keys.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code&) {
    open_keys.pop_back();
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    pending_key.append(s.data(), s.size());
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    pending_key.append(s.data(), s.size());
    if (!open_keys.back().insert(pending_key).second) {
      duplicate_key = pending_key;
      ec = json::make_error_code(json::error::syntax);
      return false;
    }
    pending_key.clear();
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::string LineColumn(absl::string_view text, std::size_t offset) {
  if (offset > text.size()) offset = text.size();
  std::size_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return absl::StrCat(line, ":", offset - line_start + 1);
}

absl::StatusOr<ParsedJson> ParseJsonStrict(absl::string_view text, std::size_t offset,
                                           absl::string_view file_name, bool allow_trailing) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  json::basic_parser<StrictHandler> parser(options);
  parser.handler().st.reset();

  json::error_code ec;
  const absl::string_view rest = text.substr(offset);
  const std::size_t used = parser.write_some(false, rest.data(), rest.size(), ec);
  const std::size_t where = offset + used;
  if (ec) {
    if (!parser.handler().duplicate_key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(file_name, ":", LineColumn(text, where),
                                                     ": duplicate key \"",
                                                     parser.handler().duplicate_key, "\""));
    }
    if (where >= text.size()) {
      return absl::InvalidArgumentError(absl::StrCat(file_name, ":", LineColumn(text, where),
                                                     ": JSON ends too early (truncated file?)"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ":", LineColumn(text, where), ": invalid JSON: ", ec.message()));
  }
  if (!parser.done()) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ":", LineColumn(text, where),
                                                   ": JSON ends too early (truncated file?)"));
  }
  if (!allow_trailing) {
    for (std::size_t i = where; i < text.size(); ++i) {
      if (!IsJsonSpace(text[i])) {
        return absl::InvalidArgumentError(absl::StrCat(file_name, ":", LineColumn(text, i),
                                                       ": unexpected text after the JSON value"));
      }
    }
  }
  ParsedJson result;
  result.value = parser.handler().st.release();
  result.end_offset = where;
  return result;
}

}  // namespace pvegw::codegen
