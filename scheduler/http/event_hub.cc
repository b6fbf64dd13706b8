#include "scheduler/http/event_hub.h"

#include <pthread.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace hai {

EventHub::EventHub(int max_streams, std::function<absl::Time()> last_pass)
    : max_streams_(max_streams), last_pass_(std::move(last_pass)) {}

EventHub::~EventHub() { Stop(); }

void EventHub::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "hai-http-events");
    Run();
  });
}

void EventHub::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::shared_ptr<http::EventStream>> EventHub::Open() {
  absl::MutexLock lock(&mu_);
  streams_.erase(
      std::remove_if(streams_.begin(), streams_.end(), [](const auto& s) { return s->closed(); }),
      streams_.end());
  if (static_cast<int>(streams_.size()) >= max_streams_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many live dashboard streams (server.http_max_event_streams = ", max_streams_, ")"));
  }
  auto stream = std::make_shared<http::EventStream>();
  // The browser retries a dropped stream after `retry` ms.
  stream->Send(absl::StrCat("retry: 2000\nevent: hello\ndata: {\"seq\":", seq_, "}\n\n"));
  streams_.push_back(stream);
  return stream;
}

void EventHub::Note(const std::string& channel) {
  absl::MutexLock lock(&mu_);
  dirty_ = true;
  if (channel == "hai_admin") {
    admin_changed_ = true;
  } else {
    attempts_changed_ = true;
  }
}

void EventHub::SetChangeHook(std::function<std::string(bool)> hook) {
  absl::MutexLock lock(&hook_mu_);
  hook_ = std::move(hook);
}

int EventHub::open_streams() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& s : streams_) n += s->closed() ? 0 : 1;
  return n;
}

void EventHub::Broadcast(const std::string& bytes) {
  streams_.erase(std::remove_if(streams_.begin(), streams_.end(),
                                [&bytes](const auto& s) { return !s->Send(bytes); }),
                 streams_.end());
}

void EventHub::Run() {
  absl::Time last_sent = absl::InfinitePast();
  absl::Time last_beat = absl::Now();
  // Set after a change: the pass that started after it has not been announced yet.
  std::optional<absl::Time> pass_after;
  while (true) {
    absl::MutexLock lock(&mu_);
    // Wake for a change, or every 100 ms while a pass is awaited, else at the heartbeat.
    const absl::Duration wait = pass_after.has_value() ? absl::Milliseconds(100) : absl::Seconds(1);
    mu_.AwaitWithTimeout(absl::Condition(this, &EventHub::Woken), wait);
    if (stopping_) break;
    const absl::Time now = absl::Now();
    if (dirty_ && now - last_sent >= kMinEventGap) {
      const bool admin = admin_changed_, attempts = attempts_changed_;
      dirty_ = admin_changed_ = attempts_changed_ = false;
      // The hook reads Postgres: not under mu_, which Note (the listener's thread) and Open
      // take. A change noted meanwhile is announced by the next event.
      const bool watched = !streams_.empty();
      std::string extra;
      mu_.Unlock();
      {
        absl::MutexLock hook_lock(&hook_mu_);
        if (hook_) extra = hook_(watched);
      }
      mu_.Lock();
      if (stopping_) break;
      ++seq_;
      Broadcast(absl::StrCat("event: change\ndata: {\"seq\":", seq_,
                             ",\"admin\":", admin ? "true" : "false",
                             ",\"attempts\":", attempts ? "true" : "false", extra,
                             ",\"at_ms\":", absl::ToUnixMillis(now), "}\n\n"));
      last_sent = now;
      pass_after = now;  // the pass to announce is one that finished after this change
    } else if (dirty_) {
      // Too soon after the last event: wait out the gap (the change stays noted).
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), kMinEventGap - (now - last_sent));
      continue;
    }
    if (pass_after.has_value() && last_pass_ && last_pass_() > *pass_after) {
      ++seq_;
      Broadcast(absl::StrCat("event: pass\ndata: {\"seq\":", seq_,
                             ",\"at_ms\":", absl::ToUnixMillis(now), "}\n\n"));
      pass_after.reset();
    }
    if (now - last_beat >= kHeartbeat) {
      Broadcast(": keep-alive\n\n");
      last_beat = now;
    }
  }
}

}  // namespace hai
