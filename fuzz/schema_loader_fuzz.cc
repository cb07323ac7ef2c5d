// pve-protogen's input: any bytes as a schema (OpenAPI JSON, an apidoc tree, or apidoc.js
// with its JavaScript wrapper), and when it loads, the whole generation (proto model, field
// numbers, printing). A clear error or protos, never a crash.
#include <cstdint>
#include <string>

#include "codegen/protogen.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // A missing lock file is a fresh start: numbers assigned anew, as without --lock.
  auto lock = pvegw::codegen::FieldLock::Load("/nonexistent/pvegw-fuzz-lock.json");
  if (!lock.ok()) __builtin_trap();
  (void)pvegw::codegen::GenerateFromText(text, "fuzz-schema", "fuzz.v1", *lock);
  return 0;
}
