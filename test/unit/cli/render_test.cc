// Tests of the human and JSON views of hai.v1 messages, with a fixed clock and UTC.
#include "cli/render.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hai::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNow = 1'700'000'000;

void SetTime(google::protobuf::Timestamp* ts, int64_t seconds) { ts->set_seconds(seconds); }

// A 2-node HIGH chain: attempt 0 was suspended for a higher tier, attempt 1 runs.
hai::v1::Task RunningTask() {
  hai::v1::Task t;
  t.set_chain_id(42);
  t.set_name("train");
  t.set_user("alice");
  t.set_state(hai::v1::Task::RUNNING);
  t.set_group("default");
  t.set_nodes(2);
  t.set_priority(hai::v1::PRIORITY_AUTO);
  t.set_kind("python");
  t.set_entrypoint("/home/alice/train.py");
  t.add_args("--lr");
  t.add_args("a b");
  SetTime(t.mutable_first_submit_at(), kNow - 600);
  hai::v1::Attempt* a0 = t.add_attempts();
  a0->set_attempt_no(0);
  a0->set_state(hai::v1::Attempt::SUSPENDED);
  a0->set_tier(hai::v1::PRIORITY_HIGH);
  SetTime(a0->mutable_queued_at(), kNow - 600);
  SetTime(a0->mutable_started_at(), kNow - 590);
  SetTime(a0->mutable_ended_at(), kNow - 300);
  a0->set_end_reason("suspended for chain 57 (EXTREME_HIGH)");
  hai::v1::Attempt* a1 = t.add_attempts();
  a1->set_attempt_no(1);
  a1->set_state(hai::v1::Attempt::RUNNING);
  a1->set_tier(hai::v1::PRIORITY_HIGH);
  SetTime(a1->mutable_queued_at(), kNow - 300);
  SetTime(a1->mutable_started_at(), kNow - 192);
  for (int rank = 0; rank < 2; ++rank) {
    hai::v1::Pod* p = a1->add_pods();
    p->set_rank(rank);
    p->set_node(rank == 0 ? "node1" : "node2");
    for (int g = 0; g < 8; ++g) p->add_gpus(g);
    p->set_state(hai::v1::Pod::RUNNING);
    p->set_pid(1000 + rank);
  }
  return t;
}

TEST(RenderTask, ShowsAttemptsPodsAndWhyEachEnded) {
  const std::string out =
      RenderTask(RunningTask(), absl::FromUnixSeconds(kNow), absl::UTCTimeZone());
  EXPECT_EQ(out,
            "chain 42 train\n"
            "  user       alice\n"
            "  state      running\n"
            "  priority   HIGH (requested AUTO)\n"
            "  resources  2 nodes x all GPUs in group default\n"
            "  command    python /home/alice/train.py --lr 'a b'\n"
            "  submitted  2023-11-14 22:03:20 (10m0s ago)\n"
            "\n"
            "ATTEMPT  STATE      TIER  QUEUED     STARTED    RUNTIME  EXIT  END_REASON\n"
            "0        suspended  HIGH  10m0s ago  9m50s ago  4m50s    -     suspended for "
            "chain 57 (EXTREME_HIGH)\n"
            "1        running    HIGH  5m0s ago   3m12s ago  3m12s    -     -\n"
            "\n"
            "attempt 1 pods:\n"
            "  RANK  NODE   GPUS  STATE    EXIT  PID\n"
            "  0     node1  0-7   running  -     1000\n"
            "  1     node2  0-7   running  -     1001\n");
}

