// Table tests of the Jupyter container core (scheduler/policy/jupyter.h): quota resolution
// with explicit and packed rows, admission naming the limit, bin-packing with dedicated and
// shared GPUs, and idle culling. Each step comments the outcome it expects.
#include "scheduler/policy/jupyter.h"

#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hai::policy {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

QuotaRow Row(const std::string& kind, const std::string& owner, const std::string& resource,
             int64_t quota) {
  QuotaRow r;
  r.owner_kind = kind;
  r.owner = owner;
  r.resource = resource;
  r.quota = quota;
  return r;
}

Node JNode(const std::string& name, const std::string& group, int gpus, int64_t cpu_millis,
           int64_t memory_mib) {
  Node n;
  n.name = name;
  n.group = group;
  n.gpus = gpus;
  n.cpu_millis = cpu_millis;
  n.memory_mib = memory_mib;
  n.jupyter = true;
  return n;
}

JupyterContainer Container(int64_t id, const std::string& user, const std::string& group,
                           int64_t cpu_millis, int64_t memory_mib, int gpus) {
  JupyterContainer c;
  c.attempt_id = id;
  c.chain_id = id;
  c.user = user;
  c.group = group;
  c.cpu_millis = cpu_millis;
  c.memory_mib = memory_mib;
  c.gpus = gpus;
  c.first_submit = kNow + absl::Seconds(id);
  return c;
}

TEST(JupyterQuotaTest, PackedValueDecodesLikeHai) {
  // 100012810 -> memory 1000 GiB, 128 cores, 10 containers (hai-platform.md §8).
  auto q = DecodePackedJupyterQuota(100012810);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->containers, 10);
  EXPECT_EQ(q->cpu_millis, 128000);
  EXPECT_EQ(q->memory_mib, 1000 * 1024);
  // Fewer than 6 digits crashes HAI's parser; here it is a typed error.
  EXPECT_EQ(DecodePackedJupyterQuota(12810).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePackedJupyterQuota(1000000000).status().code(),
            absl::StatusCode::kInvalidArgument);
  // 6 digits: 1 GiB, 0 cores, 1 container.
  auto small = DecodePackedJupyterQuota(100001);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->memory_mib, 1024);
  EXPECT_EQ(small->cpu_millis, 0);
  EXPECT_EQ(small->containers, 1);
}

TEST(JupyterQuotaTest, LayersAndExplicitRowsOverridePacked) {
  std::map<std::string, std::vector<std::string>> groups = {{"alice", {"lab"}}, {"bob", {}}};
  std::vector<QuotaRow> rows = {
      Row("public", "public", "jupyter:cpu", 1600402),  // 16 GiB, 4 cores, 2 containers
      Row("public", "public", "jupyter:cpu:gpus", 0),
      Row("group", "lab", "jupyter:cpu:containers", 3),  // lab: 3 containers
      Row("group", "lab", "jupyter:cpu:gpus", 2),
      Row("user", "alice", "jupyter:cpu:memory_gib", 64),  // alice's own memory
      Row("user", "alice", "node-default-LOW", 4),         // training: ignored here
      Row("user", "alice", "jupyter:cpu:colour", 1),       // unknown limit: problem
      Row("public", "public", "jupyter:gpu", 42),          // too few digits: problem
  };
  ResolvedJupyterQuota r = ResolveJupyterQuota(rows, groups, kNow);
  // bob: public only.
  JupyterQuota bob = JupyterQuotaFor(r, "bob", "cpu");
  EXPECT_EQ(bob.containers, 2);
  EXPECT_EQ(bob.cpu_millis, 4000);
  EXPECT_EQ(bob.memory_mib, 16 * 1024);
  EXPECT_EQ(bob.gpus, 0);
  // alice: the lab group's count and GPUs, public CPU, her own memory.
  JupyterQuota alice = JupyterQuotaFor(r, "alice", "cpu");
  EXPECT_EQ(alice.containers, 3);
  EXPECT_EQ(alice.gpus, 2);
  EXPECT_EQ(alice.cpu_millis, 4000);
  EXPECT_EQ(alice.memory_mib, 64 * 1024);
  // No row for another group: nothing allowed.
  EXPECT_EQ(JupyterQuotaFor(r, "alice", "other").containers, 0);
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_THAT(r.problems[0].message, HasSubstr("unknown limit"));
  EXPECT_THAT(r.problems[1].message, HasSubstr("6 to 9 digits"));
  // The same problems without resolving every user.
  std::vector<QuotaProblem> only = JupyterQuotaProblems(rows, groups, kNow);
  ASSERT_EQ(only.size(), 2u);
  EXPECT_EQ(only[0].message, r.problems[0].message);
  EXPECT_EQ(only[1].row_index, 7u);
}

