// gRPC plumbing of hai-cli; see rpc.h.
#include "cli/rpc.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/endpoints.h"
#include "cli/exit_codes.h"

namespace hai::cli {
namespace {

// Debian's (and Ubuntu's) bundle of the system's trusted CAs.
constexpr char kSystemCaBundle[] = "/etc/ssl/certs/ca-certificates.crt";

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream text;
  text << in.rdbuf();
  *out = text.str();
  return static_cast<bool>(in) || in.eof();
}

bool Mentions(absl::string_view message, std::initializer_list<absl::string_view> words) {
  // Debian's abseil has no StrContainsIgnoreCase.
  const std::string lower = absl::AsciiStrToLower(message);
  for (absl::string_view w : words) {
    if (absl::StrContains(lower, absl::AsciiStrToLower(w))) return true;
  }
  return false;
}

// A list of replicas becomes one ipv4:/ipv6: target (endpoints.h), whose addresses carry no
// name: TLS then verifies haid's certificate against the first endpoint's host name, so
// replicas share a certificate naming it (docs/deploy.md).
grpc::ChannelArguments ChannelArgumentsFor(const ClientConfig& config) {
  grpc::ChannelArguments args;
  const std::string name = TlsNameForList(config.url);
  if (config.tls && !name.empty()) args.SetSslTargetNameOverride(name);
  return args;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const ClientConfig& config) {
  if (!config.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  if (!config.ca_file.empty()) {
    if (!ReadFile(config.ca_file, &options.pem_root_certs) || options.pem_root_certs.empty()) {
      return UsageError(absl::StrCat("cannot read the CA file ", config.ca_file,
                                     " (--ca-file, $HAI_CA_FILE or ca_file in the config)"));
    }
  } else {
    const char* env = std::getenv("SSL_CERT_FILE");
    const std::string system = env != nullptr && *env != '\0' ? env : kSystemCaBundle;
    // Unreadable: gRPC falls back to its own roots.
    if (!ReadFile(system, &options.pem_root_certs)) options.pem_root_certs.clear();
  }
  return grpc::SslCredentials(options);
}

std::string TransportHint(const ClientConfig& config, absl::string_view message) {
  if (config.tls) {
    const std::string trust = config.ca_file.empty() ? std::string("the system store")
                                                     : absl::StrCat("the CA file ", config.ca_file);
    if (Mentions(message,
                 {"WRONG_VERSION_NUMBER", "packet length too long", "record layer failure"})) {
      return "haid does not speak TLS at this address (drop https:// and the CA file, or "
             "configure [tls] on haid)";
    }
    if (Mentions(message, {"CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "self signed",
                           "self-signed", "unable to get local issuer", "peer name", "hostname",
                           "handshake", "ssl", "tls"})) {
      return absl::StrCat("haid's TLS certificate is not trusted: it does not verify against ",
                          trust, " for this host name");
    }
    return "";
  }
  if (Mentions(message,
               {"Socket closed", "Connection reset", "connection closed", "EOF", "unexpected"})) {
    return "if haid serves TLS, use an https:// URL or --ca-file";
  }
  return "";
}

Connection::Connection(ClientConfig config, absl::Duration timeout,
                       std::shared_ptr<grpc::ChannelCredentials> credentials)
    : config_(std::move(config)),
      timeout_(timeout),
      channel_(grpc::CreateCustomChannel(ChannelTarget(config_.url), std::move(credentials),
                                         ChannelArgumentsFor(config_))),
      tasks_(hai::v1::TaskService::NewStub(channel_)),
      cluster_(hai::v1::ClusterService::NewStub(channel_)),
      users_(hai::v1::UserService::NewStub(channel_)),
      admin_(hai::v1::AdminService::NewStub(channel_)),
      jupyter_(hai::v1::JupyterService::NewStub(channel_)),
      usage_(hai::v1::UsageService::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> Connection::NewContext(bool deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!config_.token.empty()) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", config_.token));
  }
  if (deadline) ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  return ctx;
}

absl::Status Connection::Check(const grpc::Status& status) const {
  absl::Status s = FromRpcStatus(status, config_.url);
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return s;
  const std::string hint = TransportHint(config_, status.error_message());
  if (hint.empty()) return s;
  return absl::Status(s.code(), absl::StrCat(s.message(), "\n  ", hint));
}

}  // namespace hai::cli
