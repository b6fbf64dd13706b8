// Group commit of submits (scheduler/store/submit_batcher.h): against the real Postgres,
// concurrent CreateChain calls are written several per statement and each caller gets its
// own chain; one user's duplicate name fails alone; and with scripted write functions, a
// failed batch statement falls back to one statement per chain.
#include "scheduler/store/submit_batcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "scheduler/store/store.h"
#include "test/support/test_env.h"

namespace hai::store {
namespace {

using ::hai::testing::TestDatabase;

class SubmitBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TestDatabase::Create();
    db_->Exec("INSERT INTO users (user_name, role, token_hash) VALUES ('alice', 'internal', '" +
              std::string(64, 'a') + "'), ('bob', 'internal', '" + std::string(64, 'b') + "')");
    auto pool = ConnectionPool::Open(db_->url(), 8);
    ASSERT_TRUE(pool.ok()) << pool.status();
    store_ = std::make_unique<Store>(*std::move(pool));
  }

  static NewChain Sample(const std::string& user, const std::string& name) {
    NewChain c;
    c.name = name;
    c.user = user;
    c.group = "default";
    c.entrypoint = "/work/train.py";
    c.args = {"--tag", "quote\"and\\back,slash{}"};
    c.env = {{"A", "1"}};
    return c;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

TEST_F(SubmitBatchTest, ConcurrentSubmitsShareStatementsAndEachGetsItsOwnChain) {
  constexpr int kThreads = 32;
  constexpr int kEach = 10;
  std::vector<std::vector<absl::StatusOr<Chain>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        NewChain c =
            Sample(t % 2 == 0 ? "alice" : "bob", "t" + std::to_string(t) + "-" + std::to_string(i));
        c.time_limit_s = i % 2 == 0 ? 0 : 60 * (i + 1);  // half without a limit
        results[t].push_back(store_->CreateChain(c, 10));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> chain_ids;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; ++i) {
      const auto& r = results[t][i];
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->row.name, "t" + std::to_string(t) + "-" + std::to_string(i));
      EXPECT_EQ(r->row.user, t % 2 == 0 ? "alice" : "bob");
      ASSERT_EQ(r->attempts.size(), 1u);
      EXPECT_EQ(r->attempts[0].state, model::AttemptState::kQueued);
      EXPECT_EQ(r->attempts[0].chain_id, r->row.chain_id);
      EXPECT_EQ(r->row.time_limit_s, i % 2 == 0 ? 0 : 60 * (i + 1));
      chain_ids.insert(r->row.chain_id);
    }
  }
  EXPECT_EQ(chain_ids.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(db_->Query("SELECT count(*) FROM attempts WHERE state = 'queued'"), "320");
  EXPECT_EQ(db_->Query("SELECT count(*) FROM task_events WHERE kind = 'submitted'"), "320");
  // Arguments survive the array literal of a batch (quotes, backslashes, commas, braces).
  EXPECT_EQ(db_->Query("SELECT count(*) FROM chains WHERE args->>1 = 'quote\"and\\back,slash{}'"),
            "320");
  EXPECT_EQ(db_->Query("SELECT count(*) FROM chains WHERE time_limit_s IS NULL"), "160");
  EXPECT_EQ(store_->chains_created(), kThreads * kEach);
  // 32 callers against at most two statements in flight: they were written together.
  EXPECT_LT(store_->chain_statements(), store_->chains_created());
}

TEST_F(SubmitBatchTest, ADuplicateNameInABurstFailsAlone) {
  constexpr int kThreads = 8;
  std::vector<absl::StatusOr<Chain>> results(kThreads, absl::UnknownError(""));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { results[t] = store_->CreateChain(Sample("alice", "same"), 10); });
  }
  for (auto& th : threads) th.join();
  int ok = 0;
  for (const auto& r : results) {
    if (r.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists) << r.status();
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(db_->Query("SELECT count(*) FROM chains WHERE name = 'same'"), "1");
}

TEST(SubmitBatcherTest, AFailedBatchIsWrittenOneByOne) {
  // The first single write blocks until four more callers wait; they then form one batch,
  // whose statement fails: each must be written alone, and only the bad one fails.
  std::atomic<int> singles{0}, batches{0};
  SubmitBatcher* self = nullptr;
  SubmitBatcher batcher(
      [&](const ChainRequest& r) -> absl::StatusOr<Chain> {
        if (singles.fetch_add(1) == 0) {
          while (self->waiting() < 4) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (r.chain->name == "bad") return absl::InvalidArgumentError("bad chain");
        Chain c;
        c.row.name = r.chain->name;
        return c;
      },
      [&](const std::vector<ChainRequest>& batch)
          -> absl::StatusOr<std::vector<absl::StatusOr<Chain>>> {
        batches.fetch_add(1);
        EXPECT_EQ(batch.size(), 4u);
        return absl::InvalidArgumentError("one row violates a constraint");
      },
      /*max_batch=*/64, /*max_in_flight=*/1);
  self = &batcher;
  std::vector<std::string> names = {"first", "a", "bad", "b", "c"};
  std::vector<absl::StatusOr<Chain>> results(names.size(), absl::UnknownError(""));
  std::vector<NewChain> chains(names.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < names.size(); ++i) {
    chains[i].user = "alice";
    chains[i].name = names[i];
    threads.emplace_back([&, i] {
      if (i > 0) {  // "first" leads; the others arrive while it writes
        while (singles.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      results[i] = batcher.Create(chains[i], 10);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(batches.load(), 1);
  EXPECT_EQ(singles.load(), 5);  // "first", then the failed batch's four one by one
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "bad") {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kInvalidArgument);
    } else {
      ASSERT_TRUE(results[i].ok()) << names[i] << ": " << results[i].status();
      EXPECT_EQ(results[i]->row.name, names[i]);
    }
  }
}

}  // namespace
}  // namespace hai::store
