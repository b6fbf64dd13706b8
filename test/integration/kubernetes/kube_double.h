// Test fixture pieces for the Kubernetes runtime: a throwaway CA with server and client
// certificates (openssl CLI), the API double (kube_api_double.py) started on a free loopback
// port over HTTPS, and a kubeconfig pointing at it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "manager/runtime/kubernetes/kube_client.h"
#include "nlohmann/json.hpp"

namespace hai::testing {

// PEM files under `dir`: ca.crt, server.crt/key (SAN IP:127.0.0.1), client.crt/key.
void MakeCertificates(const std::string& dir);

class KubeDouble {
 public:
  // Starts the double serving HTTPS with the certificates in `cert_dir`; requires bearer
  // token `token` unless empty, a client certificate when `require_client_cert`.
  static std::unique_ptr<KubeDouble> Start(const std::string& cert_dir, const std::string& token,
                                           bool require_client_cert = false,
                                           const std::vector<std::string>& extra_args = {});
  ~KubeDouble();

  int port() const { return port_; }
  std::string server() const { return "https://127.0.0.1:" + std::to_string(port_); }
  // Writes a kubeconfig (CA file + `token`) for this double; returns its path.
  std::string WriteKubeconfig(const std::string& path, const std::string& token) const;

  // Test controls (/_double/...).
  void Fail(const std::string& method, const std::string& path_regex, int code, int count);
  void ExpireWatches();
  void MakeUnschedulable(const std::string& node);
  nlohmann::json Objects();   // every pod, service and configmap
  nlohmann::json Procs();     // running container processes: {"<ns>/<pod>": pid}
  nlohmann::json Requests();  // every API request: method, path, query, body
  // Requests with this method whose path matches `path_regex` (and, if set, a query key).
  std::vector<nlohmann::json> RequestsMatching(const std::string& method,
                                               const std::string& path_regex,
                                               const std::string& query_key = "");

 private:
  KubeDouble(pid_t pid, int port, std::string cert_dir);
  nlohmann::json Control(const std::string& method, const std::string& what,
                         const nlohmann::json* body = nullptr);
  pid_t pid_;
  int port_;
  std::string cert_dir_;
  std::unique_ptr<manager::kube::KubeClient> client_;
};

}  // namespace hai::testing
