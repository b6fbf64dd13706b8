// Certificates, the API double process and its control endpoints; see kube_double.h.
#include "test/integration/kubernetes/kube_double.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace hai::testing {
namespace {

void Run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::fprintf(stderr, "command failed (%d): %s\n", rc, cmd.c_str());
    std::abort();
  }
}

}  // namespace

void MakeCertificates(const std::string& dir) {
  Run(absl::StrCat(
      "cd '", dir, "' && ",
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=hai-test-ca "
      "-keyout ca.key -out ca.crt 2>/dev/null && ",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key "
      "-out server.csr 2>/dev/null && ",
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext && ",
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile server.ext -out server.crt 2>/dev/null && ",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=hai-manager -keyout client.key "
      "-out client.csr 2>/dev/null && ",
      "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
      "-out client.crt 2>/dev/null"));
}

std::unique_ptr<KubeDouble> KubeDouble::Start(const std::string& cert_dir, const std::string& token,
                                              bool require_client_cert,
                                              const std::vector<std::string>& extra_args) {
  std::vector<std::string> args = {HAI_PYTHON, HAI_KUBE_DOUBLE,
                                   "--cert",   cert_dir + "/server.crt",
                                   "--key",    cert_dir + "/server.key"};
  if (!token.empty()) args.insert(args.end(), {"--token", token});
  if (require_client_cert) args.insert(args.end(), {"--client-ca", cert_dir + "/ca.crt"});
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  // The double prints "port N" once it listens.
  FILE* out = ::fdopen(fds[0], "r");
  char line[64] = {};
  int port = 0;
  if (std::fgets(line, sizeof(line), out) == nullptr || std::sscanf(line, "port %d", &port) != 1) {
    std::fprintf(stderr, "the Kubernetes API double did not start\n");
    std::abort();
  }
  std::fclose(out);
  return std::unique_ptr<KubeDouble>(new KubeDouble(pid, port, cert_dir));
}

KubeDouble::KubeDouble(pid_t pid, int port, std::string cert_dir)
    : pid_(pid), port_(port), cert_dir_(std::move(cert_dir)) {
  manager::kube::KubeEndpoint ep;
  ep.server = server();
  ep.ca_file = cert_dir_ + "/ca.crt";
  ep.client_cert_file = cert_dir_ + "/client.crt";
  ep.client_key_file = cert_dir_ + "/client.key";
  manager::kube::ClientOptions opt;
  opt.max_retries = 0;
  client_ = std::make_unique<manager::kube::KubeClient>(ep, opt);
}

KubeDouble::~KubeDouble() {
  ::kill(pid_, SIGTERM);  // the double kills the processes of its pods
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

std::string KubeDouble::WriteKubeconfig(const std::string& path, const std::string& token) const {
  std::ofstream(path) << "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                      << "clusters:\n- name: double\n  cluster:\n    server: " << server()
                      << "\n    certificate-authority: " << cert_dir_ << "/ca.crt\n"
                      << "users:\n- name: manager\n  user:\n    token: " << token << "\n"
                      << "contexts:\n- name: test\n  context:\n    cluster: double\n"
                      << "    user: manager\n";
  return path;
}

nlohmann::json KubeDouble::Control(const std::string& method, const std::string& what,
                                   const nlohmann::json* body) {
  auto r = client_->Call(method, "/_double/" + what, body);
  EXPECT_TRUE(r.ok()) << what << ": " << r.status();
  return r.ok() ? *r : nlohmann::json();
}

void KubeDouble::Fail(const std::string& method, const std::string& path_regex, int code,
                      int count) {
  const nlohmann::json body = {
      {"method", method}, {"path", path_regex}, {"code", code}, {"count", count}};
  Control("POST", "fail", &body);
}

void KubeDouble::ExpireWatches() { Control("POST", "expire-watches"); }

void KubeDouble::MakeUnschedulable(const std::string& node) {
  const nlohmann::json body = {{"node", node}};
  Control("POST", "unschedulable", &body);
}

nlohmann::json KubeDouble::Objects() { return Control("GET", "objects"); }
nlohmann::json KubeDouble::Requests() { return Control("GET", "requests"); }
nlohmann::json KubeDouble::Procs() { return Control("GET", "procs"); }

std::vector<nlohmann::json> KubeDouble::RequestsMatching(const std::string& method,
                                                         const std::string& path_regex,
                                                         const std::string& query_key) {
  std::vector<nlohmann::json> out;
  const std::regex re(path_regex);
  for (const nlohmann::json& r : Requests()) {
    if (r["method"] != method || !std::regex_search(r["path"].get<std::string>(), re)) continue;
    if (!query_key.empty() && !r["query"].contains(query_key)) continue;
    out.push_back(r);
  }
  return out;
}

}  // namespace hai::testing
