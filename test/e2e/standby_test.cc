// Hot-standby haid (issue 18): two replicas on one database, real processes throughout.
//  - kill -9 of the leader while a 2-node training runs and HIGH work waits: the standby takes
//    over, the training keeps its attempt and rank processes, the HIGH task is started by the
//    new leader, nothing is lost, and hai-cli fails over to the surviving replica;
//  - a leader paused (SIGSTOP) with a decision in flight: the standby takes over once the lease
//    runs out, and when the old leader resumes its late write is refused by Postgres (its log
//    and the rows say so) and it becomes a standby;
//  - every Postgres session dropped at once (what a Postgres restart does to its clients):
//    exactly one leader afterwards, and it schedules;
//  - a clean shutdown hands over at once.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

// A short lease keeps the paused-leader scenario quick; the assertions do not depend on it.
constexpr char kLease[] = "leader_lease_ms = 1000\nleader_poll_ms = 100\n";

class StandbyTest : public ::testing::Test {
 protected:
  void Start(int nodes, const std::string& scheduler_toml = kLease,
             const std::map<std::string, std::string>& leader_env = {}) {
    cluster_ = std::make_unique<Cluster>(nodes, 1, "", scheduler_toml);
    cluster_->AddReplicas(1);
    cluster_->StartReplica(0, leader_env);
    ASSERT_TRUE(WaitFor([&] { return Role(0) == "leader"; }, 10000)) << cluster_->ReplicaLog(0);
    cluster_->StartReplica(1);
    ASSERT_EQ(Role(1), "standby") << cluster_->ReplicaLog(1);
    cluster_->AddUser("alice", "alice-token");
  }
  // "leader", "standby" or "" (down) from /readyz ("ready leader epoch 3").
  std::string Role(int i) {
    const std::string r = cluster_->Readyz(i);
    if (absl::StartsWith(r, "ready leader")) return "leader";
    if (absl::StartsWith(r, "ready standby")) return "standby";
    return "";
  }
  std::string Q(const std::string& sql) { return cluster_->db().Query(sql); }
  int64_t Epoch() { return std::stoll(Q("SELECT epoch FROM leader_lease")); }
  std::string AttemptOf(int64_t chain) {
    return Q(absl::StrCat("SELECT max(attempt_id) FROM attempts WHERE chain_id = ", chain));
  }
  // The epoch recorded on the chain's `scheduled` events, comma-separated in order.
  std::string ScheduledEpochs(int64_t chain) {
    return Q(
        absl::StrCat("SELECT coalesce(string_agg(detail->>'epoch', ',' ORDER BY event_id), '') "
                     "FROM task_events WHERE chain_id = ",
                     chain, " AND kind = 'scheduled'"));
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_F(StandbyTest, KilledLeaderIsReplacedTrainingKeepsRunningAndQueuedHighWorkStarts) {
  // Training is protected by its minimum run time, so the HIGH task cannot preempt it and
  // waits for the third node, which a short NORMAL task holds until the test releases it.
  ASSERT_NO_FATAL_FAILURE(Start(3, absl::StrCat(kLease, "min_runtime_s = 3600\n")));
  const std::string train =
      cluster_->WriteScript("train.py", "import time\nwhile True:\n    time.sleep(0.2)\n");
  const std::string release = cluster_->dir() + "/release";
  const std::string blocker = cluster_->WriteScript(
      "blocker.py", absl::StrCat("import os, time\nwhile not os.path.exists('", release,
                                 "'):\n    time.sleep(0.1)\n"));
  const int64_t training = cluster_->Submit("alice", train, "-n 2 -p LOW");
  const int64_t blocking = cluster_->Submit("alice", blocker, "-n 1 -p NORMAL");
  ASSERT_TRUE(WaitFor(
      [&] {
        return cluster_->CurrentState(training) == "running" &&
               cluster_->CurrentState(blocking) == "running";
      },
      20000));
  const std::string attempt = AttemptOf(training);
  const std::string rank_pids = Q(absl::StrCat(
      "SELECT string_agg(pid::text, ',' ORDER BY rank) FROM pods WHERE attempt_id = ", attempt));
  const int64_t high = cluster_->Submit("alice", train, "-n 1 -p HIGH");
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(high) == "queued"; }, 5000));
  const int64_t first_epoch = Epoch();

  cluster_->KillReplica(0);
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return Role(1) == "leader"; }, 5000)) << cluster_->ReplicaLog(1);
  const auto elected = std::chrono::steady_clock::now();
  EXPECT_LT(elected - killed, std::chrono::milliseconds(1500)) << "a crash is seen at once";
  EXPECT_EQ(Epoch(), first_epoch + 1);

  // The blocker ends while no old leader exists; the new leader gives its node to HIGH.
  cluster_->WriteScript("release", "");
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(high) == "running"; }, 15000))
      << cluster_->ReplicaLog(1);
  EXPECT_EQ(ScheduledEpochs(high), absl::StrCat(first_epoch + 1));
  EXPECT_EQ(cluster_->CurrentState(blocking), "succeeded");

  // The training was never restarted: same attempt, same rank processes, still running.
  EXPECT_EQ(AttemptOf(training), attempt);
  EXPECT_EQ(Q(absl::StrCat("SELECT count(*) FROM attempts WHERE chain_id = ", training)), "1");
  EXPECT_EQ(Q(absl::StrCat("SELECT string_agg(pid::text, ',' ORDER BY rank) FROM pods "
                           "WHERE attempt_id = ",
                           attempt)),
            rank_pids);
  EXPECT_EQ(cluster_->CurrentState(training), "running");
  // Nothing lost: every chain is accounted for, none failed or was requeued.
  EXPECT_EQ(Q("SELECT count(*) FROM chains"), "3");
  EXPECT_EQ(Q("SELECT count(*) FROM attempts WHERE state IN ('failed', 'suspended')"), "0");

  // hai-cli lists the dead replica first and fails over to the live one.
  CommandResult status = cluster_->Cli("alice", absl::StrCat("status ", high, " --json"));
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("RUNNING"), std::string::npos) << status.output;
  // So does a submit, which the new leader then starts.
  const int64_t later = cluster_->Submit("alice", train, "-n 1 -p HIGH");
  ASSERT_GT(later, 0);
  EXPECT_TRUE(WaitFor([&] { return !cluster_->CurrentState(later).empty(); }, 5000));
}

