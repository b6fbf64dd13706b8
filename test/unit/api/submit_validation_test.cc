// Submit validation: every bad request is rejected with the status code the CLI maps to an
// exit code and a message that names what to change; good requests are normalised.
#include "scheduler/api/submit_validation.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hai::api {
namespace {

using ::testing::HasSubstr;

class SubmitValidationTest : public ::testing::Test {
 protected:
  SubmitValidationTest() {
    for (int i = 0; i < 4; ++i) {
      policy::Node n;
      n.name = "node-" + std::to_string(i);
      n.group = "default";
      n.gpus = 8;
      nodes_.push_back(n);
    }
    policy::Node j;
    j.name = "jup-0";
    j.group = "jupyter";
    j.jupyter = true;
    nodes_.push_back(j);
    quota_[{"alice", "default", policy::Tier::kNormal}] = 4;
    quota_[{"alice", "default", policy::Tier::kHigh}] = 1;
    ctx_.scheduler = &config_;
    ctx_.user = "alice";
    ctx_.nodes = &nodes_;
    ctx_.quota = &quota_;
    ctx_.is_file = [](const std::string& p) { return p == "/work/train.py"; };
    ctx_.is_directory = [](const std::string& p) { return p == "/work"; };
  }

  static hai::v1::SubmitRequest Good() {
    hai::v1::SubmitRequest r;
    r.set_entrypoint("/work/train.py");
    r.set_nodes(2);
    r.add_args("--lr");
    r.add_args("0.1");
    return r;
  }

  absl::StatusOr<store::NewChain> Validate(const hai::v1::SubmitRequest& r) {
    return ValidateSubmit(r, ctx_);
  }

  SchedulerConfig config_;
  std::vector<policy::Node> nodes_;
  std::map<policy::QuotaKey, int64_t> quota_;
  SubmitContext ctx_;
};

TEST_F(SubmitValidationTest, GoodRequestIsNormalised) {
  auto c = Validate(Good());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "train");  // from the script's base name
  EXPECT_EQ(c->group, "default");
  EXPECT_EQ(c->priority, static_cast<int>(policy::Tier::kNormal));
  EXPECT_EQ(c->kind, model::TaskKind::kPython);
  EXPECT_EQ(c->user, "alice");
  EXPECT_THAT(c->args, ::testing::ElementsAre("--lr", "0.1"));
}

struct BadCase {
  std::string what;
  std::function<void(hai::v1::SubmitRequest&)> mutate;
  absl::StatusCode code;
  std::string message;
};

