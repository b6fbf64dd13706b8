// The dashboard's static files (web/: HTML, JS, CSS), compiled into haid by
// cmake/EmbedWebAssets.cmake, so serving the page needs no files, no Node and no build step
// at install time.
#pragma once

#include <cstddef>
#include <string_view>

namespace hai {

struct WebAsset {
  std::string_view name;          // file name under web/, e.g. "app.js"
  std::string_view content_type;  // from its extension
  const char* data;
  size_t size;
};

// The asset named `name`, or null.
const WebAsset* FindWebAsset(std::string_view name);

}  // namespace hai
