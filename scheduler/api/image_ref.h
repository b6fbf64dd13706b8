// Container image references as a submit or a Jupyter create carries them, checked against
// the OCI distribution reference grammar (github.com/distribution/reference, the grammar
// docker, containerd and the kubelet parse) before anything is stored: a bad reference is
// the user's typed error at submit, not an ImagePullBackOff minutes later.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace hai::api {

// Longest reference accepted (the grammar caps the name at 255 characters; a tag adds up to
// 129 and a digest about 140).
inline constexpr size_t kMaxImageReferenceLength = 512;

// OK for "" (the runtime's default image) and for a reference such as
// "pytorch/pytorch:2.3.0-cuda12.1", "registry.lab:5000/team/train@sha256:<64 hex>";
// InvalidArgument naming the problem otherwise.
absl::Status CheckImageReference(std::string_view image);

// True when `s` holds a NUL or another control character (below 0x20, or 0x7f): refused in
// paths, names and references, which reach argv, file names and YAML.
bool HasControlCharacter(std::string_view s);

}  // namespace hai::api
