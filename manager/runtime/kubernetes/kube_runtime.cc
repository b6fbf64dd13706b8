// Kubernetes Pods as ranks; see kube_runtime.h.
#include "manager/runtime/kubernetes/kube_runtime.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "manager/log_line.h"

namespace hai::manager::kube {
namespace {

constexpr absl::Duration kRetryPause = absl::Milliseconds(500);
constexpr absl::Duration kMaxListBackoff = absl::Seconds(10);
constexpr absl::Duration kLogStartPoll = absl::Milliseconds(200);

std::string Label(const nlohmann::json& pod, const char* key) {
  const nlohmann::json* labels = nullptr;
  if (pod.is_object() && pod.contains("metadata") && pod["metadata"].is_object() &&
      pod["metadata"].contains("labels") && pod["metadata"]["labels"].is_object()) {
    labels = &pod["metadata"]["labels"];
  }
  if (labels == nullptr || !labels->contains(key) || !(*labels)[key].is_string()) return "";
  return (*labels)[key].get<std::string>();
}

std::string Meta(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  const nlohmann::json& m = obj["metadata"];
  return m.contains(key) && m[key].is_string() ? m[key].get<std::string>() : "";
}

// The timestamp of the last line of a rank log ("<RFC 3339> [out] text"), or InfinitePast.
absl::Time LastLogTime(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InfinitePast();
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > 4096 ? size - 4096 : 0;
  in.seekg(from);
  std::string tail(static_cast<size_t>(size - from), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  const size_t nl = tail.rfind('\n');
  const std::string line = nl == std::string::npos ? tail : tail.substr(nl + 1);
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, line.substr(0, line.find(' ')), &t, &err)) {
    return absl::InfinitePast();
  }
  return t;
}

}  // namespace

KubernetesPodRuntime::KubernetesPodRuntime(std::unique_ptr<KubeClient> client, int64_t attempt_id,
                                           KubeRuntimeOptions options)
    : client_(std::move(client)), attempt_id_(attempt_id), opt_(std::move(options)) {}

KubernetesPodRuntime::~KubernetesPodRuntime() { StopThreads(/*drain_logs=*/false); }

void KubernetesPodRuntime::StopThreads(bool drain_logs) {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    if (drain_logs) {
      // Log threads end with their container; wait for them so the log files are complete.
      for (auto& [rank, r] : ranks_) {
        mu_.AwaitWithTimeout(absl::Condition(&r.log_done), opt_.log_drain);
      }
    }
    stopping_ = true;   // Pause() waits on it under mu_
    stop_flag_ = true;  // the stream callbacks read it without the lock
    for (auto& [rank, r] : ranks_) {
      if (r.log_thread.joinable()) threads.push_back(std::move(r.log_thread));
    }
  }
  for (std::thread& t : threads) t.join();
  if (watch_thread_.joinable()) watch_thread_.join();
}

std::string KubernetesPodRuntime::PodsPath() const { return NamespacePath("pods"); }

std::string KubernetesPodRuntime::NamespacePath(const char* kind) const {
  return absl::StrCat("/api/v1/namespaces/", opt_.manifest.namespace_, "/", kind);
}

absl::Status KubernetesPodRuntime::EnsureFiles(const PodSpec& spec) {
  if (files_ready_ || spec.files.empty()) return absl::OkStatus();
  auto cm = FilesConfigMapManifest(spec, opt_.manifest);
  if (!cm.ok()) return cm.status();
  auto created = client_->Call("POST", NamespacePath("configmaps"), &*cm);
  if (!created.ok() && absl::IsAlreadyExists(created.status())) {
    // Left by this attempt's previous manager (the name includes the attempt). Its content is
    // the same unless the task token was re-issued; then it is replaced, as a Pod about to
    // start must read this manager's file.
    const std::string path =
        absl::StrCat(NamespacePath("configmaps"), "/", FilesConfigMapName(spec.attempt_id));
    auto existing = client_->Call("GET", path);
    if (!existing.ok()) return existing.status();
    if (Label(*existing, kLabelAttempt) == absl::StrCat(spec.attempt_id) &&
        existing->value("data", nlohmann::json::object()) == (*cm)["data"]) {
      files_ready_ = true;
      return absl::OkStatus();
    }
    auto deleted = client_->Call("DELETE", path);
    if (!deleted.ok() && !absl::IsNotFound(deleted.status())) return deleted.status();
    created = client_->Call("POST", NamespacePath("configmaps"), &*cm);
  }
  if (!created.ok()) return created.status();
  files_ready_ = true;
  return absl::OkStatus();
}

