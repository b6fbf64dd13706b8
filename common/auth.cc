#include "common/auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace hai {

std::string HashToken(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  // Debian's abseil has its own string_view type, distinct from std::string_view.
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string JupyterAccessToken(int64_t chain_id, std::string_view owner_token) {
  const std::string message = absl::StrCat("hai-jupyter-access:v1:", chain_id);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), owner_token.data(), static_cast<int>(owner_token.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &size);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(size)));
}

std::string NewToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();  // no entropy: nothing is safe
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(bytes), 32));
}

std::string BearerToken(std::string_view header_value) {
  absl::string_view v =
      absl::StripAsciiWhitespace(absl::string_view(header_value.data(), header_value.size()));
  if (v.size() < 7 || !absl::StartsWithIgnoreCase(v, "bearer ")) return "";
  return std::string(absl::StripAsciiWhitespace(v.substr(7)));
}

}  // namespace hai