TEST(RenderTask, QueuedShowsReasonPositionAndDetail) {
  hai::v1::Task t;
  t.set_chain_id(7);
  t.set_name("wait");
  t.set_state(hai::v1::Task::QUEUED);
  t.set_nodes(4);
  t.set_priority(hai::v1::PRIORITY_NORMAL);
  t.set_pending_reason("WAITING_FOR_NODES");
  t.set_pending_detail("needs 4 nodes in default, 1 free");
  t.set_queue_position(3);
  hai::v1::Attempt* a = t.add_attempts();
  a->set_state(hai::v1::Attempt::QUEUED);
  a->set_tier(hai::v1::PRIORITY_NORMAL);
  const std::string out = RenderTask(t, absl::FromUnixSeconds(kNow), absl::UTCTimeZone());
  EXPECT_THAT(out, HasSubstr("  waiting    WAITING_FOR_NODES (position 3 in NORMAL): needs 4 "
                             "nodes in default, 1 free\n"));
  EXPECT_THAT(out, HasSubstr("  priority   NORMAL\n"));  // no "(requested ...)" when equal
}

TEST(RenderTask, FinishedShowsExitCodes) {
  hai::v1::Task t = RunningTask();
  t.set_state(hai::v1::Task::FAILED);
  t.set_exit_code(3);
  t.set_has_exit_code(true);
  hai::v1::Attempt* a = t.mutable_attempts(1);
  a->set_state(hai::v1::Attempt::FAILED);
  a->set_exit_code(3);
  a->set_has_exit_code(true);
  a->set_end_reason("exit code 3 on rank 1");
  SetTime(a->mutable_ended_at(), kNow - 12);
  a->mutable_pods(1)->set_exit_code(3);
  a->mutable_pods(1)->set_has_exit_code(true);
  const std::string out = RenderTask(t, absl::FromUnixSeconds(kNow), absl::UTCTimeZone());
  EXPECT_THAT(out, HasSubstr("  exit code  3\n"));
  EXPECT_THAT(out, HasSubstr("3m0s     3     exit code 3 on rank 1\n"));
  EXPECT_THAT(out, HasSubstr("  1     node2  0-7   running  3     1001\n"));
}

TEST(RenderTask, ShowsTheTimeLimitWhenGiven) {
  hai::v1::Task t = RunningTask();
  t.set_time_limit_s(5400);
  const std::string out = RenderTask(t, absl::FromUnixSeconds(kNow), absl::UTCTimeZone());
  EXPECT_THAT(out, HasSubstr("  time limit  1h30m\n"));
  // None given: no line (RenderTask.ShowsAttemptsPodsAndWhyEachEnded has the full text).
}

TEST(RenderTaskList, Columns) {
  hai::v1::ListResponse list;
  *list.add_tasks() = RunningTask();
  hai::v1::Task* q = list.add_tasks();
  q->set_chain_id(7);
  q->set_name("wait");
  q->set_user("bob");
  q->set_state(hai::v1::Task::QUEUED);
  q->set_group("a100");
  q->set_nodes(1);
  q->set_gpus_per_node(4);
  q->set_priority(hai::v1::PRIORITY_NORMAL);
  q->set_pending_reason("QUOTA_EXCEEDED");
  SetTime(q->mutable_first_submit_at(), kNow - 45);
  EXPECT_EQ(RenderTaskList(list, absl::FromUnixSeconds(kNow)),
            "ID  NAME   USER   STATE    TIER    NODES       GROUP    AGE/RUNTIME  REASON\n"
            "42  train  alice  running  HIGH    2           default  3m12s        -\n"
            "7   wait   bob    queued   NORMAL  1 (4 GPUs)  a100     45s          "
            "QUOTA_EXCEEDED\n");
}

