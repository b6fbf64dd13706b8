// The map's versioned node snapshot (scheduler/http/node_snapshot.h) against the real
// Postgres: the first read is every node; after a cordon only that node comes back for the
// page's version; a GPU taken by a running attempt changes only its node; a page at the
// current version gets nothing; a new node, or a version from another haid, gets everything;
// a stale snapshot (a change nobody refreshed for) reads again before answering.
#include "scheduler/http/node_snapshot.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test/support/test_env.h"

namespace hai {
namespace {

using ::hai::testing::TestDatabase;

// The node names of an answer, in order.
std::vector<std::string> Names(const NodeSnapshot::Answer& a) {
  std::vector<std::string> out;
  for (const std::string& json : a.nodes) {
    const size_t at = json.find("\"name\":\"") + 8;
    out.push_back(json.substr(at, json.find('"', at) - at));
  }
  return out;
}

TEST(NodeSnapshotTest, OnlyTheNodesChangedSinceAVersion) {
  auto db = TestDatabase::Create();
  db->Exec(
      "INSERT INTO hosts (node, node_group, gpus) VALUES ('a1', 'g', 2), ('a2', 'g', 2), "
      "('a3', 'g', 2)");
  auto pool = store::ConnectionPool::Open(db->url(), 2);
  ASSERT_TRUE(pool.ok()) << pool.status();
  store::Store store(*std::move(pool));
  NodeSnapshot nodes(store);

  auto first = nodes.Since(-1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->full);
  EXPECT_EQ(Names(*first), (std::vector<std::string>{"a1", "a2", "a3"}));
  const int64_t v1 = first->version;
  // Nothing changed: nothing to send, and a refresh keeps the version.
  ASSERT_TRUE(nodes.Refresh().ok());
  auto same = nodes.Since(v1);
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->full);
  EXPECT_EQ(same->version, v1);
  EXPECT_TRUE(same->nodes.empty());

  db->Exec("UPDATE hosts SET state = 'cordoned', state_reason = 'fan' WHERE node = 'a2'");
  ASSERT_TRUE(nodes.Refresh().ok());
  auto cordoned = nodes.Since(v1);
  ASSERT_TRUE(cordoned.ok());
  EXPECT_FALSE(cordoned->full);
  EXPECT_GT(cordoned->version, v1);
  ASSERT_EQ(Names(*cordoned), std::vector<std::string>{"a2"});
  EXPECT_NE(cordoned->nodes[0].find("\"state\":\"CORDONED\""), std::string::npos)
      << cordoned->nodes[0];
  const int64_t v2 = cordoned->version;

  // A running attempt takes GPU 1 of a3: a3 only, with its holder.
  db->Exec(
      "INSERT INTO users (user_name, token_hash) VALUES ('alice', repeat('a', 64));"
      "INSERT INTO chains (chain_id, name, user_name, node_group, priority, nodes, entrypoint) "
      "VALUES (7, 'train', 'alice', 'g', 10, 1, '/x');"
      "INSERT INTO attempts (attempt_id, chain_id, attempt_no, state, tier, scheduled_at) "
      "VALUES (70, 7, 0, 'running', 10, now());"
      "INSERT INTO pods (attempt_id, rank, node, gpus) VALUES (70, 0, 'a3', '{1}')");
  // Not refreshed by a hub (no page open): marked stale, the next read refreshes itself.
  nodes.MarkStale();
  auto held = nodes.Since(v2);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(Names(*held), std::vector<std::string>{"a3"});
  EXPECT_NE(held->nodes[0].find("\"used_gpus\":[1]"), std::string::npos) << held->nodes[0];
  EXPECT_NE(held->nodes[0].find("\"user\":\"alice\""), std::string::npos) << held->nodes[0];
  // Both changes for a page still at v1.
  auto both = nodes.Since(v1);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(Names(*both), (std::vector<std::string>{"a2", "a3"}));

  // A version this haid never gave (a page kept across a restart): everything.
  auto foreign = nodes.Since(held->version + 100);
  ASSERT_TRUE(foreign.ok());
  EXPECT_TRUE(foreign->full);
  EXPECT_EQ(foreign->nodes.size(), 3u);

  // A new node changes the layout: pages from before it get every node.
  db->Exec("INSERT INTO hosts (node, node_group, gpus) VALUES ('a0', 'g', 1)");
  ASSERT_TRUE(nodes.Refresh().ok());
  auto added = nodes.Since(held->version);
  ASSERT_TRUE(added.ok());
  EXPECT_TRUE(added->full);
  EXPECT_EQ(Names(*added), (std::vector<std::string>{"a0", "a1", "a2", "a3"}));
  auto after = nodes.Since(added->version);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->full);
  EXPECT_TRUE(after->nodes.empty());
}

}  // namespace
}  // namespace hai
