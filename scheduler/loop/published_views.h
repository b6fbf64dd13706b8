// What the scheduling loop publishes for everyone else: why each chain waits, the quota and
// use, the nodes, and when the last pass ended. The loop replaces each view whole at the end
// of a pass (Publish); readers (gRPC handlers, the HTTP side port) take a shared pointer to
// the current one under a short lock and read it without blocking the loop.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scheduler/policy/quota.h"
#include "scheduler/policy/types.h"

namespace hai {

// Why a chain is waiting, as of the last pass.
struct PendingView {
  int64_t chain_id = 0;
  std::string name;
  std::string user;
  std::string group;
  int nodes = 0;
  int tier = 0;
  int position = 0;
  std::string reason;  // PendingReasonName
  std::string detail;
};

// Every chain waiting after a pass, published for the API. Built without a string per task
// (a pass over 100,000 waiting tasks must not allocate, and the next one free, 100,000 of
// them): entries are plain data, the chains' names, users and groups go into one text
// buffer, and a detail line is written from the plan's facts only when a view is asked for.
class PendingTable {
 public:
  void Reserve(size_t n);
  // `task` is the waiting task, `name` its chain's name.
  void Add(policy::Pending pending, const policy::Task& task, std::string_view name);
  std::optional<PendingView> Find(int64_t chain_id) const;
  std::vector<PendingView> All() const;  // in no particular order
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    int64_t chain_id = 0;
    int nodes = 0;
    int tier = 0;
    uint32_t text = 0;  // offset of name, user, group in text_
    uint32_t name_len = 0, user_len = 0, group_len = 0;
    policy::Pending pending;
  };
  PendingView View(const Entry& e) const;

  const absl::flat_hash_map<int64_t, uint32_t>& ByChain() const;

  std::vector<Entry> entries_;
  std::string text_;
  // Chain id -> index into entries_, built on the first lookup: most passes' tables are
  // replaced before anyone asks.
  mutable absl::once_flag by_chain_once_;
  mutable absl::flat_hash_map<int64_t, uint32_t> by_chain_;
};

// Quota and use as of the last pass (for WhoAmI and admin checks).
struct QuotaView {
  std::map<policy::QuotaKey, int64_t> quota;
  std::map<policy::QuotaKey, int64_t> used_nodes;
  std::vector<policy::QuotaRow> rows;
  std::map<std::string, std::vector<std::string>> user_groups;
  std::vector<policy::QuotaProblem> problems;
};

// Why a Jupyter container waits, as of the last Jupyter pass.
struct JupyterPendingView {
  std::string reason;  // PendingReasonName
  std::string detail;
  int position = 0;
};

// Where waiting containers' reasons come from (JupyterPass), so PendingFor answers for
// training chains and containers alike.
class JupyterPendingSource {
 public:
  virtual ~JupyterPendingSource() = default;
  virtual std::optional<JupyterPendingView> PendingFor(int64_t chain_id) const = 0;
};

class PublishedViews {
 public:
  // Set once, before the loop starts.
  void SetJupyterSource(const JupyterPendingSource* jupyter) { jupyter_ = jupyter; }

  // ---- the loop's side
  // The views of one finished pass, replacing the previous ones at once.
  void Publish(std::shared_ptr<const PendingTable> pending, QuotaView quota, absl::Time at);
  // The admin tables were reloaded: the node list submit validation checks against.
  void SetNodes(std::shared_ptr<const std::vector<policy::Node>> nodes);

  // ---- readers (any thread)
  std::optional<PendingView> PendingFor(int64_t chain_id) const;
  std::vector<PendingView> Queue() const;  // tier desc, then position
  QuotaView Quota() const;
  // The same view without a copy (submit reads it on every call).
  std::shared_ptr<const QuotaView> QuotaShared() const;
  // Nodes as of the last admin reload (null before the first), for submit validation.
  std::shared_ptr<const std::vector<policy::Node>> Nodes() const;
  // Time of the last completed pass (InfinitePast before the first).
  absl::Time LastPassAt() const;

 private:
  std::shared_ptr<const PendingTable> PendingShared() const;

  const JupyterPendingSource* jupyter_ = nullptr;
  mutable absl::Mutex mu_;
  std::shared_ptr<const PendingTable> pending_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<PendingTable>();
  std::shared_ptr<const QuotaView> quota_ ABSL_GUARDED_BY(mu_) = std::make_shared<QuotaView>();
  std::shared_ptr<const std::vector<policy::Node>> nodes_ ABSL_GUARDED_BY(mu_);
  absl::Time last_pass_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace hai
