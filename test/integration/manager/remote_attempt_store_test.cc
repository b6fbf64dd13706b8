// The manager API against Postgres: RemoteAttemptStore -> gRPC -> ManagerServiceImpl ->
// PgManagerStores (pooled connections, batched heartbeats) -> a test database. The AttemptStore
// contract suite runs through it as it does against PgAttemptStore; then what the API adds:
// heartbeats of many managers share statements and the database sees no connection per
// manager, a batch fences each manager alone, and the credential key is made once.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/manager_credential.h"
#include "manager/pg/pg_heartbeat_batch.h"
#include "manager/remote/remote_attempt_store.h"
#include "scheduler/managerapi/manager_api.h"
#include "scheduler/managerapi/manager_service.h"
#include "scheduler/managerapi/manager_stores.h"
#include "scheduler/store/pool.h"
#include "test/integration/manager/pg_store_harness.h"

namespace hai::manager::testing {
namespace {

constexpr int kPoolSize = 2;

// haid's side of the API, once per test binary, over the test database.
struct Api {
  std::unique_ptr<store::ConnectionPool> pool;
  std::string key;
  std::unique_ptr<managerapi::PgManagerStores> stores;
  std::unique_ptr<managerapi::ManagerServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string endpoint() const { return absl::StrCat("127.0.0.1:", port); }
};

Api& TheApi() {
  static Api* const api = [] {
    auto* a = new Api();
    auto pool = store::ConnectionPool::Open(Db().url(), kPoolSize, absl::Seconds(5));
    EXPECT_TRUE(pool.ok()) << pool.status();
    a->pool = *std::move(pool);
    auto key = managerapi::LoadOrCreateManagerKey(*a->pool);
    EXPECT_TRUE(key.ok()) << key.status();
    a->key = *key;
    a->stores =
        std::make_unique<managerapi::PgManagerStores>(*a->pool, absl::Milliseconds(20), 5000);
    a->service = std::make_unique<managerapi::ManagerServiceImpl>(*a->stores, a->key);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &a->port);
    builder.RegisterService(a->service.get());
    a->server = builder.BuildAndStart();
    return a;
  }();
  return *api;
}

std::unique_ptr<RemoteAttemptStore> RemoteStore(int64_t attempt, ManagerIdentity me = kMe) {
  RemoteStoreOptions o;
  o.endpoints = {TheApi().endpoint()};
  o.credential = ManagerCredential(TheApi().key, attempt);
  o.call_timeout = absl::Seconds(10);
  o.retry_for = absl::Seconds(10);
  return std::make_unique<RemoteAttemptStore>(attempt, std::move(me), std::move(o), RealClock());
}

class RemotePgHarness : public PgHarness {
 protected:
  AttemptStore& StoreOf(int64_t attempt) override {
    remote_ = RemoteStore(attempt);
    return *remote_;
  }

