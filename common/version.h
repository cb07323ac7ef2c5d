// The project's version (CMake's PROJECT_VERSION), the same in every binary and in GetInfo.
#ifndef PVEGW_COMMON_VERSION_H_
#define PVEGW_COMMON_VERSION_H_

#ifndef PVEGW_VERSION
#error "PVEGW_VERSION comes from CMake (target pvegw::common)"
#endif

namespace pvegw {

inline constexpr char kVersion[] = PVEGW_VERSION;

}  // namespace pvegw

#endif  // PVEGW_COMMON_VERSION_H_
