// LiveSnapshot (the snapshot kept between passes) against BuildSnapshot (the snapshot built
// afresh): after any sequence of change reads, full reloads and preemption holds, both hold
// the same tasks, and Decide makes the same plan from either.
#include "scheduler/loop/live_snapshot.h"

#include <random>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "scheduler/loop/snapshot_builder.h"
#include "scheduler/policy/decide.h"
#include "scheduler/policy/pending_detail.h"

namespace hai {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);
constexpr int kNodes = 12;

std::string NodeName(int i) { return absl::StrCat("n", i); }

std::vector<store::HostRow> Hosts() {
  std::vector<store::HostRow> hosts;
  for (int i = 0; i < kNodes; ++i) {
    store::HostRow h;
    h.node.name = NodeName(i);
    h.node.group = "g";
    h.node.gpus = 8;
    h.node.sw = absl::StrCat("s", i / 4);
    hosts.push_back(h);
  }
  return hosts;
}

// A random open attempt: queued (sometimes held, stopping, AUTO or packed), running on
// random nodes, or a Jupyter container.
store::OpenAttempt RandomAttempt(int64_t id, std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  store::OpenAttempt o;
  o.attempt.attempt_id = id;
  o.chain.chain_id = 1000 + id;
  o.chain.name = absl::StrCat("task-", id, "-", pick(1000));  // a rewrite may rename
  o.chain.user = absl::StrCat("u", pick(4));
  o.chain.group = pick(10) == 0 ? "nope" : "g";
  o.chain.kind = pick(12) == 0 ? model::TaskKind::kJupyter : model::TaskKind::kPython;
  o.chain.nodes = 1 + pick(3);
  o.chain.gpus_per_node = o.chain.nodes == 1 && pick(2) == 0 ? 1 + pick(8) : 0;
  o.chain.priority = pick(6) == 0 ? -1 : std::vector<int>{0, 10, 20, 30}[pick(4)];
  o.chain.first_submit_at = kNow - absl::Seconds(pick(1000));
  o.chain.hold = pick(15) == 0;
  o.chain.stop_requested = pick(15) == 0;
  o.chain.time_limit_s = pick(3) == 0 ? 60 * (1 + pick(240)) : 0;
  o.attempt.queued_at = o.chain.first_submit_at;
  if (pick(3) == 0) {
    o.attempt.state =
        pick(2) == 0 ? model::AttemptState::kRunning : model::AttemptState::kScheduled;
    o.attempt.tier = std::vector<int>{0, 10, 20, 30}[pick(4)];
    o.attempt.started_at = kNow - absl::Minutes(pick(120));
    if (pick(8) == 0) o.attempt.suspend_requested_at = kNow;
    for (int r = 0; r < o.chain.nodes; ++r) {
      store::PodRow p;
      p.rank = r;
      p.node = NodeName(pick(kNodes));
      if (o.chain.gpus_per_node > 0) p.gpus = {pick(8)};
      o.attempt.pods.push_back(p);
    }
  } else {
    o.attempt.state = model::AttemptState::kQueued;
    o.attempt.tier = pick(4) == 0 ? 30 : -1;
  }
  return o;
}

std::string TaskText(const policy::Task& t) {
  std::ostringstream o;
  o << t.attempt_id << " c" << t.chain_id << " " << t.user << " " << t.group << " p"
    << t.requested_priority << " t" << static_cast<int>(t.tier) << " n" << t.nodes << " k"
    << t.gpus_per_node << " " << absl::FormatTime(t.first_submit) << " "
    << absl::FormatTime(t.running_since) << " s" << t.suspend_requested << " h" << t.held << " l"
    << absl::FormatDuration(t.time_limit);
  for (const auto& p : t.placement) {
    o << " [" << p.node;
    for (int g : p.gpus) o << ":" << g;
    o << "]";
  }
  for (const auto& n : t.reserved_nodes) o << " r" << n;
  return o.str();
}