TEST_F(StandbyTest, PausedLeadersLateWriteIsRefusedAndItBecomesAStandby) {
  // Replica 0 leads and, with the hook, sits 2 s between deciding a start and writing it:
  // the test pauses it there, so its write is in flight when replica 1 takes over.
  ASSERT_NO_FATAL_FAILURE(Start(1, kLease, {{"HAI_TEST_PAUSE_BEFORE_APPLY_MS", "2000"}}));
  const std::string nap = cluster_->WriteScript("nap.py", "import time\ntime.sleep(600)\n");
  const int64_t task = cluster_->Submit("alice", nap, "-n 1");
  ASSERT_TRUE(WaitFor(
      [&] { return cluster_->ReplicaLog(0).find("test hook: pausing") != std::string::npos; },
      10000))
      << cluster_->ReplicaLog(0);
  cluster_->SignalReplica(0, SIGSTOP);
  const int64_t old_epoch = Epoch();

  // The lease (1 s) runs out; replica 1 ends the paused leader's session and leads.
  ASSERT_TRUE(WaitFor([&] { return Role(1) == "leader"; }, 5000)) << cluster_->ReplicaLog(1);
  EXPECT_EQ(Epoch(), old_epoch + 1);
  EXPECT_NE(cluster_->ReplicaLog(1).find("has not renewed its lease"), std::string::npos);
  ASSERT_TRUE(WaitFor([&] { return cluster_->CurrentState(task) == "running"; }, 15000))
      << cluster_->ReplicaLog(1);
  // Paused for 30 s (the figure; 30 leases): long enough for the new leader to have
  // run many passes and for the old one's clock to jump when it resumes.
  std::this_thread::sleep_for(std::chrono::seconds(30));
  cluster_->SignalReplica(0, SIGCONT);

  // Its pending start is written with the old epoch and refused by Postgres.
  const std::string refused =
      absl::StrCat("leader epoch ", old_epoch, " superseded by ", old_epoch + 1);
  ASSERT_TRUE(WaitFor(
      [&] {
        return cluster_->ReplicaLog(0).find("refused write (schedule): " + refused) !=
               std::string::npos;
      },
      10000))
      << cluster_->ReplicaLog(0);
  EXPECT_TRUE(WaitFor([&] { return Role(0) == "standby"; }, 5000)) << cluster_->Readyz(0);
  EXPECT_EQ(Role(1), "leader");
  // The rows: placed once, by the new epoch, with one pod.
  EXPECT_EQ(ScheduledEpochs(task), absl::StrCat(old_epoch + 1));
  EXPECT_EQ(Q(absl::StrCat("SELECT count(*) FROM pods WHERE attempt_id = ", AttemptOf(task))), "1");
  EXPECT_EQ(Q(absl::StrCat("SELECT count(*) FROM attempts WHERE chain_id = ", task)), "1");
  EXPECT_EQ(Epoch(), old_epoch + 1);
  EXPECT_EQ(cluster_->CurrentState(task), "running");
}