 private:
  std::unique_ptr<RemoteAttemptStore> remote_;
};

std::unique_ptr<StoreHarness> MakeRemote() { return std::make_unique<RemotePgHarness>(); }

INSTANTIATE_TEST_SUITE_P(ManagerApiOverPostgres, AttemptStoreContract,
                         ::testing::Values(&MakeRemote));

int64_t Count(const std::string& sql) {
  int64_t n = -1;
  EXPECT_TRUE(absl::SimpleAtoi(Db().Query(sql), &n)) << sql;
  return n;
}

TEST(RemoteAttemptStoreTest, ClaimThroughTheApiCarriesTheAttemptAndRecordsTheManager) {
  Db().Exec(
      "INSERT INTO train_environments (env_name, image, python, env) VALUES "
      "('torch', 'img:env', '/opt/py', '{\"FROM_ENV\": \"1\", \"N\": 4}') ON CONFLICT DO NOTHING");
  const int64_t attempt = SeedAttempt(2, ", args, env, environment",
                                      ", '[\"a1\", \"a 2\"]', '{\"V\": \"x\"}', 'torch'");
  auto store = RemoteStore(attempt);
  auto claim = store->Claim(std::string(64, 'b'));
  ASSERT_TRUE(claim.ok()) << claim.status();
  const AttemptInfo& a = claim->info;
  EXPECT_EQ(a.attempt_id, attempt);
  EXPECT_EQ(a.state, model::AttemptState::kScheduled);
  EXPECT_EQ(a.kind, model::TaskKind::kBash);
  EXPECT_EQ(a.args, (std::vector<std::string>{"a1", "a 2"}));
  EXPECT_EQ(a.chain_env, (EnvList{{"V", "x"}}));
  EXPECT_EQ(a.train_env, (EnvList{{"FROM_ENV", "1"}, {"N", "4"}}));
  EXPECT_EQ(a.python, "/opt/py");
  ASSERT_EQ(a.pods.size(), 2u);
  EXPECT_EQ(a.pods[1].gpus, (std::vector<int>{0, 3}));
  // The manager's own pid, host and start time, not haid's: haid judges and signals by them.
  EXPECT_EQ(Db().Query(absl::StrCat("SELECT manager_pid || '@' || manager_host || '/' || "
                                    "manager_start_time FROM attempts WHERE attempt_id = ",
                                    attempt)),
            "4242@test-host/987654");
}

TEST(RemoteAttemptStoreTest, AnotherAttemptsCredentialOpensNothing) {
  const int64_t attempt = SeedAttempt(1);
  RemoteStoreOptions o;
  o.endpoints = {TheApi().endpoint()};
  o.credential = ManagerCredential(TheApi().key, attempt + 1);
  RemoteAttemptStore store(attempt, kMe, o, RealClock());
  EXPECT_EQ(store.Claim(std::string(64, 'b')).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Db().Query(absl::StrCat("SELECT state || manager_generation FROM attempts "
                                    "WHERE attempt_id = ",
                                    attempt)),
            "scheduled0");
}

// Forty managers beating together: their beats share statements, and Postgres sees only the
// API's pooled connections, before, during and after.
TEST(RemoteAttemptStoreTest, ManyManagersShareHeartbeatStatementsAndNoConnectionEach) {
  constexpr int kManagers = 40;
  constexpr int kBeats = 5;
  std::vector<std::unique_ptr<RemoteAttemptStore>> managers;
  for (int i = 0; i < kManagers; ++i) {
    const int64_t attempt = SeedAttempt(1);
    managers.push_back(RemoteStore(attempt, {kMe.pid + i, "test-host", i}));
    ASSERT_TRUE(managers.back()->Claim(std::string(64, 'b')).ok());
  }
  const std::string connections =
      absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE datname = '", Db().name(), "'");
  const int64_t before = Count(connections);
  const int64_t statements_before = TheApi().stores->batcher().statements();
  std::atomic<int64_t> peak{0};
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done) {
      peak = std::max<int64_t>(peak, Count(connections));
    }
  });
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (auto& m : managers) {
    threads.emplace_back([&, store = m.get()] {
      for (int b = 0; b < kBeats; ++b) {
        if (!store->Heartbeat().ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  sampler.join();
  EXPECT_EQ(failures, 0);
  const int64_t statements = TheApi().stores->batcher().statements() - statements_before;
  EXPECT_LT(statements, kManagers * kBeats / 2) << "beats were not batched";
  // The sampler's own connection comes and goes with each Count; the API's pool opens its
  // connections when first needed but never more than kPoolSize (one is open from the start),
  // whatever the number of managers.
  EXPECT_LE(peak, before + 1 + (kPoolSize - 1));
}

// One statement, two managers: the superseded one is refused alone, and its heartbeat is not
// written (haid's liveness check must not see a replaced manager as alive).
TEST(RemoteAttemptStoreTest, ABatchFencesEachManagerAlone) {
  const int64_t a = SeedAttempt(1), b = SeedAttempt(1);
  auto ma = RemoteStore(a);
  auto mb = RemoteStore(b);
  auto ca = ma->Claim(std::string(64, 'b'));
  auto cb = mb->Claim(std::string(64, 'b'));
  ASSERT_TRUE(ca.ok() && cb.ok());
  // A successor claims b.
  auto successor = RemoteStore(b, {kMe.pid + 100, "other-host"});
  ASSERT_TRUE(successor->Claim(std::string(64, 'c')).ok());
  Db().Exec(
      absl::StrCat("UPDATE attempts SET manager_heartbeat_at = '2000-01-01' "
                   "WHERE attempt_id IN (",
                   a, ", ", b, ")"));
  auto conn = Db().Connect();
  auto results = HeartbeatBatch(*conn, {{a, ca->generation}, {b, cb->generation}});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_TRUE((*results)[0].ok()) << (*results)[0].status();
  EXPECT_TRUE(IsSuperseded((*results)[1].status())) << (*results)[1].status();
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM attempts WHERE attempt_id = ", a,
                               " AND manager_heartbeat_at > '2001-01-01'")),
            1);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM attempts WHERE attempt_id = ", b,
                               " AND manager_heartbeat_at > '2001-01-01'")),
            0);
}

TEST(RemoteAttemptStoreTest, TheCredentialKeyIsMadeOnceAndKept) {
  auto again = managerapi::LoadOrCreateManagerKey(*TheApi().pool);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, TheApi().key);
  EXPECT_EQ(again->size(), 64u);
  EXPECT_EQ(Count("SELECT count(*) FROM manager_api_key"), 1);
}

}  // namespace
}  // namespace hai::manager::testing
