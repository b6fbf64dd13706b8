#include "scheduler/api/auth.h"

#include "absl/strings/str_cat.h"
#include "common/auth.h"

namespace hai::api {

absl::StatusOr<store::User> Authenticate(const grpc::ServerContext& context,
                                         store::Store& store) {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return absl::UnauthenticatedError(
        "no token: run `hai-cli init TOKEN --url HOST:PORT` first");
  }
  std::string token = BearerToken(std::string_view(it->second.data(), it->second.size()));
  if (token.empty()) {
    return absl::UnauthenticatedError("authorization metadata must be 'Bearer <token>'");
  }
  auto user = store.UserByTokenHash(HashToken(token));
  if (absl::IsNotFound(user.status())) {
    return absl::UnauthenticatedError(
        "unknown token: ask an admin for a valid one and run `hai-cli init TOKEN`");
  }
  if (!user.ok()) return user.status();
  if (!user->active) {
    return absl::PermissionDeniedError(absl::StrCat("user ", user->name, " is disabled"));
  }
  return user;
}

}  // namespace hai::api
