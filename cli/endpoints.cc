#include "cli/endpoints.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace hai::cli {
namespace {

// "host:port" or "[v6]:port" -> host, port.
bool SplitHostPort(absl::string_view endpoint, std::string* host, std::string* port) {
  const size_t colon = endpoint.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  absl::string_view h = endpoint.substr(0, colon);
  if (absl::ConsumePrefix(&h, "[")) absl::ConsumeSuffix(&h, "]");
  *host = std::string(h);
  *port = std::string(endpoint.substr(colon + 1));
  return !host->empty() && !port->empty();
}

// Every address of `host` (IPv4 and IPv6 text), in resolver order.
void Resolve(const std::string& host, const std::string& port, std::vector<std::string>* v4,
             std::vector<std::string>* v6) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
      v4->push_back(absl::StrCat(text, ":", port));
    } else if (a->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
      v6->push_back(absl::StrCat("[", text, "]:", port));
    }
  }
  ::freeaddrinfo(res);
}

}  // namespace

std::string ChannelTarget(const std::string& url) {
  std::vector<std::string> endpoints = absl::StrSplit(url, ',', absl::SkipWhitespace());
  if (endpoints.size() <= 1) return url;
  std::vector<std::string> v4, v6;
  for (const std::string& e : endpoints) {
    std::string host, port;
    if (SplitHostPort(absl::StripAsciiWhitespace(e), &host, &port)) Resolve(host, port, &v4, &v6);
  }
  // One target holds one address family; IPv4 first (the loopback and cluster default).
  if (!v4.empty()) return absl::StrCat("ipv4:", absl::StrJoin(v4, ","));
  if (!v6.empty()) return absl::StrCat("ipv6:", absl::StrJoin(v6, ","));
  return endpoints.front();
}

std::string TlsNameForList(const std::string& url) {
  std::vector<std::string> endpoints = absl::StrSplit(url, ',', absl::SkipWhitespace());
  if (endpoints.size() <= 1) return "";
  std::string host, port;
  if (!SplitHostPort(absl::StripAsciiWhitespace(endpoints.front()), &host, &port)) return "";
  return host;
}

}  // namespace hai::cli
