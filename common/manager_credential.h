// Per-attempt credentials of the manager API (proto/hai/v1/manager.proto). haid holds one key
// (the manager_api_key row, migration 0012) and derives the credential of attempt N as
// hex(HMAC-SHA256(key, "hai-manager:N")): every replica can check it without storing a secret
// per attempt, a manager keeps working across a haid restart, and a credential opens only
// its own attempt (the generation in Postgres fences the managers of that attempt).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hai {

// gRPC metadata key carrying the credential.
inline constexpr char kManagerCredentialHeader[] = "hai-manager-credential";

// A new key: 32 bytes from the OS CSPRNG, hex encoded.
std::string NewManagerKey();

// The credential of `attempt_id` under `key_hex` (64 hex chars).
std::string ManagerCredential(std::string_view key_hex, int64_t attempt_id);

// Whether `presented` is the credential of `attempt_id` (constant-time comparison).
bool VerifyManagerCredential(std::string_view key_hex, int64_t attempt_id,
                             std::string_view presented);

}  // namespace hai
