// Tests of the client config: file round trip with mode 0600, env overrides, bad files.
// Every test uses its own temp directory through ConfigEnv; the real $HOME is never touched.
#include "cli/client_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "cli/endpoints.h"
#include "cli/exit_codes.h"
#include "cli/rpc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hai::cli {
namespace {

using ::testing::HasSubstr;

class ClientConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hai_cli_cfg_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteRaw(const std::string& text) {
    std::ofstream(dir_ / "config.toml") << text;
  }

  std::filesystem::path dir_;
};

TEST_F(ClientConfigTest, PathPrefersConfigDirOverHome) {
  EXPECT_EQ(*ConfigPath({.home = "/h", .config_dir = "/c"}), "/c/config.toml");
  EXPECT_EQ(*ConfigPath({.home = "/h"}), "/h/.hai/config.toml");
  EXPECT_TRUE(IsUsageError(ConfigPath({}).status()));
}

TEST_F(ClientConfigTest, WriteThenReadRoundTripsWithPrivateMode) {
  // The directory does not exist yet: init creates it.
  const std::filesystem::path path = dir_ / ".hai" / "config.toml";
  ASSERT_TRUE(WriteConfigFile(path, {"h:7611", "tok\"en'x"}).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(::stat(path.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);

  auto config = ReadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->url, "h:7611");
  EXPECT_EQ(config->token, "tok\"en'x");
}

TEST_F(ClientConfigTest, RewriteTightensAnExistingLooseFile) {
  const std::filesystem::path path = dir_ / "config.toml";
  WriteRaw("url = \"a:1\"\n");
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(WriteConfigFile(path, {"b:2", "t"}).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(ReadConfigFile(path)->url, "b:2");
}

TEST_F(ClientConfigTest, EnvOverridesFile) {
  ASSERT_TRUE(WriteConfigFile(dir_ / "config.toml", {"file:1", "filetoken"}).ok());
  const ConfigEnv base{.config_dir = dir_.string()};

  auto from_file = LoadClientConfig(base);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->url, "file:1");
  EXPECT_EQ(from_file->token, "filetoken");

  ConfigEnv env = base;
  env.url = "http://env:2/";  // pasted as a URL: normalised to host:port
  env.token = "envtoken";
  auto overridden = LoadClientConfig(env);
  ASSERT_TRUE(overridden.ok()) << overridden.status();
  EXPECT_EQ(overridden->url, "env:2");
  EXPECT_EQ(overridden->token, "envtoken");
}

TEST_F(ClientConfigTest, EnvAloneIsEnough) {
  // No file at all (CI jobs, tests): HAI_URL/HAI_TOKEN suffice.
  auto config = LoadClientConfig({.config_dir = dir_.string(), .url = "h:1", .token = "t"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->url, "h:1");
}

TEST_F(ClientConfigTest, NotConfiguredIsAUsageError) {
  auto config = LoadClientConfig({.config_dir = dir_.string()});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(ExitCodeFor(config.status()), kExitUsage);
  EXPECT_THAT(config.status().message(), HasSubstr("hai-cli init"));
}

TEST_F(ClientConfigTest, UnknownKeyIsRejected) {
  WriteRaw("url = \"h:1\"\ntokn = \"x\"\n");
  auto config = LoadClientConfig({.config_dir = dir_.string()});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("unknown key 'tokn'"));
  EXPECT_EQ(ExitCodeFor(config.status()), kExitUsage);
}

TEST_F(ClientConfigTest, SyntaxErrorIsReportedWithTheFile) {
  WriteRaw("url = \n");
  auto config = ReadConfigFile(dir_ / "config.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("config.toml"));
}

TEST_F(ClientConfigTest, WrongTypeIsRejected) {
  WriteRaw("url = 7611\n");
  EXPECT_FALSE(ReadConfigFile(dir_ / "config.toml").ok());
}

TEST(NormalizeUrl, AcceptsHostPortAndStripsSchemes) {
  EXPECT_EQ(*NormalizeUrl("localhost:7611"), "localhost:7611");
  EXPECT_EQ(*NormalizeUrl(" http://10.0.0.1:7611/ "), "10.0.0.1:7611");
  EXPECT_EQ(*NormalizeUrl("grpc://h:1"), "h:1");
  EXPECT_EQ(*NormalizeUrl("[::1]:7611"), "[::1]:7611");
}

TEST(NormalizeUrl, HttpsIsStrippedAndMeansTls) {
  EXPECT_EQ(*NormalizeUrl("https://haid.lab:7611/"), "haid.lab:7611");
  EXPECT_TRUE(IsTlsUrl(" https://haid.lab:7611"));
  EXPECT_FALSE(IsTlsUrl("http://haid.lab:7611"));
  EXPECT_FALSE(IsTlsUrl("haid.lab:7611"));
}

TEST_F(ClientConfigTest, TlsFromHttpsUrlOrCaFile) {
  // https:// in the file: TLS against the system store.
  WriteRaw("url = \"https://h:1\"\ntoken = \"t\"\n");
  auto config = LoadClientConfig({.config_dir = dir_.string()});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->url, "h:1");
  EXPECT_TRUE(config->tls);
  EXPECT_EQ(config->ca_file, "");
  // A CA file (here from $HAI_CA_FILE) turns TLS on for a bare HOST:PORT too.
  WriteRaw("url = \"h:1\"\ntoken = \"t\"\n");
  config = LoadClientConfig({.config_dir = dir_.string()});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->tls);
  config = LoadClientConfig({.config_dir = dir_.string(), .ca_file = "/etc/hai/ca.crt"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->tls);
  EXPECT_EQ(config->ca_file, "/etc/hai/ca.crt");
}

TEST_F(ClientConfigTest, CaFileRoundTripsThroughTheFile) {
  ClientConfig written;
  written.url = "https://h:1";
  written.token = "t";
  written.ca_file = "/etc/hai/ca.crt";
  ASSERT_TRUE(WriteConfigFile(dir_ / "config.toml", written).ok());
  auto read = ReadConfigFile(dir_ / "config.toml");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->url, "https://h:1");
  EXPECT_EQ(read->ca_file, "/etc/hai/ca.crt");
}

