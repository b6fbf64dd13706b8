// TOML -> Config. Each section has one reader that consumes the keys it knows and then
// rejects whatever is left, so a typo ("tick_msec") stops haid instead of being ignored.
#include "common/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <utility>

#include <toml++/toml.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/proc.h"

namespace hai {
namespace {

absl::Status KeyError(const std::string& key, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("config key ", key, ": ", what));
}

std::string Describe(const toml::node& n) {
  std::ostringstream out;
  if (n.is_string()) {
    out << '"' << n.as_string()->get() << '"';
  } else if (n.is_table()) {
    out << "a table";
  } else if (n.is_array()) {
    out << "an array";
  } else {
    n.visit([&](const auto& v) { out << v; });
  }
  return out.str();
}

// Reads the keys of one table; every read marks its key as known, Finish() rejects the rest.
class Section {
 public:
  Section(const toml::table* table, std::string prefix)
      : table_(table), prefix_(std::move(prefix)) {}

  std::string Key(const std::string& name) const {
    return prefix_.empty() ? name : absl::StrCat(prefix_, ".", name);
  }

  absl::Status String(const std::string& name, std::string* out) {
    const toml::node* n = Get(name);
    if (n == nullptr) return absl::OkStatus();
    if (!n->is_string()) return KeyError(Key(name), "must be a string (got " + Describe(*n) + ")");
    *out = n->as_string()->get();
    return absl::OkStatus();
  }

  absl::Status Bool(const std::string& name, bool* out) {
    const toml::node* n = Get(name);
    if (n == nullptr) return absl::OkStatus();
    if (!n->is_boolean()) {
      return KeyError(Key(name), "must be true or false (got " + Describe(*n) + ")");
    }
    *out = n->as_boolean()->get();
    return absl::OkStatus();
  }

  // An integer in [min, max].
  template <typename Int>
  absl::Status Integer(const std::string& name, Int* out, int64_t min, int64_t max) {
    const toml::node* n = Get(name);
    if (n == nullptr) return absl::OkStatus();
    if (!n->is_integer() || n->as_integer()->get() < min || n->as_integer()->get() > max) {
      return KeyError(Key(name), absl::StrCat("must be an integer between ", min, " and ", max,
                                              " (got ", Describe(*n), ")"));
    }
    *out = static_cast<Int>(n->as_integer()->get());
    return absl::OkStatus();
  }

  // A duration: *_ms keys take an integer number of milliseconds, *_s keys an integer or
  // fractional number of seconds; `allow_zero` where 0 means "off" or "at once".
  absl::Status Duration(const std::string& name, absl::Duration unit, bool allow_zero,
                        absl::Duration* out) {
    const toml::node* n = Get(name);
    if (n == nullptr) return absl::OkStatus();
    const bool fractional = unit >= absl::Seconds(1);
    double v = -1;
    if (n->is_integer()) v = static_cast<double>(n->as_integer()->get());
    if (fractional && n->is_floating_point()) v = n->as_floating_point()->get();
    const bool is_number = n->is_integer() || (fractional && n->is_floating_point());
    if (is_number && v > 1e9) return KeyError(Key(name), "must be at most 1000000000");
    if (!is_number || std::isnan(v) || (allow_zero ? v < 0 : v <= 0)) {
      return KeyError(Key(name),
                      absl::StrCat("must be a ", allow_zero ? "non-negative" : "positive",
                                   fractional ? " number of seconds" : " integer", " (got ",
                                   Describe(*n), ")"));
    }
    *out = unit * v;
    return absl::OkStatus();
  }

  // A string that must be one of `allowed`.
  absl::Status OneOf(const std::string& name, const std::set<std::string>& allowed,
                     std::string* out) {
    std::string v = *out;
    if (absl::Status s = String(name, &v); !s.ok()) return s;
    if (allowed.count(v) == 0) {
      std::string list;
      for (const std::string& a : allowed) absl::StrAppend(&list, list.empty() ? "" : ", ", a);
      return KeyError(Key(name), absl::StrCat("must be one of ", list, " (got \"", v, "\")"));
    }
    *out = v;
    return absl::OkStatus();
  }

