// multipart/form-data (RFC 7578 over RFC 2046) as pveproxy accepts it for uploads: a strict
// parser over a body held in memory. Boost.Beast has no multipart parser and Debian packages
// none for C++, so this is small, bounded and fuzzed (fuzz/pve_mock_request_fuzz.cc).
#ifndef PVEGW_PVEMOCK_MULTIPART_H_
#define PVEGW_PVEMOCK_MULTIPART_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pvegw::pvemock {

inline constexpr std::size_t kMaxMultipartParts = 16;
inline constexpr std::size_t kMaxMultipartHeaderBytes = 4096;  // per part

struct MultipartPart {
  std::string disposition;              // "form-data"
  std::string name;                     // the name="..." parameter
  std::optional<std::string> filename;  // the filename="..." parameter, for a file
  std::string content_type;             // empty when the part has none
  absl::string_view data;               // points into the parsed body
};

// The boundary parameter of a Content-Type such as `multipart/form-data; boundary=xyz`
// (quoted or not, 1 to 70 characters of RFC 2046's bchars). INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> MultipartBoundary(absl::string_view content_type);

// Splits `body` into its parts. A preamble before the first delimiter and an epilogue after
// the closing one are ignored; lines end with CRLF or LF (pveproxy's \015?\012). Every part
// needs a Content-Disposition with a name. INVALID_ARGUMENT with a reason for anything else:
// no delimiter, no closing delimiter, a header without ':' or over the limit, too many parts,
// a malformed parameter.
absl::StatusOr<std::vector<MultipartPart>> ParseMultipart(absl::string_view body,
                                                          absl::string_view boundary);

}  // namespace pvegw::pvemock

#endif  // PVEGW_PVEMOCK_MULTIPART_H_
