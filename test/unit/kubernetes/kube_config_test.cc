// kubeconfig parsing (contexts, inline and file credentials, relative paths, refused plugins),
// the in-cluster service account, and the HTTP status -> absl::Status mapping of the client.
#include "manager/runtime/kubernetes/kube_config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "manager/runtime/kubernetes/kube_client.h"

namespace hai::testing {
namespace {

using manager::kube::InClusterEndpoint;
using manager::kube::ParseKubeconfig;
using manager::kube::QueryEscape;
using manager::kube::Retryable;
using manager::kube::StatusFromHttp;

const std::string kConfig = R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod-cluster
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: )" +
                            absl::Base64Escape("CA PEM") + R"(
- name: lab-cluster
  cluster:
    server: https://lab:6443
    certificate-authority: certs/ca.crt
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate-data: )" +
                            absl::Base64Escape("CERT PEM") + R"(
    client-key-data: )" + absl::Base64Escape("KEY PEM") +
                            R"(
- name: bot
  user:
    token: s3cret
    client-certificate: bot.crt
    client-key: /abs/bot.key
- name: sso
  user:
    exec:
      command: kubelogin
contexts:
- name: prod
  context:
    cluster: prod-cluster
    user: admin
    namespace: training
- name: lab
  context:
    cluster: lab-cluster
    user: bot
- name: sso
  context:
    cluster: lab-cluster
    user: sso
- name: broken
  context:
    cluster: nowhere
    user: bot
)";

TEST(KubeconfigTest, CurrentContextWithInlineCertificates) {
  auto ep = ParseKubeconfig(kConfig, "", "/home/me/.kube");
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->server, "https://10.0.0.1:6443");
  EXPECT_EQ(ep->ca_pem, "CA PEM");
  EXPECT_EQ(ep->client_cert_pem, "CERT PEM");
  EXPECT_EQ(ep->client_key_pem, "KEY PEM");
  EXPECT_EQ(ep->default_namespace, "training");
  EXPECT_FALSE(ep->insecure_skip_tls_verify);
}

TEST(KubeconfigTest, NamedContextWithFilesRelativeToTheKubeconfig) {
  auto ep = ParseKubeconfig(kConfig, "lab", "/home/me/.kube");
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->ca_file, "/home/me/.kube/certs/ca.crt");
  EXPECT_EQ(ep->client_cert_file, "/home/me/.kube/bot.crt");
  EXPECT_EQ(ep->client_key_file, "/abs/bot.key");
  EXPECT_EQ(ep->token, "s3cret");
  EXPECT_TRUE(ep->insecure_skip_tls_verify);
}

TEST(KubeconfigTest, MistakesAreNamed) {
  auto ep = ParseKubeconfig(kConfig, "sso", "");
  EXPECT_TRUE(absl::IsUnimplemented(ep.status())) << ep.status();
  ep = ParseKubeconfig(kConfig, "broken", "");
  EXPECT_TRUE(absl::IsInvalidArgument(ep.status()));
  EXPECT_NE(ep.status().message().find("nowhere"), std::string::npos) << ep.status();
  ep = ParseKubeconfig(kConfig, "staging", "");
  EXPECT_NE(ep.status().message().find("no context named 'staging'"), std::string::npos)
      << ep.status();
  ep = ParseKubeconfig("clusters: [", "", "");
  EXPECT_TRUE(absl::IsInvalidArgument(ep.status()));
  ep = ParseKubeconfig("apiVersion: v1\nkind: Config\n", "", "");
  EXPECT_NE(ep.status().message().find("current-context"), std::string::npos);
  const std::string bad_server =
      "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: 10.0.0.1\n"
      "contexts:\n- name: c\n  context:\n    cluster: k\n";
  ep = ParseKubeconfig(bad_server, "", "");
  EXPECT_NE(ep.status().message().find("http(s) URL"), std::string::npos) << ep.status();
}

TEST(KubeconfigTest, InClusterServiceAccount) {
  const std::string dir = ::testing::TempDir() + "/sa";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/token") << "tok\n";
  std::ofstream(dir + "/namespace") << "hai\n";
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_TRUE(absl::IsFailedPrecondition(InClusterEndpoint(dir).status()));
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto ep = InClusterEndpoint(dir);
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->server, "https://10.96.0.1:443");
  EXPECT_EQ(ep->token_file, dir + "/token");
  EXPECT_EQ(ep->ca_file, dir + "/ca.crt");
  EXPECT_EQ(ep->default_namespace, "hai");
  ::setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  EXPECT_EQ(InClusterEndpoint(dir)->server, "https://[fd00::1]:443");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
}

TEST(KubeClientErrorsTest, HttpCodesMapToTypedStatuses) {
  const std::string status_body =
      R"({"kind":"Status","apiVersion":"v1","status":"Failure",)"
      R"("message":"pods \"x\" is forbidden","reason":"Forbidden","code":403})";
  absl::Status s = StatusFromHttp(403, status_body);
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_NE(s.message().find("pods \"x\" is forbidden"), std::string::npos) << s;
  EXPECT_TRUE(absl::IsUnauthenticated(StatusFromHttp(401, "Unauthorized")));
  EXPECT_TRUE(absl::IsNotFound(StatusFromHttp(404, "")));
  EXPECT_TRUE(absl::IsAlreadyExists(
      StatusFromHttp(409, R"({"kind":"Status","reason":"AlreadyExists","message":"m"})")));
  EXPECT_TRUE(absl::IsAborted(
      StatusFromHttp(409, R"({"kind":"Status","reason":"Conflict","message":"m"})")));
  EXPECT_TRUE(absl::IsOutOfRange(StatusFromHttp(410, "")));
  EXPECT_TRUE(absl::IsInvalidArgument(StatusFromHttp(422, "")));
  EXPECT_TRUE(absl::IsResourceExhausted(StatusFromHttp(429, "")));
  EXPECT_TRUE(absl::IsUnavailable(StatusFromHttp(503, "")));
  EXPECT_TRUE(StatusFromHttp(201, "").ok());
  EXPECT_TRUE(Retryable(429));
  EXPECT_TRUE(Retryable(500));
  EXPECT_TRUE(Retryable(0));
  EXPECT_FALSE(Retryable(409));
  EXPECT_FALSE(Retryable(403));
  EXPECT_EQ(QueryEscape("hai.io/attempt=5,a!=b"), "hai.io%2Fattempt%3D5%2Ca%21%3Db");
}

}  // namespace
}  // namespace hai::testing
