// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Debian's abseil (20220623) does not ship them.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HAI_CONCAT_INNER(a, b) a##b
#define HAI_CONCAT(a, b) HAI_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status hai_status_ = (expr);             \
    if (!hai_status_.ok()) return hai_status_;       \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  HAI_ASSIGN_OR_RETURN_IMPL(HAI_CONCAT(hai_statusor_, __LINE__), lhs, expr)

#define HAI_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return statusor.status();        \
  lhs = std::move(statusor).value()