TEST(TransportHint, NamesTheCauseOfATlsFailure) {
  ClientConfig tls;
  tls.tls = true;
  tls.ca_file = "/tmp/ca.crt";
  EXPECT_THAT(TransportHint(tls,
                            "failed to connect to all addresses; last error: UNKNOWN: "
                            "Ssl handshake failed: SSL_ERROR_SSL: error:1000007d:SSL "
                            "routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"),
              HasSubstr("not trusted: it does not verify against the CA file /tmp/ca.crt"));
  EXPECT_THAT(TransportHint(tls,
                            "Ssl handshake failed: error:100000f7:SSL "
                            "routines:OPENSSL_internal:WRONG_VERSION_NUMBER"),
              HasSubstr("does not speak TLS"));
  EXPECT_EQ(TransportHint(tls, "Connection refused"), "");
  EXPECT_EQ(TransportHint(ClientConfig{}, "Connection refused"), "");
}

TEST(NormalizeUrl, RejectsWhatWouldHideATypo) {
  for (const char* bad : {"", "localhost", "h:", ":7611", "https://h"}) {
    auto url = NormalizeUrl(bad);
    EXPECT_FALSE(url.ok()) << bad;
    EXPECT_TRUE(IsUsageError(url.status())) << bad;
  }
}

TEST(NormalizeUrl, ListsOfReplicasAreNormalizedEndpointByEndpoint) {
  EXPECT_EQ(*NormalizeUrl("h:1, http://g:2/"), "h:1,g:2");
  for (const char* bad : {"h:1,", "h:1,g", ",h:1"}) {
    auto url = NormalizeUrl(bad);
    EXPECT_FALSE(url.ok()) << bad;
    EXPECT_TRUE(IsUsageError(url.status())) << bad;
  }
}

TEST(ChannelTarget, OneEndpointIsLeftToGrpcsResolver) {
  EXPECT_EQ(ChannelTarget("localhost:7611"), "localhost:7611");
}

TEST(ChannelTarget, AListBecomesEveryAddressInOrder) {
  // pick_first over this target tries 127.0.0.1:1 and, refused, 127.0.0.2:2.
  EXPECT_EQ(ChannelTarget("127.0.0.1:1,127.0.0.2:2"), "ipv4:127.0.0.1:1,127.0.0.2:2");
  EXPECT_EQ(ChannelTarget("[::1]:3,[::1]:4"), "ipv6:[::1]:3,[::1]:4");
  // A name that does not resolve is skipped, not fatal.
  EXPECT_EQ(ChannelTarget("no-such-host.invalid:1,127.0.0.1:5"), "ipv4:127.0.0.1:5");
}

}  // namespace
}  // namespace hai::cli
