// Live updates for the dashboard: server-sent-event streams, fed by haid's LISTEN/NOTIFY
// (PgListener hands every notification to Note) instead of pages polling tables.
//
// Notifications are coalesced: the hub's thread sends at most one "change" event per
// kMinEventGap to every stream, naming which channels changed (the payloads are not passed
// on: an attempt id and state of another user's task are not every viewer's to see). A page
// refetches what it shows from the JSON API when one arrives. A change is followed by a
// "pass" event once the scheduler has finished its next pass, so queue positions and pending
// reasons (published per pass) are refetched when they are new. A comment line goes out every
// kHeartbeat so proxies and the browser keep an idle stream open.
//
// Before a change event goes out, the change hook (the dashboard's) runs on the hub's thread,
// outside the streams' lock: it refreshes the map's node snapshot once for every open page
// and returns fields to add to the event ("nodes_version"), so a page fetches only the nodes
// that changed, or nothing when its map is already at that version.
//
// Bounded: at most max_streams streams at once; past that Open is ResourceExhausted (the HTTP
// side answers 503 with a typed error, and the page falls back to a slow refresh).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scheduler/http/http_core.h"

namespace hai {

inline constexpr absl::Duration kMinEventGap = absl::Milliseconds(50);
inline constexpr absl::Duration kHeartbeat = absl::Seconds(15);

class EventHub {
 public:
  // `last_pass` reads the scheduler's last finished pass time (PublishedViews::LastPassAt).
  EventHub(int max_streams, std::function<absl::Time()> last_pass);
  ~EventHub();
  void Start();
  void Stop();

  // A new stream (already carrying a "hello" event), or ResourceExhausted past max_streams.
  absl::StatusOr<std::shared_ptr<http::EventStream>> Open() ABSL_LOCKS_EXCLUDED(mu_);
  // A Postgres notification arrived (any thread; never blocks on a stream).
  void Note(const std::string& channel) ABSL_LOCKS_EXCLUDED(mu_);
  int open_streams() const ABSL_LOCKS_EXCLUDED(mu_);
  // Runs before each change event with whether any stream is open; returns JSON members to
  // add to the event's data (",\"name\":value...", or ""). Null to unset; unsetting waits
  // for a call in progress, so the hook's owner may go away after it.
  void SetChangeHook(std::function<std::string(bool watched)> hook) ABSL_LOCKS_EXCLUDED(hook_mu_);

 private:
  void Run();
  // Sends `bytes` to every live stream and forgets the closed ones.
  void Broadcast(const std::string& bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Woken() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || dirty_; }

  const int max_streams_;
  const std::function<absl::Time()> last_pass_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<http::EventStream>> streams_ ABSL_GUARDED_BY(mu_);
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool admin_changed_ ABSL_GUARDED_BY(mu_) = false;
  bool attempts_changed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
  absl::Mutex hook_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::function<std::string(bool)> hook_ ABSL_GUARDED_BY(hook_mu_);
};

}  // namespace hai
