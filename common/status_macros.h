// Small Status helpers: Abseil 20220623 lacks RETURN_IF_ERROR / ASSIGN_OR_RETURN.
#ifndef PVEGW_COMMON_STATUS_MACROS_H_
#define PVEGW_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the current function when `expr` (an absl::Status) is not OK.
#define PVEGW_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status pvegw_status_ = (expr);         \
    if (!pvegw_status_.ok()) return pvegw_status_; \
  } while (false)

#define PVEGW_STATUS_CONCAT_INNER_(a, b) a##b
#define PVEGW_STATUS_CONCAT_(a, b) PVEGW_STATUS_CONCAT_INNER_(a, b)

// `PVEGW_ASSIGN_OR_RETURN(auto x, MakeX());` declares/assigns the value of an
// absl::StatusOr or returns its status from the current function.
#define PVEGW_ASSIGN_OR_RETURN(lhs, expr) \
  PVEGW_ASSIGN_OR_RETURN_IMPL_(PVEGW_STATUS_CONCAT_(pvegw_statusor_, __LINE__), lhs, expr)

#define PVEGW_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()

#endif  // PVEGW_COMMON_STATUS_MACROS_H_