// The tasks of a snapshot in a canonical order.
std::string SnapshotText(const policy::Snapshot& s) {
  std::set<std::string> running, queued;
  for (const auto& t : s.running) running.insert(TaskText(t));
  for (const auto& t : s.queued) queued.insert(TaskText(t));
  std::ostringstream o;
  o << s.nodes.size() << " nodes\n";
  for (const auto& t : running) o << "R " << t << "\n";
  for (const auto& t : queued) o << "Q " << t << "\n";
  return o.str();
}

std::string PlanText(const policy::Plan& p, const policy::Snapshot& s) {
  std::ostringstream o;
  for (const auto& st : p.starts) {
    o << "S" << st.attempt_id << " " << static_cast<int>(st.tier);
    for (const auto& r : st.placement) o << " " << r.node << "/" << r.gpus.size();
    o << "\n";
  }
  for (const auto& x : p.suspends)
    o << "X" << x.victim_attempt_id << "<" << x.preemptor_attempt_id << "\n";
  for (const auto& w : p.pending) {
    std::string user, group;
    for (const auto& t : s.queued) {
      if (t.attempt_id == w.attempt_id) user = t.user, group = t.group;
    }
    o << "P" << w.attempt_id << " " << w.position_in_tier << " "
      << policy::PendingDetail(w, user, group) << "\n";
  }
  return o.str();
}

// The core backfills by a task's time limit counted from its start (issue 21): the snapshot
// carries both, for queued and running attempts; a chain without a limit has none.
TEST(SnapshotBuilderTest, CarriesTheTimeLimitAndTheStart) {
  store::OpenAttempt o;
  o.attempt.attempt_id = 1;
  o.chain.chain_id = 2;
  o.chain.group = "g";
  o.chain.time_limit_s = 7200;
  o.attempt.state = model::AttemptState::kQueued;
  std::optional<SnapshotTask> queued = SnapshotTaskOf(o);
  ASSERT_TRUE(queued.has_value());
  EXPECT_FALSE(queued->running);
  EXPECT_EQ(queued->task.time_limit, absl::Hours(2));

  o.attempt.state = model::AttemptState::kRunning;
  o.attempt.scheduled_at = kNow - absl::Minutes(50);
  o.attempt.started_at = kNow - absl::Minutes(45);
  std::optional<SnapshotTask> running = SnapshotTaskOf(o);
  ASSERT_TRUE(running.has_value());
  EXPECT_TRUE(running->running);
  EXPECT_EQ(running->task.time_limit, absl::Hours(2));
  EXPECT_EQ(running->task.running_since, kNow - absl::Minutes(45));

  o.chain.time_limit_s = 0;
  EXPECT_EQ(SnapshotTaskOf(o)->task.time_limit, absl::InfiniteDuration());
}

