// Resolution order: owners user > group > public, removes before adds within a level,
// conditions, invalid rows reported and skipped, output sorted by mount_path.
#include "manager/storage/resolve.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace hai::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const StorageUser kAlice{.user_name = "alice", .uid = 10001, .groups = {"lab", "nlp"}};
const StorageTask kTask{.chain_id = 42, .name = "bert", .group = "a100"};

StorageRow Add(int64_t id, std::string kind, std::string owner, std::string host,
               std::string mount, bool ro = false, std::string cond = "") {
  return StorageRow{.id = id, .host_path = std::move(host), .mount_path = std::move(mount),
                    .owner_kind = std::move(kind), .owner = std::move(owner),
                    .conditions = std::move(cond), .read_only = ro};
}
StorageRow Remove(int64_t id, std::string kind, std::string owner, std::string mount) {
  return StorageRow{.id = id, .host_path = "", .mount_path = std::move(mount),
                    .owner_kind = std::move(kind), .owner = std::move(owner),
                    .action = "remove"};
}

// "mount_path=host_path[:ro]#row"
std::vector<std::string> Show(const Resolution& r) {
  std::vector<std::string> out;
  for (const Mount& m : r.mounts) {
    out.push_back(absl::StrCat(m.mount_path, "=", m.host_path, m.read_only ? ":ro" : "", "#",
                               m.row_id));
  }
  return out;
}
std::vector<int64_t> ProblemRows(const Resolution& r) {
  std::vector<int64_t> out;
  for (const StorageProblem& p : r.problems) out.push_back(p.row_id);
  return out;
}

struct Case {
  std::string name;
  std::vector<StorageRow> rows;
  std::vector<std::string> want;
  std::vector<int64_t> problems = {};
};

TEST(ResolveTest, OrderTable) {
  const std::vector<Case> cases = {
      {"no rows", {}, {}},
      {"public row applies to everyone",
       {Add(1, "public", "public", "/srv/ds", "/datasets", true)},
       {"/datasets=/srv/ds:ro#1"}},
      {"other users' and groups' rows do not apply",
       {Add(1, "user", "bob", "/h/bob", "/ws"), Add(2, "group", "vision", "/h/v", "/v")},
       {}},
      {"group overrides public at the same mount_path",
       {Add(1, "public", "public", "/pub", "/d"), Add(2, "group", "lab", "/lab", "/d")},
       {"/d=/lab#2"}},
      {"user overrides group and public, whatever the ids",
       {Add(9, "public", "public", "/pub", "/d"), Add(1, "user", "alice", "/mine", "/d"),
        Add(5, "group", "nlp", "/nlp", "/d")},
       {"/d=/mine#1"}},
      {"a group remove drops the public mount",
       {Add(1, "public", "public", "/pub", "/d", true), Remove(2, "group", "lab", "/d")},
       {}},
      {"a user remove drops group and public mounts at that path only",
       {Add(1, "public", "public", "/pub", "/d"), Add(2, "group", "lab", "/lab", "/d"),
        Add(3, "group", "lab", "/other", "/e"), Remove(4, "user", "alice", "/d")},
       {"/e=/other#3"}},
      {"remove before add within a level: the same level's add survives",
       {Add(1, "public", "public", "/pub", "/d"), Add(2, "group", "lab", "/lab", "/d"),
        Remove(3, "group", "nlp", "/d")},
       {"/d=/lab#2"}},
      {"a lower-level remove does not touch a higher level's add",
       {Remove(1, "public", "public", "/d"), Add(2, "group", "lab", "/lab", "/d")},
       {"/d=/lab#2"}},
      {"a user add after a user remove re-adds",
       {Add(1, "group", "lab", "/lab", "/d"), Remove(2, "user", "alice", "/d"),
        Add(3, "user", "alice", "/mine", "/d", true)},
       {"/d=/mine:ro#3"}},
      {"remove matches the expanded mount_path exactly, not below it",
       {Add(1, "public", "public", "/a", "/d"), Add(2, "public", "public", "/b", "/d/x"),
        Remove(3, "user", "alice", "/d/")},
       {"/d/x=/b#2"}},
      {"two adds at one level: the higher id wins and the other is reported",
       {Add(7, "group", "nlp", "/nlp", "/d"), Add(3, "group", "lab", "/lab", "/d")},
       {"/d=/nlp#7"},
       {3}},
      {"conditions filter rows",
       {Add(1, "public", "public", "/a100", "/fast", false, R"(task.group == "a100")"),
        Add(2, "public", "public", "/v100", "/slow", false, R"(task.group == "v100")"),
        Add(3, "public", "public", "/lab", "/lab", false, R"(user.user_name ^= "ali")")},
       {"/fast=/a100#1", "/lab=/lab#3"}},
      {"a false condition on the overriding row keeps the lower mount",
       {Add(1, "public", "public", "/pub", "/d"),
        Add(2, "user", "alice", "/mine", "/d", false, R"(task.group == "v100")")},
       {"/d=/pub#1"}},
      {"templates expand in both paths",
       {Add(1, "public", "public", "/srv/ws/{user.user_name}", "/ws/{user.user_name}"),
        Add(2, "public", "public", "/ckpt/{user.uid}/{task.id}", "/ckpt/{task.nb_name}")},
       {"/ckpt/bert=/ckpt/10001/42#2", "/ws/alice=/srv/ws/alice#1"}},
      {"sorted by mount_path byte-wise: parents first",
       {Add(1, "public", "public", "/c", "/data/x"), Add(2, "public", "public", "/a", "/data"),
        Add(3, "public", "public", "/b", "/data-old")},
       {"/data=/a#2", "/data-old=/b#3", "/data/x=/c#1"}},
      {"inactive rows are ignored",
       {StorageRow{.id = 1, .host_path = "/a", .mount_path = "/a", .active = false}},
       {}},
      {"invalid rows are skipped and reported, the rest still applies",
       {Add(1, "public", "public", "/ok", "/ok"),
        Add(2, "public", "public", "/x", "/bad", false, R"(task.group = "a100")"),
        Add(3, "public", "public", "/x/{user.home}", "/y"),
        Add(4, "public", "public", "relative", "/z"),
        Add(5, "public", "public", "/x", "/"),
        Add(6, "public", "public", "/x", "/proc/self"),
        StorageRow{.id = 7, .host_path = "/x", .mount_path = "/t", .mount_type = "nfs"},
        StorageRow{.id = 8, .host_path = "/x", .mount_path = "/t", .action = "delete"},
        StorageRow{.id = 9, .host_path = "/x", .mount_path = "/t", .owner_kind = "role"},
        Add(10, "public", "public", "/x", "/a/../etc")},
       {"/ok=/ok#1"},
       {2, 3, 4, 5, 6, 7, 8, 9, 10}},
      {"configmap and pvc rows resolve like paths (the Kubernetes runtime mounts them)",
       {StorageRow{.id = 1, .host_path = "/scripts-{task.id}/run.sh", .mount_path = "/run.sh",
                   .mount_type = "configmap"},
        StorageRow{.id = 2, .host_path = "/datasets/imagenet", .mount_path = "/data",
                   .mount_type = "pvc"}},
       {"/data=/datasets/imagenet#2", "/run.sh=/scripts-42/run.sh#1"}},
      {"a bad row of another user is not reported to this task",
       {Add(1, "user", "bob", "/x", "/y", false, "garbage")},
       {}},
      {"a bad remove row does not drop anything",
       {Add(1, "public", "public", "/pub", "/d"),
        StorageRow{.id = 2, .mount_path = "/d", .owner_kind = "user", .owner = "alice",
                   .conditions = "nope", .action = "remove"}},
       {"/d=/pub#1"},
       {2}},
      {"workspace type is kept",
       {StorageRow{.id = 1, .host_path = "/srv/ws/{user.user_name}", .mount_path = "/ws",
                   .mount_type = "workspace"}},
       {"/ws=/srv/ws/alice#1"}},
  };
  for (const Case& c : cases) {
    const Resolution r = ResolveMounts(c.rows, kAlice, kTask);
    EXPECT_EQ(Show(r), c.want) << c.name;
    EXPECT_EQ(ProblemRows(r), c.problems) << c.name;
  }
}

