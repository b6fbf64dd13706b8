// The exit codes of hai-cli, a contract scripts rely on, and the mapping from errors to them.
// Local mistakes (bad flags, missing script, no config) are usage errors (2) and are told
// apart from the server's INVALID_ARGUMENT (5) by a payload on the absl::Status, because both
// are "invalid argument" in canonical-code terms but mean different things to a script.
#pragma once


#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "hai/v1/task.pb.h"

namespace grpc {
class Status;
}

namespace hai::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // anything not listed below
  kExitUsage = 2,        // bad command line or local input, not configured
  kExitAuth = 3,         // UNAUTHENTICATED, PERMISSION_DENIED
  kExitNotFound = 4,     // NOT_FOUND
  kExitRejected = 5,     // INVALID_ARGUMENT, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, ALREADY_EXISTS
  kExitUnreachable = 6,  // UNAVAILABLE, DEADLINE_EXCEEDED
  kExitStopped = 130,    // `logs -f` / `-f`: the followed task was stopped
};

// Help footer listing the codes above; shown by every command's --help. 6 covers an untrusted
// TLS certificate too: to a script, haid is then as unusable as when it is down.
inline constexpr char kExitCodeHelp[] =
    "Exit codes: 0 ok; 2 usage or bad local input; 3 not authenticated / permission denied;\n"
    "4 task or object not found; 5 rejected by haid (invalid argument, precondition, quota, name "
    "in use);\n"
    "6 cannot reach haid (unavailable, deadline exceeded) or cannot trust it (TLS certificate\n"
    "not verified by the CA file or system store); 1 anything else.\n"
    "With -f (follow) the code is the task's: 0 succeeded, its exit code (1 if none) when\n"
    "failed, 130 when stopped.\n"
    "Config: ~/.hai/config.toml (or $HAI_CONFIG_DIR/config.toml); $HAI_URL, $HAI_TOKEN,\n"
    "$HAI_CA_FILE override.";

// An InvalidArgument status marked as a local usage error (exit code 2).
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& status);

// gRPC status -> absl::Status with the same canonical code and the server's message;
// UNAVAILABLE and DEADLINE_EXCEEDED become "cannot reach haid at <url>: <detail>".
absl::Status FromRpcStatus(const grpc::Status& status, absl::string_view url);

// The exit code for an error returned by a command (0 for OK).
int ExitCodeFor(const absl::Status& status);

// The exit code of a followed task from the final chunk of its log stream: 0 when
// succeeded, its exit code when failed (1 if it has none, is 0, or is outside 1..255),
// 130 when stopped, 1 for any other final state.
int ExitCodeForFinalState(hai::v1::Task::State final_state, int exit_code);

}  // namespace hai::cli
