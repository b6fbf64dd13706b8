#include "scheduler/metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/model/tier.h"

namespace hai {
namespace {
void Add(std::string* out, const char* name, const char* type, const char* help, double value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                  value, "\n");
}
void Head(std::string* out, const char* name, const char* type, const char* help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

// Scheduler passes: 1 ms .. 10 s. Waits and latencies: 100 ms .. 1 day.
std::vector<double> PassBounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}
std::vector<double> WaitBounds() {
  return {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600};
}
}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<int64_t>[bounds_.size()]) {
  for (size_t i = 0; i < bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();  // clocks of two hosts
  const double s = absl::ToDoubleSeconds(d);
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), s);
  if (it != bounds_.end()) ++buckets_[it - bounds_.begin()];
  sum_micros_ += absl::ToInt64Microseconds(d);
  ++count_;
}

void Histogram::Render(std::string* out, const std::string& name, const std::string& labels) const {
  // Observe may run meanwhile: the buckets are read first and the count is taken as at
  // least their sum, so +Inf is never below a finite bucket.
  int64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load();
    absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"", bounds_[i], "\"} ", cumulative,
                    "\n");
  }
  const int64_t count = std::max(count_.load(), cumulative);
  const std::string braces = labels.empty() ? "" : absl::StrCat("{", labels, "}");
  absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"+Inf\"} ", count, "\n");
  absl::StrAppend(out, name, "_sum", braces, " ", sum_micros_.load() / 1e6, "\n");
  absl::StrAppend(out, name, "_count", braces, " ", count, "\n");
}

Metrics::Metrics() : pass_seconds(PassBounds()), suspend_latency_seconds(WaitBounds()) {
  for (auto& h : queue_delay_seconds) h = std::make_unique<Histogram>(WaitBounds());
  for (auto& h : submit_to_running_seconds) h = std::make_unique<Histogram>(WaitBounds());
}

void Metrics::SetClusterGauges(std::string text) {
  absl::MutexLock lock(&mu_);
  cluster_gauges_ = std::move(text);
}

std::string Metrics::Render() const {
  std::string out;
  Add(&out, "hai_scheduler_passes_total", "counter", "Scheduling passes completed.",
      scheduler_passes.load());
  Add(&out, "hai_scheduler_pass_errors_total", "counter", "Passes that failed (e.g. DB down).",
      scheduler_pass_errors.load());
  Add(&out, "hai_scheduler_last_pass_seconds", "gauge", "Duration of the last pass.",
      last_pass_micros.load() / 1e6);
  Add(&out, "hai_scheduler_last_pass_timestamp_seconds", "gauge",
      "Unix time the last pass ended (0 before the first).", last_pass_unix_micros.load() / 1e6);
  Add(&out, "hai_scheduler_last_decide_seconds", "gauge",
      "Time the policy core took in the last pass.", last_decide_micros.load() / 1e6);
  Add(&out, "hai_scheduler_last_load_seconds", "gauge",
      "Time the last pass took to read changes from Postgres.", last_load_micros.load() / 1e6);
  Add(&out, "hai_scheduler_last_refresh_rows", "gauge",
      "Open-attempt rows the last pass read (all of them after a start, else changes only).",
      static_cast<double>(last_refresh_rows.load()));
  Add(&out, "hai_scheduler_pass_seconds_total", "counter", "Total time spent in passes.",
      pass_micros_total.load() / 1e6);
  Head(&out, "hai_scheduler_pass_duration_seconds", "histogram", "Duration of scheduling passes.");
  pass_seconds.Render(&out, "hai_scheduler_pass_duration_seconds", "");
  Add(&out, "hai_attempts_started_total", "counter", "Attempts scheduled onto nodes.",
      attempts_started.load());
  Add(&out, "hai_suspends_requested_total", "counter",
      "Suspensions requested by the scheduler (preemptions, over quota, unhealthy nodes).",
      suspends_requested.load());
  Head(&out, "hai_preemptions_total", "counter",
       "Suspensions the scheduling core decided, by kind: preemption (for a higher tier) or "
       "over_quota.");
  absl::StrAppend(&out, "hai_preemptions_total{kind=\"preemption\"} ", preemptions.load(), "\n",
                  "hai_preemptions_total{kind=\"over_quota\"} ", over_quota_suspends.load(), "\n");
  Head(&out, "hai_suspend_notice_to_suspended_seconds", "histogram",
       "From an attempt's suspend notice to its end.");
  suspend_latency_seconds.Render(&out, "hai_suspend_notice_to_suspended_seconds", "");
  Head(&out, "hai_queueing_delay_seconds", "histogram",
       "Attempts from queued to placed on nodes, by tier.");
  for (model::Tier t : model::kTiersDescending) {
    queue_delay_seconds[model::TierIndex(t)]->Render(
        &out, "hai_queueing_delay_seconds",
        absl::StrCat("tier=\"", std::string(model::TierName(t)), "\""));
  }
  Head(&out, "hai_submit_to_running_seconds", "histogram",
       "Attempts from queued to every rank running, by tier.");
  for (model::Tier t : model::kTiersDescending) {
    submit_to_running_seconds[model::TierIndex(t)]->Render(
        &out, "hai_submit_to_running_seconds",
        absl::StrCat("tier=\"", std::string(model::TierName(t)), "\""));
  }
  Add(&out, "hai_stale_decisions_total", "counter",
      "Decisions refused by their guard because the state changed meanwhile.",
      stale_decisions.load());
  Add(&out, "hai_managers_launched_total", "counter", "hai-manager processes started.",
      managers_launched.load());
  Add(&out, "hai_managers_lost_total", "counter", "Managers found dead while their attempt ran.",
      managers_lost.load());
  Head(&out, "hai_managers", "gauge",
       "Managers of node-holding attempts at the last pass: alive, or lost (last found gone or "
       "hung, being replaced).");
  absl::StrAppend(&out, "hai_managers{state=\"alive\"} ", managers_alive.load(), "\n",
                  "hai_managers{state=\"lost\"} ", managers_not_alive.load(), "\n");
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
  absl::MutexLock lock(&mu_);
  out += cluster_gauges_;
  return out;
}

}  // namespace hai