TEST(JupyterQuotaTest, ExpiredAndInactiveRowsDoNotCount) {
  QuotaRow expired = Row("user", "alice", "jupyter:cpu:containers", 9);
  expired.expire_at = kNow;
  QuotaRow inactive = Row("user", "alice", "jupyter:cpu:gpus", 9);
  inactive.active = false;
  ResolvedJupyterQuota r = ResolveJupyterQuota({expired, inactive}, {{"alice", {}}}, kNow);
  EXPECT_EQ(JupyterQuotaFor(r, "alice", "cpu").containers, 0);
  EXPECT_EQ(JupyterQuotaFor(r, "alice", "cpu").gpus, 0);
}

class JupyterCreateTest : public ::testing::Test {
 protected:
  JupyterCreateTest() {
    nodes_ = {JNode("j0", "jup", 2, 8000, 32768)};
    Node training;
    training.name = "t0";
    training.group = "default";
    training.gpus = 8;
    nodes_.push_back(training);
    quota_.containers = 2;
    quota_.cpu_millis = 4000;
    quota_.memory_mib = 16384;
    quota_.gpus = 1;
    quota_.keep_alive = 1;
  }
  JupyterCreateRequest Req(int64_t cpu, int64_t mem, int gpus, bool keep = false) {
    return {"alice", "jup", cpu, mem, gpus, keep};
  }
  std::vector<Node> nodes_;
  JupyterQuota quota_;
};

TEST_F(JupyterCreateTest, EveryLimitIsNamedWhenExceeded) {
  std::vector<JupyterContainer> open;
  EXPECT_TRUE(CheckJupyterCreate(Req(2000, 8192, 1), open, quota_, nodes_).ok());
  // CPU per container.
  absl::Status s = CheckJupyterCreate(Req(5000, 1024, 0), open, quota_, nodes_);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("jupyter:jup:cpu"));
  // One container open with 8 GiB and 1 GPU: memory and GPUs are totals.
  open.push_back(Container(1, "alice", "jup", 1000, 8192, 1));
  open.push_back(Container(2, "bob", "jup", 1000, 30000, 1));      // another user: not counted
  open.push_back(Container(3, "alice", "other", 1000, 30000, 1));  // another group: not counted
  s = CheckJupyterCreate(Req(1000, 9000, 0), open, quota_, nodes_);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("jupyter:jup:memory_gib"));
  s = CheckJupyterCreate(Req(1000, 1024, 1), open, quota_, nodes_);
  EXPECT_THAT(std::string(s.message()), HasSubstr("jupyter:jup:gpus"));
  EXPECT_TRUE(CheckJupyterCreate(Req(1000, 8192, 0, true), open, quota_, nodes_).ok());
  // Count: a second open container reaches the limit of 2.
  open.push_back(Container(4, "alice", "jup", 1000, 1024, 0));
  s = CheckJupyterCreate(Req(1000, 1024, 0), open, quota_, nodes_);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("jupyter:jup:containers"));
}

TEST_F(JupyterCreateTest, HugeRequestsAreRefusedBeforeTheirSumsCanWrap) {
  // A node of unknown size (0 = not limited) fits anything; without a bound, 2^63-1 MiB on
  // top of an open 8 GiB container wraps the total negative and passes the memory quota.
  nodes_.push_back(JNode("j1", "jup", 2, 0, 0));
  std::vector<JupyterContainer> open = {Container(1, "alice", "jup", 1000, 8192, 0)};
  const int64_t huge = std::numeric_limits<int64_t>::max();
  absl::Status s = CheckJupyterCreate(Req(1000, huge, 0), open, quota_, nodes_);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("--memory must be at most"));
  s = CheckJupyterCreate(Req(huge, 1024, 0), open, quota_, nodes_);
  EXPECT_THAT(std::string(s.message()), HasSubstr("--cpu must be at most"));
  s = CheckJupyterCreate(Req(1000, 1024, std::numeric_limits<int>::max()), open, quota_, nodes_);
  EXPECT_THAT(std::string(s.message()), HasSubstr("--gpus must be at most"));
  EXPECT_TRUE(CheckJupyterCreate(Req(1000, 1024, 0), open, quota_, nodes_).ok());
}

