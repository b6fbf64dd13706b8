#include "scheduler/events/pg_listener.h"

#include <pqxx/pqxx>

#include <chrono>

#include "common/log.h"

namespace hai {
namespace {

class Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection& c, const std::string& channel,
           const std::function<void(const std::string&, const std::string&)>& fn)
      : pqxx::notification_receiver(c, channel), fn_(fn) {}
  void operator()(const std::string& payload, int) override { fn_(channel(), payload); }

 private:
  const std::function<void(const std::string&, const std::string&)>& fn_;
};

}  // namespace

void PgListener::Start() { thread_ = std::thread([this] { Run(); }); }

void PgListener::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void PgListener::Run() {
  pthread_setname_np(pthread_self(), "hai-pg-listen");
  int backoff_ms = 200;
  while (!stopping_) {
    try {
      pqxx::connection conn(url_);
      Receiver admin(conn, "hai_admin", on_change_);
      Receiver attempts(conn, "hai_attempts", on_change_);
      backoff_ms = 200;
      // A reconnect may have missed notifications: report a change so the caller reloads.
      on_change_("hai_admin", "reconnected");
      while (!stopping_) conn.await_notification(0, 200000);
    } catch (const std::exception& e) {
      if (stopping_) break;
      HAI_LOG(WARNING) << "LISTEN connection lost (" << e.what() << "); retrying in "
                       << backoff_ms << " ms";
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, 5000);
    }
  }
}

}  // namespace hai
