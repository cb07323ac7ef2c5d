#include "api/upid.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace pvegw::api {
namespace {

// Proxmox node names: alphanumerics with inner dashes.
bool ValidNode(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) continue;
    if (c == '-' && i != 0 && i + 1 != s.size()) continue;
    return false;
  }
  return true;
}

bool ValidWord(absl::string_view s, bool may_be_empty) {
  if (s.empty()) return may_be_empty;
  for (char c : s) {
    if (c == '/' || absl::ascii_isspace(static_cast<unsigned char>(c)) || c < 0x20) return false;
  }
  return true;
}

bool ParseHex(absl::string_view s, std::size_t min_digits, std::size_t max_digits,
              std::uint64_t* out) {
  if (s.size() < min_digits || s.size() > max_digits) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
    const int d = absl::ascii_isdigit(static_cast<unsigned char>(c))
                      ? c - '0'
                      : absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    v = v * 16 + static_cast<std::uint64_t>(d);
  }
  *out = v;
  return true;
}

}  // namespace

absl::StatusOr<Upid> ParseUpid(absl::string_view text) {
  constexpr std::size_t kMaxUpid = 512;
  auto bad = [&](absl::string_view what) {
    std::string shown(text.substr(0, 80));
    if (text.size() > 80) shown += "...";
    return absl::InvalidArgumentError(absl::StrCat("malformed UPID '", shown, "': ", what,
                                                   " (expected UPID:node:pid:pstart:starttime:"
                                                   "type:id:user:)"));
  };
  if (text.size() > kMaxUpid) return bad("longer than 512 characters");
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.empty() || parts[0] != "UPID") return bad("it does not start with 'UPID:'");
  if (parts.size() != 9 || !parts[8].empty()) {
    return bad(absl::StrCat("it has ", parts.size() - 1,
                            " ':'-separated parts after 'UPID' instead of 8 (with the trailing "
                            "colon)"));
  }
  Upid upid;
  if (!ValidNode(parts[1])) return bad(absl::StrCat("node '", parts[1], "' is not a node name"));
  upid.node = std::string(parts[1]);
  std::uint64_t v = 0;
  if (!ParseHex(parts[2], 8, 8, &v)) {
    return bad(absl::StrCat("pid '", parts[2], "' is not 8 hex digits"));
  }
  upid.pid = static_cast<std::uint32_t>(v);
  if (!ParseHex(parts[3], 8, 9, &upid.pstart)) {
    return bad(absl::StrCat("pstart '", parts[3], "' is not 8 or 9 hex digits"));
  }
  if (!ParseHex(parts[4], 8, 8, &v)) {
    return bad(absl::StrCat("starttime '", parts[4], "' is not 8 hex digits"));
  }
  upid.starttime = static_cast<std::int64_t>(v);
  if (!ValidWord(parts[5], false)) return bad(absl::StrCat("type '", parts[5], "' is invalid"));
  if (!ValidWord(parts[6], true)) return bad(absl::StrCat("id '", parts[6], "' is invalid"));
  if (!ValidWord(parts[7], false)) return bad(absl::StrCat("user '", parts[7], "' is invalid"));
  upid.type = std::string(parts[5]);
  upid.id = std::string(parts[6]);
  upid.user = std::string(parts[7]);
  return upid;
}

std::string FormatUpid(const Upid& upid) {
  return absl::StrFormat("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", upid.node, upid.pid, upid.pstart,
                         upid.starttime, upid.type, upid.id, upid.user);
}

}  // namespace pvegw::api
