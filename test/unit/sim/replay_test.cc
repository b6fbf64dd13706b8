// Replays of small hand-computed traces through the simulator: exact start and finish times
// for strict FIFO, for hai without preemption (backfill beside a head-of-tier reservation)
// and for hai with preemption under the suspend cost model; plus the properties every replay
// must keep (every plan passes the core's invariants; pruning the queue handed to the policy
// never changes a schedule).
#include "bench/sim/replay.h"

#include <random>
#include <string>
#include <vector>

#include "bench/sim/metrics.h"
#include "gtest/gtest.h"
#include "test/unit/policy/invariants.h"

namespace hai::sim {
namespace {

using policy::Tier;

SimJob Job(std::string id, int64_t submit, int64_t duration, int gpus, Tier tier = Tier::kNormal,
           std::string group = "g", int gpus_per_node_of_group = 4) {
  SimJob j;
  j.id = std::move(id);
  j.user = "u";
  j.group = std::move(group);
  j.submit_s = submit;
  j.duration_s = duration;
  j.gpus = gpus;
  j.tier = tier;
  j.nodes = (gpus + gpus_per_node_of_group - 1) / gpus_per_node_of_group;
  j.gpus_per_node = j.nodes == 1 ? gpus : 0;
  return j;
}

struct Times {
  int64_t start;
  int64_t finish;
  bool operator==(const Times&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Times& t) {
  return os << "{start " << t.start << ", finish " << t.finish << "}";
}

class ReplayTest : public ::testing::Test {
 protected:
  SimResult Run(const std::vector<SimJob>& jobs, PolicyKind policy, SimConfig config = {}) {
    config.policy = policy;
    policy::PolicyConfig pc = config.policy_config;
    pc.preemption = policy == PolicyKind::kHai;
    config.observer = [pc](const policy::Snapshot& s, const policy::Plan& p, absl::Time now) {
      policy::testing::CheckInvariants(s, pc, p, now);
    };
    if (policy == PolicyKind::kFifo) config.observer = nullptr;  // not the core's contract
    absl::StatusOr<SimResult> r =
        Replay(jobs, groups_, DefaultQuota(jobs, groups_, quota_nodes_), config);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : SimResult{};
  }
  static Times T(const SimResult& r, size_t i) {
    return {r.jobs.at(i).first_start_s, r.jobs.at(i).finish_s};
  }

