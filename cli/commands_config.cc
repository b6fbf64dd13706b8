// `hai-cli init TOKEN --url HOST:PORT`: writes the client config file.
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/client_config.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "common/status_macros.h"

namespace hai::cli {
namespace {

struct InitArgs {
  std::string token;
  std::string url;
  std::string ca_file;
};

absl::StatusOr<int> RunInit(const InitArgs& args) {
  if (args.token.empty() ||
      std::any_of(args.token.begin(), args.token.end(),
                  [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); })) {
    return UsageError("bad TOKEN: it must be non-empty and contain no whitespace");
  }
  ASSIGN_OR_RETURN(std::string url, NormalizeUrl(args.url));
  ClientConfig config;
  config.url = url;
  config.token = args.token;
  // https:// is kept in the file: it is what turns TLS on (so is a CA file).
  if (IsTlsUrl(args.url)) config.url = "https://" + url;
  if (!args.ca_file.empty()) {
    std::error_code ec;
    config.ca_file = std::filesystem::absolute(args.ca_file, ec).string();
    if (ec || !std::filesystem::is_regular_file(config.ca_file, ec)) {
      return UsageError(absl::StrCat("--ca-file ", args.ca_file, ": no such file"));
    }
  }
  const ConfigEnv env = ConfigEnvFromProcess();
  ASSIGN_OR_RETURN(std::filesystem::path path, ConfigPath(env));
  RETURN_IF_ERROR(WriteConfigFile(path, config));
  std::cout << "saved " << path.string() << " (url " << config.url
            << (config.ca_file.empty() ? "" : ", CA " + config.ca_file) << ")\n";
  // Otherwise the user tests the new token and silently gets the old one from the env.
  if (!env.url.empty() || !env.token.empty()) {
    std::cerr << "hai-cli: note: $HAI_URL / $HAI_TOKEN are set and override this file\n";
  }
  return kExitOk;
}

}  // namespace

void AddConfigCommands(CLI::App& app, CommandSet& set) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* sub = app.add_subcommand(
      "init", "save the haid address and your token to ~/.hai/config.toml (mode 0600)");
  sub->add_option("TOKEN", args->token, "your API token")->required();
  sub->add_option("--url", args->url,
                  "haid gRPC address, HOST:PORT (https://HOST:PORT: TLS, system CAs); several "
                  "replicas: a comma list or a DNS name with several addresses (tried in order)")
      ->required();
  sub->add_option("--ca-file", args->ca_file,
                  "haid serves TLS: verify it with this CA certificate (PEM), saved as ca_file");
  sub->callback([&set, args] { set.action = [args] { return RunInit(*args); }; });
}

}  // namespace hai::cli
