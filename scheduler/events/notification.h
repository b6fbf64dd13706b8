// What a Postgres NOTIFY that reaches haid says, read from its channel and payload (the
// senders are the migrations' triggers and PgListener itself):
//   hai_admin      <table name>               an admin table changed (0001_init.sql)
//   hai_admin      reconnected                the listener (re)connected (pg_listener.cc)
//   hai_attempts   <attempt_id>:deleted       an attempt row was deleted (0003)
//   hai_attempts   <attempt_id>:<state>, inserted   any other attempt change (0001, 0005)
// Payloads are outside input (any SQL session may NOTIFY on these channels), so reading one
// never fails: whatever is not understood is a plain change that only wakes the loop.
// Pure and header-only; fuzzed by fuzz/notify_payload_fuzz.cc.
#pragma once

#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"

namespace hai::events {

struct Notification {
  enum class Kind {
    kAdminChanged,    // reload the admin tables
    kReconnected,     // the listener connected (again): notifications may have been missed
    kAttemptDeleted,  // attempt_id's row is gone: recheck it
    kChanged,         // anything else: wake the loop
  };
  Kind kind = Kind::kChanged;
  int64_t attempt_id = 0;  // kAttemptDeleted only
};

inline Notification ParseNotification(absl::string_view channel, absl::string_view payload) {
  Notification n;
  if (channel == "hai_admin") {
    n.kind = payload == "reconnected" ? Notification::Kind::kReconnected
                                      : Notification::Kind::kAdminChanged;
    return n;
  }
  constexpr absl::string_view kDeleted = ":deleted";
  if (absl::EndsWith(payload, kDeleted)) {
    int64_t id = 0;
    if (absl::SimpleAtoi(payload.substr(0, payload.size() - kDeleted.size()), &id) && id > 0) {
      n.kind = Notification::Kind::kAttemptDeleted;
      n.attempt_id = id;
    }
  }
  return n;
}

}  // namespace hai::events