TEST_F(StandbyTest, AfterEverySessionIsDroppedExactlyOneReplicaLeads) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  const int64_t before = Epoch();
  // What a Postgres restart does to its clients: every session of this database ends.
  cluster_->db().Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  ASSERT_TRUE(WaitFor(
      [&] {
        return Epoch() > before && !Role(0).empty() && !Role(1).empty() &&
               (Role(0) == "leader") != (Role(1) == "leader");
      },
      10000))
      << cluster_->ReplicaLog(0) << cluster_->ReplicaLog(1);
  // And it stays so (no flapping), and the leader schedules.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_NE(Role(0) == "leader", Role(1) == "leader");
  // pg_locks spans the server: count only this database's lock (tests run side by side).
  EXPECT_EQ(Q("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 18 "
              "AND granted AND database = (SELECT oid FROM pg_database "
              "WHERE datname = current_database())"),
            "1");
  const std::string ok = cluster_->WriteScript("ok.py", "print('ok')\n");
  const int64_t task = cluster_->Submit("alice", ok, "-n 1");
  EXPECT_TRUE(WaitFor([&] { return cluster_->CurrentState(task) == "succeeded"; }, 15000));
}

TEST_F(StandbyTest, CleanShutdownHandsOverAtOnce) {
  // The default lease (3 s): a hand-over must not wait for it.
  ASSERT_NO_FATAL_FAILURE(Start(1, ""));
  const int64_t before = Epoch();
  const auto stop = std::chrono::steady_clock::now();
  cluster_->SignalReplica(0, SIGTERM);
  ASSERT_TRUE(WaitFor([&] { return Epoch() == before + 1; }, 3000));
  const auto taken = std::chrono::steady_clock::now();
  EXPECT_LT(taken - stop, std::chrono::milliseconds(1000));
  EXPECT_TRUE(WaitFor([&] { return Role(1) == "leader"; }, 2000));
  cluster_->StopReplica(0);
  EXPECT_NE(cluster_->ReplicaLog(0).find("handed over leadership"), std::string::npos);
  const std::string ok = cluster_->WriteScript("ok.py", "print('ok')\n");
  const int64_t task = cluster_->Submit("alice", ok, "-n 1");
  EXPECT_TRUE(WaitFor([&] { return cluster_->CurrentState(task) == "succeeded"; }, 15000));
}

}  // namespace
}  // namespace hai::testing
