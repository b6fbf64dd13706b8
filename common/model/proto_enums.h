// The task model's enums as the hai.v1 API carries them. The proto enums list the same
// states in the same order after STATE_UNSPECIFIED (0), named in upper case, and priorities
// carry their tier numbers, so each conversion is arithmetic; model_proto_test checks that
// every name and number agrees. FromProto returns nullopt for STATE_UNSPECIFIED and for
// numbers this build does not know (proto3 enums are open: a newer peer may send one).
#pragma once

#include <optional>

#include "common/model/states.h"
#include "common/model/tier.h"
#include "hai/v1/cluster.pb.h"
#include "hai/v1/common.pb.h"
#include "hai/v1/task.pb.h"

namespace hai::model {

hai::v1::Attempt::State ToProto(AttemptState s);
hai::v1::Pod::State ToProto(PodState s);
hai::v1::Task::State ToProto(ChainState s);
hai::v1::Node::State ToProto(NodeState s);

std::optional<AttemptState> FromProto(hai::v1::Attempt::State s);
std::optional<PodState> FromProto(hai::v1::Pod::State s);
std::optional<ChainState> FromProto(hai::v1::Task::State s);
std::optional<NodeState> FromProto(hai::v1::Node::State s);

// A tier or kAutoPriority as the API's Priority.
hai::v1::Priority PriorityToProto(int priority);
// The priority value (a tier number or kAutoPriority); nullopt for a number that is neither.
std::optional<int> PriorityFromProto(hai::v1::Priority p);

}  // namespace hai::model