absl::Status KubernetesPodRuntime::EnsureTokenSecret(const PodSpec& spec) {
  if (token_ready_) return absl::OkStatus();
  auto secret = TokenSecretManifest(spec, opt_.manifest);
  if (absl::IsNotFound(secret.status())) return absl::OkStatus();  // no token to hand over
  if (!secret.ok()) return secret.status();
  auto created = client_->Call("POST", NamespacePath("secrets"), &*secret);
  if (!created.ok() && absl::IsAlreadyExists(created.status())) {
    // Left by this attempt's previous manager: kept when it holds this token, replaced when the
    // token was re-issued (a Pod about to start must get the token whose hash is stored).
    const std::string path =
        absl::StrCat(NamespacePath("secrets"), "/", TokenSecretName(spec.attempt_id));
    auto existing = client_->Call("GET", path);
    if (!existing.ok()) return existing.status();
    if (Label(*existing, kLabelAttempt) == absl::StrCat(spec.attempt_id) &&
        existing->value("data", nlohmann::json::object()) == (*secret)["data"]) {
      token_ready_ = true;
      return absl::OkStatus();
    }
    auto deleted = client_->Call("DELETE", path);
    if (!deleted.ok() && !absl::IsNotFound(deleted.status())) return deleted.status();
    created = client_->Call("POST", NamespacePath("secrets"), &*secret);
  }
  if (!created.ok()) return created.status();
  token_ready_ = true;
  return absl::OkStatus();
}

absl::Status KubernetesPodRuntime::EnsureJupyterService(const PodSpec& spec) {
  if (spec.container_port <= 0) return absl::OkStatus();
  if (!serving_spec_.has_value()) serving_spec_ = spec;
  if (!service_host_.empty()) return absl::OkStatus();
  auto svc = JupyterServiceManifest(spec, opt_.manifest);
  if (!svc.ok()) return svc.status();
  auto got = client_->Call("POST", NamespacePath("services"), &*svc);
  if (!got.ok() && absl::IsAlreadyExists(got.status())) {
    // Created by this attempt's previous manager: its cluster IP is what we need.
    got = client_->Call(
        "GET", absl::StrCat(NamespacePath("services"), "/", JupyterServiceName(spec.attempt_id)));
  }
  if (!got.ok()) return got.status();
  const nlohmann::json& s = *got;
  std::string ip;
  if (s.contains("spec") && s["spec"].is_object() && s["spec"].contains("clusterIP") &&
      s["spec"]["clusterIP"].is_string()) {
    ip = s["spec"]["clusterIP"].get<std::string>();
  }
  if (ip.empty() || ip == "None") {
    return absl::InternalError(
        absl::StrCat("service ", JupyterServiceName(spec.attempt_id), " has no cluster IP"));
  }
  service_host_ = ip;
  HAI_LOG(INFO) << "rank " << spec.rank << " serves on " << ip << ":" << spec.container_port
                << " (service " << JupyterServiceName(spec.attempt_id) << ")";
  return absl::OkStatus();
}

std::string KubernetesPodRuntime::ServiceHost() {
  if (service_host_.empty() && serving_spec_.has_value()) {
    if (absl::Status s = EnsureJupyterService(*serving_spec_); !s.ok()) {
      HAI_LOG(WARNING) << "service of rank " << serving_spec_->rank << ": " << s;
    }
  }
  return service_host_;
}

absl::Status KubernetesPodRuntime::EnsureService(const PodSpec& spec) {
  if (service_ready_) return absl::OkStatus();
  auto svc = ServiceManifest(spec, opt_.manifest);
  if (!svc.ok()) return svc.status();
  auto created = client_->Call("POST", NamespacePath("services"), &*svc);
  // AlreadyExists: created by this attempt's previous manager (the name includes the attempt).
  if (!created.ok() && !absl::IsAlreadyExists(created.status())) return created.status();
  service_ready_ = true;
  return absl::OkStatus();
}

