// FakePodRuntime: ranks as plain records, driven by the test (Exit, Lose, Straggle) and by the
// lifecycle's signals, with the semantics the local runtime gives them:
//   SIGTERM  a running rank exits 143 (unless it ignores SIGTERM) and nothing of it is left;
//            an exited rank's stragglers go;
//   SIGKILL  a running rank is gone without an exit status (phase kLost, as a killed rank
//            supervisor leaves no exit file); stragglers go.
// A rank exists in `ranks` from Start, or beforehand when the test seeds one an earlier
// manager started (Adopt finds it by id; Start adopts it too, being idempotent per rank).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "manager/runtime/pod_runtime.h"

namespace hai::manager::testing {

struct FakeRank {
  int64_t id = 0;
  PodSpec spec;  // as given to Start or Adopt
  PodStatus status;
  bool tracked = false;            // started or adopted by this manager
  bool ignores_sigterm = false;    // SIGTERM does nothing: only the kill grace's SIGKILL ends it
  int sigterm_exit_code = 143;     // what a rank that honours SIGTERM exits with
  std::vector<PodSignal> signals;  // in the order received
};

class FakePodRuntime : public PodRuntime {
 public:
  absl::StatusOr<int64_t> Start(const PodSpec& spec) override {
    if (on_start) on_start(spec.rank);
    if (auto it = start_errors.find(spec.rank); it != start_errors.end()) return it->second;
    // Idempotent per rank, as PodRuntime::Start promises: a rank an earlier manager started
    // (seeded, not yet tracked by this one) is adopted, not started again.
    if (auto it = ranks.find(spec.rank); it != ranks.end() && !it->second.tracked) {
      it->second.spec = spec;
      it->second.tracked = true;
      ++start_adoptions;
      return it->second.id;
    }
    FakeRank& r = ranks[spec.rank];
    r.id = next_id++;
    r.spec = spec;
    r.tracked = true;
    r.status = PodStatus{};
    r.status.started = !starts_waiting;
    ++starts;
    return r.id;
  }
  absl::Status Adopt(int rank, int64_t id, const PodSpec& spec) override {
    auto it = ranks.find(rank);
    if (it == ranks.end() || it->second.id != id) {
      return absl::NotFoundError(absl::StrCat("no rank ", rank, " with id ", id));
    }
    it->second.spec = spec;
    it->second.tracked = true;
    ++adopts;
    return absl::OkStatus();
  }
  absl::StatusOr<PodStatus> Poll(int rank) override {
    auto it = ranks.find(rank);
    if (it == ranks.end() || !it->second.tracked) {
      return absl::NotFoundError(absl::StrCat("rank ", rank, " is not tracked"));
    }
    return it->second.status;
  }
  absl::Status Signal(int rank, PodSignal signal) override {
    FakeRank& r = ranks.at(rank);
    r.signals.push_back(signal);
    const bool running = r.status.phase == PodStatus::Phase::kRunning;
    if (signal == PodSignal::kTerminate) {
      if (r.ignores_sigterm) return absl::OkStatus();
      if (running) Exit(rank, r.sigterm_exit_code);
    } else if (running) {
      Lose(rank, "");
    }
    r.status.alive = false;
    return absl::OkStatus();
  }
  std::string ServiceHost() override { return service_host; }
  absl::Status Release() override {
    ++releases;
    return absl::OkStatus();
  }

  // ---- the test's hands
  // The rank's command ends with `code`; nothing of it is left.
  void Exit(int rank, int code) {
    PodStatus& s = ranks.at(rank).status;
    s.phase = PodStatus::Phase::kExited;
    s.exit_code = code;
    s.started = true;
    s.alive = false;
  }
  // The command ends with `code` but a child keeps the rank's resources until signalled.
  void ExitLeavingStraggler(int rank, int code) {
    Exit(rank, code);
    ranks.at(rank).status.alive = true;
  }
  // The rank's command is killed by a SIGKILL hai did not send (`kill -9 0`, its own OOM).
  void KillItself(int rank) {
    Exit(rank, 137);
    ranks.at(rank).status.self_inflicted = true;
    ranks.at(rank).status.reason = "the task was killed by SIGKILL that hai did not send";
  }
  // The rank vanishes without an exit status (its node died, or someone killed it).
  void Lose(int rank, const std::string& reason) {
    PodStatus& s = ranks.at(rank).status;
    s.phase = PodStatus::Phase::kLost;
    s.reason = reason;
    s.alive = false;
  }
  // The prepared rank's command begins (a runtime that reported started = false).
  void BeginCommand(int rank) { ranks.at(rank).status.started = true; }
  // A rank an earlier manager started, for adoption.
  void SeedRunning(int rank, int64_t id) {
    FakeRank& r = ranks[rank];
    r.id = id;
    r.status = PodStatus{};
  }
  const std::vector<PodSignal>& SignalsOf(int rank) { return ranks.at(rank).signals; }

  std::map<int, FakeRank> ranks;
  std::map<int, absl::Status> start_errors;  // Start of that rank fails so
  bool starts_waiting = false;             // Start reports started = false (Kubernetes: image pull)
  std::string service_host;                // "" = no address yet (Jupyter's Tick does nothing)
  std::function<void(int rank)> on_start;  // runs first in every Start
  int64_t next_id = 1000;
  int starts = 0;
  int adopts = 0;
  int start_adoptions = 0;  // Starts that found the rank already started
  int releases = 0;
};

}  // namespace hai::manager::testing
