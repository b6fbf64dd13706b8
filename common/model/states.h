// The states of hai's task model, defined once: attempt, pod, chain and node states and the
// task kind, each an enum with its public name (the text stored in Postgres and shown by the
// API), a parser, and the predicates every other layer asks ("is this attempt open", "does it
// hold nodes", "has it ended"). The attempt and pod transition tables live here too, so the
// one writer of attempt endings (common/lifecycle/) and the tests refuse the same pairs.
// Pure: no I/O; links abseil only. See docs/architecture.md, "The task model".
#pragma once

#include <array>
#include <optional>
#include <ostream>
#include <string_view>

#include "absl/status/status.h"

namespace hai::model {

// An attempt is one run of a chain: queued -> scheduled -> starting -> running -> an end.
enum class AttemptState {
  kQueued,     // waiting for the scheduler
  kScheduled,  // placed: pods rows exist, no manager has claimed it yet
  kStarting,   // a manager claimed it and is starting ranks
  kRunning,    // every rank started
  kSucceeded,  // ended: every rank exited 0
  kFailed,     // ended: a rank failed, or haid gave up on its manager
  kStopped,    // ended: stopped by a user or an admin
  kSuspended,  // ended: suspended (preempted, over quota, held); the chain is requeued or held
};
inline constexpr std::array<AttemptState, 8> kAttemptStates = {
    AttemptState::kQueued,  AttemptState::kScheduled, AttemptState::kStarting,
    AttemptState::kRunning, AttemptState::kSucceeded, AttemptState::kFailed,
    AttemptState::kStopped, AttemptState::kSuspended,
};

// One rank of an attempt on one node.
enum class PodState { kCreated, kStarting, kRunning, kSucceeded, kFailed, kStopped, kLost };
inline constexpr std::array<PodState, 7> kPodStates = {
    PodState::kCreated, PodState::kStarting, PodState::kRunning, PodState::kSucceeded,
    PodState::kFailed,  PodState::kStopped,  PodState::kLost,
};

// A chain as users see it, derived from its rows (store/chain_state.cc); only the final
// three are stored (chains.final_state).
enum class ChainState { kQueued, kRunning, kSuspended, kSucceeded, kFailed, kStopped };
inline constexpr std::array<ChainState, 6> kChainStates = {
    ChainState::kQueued,    ChainState::kRunning, ChainState::kSuspended,
    ChainState::kSucceeded, ChainState::kFailed,  ChainState::kStopped,
};

// hosts.state.
enum class NodeState { kReady, kCordoned, kDraining, kUnhealthy, kOffline };
inline constexpr std::array<NodeState, 5> kNodeStates = {
    NodeState::kReady,     NodeState::kCordoned, NodeState::kDraining,
    NodeState::kUnhealthy, NodeState::kOffline,
};

// chains.kind.
enum class TaskKind { kPython, kBash, kJupyter };
inline constexpr std::array<TaskKind, 3> kTaskKinds = {TaskKind::kPython, TaskKind::kBash,
                                                       TaskKind::kJupyter};

// Public names ("queued", "running", ...): the values of the SQL CHECK constraints.
std::string_view Name(AttemptState s);
std::string_view Name(PodState s);
std::string_view Name(ChainState s);
std::string_view Name(NodeState s);
std::string_view Name(TaskKind k);

// Streams the public name (logs, test failure messages).
std::ostream& operator<<(std::ostream& os, AttemptState s);
std::ostream& operator<<(std::ostream& os, PodState s);
std::ostream& operator<<(std::ostream& os, ChainState s);
std::ostream& operator<<(std::ostream& os, NodeState s);
std::ostream& operator<<(std::ostream& os, TaskKind k);

// Exact (case-sensitive) parsers of the names above; nullopt for anything else.
std::optional<AttemptState> ParseAttemptState(std::string_view name);
std::optional<PodState> ParsePodState(std::string_view name);
std::optional<ChainState> ParseChainState(std::string_view name);
std::optional<NodeState> ParseNodeState(std::string_view name);
std::optional<TaskKind> ParseTaskKind(std::string_view name);

// The parsers for names read back from Postgres, whose CHECK constraints admit only the names
// above: an unknown name means the schema and this binary disagree, so these abort (HAI_CHECK)
// rather than guess.
AttemptState AttemptStateFromDb(std::string_view name);
PodState PodStateFromDb(std::string_view name);
ChainState ChainStateFromDb(std::string_view name);
NodeState NodeStateFromDb(std::string_view name);
TaskKind TaskKindFromDb(std::string_view name);

// ---- attempt predicates: the only definitions of these sets.
// The attempt may still run: queued, scheduled, starting, running.
bool IsOpen(AttemptState s);
// The attempt holds its nodes (pods rows placed): scheduled, starting, running.
bool HoldsNodes(AttemptState s);
// The attempt is over: succeeded, failed, stopped, suspended. Exactly !IsOpen.
bool IsEnded(AttemptState s);
// An ended state that also ends the chain (every end but suspended).
bool EndsChain(AttemptState s);
// The chain's final state for an attempt ending in `s` (EndsChain(s) must hold).
ChainState FinalChainState(AttemptState s);

// ---- pod predicates
// The rank may still be running or about to: created, starting, running.
bool IsLive(PodState s);
bool IsEnded(PodState s);

// ---- chain predicates
// succeeded, failed, stopped: the chain will never run again.
bool IsFinal(ChainState s);

// ---- node predicates
// New work may start on the node.
bool AcceptsWork(NodeState s);
// An admin may put a node in this state (ready, cordoned, draining); unhealthy and offline
// are set by haid's node health and the runtimes.
bool AdminMaySet(NodeState s);

// The attempt transition table (docs/architecture.md draws it). Staying in a state is not a
// transition. Ended states are terminal: an attempt never reopens; a requeue is a new attempt.
bool CanTransition(AttemptState from, AttemptState to);
// The pod transition table: created -> starting -> running -> an end; a live pod may end
// from any live state; ended pods are terminal.
bool CanTransition(PodState from, PodState to);

// OkStatus when CanTransition(from, to); otherwise FailedPrecondition naming both states,
// the typed refusal every writer returns for an illegal transition.
absl::Status CheckTransition(AttemptState from, AttemptState to);
absl::Status CheckTransition(PodState from, PodState to);

}  // namespace hai::model