void KubernetesPodRuntime::Track(int rank, const nlohmann::json& pod, const std::string& log_path) {
  absl::MutexLock lock(&mu_);
  Rank& r = ranks_[rank];
  r.name = Meta(pod, "name");
  r.uid = Meta(pod, "uid");
  r.log_path = log_path;
  r.pod = pod;
  r.present = true;
  r.waiting_since = r.tracked_at = absl::Now();
  if (!r.log_thread.joinable()) r.log_thread = std::thread([this, rank] { LogLoop(rank); });
  if (!watch_thread_.joinable()) watch_thread_ = std::thread([this] { WatchLoop(); });
}

absl::StatusOr<int64_t> KubernetesPodRuntime::Start(const PodSpec& spec) {
  auto manifest = PodManifest(spec, opt_.manifest);
  if (!manifest.ok()) return manifest.status();
  if (absl::Status s = EnsureTokenSecret(spec); !s.ok()) return s;
  if (absl::Status s = EnsureFiles(spec); !s.ok()) return s;
  if (absl::Status s = EnsureService(spec); !s.ok()) return s;
  if (absl::Status s = EnsureJupyterService(spec); !s.ok()) return s;
  auto created = client_->Call("POST", PodsPath(), &*manifest);
  nlohmann::json pod;
  if (created.ok()) {
    pod = *std::move(created);
  } else if (absl::IsAlreadyExists(created.status())) {
    // Created by an earlier manager of this attempt that died before recording it: adopt it
    // if it is this attempt's rank, never start a second one.
    const std::string name = PodName(spec.attempt_id, spec.rank);
    auto existing = client_->Call("GET", absl::StrCat(PodsPath(), "/", name));
    if (!existing.ok()) return existing.status();
    if (Label(*existing, kLabelAttempt) != absl::StrCat(spec.attempt_id) ||
        Label(*existing, kLabelRank) != absl::StrCat(spec.rank)) {
      return absl::AlreadyExistsError(absl::StrCat("pod ", name,
                                                   " exists and does not belong to attempt ",
                                                   spec.attempt_id, " rank ", spec.rank));
    }
    HAI_LOG(INFO) << "rank " << spec.rank << ": adopting existing pod " << name;
    pod = *std::move(existing);
  } else {
    return created.status();
  }
  const int64_t id = UidId(Meta(pod, "uid"));
  if (id == 0) return absl::InternalError("the API server returned a pod without a uid");
  Track(spec.rank, pod, spec.log_path);
  return id;
}

absl::Status KubernetesPodRuntime::Adopt(int rank, int64_t id, const PodSpec& spec) {
  const std::string name = PodName(spec.attempt_id, rank);
  auto pod = client_->Call("GET", absl::StrCat(PodsPath(), "/", name));
  if (!pod.ok()) {
    if (absl::IsNotFound(pod.status())) {
      return absl::NotFoundError(absl::StrCat("rank ", rank, ": pod ", name, " no longer exists"));
    }
    return pod.status();
  }
  if (UidId(Meta(*pod, "uid")) != id || Label(*pod, kLabelAttempt) != absl::StrCat(attempt_id_)) {
    return absl::NotFoundError(
        absl::StrCat("rank ", rank, ": pod ", name, " is not the one this rank started"));
  }
  service_ready_ = files_ready_ = true;  // created before the first pod
  // Not fatal: the rank runs; ServiceHost retries until the Service answers.
  if (absl::Status s = EnsureJupyterService(spec); !s.ok()) {
    HAI_LOG(WARNING) << "service of rank " << rank << ": " << s;
  }
  Track(rank, *pod, spec.log_path);
  return absl::OkStatus();
}

absl::StatusOr<PodStatus> KubernetesPodRuntime::Poll(int rank) {
  absl::MutexLock lock(&mu_);
  auto it = ranks_.find(rank);
  if (it == ranks_.end()) return absl::NotFoundError(absl::StrCat("unknown rank ", rank));
  const Rank& r = it->second;
  return MapPod(r.pod, r.present, r.waiting_since, absl::Now(), opt_.timeouts);
}

