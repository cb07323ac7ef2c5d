// Helpers for reading Proxmox's loosely typed JSON schema values.
#ifndef PVEGW_CODEGEN_JSON_UTIL_H_
#define PVEGW_CODEGEN_JSON_UTIL_H_

#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace pvegw::codegen {

// Boost.JSON keys and strings as absl::string_view (Debian's Abseil does not use std's).
inline absl::string_view Sv(boost::json::string_view s) { return {s.data(), s.size()}; }
inline absl::string_view Sv(const boost::json::string& s) { return {s.data(), s.size()}; }

// Proxmox writes flags as 0/1, OpenAPI renderings as false/true; both mean the same.
// Returns nullopt for anything that is not a bool, an integer or a "0"/"1" string.
std::optional<bool> AsBoolish(const boost::json::value& v);

// Numeric value of a JSON number, or of a string holding one (Proxmox writes some
// bounds as strings, e.g. "minimum": "1").
std::optional<double> AsNumber(const boost::json::value& v);

// JSON kind name for error messages: "object", "array", "string", "number", ...
absl::string_view KindName(const boost::json::value& v);

// Text of a scalar as Proxmox would print it: strings verbatim, booleans as 0/1,
// numbers in their shortest round-trip form. Objects/arrays give CanonicalJson.
std::string ScalarText(const boost::json::value& v);

// Deterministic compact JSON: object keys sorted, booleans as 0/1 (the Proxmox
// spelling), numbers in shortest round-trip form. Two renderings of one schema that
// differ only in key order or bool spelling give the same text.
std::string CanonicalJson(const boost::json::value& v);

// Shortest text that reads back as the same double ("16", "0.5", "1e+20").
std::string FormatNumber(double d);

}  // namespace pvegw::codegen

#endif  // PVEGW_CODEGEN_JSON_UTIL_H_
