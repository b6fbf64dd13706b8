// Submit validation (scheduler/api/submit_validation.h): a SubmitRequest decoded from the
// fuzzer's bytes (as gRPC decodes one off the wire) is validated against a fixed cluster;
// whatever it holds, the answer is a NewChain within the limits or a typed error.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "fuzz/fuzz_check.h"
#include "hai/v1/task.pb.h"
#include "scheduler/api/image_ref.h"
#include "scheduler/api/submit_validation.h"

namespace {

struct Fixture {
  Fixture() {
    for (int i = 0; i < 4; ++i) {
      hai::policy::Node n;
      n.name = "node-" + std::to_string(i);
      n.group = "default";
      n.gpus = 8;
      nodes.push_back(n);
    }
    hai::policy::Node j;
    j.name = "jup-0";
    j.group = "jupyter";
    j.jupyter = true;
    nodes.push_back(j);
    quota[{"alice", "default", hai::policy::Tier::kNormal}] = 4;
    quota[{"alice", "default", hai::policy::Tier::kHigh}] = 1;
    ctx.scheduler = &config;
    ctx.user = "alice";
    ctx.nodes = &nodes;
    ctx.quota = &quota;
    ctx.is_file = [](const std::string& p) { return absl::StartsWith(p, "/work/"); };
    ctx.is_directory = [](const std::string& p) { return p == "/work" || p == "/tmp"; };
  }
  hai::SchedulerConfig config;
  std::vector<hai::policy::Node> nodes;
  std::map<hai::policy::QuotaKey, int64_t> quota;
  hai::api::SubmitContext ctx;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture* f = new Fixture();
  hai::v1::SubmitRequest req;
  if (!req.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<hai::store::NewChain> c = hai::api::ValidateSubmit(req, f->ctx);
  if (!c.ok()) {
    const absl::StatusCode code = c.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound ||
                   code == absl::StatusCode::kFailedPrecondition ||
                   code == absl::StatusCode::kResourceExhausted ||
                   code == absl::StatusCode::kPermissionDenied,
               "%s", c.status().ToString().c_str());
    return 0;
  }
  FUZZ_CHECK(c->user == "alice", "user '%s'", c->user.c_str());
  FUZZ_CHECK(!c->name.empty() && c->name.size() <= hai::api::kMaxNameLength, "name '%s'",
             c->name.c_str());
  FUZZ_CHECK(c->args.size() <= hai::api::kMaxArgs, "%zu args", c->args.size());
  FUZZ_CHECK(hai::api::CheckImageReference(c->image).ok(), "image '%s'", c->image.c_str());
  FUZZ_CHECK(!hai::api::HasControlCharacter(c->entrypoint), "control character in entrypoint");
  FUZZ_CHECK(!hai::api::HasControlCharacter(c->workdir), "control character in workdir");
  return 0;
}
