// Renderings of hai.v1 messages; see render.h.
#include "cli/render.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/format.h"
#include "common/model/proto_enums.h"
#include "common/model/states.h"
#include "google/protobuf/util/json_util.h"

namespace hai::cli {
namespace {

using hai::v1::Attempt;
using hai::v1::Task;

// Empty cells become "-" so that every row has the same number of words for awk.
std::string Cell(absl::string_view text) { return text.empty() ? "-" : std::string(text); }

std::string ExitText(bool has, int code) { return has ? absl::StrCat(code) : "-"; }

const Attempt* CurrentAttempt(const Task& task) {
  return task.attempts().empty() ? nullptr : &task.attempts(task.attempts_size() - 1);
}

std::string TierOf(const Task& task) {
  // A Jupyter container has no tier (it is never preempted): the column names its kind.
  if (task.kind() == "jupyter") return "jupyter";
  const Attempt* a = CurrentAttempt(task);
  return TierName(a != nullptr ? a->tier() : task.priority());
}

std::string NodesText(const Task& task) {
  if (task.gpus_per_node() > 0) {
    return absl::StrCat(task.nodes(), " (", task.gpus_per_node(), " GPUs)");
  }
  return absl::StrCat(task.nodes());
}

// Run time of an attempt: until it ended, or until now while it still runs.
std::string RuntimeText(const Attempt& a, absl::Time now) {
  const absl::Time started = FromProtoTime(a.started_at());
  if (started == absl::InfinitePast()) return "-";
  const absl::Time ended = FromProtoTime(a.ended_at());
  return HumanDuration((ended == absl::InfinitePast() ? now : ended) - started);
}

std::string AgeAgo(const google::protobuf::Timestamp& ts, absl::Time now) {
  const absl::Time t = FromProtoTime(ts);
  return t == absl::InfinitePast() ? "-" : absl::StrCat(FormatAge(t, now), " ago");
}

// Why the chain is where it is, in one phrase, for the REASON column.
std::string ReasonText(const Task& task) {
  if (task.state() == Task::QUEUED) return task.pending_reason();
  const Attempt* a = CurrentAttempt(task);
  if (a == nullptr) return "";
  if (a->suspend_requested() && !IsEnded(a->state())) return "suspend requested";
  return a->end_reason();
}

std::string CommandLine(const Task& task) {
  std::vector<std::string> words = {task.kind().empty() ? "python" : task.kind(),
                                    ShellQuote(task.entrypoint())};
  for (const std::string& a : task.args()) words.push_back(ShellQuote(a));
  return absl::StrJoin(words, " ");
}

}  // namespace

namespace {
template <typename ProtoState>
std::string StateTextOf(ProtoState s) {
  const auto state = model::FromProto(s);
  return state.has_value() ? std::string(model::Name(*state))
                           : absl::StrCat("state ", static_cast<int>(s));
}
}  // namespace

std::string StateText(Task::State s) { return StateTextOf(s); }
std::string StateText(Attempt::State s) { return StateTextOf(s); }
std::string StateText(hai::v1::Pod::State s) { return StateTextOf(s); }
std::string StateText(hai::v1::Node::State s) { return StateTextOf(s); }

bool IsFinished(Task::State s) {
  const std::optional<model::ChainState> state = model::FromProto(s);
  return state.has_value() && model::IsFinal(*state);
}

bool IsEnded(Attempt::State s) {
  const std::optional<model::AttemptState> state = model::FromProto(s);
  return state.has_value() && model::IsEnded(*state);
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) {
    return "{}";  // cannot happen for our messages (no Any fields)
  }
  return out;
}