  // host:port with a port in 1..65535.
  absl::Status Listen(const std::string& name, std::string* out) {
    std::string v = *out;
    if (absl::Status s = String(name, &v); !s.ok()) return s;
    const size_t colon = v.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(v.substr(colon + 1), &port) ||
        port < 1 || port > 65535) {
      return KeyError(Key(name), absl::StrCat("must be host:port (got \"", v, "\")"));
    }
    *out = v;
    return absl::OkStatus();
  }

  // An integer or fractional number in [min, max].
  absl::Status Number(const std::string& name, double* out, double min, double max) {
    const toml::node* n = Get(name);
    if (n == nullptr) return absl::OkStatus();
    double v = std::nan("");
    if (n->is_integer()) v = static_cast<double>(n->as_integer()->get());
    if (n->is_floating_point()) v = n->as_floating_point()->get();
    if (std::isnan(v) || v < min || v > max) {
      return KeyError(Key(name), absl::StrCat("must be a number between ", min, " and ", max,
                                              " (got ", Describe(*n), ")"));
    }
    *out = v;
    return absl::OkStatus();
  }

  // An array of non-empty strings.
  absl::Status StringList(const std::string& name, std::vector<std::string>* out) {
    const toml::node* n = Get(name);
    if (n == nullptr) return absl::OkStatus();
    const toml::array* a = n->as_array();
    std::vector<std::string> values;
    for (size_t i = 0; a != nullptr && i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      if (!e.is_string() || e.as_string()->get().empty()) {
        return KeyError(Key(name), "must be an array of non-empty strings (got " +
                                       Describe(e) + ")");
      }
      values.push_back(e.as_string()->get());
    }
    if (a == nullptr) {
      return KeyError(Key(name), "must be an array of strings (got " + Describe(*n) + ")");
    }
    *out = std::move(values);
    return absl::OkStatus();
  }

  // A sub-table ([section.name]) read by `read`, which must Finish() it.
  absl::Status Table(const std::string& name, const std::function<absl::Status(Section&)>& read) {
    const toml::node* n = Get(name);
    if (n == nullptr) return absl::OkStatus();
    if (!n->is_table()) return KeyError(Key(name), "must be a table");
    Section sub(n->as_table(), Key(name));
    return read(sub);
  }

  // Rejects keys no reader asked for.
  absl::Status Finish() const {
    if (table_ == nullptr) return absl::OkStatus();
    for (const auto& [k, v] : *table_) {
      const std::string key(k.str());
      if (known_.count(key) == 0) return KeyError(Key(key), "unknown key");
    }
    return absl::OkStatus();
  }

 private:
  const toml::node* Get(const std::string& name) {
    known_.insert(name);
    return table_ == nullptr ? nullptr : table_->get(name);
  }

  const toml::table* table_;
  std::string prefix_;
  std::set<std::string> known_;
};

#define HAI_CFG(expr)                         \
  do {                                        \
    if (absl::Status _s = (expr); !_s.ok()) { \
      return _s;                              \
    }                                         \
  } while (0)

absl::Status ReadServer(Section& s, ServerConfig* c) {
  HAI_CFG(s.Listen("grpc_listen", &c->grpc_listen));
  HAI_CFG(s.Listen("http_listen", &c->http_listen));
  HAI_CFG(s.String("control_url", &c->control_url));
  HAI_CFG(s.String("data_dir", &c->data_dir));
  if (c->data_dir.empty()) return KeyError(s.Key("data_dir"), "must not be empty");
  HAI_CFG(s.OneOf("log_level", {"debug", "info", "warning", "error"}, &c->log_level));
  HAI_CFG(s.Integer("http_max_body_bytes", &c->http_max_body_bytes, 0, int64_t{1} << 30));
  HAI_CFG(s.Duration("http_request_timeout_ms", absl::Milliseconds(1), false,
                     &c->http_request_timeout));
  HAI_CFG(s.Duration("http_idle_timeout_s", absl::Seconds(1), false, &c->http_idle_timeout));
  HAI_CFG(s.Integer("http_max_connections", &c->http_max_connections, 1, 1000000));
  HAI_CFG(s.Integer("http_workers", &c->http_workers, 1, 1024));
  HAI_CFG(s.Integer("http_max_event_streams", &c->http_max_event_streams, 0, 100000));
  return s.Finish();
}

