// Names, predicates and transition tables of the task model (states.h).
#include "common/model/states.h"

#include <string>
#include <utility>

#include "common/check.h"

namespace hai::model {
namespace {

// One name table per enum; Name and Parse both read it, so they cannot disagree.
template <typename E, size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<AttemptState, 8> kAttemptNames = {{
    {AttemptState::kQueued, "queued"},
    {AttemptState::kScheduled, "scheduled"},
    {AttemptState::kStarting, "starting"},
    {AttemptState::kRunning, "running"},
    {AttemptState::kSucceeded, "succeeded"},
    {AttemptState::kFailed, "failed"},
    {AttemptState::kStopped, "stopped"},
    {AttemptState::kSuspended, "suspended"},
}};
constexpr NameTable<PodState, 7> kPodNames = {{
    {PodState::kCreated, "created"},
    {PodState::kStarting, "starting"},
    {PodState::kRunning, "running"},
    {PodState::kSucceeded, "succeeded"},
    {PodState::kFailed, "failed"},
    {PodState::kStopped, "stopped"},
    {PodState::kLost, "lost"},
}};
constexpr NameTable<ChainState, 6> kChainNames = {{
    {ChainState::kQueued, "queued"},
    {ChainState::kRunning, "running"},
    {ChainState::kSuspended, "suspended"},
    {ChainState::kSucceeded, "succeeded"},
    {ChainState::kFailed, "failed"},
    {ChainState::kStopped, "stopped"},
}};
constexpr NameTable<NodeState, 5> kNodeNames = {{
    {NodeState::kReady, "ready"},
    {NodeState::kCordoned, "cordoned"},
    {NodeState::kDraining, "draining"},
    {NodeState::kUnhealthy, "unhealthy"},
    {NodeState::kOffline, "offline"},
}};
constexpr NameTable<TaskKind, 3> kKindNames = {{
    {TaskKind::kPython, "python"},
    {TaskKind::kBash, "bash"},
    {TaskKind::kJupyter, "jupyter"},
}};

template <typename E, size_t N>
std::string_view NameIn(const NameTable<E, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "unknown";  // unreachable for a valid enum value
}

template <typename E, size_t N>
std::optional<E> ParseIn(const NameTable<E, N>& table, std::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

template <typename E, size_t N>
E FromDb(const NameTable<E, N>& table, std::string_view name, const char* what) {
  std::optional<E> e = ParseIn(table, name);
  HAI_CHECK(e.has_value()) << "unknown " << what << " '" << name << "' read from the database";
  return *e;
}

template <typename S>
absl::Status Refuse(S from, S to, std::string_view what) {
  std::string message = "illegal ";
  message.append(what).append(" transition ").append(Name(from)).append(" -> ").append(Name(to));
  return absl::FailedPreconditionError(message);
}

}  // namespace

std::string_view Name(AttemptState s) { return NameIn(kAttemptNames, s); }
std::string_view Name(PodState s) { return NameIn(kPodNames, s); }
std::string_view Name(ChainState s) { return NameIn(kChainNames, s); }
std::string_view Name(NodeState s) { return NameIn(kNodeNames, s); }
std::string_view Name(TaskKind k) { return NameIn(kKindNames, k); }

std::ostream& operator<<(std::ostream& os, AttemptState s) { return os << Name(s); }
std::ostream& operator<<(std::ostream& os, PodState s) { return os << Name(s); }
std::ostream& operator<<(std::ostream& os, ChainState s) { return os << Name(s); }
std::ostream& operator<<(std::ostream& os, NodeState s) { return os << Name(s); }
std::ostream& operator<<(std::ostream& os, TaskKind k) { return os << Name(k); }

std::optional<AttemptState> ParseAttemptState(std::string_view n) {
  return ParseIn(kAttemptNames, n);
}
std::optional<PodState> ParsePodState(std::string_view n) { return ParseIn(kPodNames, n); }
std::optional<ChainState> ParseChainState(std::string_view n) { return ParseIn(kChainNames, n); }
std::optional<NodeState> ParseNodeState(std::string_view n) { return ParseIn(kNodeNames, n); }
std::optional<TaskKind> ParseTaskKind(std::string_view n) { return ParseIn(kKindNames, n); }

AttemptState AttemptStateFromDb(std::string_view n) {
  return FromDb(kAttemptNames, n, "attempt state");
}
PodState PodStateFromDb(std::string_view n) { return FromDb(kPodNames, n, "pod state"); }
ChainState ChainStateFromDb(std::string_view n) { return FromDb(kChainNames, n, "chain state"); }
NodeState NodeStateFromDb(std::string_view n) { return FromDb(kNodeNames, n, "node state"); }
TaskKind TaskKindFromDb(std::string_view n) { return FromDb(kKindNames, n, "task kind"); }

bool IsOpen(AttemptState s) {
  switch (s) {
    case AttemptState::kQueued:
    case AttemptState::kScheduled:
    case AttemptState::kStarting:
    case AttemptState::kRunning: return true;
    case AttemptState::kSucceeded:
    case AttemptState::kFailed:
    case AttemptState::kStopped:
    case AttemptState::kSuspended: return false;
  }
  return false;
}

bool HoldsNodes(AttemptState s) { return IsOpen(s) && s != AttemptState::kQueued; }

bool IsEnded(AttemptState s) { return !IsOpen(s); }

bool EndsChain(AttemptState s) { return IsEnded(s) && s != AttemptState::kSuspended; }

ChainState FinalChainState(AttemptState s) {
  switch (s) {
    case AttemptState::kSucceeded: return ChainState::kSucceeded;
    case AttemptState::kStopped: return ChainState::kStopped;
    default: return ChainState::kFailed;
  }
}

bool IsLive(PodState s) {
  return s == PodState::kCreated || s == PodState::kStarting || s == PodState::kRunning;
}

bool IsEnded(PodState s) { return !IsLive(s); }

bool IsFinal(ChainState s) {
  return s == ChainState::kSucceeded || s == ChainState::kFailed || s == ChainState::kStopped;
}

bool AcceptsWork(NodeState s) { return s == NodeState::kReady; }

bool AdminMaySet(NodeState s) {
  return s == NodeState::kReady || s == NodeState::kCordoned || s == NodeState::kDraining;
}

bool CanTransition(AttemptState from, AttemptState to) {
  if (from == to || IsEnded(from)) return false;
  switch (from) {
    // A queued attempt is placed, or ends without ever holding nodes: a user's stop, or a
    // hold (user suspend) while it waited.
    case AttemptState::kQueued:
      return to == AttemptState::kScheduled || to == AttemptState::kStopped ||
             to == AttemptState::kSuspended;
    // A manager claims a scheduled attempt; the ranks then all start. Whoever holds the
    // nodes may end the attempt in any way (haid fails it when its manager never came).
    case AttemptState::kScheduled: return to == AttemptState::kStarting || IsEnded(to);
    case AttemptState::kStarting: return to == AttemptState::kRunning || IsEnded(to);
    case AttemptState::kRunning: return IsEnded(to);
    default: return false;
  }
}

bool CanTransition(PodState from, PodState to) {
  if (from == to || IsEnded(from)) return false;
  switch (from) {
    // A rank may report running at once (local runtime) or wait first (an image pull).
    case PodState::kCreated: return to != PodState::kCreated;
    // A Kubernetes pod can go back to waiting (a restarted container), so these two
    // alternate; both may end any way.
    case PodState::kStarting:
    case PodState::kRunning: return to != PodState::kCreated;
    default: return false;
  }
}

absl::Status CheckTransition(AttemptState from, AttemptState to) {
  if (CanTransition(from, to)) return absl::OkStatus();
  return Refuse(from, to, "attempt");
}

absl::Status CheckTransition(PodState from, PodState to) {
  if (CanTransition(from, to)) return absl::OkStatus();
  return Refuse(from, to, "pod");
}

}  // namespace hai::model