absl::Time FromProtoTime(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return absl::InfinitePast();
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string RenderSubmitted(const Task& task) {
  return absl::StrCat("submitted chain ", task.chain_id(), " ", task.name(), " (",
                      StateText(task.state()), ")\n");
}

std::string RenderTaskLine(const Task& task) {
  std::string line = absl::StrCat("chain ", task.chain_id(), " ", task.name(), ": ",
                                  StateText(task.state()), ", tier ", TierOf(task));
  if (const Attempt* a = CurrentAttempt(task);
      a != nullptr && a->suspend_requested() && !IsEnded(a->state())) {
    absl::StrAppend(&line, ", suspend requested");
  }
  return line + "\n";
}

std::string RenderTask(const Task& task, absl::Time now, absl::TimeZone tz) {
  Table info({});
  info.AddRow({"user", task.user()});
  info.AddRow({"state", StateText(task.state())});
  if (task.state() == Task::QUEUED) {
    std::string waiting = Cell(task.pending_reason());
    if (task.queue_position() > 0) {
      absl::StrAppend(&waiting, " (position ", task.queue_position(), " in ", TierOf(task), ")");
    }
    if (!task.pending_detail().empty()) absl::StrAppend(&waiting, ": ", task.pending_detail());
    info.AddRow({"waiting", waiting});
  }
  std::string priority = TierOf(task);
  if (TierName(task.priority()) != priority) {
    absl::StrAppend(&priority, " (requested ", TierName(task.priority()), ")");
  }
  info.AddRow({"priority", priority});
  info.AddRow({"resources",
               absl::StrCat(task.nodes(), task.nodes() == 1 ? " node" : " nodes", " x ",
                            task.gpus_per_node() > 0 ? absl::StrCat(task.gpus_per_node(), " GPUs")
                                                     : std::string("all GPUs"),
                            " in group ", Cell(task.group()))});
  if (task.time_limit_s() > 0) {
    info.AddRow({"time limit", HumanDuration(absl::Seconds(task.time_limit_s()))});
  }
  info.AddRow({"command", CommandLine(task)});
  const absl::Time submitted = FromProtoTime(task.first_submit_at());
  info.AddRow({"submitted", submitted == absl::InfinitePast()
                                ? "-"
                                : absl::StrCat(FormatLocalTime(submitted, tz), " (",
                                               FormatAge(submitted, now), " ago)")});
  if (const absl::Time finished = FromProtoTime(task.finished_at());
      finished != absl::InfinitePast()) {
    info.AddRow({"finished", absl::StrCat(FormatLocalTime(finished, tz), " (",
                                          FormatAge(finished, now), " ago)")});
  }
  if (task.has_exit_code()) info.AddRow({"exit code", absl::StrCat(task.exit_code())});
  if (task.whole_life_state() != 0) {
    info.AddRow({"life state", absl::StrCat(task.whole_life_state())});
  }
  if (!task.log_dir().empty()) info.AddRow({"logs", task.log_dir()});

  std::string out = absl::StrCat("chain ", task.chain_id(), " ", task.name(), "\n");
  out += info.Render("  ");
  if (task.attempts().empty()) return out;

  Table attempts(
      {"ATTEMPT", "STATE", "TIER", "QUEUED", "STARTED", "RUNTIME", "EXIT", "END_REASON"});
  for (const Attempt& a : task.attempts()) {
    std::string state = StateText(a.state());
    if (a.suspend_requested() && !IsEnded(a.state())) {
      state += " (suspend requested)";
    }
    attempts.AddRow({absl::StrCat(a.attempt_no()), state, TierName(a.tier()),
                     AgeAgo(a.queued_at(), now), AgeAgo(a.started_at(), now), RuntimeText(a, now),
                     ExitText(a.has_exit_code(), a.exit_code()), Cell(a.end_reason())});
  }
  out.append("\n").append(attempts.Render());
  for (const Attempt& a : task.attempts()) {
    if (a.pods().empty()) continue;
    Table pods({"RANK", "NODE", "GPUS", "STATE", "EXIT", "PID"});
    for (const hai::v1::Pod& p : a.pods()) {
      pods.AddRow({absl::StrCat(p.rank()), Cell(p.node()),
                   FormatGpuList({p.gpus().begin(), p.gpus().end()}), StateText(p.state()),
                   ExitText(p.has_exit_code(), p.exit_code()),
                   p.pid() > 0 ? absl::StrCat(p.pid()) : "-"});
    }
    absl::StrAppend(&out, "\nattempt ", a.attempt_no(), " pods:\n", pods.Render("  "));
  }
  return out;
}

std::string RenderTaskList(const hai::v1::ListResponse& list, absl::Time now) {
  Table table({"ID", "NAME", "USER", "STATE", "TIER", "NODES", "GROUP", "AGE/RUNTIME", "REASON"});
  for (const Task& task : list.tasks()) {
    // Waiting chains show how long they have waited; the rest how long they (last) ran.
    std::string time = "-";
    const Attempt* a = CurrentAttempt(task);
    if (task.state() == Task::QUEUED || task.state() == Task::SUSPENDED || a == nullptr) {
      time = FormatAge(FromProtoTime(task.first_submit_at()), now);
    } else {
      time = RuntimeText(*a, now);
    }
    table.AddRow({absl::StrCat(task.chain_id()), Cell(task.name()), Cell(task.user()),
                  StateText(task.state()), TierOf(task), NodesText(task), Cell(task.group()), time,
                  Cell(ReasonText(task))});
  }
  return table.Render();
}

std::string RenderQueue(const hai::v1::QueueResponse& queue) {
  Table table({"POS", "TIER", "ID", "NAME", "USER", "NODES", "GROUP", "REASON", "DETAIL"});
  for (const hai::v1::QueueEntry& e : queue.entries()) {
    table.AddRow({absl::StrCat(e.position()), TierName(e.tier()), absl::StrCat(e.chain_id()),
                  Cell(e.name()), Cell(e.user()), absl::StrCat(e.nodes()), Cell(e.group()),
                  Cell(e.reason()), Cell(e.detail())});
  }
  return table.Render();
}

std::string RenderNodes(const hai::v1::ListNodesResponse& nodes) {
  Table table({"NAME", "GROUP", "GPUS", "USED", "STATE", "REASON", "TASKS"});
  for (const hai::v1::Node& n : nodes.nodes()) {
    table.AddRow({Cell(n.name()), Cell(n.group()), absl::StrCat(n.gpus()),
                  absl::StrCat(n.used_gpus_size()), StateText(n.state()), Cell(n.state_reason()),
                  Cell(absl::StrJoin(n.chain_ids(), ","))});
  }
  return table.Render();
}

std::string GiBText(int64_t mib) {
  if (mib % 1024 == 0) return absl::StrCat(mib / 1024, "Gi");
  return absl::StrCat(static_cast<double>(mib) / 1024, "Gi");
}

std::string CoresText(int64_t millis) {
  if (millis % 1000 == 0) return absl::StrCat(millis / 1000);
  return absl::StrCat(static_cast<double>(millis) / 1000);
}

std::string RenderJupyterQuota(
    const google::protobuf::RepeatedPtrField<hai::v1::JupyterQuotaLine>& lines) {
  if (lines.empty()) return "no jupyter quota\n";
  Table quota({"GROUP", "CONTAINERS", "CPU EACH", "MEMORY", "GPUS", "KEEP-ALIVE"});
  for (const hai::v1::JupyterQuotaLine& q : lines) {
    quota.AddRow({q.group(), absl::StrCat(q.used_containers(), "/", q.containers()),
                  absl::StrCat("<=", CoresText(q.cpu_millis())),
                  absl::StrCat(GiBText(q.used_memory_mib()), "/", GiBText(q.memory_mib())),
                  absl::StrCat(q.used_gpus(), "/", q.gpus()),
                  absl::StrCat(q.used_keep_alive(), "/", q.keep_alive())});
  }
  return "jupyter quota (used/limit):\n" + quota.Render();
}

std::string RenderWhoAmI(const hai::v1::WhoAmIResponse& me) {
  Table info({});
  info.AddRow({"user", absl::StrCat(me.user(), " (uid ", me.uid(), ")")});
  info.AddRow({"role", Cell(me.role())});
  info.AddRow({"groups", Cell(absl::StrJoin(me.groups(), ", "))});
  std::string out = info.Render();
  if (me.quota().empty()) {
    out += "\nno quota\n";
  } else {
    Table quota({"GROUP", "TIER", "LIMIT", "USED", "SOURCE"});
    for (const hai::v1::QuotaLine& q : me.quota()) {
      quota.AddRow({Cell(q.group()), q.tier_name().empty() ? TierName(q.tier()) : q.tier_name(),
                    absl::StrCat(q.limit_nodes()), absl::StrCat(q.used_nodes()), Cell(q.source())});
    }
    out.append("\n").append(quota.Render());
  }
  // Only users with jupyter quota see the section: most have none.
  if (!me.jupyter_quota().empty()) out.append("\n").append(RenderJupyterQuota(me.jupyter_quota()));
  return out;
}

}  // namespace hai::cli
