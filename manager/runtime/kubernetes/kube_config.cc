// kubeconfig and in-cluster endpoint loading; see kube_config.h.
#include "manager/runtime/kubernetes/kube_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace hai::manager::kube {
namespace {

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The entry of list `key` (clusters/users/contexts) named `name`, and its `field` map.
absl::StatusOr<YAML::Node> Named(const YAML::Node& root, const std::string& key,
                                 const std::string& field, const std::string& name) {
  const YAML::Node list = root[key];
  if (list && list.IsSequence()) {
    for (const YAML::Node& entry : list) {
      if (entry.IsMap() && entry["name"] && entry["name"].as<std::string>() == name) {
        YAML::Node body = entry[field];
        if (!body || !body.IsMap()) {
          return absl::InvalidArgumentError(
              absl::StrCat("kubeconfig: ", key, " entry '", name, "' has no ", field, " map"));
        }
        return body;
      }
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("kubeconfig: no ", field, " named '", name, "' in ", key));
}

std::string Str(const YAML::Node& map, const char* key) {
  const YAML::Node v = map[key];
  return v && v.IsScalar() ? v.as<std::string>() : std::string();
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

absl::StatusOr<std::string> Decode(const std::string& b64, const std::string& what) {
  std::string out;
  if (!absl::Base64Unescape(b64, &out)) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig: ", what, " is not base64"));
  }
  return out;
}

absl::StatusOr<KubeEndpoint> FromDocument(const YAML::Node& root, const std::string& context,
                                          const std::string& base_dir) {
  if (!root.IsMap()) return absl::InvalidArgumentError("kubeconfig: not a YAML map");
  std::string ctx_name = context.empty() ? Str(root, "current-context") : context;
  if (ctx_name.empty()) {
    return absl::InvalidArgumentError(
        "kubeconfig: no context given and no current-context set (set kubernetes.context)");
  }
  auto ctx = Named(root, "contexts", "context", ctx_name);
  if (!ctx.ok()) return ctx.status();
  const std::string cluster_name = Str(*ctx, "cluster");
  const std::string user_name = Str(*ctx, "user");
  auto cluster = Named(root, "clusters", "cluster", cluster_name);
  if (!cluster.ok()) return cluster.status();

  KubeEndpoint ep;
  ep.default_namespace = Str(*ctx, "namespace");
  ep.server = std::string(absl::StripSuffix(Str(*cluster, "server"), "/"));
  if (!absl::StartsWith(ep.server, "https://") && !absl::StartsWith(ep.server, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig: cluster '", cluster_name,
                                                   "' server must be an http(s) URL (got '",
                                                   ep.server, "')"));
  }
  ep.insecure_skip_tls_verify = Str(*cluster, "insecure-skip-tls-verify") == "true";
  if (std::string d = Str(*cluster, "certificate-authority-data"); !d.empty()) {
    auto pem = Decode(d, "certificate-authority-data");
    if (!pem.ok()) return pem.status();
    ep.ca_pem = *pem;
  }
  ep.ca_file = Resolve(base_dir, Str(*cluster, "certificate-authority"));

  if (!user_name.empty()) {
    auto user = Named(root, "users", "user", user_name);
    if (!user.ok()) return user.status();
    if ((*user)["exec"] || (*user)["auth-provider"]) {
      return absl::UnimplementedError(absl::StrCat(
          "kubeconfig: user '", user_name,
          "' uses an exec/auth-provider plugin; use a token, token file or client certificate"));
    }
    ep.token = Str(*user, "token");
    ep.token_file = Resolve(base_dir, Str(*user, "tokenFile"));
    if (std::string d = Str(*user, "client-certificate-data"); !d.empty()) {
      auto pem = Decode(d, "client-certificate-data");
      if (!pem.ok()) return pem.status();
      ep.client_cert_pem = *pem;
    }
    if (std::string d = Str(*user, "client-key-data"); !d.empty()) {
      auto pem = Decode(d, "client-key-data");
      if (!pem.ok()) return pem.status();
      ep.client_key_pem = *pem;
    }
    ep.client_cert_file = Resolve(base_dir, Str(*user, "client-certificate"));
    ep.client_key_file = Resolve(base_dir, Str(*user, "client-key"));
    const bool has_cert = !ep.client_cert_pem.empty() || !ep.client_cert_file.empty();
    const bool has_key = !ep.client_key_pem.empty() || !ep.client_key_file.empty();
    if (has_cert != has_key) {
      return absl::InvalidArgumentError(
          absl::StrCat("kubeconfig: user '", user_name,
                       "' has a client certificate without a key or the "
                       "reverse"));
    }
  }
  return ep;
}

}  // namespace

absl::StatusOr<KubeEndpoint> ParseKubeconfig(const std::string& yaml_text,
                                             const std::string& context,
                                             const std::string& base_dir) {
  // yaml-cpp reports errors by exception; they stop here.
  try {
    return FromDocument(YAML::Load(yaml_text), context, base_dir);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig: ", e.what()));
  }
}

absl::StatusOr<KubeEndpoint> LoadKubeconfig(const std::string& path, const std::string& context) {
  auto text = ReadText(path);
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("kubeconfig ", path, ": cannot read"));
  auto ep = ParseKubeconfig(*text, context, std::filesystem::path(path).parent_path().string());
  if (!ep.ok()) {
    return absl::Status(ep.status().code(), absl::StrCat(path, ": ", ep.status().message()));
  }
  return ep;
}

absl::StatusOr<KubeEndpoint> InClusterEndpoint(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0') {
    return absl::FailedPreconditionError(
        "not running in a cluster (KUBERNETES_SERVICE_HOST unset); set kubernetes.kubeconfig");
  }
  KubeEndpoint ep;
  const std::string h(host);
  // An IPv6 service address needs brackets in a URL.
  ep.server =
      absl::StrCat("https://", h.find(':') != std::string::npos ? "[" + h + "]" : h, ":", port);
  ep.token_file = sa_dir + "/token";
  ep.ca_file = sa_dir + "/ca.crt";
  if (!std::filesystem::exists(ep.token_file)) {
    return absl::FailedPreconditionError(
        absl::StrCat("no service account token at ", ep.token_file));
  }
  if (auto ns = ReadText(sa_dir + "/namespace"); ns.ok()) {
    ep.default_namespace = std::string(absl::StripAsciiWhitespace(*ns));
  }
  return ep;
}

}  // namespace hai::manager::kube
