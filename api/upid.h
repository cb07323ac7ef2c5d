// Proxmox task ids (UPIDs): parsing and formatting, shared by the mock and the gateway.
#ifndef PVEGW_API_UPID_H_
#define PVEGW_API_UPID_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pvegw::api {

// UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>: (PVE::UPID encode/decode):
// pid 8 hex digits, pstart 8-9, starttime 8 (upper case written, either case read); type
// and user non-empty, id may be empty; none of type/id/user contains ':', '/' or spaces.
struct Upid {
  std::string node;
  std::uint32_t pid = 0;
  std::uint64_t pstart = 0;
  std::int64_t starttime = 0;
  std::string type;
  std::string id;
  std::string user;  // a user id or a token id (user@realm!name)
};

// INVALID_ARGUMENT naming the part that is wrong ("UPID ...: pid '12' is not 8 hex digits").
absl::StatusOr<Upid> ParseUpid(absl::string_view text);
// The canonical spelling, trailing colon included.
std::string FormatUpid(const Upid& upid);

}  // namespace pvegw::api

#endif  // PVEGW_API_UPID_H_
