// The store as the scheduling loop sees it: one narrow interface per unit of the loop, so
// each unit states what it may read and write, and its unit test (test/unit/loop) runs on an
// in-memory fake. store::Store (Postgres) implements all of them. No pqxx here: the loop's
// library and tests must not link the database client.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "scheduler/policy/quota.h"
#include "scheduler/policy/types.h"
#include "scheduler/store/rows.h"

namespace hai::store {

// What a pass reads: open attempts by change tracking, and the admin tables.
class LoopReads {
 public:
  virtual ~LoopReads() = default;
  // since == 0: every open attempt (full). Otherwise the attempts written, or whose chain was
  // written, by transactions not visible to the read that returned `since`, plus the
  // `recheck` ids (reported closed when they no longer exist).
  virtual absl::StatusOr<OpenAttemptChanges> LoadOpenAttemptChanges(
      uint64_t since, const std::vector<int64_t>& recheck) = 0;
  virtual absl::StatusOr<std::vector<HostRow>> LoadHosts() = 0;
  virtual absl::StatusOr<std::vector<policy::QuotaRow>> LoadQuotaRows() = 0;
  // user name -> groups, for every user.
  virtual absl::StatusOr<std::map<std::string, std::vector<std::string>>> LoadUserGroups() = 0;
};

// The guarded writes a plan makes. Each is one transaction that checks the state it expects
// and fails alone (FailedPrecondition) when the decision is stale.
class PlanWrites {
 public:
  virtual ~PlanWrites() = default;
  // queued -> scheduled with one pods row per rank.
  virtual absl::Status ScheduleAttempt(int64_t attempt_id, int tier,
                                       const std::vector<policy::RankPlacement>& placement) = 0;
  // Marks a running attempt suspend-requested (idempotent).
  virtual absl::Status RequestSuspend(int64_t attempt_id, int64_t preemptor_chain_id,
                                      const std::string& reason, const std::string& actor) = 0;
  virtual absl::Status SetAttemptTier(int64_t attempt_id, int from_tier, int to_tier,
                                      const std::string& why) = 0;
};

// What manager supervision reads (heartbeats are not change-tracked) and its one write.
class SupervisionRecords {
 public:
  virtual ~SupervisionRecords() = default;
  // Current manager pid, start time, host and silence (by Postgres' clock) of these attempts
  // (absent ids are omitted).
  virtual absl::StatusOr<std::map<int64_t, ManagerLiveness>> LoadManagerLiveness(
      const std::vector<int64_t>& attempt_ids) = 0;
  // haid gave up on the attempt's manager and ended its ranks: the attempt fails with
  // `reason`, and in the same transaction the `cordon` nodes (where ranks could not be
  // confirmed gone) that are ready become cordoned with `cordon_reason`, so their GPUs are
  // not handed out.
  virtual absl::Status FailAttempt(int64_t attempt_id, const std::string& reason,
                                   const std::vector<std::string>& cordon,
                                   const std::string& cordon_reason) = 0;
};

// Node health: nodes that keep losing ranks, and the suspension of what runs on them.
class NodeHealthRecords {
 public:
  virtual ~NodeHealthRecords() = default;
  // Marks unhealthy every node that lost at least `threshold` ranks recently (store.h);
  // returns node -> open attempts still holding it.
  virtual absl::StatusOr<std::map<std::string, std::vector<int64_t>>> MarkUnhealthyNodes(
      int threshold) = 0;
  virtual absl::Status RequestSuspend(int64_t attempt_id, int64_t preemptor_chain_id,
                                      const std::string& reason, const std::string& actor) = 0;
};

// The leader epoch the scheduler's writes carry (leader_fence.h). The loop sets it at the
// start of every pass; each write of PlanWrites, SupervisionRecords and NodeHealthRecords
// then checks, in its own transaction, that the epoch is still current, and is refused with
// LeaderSuperseded when it is not. After the first refusal every later write of the pass is
// refused without asking Postgres again.
class EpochFence {
 public:
  virtual ~EpochFence() = default;
  // kUnfenced: no check; 0: a standby (every fenced write refused); else the leader's epoch.
  // Clears what SupersededBy reported.
  virtual void FenceWrites(int64_t epoch) = 0;
  // The later epoch a write of this fence was refused for, 0 when none was.
  virtual int64_t SupersededBy() const = 0;
  // Reads whether the fenced epoch is still current, recording a refusal like a write does
  // (before acting on processes, which Postgres cannot fence). Unavailable when unreachable.
  virtual absl::Status VerifyEpoch() = 0;
};

// Everything the loop uses, for the Scheduler that wires the units together.
class LoopStore : public LoopReads,
                  public PlanWrites,
                  public SupervisionRecords,
                  public NodeHealthRecords,
                  public EpochFence {
 public:
  // A chain stopped while its suspended attempt was being requeued: end it.
  virtual absl::StatusOr<StopOutcome> RequestStop(int64_t chain_id, const std::string& actor) = 0;
};

}  // namespace hai::store