  std::vector<GroupSpec> groups_ = {{"g", 2, 4}};  // 2 nodes x 4 GPUs
  int64_t quota_nodes_ = 0;                        // 0: no quota limit
};

// A 3-GPU job on each node, then a 4-GPU job that fits nowhere, then a 1-GPU job.
std::vector<SimJob> BackfillTrace() {
  return {
      Job("A", 0, 100, 3),  // node 0 (1 GPU left), 0 -> 100
      Job("B", 5, 50, 3),   // node 1 (1 GPU left), 5 -> 55
      Job("C", 10, 30, 4),  // needs a whole node: the first to free is node 1 at 55
      Job("D", 20, 10, 1),  // fits on either node's last GPU
  };
}

TEST_F(ReplayTest, FifoBlocksBehindTheHeadOfItsGroup) {
  const SimResult r = Run(BackfillTrace(), PolicyKind::kFifo);
  EXPECT_EQ(T(r, 0), (Times{0, 100}));
  EXPECT_EQ(T(r, 1), (Times{5, 55}));
  EXPECT_EQ(T(r, 2), (Times{55, 85}));  // node 1 frees at 55
  EXPECT_EQ(T(r, 3), (Times{55, 65}));  // strict FIFO: waits for C, then takes node 0's GPU
  const Summary s = Summarize(BackfillTrace(), r);
  // JCTs 100, 50, 75, 45: mean 67.5, nearest-rank median the 2nd smallest (50).
  EXPECT_DOUBLE_EQ(FindTier(s, "ALL")->jct_s.mean, 67.5);
  EXPECT_DOUBLE_EQ(FindTier(s, "ALL")->jct_s.median, 50);
  EXPECT_DOUBLE_EQ(FindTier(s, "ALL")->jct_s.p99, 100);
  EXPECT_DOUBLE_EQ(FindTier(s, "ALL")->queue_delay_s.mean, (0 + 0 + 45 + 35) / 4.0);
}

TEST_F(ReplayTest, HaiBackfillsBesideTheHeadReservation) {
  const SimResult r = Run(BackfillTrace(), PolicyKind::kHaiNoPreempt);
  EXPECT_EQ(T(r, 0), (Times{0, 100}));
  EXPECT_EQ(T(r, 1), (Times{5, 55}));
  // C heads NORMAL and reserves the node with most free GPUs (tie: node 0)...
  EXPECT_EQ(T(r, 2), (Times{55, 85}));
  // ...so D backfills on node 1's last GPU at once.
  EXPECT_EQ(T(r, 3), (Times{20, 30}));
}

TEST_F(ReplayTest, CountsGpusIdleWhileJobsWaitAndThoseOnReservedNodes) {
  // hai: C waits 10 -> 55 with node 0 (1 free GPU) reserved for it; D runs 20 -> 30 on
  // node 1's last GPU. Free GPUs while something waits: 2 x 10 + 1 x 10 + 2 x 25 = 80; on
  // the reserved node: 1 x 45.
  const SimResult hai = Run(BackfillTrace(), PolicyKind::kHaiNoPreempt);
  EXPECT_DOUBLE_EQ(hai.idle_waiting_gpu_s, 80);
  EXPECT_DOUBLE_EQ(hai.reserved_idle_gpu_s, 45);
  // FIFO: C and D wait until 55 with 2 GPUs free; FIFO reserves nothing.
  const SimResult fifo = Run(BackfillTrace(), PolicyKind::kFifo);
  EXPECT_DOUBLE_EQ(fifo.idle_waiting_gpu_s, 2 * 45);
  EXPECT_DOUBLE_EQ(fifo.reserved_idle_gpu_s, 0);
  const Summary s = Summarize(BackfillTrace(), hai);
  EXPECT_DOUBLE_EQ(s.reserved_idle_gpu_hours, 45.0 / 3600);
  // Every job is one node: one size row for NORMAL and one for ALL.
  ASSERT_EQ(s.sizes.size(), 2u);
  EXPECT_EQ(s.sizes[0].tier, "NORMAL");
  EXPECT_EQ(s.sizes[0].size, "1");
  EXPECT_EQ(s.sizes[0].jobs, 4);
  EXPECT_DOUBLE_EQ(s.sizes[0].queue_delay_s.mean, (0 + 0 + 45 + 0) / 4.0);
  EXPECT_EQ(s.sizes[1].tier, "ALL");
}

// A NORMAL gang on both nodes, then a HIGH job needing one node.
std::vector<SimJob> PreemptionTrace() {
  return {Job("N", 0, 1000, 8, Tier::kNormal), Job("H", 100, 200, 4, Tier::kHigh)};
}

TEST_F(ReplayTest, FifoMakesTheHighJobWait) {
  const SimResult r = Run(PreemptionTrace(), PolicyKind::kFifo);
  EXPECT_EQ(T(r, 0), (Times{0, 1000}));
  EXPECT_EQ(T(r, 1), (Times{1000, 1200}));
}

TEST_F(ReplayTest, PreemptionCheckpointOnNotice) {
  SimConfig c;
  c.cost = {.suspend_grace_s = 10, .checkpoint_interval_s = 0, .restart_overhead_s = 20};
  const SimResult r = Run(PreemptionTrace(), PolicyKind::kHai, c);
  // N is told at 100, stops at 110 having saved 110 s of work; H runs 110 -> 310; N resumes
  // at 310: 20 s reload + 890 s left -> 1220.
  EXPECT_EQ(T(r, 1), (Times{110, 310}));
  EXPECT_EQ(T(r, 0), (Times{0, 1220}));
  EXPECT_EQ(r.jobs[0].suspensions, 1);
  EXPECT_EQ(r.jobs[0].lost_gpu_s, 8 * 20);  // nothing redone; the reload on 8 GPUs
  EXPECT_EQ(r.jobs[1].suspensions, 0);
  const Summary s = Summarize(PreemptionTrace(), r);
  EXPECT_EQ(FindTier(s, "HIGH")->queue_delay_s.max, 10);
  EXPECT_EQ(FindTier(s, "NORMAL")->suspensions, 1);
  EXPECT_DOUBLE_EQ(FindTier(s, "ALL")->lost_gpu_hours, 160.0 / 3600);
}

TEST_F(ReplayTest, PreemptionLosesWorkSinceTheLastCheckpoint) {
  SimConfig c;
  c.cost = {.suspend_grace_s = 10, .checkpoint_interval_s = 50, .restart_overhead_s = 20};
  const SimResult r = Run(PreemptionTrace(), PolicyKind::kHai, c);
  // Stopped at 110 with checkpoints at 50 and 100: 10 s redone; resume 310 + 20 + 900.
  EXPECT_EQ(T(r, 1), (Times{110, 310}));
  EXPECT_EQ(T(r, 0), (Times{0, 1230}));
  EXPECT_EQ(r.jobs[0].lost_gpu_s, 8 * 10 + 8 * 20);
}

TEST_F(ReplayTest, MinimumRuntimeDelaysPreemptionUntilItEnds) {
  SimConfig c;
  c.cost = {.suspend_grace_s = 10, .checkpoint_interval_s = 0, .restart_overhead_s = 20};
  c.policy_config.min_runtime[Tier::kNormal] = absl::Seconds(300);
  const SimResult r = Run(PreemptionTrace(), PolicyKind::kHai, c);
  // N is protected until 300: a clock-only wake-up suspends it then; stops at 310.
  EXPECT_EQ(T(r, 1), (Times{310, 510}));
  // Saved 310 s; resumes at 510: 20 + 690.
  EXPECT_EQ(T(r, 0), (Times{0, 1220}));
}

TEST_F(ReplayTest, VictimFinishingDuringTheGraceIsNotSuspended) {
  SimConfig c;
  c.cost = {.suspend_grace_s = 10, .checkpoint_interval_s = 0, .restart_overhead_s = 20};
  const std::vector<SimJob> jobs = {Job("N", 0, 105, 8), Job("H", 100, 200, 4, Tier::kHigh)};
  const SimResult r = Run(jobs, PolicyKind::kHai, c);
  EXPECT_EQ(T(r, 0), (Times{0, 105}));
  EXPECT_EQ(r.jobs[0].suspensions, 0);
  EXPECT_EQ(r.jobs[0].lost_gpu_s, 0);
  EXPECT_EQ(T(r, 1), (Times{105, 305}));
}

TEST_F(ReplayTest, ZeroGraceStartsThePreemptorAtTheSameInstant) {
  SimConfig c;
  c.cost = {.suspend_grace_s = 0, .checkpoint_interval_s = 0, .restart_overhead_s = 0};
  const SimResult r = Run(PreemptionTrace(), PolicyKind::kHai, c);
  EXPECT_EQ(T(r, 1), (Times{100, 300}));
  EXPECT_EQ(T(r, 0), (Times{0, 1200}));
  EXPECT_EQ(r.jobs[0].lost_gpu_s, 0);
}

TEST_F(ReplayTest, LowerTiersClaimWhatAPreemptorsVictimFrees) {
  groups_ = {{"g", 4, 8}};
  SimConfig c;
  c.cost = {.suspend_grace_s = 30, .checkpoint_interval_s = 0, .restart_overhead_s = 60};
  const std::vector<SimJob> jobs = {
      Job("G", 0, 1000, 32, Tier::kNormal, "g", 8),  // a gang on all 4 nodes
      Job("A1", 10, 100, 8, Tier::kNormal, "g", 8),  // three whole-node NORMAL jobs wait
      Job("A2", 11, 100, 8, Tier::kNormal, "g", 8), Job("A3", 12, 100, 8, Tier::kNormal, "g", 8),
      Job("H", 20, 100, 8, Tier::kHigh, "g", 8),  // suspends G for one node
  };
  for (bool prune : {true, false}) {
    c.prune_queue = prune;
    const SimResult r = Run(jobs, PolicyKind::kHai, c);
    // At 20 H suspends G and holds one of its nodes; A1..A3, next in line, claim the three
    // others G is freeing (held for them). G stops at 50 and requeues ahead of them (it was
    // submitted first), but the held nodes are theirs: all four start at 50. G resumes when
    // they end: 150 + 60 s reload + 950 s left.
    for (size_t i = 1; i <= 4; ++i) EXPECT_EQ(T(r, i), (Times{50, 150})) << "job " << i;
    EXPECT_EQ(T(r, 0), (Times{0, 1160})) << (prune ? "pruned" : "full");
  }
}

TEST_F(ReplayTest, IntervalDefersDecisionsToTheNextTick) {
  SimConfig c;
  c.interval_s = 60;
  const std::vector<SimJob> jobs = {Job("A", 5, 10, 1), Job("B", 61, 100, 4)};
  const SimResult r = Run(jobs, PolicyKind::kHai, c);
  EXPECT_EQ(T(r, 0), (Times{60, 70}));
  EXPECT_EQ(T(r, 1), (Times{120, 220}));
}

TEST_F(ReplayTest, JobsThatCanNeverRunAreRejectedAndLeftOut) {
  const std::vector<SimJob> jobs = {Job("big", 0, 10, 12), Job("ok", 0, 10, 1)};
  const SimResult r = Run(jobs, PolicyKind::kHai);
  EXPECT_TRUE(r.jobs[0].rejected);
  EXPECT_NE(r.jobs[0].reject_reason.find("node"), std::string::npos) << r.jobs[0].reject_reason;
  EXPECT_EQ(T(r, 1), (Times{0, 10}));
  const Summary s = Summarize(jobs, r);
  EXPECT_EQ(FindTier(s, "ALL")->jobs, 1);
  EXPECT_EQ(FindTier(s, "ALL")->rejected, 1);
}

TEST_F(ReplayTest, UtilisationCountsHeldGpusPerBucket) {
  SimConfig c;
  c.util_bucket_s = 100;
  // 4 of 8 GPUs for 0..150, then nothing until a 1-GPU job at 250..300.
  const std::vector<SimJob> jobs = {Job("A", 0, 150, 4), Job("B", 250, 50, 1)};
  const SimResult r = Run(jobs, PolicyKind::kFifo, c);
  ASSERT_EQ(r.utilisation.size(), 3u);
  EXPECT_DOUBLE_EQ(r.utilisation[0], 0.5);
  EXPECT_DOUBLE_EQ(r.utilisation[1], 0.25);      // 4 GPUs for half the bucket
  EXPECT_DOUBLE_EQ(r.utilisation[2], 1.0 / 16);  // 1 of 8 GPUs for half the bucket
  EXPECT_DOUBLE_EQ(r.window_utilisation, (4.0 * 150) / (8.0 * 250));
  EXPECT_DOUBLE_EQ(r.makespan_utilisation, (4.0 * 150 + 50) / (8.0 * 300));
}

// Random contended traces over two groups, every tier, packed jobs and gangs.
std::vector<SimJob> RandomTrace(uint32_t seed, int n) {
  std::mt19937 rng(seed);
  const Tier tiers[] = {Tier::kLow,         Tier::kNormal, Tier::kNormal,
                        Tier::kAboveNormal, Tier::kHigh,   Tier::kVeryHigh};
  const int shapes[] = {1, 1, 1, 2, 4, 8, 8, 16, 24};
  std::vector<SimJob> jobs;
  int64_t t = 0;
  for (int i = 0; i < n; ++i) {
    t += std::uniform_int_distribution<int>(0, 40)(rng);
    const int gpus = shapes[std::uniform_int_distribution<int>(0, 8)(rng)];
    SimJob j = Job("j" + std::to_string(i), t, std::uniform_int_distribution<int>(1, 3000)(rng),
                   gpus, tiers[std::uniform_int_distribution<int>(0, 5)(rng)],
                   std::uniform_int_distribution<int>(0, 3)(rng) == 0 ? "b" : "a", 8);
    j.user = "u" + std::to_string(std::uniform_int_distribution<int>(0, 2)(rng));
    jobs.push_back(std::move(j));
  }
  return jobs;
}

// Philly-like bursts: one user, whole-node and 4-node jobs, 15% HIGH, long queues of
// interchangeable tasks (where pruning cuts the most).
std::vector<SimJob> BurstTrace(uint32_t seed, int n) {
  std::mt19937 rng(seed);
  std::vector<SimJob> jobs;
  int64_t t = 0;
  for (int i = 0; i < n; ++i) {
    t += std::uniform_int_distribution<int>(0, 3)(rng) == 0 ? 300 : 5;
    const int shape = std::uniform_int_distribution<int>(0, 9)(rng);
    const int gpus = shape < 6 ? 8 : shape < 8 ? 32 : 1;
    const Tier tier =
        std::uniform_int_distribution<int>(0, 99)(rng) < 15 ? Tier::kHigh : Tier::kNormal;
    jobs.push_back(Job("b" + std::to_string(i), t,
                       std::uniform_int_distribution<int>(50, 2000)(rng), gpus, tier,
                       std::uniform_int_distribution<int>(0, 3)(rng) == 0 ? "b" : "a", 8));
  }
  return jobs;
}

TEST_F(ReplayTest, PrunedQueueGivesTheSameSchedule) {
  groups_ = {{"a", 6, 8}, {"b", 3, 8}};
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    // Seeds 1, 3: 3 nodes of quota per user and tier, so OUT_OF_QUOTA waits occur too.
    quota_nodes_ = seed == 1 || seed == 3 ? 3 : 0;
    const std::vector<SimJob> jobs = seed <= 4 ? RandomTrace(seed, 300) : BurstTrace(seed, 300);
    for (PolicyKind policy : {PolicyKind::kFifo, PolicyKind::kHaiNoPreempt, PolicyKind::kHai}) {
      SimConfig c;
      c.cost = {.suspend_grace_s = seed % 2 == 0 ? 0 : 30,
                .checkpoint_interval_s = 120,
                .restart_overhead_s = 15};
      c.policy_config.min_runtime[Tier::kLow] = absl::Seconds(seed % 3 == 0 ? 200 : 0);
      c.policy_config.above_normal_demote_after = absl::Seconds(600);
      c.prune_queue = false;
      const SimResult full = Run(jobs, policy, c);
      c.prune_queue = true;
      const SimResult pruned = Run(jobs, policy, c);
      ASSERT_EQ(full.jobs.size(), pruned.jobs.size());
      int suspensions = 0;
      for (size_t i = 0; i < jobs.size(); ++i) {
        ASSERT_EQ(T(full, i), T(pruned, i))
            << "seed " << seed << " policy " << PolicyName(policy) << " job " << i;
        ASSERT_EQ(full.jobs[i].lost_gpu_s, pruned.jobs[i].lost_gpu_s);
        suspensions += full.jobs[i].suspensions;
      }
      if (policy == PolicyKind::kHai) {
        EXPECT_GT(suspensions, 0) << "seed " << seed << ": the trace must exercise preemption";
      }
      EXPECT_LT(pruned.queued_passed, full.queued_passed);
    }
  }
}

TEST_F(ReplayTest, PrunedQueueGivesTheSameScheduleWithTimeLimits) {
  groups_ = {{"a", 6, 8}, {"b", 3, 8}};
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    std::vector<SimJob> jobs = seed <= 3 ? RandomTrace(seed, 300) : BurstTrace(seed, 300);
    // A third honest (rounded up to 10 min), a third overrunning (half the duration), a
    // third without a limit.
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (i % 3 == 0) jobs[i].time_limit_s = (jobs[i].duration_s / 600 + 1) * 600;
      if (i % 3 == 1) jobs[i].time_limit_s = std::max<int64_t>(1, jobs[i].duration_s / 2);
    }
    for (PolicyKind policy : {PolicyKind::kHaiNoPreempt, PolicyKind::kHai}) {
      SimConfig c;
      c.cost = {.suspend_grace_s = seed % 2 == 0 ? 0 : 30,
                .checkpoint_interval_s = 0,
                .restart_overhead_s = 15};
      c.prune_queue = false;
      const SimResult full = Run(jobs, policy, c);
      c.prune_queue = true;
      const SimResult pruned = Run(jobs, policy, c);
      ASSERT_EQ(full.jobs.size(), pruned.jobs.size());
      for (size_t i = 0; i < jobs.size(); ++i) {
        ASSERT_EQ(T(full, i), T(pruned, i))
            << "seed " << seed << " policy " << PolicyName(policy) << " job " << i;
        ASSERT_EQ(full.jobs[i].lost_gpu_s, pruned.jobs[i].lost_gpu_s);
      }
    }
  }
}