TEST_F(JupyterCreateTest, KeepAliveIsCountedAgainstItsOwnLimit) {
  std::vector<JupyterContainer> open = {Container(1, "alice", "jup", 1000, 1024, 0)};
  open[0].keep_alive = true;
  absl::Status s = CheckJupyterCreate(Req(1000, 1024, 0, true), open, quota_, nodes_);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("jupyter:jup:keep_alive"));
  EXPECT_TRUE(CheckJupyterCreate(Req(1000, 1024, 0, false), open, quota_, nodes_).ok());
}

TEST_F(JupyterCreateTest, GroupsAndShapes) {
  // A training group is refused: Jupyter never lands there.
  JupyterCreateRequest r = Req(1000, 1024, 0);
  r.group = "default";
  EXPECT_EQ(CheckJupyterCreate(r, {}, quota_, nodes_).code(),
            absl::StatusCode::kFailedPrecondition);
  r.group = "nope";
  EXPECT_EQ(CheckJupyterCreate(r, {}, quota_, nodes_).code(),
            absl::StatusCode::kFailedPrecondition);
  // Larger than any node of the group, whatever the quota.
  quota_.memory_mib = 1 << 30;
  EXPECT_EQ(CheckJupyterCreate(Req(1000, 40000, 0), {}, quota_, nodes_).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckJupyterCreate(Req(0, 1024, 0), {}, quota_, nodes_).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckJupyterCreate(Req(1000, 1024, -1), {}, quota_, nodes_).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(JupyterPlacementTest, BinPacksOntoTheFullestNodeThatFits) {
  std::vector<Node> nodes = {JNode("a", "jup", 0, 8000, 16384), JNode("b", "jup", 0, 8000, 16384)};
  // b already holds 8 GiB: the next 4 GiB container goes there (fullest after placement).
  std::vector<JupyterContainer> placed = {Container(1, "u", "jup", 1000, 8192, 0)};
  placed[0].placed = true;
  placed[0].node = "b";
  std::vector<JupyterContainer> queued = {Container(2, "u", "jup", 1000, 4096, 0),
                                          Container(3, "u", "jup", 1000, 8192, 0),
                                          Container(4, "u", "jup", 1000, 8192, 0)};
  JupyterPlan plan = PlaceJupyter(nodes, placed, queued, {});
  // 2 -> b (4 GiB left there), 3 -> a (b has only 4 GiB left), 4 -> a (a has 8 GiB left).
  ASSERT_EQ(plan.starts.size(), 3u);
  EXPECT_EQ(plan.starts[0].placement[0].node, "b");
  EXPECT_EQ(plan.starts[1].placement[0].node, "a");
  EXPECT_EQ(plan.starts[2].placement[0].node, "a");
  EXPECT_TRUE(plan.pending.empty());
}

TEST(JupyterPlacementTest, OnlyReadyJupyterNodesOfTheGroup) {
  std::vector<Node> nodes = {JNode("cordoned", "jup", 0, 0, 0), JNode("other", "x", 0, 0, 0)};
  nodes[0].state = NodeState::kCordoned;
  Node training;
  training.name = "t";
  training.group = "jup";  // same name, but a training node: never used
  nodes.push_back(training);
  JupyterPlan plan = PlaceJupyter(nodes, {}, {Container(1, "u", "jup", 1000, 1024, 0)}, {});
  EXPECT_TRUE(plan.starts.empty());
  ASSERT_EQ(plan.pending.size(), 1u);
  EXPECT_EQ(plan.pending[0].reason, PendingReason::kWaitingForNodes);
  plan = PlaceJupyter(nodes, {}, {Container(1, "u", "none", 1000, 1024, 0)}, {});
  EXPECT_EQ(plan.pending[0].reason, PendingReason::kNoSuchGroup);
}

TEST(JupyterPlacementTest, DedicatedGpusAreExclusiveAndABigOneDoesNotBlockSmallOnes) {
  std::vector<Node> nodes = {JNode("g", "jup", 2, 0, 0)};
  std::vector<JupyterContainer> queued = {
      Container(1, "u", "jup", 1000, 1024, 1), Container(2, "u", "jup", 1000, 1024, 2),
      Container(3, "u", "jup", 1000, 1024, 1), Container(4, "u", "jup", 1000, 1024, 3)};
  JupyterPlan plan = PlaceJupyter(nodes, {}, queued, {});
  // 1 takes GPU 0; 2 (two GPUs) cannot fit now but does not block 3, which takes GPU 1.
  ASSERT_EQ(plan.starts.size(), 2u);
  EXPECT_EQ(plan.starts[0].attempt_id, 1);
  EXPECT_EQ(plan.starts[0].placement[0].gpus, std::vector<int>{0});
  EXPECT_EQ(plan.starts[1].attempt_id, 3);
  EXPECT_EQ(plan.starts[1].placement[0].gpus, std::vector<int>{1});
  ASSERT_EQ(plan.pending.size(), 2u);
  EXPECT_EQ(plan.pending[0].reason, PendingReason::kWaitingForNodes);
  EXPECT_EQ(plan.pending[0].position_in_tier, 1);
  EXPECT_EQ(plan.pending[1].reason, PendingReason::kNeverFits);  // 3 GPUs on a 2-GPU node
}

TEST(JupyterPlacementTest, SharedGpusUpToTheCapLeastUsedFirst) {
  std::vector<Node> nodes = {JNode("g", "shared", 2, 0, 0)};
  JupyterPlacementConfig cfg;
  cfg.gpu_sharing_groups = {"shared"};
  cfg.max_containers_per_gpu = 2;
  std::vector<JupyterContainer> queued;
  for (int i = 1; i <= 5; ++i) queued.push_back(Container(i, "u", "shared", 100, 100, 1));
  JupyterPlan plan = PlaceJupyter(nodes, {}, queued, cfg);
  // GPUs 0,1,0,1 then both are at the cap of 2: the fifth waits.
  ASSERT_EQ(plan.starts.size(), 4u);
  EXPECT_EQ(plan.starts[0].placement[0].gpus, std::vector<int>{0});
  EXPECT_EQ(plan.starts[1].placement[0].gpus, std::vector<int>{1});
  EXPECT_EQ(plan.starts[2].placement[0].gpus, std::vector<int>{0});
  EXPECT_EQ(plan.starts[3].placement[0].gpus, std::vector<int>{1});
  ASSERT_EQ(plan.pending.size(), 1u);
  EXPECT_EQ(plan.pending[0].attempt_id, 5);
}

TEST(JupyterPlacementTest, CpuAndMemoryAreSummedPerNode) {
  std::vector<Node> nodes = {JNode("n", "jup", 0, 4000, 0)};  // memory not tracked
  std::vector<JupyterContainer> queued = {Container(1, "u", "jup", 3000, 999999, 0),
                                          Container(2, "u", "jup", 2000, 1, 0),
                                          Container(3, "u", "jup", 1000, 1, 0)};
  JupyterPlan plan = PlaceJupyter(nodes, {}, queued, {});
  // 3 + 1 cores fill the node; the 2-core container waits.
  ASSERT_EQ(plan.starts.size(), 2u);
  EXPECT_EQ(plan.starts[0].attempt_id, 1);
  EXPECT_EQ(plan.starts[1].attempt_id, 3);
  ASSERT_EQ(plan.pending.size(), 1u);
  EXPECT_EQ(plan.pending[0].attempt_id, 2);
}

TEST(JupyterCullTest, IdleSinceTheLatestActivity) {
  JupyterActivity base;
  base.chain_id = 1;
  base.attempt_id = 11;
  base.idle_timeout = absl::Minutes(10);
  base.started_at = kNow - absl::Hours(1);

  JupyterActivity idle = base;  // started an hour ago, nothing since: culled
  JupyterActivity kernel = base;
  kernel.chain_id = 2;
  kernel.server_activity = kNow - absl::Minutes(5);  // kernel busy 5 min ago: kept
  JupyterActivity api = base;
  api.chain_id = 3;
  api.server_activity = kNow - absl::Minutes(50);
  api.api_activity = kNow - absl::Minutes(9);  // `jupyter url` 9 min ago: kept
  JupyterActivity keep = base;
  keep.chain_id = 4;
  keep.keep_alive = true;  // opted out
  JupyterActivity never = base;
  never.chain_id = 5;
  never.idle_timeout = absl::ZeroDuration();  // culling off for this role
  JupyterActivity exact = base;
  exact.chain_id = 6;
  exact.api_activity = kNow - absl::Minutes(10);  // exactly the timeout: culled

  std::vector<CullDecision> culls = IdleCulls({idle, kernel, api, keep, never, exact}, kNow);
  ASSERT_EQ(culls.size(), 2u);
  EXPECT_EQ(culls[0].chain_id, 1);
  EXPECT_EQ(culls[0].idle_for, absl::Hours(1));
  EXPECT_THAT(culls[0].reason, HasSubstr("idle"));
  EXPECT_EQ(culls[1].chain_id, 6);
}

}  // namespace
}  // namespace hai::policy
