// Node health, once per pass: a node whose ranks keep getting lost (its processes vanish, its
// pods fail as lost) is marked unhealthy so nothing new lands there, and the tasks still on it
// are suspended through the normal protocol (checkpoint, requeue keeping their place) so they
// resume elsewhere. An admin's uncordon clears the count (store.h MarkUnhealthyNodes).
#pragma once

#include "scheduler/events/notifier.h"
#include "scheduler/store/loop_store.h"

namespace hai {

class NodeHealth {
 public:
  // `threshold`: lost ranks that make a node unhealthy (0 = never).
  NodeHealth(store::NodeHealthRecords& store, Notifier& notifier, int threshold)
      : store_(store), notifier_(notifier), threshold_(threshold) {}

  // True when a node was marked (the next pass must see it as unusable: wake it).
  bool Check();

 private:
  store::NodeHealthRecords& store_;
  Notifier& notifier_;
  int threshold_;
};

}  // namespace hai