absl::Status KubernetesPodRuntime::DeletePod(const std::string& name, const std::string& uid,
                                             int64_t grace_s) {
  nlohmann::json body = {{"apiVersion", "v1"},
                         {"kind", "DeleteOptions"},
                         {"gracePeriodSeconds", grace_s},
                         {"propagationPolicy", "Background"}};
  if (!uid.empty()) body["preconditions"] = {{"uid", uid}};
  auto deleted = client_->Call("DELETE", absl::StrCat(PodsPath(), "/", name), &body);
  // NotFound: already gone. A failed uid precondition (409): the name now belongs to another
  // pod, so ours is gone too.
  if (deleted.ok() || absl::IsNotFound(deleted.status()) || absl::IsAborted(deleted.status()) ||
      absl::IsAlreadyExists(deleted.status())) {
    return absl::OkStatus();
  }
  return deleted.status();
}

absl::Status KubernetesPodRuntime::Signal(int rank, PodSignal signal) {
  const int64_t grace =
      signal == PodSignal::kKill
          ? 1  // 0 would remove the object before the kubelet has killed the container
          : std::max<int64_t>(
                1, absl::ToInt64Seconds(opt_.manifest.termination_grace + absl::Milliseconds(999)));
  std::string name, uid;
  {
    absl::MutexLock lock(&mu_);
    auto it = ranks_.find(rank);
    if (it == ranks_.end()) return absl::NotFoundError(absl::StrCat("unknown rank ", rank));
    Rank& r = it->second;
    if (!r.present) return absl::OkStatus();
    if (r.deleted_grace_s >= 0 && r.deleted_grace_s <= grace) return absl::OkStatus();
    // A rank that ended on its own: let its log be copied completely before the Pod (and its
    // log with it) goes away.
    if (ContainerTerminated(r.pod)) {
      mu_.AwaitWithTimeout(absl::Condition(&r.log_done), opt_.log_drain);
    }
    name = r.name;
    uid = r.uid;
  }
  absl::Status s = DeletePod(name, uid, grace);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    ranks_[rank].deleted_grace_s = grace;
  }
  return s;
}

absl::Status KubernetesPodRuntime::Release() {
  absl::Status result;
  // By name (404 = never created or already gone), so a manager that adopted an attempt whose
  // ranks had all ended still removes everything.
  const std::pair<const char*, std::string> objects[] = {
      {"services", ServiceName(attempt_id_)},
      {"services", JupyterServiceName(attempt_id_)},
      {"configmaps", FilesConfigMapName(attempt_id_)},
      // The task token dies with its attempt (haid refuses it once the attempt ended); its
      // Secret goes with the attempt's other objects.
      {"secrets", TokenSecretName(attempt_id_)}};
  for (const auto& [kind, name] : objects) {
    auto deleted = client_->Call("DELETE", absl::StrCat(NamespacePath(kind), "/", name));
    if (!deleted.ok() && !absl::IsNotFound(deleted.status()) && result.ok()) {
      result = deleted.status();
    }
  }
  // Nothing of the attempt may outlive it: a Pod still listed here (e.g. the kill grace ran
  // out while the node was unreachable) is deleted now.
  auto list = client_->Call(
      "GET",
      absl::StrCat(PodsPath(), "?labelSelector=", QueryEscape(AttemptSelector(attempt_id_))));
  if (!list.ok()) {
    if (result.ok()) result = list.status();
  } else if (list->contains("items") && (*list)["items"].is_array()) {
    for (const nlohmann::json& pod : (*list)["items"]) {
      HAI_LOG(WARNING) << "deleting leftover pod " << Meta(pod, "name");
      if (absl::Status s = DeletePod(Meta(pod, "name"), Meta(pod, "uid"), 1);
          !s.ok() && result.ok()) {
        result = s;
      }
    }
  }
  StopThreads(/*drain_logs=*/true);
  return result;
}

bool KubernetesPodRuntime::Pause(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return !stopping_;
}

void KubernetesPodRuntime::Apply(const nlohmann::json& pod, bool deleted) {
  int rank = -1;
  if (!absl::SimpleAtoi(Label(pod, kLabelRank), &rank)) return;
  auto it = ranks_.find(rank);
  if (it == ranks_.end()) return;  // not (yet) tracked: Start/Adopt will record it
  Rank& r = it->second;
  if (!r.uid.empty() && Meta(pod, "uid") != r.uid) return;  // another incarnation of the name
  r.pod = pod;
  r.present = !deleted;
}