// EASY backfill in a replay, 2 nodes x 4 GPUs, no preemption. A (limit 100) holds node 0;
// the gang G heads NORMAL at 10 and holds both nodes, startable at 100 by A's limit. B (limit
// 60) starts at 20 on held node 1, since it ends by 80 <= 100; C (no limit) waits.
//  - B honest (runs 30 s): done at 50; G runs 100 -> 150; C 150 -> 350.
//  - B overruns (runs 120 s): at 100 A ends and only B, past its limit, stands between G
//    and its nodes: B is suspended (10 s grace, saved 90 s), G runs 110 -> 160; B resumes
//    at 160 ahead of C (its place kept): 15 s reload + 30 s -> 205; C 160 -> 360.
TEST_F(ReplayTest, TimeLimitsBackfillAndOverrunsAreSuspendedNotKilled) {
  SimConfig c;
  c.cost = {.suspend_grace_s = 10, .checkpoint_interval_s = 0, .restart_overhead_s = 15};
  std::vector<SimJob> jobs = {Job("A", 0, 100, 4), Job("G", 10, 50, 8), Job("B", 20, 30, 4),
                              Job("C", 25, 200, 4)};
  jobs[0].time_limit_s = 100;
  jobs[2].time_limit_s = 60;
  SimResult r = Run(jobs, PolicyKind::kHaiNoPreempt, c);
  EXPECT_EQ(T(r, 0), (Times{0, 100}));
  EXPECT_EQ(T(r, 1), (Times{100, 150}));
  EXPECT_EQ(T(r, 2), (Times{20, 50}));
  EXPECT_EQ(T(r, 3), (Times{150, 350}));

  jobs[2].duration_s = 120;
  r = Run(jobs, PolicyKind::kHaiNoPreempt, c);
  EXPECT_EQ(T(r, 1), (Times{110, 160}));
  EXPECT_EQ(T(r, 2), (Times{20, 205}));
  EXPECT_EQ(r.jobs[2].suspensions, 1);
  EXPECT_EQ(r.jobs[2].lost_gpu_s, 4 * 15);  // nothing redone: the reload
  EXPECT_EQ(T(r, 3), (Times{160, 360}));

  // Without limits B may not start on G's nodes: it waits behind G like C.
  for (SimJob& j : jobs) j.time_limit_s = 0;
  jobs[2].duration_s = 30;
  r = Run(jobs, PolicyKind::kHaiNoPreempt, c);
  EXPECT_EQ(T(r, 1), (Times{100, 150}));
  EXPECT_EQ(T(r, 2), (Times{150, 180}));
}

