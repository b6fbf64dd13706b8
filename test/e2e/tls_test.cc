// Transport security against the real daemon (issue 14): haid serving gRPC and the side port
// with TLS from a CA minted here with the openssl CLI. hai-cli with the right CA submits and
// reads status; with a wrong CA, or none, it fails with a clear message and exit code 6
// (unreachable/untrusted); plaintext against the TLS ports fails cleanly; the side port
// answers curl --cacert; the in-task SDK verifies with HAI_CA_FILE; and haid refuses to
// serve plaintext off loopback unless told to.
#include <sys/stat.h>

#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "test/e2e/harness.h"

namespace hai::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// A CA and a server certificate it signed for 127.0.0.1/localhost, plus an unrelated CA.
void MintCertificates(const std::string& dir) {
  const std::string script = absl::StrCat(
      "set -e; cd '", dir, "'; ",
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=hai-test-ca "
      "-keyout ca.key -out ca.crt 2>/dev/null; ",
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca "
      "-keyout other-ca.key -out other-ca.crt 2>/dev/null; ",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key "
      "-out server.csr 2>/dev/null; ",
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext; ",
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile server.ext -out server.crt 2>/dev/null; ",
      // Tasks run as their users: the CA certificates are public, the keys are not.
      "chmod 0755 .; chmod 0644 ca.crt other-ca.crt; chmod 0600 *.key");
  CommandResult r = RunCommand(script);
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = MakeTempDir("hai-tls-");
    ASSERT_NO_FATAL_FAILURE(MintCertificates(certs_));
    cluster_.EnableTls(certs_ + "/server.crt", certs_ + "/server.key", certs_ + "/ca.crt");
    cluster_.AddUser("alice", "alice-token");
    cluster_.StartDaemon();
  }
  std::string Ca() const { return certs_ + "/ca.crt"; }
  std::string OtherCa() const { return certs_ + "/other-ca.crt"; }
  std::string GrpcAddress() const { return absl::StrCat("127.0.0.1:", cluster_.grpc_port()); }
  std::string SideUrl(const std::string& scheme, const std::string& path) const {
    return absl::StrCat(scheme, "://127.0.0.1:", cluster_.http_port(), path);
  }
  // hai-cli with no config file: only the environment names haid.
  CommandResult CliWithEnv(const std::string& args, std::map<std::string, std::string> env) {
    env["HAI_CONFIG_DIR"] = cluster_.dir() + "/no-such-config";
    env["HAI_TOKEN"] = "alice-token";
    return RunCommand(absl::StrCat(BinDir(), "/hai-cli ", args), env);
  }

  std::string certs_;
  Cluster cluster_{1, 1};
};

TEST_F(TlsTest, CliWithTheRightCaSubmitsAndReadsStatusAndTheTaskUsesTheSdkOverTls) {
  // The task calls haid's side port through the SDK: HAI_CONTROL_URL is https:// and
  // HAI_CA_FILE names the configured CA.
  const std::string script =
      cluster_.WriteScript("sdk_tls.py",
                           "import os, hai\n"
                           "print('control', os.environ['HAI_CONTROL_URL'], flush=True)\n"
                           "print('life', hai.get_whole_life_state(), flush=True)\n");
  const int64_t chain =
      cluster_.Submit("alice", script, absl::StrCat("-e PYTHONPATH=", HAI_SOURCE_DIR, "/python"));
  ASSERT_GT(chain, 0);
  CommandResult status = cluster_.Cli("alice", absl::StrCat("status ", chain));
  EXPECT_EQ(status.exit_code, 0) << status.output;
  ASSERT_TRUE(WaitFor([&] { return cluster_.CurrentState(chain) == "succeeded"; }, 30000))
      << cluster_.CurrentState(chain) << "\n"
      << cluster_.Cli("alice", absl::StrCat("logs ", chain)).output;
  CommandResult logs = cluster_.Cli("alice", absl::StrCat("logs ", chain));
  EXPECT_EQ(logs.exit_code, 0) << logs.output;
  EXPECT_THAT(logs.output,
              HasSubstr(absl::StrCat("control https://127.0.0.1:", cluster_.http_port())));
  EXPECT_THAT(logs.output, HasSubstr("life 0"));
}

