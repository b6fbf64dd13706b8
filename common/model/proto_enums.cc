#include "common/model/proto_enums.h"

#include <array>
#include <cstddef>

namespace hai::model {
namespace {

template <typename Proto, typename Model>
Proto Up(Model s) {
  return static_cast<Proto>(static_cast<int>(s) + 1);
}

// The model value of proto number `p` when 1 <= p <= all.size().
template <typename Model, size_t N>
std::optional<Model> Down(int p, const std::array<Model, N>& all) {
  if (p < 1 || p > static_cast<int>(N)) return std::nullopt;
  return all[static_cast<size_t>(p - 1)];
}

}  // namespace

hai::v1::Attempt::State ToProto(AttemptState s) { return Up<hai::v1::Attempt::State>(s); }
hai::v1::Pod::State ToProto(PodState s) { return Up<hai::v1::Pod::State>(s); }
hai::v1::Task::State ToProto(ChainState s) { return Up<hai::v1::Task::State>(s); }
hai::v1::Node::State ToProto(NodeState s) { return Up<hai::v1::Node::State>(s); }

std::optional<AttemptState> FromProto(hai::v1::Attempt::State s) {
  return Down(static_cast<int>(s), kAttemptStates);
}
std::optional<PodState> FromProto(hai::v1::Pod::State s) {
  return Down(static_cast<int>(s), kPodStates);
}
std::optional<ChainState> FromProto(hai::v1::Task::State s) {
  return Down(static_cast<int>(s), kChainStates);
}
std::optional<NodeState> FromProto(hai::v1::Node::State s) {
  return Down(static_cast<int>(s), kNodeStates);
}

hai::v1::Priority PriorityToProto(int priority) { return static_cast<hai::v1::Priority>(priority); }

std::optional<int> PriorityFromProto(hai::v1::Priority p) {
  const int value = static_cast<int>(p);
  if (!PriorityName(value).has_value()) return std::nullopt;
  return value;
}

}  // namespace hai::model
