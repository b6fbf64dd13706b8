#include "scheduler/metrics.h"

#include "absl/strings/str_cat.h"

namespace hai {
namespace {
void Add(std::string* out, const char* name, const char* type, const char* help, double value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                  value, "\n");
}
}  // namespace

std::string Metrics::Render() const {
  std::string out;
  Add(&out, "hai_scheduler_passes_total", "counter", "Scheduling passes completed.",
      scheduler_passes.load());
  Add(&out, "hai_scheduler_pass_errors_total", "counter", "Passes that failed (e.g. DB down).",
      scheduler_pass_errors.load());
  Add(&out, "hai_scheduler_last_pass_seconds", "gauge", "Duration of the last pass.",
      last_pass_micros.load() / 1e6);
  Add(&out, "hai_scheduler_last_decide_seconds", "gauge",
      "Time the policy core took in the last pass.", last_decide_micros.load() / 1e6);
  Add(&out, "hai_scheduler_last_load_seconds", "gauge",
      "Time the last pass took to read changes from Postgres.", last_load_micros.load() / 1e6);
  Add(&out, "hai_scheduler_last_refresh_rows", "gauge",
      "Open-attempt rows the last pass read (all of them after a start, else changes only).",
      static_cast<double>(last_refresh_rows.load()));
  Add(&out, "hai_scheduler_pass_seconds_total", "counter", "Total time spent in passes.",
      pass_micros_total.load() / 1e6);
  Add(&out, "hai_attempts_started_total", "counter", "Attempts scheduled onto nodes.",
      attempts_started.load());
  Add(&out, "hai_suspends_requested_total", "counter", "Preemption suspends requested.",
      suspends_requested.load());
  Add(&out, "hai_stale_decisions_total", "counter",
      "Decisions refused by their guard because the state changed meanwhile.",
      stale_decisions.load());
  Add(&out, "hai_managers_launched_total", "counter", "hai-manager processes started.",
      managers_launched.load());
  Add(&out, "hai_managers_lost_total", "counter", "Managers found dead while their attempt ran.",
      managers_lost.load());
  Add(&out, "hai_submits_total", "counter", "Accepted submits.", submits.load());
  Add(&out, "hai_submits_rejected_total", "counter", "Rejected submits.", rejected_submits.load());
  Add(&out, "hai_attempts_queued", "gauge", "Queued attempts at the last pass.",
      queued_attempts.load());
  Add(&out, "hai_attempts_running", "gauge", "Attempts holding nodes at the last pass.",
      running_attempts.load());
  Add(&out, "hai_quota_problems", "gauge", "Invalid quota rows ignored at the last pass.",
      quota_problems.load());
  Add(&out, "hai_leader", "gauge", "1 while this replica is the leader (schedules), 0 standby.",
      leader.load());
  Add(&out, "hai_leader_epoch", "gauge",
      "Leader epoch this replica leads with (standby: the latest it saw).", leader_epoch.load());
  Add(&out, "hai_leader_transitions_total", "counter",
      "Times this replica became leader or stood down.", leader_transitions.load());
  Add(&out, "hai_leader_fenced_writes_total", "counter",
      "Scheduler writes Postgres refused because a later leader epoch was elected.",
      fenced_writes.load());
  Add(&out, "hai_leader_passes_total", "counter",
      "Scheduling passes completed as leader (a standby's passes only publish views).",
      leader_passes.load());
  return out;
}

}  // namespace hai