absl::Status ReadGrpc(Section& s, GrpcConfig* c) {
  HAI_CFG(s.Integer("max_threads", &c->max_threads, 8, 100000));
  HAI_CFG(s.Duration("keepalive_time_s", absl::Seconds(1), false, &c->keepalive_time));
  HAI_CFG(s.Duration("keepalive_timeout_s", absl::Seconds(1), false, &c->keepalive_timeout));
  // A message must stay under the client's 4 MiB receive limit with its framing.
  HAI_CFG(s.Integer("log_chunk_kib", &c->log_chunk_kib, 4, 3072));
  HAI_CFG(s.Integer("max_follows_per_user", &c->max_follows_per_user, 1, 100000));
  HAI_CFG(s.Integer("max_follows", &c->max_follows, 1, 100000));
  if (c->max_follows >= c->max_threads) {
    return KeyError(s.Key("max_follows"),
                    absl::StrCat("must be below grpc.max_threads (", c->max_threads,
                                 "): each follow holds a handler thread"));
  }
  HAI_CFG(s.Duration("unknown_token_cache_ms", absl::Milliseconds(1), true, &c->unknown_token_ttl));
  return s.Finish();
}

absl::Status ReadDatabase(Section& s, DatabaseConfig* c) {
  HAI_CFG(s.String("url", &c->url));
  if (c->url.empty()) return KeyError(s.Key("url"), "must not be empty");
  HAI_CFG(s.Integer("pool_size", &c->pool_size, 1, 256));
  HAI_CFG(s.Integer("manager_pool_size", &c->manager_pool_size, 1, 256));
  HAI_CFG(s.Duration("pool_wait_timeout_ms", absl::Milliseconds(1), false, &c->pool_wait_timeout));
  HAI_CFG(s.Duration("connect_timeout_s", absl::Seconds(1), false, &c->connect_timeout));
  HAI_CFG(s.Duration("statement_timeout_ms", absl::Milliseconds(1), true, &c->statement_timeout));
  HAI_CFG(s.Duration("keepalives_idle_s", absl::Seconds(1), false, &c->keepalives_idle));
  HAI_CFG(s.Duration("keepalives_interval_s", absl::Seconds(1), false, &c->keepalives_interval));
  HAI_CFG(s.Integer("keepalives_count", &c->keepalives_count, 1, 1000));
  return s.Finish();
}

absl::Status ReadRedis(Section& s, RedisConfig* c) {
  HAI_CFG(s.String("host", &c->host));
  if (c->host.empty()) return KeyError(s.Key("host"), "must not be empty");
  HAI_CFG(s.Integer("port", &c->port, 1, 65535));
  HAI_CFG(s.String("prefix", &c->prefix));
  if (c->prefix.empty()) return KeyError(s.Key("prefix"), "must not be empty");
  // An override naming one of the two replaces the other.
  std::string password, password_file;
  HAI_CFG(s.String("password", &password));
  HAI_CFG(s.String("password_file", &password_file));
  if (!password.empty() && !password_file.empty()) {
    return KeyError(s.Key("password_file"), "set either password or password_file, not both");
  }
  if (!password.empty()) {
    c->password = password;
    c->password_file.clear();
  }
  if (!password_file.empty()) {
    c->password_file = password_file;
    c->password.clear();
  }
  return s.Finish();
}

absl::Status ReadTls(Section& s, TlsConfig* c) {
  HAI_CFG(s.String("cert_file", &c->cert_file));
  HAI_CFG(s.String("key_file", &c->key_file));
  if (c->cert_file.empty() != c->key_file.empty()) {
    return KeyError(s.Key(c->cert_file.empty() ? "cert_file" : "key_file"),
                    "cert_file and key_file go together");
  }
  HAI_CFG(s.Bool("allow_plaintext", &c->allow_plaintext));
  HAI_CFG(s.String("ca_file", &c->ca_file));
  return s.Finish();
}

// The tier names of scheduler/policy/tier.h (common/ may not depend on the policy core).
const std::vector<std::string> kTierNames = {"LOW",  "BELOW_NORMAL", "NORMAL",       "ABOVE_NORMAL",
                                             "HIGH", "VERY_HIGH",    "EXTREME_HIGH", "AUTO"};