TEST_F(SubmitValidationTest, BadRequestsGetTypedErrorsNamingTheProblem) {
  const std::vector<BadCase> cases = {
      {"zero nodes", [](auto& r) { r.set_nodes(0); }, absl::StatusCode::kInvalidArgument,
       "nodes must be between 1 and"},
      {"negative nodes", [](auto& r) { r.set_nodes(-3); }, absl::StatusCode::kInvalidArgument,
       "got -3"},
      {"huge nodes", [](auto& r) { r.set_nodes(1 << 30); }, absl::StatusCode::kInvalidArgument,
       "nodes must be between 1 and 1024"},
      {"more nodes than the group", [](auto& r) { r.set_nodes(6); },
       absl::StatusCode::kFailedPrecondition, ""},
      {"over quota forever", [](auto& r) { r.set_priority(hai::v1::PRIORITY_HIGH); },
       absl::StatusCode::kResourceExhausted, ""},
      {"unknown group", [](auto& r) { r.set_group("h100"); }, absl::StatusCode::kNotFound,
       "no node group 'h100'"},
      {"jupyter group", [](auto& r) { r.set_group("jupyter"); }, absl::StatusCode::kInvalidArgument,
       "Jupyter"},
      {"unknown priority", [](auto& r) { r.set_priority(static_cast<hai::v1::Priority>(31)); },
       absl::StatusCode::kInvalidArgument, "unknown priority 31"},
      {"missing script", [](auto& r) { r.set_entrypoint("/work/nope.py"); },
       absl::StatusCode::kInvalidArgument, "script not found: /work/nope.py"},
      {"relative script", [](auto& r) { r.set_entrypoint("train.py"); },
       absl::StatusCode::kInvalidArgument, "must be absolute"},
      {"oversize name", [](auto& r) { r.set_name(std::string(500, 'x')); },
       absl::StatusCode::kInvalidArgument, "task name must be 1-128"},
      {"bad name characters", [](auto& r) { r.set_name("a b/c"); },
       absl::StatusCode::kInvalidArgument, "task name"},
      {"oversize argument", [](auto& r) { r.add_args(std::string(kMaxArgLength + 1, 'a')); },
       absl::StatusCode::kInvalidArgument, "longer than"},
      {"too many arguments",
       [](auto& r) {
         for (size_t i = 0; i <= kMaxArgs; ++i) r.add_args("x");
       },
       absl::StatusCode::kInvalidArgument, "script arguments"},
      {"reserved env", [](auto& r) { (*r.mutable_env())["RANK"] = "3"; },
       absl::StatusCode::kInvalidArgument, "set by hai"},
      {"bad env name", [](auto& r) { (*r.mutable_env())["1X"] = "3"; },
       absl::StatusCode::kInvalidArgument, "invalid environment variable name"},
      {"unknown kind", [](auto& r) { r.set_kind("perl"); }, absl::StatusCode::kInvalidArgument,
       "unknown task kind"},
      // A model kind, but Jupyter containers come through JupyterService, not Submit.
      {"jupyter kind", [](auto& r) { r.set_kind("jupyter"); }, absl::StatusCode::kInvalidArgument,
       "unknown task kind"},
      {"missing workdir", [](auto& r) { r.set_workdir("/nowhere"); },
       absl::StatusCode::kInvalidArgument, "working directory not found"},
      {"gpus on multi-node", [](auto& r) { r.set_gpus_per_node(2); },
       absl::StatusCode::kInvalidArgument, "single-node"},
      {"negative time limit", [](auto& r) { r.set_time_limit_s(-5); },
       absl::StatusCode::kInvalidArgument, "time_limit_s must be between 0 (none) and"},
      {"time limit over a year", [](auto& r) { r.set_time_limit_s(kMaxTimeLimitS + 1); },
       absl::StatusCode::kInvalidArgument, "got 31622401"},
      // Paths, references and names reach argv, file names and YAML: no NUL or control bytes.
      {"NUL in script path",
       [](auto& r) { r.set_entrypoint(std::string("/work/train.py\0x", 16)); },
       absl::StatusCode::kInvalidArgument, "script path contains NUL or control characters"},
      {"newline in script path", [](auto& r) { r.set_entrypoint("/work/train.py\n--evil"); },
       absl::StatusCode::kInvalidArgument, "control characters"},
      {"escape in workdir", [](auto& r) { r.set_workdir("/work\x1b[2J"); },
       absl::StatusCode::kInvalidArgument, "working directory contains"},
      {"NUL in image", [](auto& r) { r.set_image(std::string("ubuntu\0:22.04", 13)); },
       absl::StatusCode::kInvalidArgument, "image reference contains control characters"},
      {"bad image", [](auto& r) { r.set_image("Ubuntu:latest"); },
       absl::StatusCode::kInvalidArgument, "invalid image reference 'Ubuntu:latest'"},
      {"DEL in environment", [](auto& r) { r.set_environment("py311\x7f"); },
       absl::StatusCode::kInvalidArgument, "environment name"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    hai::v1::SubmitRequest r = Good();
    c.mutate(r);
    auto got = Validate(r);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), c.code) << got.status();
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(c.message));
  }
}

TEST_F(SubmitValidationTest, AutoPriorityAndSingleNodeGpusAreAccepted) {
  hai::v1::SubmitRequest r = Good();
  r.set_nodes(1);
  r.set_gpus_per_node(2);
  r.set_priority(hai::v1::PRIORITY_AUTO);
  auto c = Validate(r);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->priority, policy::kAutoPriority);
  EXPECT_EQ(c->gpus_per_node, 2);
}

TEST_F(SubmitValidationTest, TimeLimitIsKeptAndZeroMeansNone) {
  hai::v1::SubmitRequest r = Good();
  r.set_time_limit_s(7200);
  auto c = Validate(r);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->time_limit_s, 7200);
  c = Validate(Good());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->time_limit_s, 0);
}

}  // namespace
}  // namespace hai::api
