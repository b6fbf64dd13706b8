// Tokens: users' bearer tokens and per-attempt task tokens are stored only as SHA-256 hex
// digests; the plaintext exists only in the client's config or the pod's environment.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hai {

// Lower-case hex SHA-256 of `token` (matches Postgres encode(sha256(token), 'hex')).
std::string HashToken(std::string_view token);

// The access token of Jupyter container `chain_id` for its owner holding API token
// `owner_token`: hex HMAC-SHA256 keyed by the owner's token. Deterministic, so asking for the
// URL again gives the same one, and a different token once the owner's token is rotated; it
// reveals nothing of the owner's token. Only its hash is stored (docs/security.md).
std::string JupyterAccessToken(int64_t chain_id, std::string_view owner_token);

// A new random token: 32 bytes from the OS CSPRNG, hex encoded (64 chars).
std::string NewToken();

// Extracts the token from an "authorization" header value "Bearer <token>" (case-insensitive
// scheme); returns "" when the value is not a bearer credential.
std::string BearerToken(std::string_view header_value);

}  // namespace hai