absl::StatusOr<std::string> KubernetesPodRuntime::ListOnce() {
  const absl::Time started = absl::Now();
  auto list = client_->Call(
      "GET",
      absl::StrCat(PodsPath(), "?labelSelector=", QueryEscape(AttemptSelector(attempt_id_))));
  if (!list.ok()) return list.status();
  absl::MutexLock lock(&mu_);
  std::map<int, bool> listed;
  if (list->contains("items") && (*list)["items"].is_array()) {
    for (const nlohmann::json& pod : (*list)["items"]) {
      Apply(pod, false);
      int rank = -1;
      if (absl::SimpleAtoi(Label(pod, kLabelRank), &rank)) listed[rank] = true;
    }
  }
  // A tracked pod missing from a list that began after we knew of it is gone (its DELETED
  // event was lost with a broken watch).
  for (auto& [rank, r] : ranks_) {
    if (!listed.count(rank) && r.tracked_at < started) r.present = false;
  }
  return Meta(*list, "resourceVersion");
}

void KubernetesPodRuntime::WatchLoop() {
  std::string rv;
  bool need_list = true;
  // Consecutive failed lists back off (0.5 s doubling to 10 s) so an API outage neither spins
  // nor floods the log; Poll keeps answering from the last state seen meanwhile.
  absl::Duration backoff = kRetryPause;
  while (!stop_flag_) {
    if (need_list) {
      auto listed = ListOnce();
      if (!listed.ok()) {
        HAI_LOG(WARNING) << "list pods (retrying in " << backoff << "): " << listed.status();
        if (!Pause(backoff)) return;
        backoff = std::min(backoff * 2, kMaxListBackoff);
        continue;
      }
      backoff = kRetryPause;
      rv = *listed;
      need_list = false;
    }
    bool expired = false;
    const std::string path = absl::StrCat(
        PodsPath(), "?watch=1&allowWatchBookmarks=true&labelSelector=",
        QueryEscape(AttemptSelector(attempt_id_)), "&resourceVersion=", QueryEscape(rv),
        "&timeoutSeconds=", absl::ToInt64Seconds(opt_.watch_timeout));
    absl::Status s = client_->Stream(
        path, opt_.watch_timeout + absl::Seconds(30),
        [&](std::string_view line) {
          nlohmann::json ev = nlohmann::json::parse(line, nullptr, false);
          if (!ev.is_object()) return true;  // blank keep-alive lines
          const std::string type = ev.value("type", "");
          const nlohmann::json& obj = ev.contains("object") ? ev["object"] : nlohmann::json();
          if (type == "ERROR") {
            // 410 Gone: our resourceVersion was compacted away; anything else also re-lists.
            expired = true;
            if (obj.is_object() && obj.value("code", 0) != 410) {
              HAI_LOG(WARNING) << "watch error: " << obj.dump();
            }
            return false;
          }
          if (const std::string v = Meta(obj, "resourceVersion"); !v.empty()) rv = v;
          if (type == "BOOKMARK") return true;
          absl::MutexLock lock(&mu_);
          Apply(obj, type == "DELETED");
          return true;
        },
        [this] { return stop_flag_.load(); });
    if (stop_flag_) return;
    if (expired || absl::IsOutOfRange(s)) {
      need_list = true;  // 410 Gone: start over from a fresh list
    } else if (!s.ok()) {
      HAI_LOG(WARNING) << "watch pods: " << s;
      need_list = true;
      if (!Pause(kRetryPause)) return;
    }
    // OK: the server ended the watch at its timeout; resume from the last resourceVersion.
  }
}