absl::Status ReadScheduler(Section& s, SchedulerConfig* c) {
  HAI_CFG(s.Duration("tick_ms", absl::Milliseconds(1), false, &c->tick));
  HAI_CFG(s.String("default_group", &c->default_group));
  if (c->default_group.empty()) return KeyError(s.Key("default_group"), "must not be empty");
  HAI_CFG(
      s.OneOf("default_priority", {kTierNames.begin(), kTierNames.end()}, &c->default_priority));
  HAI_CFG(s.Integer("max_nodes_per_task", &c->max_nodes_per_task, 1, 100000));
  HAI_CFG(s.Integer("max_open_tasks_per_user", &c->max_open_tasks_per_user, 0, 10000000));
  HAI_CFG(s.Bool("preemption", &c->preemption));
  HAI_CFG(s.Bool("suspend_over_quota", &c->suspend_over_quota));
  HAI_CFG(s.Integer("node_lost_ranks_unhealthy", &c->node_lost_ranks_unhealthy, 0, 1000));
  HAI_CFG(s.Integer("metrics_top_users", &c->metrics_top_users, 0, 1000));
  HAI_CFG(s.Integer("max_self_requeues", &c->max_self_requeues, 0, 1000));
  HAI_CFG(s.Duration("above_normal_demote_after_s", absl::Seconds(1), true,
                     &c->above_normal_demote_after));
  HAI_CFG(s.Duration("min_runtime_s", absl::Seconds(1), true, &c->min_runtime));
  HAI_CFG(s.Table("min_runtime_s_by_tier", [&](Section& t) -> absl::Status {
    for (const std::string& tier : kTierNames) {
      if (tier == "AUTO") continue;  // a running task always has a concrete tier
      absl::Duration d = absl::InfiniteDuration();
      HAI_CFG(t.Duration(tier, absl::Seconds(1), true, &d));
      if (d != absl::InfiniteDuration()) c->min_runtime_by_tier[tier] = d;
    }
    return t.Finish();
  }));
  HAI_CFG(s.Duration("suspend_grace_s", absl::Seconds(1), true, &c->suspend_grace));
  HAI_CFG(s.Duration("kill_grace_s", absl::Seconds(1), true, &c->kill_grace));
  HAI_CFG(s.Duration("manager_timeout_s", absl::Seconds(1), false, &c->manager_timeout));
  HAI_CFG(s.Duration("leader_lease_ms", absl::Milliseconds(1), false, &c->leader_lease));
  HAI_CFG(s.Duration("leader_poll_ms", absl::Milliseconds(1), false, &c->leader_poll));
  if (c->leader_lease < absl::Milliseconds(300)) {
    return KeyError(s.Key("leader_lease_ms"), "must be at least 300 (renewed every third of it)");
  }
  if (c->leader_poll * 2 > c->leader_lease) {
    return KeyError(s.Key("leader_poll_ms"), "must be at most half of leader_lease_ms");
  }
  return s.Finish();
}

absl::Status ReadManager(Section& s, ManagerConfig* c) {
  HAI_CFG(s.String("binary", &c->binary));
  HAI_CFG(s.OneOf("runtime", {"local", "kubernetes", "slurm"}, &c->runtime));
  HAI_CFG(s.Duration("heartbeat_ms", absl::Milliseconds(1), false, &c->heartbeat));
  HAI_CFG(s.OneOf("store", {"haid", "postgres"}, &c->store));
  HAI_CFG(s.StringList("haid_endpoints", &c->haid_endpoints));
  HAI_CFG(s.Duration("rpc_timeout_ms", absl::Milliseconds(1), false, &c->rpc_timeout));
  HAI_CFG(s.Duration("retry_s", absl::Seconds(1), false, &c->retry));
  HAI_CFG(s.Duration("heartbeat_batch_ms", absl::Milliseconds(1), true, &c->heartbeat_batch));
  return s.Finish();
}

