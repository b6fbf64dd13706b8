// haid's typed access to Postgres, the single source of truth. All of haid's SQL lives in this
// folder. Every write that changes an attempt's state is guarded by the state it expects, so a
// stale decision fails alone (FailedPrecondition) instead of overwriting a newer one.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/config.h"
#include "scheduler/policy/quota.h"
#include "scheduler/policy/types.h"
#include "scheduler/store/leader_fence.h"
#include "scheduler/store/loop_store.h"
#include "scheduler/store/pool.h"
#include "scheduler/store/rows.h"
#include "scheduler/store/submit_batcher.h"

namespace hai::store {

class Store final : public LoopStore {
 public:
  explicit Store(std::unique_ptr<ConnectionPool> pool);
  ~Store() override;

  // ---- identity and admin tables
  // NotFound when no user has this token hash.
  absl::StatusOr<User> UserByTokenHash(const std::string& token_hash);
  // Registers the local runtime's configured nodes (origin 'config'); rows an admin added by
  // SQL are left alone, and an admin's state change (cordon) on a config node is kept.
  absl::Status UpsertConfigNodes(const std::vector<LocalNodeConfig>& nodes);
  absl::StatusOr<std::vector<HostRow>> LoadHosts() override;
  absl::StatusOr<std::vector<policy::QuotaRow>> LoadQuotaRows() override;
  // user name -> groups, for every user.
  absl::StatusOr<std::map<std::string, std::vector<std::string>>> LoadUserGroups() override;
  // Python interpreter of a train environment; NotFound when unknown.
  absl::StatusOr<std::string> EnvironmentExists(const std::string& name);

  // ---- admin operations (user_admin_store.cc)
  // AlreadyExists when the name is taken; groups are created when missing.
  absl::StatusOr<User> AddUser(const std::string& name, const std::string& role,
                               const std::vector<std::string>& groups,
                               const std::string& token_hash);
  absl::StatusOr<std::vector<User>> ListUsers();
  absl::StatusOr<User> SetUserActive(const std::string& name, bool active);  // NotFound
  absl::Status SetUserTokenHash(const std::string& name, const std::string& token_hash);
  absl::StatusOr<std::vector<int64_t>> OpenChainsOf(const std::string& user);
  // Inserts or replaces the (owner_kind, owner, resource) row.
  absl::Status UpsertQuota(const policy::QuotaRow& row);
  absl::Status AddNode(const policy::Node& node);  // AlreadyExists
  // Sets hosts.state/state_reason; returns the open attempts holding the node. NotFound.
  absl::StatusOr<std::vector<int64_t>> SetNodeState(const std::string& node, model::NodeState state,
                                                    const std::string& reason);

  // Marks `unhealthy` every node (not already unhealthy) that lost at least `threshold` ranks
  // in the last 10 minutes and since its state last changed (so an admin's uncordon clears
  // the count). Returns node -> open attempts still holding it.
  absl::StatusOr<std::map<std::string, std::vector<int64_t>>> MarkUnhealthyNodes(
      int threshold) override;

  // ---- chains and attempts
  // Inserts the chain and its first queued attempt (atomically). AlreadyExists when the
  // user has an open chain of that name. Thread-safe; concurrent calls are written together
  // in one statement (group commit, submit_batcher.h).
  absl::StatusOr<Chain> CreateChain(const NewChain& c, int initial_tier);
  // Statements CreateChain has written and the chains in them (group-commit effect).
  int64_t chain_statements() const;
  int64_t chains_created() const;
  // The chain with every attempt and their pods; NotFound when absent.
  absl::StatusOr<Chain> GetChain(int64_t chain_id);
  // The user's open chain with this name, else their newest chain with it.
  absl::StatusOr<int64_t> FindChainByName(const std::string& user, const std::string& name);
  // The user's chains without a final state (queued, running, suspended, held), counted up
  // to `up_to` (the per-user cap, so the count costs at most that many index entries).
  absl::StatusOr<int64_t> CountOpenChains(const std::string& user, int64_t up_to);
  // Chains (current attempt only), newest first. user empty = every user.
  absl::StatusOr<std::vector<Chain>> ListChains(const std::string& user, bool include_finished,
                                                int limit);
  // Every attempt in queued/scheduled/starting/running with its chain and pods.
  absl::StatusOr<std::vector<OpenAttempt>> LoadOpenAttempts();
  // Change tracking (sql/migrations/0003_change_tracking.sql, open_attempt_store.cc).
  // since == 0: every open attempt (full). Otherwise the attempts written, or whose chain was
  // written, by transactions not visible to the read that returned `since`, plus the
  // `recheck` ids (reported closed when they no longer exist). Heartbeat-only updates are
  // not changes; read those with LoadManagerLiveness.
  absl::StatusOr<OpenAttemptChanges> LoadOpenAttemptChanges(
      uint64_t since, const std::vector<int64_t>& recheck = {}) override;
  // Current manager pid and heartbeat of these attempts (absent ids are omitted).
  absl::StatusOr<std::map<int64_t, ManagerLiveness>> LoadManagerLiveness(
      const std::vector<int64_t>& attempt_ids) override;

