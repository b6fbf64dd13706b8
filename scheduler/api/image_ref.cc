#include "scheduler/api/image_ref.h"

#include <regex>
#include <string>

#include "absl/strings/str_cat.h"

namespace hai::api {
namespace {

// The grammar of distribution/reference (reference.go), written out as one expression:
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [domain "/"] path-component ["/" path-component]*
//   domain    := host [":" port]; host is a DNS name, IPv4 address or [IPv6]
//   path-component := [a-z0-9]+ ( (\.|_|__|-+) [a-z0-9]+ )*
//   tag       := [\w][\w.-]{0,127}
//   digest    := algorithm ":" [0-9a-fA-F]{32,}
const std::regex& ReferencePattern() {
  static const std::string kComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
  static const std::string kHost =
      "(?:" + kComponent + "(?:\\." + kComponent + ")*|\\[[a-fA-F0-9:]+\\])";
  static const std::string kDomain = "(?:" + kHost + "(?::[0-9]+)?/)";
  static const std::string kPathComponent = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
  static const std::string kTag = "(?::[\\w][\\w.-]{0,127})";
  static const std::string kDigest =
      "(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})";
  static const std::regex pattern(kDomain + "?" + kPathComponent + "(?:/" + kPathComponent + ")*" +
                                  kTag + "?" + kDigest + "?");
  return pattern;
}

// The name part (before any tag or digest), for the grammar's 255-character limit.
std::string_view NamePart(std::string_view image) {
  std::string_view name = image.substr(0, image.find('@'));
  const size_t slash = name.rfind('/');
  const size_t colon = name.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    name = name.substr(0, colon);
  }
  return name;
}

}  // namespace

bool HasControlCharacter(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

absl::Status CheckImageReference(std::string_view image) {
  if (image.empty()) return absl::OkStatus();
  if (image.size() > kMaxImageReferenceLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("image reference is longer than ", kMaxImageReferenceLength, " characters"));
  }
  if (HasControlCharacter(image)) {
    return absl::InvalidArgumentError("image reference contains control characters");
  }
  if (!std::regex_match(image.begin(), image.end(), ReferencePattern())) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid image reference '", std::string(image),
                     "'; expected [registry[:port]/]path[:tag][@digest] with a lower-case path, "
                     "e.g. pytorch/pytorch:2.3.0-cuda12.1"));
  }
  if (NamePart(image).size() > 255) {
    return absl::InvalidArgumentError("image name (before the tag) is longer than 255 characters");
  }
  return absl::OkStatus();
}

}  // namespace hai::api