absl::Status ReadKubernetes(Section& s, KubernetesConfig* c) {
  HAI_CFG(s.String("kubeconfig", &c->kubeconfig));
  HAI_CFG(s.String("context", &c->context));
  HAI_CFG(s.String("namespace", &c->namespace_));
  // An RFC 1123 label: anything else is rejected by the API server on the first pod.
  const bool dns_label = !c->namespace_.empty() && c->namespace_.size() <= 63 &&
                         std::all_of(c->namespace_.begin(), c->namespace_.end(), [](char ch) {
                           return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                                  ch == '-';
                         }) &&
                         c->namespace_.front() != '-' && c->namespace_.back() != '-';
  if (!dns_label) {
    return KeyError(s.Key("namespace"),
                    absl::StrCat("must be a DNS label (a-z, 0-9, '-') (got \"", c->namespace_,
                                 "\")"));
  }
  HAI_CFG(s.String("gpu_resource", &c->gpu_resource));
  if (c->gpu_resource.empty()) return KeyError(s.Key("gpu_resource"), "must not be empty");
  HAI_CFG(s.String("rdma_resource", &c->rdma_resource));
  // Extended resources are "<domain>/<name>" (nvidia.com/gpu, rdma/hca); a malformed one would
  // only fail later, on the first pod the API server rejects.
  const std::pair<const char*, const std::string*> resources[] = {
      {"gpu_resource", &c->gpu_resource}, {"rdma_resource", &c->rdma_resource}};
  for (const auto& [key, value] : resources) {
    const std::string& v = *value;
    if (v.empty()) continue;
    const size_t slash = v.find('/');
    const bool ok = slash != std::string::npos && slash > 0 && slash + 1 < v.size() &&
                    v.find('/', slash + 1) == std::string::npos &&
                    std::all_of(v.begin(), v.end(), [](char ch) {
                      return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                             (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
                             ch == '/';
                    });
    if (!ok) {
      return KeyError(s.Key(key), absl::StrCat("must be an extended resource name like "
                                               "nvidia.com/gpu (got \"", v, "\")"));
    }
  }
  HAI_CFG(s.String("default_image", &c->default_image));
  HAI_CFG(s.OneOf("image_pull_policy", {"Always", "IfNotPresent", "Never"},
                  &c->image_pull_policy));
  HAI_CFG(s.String("service_account", &c->service_account));
  HAI_CFG(s.Bool("read_only_root_filesystem", &c->read_only_root_filesystem));
  HAI_CFG(s.Duration("image_pull_timeout_s", absl::Seconds(1), false, &c->image_pull_timeout));
  HAI_CFG(s.Duration("unschedulable_timeout_s", absl::Seconds(1), false,
                     &c->unschedulable_timeout));
  HAI_CFG(s.Duration("request_timeout_ms", absl::Milliseconds(1), false, &c->request_timeout));
  HAI_CFG(s.Integer("max_retries", &c->max_retries, 0, 100));
  HAI_CFG(s.String("jupyter_image", &c->jupyter_image));
  HAI_CFG(s.Integer("jupyter_port", &c->jupyter_port, 1, 65535));
  HAI_CFG(s.String("jupyter_workspace_pvc", &c->jupyter_workspace_pvc));
  HAI_CFG(s.String("jupyter_workspace_host_path", &c->jupyter_workspace_host_path));
  if (c->jupyter_workspace_pvc.empty() &&
      (c->jupyter_workspace_host_path.empty() || c->jupyter_workspace_host_path[0] != '/')) {
    return KeyError(s.Key("jupyter_workspace_host_path"),
                    "must be an absolute path (or set jupyter_workspace_pvc)");
  }
  return s.Finish();
}

absl::Status ReadSlurm(Section& s, SlurmConfig* c) {
  HAI_CFG(s.String("bin_dir", &c->bin_dir));
  HAI_CFG(s.String("slurm_conf", &c->slurm_conf));
  HAI_CFG(s.String("partition", &c->partition));
  HAI_CFG(s.String("account", &c->account));
  HAI_CFG(s.String("qos", &c->qos));
  HAI_CFG(s.String("job_name_prefix", &c->job_name_prefix));
  // The prefix is part of every job name hai looks its ranks up by (squeue --name, a comma
  // list): a comma or space would split it.
  const bool name_ok =
      !c->job_name_prefix.empty() && c->job_name_prefix.size() <= 32 &&
      std::all_of(c->job_name_prefix.begin(), c->job_name_prefix.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '-' || ch == '_' || ch == '.';
      });
  if (!name_ok) {
    return KeyError(
        s.Key("job_name_prefix"),
        absl::StrCat("must be 1-32 of A-Z a-z 0-9 - _ . (got \"", c->job_name_prefix, "\")"));
  }
  HAI_CFG(s.StringList("extra_sbatch_args", &c->extra_sbatch_args));
  HAI_CFG(s.String("supervisor_binary", &c->supervisor_binary));
  HAI_CFG(s.Duration("command_timeout_ms", absl::Milliseconds(1), false, &c->command_timeout));
  HAI_CFG(s.Duration("node_sync_interval_ms", absl::Milliseconds(1), true, &c->node_sync_interval));
  HAI_CFG(s.String("import_group", &c->import_group));
  return s.Finish();
}

