// Wakes the scheduler when Postgres says something changed: an admin edited a table
// (channel hai_admin, fired by the migrations' triggers) or an attempt changed state
// (hai_attempts, e.g. a manager finished one). Runs on its own thread with its own connection
// and reconnects with backoff if Postgres goes away.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace hai {

class PgListener {
 public:
  // on_change(channel, payload) runs on the listener thread.
  PgListener(std::string url, std::function<void(const std::string&, const std::string&)> on_change)
      : url_(std::move(url)), on_change_(std::move(on_change)) {}
  ~PgListener() { Stop(); }
  void Start();
  void Stop();

 private:
  void Run();
  std::string url_;
  std::function<void(const std::string&, const std::string&)> on_change_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace hai