// Over-quota suspensions come out of Decide's plan, so the replay applies them like
// preemptions. One node of quota per tier: B runs at NORMAL from 0, A at ABOVE_NORMAL from
// 10. At 610 A drops to NORMAL (demote after 600 s), its owner holds 2 NORMAL nodes with a
// quota of 1, and the youngest, A, is told to suspend; it stops at 640 (30 s grace) having
// saved 630 s, requeues at its requested ABOVE_NORMAL, restarts at once and finishes at
// 640 + 60 (reload) + 370 = 1070. Without suspend_over_quota nothing is suspended.
TEST_F(ReplayTest, OverQuotaSuspensionsAreReplayed) {
  quota_nodes_ = 1;
  const std::vector<SimJob> jobs = {Job("B", 0, 1000, 4),
                                    Job("A", 10, 1000, 4, Tier::kAboveNormal)};
  for (bool prune : {true, false}) {
    SimConfig c;
    c.prune_queue = prune;
    c.policy_config.above_normal_demote_after = absl::Seconds(600);
    c.policy_config.suspend_over_quota = true;
    SimResult r = Run(jobs, PolicyKind::kHai, c);
    EXPECT_EQ(T(r, 0), (Times{0, 1000}));
    EXPECT_EQ(T(r, 1), (Times{10, 1070}));
    EXPECT_EQ(r.jobs[1].suspensions, 1);
    EXPECT_EQ(r.over_quota_suspensions, 1);

    c.policy_config.suspend_over_quota = false;
    r = Run(jobs, PolicyKind::kHai, c);
    EXPECT_EQ(T(r, 1), (Times{10, 1010}));
    EXPECT_EQ(r.over_quota_suspensions, 0);
  }
}

