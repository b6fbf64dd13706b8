#include "common/manager_credential.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/auth.h"

namespace hai {

std::string NewManagerKey() { return NewToken(); }  // 32 CSPRNG bytes, hex

std::string ManagerCredential(std::string_view key_hex, int64_t attempt_id) {
  const std::string message = absl::StrCat("hai-manager:", attempt_id);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_hex.data(), static_cast<int>(key_hex.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), len));
}

bool VerifyManagerCredential(std::string_view key_hex, int64_t attempt_id,
                             std::string_view presented) {
  if (key_hex.empty()) return false;
  const std::string want = ManagerCredential(key_hex, attempt_id);
  return presented.size() == want.size() &&
         CRYPTO_memcmp(presented.data(), want.data(), want.size()) == 0;
}

}  // namespace hai