  // ---- scheduler decisions (guarded)
  // queued -> scheduled with one pods row per rank. FailedPrecondition when no longer queued.
  absl::Status ScheduleAttempt(int64_t attempt_id, int tier,
                               const std::vector<policy::RankPlacement>& placement) override;
  // Marks a running attempt suspend-requested (idempotent). FailedPrecondition when it ended.
  absl::Status RequestSuspend(int64_t attempt_id, int64_t preemptor_chain_id,
                              const std::string& reason, const std::string& actor) override;
  absl::Status SetAttemptTier(int64_t attempt_id, int from_tier, int to_tier,
                              const std::string& why) override;
  // Records that haid gave up on an attempt's manager: the attempt fails with `reason`, and
  // the `cordon` nodes are cordoned (loop_store.h).
  absl::Status FailAttempt(int64_t attempt_id, const std::string& reason,
                           const std::vector<std::string>& cordon,
                           const std::string& cordon_reason) override;

  // ---- user operations on a chain
  absl::StatusOr<StopOutcome> RequestStop(int64_t chain_id, const std::string& actor) override;
  // User suspend: hold the chain; a running attempt is asked to suspend. Returns the attempt
  // id that must be told (0 when none was running).
  absl::StatusOr<int64_t> HoldChain(int64_t chain_id, const std::string& actor);
  // Clears the hold; requeues the chain when no attempt is open.
  absl::Status ResumeChain(int64_t chain_id, const std::string& actor);
  absl::Status SetChainPriority(int64_t chain_id, int priority, const std::string& actor);

  // ---- in-task control (HTTP side port)
  // The open attempt whose task token hashes to `token_hash`; PermissionDenied otherwise.
  absl::StatusOr<OpenAttempt> AttemptForTaskToken(int64_t attempt_id,
                                                  const std::string& token_hash);
  absl::Status MarkGoSuspend(int64_t attempt_id);
  absl::Status SetWholeLifeState(int64_t chain_id, int value);
  // Whether a Jupyter container's server (attempt `attempt_id`) may let in the holder of the
  // access token hashing to `access_token_hash`, by the current rows: OK when it is the
  // container's token and its owner is active and still has the API token it was derived
  // from; PermissionDenied saying which is not so (docs/security.md).
  absl::Status CheckJupyterAccess(int64_t attempt_id, const std::string& access_token_hash);

  // ---- leader fencing (loop_store.h EpochFence, leader_fence.h)
  void FenceWrites(int64_t epoch) override;
  int64_t SupersededBy() const override { return superseded_by_.load(); }
  absl::Status VerifyEpoch() override;

  ConnectionPool& pool() { return *pool_; }

 private:
  // pool_->Write with the leader check first in the transaction: the lease row read FOR
  // SHARE (so no take-over commits between the check and this write's commit) must still
  // carry the fenced epoch. A refusal is logged, remembered (SupersededBy) and returned as
  // LeaderSuperseded; later fenced writes are refused without a round trip.
  absl::Status FencedWrite(const std::string& what,
                           const std::function<absl::Status(pqxx::work&)>& fn);
  // The check itself, inside `tx`; the epoch it checked in *epoch (kUnfenced: none).
  absl::Status CheckFence(pqxx::work& tx, const std::string& what, int64_t* epoch);

  // The two statements behind CreateChain: one chain, or several (one result each).
  absl::StatusOr<Chain> CreateChainAlone(const NewChain& c, int initial_tier);
  absl::StatusOr<std::vector<absl::StatusOr<Chain>>> CreateChainBatch(
      const std::vector<ChainRequest>& requests);

  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<SubmitBatcher> submits_;
  std::atomic<int64_t> fence_epoch_{kUnfenced};
  std::atomic<int64_t> superseded_by_{0};
};

}  // namespace hai::store
