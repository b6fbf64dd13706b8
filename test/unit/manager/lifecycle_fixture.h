// The world of one attempt for AttemptLifecycle's unit tests: the in-memory store, runtime and
// hints on a fake clock, a scratch data_dir, and the seeded attempt (a bash chain with one
// pods row per rank, 'scheduled' unless a test seeds otherwise). Timings are the defaults of
// LifecycleOptions (heartbeat 2 s, suspend grace 30 s, kill grace 10 s), so "at 5 s" in a test
// falls between the heartbeats at 4 s and 6 s. TearDown fails the test when the store refused
// a transition: the lifecycle must only attempt legal ones.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "manager/lifecycle.h"
#include "test/unit/manager/fake_attempt_store.h"
#include "test/unit/manager/fake_clock.h"
#include "test/unit/manager/fake_hints.h"
#include "test/unit/manager/fake_pod_runtime.h"

namespace hai::manager::testing {

inline constexpr int64_t kAttemptId = 42;
inline constexpr int64_t kChainId = 7;
// A run still going after this much fake time is a lifecycle that never ends: the fixture's
// shutdown flag makes it leave, and the test's expectations then fail.
inline constexpr absl::Duration kGiveUp = absl::Hours(1);

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/hai-lifecycle-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    data_dir_ = tmpl;
    Seed(2, model::AttemptState::kScheduled);
  }

  void TearDown() override {
    EXPECT_THAT(store_.refusals, ::testing::IsEmpty()) << "the lifecycle attempted an illegal "
                                                          "transition";
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }

  // An attempt of `ranks` ranks on nodes n0, n1, ... in `state`, its pods rows 'created'.
  void Seed(int ranks, model::AttemptState state) {
    AttemptInfo& a = store_.attempt;
    a = AttemptInfo{};
    a.attempt_id = kAttemptId;
    a.chain_id = kChainId;
    a.attempt_no = 1;
    a.state = state;
    a.chain_name = "train";
    a.user_name = "alice";
    a.kind = model::TaskKind::kBash;
    a.node_group = "default";
    a.entrypoint = "/work/job.sh";
    a.workdir = "/work";
    for (int rank = 0; rank < ranks; ++rank) {
      PodInfo pod;
      pod.rank = rank;
      pod.node = absl::StrCat("n", rank);
      pod.gpus = {0, 1};
      a.pods.push_back(pod);
    }
  }

  // Runs the lifecycle to its end with the options of this test.
  int Run() {
    LifecycleOptions opt = options_;
    opt.data_dir = data_dir_;
    opt.control_url = "http://127.0.0.1:1";
    opt.shutdown_requested = [this] { return shutdown_ || clock_.Elapsed() > kGiveUp; };
    AttemptLifecycle lifecycle(kAttemptId, store_, runtime_, hints_, clock_, std::move(opt));
    return lifecycle.Run();
  }

  model::AttemptState State() const { return store_.attempt.state; }
  model::PodState PodState(int rank) { return store_.FindPod(rank)->state; }
  std::optional<int> PodExitCode(int rank) { return store_.FindPod(rank)->exit_code; }
  // The attempt's run directory, created (as an earlier manager left it).
  std::string RunDir() const {
    const std::string dir = absl::StrCat(data_dir_, "/run/", kAttemptId);
    std::filesystem::create_directories(dir);
    return dir;
  }

  std::string data_dir_;
  FakeClock clock_;
  FakeAttemptStore store_{clock_};
  FakePodRuntime runtime_;
  FakeHints hints_{clock_};
  LifecycleOptions options_;
  bool shutdown_ = false;  // the manager got SIGTERM
};

}  // namespace hai::manager::testing
