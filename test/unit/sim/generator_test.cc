// The synthetic gang-heavy workload (bench/sim/generator.h): reproducible from its seed, at
// the offered load asked for, with every size class present, and readable back as a trace.
#include "bench/sim/generator.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "bench/sim/metrics.h"
#include "bench/sim/trace.h"
#include "gtest/gtest.h"

namespace hai::sim {
namespace {

WorkloadSpec Small() {
  return {.group = "g", .nodes = 20, .gpus_per_node = 8, .load = 0.9, .days = 20, .seed = 7};
}

TEST(GeneratorTest, SameSeedSameJobs) {
  absl::StatusOr<Workload> a = GenerateGangHeavy(Small());
  absl::StatusOr<Workload> b = GenerateGangHeavy(Small());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->jobs.size(), b->jobs.size());
  for (size_t i = 0; i < a->jobs.size(); ++i) {
    EXPECT_EQ(a->jobs[i].submit_s, b->jobs[i].submit_s);
    EXPECT_EQ(a->jobs[i].duration_s, b->jobs[i].duration_s);
    EXPECT_EQ(a->jobs[i].nodes, b->jobs[i].nodes);
  }
  WorkloadSpec other = Small();
  other.seed = 8;
  absl::StatusOr<Workload> c = GenerateGangHeavy(other);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(a->jobs.size() != c->jobs.size() || a->jobs[0].duration_s != c->jobs[0].duration_s);
}

TEST(GeneratorTest, OfferedLoadIsTheTargetAndEverySizeClassAppears) {
  const WorkloadSpec spec = Small();
  absl::StatusOr<Workload> w = GenerateGangHeavy(spec);
  ASSERT_TRUE(w.ok());
  const double capacity_h = 20.0 * 8 * spec.days * 24;
  double gpu_h = 0;
  double biggest = 0;
  std::map<std::string, int> sizes;
  int64_t last_submit = -1;
  for (const TraceJob& j : w->jobs) {
    const double h = j.gpus * static_cast<double>(j.duration_s) / 3600.0;
    gpu_h += h;
    biggest = std::max(biggest, h);
    ++sizes[SizeClassOf(j.nodes)];
    EXPECT_GE(j.submit_s, last_submit);  // submit order
    last_submit = j.submit_s;
    EXPECT_LT(j.submit_s, spec.days * 86400);
    EXPECT_GE(j.duration_s, 120);
    EXPECT_LE(j.duration_s, 72 * 3600);
    EXPECT_LE(j.nodes, 20);
    if (j.nodes > 1) {
      EXPECT_EQ(j.gpus, j.nodes * 8);  // gangs hold whole nodes
    }
  }
  EXPECT_NEAR(gpu_h, w->offered_gpu_hours, 1e-6 * gpu_h);
  // The last job crosses the target: within one job of it.
  EXPECT_GE(gpu_h, 0.9 * capacity_h);
  EXPECT_LE(gpu_h - biggest, 0.9 * capacity_h);
  for (const char* s : {"1", "2-4", "5-8", "9+"}) EXPECT_GT(sizes[s], 0) << s;
}

TEST(GeneratorTest, WrittenWorkloadReadsBackAsATrace) {
  absl::StatusOr<Workload> w = GenerateGangHeavy(Small());
  ASSERT_TRUE(w.ok());
  w->jobs[0].time_limit_s = 7200;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("gen_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(WriteWorkload(*w, (dir / "t.csv").string(), (dir / "c.csv").string()).ok());
  absl::StatusOr<std::vector<TraceJob>> back = LoadTrace((dir / "t.csv").string(), {});
  absl::StatusOr<std::vector<GroupSpec>> groups = LoadCluster((dir / "c.csv").string(), 8);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(back->size(), w->jobs.size());
  EXPECT_EQ((*back)[0].time_limit_s, 7200);
  EXPECT_EQ((*back)[1].time_limit_s, 0);
  for (size_t i = 0; i < back->size(); ++i) {
    EXPECT_EQ((*back)[i].submit_s, w->jobs[i].submit_s);
    EXPECT_EQ((*back)[i].nodes, w->jobs[i].nodes);
    EXPECT_EQ((*back)[i].gpus, w->jobs[i].gpus);
  }
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].nodes, 20);
}

TEST(GeneratorTest, RejectsBadSpecs) {
  WorkloadSpec s = Small();
  s.load = 0;
  EXPECT_FALSE(GenerateGangHeavy(s).ok());
  s = Small();
  s.nodes = 0;
  EXPECT_FALSE(GenerateGangHeavy(s).ok());
  s = Small();
  s.days = 0;
  EXPECT_FALSE(GenerateGangHeavy(s).ok());
}

}  // namespace
}  // namespace hai::sim
