// hai-sim's input files (bench/sim/trace.h, quota_file.h): the trace CSV, the cluster CSV
// and TOML, and the quota CSV. The fuzzer's bytes are written to a file and read by all four
// readers, through the same code hai-sim runs; each accepts or refuses with a typed error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/sim/quota_file.h"
#include "bench/sim/replay.h"
#include "bench/sim/trace.h"
#include "fuzz/fuzz_check.h"

namespace {

// In memory when /dev/shm is there: on a disk, thousands of rewrites a second are slow.
std::string TempBase() {
  const char* dir = std::getenv("TMPDIR");
  std::string base = access("/dev/shm", W_OK) == 0    ? "/dev/shm"
                     : dir != nullptr && *dir != '\0' ? dir
                                                      : "/tmp";
  return absl::StrCat(base, "/hai_sim_csv_fuzz.", getpid());
}

bool Write(const std::string& path, const uint8_t* data, size_t size) {
  // A new file each time: ext4 flushes a file rewritten in place when it is closed.
  unlink(path.c_str());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

void CheckCode(const absl::Status& s) {
  if (s.ok()) return;
  FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument, "%s", s.ToString().c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string base = TempBase();
  const std::string csv = base + ".csv";
  const std::string toml = base + ".toml";
  if (!Write(csv, data, size) || !Write(toml, data, size)) return 0;

  hai::sim::TraceOptions plain;
  auto trace = hai::sim::LoadTrace(csv, plain);
  CheckCode(trace.status());
  hai::sim::TraceOptions tiered{.group_column = "vc", .tier_column = "tier"};
  CheckCode(hai::sim::LoadTrace(csv, tiered).status());
  for (const std::string& path : {csv, toml}) {
    auto groups = hai::sim::LoadCluster(path, 8);
    CheckCode(groups.status());
    if (groups.ok()) {
      for (const hai::sim::GroupSpec& g : *groups) {
        FUZZ_CHECK(g.nodes >= 1 && g.gpus_per_node >= 1 && g.gpus_per_node <= 64,
                   "group '%s': %d nodes of %d GPUs", g.name.c_str(), g.nodes, g.gpus_per_node);
      }
    }
  }
  std::vector<hai::sim::SimJob> jobs(2);
  jobs[0].user = "alice";
  jobs[1].user = "bob";
  CheckCode(hai::sim::LoadQuota(csv, jobs).status());
  unlink(csv.c_str());
  unlink(toml.c_str());
  return 0;
}