void KubernetesPodRuntime::LogLoop(int rank) {
  std::string name, log_path;
  {
    absl::MutexLock lock(&mu_);
    name = ranks_[rank].name;
    log_path = ranks_[rank].log_path;
  }
  // Resume after what an earlier manager wrote. The file has millisecond timestamps: the
  // rest of that millisecond counts as written, so the last line is not copied twice.
  absl::Time last = LastLogTime(log_path);
  if (last != absl::InfinitePast()) last += absl::Milliseconds(1) - absl::Nanoseconds(1);
  FILE* out = std::fopen(log_path.c_str(), "a");
  if (out == nullptr) {
    HAI_LOG(WARNING) << "rank " << rank << ": cannot open " << log_path;
  }
  std::string pending_reported;
  while (!stop_flag_ && out != nullptr) {
    bool started = false, present = false;
    std::string pending;
    {
      absl::MutexLock lock(&mu_);
      const Rank& r = ranks_[rank];
      started = ContainerStarted(r.pod);
      present = r.present;
      pending = PendingReason(r.pod);
    }
    // Why the rank is not running yet goes into its log, so `hai-cli logs` answers "why is my
    // task not starting" (each new reason once).
    if (!pending.empty() && pending != pending_reported) {
      const std::string line = FormatLogLine(
          absl::Now(), LogStream::kErr, absl::StrCat("hai: pod ", name, " is pending: ", pending));
      std::fwrite(line.data(), 1, line.size(), out);
      std::fflush(out);
      pending_reported = pending;
    }
    if (!started) {
      if (!present) break;  // deleted before it ever ran: no log to read
      if (!Pause(kLogStartPoll)) break;
      continue;
    }
    std::string path = absl::StrCat(PodsPath(), "/", name, "/log?container=", kContainerName,
                                    "&follow=true&timestamps=true");
    if (last != absl::InfinitePast()) {
      // sinceTime has second precision; lines up to `last` are skipped below.
      absl::StrAppend(&path, "&sinceTime=",
                      QueryEscape(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                                   absl::FromUnixSeconds(absl::ToUnixSeconds(last)),
                                                   absl::UTCTimeZone())));
    }
    const absl::Time resume_after = last;
    // Lines are cut at the local runtime's length (kMaxLogLineBytes), so a container writing
    // without newlines (tqdm's '\r' progress) keeps this reader's memory flat. The pieces
    // after the first of a cut line carry no timestamp: they take their line's.
    bool continuing = false;  // the previous piece was cut: this one continues its line
    bool skipping = false;    // the line being continued was already written
    absl::Status s = client_->Stream(
        path, absl::Hours(24 * 365),
        [&](std::string_view line) {
          const bool cut = line.size() >= kMaxLogLineBytes;
          if (continuing) {
            continuing = cut;
            if (skipping || line.empty()) return true;
            const std::string formatted = FormatLogLine(last, LogStream::kOut, std::string(line));
            std::fwrite(formatted.data(), 1, formatted.size(), out);
            std::fflush(out);
            return true;
          }
          continuing = cut;
          const size_t sp = line.find(' ');
          absl::Time at;
          std::string err;
          std::string text;
          if (sp != std::string_view::npos &&
              absl::ParseTime(absl::RFC3339_full, std::string(line.substr(0, sp)), &at, &err)) {
            text = std::string(line.substr(sp + 1));
          } else {
            at = absl::Now();
            text = std::string(line);
          }
          skipping = at <= resume_after;
          if (skipping) return true;  // already written (resumed stream)
          last = at;
          // The pod log API merges stdout and stderr; every line is tagged [out].
          const std::string formatted = FormatLogLine(at, LogStream::kOut, text);
          std::fwrite(formatted.data(), 1, formatted.size(), out);
          std::fflush(out);
          return true;
        },
        [this] { return stop_flag_.load(); }, kMaxLogLineBytes);
    bool done = false;
    {
      absl::MutexLock lock(&mu_);
      const Rank& r = ranks_[rank];
      done = ContainerTerminated(r.pod) || !r.present;
    }
    if (s.ok() && done) break;  // the container ended and its log was read to the end
    if (!s.ok() && !absl::IsCancelled(s)) {
      HAI_LOG(WARNING) << "rank " << rank << " log: " << s;
      // A deleted pod has no log any more.
      if (absl::IsNotFound(s)) break;
    }
    if (!Pause(kRetryPause)) break;
  }
  if (out != nullptr) std::fclose(out);
  absl::MutexLock lock(&mu_);
  ranks_[rank].log_done = true;
}

}  // namespace hai::manager::kube
