// Pod object -> PodStatus; see pod_state.h for the table.
#include "manager/runtime/kubernetes/pod_state.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "manager/runtime/kubernetes/manifests.h"

namespace hai::manager::kube {
namespace {

// The task container's status, or null.
const nlohmann::json* TaskContainer(const nlohmann::json& pod) {
  if (!pod.is_object()) return nullptr;
  const auto status = pod.find("status");
  if (status == pod.end() || !status->is_object()) return nullptr;
  const auto list = status->find("containerStatuses");
  if (list == status->end() || !list->is_array()) return nullptr;
  for (const nlohmann::json& c : *list) {
    if (c.is_object() && c.value("name", "") == kContainerName) return &c;
  }
  return nullptr;
}

const nlohmann::json* State(const nlohmann::json& pod, const char* which) {
  const nlohmann::json* c = TaskContainer(pod);
  if (c == nullptr) return nullptr;
  const auto state = c->find("state");
  if (state == c->end() || !state->is_object()) return nullptr;
  const auto s = state->find(which);
  return s != state->end() && s->is_object() ? &*s : nullptr;
}

std::string Str(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// The PodScheduled=False condition's message when the reason is Unschedulable.
bool Unschedulable(const nlohmann::json& pod, std::string* message) {
  if (!pod.is_object() || !pod.contains("status")) return false;
  const nlohmann::json& st = pod["status"];
  if (!st.is_object() || !st.contains("conditions") || !st["conditions"].is_array()) return false;
  for (const nlohmann::json& c : st["conditions"]) {
    if (Str(c, "type") == "PodScheduled" && Str(c, "status") == "False" &&
        Str(c, "reason") == "Unschedulable") {
      *message = Str(c, "message");
      return true;
    }
  }
  return false;
}

}  // namespace

bool ContainerTerminated(const nlohmann::json& pod) { return State(pod, "terminated") != nullptr; }

std::string PendingReason(const nlohmann::json& pod) {
  if (ContainerStarted(pod)) return "";
  if (const nlohmann::json* w = State(pod, "waiting")) {
    const std::string reason = Str(*w, "reason");
    if (!reason.empty() && reason != "ContainerCreating" && reason != "PodInitializing") {
      const std::string message = Str(*w, "message");
      return absl::StrCat(reason, message.empty() ? "" : ": ", message);
    }
  }
  std::string message;
  if (Unschedulable(pod, &message)) {
    return absl::StrCat("Unschedulable", message.empty() ? "" : ": ", message);
  }
  return "";
}

bool ContainerStarted(const nlohmann::json& pod) {
  return State(pod, "running") != nullptr || ContainerTerminated(pod);
}

PodStatus MapPod(const nlohmann::json& pod, bool present, absl::Time waiting_since, absl::Time now,
                 const PodTimeouts& timeouts) {
  PodStatus st;
  st.alive = present;
  if (const nlohmann::json* t = State(pod, "terminated")) {
    st.phase = PodStatus::Phase::kExited;
    const auto code = t->find("exitCode");
    st.exit_code = code != t->end() && code->is_number_integer() ? code->get<int>() : 1;
    if (Str(*t, "reason") == "OOMKilled") st.reason = "killed: out of memory (OOMKilled)";
    // A SIGKILL hai did not send: hai only kills by deleting the Pod, which sets
    // deletionTimestamp; without it the container killed itself or hit its memory limit.
    const bool deleting = pod.contains("metadata") && pod["metadata"].is_object() &&
                          pod["metadata"].contains("deletionTimestamp");
    st.self_inflicted = !deleting && (Str(*t, "reason") == "OOMKilled" || st.exit_code == 137);
    return st;
  }
  const std::string phase =
      pod.is_object() && pod.contains("status") ? Str(pod["status"], "phase") : std::string();
  if (phase == "Succeeded") {
    st.phase = PodStatus::Phase::kExited;
    return st;
  }
  if (phase == "Failed") {
    st.phase = PodStatus::Phase::kLost;
    const std::string reason = Str(pod["status"], "reason");
    const std::string message = Str(pod["status"], "message");
    st.reason = absl::StrCat("pod failed", reason.empty() ? "" : ": ", reason,
                             message.empty() ? "" : " (", message, message.empty() ? "" : ")");
    return st;
  }
  if (!present) {
    st.phase = PodStatus::Phase::kLost;
    st.reason = "pod deleted before its container ended";
    return st;
  }
  const absl::Duration waited = now - waiting_since;
  if (const nlohmann::json* w = State(pod, "waiting")) {
    const std::string reason = Str(*w, "reason");
    const std::string message = Str(*w, "message");
    const bool permanent = reason == "InvalidImageName" || reason == "ErrImageNeverPull";
    const bool start_error = reason == "ErrImagePull" || reason == "ImagePullBackOff" ||
                             reason == "CreateContainerConfigError" ||
                             reason == "CreateContainerError" || reason == "RunContainerError";
    if (permanent || (start_error && waited >= timeouts.image_pull)) {
      st.phase = PodStatus::Phase::kExited;
      st.exit_code = 127;
      st.reason = absl::StrCat(
          "container could not start: ", reason, message.empty() ? "" : ": ", message,
          permanent
              ? ""
              : absl::StrCat(" (for ", absl::FormatDuration(absl::Trunc(waited, absl::Seconds(1))),
                             ")"));
      return st;
    }
  }
  std::string message;
  if (Unschedulable(pod, &message) && waited >= timeouts.unschedulable) {
    st.phase = PodStatus::Phase::kLost;
    st.reason = absl::StrCat("unschedulable for ",
                             absl::FormatDuration(absl::Trunc(waited, absl::Seconds(1))),
                             message.empty() ? "" : ": ", message);
    return st;
  }
  st.started = ContainerStarted(pod);
  return st;  // pending (not started) or running
}

int64_t UidId(const std::string& uid) {
  int64_t id = 0;
  int digits = 0;
  for (char c : uid) {
    if (digits == 7) break;
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) continue;
    const int v = absl::ascii_isdigit(static_cast<unsigned char>(c))
                      ? c - '0'
                      : absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    id = id * 16 + v;
    ++digits;
  }
  return digits == 7 ? id + 1 : 0;  // +1: an all-zero uid still yields a positive id
}

}  // namespace hai::manager::kube
