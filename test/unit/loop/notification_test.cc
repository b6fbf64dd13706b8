// How haid reads a NOTIFY (scheduler/events/notification.h); fuzz/notify_payload_fuzz.cc
// feeds it arbitrary payloads, these are the ones the triggers send and a few that no
// trigger sends but any SQL session could.
#include "scheduler/events/notification.h"

#include "gtest/gtest.h"

namespace hai::events {
namespace {

using Kind = Notification::Kind;

TEST(NotificationTest, TriggerPayloads) {
  EXPECT_EQ(ParseNotification("hai_admin", "users").kind, Kind::kAdminChanged);
  EXPECT_EQ(ParseNotification("hai_admin", "reconnected").kind, Kind::kReconnected);
  const Notification d = ParseNotification("hai_attempts", "42:deleted");
  EXPECT_EQ(d.kind, Kind::kAttemptDeleted);
  EXPECT_EQ(d.attempt_id, 42);
  EXPECT_EQ(ParseNotification("hai_attempts", "42:running").kind, Kind::kChanged);
  EXPECT_EQ(ParseNotification("hai_attempts", "inserted").kind, Kind::kChanged);
}

TEST(NotificationTest, ForeignPayloadsOnlyWake) {
  for (const char* p : {"", ":deleted", "x:deleted", "0:deleted", "-5:deleted",
                        "99999999999999999999:deleted", "1:2:deleted", "deleted"}) {
    EXPECT_EQ(ParseNotification("hai_attempts", p).kind, Kind::kChanged) << p;
  }
  // An admin-channel payload is never read as an attempt's.
  EXPECT_EQ(ParseNotification("hai_admin", "42:deleted").kind, Kind::kAdminChanged);
}

}  // namespace
}  // namespace hai::events
