// The cluster map's nodes (every host with the task holding each GPU) as JSON, kept with a
// version per node, so an open page fetches only the nodes that changed since the version it
// shows (GET /api/v1/nodes?since=V) instead of every node and GPU on every change. The event
// hub refreshes it once before it announces a change (one read of hosts and GPU holders for
// all open pages, not one per page) and names the version in the event, so a page already
// at that version fetches nothing. docs/http-api.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "scheduler/store/store.h"

namespace hai {

class NodeSnapshot {
 public:
  explicit NodeSnapshot(store::Store& store) : store_(store) {}

  // Reads hosts and GPU holders. A node whose JSON differs from the last read gets the next
  // version; a change of the list itself (a node added, removed or regrouped, or the order)
  // moves the layout version, before which a page gets every node again.
  absl::Status Refresh() ABSL_LOCKS_EXCLUDED(refresh_mu_, mu_);
  // A change nobody refreshed for (no page open): the next Since refreshes first.
  void MarkStale() ABSL_LOCKS_EXCLUDED(mu_);

  struct Answer {
    int64_t version = 0;
    bool full = true;                // every node, in map order; else only the changed ones
    std::vector<std::string> nodes;  // serialized JSON objects
  };
  // Every node when `since` is negative (after a refresh: what a script reads is current), or
  // when `since` is older than the layout or newer than this haid knows (a page kept across a
  // restart); else the nodes changed after `since`.
  absl::StatusOr<Answer> Since(int64_t since) ABSL_LOCKS_EXCLUDED(refresh_mu_, mu_);
  int64_t version() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  store::Store& store_;
  absl::Mutex refresh_mu_;  // one read at a time; taken before mu_
  mutable absl::Mutex mu_;
  bool stale_ ABSL_GUARDED_BY(mu_) = true;
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t layout_version_ ABSL_GUARDED_BY(mu_) = 0;
  std::string layout_ ABSL_GUARDED_BY(mu_);  // names, groups and jupyter flags in order
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);
  // name -> (JSON, version it last changed at)
  std::map<std::string, std::pair<std::string, int64_t>> nodes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hai
