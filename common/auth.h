// Tokens: users' bearer tokens and per-attempt task tokens are stored only as SHA-256 hex
// digests; the plaintext exists only in the client's config or the pod's environment.
#pragma once

#include <string>
#include <string_view>

namespace hai {

// Lower-case hex SHA-256 of `token` (matches Postgres encode(sha256(token), 'hex')).
std::string HashToken(std::string_view token);

// A new random token: 32 bytes from the OS CSPRNG, hex encoded (64 chars).
std::string NewToken();

// Extracts the token from an "authorization" header value "Bearer <token>" (case-insensitive
// scheme); returns "" when the value is not a bearer credential.
std::string BearerToken(std::string_view header_value);

}  // namespace hai
