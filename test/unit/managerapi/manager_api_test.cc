// The manager API end to end in one process, over the in-memory store: RemoteAttemptStore
// (the manager's side) -> gRPC -> ManagerServiceImpl (haid's side) -> FakeManagerStores. The
// AttemptStore contract suite runs through it, so every answer (claim info, control columns,
// refusals, ManagerSuperseded) survives the wire; then what only the API adds: credentials,
// failover between haid endpoints, riding out a missing haid, and the heartbeat batcher.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/manager_credential.h"
#include "manager/remote/remote_attempt_store.h"
#include "scheduler/managerapi/heartbeat_batcher.h"
#include "scheduler/managerapi/manager_service.h"
#include "test/support/loopback.h"
#include "test/unit/manager/fake_store_harness.h"
#include "test/unit/managerapi/fake_manager_stores.h"

namespace hai::manager::testing {
namespace {

using managerapi::HeartbeatBatcher;
using managerapi::ManagerServiceImpl;
using managerapi::testing::FakeManagerStores;

const std::string kKey(64, 'k');
const ManagerIdentity kMe{4242, "test-host", 987654};

// haid's gRPC server with the manager API only, on a loopback port (0: any free one).
class ApiServer {
 public:
  ApiServer(managerapi::ManagerStores& stores, int port) : service_(stores, kKey) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~ApiServer() { server_->Shutdown(); }
  std::string endpoint() const { return absl::StrCat("127.0.0.1:", port_); }
  int port() const { return port_; }
  ManagerServiceImpl& service() { return service_; }

 private:
  ManagerServiceImpl service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

RemoteStoreOptions Options(std::vector<std::string> endpoints, int64_t attempt_id = 42) {
  RemoteStoreOptions o;
  o.endpoints = std::move(endpoints);
  o.credential = ManagerCredential(kKey, attempt_id);
  o.call_timeout = absl::Seconds(5);
  o.retry_for = absl::Seconds(30);
  return o;
}

// The contract harness: the fake is the database, the store under test the remote one.
class RemoteFakeHarness : public FakeHarness {
 public:
  RemoteFakeHarness() : stores_(fake()), server_(stores_, 0) {}
  AttemptStore& Seed(int ranks) override {
    SeedRows(ranks);
    remote_ = std::make_unique<RemoteAttemptStore>(42, kMe, Options({server_.endpoint()}), clock());
    return *remote_;
  }

