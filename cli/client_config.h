// Where hai-cli finds haid and the user's token: ~/.hai/config.toml (or
// $HAI_CONFIG_DIR/config.toml), written by `hai-cli init` with mode 0600, overridden per call by
// $HAI_URL / $HAI_TOKEN so CI jobs and tests need no file. The environment is passed in as a
// value (ConfigEnv) so tests never touch the real home directory or process environment.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hai::cli {

struct ClientConfig {
  std::string url;    // host:port of haid's gRPC API
  std::string token;  // bearer token; empty = send none (the server answers UNAUTHENTICATED)
};

// The environment variables hai-cli reads; an empty string means unset.
struct ConfigEnv {
  std::string home;        // $HOME (or the passwd entry when unset)
  std::string config_dir;  // $HAI_CONFIG_DIR
  std::string url;         // $HAI_URL
  std::string token;       // $HAI_TOKEN
};

ConfigEnv ConfigEnvFromProcess();

// $HAI_CONFIG_DIR/config.toml, else $HOME/.hai/config.toml.
absl::StatusOr<std::filesystem::path> ConfigPath(const ConfigEnv& env);

// "http://h:1/" -> "h:1". gRPC wants a bare target; people paste URLs. Rejects empty values
// and values without a port, since a default port would silently hide a typo. A comma list
// (several haid replicas) is normalized endpoint by endpoint: "h:1,http://g:2/" -> "h:1,g:2".
absl::StatusOr<std::string> NormalizeUrl(absl::string_view url);

// Reads a config file; NotFound when it does not exist; unknown keys are rejected so that a
// misspelt "tokn" is reported instead of surfacing later as an authentication failure.
absl::StatusOr<ClientConfig> ReadConfigFile(const std::filesystem::path& path);

// Writes the file atomically (temp file + rename) with mode 0600, creating its directory
// with mode 0700 if needed.
absl::Status WriteConfigFile(const std::filesystem::path& path, const ClientConfig& config);

// The effective config: the file (if any) with $HAI_URL / $HAI_TOKEN on top. A missing URL
// is a usage error telling the user to run `hai-cli init`.
absl::StatusOr<ClientConfig> LoadClientConfig(const ConfigEnv& env);

}  // namespace hai::cli