absl::Status ReadJupyter(Section& s, JupyterConfig* c) {
  HAI_CFG(s.String("default_group", &c->default_group));
  if (c->default_group.empty()) return KeyError(s.Key("default_group"), "must not be empty");
  // Cores and GiB as operators think of them; stored in millicores and MiB.
  double cores = static_cast<double>(c->default_cpu_millis) / 1000;
  HAI_CFG(s.Number("default_cpu", &cores, 0.001, 4096));
  c->default_cpu_millis = static_cast<int64_t>(std::llround(cores * 1000));
  int64_t gib = c->default_memory_mib / 1024;
  HAI_CFG(s.Integer("default_memory_gib", &gib, 1, 1 << 20));
  c->default_memory_mib = gib * 1024;
  HAI_CFG(s.Duration("idle_timeout_s", absl::Seconds(1), true, &c->idle_timeout));
  HAI_CFG(s.Table("idle_timeout_s_by_role", [&](Section& t) -> absl::Status {
    for (const char* role : {"admin", "internal", "external"}) {
      absl::Duration d = absl::InfiniteDuration();
      HAI_CFG(t.Duration(role, absl::Seconds(1), true, &d));
      if (d != absl::InfiniteDuration()) c->idle_timeout_by_role[role] = d;
    }
    return t.Finish();
  }));
  HAI_CFG(s.StringList("gpu_sharing_groups", &c->gpu_sharing_groups));
  HAI_CFG(s.Integer("max_containers_per_gpu", &c->max_containers_per_gpu, 1, 1024));
  HAI_CFG(s.String("notebook_binary", &c->notebook_binary));
  if (c->notebook_binary.empty()) return KeyError(s.Key("notebook_binary"), "must not be empty");
  return s.Finish();
}

absl::Status ReadNodes(const toml::node& node, std::vector<LocalNodeConfig>* out) {
  const toml::array* array = node.as_array();
  if (array == nullptr) return KeyError("nodes", "must be an array of tables ([[nodes]])");
  std::set<std::string> names;
  out->clear();
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string prefix = absl::StrCat("nodes[", i, "]");
    const toml::table* t = (*array)[i].as_table();
    if (t == nullptr) return KeyError(prefix, "must be a table");
    Section s(t, prefix);
    LocalNodeConfig n;
    HAI_CFG(s.String("name", &n.name));
    if (n.name.empty()) return KeyError(s.Key("name"), "is required");
    if (!names.insert(n.name).second) {
      return KeyError(s.Key("name"), absl::StrCat("duplicate node \"", n.name, "\""));
    }
    HAI_CFG(s.String("group", &n.group));
    if (n.group.empty()) return KeyError(s.Key("group"), "must not be empty");
    HAI_CFG(s.Integer("gpus", &n.gpus, 0, 64));
    HAI_CFG(s.Integer("cpu_millis", &n.cpu_millis, 0, int64_t{1} << 40));
    HAI_CFG(s.Integer("memory_mib", &n.memory_mib, 0, int64_t{1} << 40));
    HAI_CFG(s.String("room", &n.room));
    HAI_CFG(s.String("switch", &n.sw));
    HAI_CFG(s.Bool("jupyter", &n.jupyter));
    HAI_CFG(s.Finish());
    out->push_back(std::move(n));
  }
  return absl::OkStatus();
}

