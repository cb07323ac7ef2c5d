// Renders the ProtoApi as .proto source text.
#ifndef PVEGW_CODEGEN_PROTO_PRINTER_H_
#define PVEGW_CODEGEN_PROTO_PRINTER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "codegen/proto_model.h"

namespace pvegw::codegen {

// The full text of one service's .proto file. Deterministic: the same ProtoApi always
// gives the same bytes (no dates, paths or input-format details in the output).
std::string PrintProtoFile(const ProtoApi& api, const ProtoService& service);

// The text of property_strings.proto: api.property_messages (empty when there are none).
std::string PrintPropertyStringsFile(const ProtoApi& api);

// A proto string literal for `s`, with quotes; control bytes escaped, UTF-8 kept.
std::string ProtoStringLiteral(absl::string_view s);

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_PROTO_PRINTER_H_
