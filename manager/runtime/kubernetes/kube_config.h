// Where the Kubernetes API is and how to authenticate to it: from a kubeconfig file (the
// subset kubectl writes: clusters, users, contexts; bearer tokens, token files and client
// certificates, inline *-data or file paths) or from the in-cluster service account. Exec and
// auth-provider plugins are refused with a clear error instead of being half supported.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace hai::manager::kube {

struct KubeEndpoint {
  std::string server;  // "https://host:port", no trailing slash
  // Server CA: inline PEM, or a PEM file; both empty = the system CA store.
  std::string ca_pem;
  std::string ca_file;
  bool insecure_skip_tls_verify = false;
  // Client certificate and key: inline PEM or files.
  std::string client_cert_pem, client_key_pem;
  std::string client_cert_file, client_key_file;
  // Bearer token, inline or from a file that is re-read as it rotates (service accounts).
  std::string token;
  std::string token_file;
  std::string default_namespace;  // the context's (or service account's) namespace, "" if none
};

// Parses kubeconfig text. `context` "" = current-context; relative file paths are taken
// relative to `base_dir` (the kubeconfig's directory, as kubectl does). InvalidArgument names
// what is wrong (missing context, unknown cluster, undecodable data); Unimplemented for
// exec/auth-provider users.
absl::StatusOr<KubeEndpoint> ParseKubeconfig(const std::string& yaml_text,
                                             const std::string& context,
                                             const std::string& base_dir);

// Reads and parses a kubeconfig file (NotFound when it cannot be read).
absl::StatusOr<KubeEndpoint> LoadKubeconfig(const std::string& path, const std::string& context);

// The in-cluster service account: KUBERNETES_SERVICE_HOST/PORT from the environment, token,
// ca.crt and namespace under `sa_dir` (/var/run/secrets/kubernetes.io/serviceaccount).
// FailedPrecondition when not running in a cluster.
absl::StatusOr<KubeEndpoint> InClusterEndpoint(
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace hai::manager::kube