TEST_F(ReplayTest, SameInputSameResult) {
  groups_ = {{"a", 6, 8}, {"b", 3, 8}};
  const std::vector<SimJob> jobs = RandomTrace(42, 300);
  const SimResult a = Run(jobs, PolicyKind::kHai);
  const SimResult b = Run(jobs, PolicyKind::kHai);
  for (size_t i = 0; i < jobs.size(); ++i) ASSERT_EQ(T(a, i), T(b, i));
}

TEST_F(ReplayTest, BadCostModelIsInvalidArgument) {
  SimConfig c;
  c.cost.restart_overhead_s = -1;
  absl::StatusOr<SimResult> r = Replay({}, groups_, {}, c);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ReplayTest, TooManyUtilisationBucketsIsInvalidArgument) {
  SimConfig c;
  c.util_bucket_s = 1;
  absl::StatusOr<SimResult> r =
      Replay({Job("a", 0, 1, 1), Job("b", 5'000'000, 1, 1)}, groups_, {}, c);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("choose a larger bucket"), std::string::npos);
}

TEST_F(ReplayTest, UnknownGroupIsInvalidArgument) {
  absl::StatusOr<std::vector<SimJob>> jobs =
      BuildJobs({TraceJob{.id = "x", .group = "nope", .gpus = 1}}, groups_, {Tier::kNormal});
  EXPECT_EQ(jobs.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ReplayTest, BuildJobsShapes) {
  groups_ = {{"g", 4, 8}};
  absl::StatusOr<std::vector<SimJob>> jobs = BuildJobs(
      {TraceJob{.id = "a", .group = "g", .gpus = 3}, TraceJob{.id = "b", .group = "g", .gpus = 8},
       TraceJob{.id = "c", .group = "g", .gpus = 12},
       TraceJob{.id = "d", .group = "g", .gpus = 2, .nodes = 2}},
      groups_, {Tier::kNormal, Tier::kHigh, Tier::kNormal, Tier::kNormal});
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ((*jobs)[0].nodes, 1);
  EXPECT_EQ((*jobs)[0].gpus_per_node, 3);  // packed
  EXPECT_EQ((*jobs)[1].nodes, 1);
  EXPECT_EQ((*jobs)[1].gpus_per_node, 8);
  EXPECT_EQ((*jobs)[1].tier, Tier::kHigh);
  EXPECT_EQ((*jobs)[2].nodes, 2);  // 12 GPUs: two whole nodes
  EXPECT_EQ((*jobs)[2].gpus_per_node, 0);
  EXPECT_EQ((*jobs)[3].nodes, 2);  // num_nodes given
  EXPECT_EQ((*jobs)[3].gpus_per_node, 0);
}

}  // namespace
}  // namespace hai::sim