TEST_F(TlsTest, WrongCaFailsWithAClearMessageAndExitCode6) {
  CommandResult r = cluster_.Cli("alice", "--ca-file " + OtherCa() + " list");
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cannot reach haid at " + GrpcAddress()));
  EXPECT_THAT(r.output, HasSubstr("TLS certificate is not trusted"));
  EXPECT_THAT(r.output, HasSubstr(OtherCa()));
  // https:// with the system store: our test CA is in no system store.
  r = CliWithEnv("list", {{"HAI_URL", "https://" + GrpcAddress()}});
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_THAT(r.output, HasSubstr("TLS certificate is not trusted"));
  EXPECT_THAT(r.output, HasSubstr("the system store"));
  // The right CA from the environment works.
  r = CliWithEnv("list", {{"HAI_URL", GrpcAddress()}, {"HAI_CA_FILE", Ca()}});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(TlsTest, UnreadableCaFileIsAUsageError) {
  CommandResult r = cluster_.Cli("alice", "--ca-file " + certs_ + "/missing.crt list");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cannot read the CA file"));
}

TEST_F(TlsTest, PlaintextClientsAgainstTheTlsPortsFailCleanly) {
  // gRPC in plaintext: unreachable (6), with the hint that haid may serve TLS.
  CommandResult r = CliWithEnv("list", {{"HAI_URL", GrpcAddress()}});
  EXPECT_EQ(r.exit_code, 6) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cannot reach haid"));
  // Plain HTTP to the side port: a plaintext 400 saying why, not a reset.
  r = RunCommand("curl -s -w ' status=%{http_code}' " + SideUrl("http", "/readyz"));
  EXPECT_THAT(r.output, HasSubstr("this port speaks TLS"));
  EXPECT_THAT(r.output, HasSubstr("status=400"));
}

TEST_F(TlsTest, SidePortServesProbesAndMetricsOverTls) {
  CommandResult r = RunCommand("curl -sf --cacert " + Ca() + " " + SideUrl("https", "/readyz"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("ready"));
  // An untrusting client: curl's "peer certificate cannot be authenticated" (60).
  r = RunCommand("curl -s --cacert " + OtherCa() + " " + SideUrl("https", "/healthz"));
  EXPECT_EQ(r.exit_code, 60) << r.output;
  r = RunCommand("curl -sf --cacert " + Ca() + " " + SideUrl("https", "/metrics"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("hai_http_side_port_events_total{event=\"tls_failed\"} 1"));
}

TEST_F(TlsTest, SdkVerifiesTheSidePortWithItsCaFile) {
  // A real task token is not needed to see the transport: a bogus one reaches haid's
  // handler (401 or 403, by whether attempt 1 exists) only through a verified TLS connection.
  const std::string sdk = absl::StrCat("PYTHONPATH=", HAI_SOURCE_DIR, "/python python3 -c '",
                                       "from hai.client import TaskControl, HaiError\n"
                                       "try:\n"
                                       "    TaskControl(\"",
                                       SideUrl("https", ""),
                                       "\", 1, \"bogus\", ca_file=\"CA\")"
                                       ".get_whole_life_state()\n"
                                       "except HaiError as e:\n"
                                       "    print(e)\n'");
  auto with_ca = [&](const std::string& ca) {
    std::string cmd = sdk;
    cmd.replace(cmd.find("\"CA\""), 4, "\"" + ca + "\"");
    return RunCommand(cmd);
  };
  CommandResult right = with_ca(Ca());
  EXPECT_THAT(right.output, ContainsRegex("HTTP 40[13]")) << right.output;
  CommandResult wrong = with_ca(OtherCa());
  EXPECT_THAT(wrong.output, HasSubstr("CERTIFICATE_VERIFY_FAILED")) << wrong.output;
  EXPECT_THAT(wrong.output, Not(HasSubstr("HTTP ")));
}

// No daemon of its own: haid checks its transport before it touches the database.
TEST(TlsConfigTest, HaidRefusesPlaintextOffLoopbackUnlessAllowed) {
  const std::string dir = MakeTempDir("hai-tls-config-");
  const std::string config = dir + "/haid.toml";
  std::ofstream(config) << "[server]\ngrpc_listen = \"0.0.0.0:7611\"\n"
                        << "[database]\nurl = \"postgresql://nobody@127.0.0.1:1/none\"\n";
  CommandResult r = RunCommand(absl::StrCat(BinDir(), "/haid --config ", config));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("plaintext listener on non-loopback address 0.0.0.0:7611"));
  EXPECT_THAT(r.output, HasSubstr("tls.allow_plaintext"));
  // Allowed: haid goes on (and fails later, at the unreachable database).
  std::ofstream(config, std::ios::app) << "[tls]\nallow_plaintext = true\n";
  r = RunCommand(absl::StrCat(BinDir(), "/haid --config ", config));
  EXPECT_NE(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("plaintext listener")));
}

}  // namespace
}  // namespace hai::testing
