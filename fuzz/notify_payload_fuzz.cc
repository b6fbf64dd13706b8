// NOTIFY payloads as haid's listener reads them (scheduler/events/notification.h): any
// channel and payload give a Notification; a deleted attempt always names a positive id
// that the payload spells.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_check.h"
#include "scheduler/events/notification.h"

using hai::events::Notification;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string channel =
      in.PickValueInArray<std::string>({"hai_admin", "hai_attempts", "other"});
  const std::string payload = in.ConsumeRemainingBytesAsString();
  const Notification n = hai::events::ParseNotification(channel, payload);
  if (channel == "hai_admin") {
    FUZZ_CHECK(
        n.kind == Notification::Kind::kAdminChanged || n.kind == Notification::Kind::kReconnected,
        "admin channel read as an attempt change");
  }
  if (n.kind == Notification::Kind::kAttemptDeleted) {
    FUZZ_CHECK(n.attempt_id > 0, "deleted attempt %lld", static_cast<long long>(n.attempt_id));
    FUZZ_CHECK(absl::EndsWith(payload, ":deleted"), "'%s' read as a delete", payload.c_str());
    FUZZ_CHECK(absl::StrContains(payload, absl::StrCat(n.attempt_id)), "id not in '%s'",
               payload.c_str());
  }
  return 0;
}
