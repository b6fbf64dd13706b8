// A resolved mount as a runtime applies it.
#pragma once

#include <cstdint>
#include <string>

namespace hai::storage {

struct Mount {
  std::string host_path;   // absolute, normalised
  std::string mount_path;  // absolute, normalised, never "/"
  bool read_only = false;
  // bind: host_path must exist. workspace: a bind mount whose host directory the runtime
  // creates (mode 0700) when it is missing. configmap / pvc (Kubernetes runtime only):
  // host_path is "/<ConfigMap or claim name>[/<key or sub-path>]".
  std::string type = "bind";
  int64_t row_id = 0;  // the storage row it came from
  bool operator==(const Mount&) const = default;
};

}  // namespace hai::storage