TEST(ResolveTest, UnsafeValuesMakeTheRowAProblemNotAMount) {
  const StorageUser evil{.user_name = "..", .uid = 1, .groups = {}};
  const StorageTask slash{.chain_id = 1, .name = "a/../../etc", .group = "g"};
  const Resolution r = ResolveMounts(
      {Add(1, "public", "public", "/srv/ws/{user.user_name}", "/ws"),
       Add(2, "public", "public", "/ckpt/{task.nb_name}", "/ckpt"),
       Add(3, "public", "public", "/ds", "/ds")},
      evil, slash);
  EXPECT_THAT(Show(r), ElementsAre("/ds=/ds#3"));
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_EQ(r.problems[0].row_id, 1);
  EXPECT_NE(r.problems[0].reason.find("host_path: {user.user_name} is '..'"), std::string::npos)
      << r.problems[0].reason;
  EXPECT_EQ(r.problems[1].row_id, 2);
  EXPECT_NE(r.problems[1].reason.find("contains '/'"), std::string::npos);
}

TEST(ResolveTest, ProblemsCarryReasons) {
  const Resolution r = ResolveMounts(
      {Add(5, "public", "public", "/x", "/y", false, R"(task.group == "a)")}, kAlice, kTask);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].row_id, 5);
  EXPECT_NE(r.problems[0].reason.find("unterminated string literal"), std::string::npos);
  EXPECT_THAT(r.mounts, IsEmpty());
}

TEST(ResolveTest, InputOrderDoesNotMatter) {
  std::vector<StorageRow> rows = {Add(3, "group", "lab", "/lab", "/d"),
                                  Add(1, "group", "nlp", "/nlp", "/d"),
                                  Add(2, "public", "public", "/p", "/e")};
  const Resolution a = ResolveMounts(rows, kAlice, kTask);
  std::reverse(rows.begin(), rows.end());
  const Resolution b = ResolveMounts(rows, kAlice, kTask);
  EXPECT_EQ(a.mounts, b.mounts);
  EXPECT_EQ(a.problems, b.problems);
  EXPECT_THAT(Show(a), ElementsAre("/d=/lab#3", "/e=/p#2"));
}

TEST(ResolveTest, ValidateRowIsIndependentOfTheUser) {
  EXPECT_TRUE(ValidateRow(Add(1, "group", "lab", "/srv/{user.user_name}", "/ws")).ok());
  EXPECT_FALSE(ValidateRow(Add(1, "group", "", "/a", "/b")).ok());
  EXPECT_FALSE(ValidateRow(Add(1, "public", "public", "/a", "/dev")).ok());
  EXPECT_FALSE(ValidateRow(Add(1, "public", "public", "/a", "/sys/x")).ok());
  EXPECT_TRUE(ValidateRow(Add(1, "public", "public", "/a", "/device")).ok());
}

}  // namespace
}  // namespace hai::storage
