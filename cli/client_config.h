// Where hai-cli finds haid and the user's token: ~/.hai/config.toml (or
// $HAI_CONFIG_DIR/config.toml), written by `hai-cli init` with mode 0600, overridden per call by
// $HAI_URL / $HAI_TOKEN / $HAI_CA_FILE so CI jobs and tests need no file. TLS is on when the
// URL is https:// or a CA file is named; the CA file, else the system store, verifies haid. The
// environment is passed in as a value (ConfigEnv) so tests never touch the real home directory or
// process environment.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hai::cli {

struct ClientConfig {
  std::string url;    // host:port of haid's gRPC API (a bare gRPC target after loading)
  std::string token;  // bearer token; empty = send none (the server answers UNAUTHENTICATED)
  std::string ca_file;  // PEM CA that haid's certificate must chain to; implies TLS
  bool tls = false;     // set by LoadClientConfig: url was https:// or ca_file is set
};

// The environment variables hai-cli reads; an empty string means unset.
struct ConfigEnv {
  std::string home;        // $HOME (or the passwd entry when unset)
  std::string config_dir;  // $HAI_CONFIG_DIR
  std::string url;         // $HAI_URL
  std::string token;       // $HAI_TOKEN
  std::string ca_file;     // $HAI_CA_FILE
};

ConfigEnv ConfigEnvFromProcess();

// $HAI_CONFIG_DIR/config.toml, else $HOME/.hai/config.toml.
absl::StatusOr<std::filesystem::path> ConfigPath(const ConfigEnv& env);

// "http://h:1/" -> "h:1" (also https://, which IsTlsUrl tells apart). gRPC wants a bare
// target; people paste URLs. Rejects empty values and values without a port, since a default
// port would silently hide a typo. A comma list (several haid replicas) is normalized endpoint
// by endpoint: "h:1,http://g:2/" -> "h:1,g:2".
absl::StatusOr<std::string> NormalizeUrl(absl::string_view url);
bool IsTlsUrl(absl::string_view url);  // "https://..."

// Reads a config file; NotFound when it does not exist; unknown keys are rejected so that a
// misspelt "tokn" is reported instead of surfacing later as an authentication failure.
absl::StatusOr<ClientConfig> ReadConfigFile(const std::filesystem::path& path);

// Writes the file atomically (temp file + rename) with mode 0600, creating its directory
// with mode 0700 if needed.
absl::Status WriteConfigFile(const std::filesystem::path& path, const ClientConfig& config);

// The effective config: the file (if any) with $HAI_URL / $HAI_TOKEN / $HAI_CA_FILE on top,
// the URL normalized and `tls` decided. A missing URL is a usage error telling the user to
// run `hai-cli init`.
absl::StatusOr<ClientConfig> LoadClientConfig(const ConfigEnv& env);

}  // namespace hai::cli
