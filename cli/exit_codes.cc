// Error -> exit code mapping of hai-cli; see exit_codes.h.
#include "cli/exit_codes.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"

namespace hai::cli {
namespace {

// Payload key marking a status as a local usage error; the value is irrelevant.
constexpr absl::string_view kUsagePayload = "hai.cli/usage";

}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUsagePayload, absl::Cord("1"));
  return status;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

absl::Status FromRpcStatus(const grpc::Status& status, absl::string_view url) {
  if (status.ok()) return absl::OkStatus();
  // grpc::StatusCode and absl::StatusCode share the canonical numbering.
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  std::string message = status.error_message();
  if (message.empty()) message = absl::StatusCodeToString(code);
  if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded) {
    message = absl::StrCat("cannot reach haid at ", url, ": ", message);
  }
  return absl::Status(code, message);
}

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  if (IsUsageError(status)) return kExitUsage;
  switch (status.code()) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitAuth;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAlreadyExists:  // e.g. an open task of that name: change the request
      return kExitRejected;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    default:
      return kExitFailure;
  }
}

int ExitCodeForFinalState(hai::v1::Task::State final_state, int exit_code) {
  if (final_state == hai::v1::Task::SUCCEEDED) return kExitOk;
  if (final_state == hai::v1::Task::STOPPED) return kExitStopped;
  if (final_state == hai::v1::Task::FAILED) {
    // A shell sees only the low 8 bits; 0 or out-of-range codes (signals reported as
    // negatives) must still read as failure.
    return (exit_code >= 1 && exit_code <= 255) ? exit_code : kExitFailure;
  }
  return kExitFailure;
}

}  // namespace hai::cli
