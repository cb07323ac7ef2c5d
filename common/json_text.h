// JSON values as the text Proxmox puts in query strings, property strings and log fields.
#ifndef PVEGW_COMMON_JSON_TEXT_H_
#define PVEGW_COMMON_JSON_TEXT_H_

#include <boost/json/value.hpp>
#include <optional>
#include <string>

namespace pvegw {

// A scalar's text: strings as they are, integers in decimal, numbers in their shortest
// round-trip form, booleans 1/0 (Proxmox's spelling). nullopt for null, objects and arrays.
std::optional<std::string> JsonScalarText(const boost::json::value& v);
// The same for scalars; null is "", objects and arrays their JSON.
std::string JsonText(const boost::json::value& v);

}  // namespace pvegw

#endif  // PVEGW_COMMON_JSON_TEXT_H_
