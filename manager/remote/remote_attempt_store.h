// RemoteAttemptStore: the AttemptStore (manager/attempt_store.h) over haid's manager API
// (proto/hai/v1/manager.proto), so a manager holds no Postgres connection of its own; haid
// runs the same SQL as PgAttemptStore on its pooled connections and batches the heartbeats.
//
// Fencing stays in Postgres: the store keeps the generation its claim got and sends it with
// every write; a refusal comes back as ManagerSuperseded. haid being away (restarting, or one
// replica of several gone) is not the attempt's failure: a call that finds no haid
// (UNAVAILABLE, a deadline, RESOURCE_EXHAUSTED) moves to the next endpoint and retries with
// backoff, for up to `retry_for` (every call but the heartbeat, whose failure the lifecycle
// already rides out by keeping its ranks running and asking again next beat, and the Jupyter
// reports and the stop actor, which are repeated or optional). A retried write
// may have committed the first time; each is safe to repeat (a repeated claim takes the next
// generation, a repeated end is refused as already ended, which the lifecycle accepts).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "common/clock.h"
#include "hai/v1/manager.grpc.pb.h"
#include "manager/attempt_store.h"

namespace hai::manager {

struct RemoteStoreOptions {
  std::vector<std::string> endpoints;  // host:port (or unix:PATH) of haid replicas, in order
  // TLS to host:port endpoints (haid's [tls] on): verified against ca_pem, else the system's
  // roots. unix: endpoints are local sockets only root reaches: plaintext there.
  bool tls = false;
  std::string ca_pem;
  std::string credential;              // the attempt's manager credential
  absl::Duration call_timeout = absl::Seconds(10);
  absl::Duration retry_for = absl::Minutes(5);  // how long a call keeps retrying a missing haid
  absl::Duration backoff_initial = absl::Milliseconds(200);
  absl::Duration backoff_max = absl::Seconds(5);
  std::function<bool()> shutdown_requested;  // stops retrying (SIGTERM)
};

// The channel to one haid endpoint, with the arguments that keep an idle manager small.
std::shared_ptr<grpc::Channel> MakeManagerChannel(const std::string& endpoint, bool tls,
                                                  const std::string& ca_pem);

class RemoteAttemptStore : public AttemptStore {
 public:
  RemoteAttemptStore(int64_t attempt_id, ManagerIdentity me, RemoteStoreOptions options,
                     Clock& clock);

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
  absl::StatusOr<JupyterPodInfo> LoadJupyter() override;
  absl::Status ReportJupyterAddress(const std::string& host, int port) override;
  absl::Status ReportJupyterStatus(std::optional<absl::Time> activity) override;

  // Which endpoint the next call goes to (tests).
  size_t current_endpoint() const { return current_; }

 private:
  // Runs `rpc(stub, context)` against the current endpoint; a call that finds no haid moves
  // on to the next endpoint and, when `retry`, is repeated with backoff for up to retry_for
  // (otherwise each endpoint is tried once).
  absl::Status Call(
      const char* what, bool retry,
      const std::function<grpc::Status(v1::ManagerService::Stub&, grpc::ClientContext&)>& rpc);
  absl::Status Write(v1::ManagerWrite& write, bool retry = true);
  v1::ManagerService::Stub& StubAt(size_t i);

  const int64_t attempt_id_;
  const ManagerIdentity me_;
  const RemoteStoreOptions opt_;
  Clock& clock_;
  std::vector<std::unique_ptr<v1::ManagerService::Stub>> stubs_;  // created on first use
  size_t current_ = 0;
  int64_t generation_ = -1;  // what the claim got; -1 before
};

}  // namespace hai::manager
