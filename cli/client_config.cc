// Client config file and environment overrides; see client_config.h.
#include "cli/client_config.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/exit_codes.h"
#include "toml++/toml.h"

namespace hai::cli {
namespace {

constexpr char kConfigFileName[] = "config.toml";

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

ConfigEnv ConfigEnvFromProcess() {
  ConfigEnv env;
  env.home = GetEnv("HOME");
  if (env.home.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) {
      env.home = pw->pw_dir;
    }
  }
  env.config_dir = GetEnv("HAI_CONFIG_DIR");
  env.url = GetEnv("HAI_URL");
  env.token = GetEnv("HAI_TOKEN");
  env.ca_file = GetEnv("HAI_CA_FILE");
  return env;
}

absl::StatusOr<std::filesystem::path> ConfigPath(const ConfigEnv& env) {
  if (!env.config_dir.empty()) return std::filesystem::path(env.config_dir) / kConfigFileName;
  if (env.home.empty()) {
    return UsageError("cannot locate the config: neither $HAI_CONFIG_DIR nor $HOME is set");
  }
  return std::filesystem::path(env.home) / ".hai" / kConfigFileName;
}

absl::StatusOr<std::string> NormalizeUrl(absl::string_view url) {
  // Several replicas (cli/endpoints.h): each endpoint of a comma list is normalized alone.
  if (url.find(',') != absl::string_view::npos) {
    std::vector<std::string> parts;
    for (absl::string_view part : absl::StrSplit(url, ',')) {
      absl::StatusOr<std::string> one = NormalizeUrl(part);
      if (!one.ok()) return one.status();
      parts.push_back(*std::move(one));
    }
    return absl::StrJoin(parts, ",");
  }
  absl::string_view u = absl::StripAsciiWhitespace(url);
  for (absl::string_view scheme : {"https://", "http://", "grpc://", "dns:///"}) {
    if (absl::ConsumePrefix(&u, scheme)) break;
  }
  while (absl::ConsumeSuffix(&u, "/")) {
  }
  const size_t colon = u.rfind(':');
  if (u.empty() || colon == absl::string_view::npos || colon == 0 || colon + 1 == u.size()) {
    return UsageError(absl::StrCat("bad url '", url, "': expected HOST:PORT"));
  }
  return std::string(u);
}

bool IsTlsUrl(absl::string_view url) {
  return absl::StartsWith(absl::StripAsciiWhitespace(url), "https://");
}

absl::StatusOr<ClientConfig> ReadConfigFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path.string(), " does not exist"));
  }
  ClientConfig config;
  try {
    const toml::table table = toml::parse_file(path.string());
    for (const auto& [key, node] : table) {
      const std::string k(key.str());
      if (k != "url" && k != "token" && k != "ca_file") {
        return UsageError(
            absl::StrCat(path.string(), ": unknown key '", k, "' (expected url, token, ca_file)"));
      }
      const std::optional<std::string> value = node.value<std::string>();
      if (!value.has_value()) {
        return UsageError(absl::StrCat(path.string(), ": '", k, "' must be a string"));
      }
      (k == "url" ? config.url : k == "token" ? config.token : config.ca_file) = *value;
    }
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return UsageError(
        absl::StrCat(path.string(), ": ", std::string(e.description()), " at ", where.str()));
  }
  return config;
}

absl::Status WriteConfigFile(const std::filesystem::path& path, const ClientConfig& config) {
  std::error_code ec;
  const std::filesystem::path dir = path.parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
    }
    // The directory holds a secret; nobody else needs to list it.
    ::chmod(dir.c_str(), 0700);
  }
  toml::table table{{"url", config.url}, {"token", config.token}};
  if (!config.ca_file.empty()) table.insert("ca_file", config.ca_file);
  std::ostringstream text;
  text << "# hai-cli configuration, written by `hai-cli init`.\n" << table << "\n";
  const std::string body = text.str();

  // Create the temp file with 0600 from the start: a chmod afterwards would leave a window
  // in which the token is readable by others.
  const std::string tmp = absl::StrCat(path.string(), ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp, ": ", ErrnoText()));
  }
  ::fchmod(fd, 0600);  // O_CREAT ignores the mode when the file already existed
  size_t written = 0;
  while (written < body.size()) {
    const ssize_t n = ::write(fd, body.data() + written, body.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string err = ErrnoText();
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::InternalError(absl::StrCat("cannot write ", tmp, ": ", err));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string err = ErrnoText();
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", tmp, ": ", err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = ErrnoText();
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot replace ", path.string(), ": ", err));
  }
  return absl::OkStatus();
}

absl::StatusOr<ClientConfig> LoadClientConfig(const ConfigEnv& env) {
  ClientConfig config;
  absl::StatusOr<std::filesystem::path> path = ConfigPath(env);
  // Without a locatable file the environment alone may still be enough.
  if (path.ok()) {
    absl::StatusOr<ClientConfig> from_file = ReadConfigFile(*path);
    if (from_file.ok()) {
      config = *std::move(from_file);
    } else if (!absl::IsNotFound(from_file.status())) {
      return from_file.status();
    }
  }
  if (!env.url.empty()) config.url = env.url;
  if (!env.token.empty()) config.token = env.token;
  if (!env.ca_file.empty()) config.ca_file = env.ca_file;
  config.tls = IsTlsUrl(config.url) || !config.ca_file.empty();
  if (config.url.empty()) {
    return UsageError(
        "not configured: run `hai-cli init TOKEN --url HOST:PORT` or set $HAI_URL");
  }
  absl::StatusOr<std::string> url = NormalizeUrl(config.url);
  if (!url.ok()) return url.status();
  config.url = *std::move(url);
  return config;
}

}  // namespace hai::cli
