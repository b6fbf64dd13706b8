// PgAttemptStore: the Postgres implementation of AttemptStore (manager/attempt_store.h), the
// only place hai-manager runs SQL. Lock order matches haid's writers (chain row, then attempt
// row, then pods rows; pg::LockChainOfAttempt) so a user's stop, haid failing a lost manager
// and this manager recording a rank serialise instead of deadlocking. Rows are read by column
// name (pg_rows.h). Endings go through the one writer, lifecycle::EndAttempt.
// Fencing (attempt_store.h): the claim increments attempts.manager_generation and keeps the
// value; every later write checks it in its transaction (after the chain lock every claim
// also takes, or in the UPDATE's own WHERE on the attempt row), so a write of a superseded
// manager is refused with ManagerSuperseded and changes nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "manager/attempt_store.h"

namespace hai::manager {

class PgAttemptStore : public AttemptStore {
 public:
  static absl::StatusOr<std::unique_ptr<PgAttemptStore>> Connect(const std::string& url,
                                                                 int64_t attempt_id,
                                                                 ManagerIdentity me);
  // A store for one call of the manager API (scheduler/managerapi): it runs on `conn`, a
  // connection haid borrowed from its pool for the call, and acts as the manager `me` that
  // holds `generation` (-1 before its claim). Nothing outlives the call; the fencing is the
  // same as in the manager's own store.
  static std::unique_ptr<PgAttemptStore> Borrowing(pqxx::connection& conn, int64_t attempt_id,
                                                   ManagerIdentity me, int64_t generation);
  // The generation this store's claim got (or it was given); -1 when none.
  int64_t generation() const { return generation_; }

  absl::StatusOr<ClaimResult> Claim(const std::string& token_hash) override;
  absl::Status SetTokenHash(const std::string& token_hash) override;
  absl::StatusOr<ControlState> Heartbeat() override;
  absl::Status PodStartIntended(int rank) override;
  absl::Status PodStarted(int rank, int64_t runtime_id, bool waiting) override;
  absl::Status PodWaiting(int rank, bool waiting) override;
  absl::Status AttemptRunning() override;
  absl::Status PodEnded(int rank, model::PodState pod_state, std::optional<int> exit_code) override;
  absl::StatusOr<model::AttemptState> Finish(const AttemptOutcome& outcome) override;
  std::string StopActor() override;

  // Jupyter (pg_jupyter_store.cc).
  absl::StatusOr<JupyterPodInfo> LoadJupyter() override;
  absl::Status ReportJupyterAddress(const std::string& host, int port) override;
  absl::Status ReportJupyterStatus(std::optional<absl::Time> activity) override;

 private:
  PgAttemptStore(std::unique_ptr<pqxx::connection> conn, std::string url, int64_t attempt_id,
                 ManagerIdentity me)
      : owned_(std::move(conn)),
        conn_(owned_.get()),
        url_(std::move(url)),
        attempt_id_(attempt_id),
        me_(std::move(me)) {}
  absl::Status Reconnect();
  // Claim's transaction (pg_claim.cc).
  absl::Status ClaimIn(pqxx::work& tx, const std::string& token_hash, ClaimResult* result);
  // The chain lock (pg::LockChainOfAttempt, which every claim takes first), then the
  // attempt's generation: ManagerSuperseded unless it is still this manager's. Also learns
  // the chain id (a borrowed store has not seen the claim). Writes that
  // touch more than the attempt row begin with it.
  absl::Status LockAsOwner(pqxx::work& tx);
  // ManagerSuperseded with the generation the row carries now (a conditioned UPDATE of the
  // attempt row found none of ours).
  absl::Status Superseded(pqxx::work& tx);

  std::unique_ptr<pqxx::connection> owned_;  // null when borrowed (Borrowing)
  pqxx::connection* conn_;
  std::string url_;  // "" when borrowed: the lender reconnects
  int64_t attempt_id_;
  int64_t chain_id_ = 0;  // known once claimed
  ManagerIdentity me_;
  // attempts.manager_generation as this manager's claim set it; -1 before the claim (no
  // write is allowed then).
  int64_t generation_ = -1;
};

}  // namespace hai::manager
