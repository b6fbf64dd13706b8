// Tests of the exit-code contract scripts rely on.
#include "cli/exit_codes.h"

#include "gmock/gmock.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"

namespace hai::cli {
namespace {

int CodeForRpc(grpc::StatusCode code) {
  return ExitCodeFor(FromRpcStatus(grpc::Status(code, "msg"), "h:1"));
}

TEST(ExitCodes, RpcCodesMapToTheDocumentedValues) {
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::OK), 0);
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::UNAUTHENTICATED), 3);
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::PERMISSION_DENIED), 3);
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::NOT_FOUND), 4);
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::INVALID_ARGUMENT), 5);
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::FAILED_PRECONDITION), 5);
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::RESOURCE_EXHAUSTED), 5);
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::UNAVAILABLE), 6);
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::DEADLINE_EXCEEDED), 6);
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::INTERNAL), 1);
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::UNKNOWN), 1);
  EXPECT_EQ(CodeForRpc(grpc::StatusCode::ALREADY_EXISTS), 5);  // e.g. task name in use
}

TEST(ExitCodes, LocalUsageErrorsAreTwoNotFive) {
  // Both are "invalid argument"; only the server's one means "haid said no".
  EXPECT_EQ(ExitCodeFor(UsageError("bad flag")), 2);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("from server")), 5);
  EXPECT_TRUE(IsUsageError(UsageError("x")));
  EXPECT_FALSE(IsUsageError(absl::InvalidArgumentError("x")));
}

TEST(ExitCodes, UnreachableNamesTheUrl) {
  const absl::Status s = FromRpcStatus(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses"),
      "h:7611");
  EXPECT_EQ(s.message(), "cannot reach haid at h:7611: failed to connect to all addresses");
  // Other errors carry the server's message unchanged.
  EXPECT_EQ(FromRpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "no task 42"), "h:1")
                .message(),
            "no task 42");
}

TEST(ExitCodes, FollowedTaskOutcome) {
  EXPECT_EQ(ExitCodeForFinalState(hai::v1::Task::SUCCEEDED, 0), 0);
  EXPECT_EQ(ExitCodeForFinalState(hai::v1::Task::FAILED, 3), 3);
  EXPECT_EQ(ExitCodeForFinalState(hai::v1::Task::FAILED, 0), 1);    // failed without a code
  EXPECT_EQ(ExitCodeForFinalState(hai::v1::Task::FAILED, -9), 1);   // killed by a signal
  EXPECT_EQ(ExitCodeForFinalState(hai::v1::Task::FAILED, 256), 1);  // would wrap to 0 in the shell
  EXPECT_EQ(ExitCodeForFinalState(hai::v1::Task::STOPPED, 0), 130);
  EXPECT_EQ(ExitCodeForFinalState(hai::v1::Task::STOPPED, 143), 130);
  EXPECT_EQ(ExitCodeForFinalState(hai::v1::Task::SUSPENDED, 0), 1);
}

}  // namespace
}  // namespace hai::cli