TEST(RenderQueueNodesWhoAmI, Tables) {
  hai::v1::QueueResponse queue;
  hai::v1::QueueEntry* e = queue.add_entries();
  e->set_chain_id(7);
  e->set_name("wait");
  e->set_user("bob");
  e->set_tier(hai::v1::PRIORITY_VERY_HIGH);
  e->set_position(1);
  e->set_reason("WAITING_FOR_NODES");
  e->set_detail("2 of 4 nodes free");
  e->set_nodes(4);
  e->set_group("default");
  EXPECT_EQ(RenderQueue(queue),
            "POS  TIER       ID  NAME  USER  NODES  GROUP    REASON             DETAIL\n"
            "1    VERY_HIGH  7   wait  bob   4      default  WAITING_FOR_NODES  2 of 4 nodes "
            "free\n");

  hai::v1::ListNodesResponse nodes;
  hai::v1::Node* n = nodes.add_nodes();
  n->set_name("node1");
  n->set_group("default");
  n->set_gpus(8);
  n->add_used_gpus(0);
  n->add_used_gpus(1);
  n->set_state(hai::v1::Node::READY);
  n->add_chain_ids(42);
  n->add_chain_ids(43);
  hai::v1::Node* c = nodes.add_nodes();
  c->set_name("node2");
  c->set_group("default");
  c->set_gpus(8);
  c->set_state(hai::v1::Node::CORDONED);
  c->set_state_reason("disk");
  EXPECT_EQ(RenderNodes(nodes),
            "NAME   GROUP    GPUS  USED  STATE     REASON  TASKS\n"
            "node1  default  8     2     ready     -       42,43\n"
            "node2  default  8     0     cordoned  disk    -\n");

  hai::v1::WhoAmIResponse me;
  me.set_user("alice");
  me.set_uid(1000);
  me.set_role("internal");
  me.add_groups("ml");
  hai::v1::QuotaLine* line = me.add_quota();
  line->set_group("default");
  line->set_tier(hai::v1::PRIORITY_HIGH);
  line->set_limit_nodes(4);
  line->set_used_nodes(2);
  line->set_source("user:alice");
  EXPECT_EQ(RenderWhoAmI(me),
            "user    alice (uid 1000)\n"
            "role    internal\n"
            "groups  ml\n"
            "\n"
            "GROUP    TIER  LIMIT  USED  SOURCE\n"
            "default  HIGH  4      2     user:alice\n");
}

TEST(RenderWhoAmI, JupyterQuotaWhenTheUserHasSome) {
  hai::v1::WhoAmIResponse me;
  me.set_user("alice");
  me.set_uid(1000);
  me.set_role("internal");
  hai::v1::JupyterQuotaLine* j = me.add_jupyter_quota();
  j->set_group("jupyter");
  j->set_containers(2);
  j->set_cpu_millis(4000);
  j->set_memory_mib(16384);
  j->set_gpus(1);
  j->set_keep_alive(1);
  j->set_used_containers(1);
  j->set_used_memory_mib(1536);
  EXPECT_EQ(RenderWhoAmI(me),
            "user    alice (uid 1000)\n"
            "role    internal\n"
            "groups  -\n"
            "\n"
            "no quota\n"
            "\n"
            "jupyter quota (used/limit):\n"
            "GROUP    CONTAINERS  CPU EACH  MEMORY      GPUS  KEEP-ALIVE\n"
            "jupyter  1/2         <=4       1.5Gi/16Gi  0/1   0/1\n");
}

TEST(RenderSubmitted, IdNameState) {
  EXPECT_EQ(RenderSubmitted(RunningTask()), "submitted chain 42 train (running)\n");
  EXPECT_THAT(RenderTaskLine(RunningTask()), HasSubstr("chain 42 train: running, tier HIGH"));
}

TEST(ToJson, ProtoFieldNamesAndZeroValues) {
  hai::v1::Task t;
  t.set_chain_id(42);
  t.set_name("train");
  const std::string json = ToJson(t);
  EXPECT_THAT(json, HasSubstr("\"chain_id\":\"42\""));  // int64 is a string in proto JSON
  EXPECT_THAT(json, HasSubstr("\"exit_code\":0"));      // zeros are present, shape is stable
  EXPECT_THAT(json, HasSubstr("\"pending_reason\":\"\""));
  EXPECT_THAT(json, Not(HasSubstr("chainId")));
}

}  // namespace
}  // namespace hai::cli
