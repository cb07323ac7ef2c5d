// api::ParseUpid: any text is a UPID or INVALID_ARGUMENT; a parsed UPID formats back to a
// text that parses to the same parts.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "api/upid.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto upid = pvegw::api::ParseUpid(text);
  if (!upid.ok()) return 0;
  auto again = pvegw::api::ParseUpid(pvegw::api::FormatUpid(*upid));
  if (!again.ok() || again->node != upid->node || again->pid != upid->pid ||
      again->pstart != upid->pstart || again->starttime != upid->starttime ||
      again->type != upid->type || again->id != upid->id || again->user != upid->user) {
    std::abort();  // formatting is not the inverse of parsing
  }
  return 0;
}