 private:
  FakeManagerStores stores_;
  ApiServer server_;
  std::unique_ptr<RemoteAttemptStore> remote_;
};

std::unique_ptr<StoreHarness> MakeRemote() { return std::make_unique<RemoteFakeHarness>(); }

INSTANTIATE_TEST_SUITE_P(ManagerApi, AttemptStoreContract, ::testing::Values(&MakeRemote));

class ManagerApiTest : public ::testing::Test {
 protected:
  ManagerApiTest() { harness_.SeedRows(1); }
  FakeHarness harness_;
  FakeAttemptStore& db() { return harness_.fake(); }
  FakeManagerStores stores_{harness_.fake()};
};

TEST_F(ManagerApiTest, ClaimCarriesTheManagersIdentityAndTheAttempt) {
  ApiServer server(stores_, 0);
  RemoteAttemptStore store(42, kMe, Options({server.endpoint()}), harness_.clock());
  auto claim = store.Claim(std::string(64, 'b'));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->generation, 1);
  EXPECT_EQ(claim->info.attempt_id, 42);
  EXPECT_EQ(claim->info.chain_id, 7);
  ASSERT_EQ(claim->info.pods.size(), 1u);
  EXPECT_EQ(claim->info.pods[0].node, "n0");
  EXPECT_EQ(stores_.claimed_by.pid, kMe.pid);
  EXPECT_EQ(stores_.claimed_by.host, kMe.host);
  EXPECT_EQ(stores_.claimed_by.start_time, kMe.start_time);
}

TEST_F(ManagerApiTest, ACallWithoutTheAttemptsCredentialIsRefusedAndWritesNothing) {
  ApiServer server(stores_, 0);
  // The credential of another attempt (a task that read its own manager's) opens nothing here.
  RemoteStoreOptions other = Options({server.endpoint()}, 43);
  RemoteAttemptStore store(42, kMe, other, harness_.clock());
  auto claim = store.Claim(std::string(64, 'b'));
  EXPECT_EQ(claim.status().code(), absl::StatusCode::kUnauthenticated) << claim.status();
  RemoteStoreOptions none = Options({server.endpoint()});
  none.credential = "";
  RemoteAttemptStore anonymous(42, kMe, none, harness_.clock());
  EXPECT_EQ(anonymous.Heartbeat().status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(stores_.calls, 0);
  EXPECT_EQ(db().generation, 0);
  EXPECT_EQ(server.service().refused(), 2);
}

TEST_F(ManagerApiTest, AWriteOfASupersededManagerIsRefusedAsSuperseded) {
  ApiServer server(stores_, 0);
  RemoteAttemptStore store(42, kMe, Options({server.endpoint()}), harness_.clock());
  ASSERT_TRUE(store.Claim(std::string(64, 'b')).ok());
  db().ClaimByOther();  // generation 2
  absl::Status s = store.PodStartIntended(0);
  EXPECT_TRUE(IsSuperseded(s)) << s;
  EXPECT_TRUE(IsSuperseded(store.Heartbeat().status()));
}

TEST_F(ManagerApiTest, ACallMovesOnToTheNextEndpointWhenOneHaidIsGone) {
  ApiServer live(stores_, 0);
  // A port nothing listens on: a replica that is down.
  const std::string dead = absl::StrCat("127.0.0.1:", hai::testing::FreeLoopbackPort());
  RemoteAttemptStore store(42, kMe, Options({dead, live.endpoint()}), harness_.clock());
  auto claim = store.Claim(std::string(64, 'b'));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(store.current_endpoint(), 1u);
  // Later calls stay with the endpoint that answers.
  EXPECT_TRUE(store.Heartbeat().ok());
  EXPECT_EQ(store.current_endpoint(), 1u);
}

TEST_F(ManagerApiTest, AWriteRidesOutAHaidRestartInsteadOfFailing) {
  const int port = hai::testing::FreeLoopbackPort();
  std::unique_ptr<ApiServer> server;
  // haid is down when the manager claims; it comes back while the store backs off (the
  // store's waits run on the fake clock, which starts the server at 3 s).
  harness_.clock().At(absl::Seconds(3),
                      [&] { server = std::make_unique<ApiServer>(stores_, port); });
  RemoteAttemptStore store(42, kMe, Options({absl::StrCat("127.0.0.1:", port)}), harness_.clock());
  auto claim = store.Claim(std::string(64, 'b'));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_GE(harness_.clock().Elapsed(), absl::Seconds(3));
  EXPECT_EQ(db().generation, 1);
}

TEST_F(ManagerApiTest, AWriteGivesUpAfterRetryFor) {
  const int port = hai::testing::FreeLoopbackPort();
  RemoteStoreOptions o = Options({absl::StrCat("127.0.0.1:", port)});
  o.retry_for = absl::Seconds(20);
  RemoteAttemptStore store(42, kMe, o, harness_.clock());
  auto claim = store.Claim(std::string(64, 'b'));
  EXPECT_EQ(claim.status().code(), absl::StatusCode::kUnavailable) << claim.status();
  EXPECT_GE(harness_.clock().Elapsed(), absl::Seconds(20));
}

TEST_F(ManagerApiTest, AHeartbeatDoesNotWaitForAMissingHaid) {
  const int port = hai::testing::FreeLoopbackPort();
  RemoteAttemptStore store(42, kMe, Options({absl::StrCat("127.0.0.1:", port)}), harness_.clock());
  // The lifecycle rides a failed beat out itself (ranks keep running, it beats again).
  EXPECT_EQ(store.Heartbeat().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(harness_.clock().Elapsed(), absl::ZeroDuration());
}

// ---- HeartbeatBatcher

ControlState Beaten() { return ControlState{}; }

TEST(HeartbeatBatcherTest, BeatsArrivingDuringAStatementShareTheNextOne) {
  std::atomic<int> statements{0};
  absl::Notification first_started, release_first;
  std::vector<size_t> sizes;
  absl::Mutex mu;
  HeartbeatBatcher batcher(
      [&](const std::vector<HeartbeatKey>& keys) {
        {
          absl::MutexLock lock(&mu);
          sizes.push_back(keys.size());
        }
        if (statements.fetch_add(1) == 0) {
          first_started.Notify();
          release_first.WaitForNotification();
        }
        return absl::StatusOr<std::vector<absl::StatusOr<ControlState>>>(
            std::vector<absl::StatusOr<ControlState>>(keys.size(), Beaten()));
      },
      absl::ZeroDuration(), 1000);
  std::vector<std::thread> managers;
  managers.emplace_back([&] { EXPECT_TRUE(batcher.Beat({1, 1}).ok()); });
  first_started.WaitForNotification();
  // Ten managers beat while the first statement is in flight ...
  for (int i = 2; i <= 11; ++i) {
    managers.emplace_back([&, i] { EXPECT_TRUE(batcher.Beat({i, 1}).ok()); });
  }
  // ... (wait until all ten queued)
  while (batcher.waiting() < 10) absl::SleepFor(absl::Milliseconds(1));
  release_first.Notify();
  for (auto& t : managers) t.join();
  // ... and went together in the second statement.
  EXPECT_EQ(batcher.beats(), 11);
  EXPECT_EQ(batcher.statements(), 2);
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 10}));
}

TEST(HeartbeatBatcherTest, AFailedStatementFailsEveryBeatInIt) {
  HeartbeatBatcher batcher(
      [](const std::vector<HeartbeatKey>&) {
        return absl::StatusOr<std::vector<absl::StatusOr<ControlState>>>(
            absl::UnavailableError("database down"));
      },
      absl::ZeroDuration(), 1000);
  EXPECT_EQ(batcher.Beat({1, 1}).status().code(), absl::StatusCode::kUnavailable);
}

TEST(HeartbeatBatcherTest, EachBeatGetsItsOwnResult) {
  HeartbeatBatcher batcher(
      [](const std::vector<HeartbeatKey>& keys) {
        std::vector<absl::StatusOr<ControlState>> out;
        for (const HeartbeatKey& k : keys) {
          if (k.generation == 1) {
            ControlState c;
            c.stop_requested = k.attempt_id == 2;
            out.emplace_back(c);
          } else {
            out.emplace_back(ManagerSuperseded(k.generation, 1));
          }
        }
        return absl::StatusOr<std::vector<absl::StatusOr<ControlState>>>(std::move(out));
      },
      absl::ZeroDuration(), 1000);
  auto a = batcher.Beat({1, 1});
  auto b = batcher.Beat({2, 1});
  auto c = batcher.Beat({3, 5});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->stop_requested);
  EXPECT_TRUE(b->stop_requested);
  EXPECT_TRUE(IsSuperseded(c.status()));
}

}  // namespace
}  // namespace hai::manager::testing