TEST(LiveSnapshotTest, MatchesAFreshBuildAfterEveryChange) {
  std::mt19937 rng(7);
  const std::vector<store::HostRow> hosts = Hosts();
  std::map<policy::QuotaKey, int64_t> quota;
  for (int u = 0; u < 4; ++u) {
    for (policy::Tier t : {policy::Tier::kLow, policy::Tier::kNormal, policy::Tier::kAboveNormal,
                           policy::Tier::kHigh}) {
      quota[{absl::StrCat("u", u), "g", t}] = 6;
    }
  }
  OpenAttemptCache cache;
  LiveSnapshot live;
  live.SetNodes(NodesOf(hosts));
  int64_t next_id = 1;
  std::map<int64_t, std::vector<std::string>> holds;
  for (int round = 0; round < 300; ++round) {
    store::OpenAttemptChanges changes;
    changes.full = round == 0 || rng() % 40 == 0;
    if (changes.full) {
      const int n = static_cast<int>(rng() % 40);
      for (int i = 0; i < n; ++i) {
        const int64_t id = next_id++;
        changes.open[id] = RandomAttempt(id, rng);
      }
    } else {
      std::vector<int64_t> ids;
      for (const auto& [id, o] : cache.attempts()) ids.push_back(id);
      for (int i = 0; i < static_cast<int>(rng() % 6); ++i) {  // new attempts
        const int64_t id = next_id++;
        changes.open[id] = RandomAttempt(id, rng);
      }
      for (int i = 0; i < static_cast<int>(rng() % 5) && !ids.empty(); ++i) {  // rewritten
        const int64_t id = ids[rng() % ids.size()];
        changes.open[id] = RandomAttempt(id, rng);
      }
      for (int i = 0; i < static_cast<int>(rng() % 4) && !ids.empty(); ++i) {  // closed
        const int64_t id = ids[rng() % ids.size()];
        if (changes.open.count(id) == 0) changes.closed.push_back(id);
      }
      if (rng() % 10 == 0) changes.closed.push_back(next_id + 5000);  // never seen
    }
    cache.Apply(std::move(changes));
    // Holds from "the last plan": some queued attempts, one that no longer exists.
    holds.clear();
    for (const auto& [id, o] : cache.attempts()) {
      if (rng() % 7 == 0) holds[id] = {NodeName(static_cast<int>(rng() % kNodes))};
    }
    holds[next_id + 9000] = {"n0"};

    live.Sync(cache);
    live.SetQuota(quota);
    live.SetHolds(holds);
    const policy::Snapshot built =
        BuildSnapshot(SnapshotInputs{hosts, cache.attempts(), quota, holds});
    ASSERT_EQ(SnapshotText(live.snapshot()), SnapshotText(built)) << "round " << round;
    for (const auto& t : built.queued) {
      const policy::Task* q = live.FindQueued(t.attempt_id);
      ASSERT_NE(q, nullptr) << "round " << round << " attempt " << t.attempt_id;
      EXPECT_EQ(TaskText(*q), TaskText(t));
      EXPECT_EQ(live.QueuedName(static_cast<size_t>(q - live.snapshot().queued.data())),
                cache.Find(t.attempt_id)->chain.name);
    }
    const policy::PolicyConfig config;
    ASSERT_EQ(PlanText(policy::Decide(live.snapshot(), config, kNow), live.snapshot()),
              PlanText(policy::Decide(built, config, kNow), built))
        << "round " << round;
  }
}

TEST(LiveSnapshotTest, TracksNodesAndForgetsHoldsOfAttemptsThatStarted) {
  OpenAttemptCache cache;
  store::OpenAttemptChanges first;
  first.full = true;
  first.open[1].attempt = {
      .attempt_id = 1, .chain_id = 11, .state = model::AttemptState::kQueued, .tier = -1};
  first.open[1].chain.chain_id = 11;
  first.open[1].chain.group = "g";
  cache.Apply(first);
  LiveSnapshot live;
  live.SetNodes(NodesOf(Hosts()));
  live.Sync(cache);
  live.SetHolds({{1, {"n3"}}});
  ASSERT_EQ(live.snapshot().queued.size(), 1u);
  EXPECT_EQ(live.snapshot().queued[0].reserved_nodes, std::vector<std::string>{"n3"});
  EXPECT_EQ(live.snapshot().nodes.size(), static_cast<size_t>(kNodes));

  // It starts: the task moves to running and the next plan holds nothing for it.
  store::OpenAttemptChanges started;
  started.open[1] = first.open[1];
  started.open[1].attempt.state = model::AttemptState::kRunning;
  started.open[1].attempt.pods = {store::PodRow{.rank = 0, .node = "n3"}};
  cache.Apply(started);
  live.Sync(cache);
  live.SetHolds({});
  EXPECT_TRUE(live.snapshot().queued.empty());
  ASSERT_EQ(live.snapshot().running.size(), 1u);
  EXPECT_EQ(live.snapshot().running[0].placement[0].node, "n3");
  EXPECT_EQ(live.FindQueued(1), nullptr);

  live.SetNodes({});
  EXPECT_TRUE(live.snapshot().nodes.empty());
}

}  // namespace
}  // namespace hai