// Applies `table` on top of `config`: keys present replace, absent keep their value.
absl::Status Apply(const toml::table& table, Config* config) {
  struct Entry {
    const char* name;
    std::function<absl::Status(Section&)> read;
  };
  const std::vector<Entry> sections = {
      {"server", [&](Section& s) { return ReadServer(s, &config->server); }},
      {"grpc", [&](Section& s) { return ReadGrpc(s, &config->grpc); }},
      {"database", [&](Section& s) { return ReadDatabase(s, &config->database); }},
      {"redis", [&](Section& s) { return ReadRedis(s, &config->redis); }},
      {"tls", [&](Section& s) { return ReadTls(s, &config->tls); }},
      {"scheduler", [&](Section& s) { return ReadScheduler(s, &config->scheduler); }},
      {"manager", [&](Section& s) { return ReadManager(s, &config->manager); }},
      {"jupyter", [&](Section& s) { return ReadJupyter(s, &config->jupyter); }},
      {"kubernetes", [&](Section& s) { return ReadKubernetes(s, &config->kubernetes); }},
      {"slurm", [&](Section& s) { return ReadSlurm(s, &config->slurm); }},
  };
  std::set<std::string> known = {"nodes"};
  for (const Entry& e : sections) {
    known.insert(e.name);
    const toml::node* n = table.get(e.name);
    if (n == nullptr) continue;
    if (!n->is_table()) return KeyError(e.name, "must be a table ([" + std::string(e.name) + "])");
    Section s(n->as_table(), e.name);
    HAI_CFG(e.read(s));
  }
  if (const toml::node* n = table.get("nodes"); n != nullptr) {
    HAI_CFG(ReadNodes(*n, &config->nodes));
  }
  for (const auto& [k, v] : table) {
    if (known.count(std::string(k.str())) == 0) {
      return KeyError(std::string(k.str()), "unknown section or key");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<toml::table> ParseToml(const std::string& text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return absl::InvalidArgumentError(absl::StrCat(source, ":", where.line, ":", where.column, ": ",
                                                   std::string(e.description())));
  }
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// redis.password_file -> redis.password (its first line), once everything is applied.
absl::Status ResolveRedisPassword(RedisConfig* c) {
  if (c->password_file.empty()) return absl::OkStatus();
  std::ifstream in(c->password_file);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return KeyError("redis.password_file", absl::StrCat("cannot read ", c->password_file));
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return KeyError("redis.password_file", c->password_file + " is empty");
  c->password = line;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Config> ParseConfig(const std::string& toml_text, const std::string& source_name) {
  absl::StatusOr<toml::table> table = ParseToml(toml_text, source_name);
  if (!table.ok()) return table.status();
  Config config;
  HAI_CFG(Apply(*table, &config));
  HAI_CFG(ResolveRedisPassword(&config.redis));
  return config;
}

absl::StatusOr<Config> LoadConfig(const std::string& path, const std::string& override_path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<Config> config = ParseConfig(*text, path);
  if (!config.ok() || override_path.empty()) return config;
  absl::StatusOr<std::string> extra = ReadFile(override_path);
  if (!extra.ok()) return extra.status();
  absl::StatusOr<toml::table> table = ParseToml(*extra, override_path);
  if (!table.ok()) return table.status();
  HAI_CFG(Apply(*table, &*config));
  HAI_CFG(ResolveRedisPassword(&config->redis));
  return config;
}

bool IsLoopbackListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon == std::string::npos ? listen.size() : colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, written as a dotted quad.
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

std::string ManagerSocketPath(const Config& config) {
  // Named for the host: replicas may share data_dir (a volume both mount), and a unix socket
  // only reaches processes on the host that bound it.
  return (std::filesystem::absolute(config.server.data_dir) /
          absl::StrCat("haid-", proc::HostName().substr(0, 32), ".sock"))
      .lexically_normal()
      .string();
}

absl::Status CheckTransport(const Config& config) {
  if (config.tls.enabled() || config.tls.allow_plaintext) return absl::OkStatus();
  for (const std::string* listen : {&config.server.grpc_listen, &config.server.http_listen}) {
    if (!IsLoopbackListen(*listen)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "plaintext listener on non-loopback address ", *listen,
          ": bearer tokens would cross the network in clear. Set [tls] cert_file and key_file, "
          "or tls.allow_plaintext = true to accept that (docs/security.md)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace hai
